"""Counting opens and clicks without surveillance: signed links, a pixel, and nothing about the reader.

An organisation turns counting on (off by default: Law 25 treats it as a tracking technology, and
the footer announces it when on), and separately per-recipient counting. A campaign snapshots the
mode at launch (`Campaign.tracking`).

When a campaign counts, its messages carry an open pixel and each of its http(s) links leads through
a click redirect. The links are rewritten once per campaign, in the template's source before it is
compiled (see `CompiledCampaign`): only a link written as it is in the HTML is tracked, never one
whose address is built per recipient (that address could name them), nor the unsubscribe and
preference links (added with the footer after rendering), nor mailto:. Per message, one signature of
the message id is put in place of a marker in per-recipient mode; nothing in aggregate mode.

A click token signs the link's id (and, in per-recipient mode only, the delivery's message id, with a
signature of its own); the redirect goes only to the address stored for that link, so a token cannot
be turned into an open redirect. An open token signs the campaign's id the same way.
"""

import html as html_module
import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from infolettre.accounts.errors import InvalidLink

from .footer import AGGREGATE_TRACKING, NO_TRACKING, PER_RECIPIENT_TRACKING
from .models import CampaignLink, TrackingSettings
from .templating import split_source

LINK_SALT = "infolettre.campaigns.tracking.link"
OPEN_SALT = "infolettre.campaigns.tracking.open"
RECIPIENT_SALT = "infolettre.campaigns.tracking.recipient"
MAX_URL_CHARS = 2000
_MESSAGE_ID = re.compile(r"[0-9a-f]{32}")


# The organisation's switches -----------------------------------------------------------------


def tracking_settings(tenant):
    """The organisation's switches (both off when it never set them)."""
    return TrackingSettings.unscoped.filter(tenant_id=tenant.pk).first() or TrackingSettings(
        tenant=tenant
    )


def mode_of(switches):
    if not switches.count_opens_and_clicks:
        return NO_TRACKING
    return PER_RECIPIENT_TRACKING if switches.per_recipient else AGGREGATE_TRACKING


def current_mode(tenant):
    """What a campaign launched now would count: NO_TRACKING, AGGREGATE_ or PER_RECIPIENT_TRACKING."""
    return mode_of(tracking_settings(tenant))


# Tokens --------------------------------------------------------------------------------------


def _sign(salt, value):
    return signing.Signer(salt=salt).sign(str(value))


def _unsign(salt, signed):
    try:
        return signing.Signer(salt=salt).unsign(signed)
    except signing.BadSignature:
        raise InvalidLink(_("This link is damaged.")) from None


def recipient_part(delivery):
    return _sign(RECIPIENT_SALT, delivery.message_id.hex)


@dataclass(frozen=True)
class TokenParts:
    object_id: int
    message_id: str  # 32 hex digits, or "" when the token names no recipient


def read_token(salt, token):
    """The id a click or open token names, and its message id if any; InvalidLink if altered."""
    first, dot, rest = token.partition(".")
    raw_id = _unsign(salt, first)
    if not raw_id.isdigit():
        raise InvalidLink(_("This link is damaged."))
    message_id = ""
    if dot:
        message_id = _unsign(RECIPIENT_SALT, rest)
        if not _MESSAGE_ID.fullmatch(message_id):
            raise InvalidLink(_("This link is damaged."))
    return TokenParts(int(raw_id), message_id)


# Rewriting a campaign's links once -----------------------------------------------------------

# In the template's source with every Jinja construct stood in for by \x00n\x01: an HTML comment,
# a <style> or <script> element (left alone), or the start tag of a link.
_LINK_TAG = re.compile(
    r"<!--.*?-->|<(style|script)\b.*?</\1\s*>|(<a\s[^>]*>)", re.IGNORECASE | re.DOTALL
)
_HREF = re.compile(r"""(\shref\s*=\s*)(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""", re.IGNORECASE)
_STAND_IN = re.compile(r"\x00(\d+)\x01")


def _standing_in(source):
    """The source with its constructs stood in for, and the constructs; None if it cannot be read."""
    if "\x00" in source or "\x01" in source:
        return None
    split = split_source(source)
    if split is None:
        return None
    parts, constructs = [], []
    for piece in split[0]:
        if piece.kind == "data":
            parts.append(piece.text)
        else:
            parts.append(f"\x00{len(constructs)}\x01")
            constructs.append(piece.text)
    return "".join(parts), constructs


def trackable(url):
    """Whether a link's address may lead through the click redirect."""
    parts = urlsplit(url)
    return (
        parts.scheme.lower() in ("http", "https")
        and bool(parts.netloc)
        and len(url) <= MAX_URL_CHARS
        and not url.startswith(settings.SITE_URL + "/")
    )


def _static_href(match):
    """The address of a link's href when it is written out in full, else None."""
    value = match[2] if match[2] is not None else match[3] if match[3] is not None else match[4]
    if "\x00" in value:
        return None  # built per recipient
    url = html_module.unescape(value).strip()
    return url if trackable(url) else None


def _each_link(stood_in, replace):
    def tag(match):
        if match[2] is None:
            return match[0]
        href = _HREF.search(match[2])
        if href is None:
            return match[0]
        url = _static_href(href)
        if url is None:
            return match[0]
        new = replace(url)
        if new is None:
            return match[0]
        start, end = href.span()
        return match[2][:start] + f'{href[1]}"{html_module.escape(new)}"' + match[2][end:]

    return _LINK_TAG.sub(tag, stood_in)


def links_in(source):
    """The distinct trackable addresses a template links to, in order of first appearance."""
    read = _standing_in(source)
    if read is None:
        return []
    found = {}

    def note(url):
        found.setdefault(url, None)
        return None

    _each_link(read[0], note)
    return list(found)


def rewrite_links(source, new_addresses):
    """The source with each link whose address is a key of `new_addresses` leading to its value."""
    read = _standing_in(source)
    if read is None:
        return source
    stood_in, constructs = read
    rewritten = _each_link(stood_in, new_addresses.get)
    return _STAND_IN.sub(lambda m: constructs[int(m[1])], rewritten)


def ensure_links(campaign, urls):
    """{url: link id} for the campaign's links, recording those not yet known; safe to run twice."""
    if not urls:
        return {}
    CampaignLink.unscoped.bulk_create(
        [CampaignLink(tenant_id=campaign.tenant_id, campaign=campaign, url=url) for url in urls],
        ignore_conflicts=True,
    )
    return dict(
        CampaignLink.unscoped.filter(campaign=campaign, url__in=urls).values_list("url", "pk")
    )


class Tracker:
    """What the messages of a counting campaign carry, prepared once for all of them."""

    def __init__(self, campaign):
        self.campaign = campaign
        self.per_recipient = campaign.tracking == PER_RECIPIENT_TRACKING
        # Letters and digits only: stands for ".<signed message id>" until each message is built.
        self.marker = f"R{secrets.token_hex(6)}CPT" if self.per_recipient else ""
        self.click_prefix = settings.SITE_URL + reverse("campaigns:track_click", args=["T"])[:-2]
        open_url = settings.SITE_URL + reverse(
            "campaigns:track_open", args=[_sign(OPEN_SALT, campaign.pk)]
        )
        self.open_before, _, self.open_after = open_url.rpartition(".gif")
        self.open_after = ".gif" + self.open_after

    def click_url(self, link_id):
        return f"{self.click_prefix}{_sign(LINK_SALT, link_id)}{self.marker}/"

    def prepare(self, source):
        """The template's source with its links leading through the click redirect."""
        links = ensure_links(self.campaign, links_in(source))
        return rewrite_links(source, {url: self.click_url(pk) for url, pk in links.items()})

    def finish(self, html, text, delivery):
        """Name the recipient in per-recipient mode, and add the open pixel."""
        recipient = ""
        if self.per_recipient:
            recipient = "." + recipient_part(delivery)
            html = html.replace(self.marker, recipient)
            text = text.replace(self.marker, recipient)
        pixel = (
            f'<img src="{self.open_before}{recipient}{self.open_after}" width="1" height="1" '
            'alt="" style="display:block;width:1px;height:1px;border:0;">'
        )
        at = max(html.rfind("</body>"), html.rfind("</BODY>"))
        html = html + pixel if at < 0 else html[:at] + pixel + html[at:]
        return html, text


def tracker_for(campaign):
    """The campaign's Tracker when it counts opens and clicks, else None."""
    if campaign.tracking in (AGGREGATE_TRACKING, PER_RECIPIENT_TRACKING):
        return Tracker(campaign)
    return None
