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
        # sent_at stays empty for a copy skipped or failed: dated by its message, which is older.
        dated_by="message__created_at",
    ),
]


def end_unconfirmed_and_withdrawn_subscribers(now, is_held, dry_run):
    """Newsletter sign-ups never confirmed, 7 days after they were asked for
    ("engagement.unconfirmed"); subscribers 30 days after they withdrew their consent (the latest
    answer of the consent ledger; "engagement.NewsletterSubscriber")."""
    from datetime import timedelta

    from django.contrib.contenttypes.models import ContentType
    from django.db.models import OuterRef, Q, Subquery

    from infolettre.privacy.models import ConsentEvent
    from infolettre.privacy.purposes import NEWSLETTER as NEWSLETTER_PURPOSE
    from infolettre.privacy.retention import delete_counted, rule_period

    from .models import NewsletterSubscriber

    window = rule_period("engagement.unconfirmed", timedelta(days=7))
    after_withdrawal = rule_period("engagement.NewsletterSubscriber", SUBSCRIBER.period)
    latest = ConsentEvent.objects.filter(
        subject_type=ContentType.objects.get_for_model(NewsletterSubscriber),
        subject_id=OuterRef("pk"),
        purpose=NEWSLETTER_PURPOSE.code,
    ).order_by("-occurred_at", "-id")
    subscribers = NewsletterSubscriber.objects.annotate(
        consent=Subquery(latest.values("given")[:1]),
        answered_at=Subquery(latest.values("occurred_at")[:1]),
    )
    # A sign-up waiting for its link keeps the row until the link expires, even after a withdrawal.
    waiting = Q(confirmation_requested_at__gte=now - window)
    never_confirmed = Q(confirmed_at__isnull=True, created_at__lt=now - window) & ~waiting
    withdrawn = Q(consent=False, answered_at__lt=now - after_withdrawal) & ~waiting
    ended = [
        pk
        for pk, email in subscribers.filter(never_confirmed | withdrawn).values_list("pk", "email")
        if not is_held(email)
    ]
    if not ended:
        return []
    return delete_counted(NewsletterSubscriber.objects.filter(pk__in=ended), dry_run)


end_unconfirmed_and_withdrawn_subscribers.dates = ("engagement.NewsletterSubscriber",)

RETENTION_RULES = [end_unconfirmed_and_withdrawn_subscribers]

NO_PERSONAL_DATA = {
    "engagement.OperatorMessage": "the operator's own message to everyone of a kind; it names no one",
}
