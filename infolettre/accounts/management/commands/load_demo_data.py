"""Create a demo organisation on a fresh installation, so that `make run` opens on something to try."""

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation

from infolettre.accounts import actions
from infolettre.accounts.models import Role, StaffRole, User
from infolettre.accounts.tenancy import tenant_scope

DEMO_PASSWORD = "demo-infolettre-2026"  # noqa: S105 (published in the README on purpose)
SOURCE = "demo_data"

OWNER = {
    "name": "Camille Tremblay",
    "title": "Directrice du marketing",
    "email": "demo@infolettre.local",
    "company_name": "Démo Inc.",
    "address": "100, rue Saint-Paul Ouest, Montréal (Québec) H2Y 1Z1",
    "phone": "+15145550100",
    "fax": "",
    "website": "https://demo.infolettre.local",
    "gender": "",
    "company_size": "11-50",
    "industry": "retail",
    "heard_about": "",
}
MEMBER = {
    "name": "Alex Gagnon",
    "title": "Coordonnateur des communications",
    "gender": "",
    "heard_about": "",
}
MEMBER_EMAIL = "membre@infolettre.local"
# One staff member per role (the staff area, /equipe/tableau-de-bord/, from an office network;
# each sets up an authenticator app at the first sign-in).
STAFF = [
    ("soutien@infolettre.local", "Sam Soutien", StaffRole.SUPPORT),
    ("facturation@infolettre.local", "Fanny Facturation", StaffRole.BILLING),
    ("responsable@infolettre.local", "Rita Responsable", StaffRole.PRIVACY_OFFICER),
    ("admin@infolettre.local", "Alain Admin", StaffRole.ADMINISTRATOR),
]


@transaction.atomic
def create_demo_organisation():
    """Create "Démo Inc." with a confirmed owner and one member; return both users."""
    with translation.override("fr"):
        owner = actions.do_register_organisation(OWNER, DEMO_PASSWORD, consents={}, source=SOURCE)
        # The demo address receives nothing: it is confirmed here instead of by the welcome link.
        owner.email_confirmed_at = timezone.now()
        owner.save(update_fields=["email_confirmed_at"])
        with tenant_scope(owner.tenant):
            invitation = actions.do_invite_member(owner, MEMBER_EMAIL, Role.MEMBER)
        member = actions.do_accept_invitation(
            invitation, MEMBER, DEMO_PASSWORD, consents={}, source=SOURCE
        )
    return owner, member


@transaction.atomic
def create_demo_staff():
    from infolettre.staff.actions import do_create_staff_user

    return [
        do_create_staff_user(email, name, role, password=DEMO_PASSWORD)
        for email, name, role in STAFF
    ]


class Command(BaseCommand):
    help = "On a fresh installation (no account yet), create the demo organisation and its users."

    def handle(self, *args, **options):
        if User.objects.exists():
            self.stdout.write("Accounts already exist: no demo data loaded.")
            return
        owner, member = create_demo_organisation()
        staff = create_demo_staff()
        login = f"{settings.SITE_URL}{reverse('accounts:login')}"
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo organisation “{owner.tenant.name}” created. Sign in at {login}"
            )
        )
        self.stdout.write(f"  owner:  {owner.email} / {DEMO_PASSWORD}")
        self.stdout.write(f"  member: {member.email} / {DEMO_PASSWORD}")
        for user in staff:
            self.stdout.write(f"  staff ({user.staff_role}): {user.email} / {DEMO_PASSWORD}")
