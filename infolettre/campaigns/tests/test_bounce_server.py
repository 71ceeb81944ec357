"""The bounce server, end to end over SMTP: reports and mailto unsubscribes act; other domains are refused."""

import logging
import re
import smtplib
import socket
from pathlib import Path

import pytest
from django.db import DEFAULT_DB_ALIAS, connections

from infolettre.audience.models import Suppression
from infolettre.campaigns.bounce_server import BounceServer
from infolettre.campaigns.bounces import process_incoming
from infolettre.campaigns.models import Bounce, DeliveryStatus
from infolettre.campaigns.tests.test_unsubscribe import make_delivery, snapshot, statuses

SAMPLES = Path(__file__).parent / "samples"
DOMAIN = "bounces.example.com"
POSTFIX_ID = "3f2b8c1e9a4d4e6f8b7a6c5d4e3f2a1b"
ARF_ID = "5e6f7a8b9c0d4e1fa2b3c4d5e6f7a8b9"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def server(settings, db):
    """The server, its worker thread working in the test's transaction as Django's live server does."""
    settings.BOUNCE_DOMAIN = DOMAIN
    connection = connections[DEFAULT_DB_ALIAS]
    connection.inc_thread_sharing()

    def process(recipients, content):
        connections[DEFAULT_DB_ALIAS] = connection
        return process_incoming(recipients, content)

    try:
        with BounceServer("127.0.0.1", free_port(), process=process) as running:
            yield running
    finally:
        connection.dec_thread_sharing()


def send(server, recipients, message, sender=""):
    """Send over SMTP as a mail server does: lines end with CRLF."""
    if isinstance(message, str):
        message = message.encode()
    message = re.sub(rb"\r?\n", b"\r\n", message)
    host, port = server.address
    with smtplib.SMTP(host, port, timeout=10) as smtp:
        return smtp.sendmail(sender, recipients, message)


def suppressed(tenant):
    return list(
        Suppression.unscoped.filter(tenant=tenant).values_list("email", "reason").order_by("pk")
    )


def test_a_bounce_received_over_smtp_suppresses(owner, server):
    """A Postfix report sent to the VERP address with a null sender bounces the delivery."""
    delivery = make_delivery(owner.tenant, "jean.tremblay@example.com", message_id=POSTFIX_ID)
    refused = send(
        server,
        [f"bounce+{POSTFIX_ID}@{DOMAIN}"],
        (SAMPLES / "postfix_user_unknown.eml").read_bytes(),
    )
    assert refused == {}
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.BOUNCED
    assert suppressed(owner.tenant) == [("jean.tremblay@example.com", "bounced")]
    assert server.handler.outcomes == {"hard_bounce": 1}


def test_a_mailto_unsubscribe_over_smtp_unsubscribes(owner, server):
    """A mailbox provider's mail to the List-Unsubscribe mailto unsubscribes the recipient."""
    make_delivery(owner.tenant, "louise.roy@example.com", lists=["News"], message_id=ARF_ID)
    message = (
        "From: louise.roy@example.com\r\n"
        f"To: unsubscribe+{ARF_ID}@{DOMAIN}\r\n"
        "Subject: Unsubscribe\r\n\r\nThis message was automatically generated.\r\n"
    )
    send(server, [f"unsubscribe+{ARF_ID}@{DOMAIN}"], message, sender="louise.roy@example.com")
    assert statuses(owner.tenant) == {"News": "unsubscribed"}
    assert suppressed(owner.tenant) == [("louise.roy@example.com", "unsubscribed")]


def test_a_complaint_over_smtp_suppresses(owner, server):
    """A feedback loop's ARF report to its own address of the bounce domain suppresses."""
    make_delivery(owner.tenant, "louise.roy@example.com", message_id=ARF_ID)
    send(server, [f"fbl@{DOMAIN}"], (SAMPLES / "arf_abuse.eml").read_bytes(), "fbl@example.net")
    assert suppressed(owner.tenant) == [("louise.roy@example.com", "complained")]


def test_other_domains_are_refused(owner, server):
    """The server is no relay: a recipient of another domain gets 550 and nothing changes."""
    make_delivery(owner.tenant, "jean.tremblay@example.com", message_id=POSTFIX_ID)
    before = snapshot()
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        send(server, ["jean.tremblay@example.com"], b"Subject: relay?\r\n\r\nHi\r\n")
    assert refused.value.recipients["jean.tremblay@example.com"][0] == 550
    assert snapshot() == before
    assert server.handler.received == 0


def test_an_unknown_verp_over_smtp_is_accepted_and_changes_nothing(owner, server):
    """A forged id is accepted (nothing to learn from a refusal) and acts on nothing."""
    make_delivery(owner.tenant, "jean.tremblay@example.com", message_id=POSTFIX_ID)
    before = snapshot()
    report = (
        (SAMPLES / "postfix_user_unknown.eml").read_bytes().replace(POSTFIX_ID.encode(), b"0" * 32)
    )
    assert send(server, [f"bounce+{'0' * 32}@{DOMAIN}"], report) == {}
    assert snapshot() == before
    assert Bounce.unscoped.count() == 0
    assert server.handler.outcomes == {"unknown": 1}


def test_a_processing_failure_answers_451_so_the_sender_retries(owner, settings):
    """When acting fails, the message is refused for now, not lost."""
    settings.BOUNCE_DOMAIN = DOMAIN

    def broken(recipients, content):
        raise RuntimeError("database down")

    with (
        BounceServer("127.0.0.1", free_port(), process=broken) as server,
        pytest.raises(smtplib.SMTPDataError) as refused,
    ):
        send(server, [f"bounce+{POSTFIX_ID}@{DOMAIN}"], b"Subject: x\r\n\r\nx\r\n")
    assert refused.value.smtp_code == 451


def test_the_logs_hold_counts_and_no_address(owner, server, caplog):
    """Neither the server nor aiosmtpd logs an address or the message."""
    make_delivery(owner.tenant, "jean.tremblay@example.com", message_id=POSTFIX_ID)
    with caplog.at_level(logging.DEBUG):
        send(
            server,
            [f"bounce+{POSTFIX_ID}@{DOMAIN}"],
            (SAMPLES / "postfix_user_unknown.eml").read_bytes(),
        )
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "Message 1 processed: hard_bounce 1" in logged
    assert "@" not in logged
    assert POSTFIX_ID not in logged
