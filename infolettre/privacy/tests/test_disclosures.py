"""The disclosure log: every transport writes it before a message leaves; a person sees their share."""

import inspect

import pytest

from infolettre.accounts.actions import do_update_profile
from infolettre.accounts.tenancy import tenant_scope
from infolettre.audience.actions import (
    do_create_contact,
    do_create_list,
    do_subscribe,
    do_update_contact,
)
from infolettre.audience.models import Contact
from infolettre.messaging import transports
from infolettre.messaging.transports import (
    SENT,
    DjangoMailerTransport,
    MemoryTransport,
    OutgoingMessage,
    SMTPTransport,
    Transport,
)
from infolettre.privacy.disclosures import (
    DELIVERY_LOGS_ONLY,
    disclosures_for,
    processor_for_url,
)
from infolettre.privacy.models import Disclosure, DisclosureKind
from infolettre.privacy.tests.test_erasure import launch

PROVIDER = "Courrielleur inc."


class FakeSMTP:
    """Answers an SMTP transaction as a server that accepts everything."""

    def __init__(self):
        self.sent, self.replies = [], []

    def send(self, data):
        self.sent.append(data)
        if data == b".\r\n":
            self.replies.append((250, b"queued"))
        elif isinstance(data, str):
            commands = [line for line in data.split("\r\n") if line]
            self.replies += [(354, b"go ahead") if c == "DATA" else (250, b"ok") for c in commands]

    def getreply(self):
        return self.replies.pop(0)

    def rset(self):
        pass


def smtp_transport():
    transport = SMTPTransport("smtp.example.net")
    transport.connection = FakeSMTP()
    return transport


def mailer_transport():
    transport = DjangoMailerTransport("default")
    transport.open()
    return transport


# One way to build each transport class of messaging.transports; a class missing here fails.
FACTORIES = {
    SMTPTransport: smtp_transport,
    DjangoMailerTransport: mailer_transport,
    MemoryTransport: MemoryTransport,
}


def message(n, campaign_id=7):
    return OutgoingMessage(
        envelope_from="bounce@bounces.example.net",
        recipient=f"r{n}@example.com",
        headers={"From": "News <news@example.com>", "To": f"r{n}@example.com", "Subject": "Hi"},
        text="Hello",
        html="<p>Hello</p>",
        reason=f"campaign:{campaign_id}",
        campaign_id=campaign_id,
        delivery_id=100 + n,
    )


def test_every_transport_class_is_registered_and_known_to_this_test():
    """The registry by scheme holds every Transport class of the module, and this test builds each."""
    classes = {
        cls
        for _, cls in inspect.getmembers(transports, inspect.isclass)
        if issubclass(cls, Transport) and cls is not Transport
    }
    assert classes == set(transports.TRANSPORTS.values()) == set(FACTORIES)


@pytest.mark.parametrize("cls", list(FACTORIES), ids=lambda cls: cls.__name__)
def test_every_transport_logs_one_disclosure_per_session_and_campaign(db, cls):
    """Two messages of one campaign through one transport: both leave, one row is logged before
    the first; a second campaign gets its own row."""
    MemoryTransport.outbox = []
    transport = FACTORIES[cls]()
    transport.processor = PROVIDER
    commits = []
    results = [transport.send(message(n), lambda: commits.append(1)) for n in range(2)]
    transport.send(message(3, campaign_id=8), lambda: commits.append(1))
    assert [r.outcome for r in results] == [SENT, SENT]
    assert len(commits) == 3
    assert list(
        Disclosure.objects.values_list(
            "recipient", "campaign_id", "first_delivery_id", "categories", "purpose"
        )
    ) == [
        (PROVIDER, 7, 100, ["contact", "content"], "campaign_delivery"),
        (PROVIDER, 8, 103, ["contact", "content"], "campaign_delivery"),
    ]


def test_a_transport_that_bypasses_the_log_is_refused():
    """A transport class defining its own send() cannot be made."""
    with pytest.raises(TypeError, match="deliver"):

        class Leaky(Transport):
            def send(self, message, commit):
                return None


def test_our_local_relay_is_no_processor_and_a_provider_is(settings):
    """Mail handed to our own relay on this machine discloses nothing; an outside host does."""
    settings.PROCESSOR_NAMES = {"smtp.postmarkapp.com": "Postmark"}
    settings.MAILERS = {
        "default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"},
        "campaigns": {"BACKEND": "anymail.backends.mailgun.EmailBackend"},
    }
    assert processor_for_url("smtp://127.0.0.1:1025") == ""
    assert processor_for_url("smtp://localhost") == ""
    assert processor_for_url("smtp+tls://smtp.postmarkapp.com:587") == "Postmark"
    assert processor_for_url("smtps://mail.example.net") == "mail.example.net"
    assert processor_for_url("mailer://campaigns") == "mailgun"
    assert processor_for_url("mailer://default") == ""
    assert processor_for_url("memory://") == ""


@pytest.fixture
def mailed(owner, settings, django_capture_on_commit_callbacks):
    """Three contacts mailed one campaign through a provider; a fourth never mailed."""
    settings.CAMPAIGN_TRANSPORT_URL = "memory://"
    settings.CAMPAIGN_LANES = 1
    settings.PROCESSOR_NAMES = {"memory": PROVIDER}
    MemoryTransport.outbox = []
    with tenant_scope(owner.tenant):
        news = do_create_list(owner.tenant, name="News")
        for n in range(3):
            do_subscribe(
                do_create_contact(owner.tenant, email=f"r{n}@example.com"), news, source="t"
            )
        do_create_contact(owner.tenant, email="never@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        campaign = launch(owner.tenant, news)
    return campaign


def test_a_campaign_is_logged_once_and_each_recipient_sees_it(mailed, owner):
    """One row for the campaign's session, not one per message; each recipient's file lists the
    provider, what it received, why and when; someone never mailed has nothing."""
    assert len(MemoryTransport.outbox) == 3
    assert Disclosure.objects.count() == 1
    found = disclosures_for("R1@example.com")
    assert [
        (d["recipient"], d["kind"], d["categories"], d["purpose"], d["why"], d["tenant_id"])
        for d in found
    ] == [
        (
            PROVIDER,
            "transfer",
            ["contact", "content"],
            "campaign_delivery",
            f"campaign:{mailed.pk}",
            owner.tenant_id,
        )
    ]
    assert found[0]["when"] is not None
    assert disclosures_for("never@example.com") == []


def test_a_correction_is_passed_on_to_the_processor_that_received_the_data(mailed, owner):
    """Correcting a mailed contact records, for the provider, that nothing is held beyond its
    delivery logs; a contact never mailed has nothing passed on."""
    with tenant_scope(owner.tenant):
        do_update_contact(Contact.objects.get(email="r1@example.com"), name="Renée")
        do_update_contact(Contact.objects.get(email="never@example.com"), name="Jamais")
    rows = list(
        Disclosure.objects.filter(kind=DisclosureKind.CORRECTION).values_list(
            "recipient", "categories", "reason", "outcome", "tenant_id"
        )
    )
    assert rows == [
        (PROVIDER, ["contact"], "correction:audience.Contact", DELIVERY_LOGS_ONLY, owner.tenant_id)
    ]
    assert [d["kind"] for d in disclosures_for("r1@example.com")] == ["transfer", "correction"]


def fake_provider_api(email, categories):
    return f"Corrected at the provider: {', '.join(categories)}"


def test_a_processor_with_an_api_is_called(mailed, owner, settings):
    """PROCESSOR_CORRECTION_HANDLERS names the function that calls a processor's API."""
    settings.PROCESSOR_CORRECTION_HANDLERS = {
        PROVIDER: "infolettre.privacy.tests.test_disclosures.fake_provider_api"
    }
    with tenant_scope(owner.tenant):
        do_update_contact(Contact.objects.get(email="r2@example.com"), phone="+15145550100")
    assert Disclosure.objects.get(kind=DisclosureKind.CORRECTION).outcome == (
        "Corrected at the provider: contact"
    )


def test_operator_messages_through_a_provider_are_logged_per_person(
    make_client_user, settings, django_capture_on_commit_callbacks
):
    """The welcome message through an outside provider is in the person's file; a profile
    correction is then passed on to that provider."""
    settings.PROCESSOR_NAMES = {"mailer:default": PROVIDER}
    with django_capture_on_commit_callbacks(execute=True):
        user = make_client_user(confirmed=False)
    assert [(d["recipient"], d["why"], d["purpose"]) for d in disclosures_for(user.email)] == [
        (PROVIDER, "message:welcome", "account")
    ]
    do_update_profile(user, {"name": "Nouveau Nom"})
    assert list(
        Disclosure.objects.filter(kind=DisclosureKind.CORRECTION).values_list(
            "recipient", "reason", "outcome"
        )
    ) == [(PROVIDER, "correction:accounts.User", DELIVERY_LOGS_ONLY)]


def test_operator_messages_through_our_own_relay_are_not_logged(
    make_client_user, django_capture_on_commit_callbacks
):
    """The test mailer keeps messages in memory: nothing is disclosed, nothing logged."""
    with django_capture_on_commit_callbacks(execute=True):
        make_client_user(confirmed=False)
    assert Disclosure.objects.count() == 0
