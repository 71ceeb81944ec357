from infolettre.privacy.declaration import (
    CLIENT,
    TECHNICAL,
    PersonalDataModel,
    PersonalField,
    for_days,
)

NOBODY = frozenset()

DECLARATION = [
    # Which user was sent which day's report: proof that the report went out once.
    PersonalDataModel(
        "analytics.DailyReportSend",
        subject=CLIENT,
        subject_email_path="user__email",
        fields=(
            PersonalField("claimed_at", TECHNICAL, ("account",), for_days(90), False, NOBODY),
            PersonalField("sent_at", TECHNICAL, ("account",), for_days(90), False, NOBODY),
        ),
        other_fields=("id", "report", "user"),
    ),
]

NO_PERSONAL_DATA = {
    "analytics.DailyReport": "an organisation's claim on one day's report and its totals (counts only)",
}
