from infolettre.privacy.declaration import (
    CONSENT,
    CONTACT,
    PRIVACY_OFFICER,
    SUPPORT,
    TECHNICAL,
    USER,
    PersonalDataModel,
    PersonalField,
    for_days,
)

# Kept while the person wants the newsletter; 30 days after they withdraw, or after a sign-up
# that was never confirmed, the row has no purpose left.
SUBSCRIBER = for_days(30, counted_from="consent_withdrawn")
NEWSLETTER = ("newsletter",)
STAFF = frozenset({SUPPORT, PRIVACY_OFFICER})
# Which message reached whom: proof that a message went out, kept like campaign send records.
SEND_RECORDS = for_days(400)
# Deliveries name their person by (subject_type, subject_id), like the consent ledger.
BY_SUBJECT_ID = ""

DECLARATION = [
    PersonalDataModel(
        "engagement.NewsletterSubscriber",
        subject=USER,
        subject_email_path="email",
        fields=(
            PersonalField("email", CONTACT, NEWSLETTER, SUBSCRIBER, False, STAFF),
            PersonalField("name", CONTACT, NEWSLETTER, SUBSCRIBER, False, STAFF),
            PersonalField("language", TECHNICAL, NEWSLETTER, SUBSCRIBER, False, STAFF),
            PersonalField("created_at", CONSENT, NEWSLETTER, SUBSCRIBER, False, STAFF),
            PersonalField(
                "confirmation_requested_at", CONSENT, NEWSLETTER, SUBSCRIBER, False, STAFF
            ),
            PersonalField("confirmed_at", CONSENT, NEWSLETTER, SUBSCRIBER, False, STAFF),
        ),
        other_fields=("id",),
    ),
    PersonalDataModel(
        "engagement.OperatorDelivery",
        subject=USER,
        subject_email_path=BY_SUBJECT_ID,
        fields=(
            PersonalField(
                "status",
                TECHNICAL,
                ("service_notices", "newsletter", "special_offers"),
                SEND_RECORDS,
                False,
                frozenset({PRIVACY_OFFICER}),
            ),
            PersonalField(
                "sent_at",
                TECHNICAL,
                ("service_notices", "newsletter", "special_offers"),
                SEND_RECORDS,
                False,
                frozenset({PRIVACY_OFFICER}),
            ),
        ),
        other_fields=("id", "message", "subject_type", "subject_id", "token"),
    ),
]

NO_PERSONAL_DATA = {
    "engagement.OperatorMessage": "the operator's own message to everyone of a kind; it names no one",
}
