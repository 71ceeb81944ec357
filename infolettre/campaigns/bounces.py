"""Mail that comes back: delivery status notifications, complaints and mailto unsubscribes.

Every campaign message leaves with a return path of its own (VERP: bounce+<message id>@BOUNCE_DOMAIN)
and a mailto unsubscribe address (unsubscribe+<message id>@BOUNCE_DOMAIN). What the bounce server
receives at those addresses is read here:

- a delivery status notification (RFC 3464, multipart/report; report-type=delivery-status): a
  permanent failure that says the address cannot receive mail (hard bounce) suppresses it at once;
  other failures (mailbox full, message refused, gave up retrying) count as soft bounces, and
  SOFT_BOUNCE_LIMIT of them for one address within SOFT_BOUNCE_DAYS suppress it too; delays,
  deliveries and relays change nothing;
- a complaint (ARF, RFC 5965, report-type=feedback-report) suppresses the address;
- any message to the mailto unsubscribe address unsubscribes the recipient.

The message id names the delivery; the address suppressed is always the delivery's, never one read
from the report, so a forged report can at most act on a message its sender has seen. Addresses
and message content never reach the logs.
"""

import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from email.parser import BytesParser, HeaderParser
from email.policy import default as default_policy

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from infolettre.accounts.tenancy import tenant_scope
from infolettre.audience.actions import do_suppress
from infolettre.audience.models import SuppressionReason
from infolettre.webhooks import events as webhook_events

from .models import Bounce, BounceKind, Delivery, DeliveryStatus
from .unsubscribe import MAILTO, delivery_for_message_id, do_unsubscribe_recipient

logger = logging.getLogger(__name__)

SOFT_BOUNCE_DAYS = 30

# What a report is.
DELIVERY_STATUS = "delivery-status"
FEEDBACK = "feedback-report"
OTHER = "other"

# What process_incoming did with one message (counted in the logs).
HARD_BOUNCE = "hard_bounce"
SOFT_BOUNCE = "soft_bounce"
COMPLAINT = "complaint"
UNSUBSCRIBE = "unsubscribe"
IGNORED = "ignored"
UNKNOWN = "unknown"

# Feedback types that are a person's complaint; not-spam and authentication reports are not.
COMPLAINT_TYPES = {"abuse", "fraud", "virus", "other"}

ENHANCED_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
SMTP_REPLY = re.compile(r"\b([245])\d\d\b")
# Headers of the original message that may carry its message id.
ORIGINAL_HEADERS = ("Message-ID", "Return-Path", "List-Unsubscribe", "X-Original-Message-ID")
FEEDBACK_HEADERS = ("Original-Mail-From", "Original-Envelope-Id")


@dataclass(frozen=True)
class RecipientStatus:
    """One per-recipient block of a delivery status notification."""

    action: str  # failed, delayed, delivered, relayed, expanded (lower case)
    status: str  # the enhanced status code, 5.1.1; empty when none could be read
    final_recipient: str
    diagnostic: str

    @property
    def kind(self):
        """A hard or a soft bounce, or None when the block reports no failure."""
        if self.action != "failed":
            return None
        if self.status.startswith("5.") and _address_cannot_receive(self.status):
            return BounceKind.HARD
        return BounceKind.SOFT


@dataclass(frozen=True)
class Report:
    report_type: str
    recipients: tuple = ()
    feedback_type: str = ""
    # Our message ids (hex) found in the original message's headers, in order of trust.
    message_ids: tuple = ()

    def worst_failure(self):
        """The recipient block that weighs most: a hard bounce, else a soft one, else None."""
        failures = [r for r in self.recipients if r.kind is not None]
        failures.sort(key=lambda r: r.kind != BounceKind.HARD)
        return failures[0] if failures else None


def _address_cannot_receive(status):
    """Permanent failures about the address itself, not about this message or our reputation.

    5.1.x: bad mailbox, bad domain, moved, no MX; 5.2.1: mailbox disabled; 5.4.4: no route to the
    domain; 5.0.0: a plain 5xx refusal that gave no detail (what most servers answer to an unknown
    user). A full mailbox (5.2.2), a refused message (5.6.x) or a policy block (5.7.x) is a soft
    bounce: the address may well work for the next message.
    """
    return status.startswith("5.1.") or status in {"5.2.1", "5.4.4", "5.0.0"}


def _one_line(value, limit=300):
    return " ".join(str(value or "").replace("\x00", "").split())[:limit]


def _blocks(part):
    """The header blocks of a message/delivery-status or message/feedback-report part."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return payload
    text = (part.get_payload(decode=True) or b"").decode("utf-8", "replace")
    return [HeaderParser().parsestr(chunk) for chunk in re.split(r"\r?\n\s*\r?\n", text.strip())]


def _recipient_status(block):
    status = ENHANCED_STATUS.search(str(block.get("Status", "")))
    diagnostic = _one_line(block.get("Diagnostic-Code", ""))
    if status is None:  # some servers give the code only in the diagnostic
        status = ENHANCED_STATUS.search(diagnostic)
    code = ".".join(status.groups()) if status else ""
    action = str(block.get("Action", "")).strip().lower()
    if not action and code:
        action = "failed" if code[0] in "45" else "delivered"
    if not code and action == "failed":
        reply = SMTP_REPLY.search(diagnostic)
        code = f"{reply.group(1)}.0.0" if reply else ""
    final = str(block.get("Final-Recipient", "")).partition(";")[2].strip()
    return RecipientStatus(action=action, status=code, final_recipient=final, diagnostic=diagnostic)


def _original_headers(part):
    if part.get_content_type() == "message/rfc822":
        payload = part.get_payload()
        return payload[0] if payload else None
    text = (part.get_payload(decode=True) or b"").decode("utf-8", "replace")
    return HeaderParser().parsestr(text, headersonly=True)


def _our_ids(values):
    domain = re.escape(settings.BOUNCE_DOMAIN)
    pattern = re.compile(rf"(?:\bbounce\+|\bunsubscribe\+|<)([0-9a-f]{{32}})@{domain}\b", re.I)
    found = []
    for value in values:
        found.extend(m.group(1).lower() for m in pattern.finditer(str(value or "")))
    return tuple(dict.fromkeys(found))


def parse_report(message_bytes):
    """Read a DSN or an ARF report; anything else (an auto-reply, a broken message) is OTHER."""
    try:
        message = BytesParser(policy=default_policy).parsebytes(message_bytes)
        if message.get_content_type() != "multipart/report":
            return Report(OTHER)
        report_type = str(message.get_param("report-type", "")).lower()
        recipients, feedback_type, original, feedback_fields = [], "", None, []
        for part in message.iter_parts():
            content_type = part.get_content_type()
            if content_type == "message/delivery-status":
                # The first block is about the message; the others are one per recipient.
                recipients = [_recipient_status(b) for b in _blocks(part)[1:]]
            elif content_type == "message/feedback-report":
                fields = next(iter(_blocks(part)), {})
                feedback_type = str(fields.get("Feedback-Type", "")).strip().lower()
                feedback_fields = [fields.get(name, "") for name in FEEDBACK_HEADERS]
            elif content_type in ("message/rfc822", "text/rfc822-headers"):
                original = _original_headers(part)
        original_values = [original.get(h, "") for h in ORIGINAL_HEADERS] if original else []
        ids = _our_ids(feedback_fields + original_values)
        if report_type == DELIVERY_STATUS:
            return Report(DELIVERY_STATUS, recipients=tuple(recipients), message_ids=ids)
        if report_type == FEEDBACK:
            return Report(FEEDBACK, feedback_type=feedback_type, message_ids=ids)
        return Report(OTHER, message_ids=ids)
    except (ValueError, TypeError, LookupError, AttributeError, IndexError):
        # Mail from anywhere on the internet: a message we cannot read is not a report.
        return Report(OTHER)


def parse_address(address):
    """(role, message id) of an address at BOUNCE_DOMAIN; role is bounce, unsubscribe or other.

    None for an address of another domain.
    """
    local, _at, domain = address.strip().strip("<>").rpartition("@")
    if domain.lower() != settings.BOUNCE_DOMAIN.lower():
        return None
    role, _plus, tag = local.lower().partition("+")
    if role in ("bounce", "unsubscribe") and re.fullmatch(r"[0-9a-f]{32}", tag):
        return role, tag
    return "other", None


# Actions.


def _record(delivery, kind, status, diagnostic):
    """The bounce row of this delivery and kind, and whether it is new (a report sent twice is not)."""
    return Bounce.unscoped.get_or_create(
        delivery=delivery,
        kind=kind,
        defaults={
            "tenant_id": delivery.tenant_id,
            "email": delivery.email.strip().lower(),
            "status": status[:32],
            "diagnostic": diagnostic[:300],
        },
    )


def soft_bounce_limit():
    """How many soft bounces within SOFT_BOUNCE_DAYS suppress an address."""
    return getattr(settings, "SOFT_BOUNCE_LIMIT", 3)


def soft_bounce_count(tenant_id, email):
    """Soft bounces of an address within SOFT_BOUNCE_DAYS, one per message at most."""
    since = timezone.now() - timedelta(days=SOFT_BOUNCE_DAYS)
    return Bounce.unscoped.filter(
        tenant_id=tenant_id,
        email=email.strip().lower(),
        kind=BounceKind.SOFT,
        received_at__gte=since,
    ).count()


def do_record_bounce(delivery, kind, *, status="", diagnostic=""):
    """Record a bounce of one delivery; suppress the address on a hard one or too many soft ones."""
    with tenant_scope(delivery.tenant), transaction.atomic():
        bounce, created = _record(delivery, kind, status, diagnostic)
        if not created:
            return bounce
        webhook_events.emit_bounce(bounce)
        if kind == BounceKind.HARD:
            Delivery.unscoped.filter(pk=delivery.pk, status=DeliveryStatus.SENT).update(
                status=DeliveryStatus.BOUNCED, error=f"{status} {diagnostic}".strip()[:300]
            )
            do_suppress(delivery.tenant, delivery.email, SuppressionReason.BOUNCED)
        elif soft_bounce_count(delivery.tenant_id, delivery.email) >= soft_bounce_limit():
            do_suppress(delivery.tenant, delivery.email, SuppressionReason.BOUNCED)
    return bounce


def do_record_complaint(delivery, feedback_type):
    """Record a recipient's complaint and never mail the address again for this client."""
    with tenant_scope(delivery.tenant), transaction.atomic():
        bounce, _created = _record(delivery, BounceKind.COMPLAINT, feedback_type, "")
        webhook_events.emit_complaint(bounce)
        do_suppress(delivery.tenant, delivery.email, SuppressionReason.COMPLAINED)
    return bounce


def apply_report(report, message_id):
    """Act on a parsed report about the delivery of `message_id`; return what was done."""
    if report.report_type == OTHER:
        return IGNORED
    delivery = delivery_for_message_id(message_id)
    if delivery is None:
        return UNKNOWN
    if report.report_type == FEEDBACK:
        if report.feedback_type not in COMPLAINT_TYPES:
            return IGNORED
        do_record_complaint(delivery, report.feedback_type)
        return COMPLAINT
    failure = report.worst_failure()
    if failure is None:
        return IGNORED
    do_record_bounce(delivery, failure.kind, status=failure.status, diagnostic=failure.diagnostic)
    return HARD_BOUNCE if failure.kind == BounceKind.HARD else SOFT_BOUNCE


def process_incoming(envelope_recipients, message_bytes):
    """Act on one message received by the bounce server; return what was done, one entry per act.

    The envelope recipient names the delivery (VERP); a report sent to another address of the
    bounce domain (a feedback loop's, postmaster) is matched by the ids in the original's headers.
    """
    outcomes, report_ids, report_elsewhere = [], [], False
    for address in envelope_recipients:
        parsed = parse_address(address)
        if parsed is None:
            continue
        role, message_id = parsed
        if role == "unsubscribe":
            delivery = delivery_for_message_id(message_id)
            if delivery is None:
                outcomes.append(UNKNOWN)
            else:
                do_unsubscribe_recipient(delivery, source=MAILTO)
                outcomes.append(UNSUBSCRIBE)
        elif role == "bounce":
            report_ids.append(message_id)
        else:
            report_elsewhere = True
    if report_ids or report_elsewhere:
        report = parse_report(message_bytes)
        ids = report_ids or list(report.message_ids[:1])
        if not ids:
            outcomes.append(IGNORED if report.report_type == OTHER else UNKNOWN)
        for message_id in dict.fromkeys(ids):
            outcomes.append(apply_report(report, message_id))
    return outcomes
