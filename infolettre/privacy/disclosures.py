"""The disclosure log: what personal information left for a processor or a partner, when and why.

Every transport writes it from its one send path (messaging.transports.Transport.send), and the
operator's own messages from messaging.email.send_email. Our own mail relay on this machine is not a
third party: handing it a message discloses nothing (see `processor_for_url`).
"""

import logging
from urllib.parse import urlsplit

from django.apps import apps
from django.conf import settings
from django.db.models import Q
from django.utils.module_loading import import_string

from .declaration import CONTACT, CONTENT, declared_model
from .models import Disclosure, DisclosureKind
from .pseudonymise import keyed_hash

logger = logging.getLogger(__name__)

# What a campaign message carries: the address, and what the client's template merges in (the
# name, the attributes).
CAMPAIGN_CATEGORIES = (CONTACT.code, CONTENT.code)
# What an operator message carries: the address and the name of the person.
MESSAGE_CATEGORIES = (CONTACT.code,)

# An email delivery provider offers no way to correct what it logged of messages already sent: it
# keeps delivery logs (address, date, outcome) for its own period and nothing else of the person.
DELIVERY_LOGS_ONLY = (
    "Nothing to correct at the processor: an email delivery provider holds nothing of the person "
    "beyond its delivery logs of messages already sent, which it keeps for its own period and "
    "offers no way to change. Later messages carry the corrected data."
)


def subject_hash(email):
    """The keyed hash that ties a disclosure row to one person without naming them."""
    return keyed_hash(email.strip().lower(), "disclosure")


def processor_for_url(url):
    """The processor a transport URL hands messages to; "" when nothing leaves our hands.

    A host listed in LOCAL_MAIL_HOSTS is our own relay, run by the operator on its own machines: it
    passes the message straight to the recipient's own mailbox provider, which the recipient chose,
    so no processor of ours receives anything. memory://, locmem and console keep messages in the
    process. PROCESSOR_NAMES gives a readable name by host, "mailer:<alias>" or scheme.
    """
    parts = urlsplit(url)
    names = settings.PROCESSOR_NAMES
    if parts.scheme == "mailer":
        return processor_for_mailer(parts.hostname or "campaigns")
    if parts.scheme in ("smtp", "smtp+tls", "smtps"):
        return _processor_for_host(parts.hostname or "127.0.0.1")
    return names.get(parts.scheme, "")


def processor_for_mailer(alias):
    """The processor behind a Django mailer of MAILERS (an SMTP host or a provider's backend)."""
    names = settings.PROCESSOR_NAMES
    if f"mailer:{alias}" in names:
        return names[f"mailer:{alias}"]
    mailer = settings.MAILERS.get(alias, {})
    backend = mailer.get("BACKEND", "")
    if backend.endswith("smtp.EmailBackend"):
        return _processor_for_host(mailer.get("OPTIONS", {}).get("host") or "localhost")
    if backend.startswith("anymail.backends."):
        # anymail.backends.<provider>.EmailBackend: the provider's own API.
        return backend.split(".")[2]
    return ""


def _processor_for_host(host):
    names = settings.PROCESSOR_NAMES
    if host in names:
        return names[host]
    if host in settings.LOCAL_MAIL_HOSTS:
        return ""
    return host


def record_disclosure(
    *,
    recipient,
    categories,
    purpose,
    reason,
    tenant_id=None,
    campaign_id=None,
    email=None,
    first_delivery_id=None,
    kind=DisclosureKind.TRANSFER,
    outcome="",
):
    """Append one row to the log; `email` ties it to one person (kept as a keyed hash only)."""
    return Disclosure.objects.create(
        kind=kind,
        recipient=recipient,
        categories=list(categories),
        purpose=purpose,
        reason=reason[:100],
        tenant_id=tenant_id,
        campaign_id=campaign_id,
        subject_hash=subject_hash(email) if email else "",
        first_delivery_id=first_delivery_id,
        outcome=outcome,
    )


# The purpose an operator message serves, by messaging.email.MessageKind.
MESSAGE_PURPOSES = {
    "welcome": "account",
    "account": "account",
    "service_notice": "service_notices",
    "daily_report": "service_notices",
    "promotional": "newsletter",
}


def disclose_operator_message(kind, to, mailer="default"):
    """Log an operator message to one person when the mailer hands it to a processor."""
    processor = processor_for_mailer(mailer)
    if processor:
        record_disclosure(
            recipient=processor,
            categories=MESSAGE_CATEGORIES,
            purpose=MESSAGE_PURPOSES.get(str(kind), "service_notices"),
            reason=f"message:{kind}",
            email=to,
        )


def _entry(row, when):
    return {
        "recipient": row.recipient,
        "kind": row.kind,
        "categories": list(row.categories),
        "purpose": row.purpose,
        "when": when,
        "why": row.reason,
        "tenant_id": row.tenant_id,
        "outcome": row.outcome,
    }


def disclosures_for(email, *, tenant_id=None):
    """Every disclosure of the person's data, oldest first, as dicts.

    Keys: recipient (processor or partner), kind ("transfer" or "correction"), categories (codes of
    privacy.declaration categories), purpose (a purpose code), when (a datetime), why ("campaign:<id>",
    "message:<kind>", "correction:<model>"), tenant_id (the client whose campaign it was, or None),
    outcome (what a processor answered to a correction). `tenant_id` keeps one client's share only.
    """
    email = email.strip().lower()
    found = []
    rows = Disclosure.objects.filter(subject_hash=subject_hash(email))
    if tenant_id is not None:
        rows = rows.filter(tenant_id=tenant_id)
    found += [_entry(row, row.occurred_at) for row in rows]
    found += _campaign_disclosures(email, tenant_id)
    found.sort(key=lambda entry: (entry["when"], entry["recipient"]))
    return found


def _campaign_disclosures(email, tenant_id):
    # Campaign mail is logged once per sending session (a row per message would slow sending): the
    # person's share is each of their messages that left, matched to the rows of its campaign
    # written before it left. Should a campaign change transport halfway, both are named: the log
    # errs on the side of saying more.
    Delivery = apps.get_model("campaigns", "Delivery")
    deliveries = Delivery.unscoped.filter(email=email).filter(
        Q(sent_at__isnull=False) | Q(attempts__gt=0)
    )
    if tenant_id is not None:
        deliveries = deliveries.filter(tenant_id=tenant_id)
    deliveries = list(deliveries.values_list("campaign_id", "sent_at"))
    if not deliveries:
        return []
    sessions = {}
    for row in Disclosure.objects.filter(
        kind=DisclosureKind.TRANSFER, campaign_id__in={c for c, _ in deliveries}
    ):
        sessions.setdefault(row.campaign_id, []).append(row)
    found = []
    for campaign_id, sent_at in deliveries:
        by_recipient = {}
        for row in sessions.get(campaign_id, ()):
            if sent_at is None or row.occurred_at <= sent_at:
                by_recipient.setdefault(row.recipient, row)
        found += [_entry(row, sent_at or row.occurred_at) for row in by_recipient.values()]
    return found


def correction_handler(recipient):
    """How a processor hears of a correction: PROCESSOR_CORRECTION_HANDLERS names a function
    (email, categories) -> outcome text for a processor with an API; email providers have none."""
    path = settings.PROCESSOR_CORRECTION_HANDLERS.get(recipient)
    return import_string(path) if path else _delivery_logs_only


def _delivery_logs_only(email, categories):
    return DELIVERY_LOGS_ONLY


def do_pass_on_correction(email, model, fields, *, tenant_id=None):
    """Pass a correction of `fields` of `model` on to each processor that received the person's
    data (per the log); `email` is the address before the correction. Return the rows written."""
    categories = sorted(
        {
            declared_model(model).get(name).category.code
            for name in fields
            if name in {f.name for f in declared_model(model).fields}
        }
    )
    if not categories:
        return []
    received = sorted(
        {
            entry["recipient"]
            for entry in disclosures_for(email, tenant_id=tenant_id)
            if entry["kind"] == DisclosureKind.TRANSFER
        }
    )
    rows = []
    for recipient in received:
        outcome = correction_handler(recipient)(email, categories)
        rows.append(
            record_disclosure(
                kind=DisclosureKind.CORRECTION,
                recipient=recipient,
                categories=categories,
                purpose="privacy_compliance",
                reason=f"correction:{model}",
                tenant_id=tenant_id,
                email=email,
                outcome=outcome,
            )
        )
    if rows:
        logger.info("Correction passed on to %d processors", len(rows))
    return rows
