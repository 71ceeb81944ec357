from datetime import timedelta

from django.utils.translation import gettext_lazy as _

from infolettre.privacy.declaration import (
    CLIENT,
    CONTENT,
    CREDENTIALS,
    PRIVACY_OFFICER,
    TECHNICAL,
    USER,
    PersonalDataModel,
    PersonalField,
    Retention,
    for_days,
    keep,
)

ADMINISTRATOR_AND_OFFICER = frozenset({PRIVACY_OFFICER, "administrator"})
# A grant is the record of who let staff see a client's lists, and why: kept a year after it ends,
# as proof of how staff came to see them.
GRANT_RECORD = for_days(365, counted_from="collected")
# A second factor lives and dies with its staff account (deleting the account deletes it).
# Removed with the staff account (a day later at most: the retention task runs daily).
WITH_STAFF_ACCOUNT = Retention(
    timedelta(days=1), "account_closed", _("while the staff account exists")
)

DECLARATION = [
    PersonalDataModel(
        "staff.AccessGrant",
        subject=CLIENT,
        subject_email_path="granted_by__email",
        fields=(
            PersonalField(
                "case_reference",
                CONTENT,
                ("security",),
                GRANT_RECORD,
                False,
                frozenset({"support", "billing", PRIVACY_OFFICER, "administrator"}),
            ),
            PersonalField(
                "starts_at",
                TECHNICAL,
                ("security",),
                GRANT_RECORD,
                False,
                ADMINISTRATOR_AND_OFFICER,
            ),
        ),
        other_fields=(
            "id",
            "tenant",
            "staff_user",
            "role",
            "granted_by",
            "expires_at",
            "revoked_at",
            "revoked_by",
        ),
        dated_by="expires_at",
        erasure=keep("proof of who let the operator's staff see the client's lists, and why"),
    ),
    # A staff member's second factor: the authenticator app's seed, read back to check each code,
    # so encrypted (not hashed); no one is shown it after enrolment.
    PersonalDataModel(
        "staff.StaffTOTPDevice",
        subject=USER,
        subject_email_path="user__email",
        fields=(
            PersonalField(
                "key", CREDENTIALS, ("authentication",), WITH_STAFF_ACCOUNT, True, frozenset()
            ),
            PersonalField(
                "last_used_at",
                TECHNICAL,
                ("security",),
                WITH_STAFF_ACCOUNT,
                False,
                ADMINISTRATOR_AND_OFFICER,
            ),
        ),
        other_fields=(
            "id",
            "user",
            "name",
            "confirmed",
            "throttling_failure_timestamp",
            "throttling_failure_count",
            "created_at",
            "step",
            "t0",
            "digits",
            "tolerance",
            "drift",
            "last_t",
        ),
    ),
    # Recovery codes stand in for the app once each; only their password hashes are kept.
    PersonalDataModel(
        "staff.StaffRecoveryCode",
        subject=USER,
        subject_email_path="user__email",
        fields=(
            PersonalField(
                "code_hash",
                CREDENTIALS,
                ("authentication",),
                WITH_STAFF_ACCOUNT,
                True,
                frozenset(),
                hashed=True,
            ),
            PersonalField(
                "used_at",
                TECHNICAL,
                ("security",),
                WITH_STAFF_ACCOUNT,
                False,
                ADMINISTRATOR_AND_OFFICER,
            ),
        ),
        other_fields=("id", "user", "created_at"),
    ),
]
