"""`manage.py load_demo_data` gives a fresh installation one organisation to try, and only then."""

from io import StringIO

from django.core.management import call_command

from infolettre.accounts.management.commands.load_demo_data import DEMO_PASSWORD
from infolettre.accounts.models import Organisation, Role, User
from infolettre.privacy.models import PolicyAcceptance


def load_demo_data():
    out = StringIO()
    call_command("load_demo_data", stdout=out)
    return out.getvalue()


def test_demo_data_creates_a_confirmed_owner_and_a_member_on_a_fresh_installation(db):
    """With no account yet, the command creates Démo Inc., its confirmed owner and one member."""
    output = load_demo_data()

    organisation = Organisation.objects.get()
    assert organisation.name == "Démo Inc."
    owner = User.objects.get(email="demo@infolettre.local")
    member = User.objects.get(email="membre@infolettre.local")
    assert (owner.tenant, owner.role, owner.email_confirmed) == (organisation, Role.OWNER, True)
    assert (member.tenant, member.role, member.email_confirmed) == (organisation, Role.MEMBER, True)
    assert owner.check_password(DEMO_PASSWORD)
    assert member.check_password(DEMO_PASSWORD)
    assert DEMO_PASSWORD == "demo-infolettre-2026"
    assert PolicyAcceptance.objects.filter(subject_id__in=[owner.pk, member.pk]).count() == 2
    assert "demo@infolettre.local / demo-infolettre-2026" in output
    assert "membre@infolettre.local / demo-infolettre-2026" in output


def test_demo_data_does_nothing_the_second_time(db):
    """A second run says it did nothing and changes nothing."""
    load_demo_data()
    users_before = list(User.objects.order_by("pk").values_list("pk", "email", "password"))

    output = load_demo_data()

    assert output == "Accounts already exist: no demo data loaded.\n"
    assert list(User.objects.order_by("pk").values_list("pk", "email", "password")) == users_before
    assert Organisation.objects.count() == 1


def test_demo_data_leaves_an_installation_with_accounts_alone(make_client_user):
    """Where any account exists, no demo organisation is added."""
    make_client_user()

    output = load_demo_data()

    assert "no demo data loaded" in output
    assert not Organisation.objects.filter(name="Démo Inc.").exists()
    assert not User.objects.filter(email="demo@infolettre.local").exists()
    assert User.objects.count() == 1
