"""Fixtures shared by every app's tests."""

import base64
import itertools

import pytest

from infolettre.accounts.actions import do_register_organisation
from infolettre.accounts.models import Role, User
from infolettre.accounts.tenancy import tenant_scope

PASSWORD = "a long enough passphrase 42"  # noqa: S105
_sequence = itertools.count(1)


def registration_data(**overrides):
    n = next(_sequence)
    data = {
        "name": f"Person {n}",
        "title": "Director",
        "email": f"person{n}@example.com",
        "company_name": f"Company {n}",
        "address": "100 rue Saint-Paul, Montréal (Québec) H2Y 1Z1",
        "phone": "+15145550123",
        "website": "https://example.com",
        "fax": "",
        "gender": "",
        "company_size": "",
        "industry": "",
        "heard_about": "",
    }
    data.update(overrides)
    return data


@pytest.fixture(autouse=True)
def _fresh_cache_and_language():
    """Each test starts with an empty cache (throttling counts live there) and in French, the
    default language, whatever language an earlier test's request left active."""
    from django.core.cache import cache
    from django.utils import translation

    cache.clear()
    translation.activate("fr")
    yield
    translation.deactivate()


@pytest.fixture
def make_client_user(db):
    """Register an organisation and return its confirmed owner."""

    def make(confirmed=True, **overrides):
        user = do_register_organisation(
            registration_data(**overrides), PASSWORD, consents={}, source="test"
        )
        if confirmed:
            from django.utils import timezone

            user.email_confirmed_at = timezone.now()
            user.save(update_fields=["email_confirmed_at"])
        return user

    return make


@pytest.fixture
def owner(make_client_user):
    return make_client_user()


@pytest.fixture
def make_member(db):
    def make(organisation, role=Role.MEMBER, **fields):
        n = next(_sequence)
        return User.objects.create_user(
            fields.pop("email", f"member{n}@example.com"),
            PASSWORD,
            tenant=organisation,
            role=role,
            name=fields.pop("name", f"Member {n}"),
            title="Analyst",
            **fields,
        )

    return make


def basic_auth(user, password=PASSWORD):
    raw = f"{user.email}:{password}".encode()
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(raw).decode()}


@pytest.fixture
def in_tenant():
    """Run a block as the given organisation, as a request of one of its users would."""
    return tenant_scope


class RecordingHandler:
    """An SMTP server's handler that keeps every message it accepts."""

    def __init__(self):
        self.messages = []
        self.replies = {}  # recipient -> SMTP reply to give instead of accepting
        self.data_replies = {}  # recipient -> reply to the message's final dot instead of accepting
        self.on_message = None  # called with the count of messages received, before answering
        self.pipelining = False  # offer PIPELINING (RFC 2920) to the next EHLO

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if self.pipelining:
            responses = [*responses[:-1], "250-PIPELINING", responses[-1]]
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.replies:
            return self.replies[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        for recipient in envelope.rcpt_tos:
            if recipient in self.data_replies:
                return self.data_replies[recipient]
        self.messages.append(
            (envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
        )
        if self.on_message is not None:
            self.on_message(len(self.messages))
        return "250 Message accepted"


@pytest.fixture
def smtp_server():
    """A real SMTP server on a free local port, recording what it receives."""
    import logging
    import socket

    from aiosmtpd.controller import Controller

    logging.getLogger("mail.log").setLevel(logging.WARNING)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    handler.url = f"smtp://127.0.0.1:{port}"
    yield handler
    controller.stop()
