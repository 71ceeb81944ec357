"""Every change of state of templates, and the test send of a message before it goes out.

A template is checked before it is saved (`check_template`): a syntax error, an unknown name or a
reach for Python internals is refused with its line, and nothing is saved.
"""

import html as html_module
import string
from email.utils import format_datetime, formataddr, make_msgid
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from infolettre.accounts.validation import check_email
from infolettre.errors import InfolettreError, Invalid, Throttled
from infolettre.messaging.transports import SENT, OutgoingMessage, transport_from_url

from .actions import check_tenant_can_send
from .errors import SenderNotVerified
from .footer import footer_html
from .models import Campaign, Template
from .templating import CompiledMessage, SampleContact, check_template

__all__ = [
    "check_template",
    "default_template_html",
    "do_create_template",
    "do_delete_template",
    "do_send_campaign_test",
    "do_send_test",
    "do_update_template",
    "preview_message",
]

DEFAULT_TEMPLATE = Path(__file__).parent / "default_templates" / "basic.html"
MAX_TEST_ADDRESSES = 5
TEST_SUBJECT_PREFIX = "[Test] "


def default_template_html():
    """The default responsive template, its sample words in the active language."""
    words = {
        "language": get_language() or settings.LANGUAGE_CODE,
        "heading": _("The title of your message"),
        "hello": _("Hello"),
        "body": _(
            "Write your message here. Keep it short and say first what matters to the reader."
        ),
        "button": _("Visit our website"),
    }
    source = DEFAULT_TEMPLATE.read_text(encoding="utf-8")
    return string.Template(source).safe_substitute(
        {key: html_module.escape(str(value), quote=False) for key, value in words.items()}
    )


def do_create_template(tenant, *, name, html=None):
    """Save a new template; without HTML it starts as the default template."""
    html = html if html and html.strip() else default_template_html()
    check_template(html, organisation=tenant)
    now = timezone.now()
    return Template.objects.create(
        tenant=tenant, name=name, html=html, created_at=now, updated_at=now
    )


def do_update_template(template, *, name=None, html=None):
    """Change a template's name or HTML; HTML that does not pass the check is not saved."""
    fields = ["updated_at"]
    if html is not None:
        check_template(html, organisation=template.tenant)
        template.html = html
        fields.append("html")
    if name is not None:
        template.name = name
        fields.append("name")
    template.updated_at = timezone.now()
    template.save(update_fields=fields)
    return template


@transaction.atomic
def do_delete_template(template):
    """Delete a template; a draft that used it keeps a copy of its HTML to go on from."""
    Campaign.unscoped.filter(tenant_id=template.tenant_id, template=template, html="").update(
        html=template.html
    )
    template.delete()


def preview_unsubscribe_url():
    """The unsubscribe link of previews and test messages: it names no recipient."""
    return settings.SITE_URL + reverse("campaigns:unsubscribe", args=["test"])


def preview_message(html, subject, tenant, contact=None, tracking=None):
    """(subject, html, text) of a message as `contact` (or a sample contact) would receive it.

    The footer announces the counting of opens and clicks as `tracking` says, by default as the
    organisation's switches stand now; links are not rewritten, so a test counts nothing.
    """
    from .tracking import current_mode

    unsubscribe_url = preview_unsubscribe_url()
    if tracking is None:
        tracking = current_mode(tenant)
    return CompiledMessage(subject, html, tenant).render(
        contact or SampleContact(),
        unsubscribe_url=unsubscribe_url,
        footer_html=footer_html(tenant, unsubscribe_url, tracking=tracking),
    )


def check_test_addresses(addresses):
    """The addresses of a test send, cleaned: at least one, at most five, each a valid address."""
    cleaned = []
    for address in addresses:
        address = str(address).strip()
        if address and address.lower() not in (a.lower() for a in cleaned):
            cleaned.append(address)
    if not cleaned:
        message = _("Give at least one address to send the test to.")
        raise Invalid(message, details=[{"field": "addresses", "message": message}])
    if len(cleaned) > MAX_TEST_ADDRESSES:
        message = _("A test goes to at most %(limit)d addresses; you gave %(count)d.") % {
            "limit": MAX_TEST_ADDRESSES,
            "count": len(cleaned),
        }
        raise Invalid(
            message,
            code="too_many_test_addresses",
            details=[{"field": "addresses", "message": message}],
        )
    checked = []
    for address in cleaned:
        try:
            checked.append(check_email(address))
        except Invalid as error:
            message = f"{address}: {error.message}"
            raise Invalid(message, details=[{"field": "addresses", "message": message}]) from None
    return checked


def _count_test_messages(tenant, count):
    """At most CAMPAIGN_TEST_SENDS_PER_HOUR test messages an hour for one organisation."""
    limit = getattr(settings, "CAMPAIGN_TEST_SENDS_PER_HOUR", 50)
    key = f"campaigns:test-sends:{tenant.pk}"
    cache.add(key, 0, 60 * 60)
    try:
        sent = cache.incr(key, count)
    except ValueError:
        cache.set(key, count, 60 * 60)
        sent = count
    if sent > limit:
        cache.decr(key, count)
        raise Throttled(
            _("You have sent many test messages in the last hour; wait a while and try again."),
            code="test_sends_throttled",
        )


def do_send_test(
    message,
    subject,
    addresses,
    *,
    sender_name=None,
    sender_email=None,
    tenant=None,
    contact=None,
    reply_to=None,
):
    """Send a message, subject marked "[Test]", to at most five addresses; return each outcome.

    `message` is the HTML of a template, or a campaign: then what is not given comes from it (its
    subject, its sender, which must be confirmed, its organisation and reply-to address). It is
    rendered for `contact` (or a sample contact), with the footer and an unsubscribe link that names
    no recipient; nothing is recorded and no contact is mailed.
    """
    if isinstance(message, Campaign):
        campaign = message
        if campaign.sender.verified_at is None:
            raise SenderNotVerified()
        message = campaign.html or (campaign.template.html if campaign.template_id else "")
        subject = campaign.subject if subject is None else subject
        sender_name = sender_name or campaign.sender.name
        sender_email = sender_email or campaign.sender.email
        tenant = tenant or campaign.tenant
        reply_to = campaign.reply_to if reply_to is None else reply_to
    check_tenant_can_send(tenant)
    recipients = check_test_addresses(addresses)
    subject, body, text = preview_message(message, subject or "", tenant, contact)
    _count_test_messages(tenant, len(recipients))
    transport = transport_from_url(settings.CAMPAIGN_TRANSPORT_URL)
    outcomes = []
    try:
        transport.open()
        for recipient in recipients:
            headers = {
                "From": formataddr((sender_name, sender_email)),
                "To": recipient,
                "Subject": TEST_SUBJECT_PREFIX + subject,
                "Date": format_datetime(timezone.now()),
                "Message-ID": make_msgid(domain=settings.BOUNCE_DOMAIN),
            }
            if reply_to:
                headers["Reply-To"] = reply_to
            message = OutgoingMessage(
                envelope_from=f"bounce@{settings.BOUNCE_DOMAIN}",
                recipient=recipient,
                headers=headers,
                text=text,
                html=body,
            )
            result = transport.send(message, lambda: None)
            outcomes.append(
                {
                    "email": recipient,
                    "sent": result.outcome == SENT,
                    "detail": "" if result.outcome == SENT else f"{result.code} {result.detail}",
                }
            )
    except (OSError, EOFError) as error:
        raise InfolettreError(
            _("The mail server could not be reached; no test was sent past this point."),
            code="test_send_failed",
        ) from error
    finally:
        transport.close()
    return outcomes


def do_send_campaign_test(campaign, addresses, *, user=None, contact=None):
    """Send a campaign as it stands to a few addresses, as `do_send_test` does."""
    return do_send_test(
        campaign,
        None,
        addresses,
        contact=contact,
        reply_to=campaign.reply_to or (user.email if user is not None else ""),
    )
