from infolettre.privacy.declaration import (
    CLIENT,
    CONTACT,
    TECHNICAL,
    THIRD_PARTY,
    PersonalDataModel,
    PersonalField,
    anonymise,
    for_days,
)

# Send records prove who was mailed when, and keep unsubscribe links working for 60 days at least.
SEND_RECORDS = for_days(400)
NOBODY = frozenset()

DECLARATION = [
    PersonalDataModel(
        "campaigns.Delivery",
        subject=THIRD_PARTY,
        subject_email_path="email",
        fields=(
            PersonalField("email", CONTACT, ("campaign_delivery",), SEND_RECORDS, False, NOBODY),
            PersonalField("status", TECHNICAL, ("campaign_delivery",), SEND_RECORDS, False, NOBODY),
            PersonalField(
                "sent_at", TECHNICAL, ("campaign_delivery",), SEND_RECORDS, False, NOBODY
            ),
            PersonalField("error", TECHNICAL, ("campaign_delivery",), SEND_RECORDS, False, NOBODY),
            PersonalField(
                "unsubscribed_at", TECHNICAL, ("campaign_delivery",), SEND_RECORDS, False, NOBODY
            ),
        ),
        other_fields=(
            "id",
            "tenant",
            "campaign",
            "contact",
            "attempts",
            "next_attempt_at",
            "claimed_until",
            "message_id",
        ),
        # Erasure keeps the row (the campaign's counts by status) and cuts it from the person.
        erasure=anonymise("email", "error", "contact", why="unlinked send counts"),
        # Queued once, then moved at each retry: close to when it was sent, set for every row.
        dated_by="next_attempt_at",
    ),
    # Bounces and complaints: what a mailbox provider reported about one delivery. Diagnostics
    # quote the remote server, which often names the address.
    PersonalDataModel(
        "campaigns.Bounce",
        subject=THIRD_PARTY,
        subject_email_path="email",
        fields=tuple(
            PersonalField(name, category, ("campaign_delivery",), SEND_RECORDS, False, NOBODY)
            for name, category in (
                ("email", CONTACT),
                ("kind", TECHNICAL),
                ("status", TECHNICAL),
                ("diagnostic", TECHNICAL),
                ("received_at", TECHNICAL),
            )
        ),
        other_fields=("id", "tenant", "delivery"),
        # The kind and date stay for the complaint and bounce rates; the address and the quote go.
        erasure=anonymise("email", "diagnostic", why="unlinked bounce and complaint rates"),
    ),
    # Per-recipient tracking only (a second switch of the organisation): when this recipient first
    # opened and first clicked. Never an IP address or a user agent.
    PersonalDataModel(
        "campaigns.DeliveryEngagement",
        subject=THIRD_PARTY,
        subject_email_path="delivery__email",
        fields=(
            PersonalField(
                "first_opened_at", TECHNICAL, ("campaign_delivery",), SEND_RECORDS, False, NOBODY
            ),
            PersonalField(
                "first_clicked_at", TECHNICAL, ("campaign_delivery",), SEND_RECORDS, False, NOBODY
            ),
        ),
        other_fields=("id", "tenant", "delivery", "campaign"),
        # Ends with the send record it belongs to, dated as that record is.
        dated_by="delivery__next_attempt_at",
    ),
    PersonalDataModel(
        "campaigns.SenderAddress",
        subject=CLIENT,
        subject_email_path="email",
        fields=(
            PersonalField(
                "email",
                CONTACT,
                ("campaign_delivery",),
                for_days(90, "account_closed"),
                False,
                NOBODY,
            ),
            PersonalField(
                "name",
                CONTACT,
                ("campaign_delivery",),
                for_days(90, "account_closed"),
                False,
                NOBODY,
            ),
        ),
        other_fields=("id", "tenant", "verified_at", "created_at"),
        # Sent campaigns keep pointing to their sender; the address and name go.
        erasure=anonymise("email", "name", why="sent campaigns still name a sender row"),
    ),
]

NO_PERSONAL_DATA = {
    "campaigns.SendingProfile": "the transport and rate the operator chose for a client",
    "campaigns.Template": "the client's own HTML layout",
    "campaigns.Campaign": "a campaign's subject, settings and the HTML it sent",
    "campaigns.Campaign_lists": "links between campaigns and lists",
    "campaigns.TrackingSettings": "an organisation's two switches for counting opens and clicks",
    "campaigns.CampaignLink": (
        "an address written in a campaign's HTML; links that vary per recipient are never tracked"
    ),
    "campaigns.OpenCount": "hourly totals of opens of a campaign, naming no recipient",
    "campaigns.ClickCount": "hourly totals of clicks on a campaign's link, naming no recipient",
    "campaigns.TrackingFlush": "the id and time of a batch of counts moved from Redis, no one named",
}
