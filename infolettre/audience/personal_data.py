from infolettre.privacy.declaration import (
    CONSENT,
    CONTACT,
    CONTENT,
    PRIVACY_OFFICER,
    TECHNICAL,
    THIRD_PARTY,
    PersonalDataModel,
    PersonalField,
    anonymise,
    for_days,
    while_account_open,
)

# A client's lists are theirs: staff see them only under a recorded access grant (later), never by role.
NOBODY = frozenset()
CLIENT_DATA = while_account_open()
CAMPAIGNS = ("campaign_delivery",)
PROOF = ("campaign_delivery", "privacy_compliance")


def contact_field(name, category=CONTACT, purposes=CAMPAIGNS, confidential=False):
    return PersonalField(name, category, purposes, CLIENT_DATA, confidential, NOBODY)


DECLARATION = [
    PersonalDataModel(
        "audience.Contact",
        subject=THIRD_PARTY,
        subject_email_path="email",
        fields=(
            contact_field("email"),
            contact_field("name"),
            contact_field("phone", confidential=True),
            # The keyed hash of the phone, for equality lookups the encrypted column cannot answer.
            PersonalField("phone_hash", TECHNICAL, CAMPAIGNS, CLIENT_DATA, False, NOBODY),
            contact_field("attributes", CONTENT),
            contact_field("engaged_at", TECHNICAL),
            contact_field("created_at", TECHNICAL),
            contact_field("updated_at", TECHNICAL),
        ),
        other_fields=("id", "tenant"),
    ),
    PersonalDataModel(
        "audience.Subscription",
        subject=THIRD_PARTY,
        subject_email_path="contact__email",
        fields=tuple(
            contact_field(name, CONSENT, PROOF)
            for name in (
                "status",
                "consent_basis",
                "consent_at",
                "consent_expires_at",
                "consent_source",
                "consent_wording",
                "created_at",
                "confirmed_at",
                "unsubscribed_at",
            )
        ),
        other_fields=("id", "tenant", "contact", "mailing_list"),
    ),
    PersonalDataModel(
        "audience.Suppression",
        subject=THIRD_PARTY,
        subject_email_path="email",
        fields=(
            contact_field("email", purposes=("campaign_delivery", "privacy_compliance")),
            # The hash outlives an erasure: it alone keeps an erased person from being mailed again.
            PersonalField(
                "email_hash", TECHNICAL, ("privacy_compliance",), CLIENT_DATA, False, NOBODY
            ),
            contact_field("reason", CONSENT, PROOF),
            contact_field("created_at", TECHNICAL, PROOF),
        ),
        other_fields=("id", "tenant"),
        # The clear address goes; the keyed hash stays so that no import can mail them again.
        erasure=anonymise("email", why="the keyed hash keeps the erased person from being mailed"),
    ),
    PersonalDataModel(
        "audience.ContactImport",
        subject=THIRD_PARTY,
        subject_email_path="",
        fields=(
            # The uploaded file and its report of rejected rows hold the rows as the client sent them.
            PersonalField(
                "file", CONTACT, CAMPAIGNS, for_days(30), False, frozenset({PRIVACY_OFFICER})
            ),
            PersonalField(
                "report", CONTACT, CAMPAIGNS, for_days(30), False, frozenset({PRIVACY_OFFICER})
            ),
        ),
        other_fields=(
            "id",
            "tenant",
            "mailing_list",
            "created_by",
            "filename",
            "encoding",
            "delimiter",
            "mapping",
            "attribute_types",
            "mode",
            "consent_basis",
            "consent_at",
            "consent_source",
            "consent_wording",
            "status",
            "total_rows",
            "processed_rows",
            "created_count",
            "updated_count",
            "unchanged_count",
            "duplicate_count",
            "suppressed_count",
            "rejected_count",
            "unsubscribed_count",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        ),
        # The files go (after 30 days, or at once when they quote an erased person); the import's
        # counts stay in the client's history.
        erasure=anonymise("file", "report", why="the import's counts name no one"),
    ),
]

NO_PERSONAL_DATA = {
    "audience.MailingList": "a list's name, description and settings",
    "audience.Segment": "conditions over attributes, chosen by the client; they name no person",
}


def keep_erased_suppressed(email, tenant_ids, scope):
    """Every client that held an erased person keeps them suppressed, by the keyed hash alone."""
    from .actions import do_suppress_by_hash

    for tenant_id in tenant_ids:
        do_suppress_by_hash(tenant_id, email)


ERASURE_STEPS = [keep_erased_suppressed]


def end_unconfirmed_signups_and_lapsed_consents(now, is_held, dry_run):
    """Sign-ups never confirmed within their link's life ("audience.unconfirmed"), with the contact
    the sign-up created; subscriptions whose implied consent has lapsed (the anti-spam law's 6
    months or 2 years): that consent allows nothing any more."""
    from datetime import timedelta

    from infolettre.privacy.retention import delete_counted, rule_period

    from .models import Contact, Subscription, SubscriptionStatus
    from .signup import SIGNUP_CONFIRMATION_MAX_AGE

    window = rule_period("audience.unconfirmed", timedelta(seconds=SIGNUP_CONFIRMATION_MAX_AGE))
    pending = Subscription.unscoped.filter(
        status=SubscriptionStatus.UNCONFIRMED, created_at__lt=now - window
    ).select_related("contact")
    lapsed = Subscription.unscoped.filter(consent_expires_at__lt=now).select_related("contact")
    subscriptions, contacts = set(), set()
    for subscription in [*pending, *lapsed]:
        if is_held(subscription.contact.email):
            continue
        subscriptions.add(subscription.pk)
        if subscription.status == SubscriptionStatus.UNCONFIRMED and (
            # The contact came with this sign-up and is on no other list.
            subscription.contact.created_at >= subscription.created_at - timedelta(minutes=1)
            and not Subscription.unscoped.filter(contact_id=subscription.contact_id)
            .exclude(pk=subscription.pk)
            .exists()
        ):
            contacts.add(subscription.contact_id)
    done = []
    if contacts:
        done += delete_counted(Contact.unscoped.filter(pk__in=contacts), dry_run)
        subscriptions -= set(
            Subscription.unscoped.filter(contact_id__in=contacts).values_list("pk", flat=True)
        )
    if subscriptions:
        done += delete_counted(Subscription.unscoped.filter(pk__in=subscriptions), dry_run)
    return done


RETENTION_RULES = [end_unconfirmed_signups_and_lapsed_consents]
