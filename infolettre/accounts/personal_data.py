from infolettre.privacy.declaration import (
    ADMINISTRATOR,
    BILLING_STAFF,
    CLIENT,
    CONSENT,
    CONTACT,
    CREDENTIALS,
    DEMOGRAPHIC,
    MARKETING,
    PRIVACY_OFFICER,
    SUPPORT,
    TECHNICAL,
    PersonalDataModel,
    PersonalField,
    anonymise,
    for_days,
    while_account_open,
)

ACCOUNT = while_account_open()
EVERY_ROLE = frozenset({SUPPORT, BILLING_STAFF, PRIVACY_OFFICER, ADMINISTRATOR})
SUPPORT_ROLES = frozenset({SUPPORT, PRIVACY_OFFICER, ADMINISTRATOR})
PROFILE_ROLES = frozenset({PRIVACY_OFFICER})


def contact(name, confidential=False, purposes=("account",)):
    return PersonalField(name, CONTACT, purposes, ACCOUNT, confidential, EVERY_ROLE)


DECLARATION = [
    PersonalDataModel(
        "accounts.User",
        subject=CLIENT,
        subject_email_path="email",
        fields=(
            contact("email", purposes=("account", "authentication", "service_notices")),
            contact("name"),
            contact("title"),
            PersonalField(
                "gender", DEMOGRAPHIC, ("client_profile",), ACCOUNT, False, PROFILE_ROLES
            ),
            PersonalField(
                "heard_about", MARKETING, ("client_profile",), ACCOUNT, False, PROFILE_ROLES
            ),
            PersonalField("language", TECHNICAL, ("account",), ACCOUNT, False, EVERY_ROLE),
            # Confidential but not encrypted: Django keeps only a salted one-way hash of the
            # password, which nothing ever needs to read back (hashed=True exempts it).
            PersonalField(
                "password",
                CREDENTIALS,
                ("authentication",),
                ACCOUNT,
                True,
                frozenset(),
                hashed=True,
            ),
            PersonalField("last_login", TECHNICAL, ("security",), ACCOUNT, False, SUPPORT_ROLES),
            PersonalField("date_joined", TECHNICAL, ("account",), ACCOUNT, False, EVERY_ROLE),
            PersonalField(
                "email_confirmed_at", TECHNICAL, ("account",), ACCOUNT, False, SUPPORT_ROLES
            ),
            PersonalField(
                "daily_report_stopped_at", CONSENT, ("account",), ACCOUNT, False, SUPPORT_ROLES
            ),
        ),
        other_fields=("id", "tenant", "role", "is_active", "is_staff", "staff_role"),
    ),
    PersonalDataModel(
        "accounts.Organisation",
        subject=CLIENT,
        subject_email_path="users__email",
        fields=(
            contact("name"),
            contact("address"),
            contact("phone", confidential=True),
            contact("fax", confidential=True),
            contact("website"),
            PersonalField(
                "company_size", MARKETING, ("client_profile",), ACCOUNT, False, PROFILE_ROLES
            ),
            PersonalField(
                "industry", MARKETING, ("client_profile",), ACCOUNT, False, PROFILE_ROLES
            ),
        ),
        other_fields=("id", "created_at", "closed_at"),
        # Reached only when the person is its last user (privacy.erasure): the company's details
        # may be theirs (a sole proprietor); the account closes and retention ends the rest.
        erasure=anonymise(
            "name",
            "address",
            "phone",
            "fax",
            "website",
            "company_size",
            "industry",
            why="the account's lists and campaigns wait for the end of its grace period",
        ),
    ),
    PersonalDataModel(
        "accounts.ApiToken",
        subject=CLIENT,
        subject_email_path="user__email",
        fields=(
            PersonalField("name", CREDENTIALS, ("authentication",), ACCOUNT, False, SUPPORT_ROLES),
            # A one-way digest of the token, compared on each request and never read back: no key
            # could make it safer, and a leaked table still cannot authenticate anyone.
            PersonalField(
                "digest",
                CREDENTIALS,
                ("authentication",),
                ACCOUNT,
                True,
                frozenset(),
                hashed=True,
            ),
            PersonalField("last_used_at", TECHNICAL, ("security",), ACCOUNT, False, SUPPORT_ROLES),
        ),
        other_fields=("id", "tenant", "user", "prefix", "created_at", "revoked_at"),
    ),
    PersonalDataModel(
        "accounts.Invitation",
        subject=CLIENT,
        subject_email_path="email",
        fields=(
            PersonalField(
                "email", CONTACT, ("account",), for_days(30, "collected"), False, SUPPORT_ROLES
            ),
        ),
        other_fields=("id", "tenant", "role", "invited_by", "created_at", "accepted_at"),
    ),
]


def close_accounts_of_last_user(email, tenant_ids, scope):
    """An erased person who was the last user of their client account closes it: nobody is left
    to run it, and retention destroys its lists and campaigns once the grace period ends."""
    if scope is not None:
        return
    from django.utils import timezone

    from .models import Organisation

    for organisation in Organisation.objects.filter(users__email=email, closed_at__isnull=True):
        if set(organisation.users.values_list("email", flat=True)) == {email}:
            organisation.closed_at = timezone.now()
            organisation.save(update_fields=["closed_at"])


ERASURE_STEPS = [close_accounts_of_last_user]


def end_unconfirmed_and_closed_accounts(now, is_held, dry_run):
    """Accounts whose address was never confirmed (30 days, "accounts.unconfirmed"), and closed
    accounts once their grace period is over (the organisation's period): each goes as a whole,
    unless an open privacy request of one of its people holds it."""
    from datetime import timedelta

    from infolettre.privacy.declaration import declared_model
    from infolettre.privacy.retention import delete_counted, model_retention, rule_period

    from .models import Organisation, User

    done = []
    unconfirmed = User.objects.filter(
        tenant__isnull=False,
        is_staff=False,
        email_confirmed_at__isnull=True,
        date_joined__lt=now - rule_period("accounts.unconfirmed", timedelta(days=30)),
    )
    lone, users = [], []
    for user in unconfirmed:
        if is_held(user.email):
            continue
        if user.tenant.users.count() == 1:
            lone.append(user.tenant_id)
        else:
            users.append(user.pk)
    grace = model_retention(declared_model("accounts.Organisation")).period
    closed = Organisation.objects.filter(closed_at__lt=now - grace).exclude(pk__in=lone)
    ended = lone + [org.pk for org in closed if not _anyone_held(org, is_held)]
    if ended:
        done += delete_counted(Organisation.objects.filter(pk__in=ended), dry_run)
    if users:
        done += delete_counted(User.objects.filter(pk__in=users), dry_run)
    return done


def _anyone_held(organisation, is_held):
    if not is_held:
        return False
    from infolettre.audience.models import Contact

    addresses = list(organisation.users.values_list("email", flat=True))
    addresses += Contact.unscoped.filter(tenant=organisation).values_list("email", flat=True)
    return any(is_held(email) for email in addresses)


RETENTION_RULES = [end_unconfirmed_and_closed_accounts]
