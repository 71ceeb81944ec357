from infolettre.privacy.declaration import (
    CONTACT,
    TECHNICAL,
    THIRD_PARTY,
    PersonalDataModel,
    PersonalField,
    for_days,
)

# The delivery log helps a client see what reached its systems; a month is enough for that.
DELIVERY_LOG = for_days(30)
NOBODY = frozenset()

DECLARATION = [
    # The payload names the contact (id and address) an event is about, nothing more.
    PersonalDataModel(
        "webhooks.WebhookDelivery",
        subject=THIRD_PARTY,
        subject_email_path="payload__data__email",
        fields=(
            PersonalField("payload", CONTACT, ("campaign_delivery",), DELIVERY_LOG, False, NOBODY),
            # The first characters of the endpoint's answer, which may quote the payload.
            PersonalField(
                "last_error", TECHNICAL, ("campaign_delivery",), DELIVERY_LOG, False, NOBODY
            ),
        ),
        other_fields=(
            "id",
            "tenant",
            "endpoint",
            "event",
            "event_id",
            "dedupe_key",
            "status",
            "attempts",
            "last_status_code",
            "next_attempt_at",
            "claimed_until",
            "created_at",
            "delivered_at",
        ),
    ),
]

NO_PERSONAL_DATA = {
    "webhooks.WebhookEndpoint": "a client's receiving address, chosen events and signing secret",
}

# Confidential values that name no one, encrypted at rest like the confidential personal fields
# (privacy.encryption): the signing secret is read back to sign each request, so it is encrypted
# rather than hashed.
CONFIDENTIAL_SECRETS = {
    "webhooks.WebhookEndpoint": ("secret",),
}
