from infolettre.privacy.declaration import (
    CONSENT,
    CONTACT,
    CONTENT,
    TECHNICAL,
    USER,
    PersonalDataModel,
    PersonalField,
    anonymise,
    for_days,
    keep,
)

# Ledger rows name their person by (subject_type, subject_id), not by an address.
BY_SUBJECT_ID = ""

# Proof of consent outlives the account: the anti-spam law asks the sender to prove it (3 years).
PROOF = for_days(3 * 365, counted_from="collected")
# Erasing a person cuts their ledger rows from them (subject_id 0) and keeps the rest: what was
# asked, with which words, under which policy, when. Once the person is erased and suppressed
# nothing is sent to them again, so nothing needs proving about them; the anonymous rows still
# prove how consent was asked, which the anti-spam law and the regulators may check.
UNLINKED_PROOF = "anonymous proof of how consent was asked"

DECLARATION = [
    PersonalDataModel(
        "privacy.ConsentEvent",
        subject=USER,
        subject_email_path=BY_SUBJECT_ID,
        fields=(
            PersonalField("purpose", CONSENT, ("privacy_compliance",), PROOF),
            PersonalField("given", CONSENT, ("privacy_compliance",), PROOF),
            PersonalField("wording", CONSENT, ("privacy_compliance",), PROOF),
            PersonalField("source", CONSENT, ("privacy_compliance",), PROOF),
            PersonalField("occurred_at", CONSENT, ("privacy_compliance",), PROOF),
        ),
        other_fields=("id", "subject_type", "subject_id", "tenant_id", "policy_version"),
        erasure=anonymise("subject_id", why=UNLINKED_PROOF),
    ),
    PersonalDataModel(
        "privacy.PolicyAcceptance",
        subject=USER,
        subject_email_path=BY_SUBJECT_ID,
        fields=(
            PersonalField("accepted_at", CONSENT, ("privacy_compliance",), PROOF),
            PersonalField("source", CONSENT, ("privacy_compliance",), PROOF),
        ),
        other_fields=("id", "subject_type", "subject_id", "policy_version"),
        erasure=anonymise("subject_id", why=UNLINKED_PROOF),
    ),
    # Proof that the person was told of a new policy version (and offered to refuse its new uses).
    PersonalDataModel(
        "privacy.PolicyNotice",
        subject=USER,
        subject_email_path=BY_SUBJECT_ID,
        fields=(
            PersonalField("status", TECHNICAL, ("service_notices",), PROOF),
            PersonalField("created_at", TECHNICAL, ("service_notices",), PROOF),
            PersonalField("sent_at", TECHNICAL, ("service_notices",), PROOF),
        ),
        other_fields=("id", "policy_version", "subject_type", "subject_id", "token"),
    ),
    PersonalDataModel(
        "sessions.Session",
        subject=USER,
        subject_email_path=BY_SUBJECT_ID,
        fields=(
            PersonalField(
                "session_data", TECHNICAL, ("authentication",), for_days(1, "session_end")
            ),
        ),
        other_fields=("session_key", "expire_date"),
    ),
]

# A request and its answer are kept two years after it closes: proof of how it was answered if
# the person challenges it before the regulator.
REQUEST_RECORD = for_days(2 * 365, counted_from="request_closed")
REQUEST_PURPOSE = ("privacy_requests",)

DECLARATION += [
    PersonalDataModel(
        "privacy.PrivacyRequest",
        subject=USER,
        subject_email_path="email",
        fields=(
            PersonalField("email", CONTACT, REQUEST_PURPOSE, REQUEST_RECORD),
            PersonalField("message", CONTENT, REQUEST_PURPOSE, REQUEST_RECORD),
            PersonalField("language", TECHNICAL, REQUEST_PURPOSE, REQUEST_RECORD),
            PersonalField("received_at", TECHNICAL, REQUEST_PURPOSE, REQUEST_RECORD),
            PersonalField("correction_done", CONTENT, REQUEST_PURPOSE, REQUEST_RECORD),
            PersonalField("answer", CONTENT, REQUEST_PURPOSE, REQUEST_RECORD),
        ),
        other_fields=(
            "id",
            "kind",
            "email_hash",
            "tenant",
            "user",
            "status",
            "due_at",
            "verified_at",
            "extended_at",
            "extension_reason",
            "owner",
            "answered_at",
            "answered_by",
            "closed_at",
        ),
        # The request and its answer prove how the person's rights were honoured: an erasure
        # request is itself kept for its period (REQUEST_RECORD), then retention destroys it.
        erasure=keep("proof of how the request was answered"),
    ),
    # Rows about one person (an operator message, a correction passed on) name them by a keyed
    # hash only; erasure cuts that link, the rest stays as the record of what processors received.
    PersonalDataModel(
        "privacy.Disclosure",
        subject=USER,
        subject_email_path="",
        fields=(
            PersonalField("subject_hash", TECHNICAL, ("privacy_compliance",), PROOF),
            PersonalField("occurred_at", TECHNICAL, ("privacy_compliance",), PROOF),
        ),
        other_fields=(
            "id",
            "kind",
            "recipient",
            "categories",
            "purpose",
            "reason",
            "campaign_id",
            "tenant_id",
            "first_delivery_id",
            "outcome",
        ),
        erasure=anonymise("subject_hash", why="the record of what processors received"),
    ),
]

NO_PERSONAL_DATA = {
    "privacy.ErasureRecord": "what was destroyed, by model, category and count; it names no one",
    "privacy.ConfidentialityIncident": (
        "the incident register describes incidents by kind and count; it names no person"
    ),
    "privacy.PolicyVersion": "the published text of the policy",
    "privacy.AuditEntry": (
        "the audit trail names accounts by id and role only, and holds ids, counts and field "
        "names, never a name, address or other personal value"
    ),
    "contenttypes.ContentType": "names of tables",
    "auth.Permission": "names of permissions",
    "auth.Group": "names of groups",
    "auth.Group_permissions": "links between groups and permissions",
    "django_tasks_database.DBTaskResult": "tasks take ids, never personal values, as arguments",
    "django_rq.Dashboard": "an unmanaged placeholder of the queue dashboard; it has no table",
}
