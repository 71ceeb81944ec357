"""Delivery status notifications and complaints: parsed, and the addresses that must stop suppressed."""

from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.utils import timezone

from infolettre.audience.models import Suppression
from infolettre.campaigns import bounces
from infolettre.campaigns.bounces import (
    COMPLAINT,
    HARD_BOUNCE,
    IGNORED,
    SOFT_BOUNCE,
    UNKNOWN,
    UNSUBSCRIBE,
    RecipientStatus,
    parse_address,
    parse_report,
    process_incoming,
)
from infolettre.campaigns.models import Bounce, BounceKind, Delivery, DeliveryStatus
from infolettre.campaigns.tests.test_unsubscribe import make_delivery, snapshot, statuses

SAMPLES = Path(__file__).parent / "samples"
DOMAIN = "bounces.example.com"
POSTFIX_ID = "3f2b8c1e9a4d4e6f8b7a6c5d4e3f2a1b"
FULL_ID = "7c1d2e3f4a5b4c6d8e9f0a1b2c3d4e5f"
DELAYED_ID = "9d8c7b6a5f4e4d3c8b2a1f0e9d8c7b6a"
EXCHANGE_ID = "a1b2c3d4e5f647389a0b1c2d3e4f5a6b"
ARF_ID = "5e6f7a8b9c0d4e1fa2b3c4d5e6f7a8b9"


@pytest.fixture(autouse=True)
def _bounce_domain(settings):
    settings.BOUNCE_DOMAIN = DOMAIN


def sample(name):
    return (SAMPLES / name).read_bytes()


def verp(message_id):
    return f"bounce+{message_id}@{DOMAIN}"


def suppressed(tenant):
    return list(
        Suppression.unscoped.filter(tenant=tenant).values_list("email", "reason").order_by("pk")
    )


def bounce_rows():
    return list(Bounce.unscoped.values_list("email", "kind", "status").order_by("pk"))


# Parsing.


def test_postfix_user_unknown_is_a_hard_bounce():
    """Postfix's 5.1.1 report: one failed recipient, its code and diagnostic, our message id."""
    report = parse_report(sample("postfix_user_unknown.eml"))
    assert report.report_type == "delivery-status"
    assert report.recipients == (
        RecipientStatus(
            action="failed",
            status="5.1.1",
            final_recipient="jean.tremblay@example.com",
            diagnostic="smtp; 550 5.1.1 <jean.tremblay@example.com>: Recipient address "
            "rejected: User unknown in virtual mailbox table",
        ),
    )
    assert report.recipients[0].kind == BounceKind.HARD
    assert report.message_ids == (POSTFIX_ID,)


def test_mailbox_full_is_a_soft_bounce():
    """A full mailbox (4.2.2), given up after retries, is a soft bounce."""
    report = parse_report(sample("mailbox_full.eml"))
    (recipient,) = report.recipients
    assert (recipient.action, recipient.status, recipient.final_recipient) == (
        "failed",
        "4.2.2",
        "sophie.lavoie@example.com",
    )
    assert recipient.diagnostic == (
        "smtp; 452 4.2.2 The email account that you tried to reach is over quota."
    )
    assert recipient.kind == BounceKind.SOFT
    assert report.message_ids == (FULL_ID,)


def test_exchange_recipient_not_found_is_a_hard_bounce():
    """Exchange's report (lower-case field names, 5.1.10) is read like any other."""
    report = parse_report(sample("exchange_recipient_not_found.eml"))
    (recipient,) = report.recipients
    assert recipient == RecipientStatus(
        action="failed",
        status="5.1.10",
        final_recipient="m.gagnon@example.com",
        diagnostic="smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; "
        "Recipient not found by SMTP address lookup",
    )
    assert recipient.kind == BounceKind.HARD
    assert report.message_ids == (EXCHANGE_ID,)


def test_a_delay_warning_is_no_bounce():
    """'Delayed Mail (still being retried)' reports no failure."""
    report = parse_report(sample("postfix_delayed.eml"))
    assert [(r.action, r.status, r.kind) for r in report.recipients] == [("delayed", "4.4.1", None)]
    assert report.worst_failure() is None


def test_an_arf_report_gives_its_feedback_type_and_our_message_id():
    """RFC 5965: the feedback type, and our id from Original-Mail-From and the original's headers."""
    report = parse_report(sample("arf_abuse.eml"))
    assert (report.report_type, report.feedback_type, report.message_ids) == (
        "feedback-report",
        "abuse",
        (ARF_ID,),
    )


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        ("5.1.1", BounceKind.HARD),
        ("5.1.10", BounceKind.HARD),
        ("5.2.1", BounceKind.HARD),
        ("5.0.0", BounceKind.HARD),
        ("5.2.2", BounceKind.SOFT),
        ("5.7.1", BounceKind.SOFT),
        ("4.4.7", BounceKind.SOFT),
    ],
)
def test_only_failures_about_the_address_are_hard(status, kind):
    """A policy block or a full mailbox may clear up: it counts as a soft bounce."""
    assert RecipientStatus("failed", status, "", "").kind == kind


def test_an_auto_reply_or_a_broken_message_is_not_a_report():
    """Out-of-office replies go to the return path too; they are no bounce."""
    assert parse_report(sample("out_of_office.eml")).report_type == "other"
    assert parse_report(b"\xff\xfe garbage").report_type == "other"


def test_addresses_of_the_bounce_domain_are_read():
    """VERP and mailto addresses give their message id; other domains are not ours."""
    assert parse_address(f"<bounce+{POSTFIX_ID.upper()}@Bounces.Example.com>") == (
        "bounce",
        POSTFIX_ID,
    )
    assert parse_address(f"unsubscribe+{POSTFIX_ID}@{DOMAIN}") == ("unsubscribe", POSTFIX_ID)
    assert parse_address(f"postmaster@{DOMAIN}") == ("other", None)
    assert parse_address(f"bounce+{POSTFIX_ID}@example.com") is None


# Actions.


def test_hard_bounce_suppresses_and_marks_the_delivery_bounced(owner):
    """A 5.1.1 report to the VERP address bounces the delivery and suppresses its address."""
    delivery = make_delivery(owner.tenant, "Jean.Tremblay@example.com", message_id=POSTFIX_ID)
    outcomes = process_incoming([verp(POSTFIX_ID)], sample("postfix_user_unknown.eml"))
    assert outcomes == [HARD_BOUNCE]
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.BOUNCED
    assert delivery.error.startswith("5.1.1 smtp; 550 5.1.1")
    assert suppressed(owner.tenant) == [("jean.tremblay@example.com", "bounced")]
    assert bounce_rows() == [("jean.tremblay@example.com", "hard", "5.1.1")]


def test_the_same_report_received_twice_is_counted_once(owner):
    """A report delivered twice changes nothing the second time."""
    make_delivery(owner.tenant, "jean.tremblay@example.com", message_id=POSTFIX_ID)
    process_incoming([verp(POSTFIX_ID)], sample("postfix_user_unknown.eml"))
    before = (snapshot(), bounce_rows())
    assert process_incoming([verp(POSTFIX_ID)], sample("postfix_user_unknown.eml")) == [HARD_BOUNCE]
    assert (snapshot(), bounce_rows()) == before


def test_a_hard_bounce_does_not_change_a_delivery_that_was_not_sent(owner):
    """Only a sent delivery becomes bounced; the address is suppressed all the same."""
    delivery = make_delivery(
        owner.tenant, "jean.tremblay@example.com", message_id=POSTFIX_ID, status="failed"
    )
    process_incoming([verp(POSTFIX_ID)], sample("postfix_user_unknown.eml"))
    delivery.refresh_from_db()
    assert (delivery.status, delivery.error) == ("failed", "")
    assert suppressed(owner.tenant) == [("jean.tremblay@example.com", "bounced")]


def test_the_address_suppressed_is_the_deliverys_not_the_reports(owner):
    """A report naming another recipient acts on the delivery its VERP names, nothing else."""
    make_delivery(owner.tenant, "someone.else@example.com", message_id=POSTFIX_ID)
    process_incoming([verp(POSTFIX_ID)], sample("postfix_user_unknown.eml"))
    assert suppressed(owner.tenant) == [("someone.else@example.com", "bounced")]


def test_a_report_to_another_address_is_matched_by_the_original_message_id(owner):
    """Exchange's report sent to postmaster@ finds the delivery by the Message-ID it quotes."""
    delivery = make_delivery(owner.tenant, "m.gagnon@example.com", message_id=EXCHANGE_ID)
    outcomes = process_incoming(
        [f"postmaster@{DOMAIN}"], sample("exchange_recipient_not_found.eml")
    )
    assert outcomes == [HARD_BOUNCE]
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.BOUNCED
    assert suppressed(owner.tenant) == [("m.gagnon@example.com", "bounced")]


def _soft_bounces(tenant, email, count):
    outcomes = []
    for _ in range(count):
        delivery = make_delivery(tenant, email)
        report = sample("mailbox_full.eml").replace(
            FULL_ID.encode(), delivery.message_id.hex.encode()
        )
        outcomes += process_incoming([verp(delivery.message_id.hex)], report)
    return outcomes


def test_two_soft_bounces_do_not_suppress(owner):
    """Below the limit, the address stays mailable and its deliveries stay sent."""
    assert _soft_bounces(owner.tenant, "sophie.lavoie@example.com", 2) == [SOFT_BOUNCE] * 2
    assert suppressed(owner.tenant) == []
    assert set(Delivery.unscoped.values_list("status", flat=True)) == {"sent"}
    assert [kind for _, kind, _ in bounce_rows()] == ["soft", "soft"]


def test_three_soft_bounces_suppress(owner):
    """The third soft bounce within 30 days suppresses the address."""
    _soft_bounces(owner.tenant, "sophie.lavoie@example.com", 3)
    assert suppressed(owner.tenant) == [("sophie.lavoie@example.com", "bounced")]


def test_the_soft_bounce_limit_is_a_setting(owner, settings):
    """SOFT_BOUNCE_LIMIT sets how many soft bounces suppress."""
    settings.SOFT_BOUNCE_LIMIT = 2
    _soft_bounces(owner.tenant, "sophie.lavoie@example.com", 2)
    assert suppressed(owner.tenant) == [("sophie.lavoie@example.com", "bounced")]


def test_soft_bounces_older_than_30_days_do_not_count(owner):
    """Two old soft bounces and one new one do not suppress."""
    with time_machine.travel(timezone.now() - timedelta(days=31)):
        _soft_bounces(owner.tenant, "sophie.lavoie@example.com", 2)
    _soft_bounces(owner.tenant, "sophie.lavoie@example.com", 1)
    assert suppressed(owner.tenant) == []


def test_one_message_reported_three_times_is_one_soft_bounce(owner):
    """Soft bounces count messages, not reports."""
    delivery = make_delivery(owner.tenant, "sophie.lavoie@example.com", message_id=FULL_ID)
    for _ in range(3):
        process_incoming([verp(delivery.message_id.hex)], sample("mailbox_full.eml"))
    assert suppressed(owner.tenant) == []
    assert len(bounce_rows()) == 1


def test_soft_bounces_count_per_organisation(owner, make_client_user):
    """Another organisation's soft bounces of the same address do not add up with these."""
    other = make_client_user()
    _soft_bounces(other.tenant, "sophie.lavoie@example.com", 2)
    _soft_bounces(owner.tenant, "sophie.lavoie@example.com", 2)
    assert suppressed(owner.tenant) == suppressed(other.tenant) == []


def test_a_delay_warning_changes_nothing(owner):
    """A delayed-mail notice is accepted and ignored."""
    make_delivery(owner.tenant, "luc.bergeron@example.com", message_id=DELAYED_ID)
    before = (snapshot(), bounce_rows())
    assert process_incoming([verp(DELAYED_ID)], sample("postfix_delayed.eml")) == [IGNORED]
    assert (snapshot(), bounce_rows()) == before


def test_an_auto_reply_to_the_return_path_changes_nothing(owner):
    """An out-of-office reply is no bounce."""
    make_delivery(owner.tenant, "louise.roy@example.com", message_id=POSTFIX_ID)
    before = (snapshot(), bounce_rows())
    assert process_incoming([verp(POSTFIX_ID)], sample("out_of_office.eml")) == [IGNORED]
    assert (snapshot(), bounce_rows()) == before


def test_an_arf_complaint_suppresses(owner):
    """A complaint from a feedback loop, sent to its own address, suppresses the address."""
    delivery = make_delivery(owner.tenant, "louise.roy@example.com", message_id=ARF_ID)
    assert process_incoming([f"fbl@{DOMAIN}"], sample("arf_abuse.eml")) == [COMPLAINT]
    assert suppressed(owner.tenant) == [("louise.roy@example.com", "complained")]
    assert bounce_rows() == [("louise.roy@example.com", "complaint", "abuse")]
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT


def test_a_not_spam_report_changes_nothing(owner):
    """Feedback-Type: not-spam is no complaint."""
    make_delivery(owner.tenant, "louise.roy@example.com", message_id=ARF_ID)
    report = sample("arf_abuse.eml").replace(b"Feedback-Type: abuse", b"Feedback-Type: not-spam")
    before = (snapshot(), bounce_rows())
    assert process_incoming([f"fbl@{DOMAIN}"], report) == [IGNORED]
    assert (snapshot(), bounce_rows()) == before


def test_a_mail_to_the_unsubscribe_address_unsubscribes(owner):
    """The mailto of List-Unsubscribe unsubscribes and suppresses, whatever the message says."""
    make_delivery(owner.tenant, "louise.roy@example.com", lists=["News"], message_id=ARF_ID)
    message = b"From: louise.roy@example.com\r\nSubject: unsubscribe\r\n\r\n"
    assert process_incoming([f"unsubscribe+{ARF_ID}@{DOMAIN}"], message) == [UNSUBSCRIBE]
    assert statuses(owner.tenant) == {"News": "unsubscribed"}
    assert suppressed(owner.tenant) == [("louise.roy@example.com", "unsubscribed")]


@pytest.mark.parametrize(
    ("recipient", "outcomes"),
    [
        (f"bounce+{'0' * 32}@{DOMAIN}", [UNKNOWN]),
        (f"unsubscribe+{'0' * 32}@{DOMAIN}", [UNKNOWN]),
        (f"bounce+not-an-id@{DOMAIN}", [UNKNOWN]),
        (f"bounce+{POSTFIX_ID}@example.com", []),
    ],
)
def test_unknown_or_forged_ids_change_nothing(owner, recipient, outcomes):
    """An id that names no delivery, or another domain, acts on nothing."""
    make_delivery(owner.tenant, "jean.tremblay@example.com", message_id=POSTFIX_ID)
    report = sample("postfix_user_unknown.eml").replace(POSTFIX_ID.encode(), b"0" * 32)
    before = (snapshot(), bounce_rows())
    assert process_incoming([recipient], report) == outcomes
    assert (snapshot(), bounce_rows()) == before


def test_a_report_naming_no_delivery_of_ours_changes_nothing(owner):
    """A report sent to postmaster@ that quotes no message id of ours is unknown."""
    make_delivery(owner.tenant, "m.gagnon@example.com", message_id=EXCHANGE_ID)
    report = sample("exchange_recipient_not_found.eml").replace(EXCHANGE_ID.encode(), b"f" * 32)
    before = (snapshot(), bounce_rows())
    assert process_incoming([f"postmaster@{DOMAIN}"], report) == [UNKNOWN]
    assert (snapshot(), bounce_rows()) == before


def test_soft_bounce_count_uses_the_lower_cased_address(owner):
    """Addresses are counted whatever their case."""
    _soft_bounces(owner.tenant, "Sophie.Lavoie@example.com", 1)
    _soft_bounces(owner.tenant, "sophie.lavoie@example.com", 1)
    assert bounces.soft_bounce_count(owner.tenant.pk, "SOPHIE.LAVOIE@example.com") == 2
