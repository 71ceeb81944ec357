"""Changes of state of open and click counting: the organisation's switches, and each counted hit.

A hit keeps only what the counts need: the hour, whether a person or a machine made it, and (in
per-recipient mode only) when that recipient first opened or clicked. The IP address and the user
agent are read to tell machines apart and are never stored, nor logged.
"""

import ipaddress
import logging
import uuid
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from infolettre.accounts.errors import InvalidLink, OwnerRequired
from infolettre.audience.actions import do_mark_engaged

from .footer import PER_RECIPIENT_TRACKING
from .models import (
    Campaign,
    CampaignLink,
    ClickCount,
    Delivery,
    DeliveryEngagement,
    OpenCount,
    TrackingSettings,
)
from .tracking import LINK_SALT, OPEN_SALT, read_token

logger = logging.getLogger(__name__)

# Who fetches a pixel or follows a link without a person behind it: mail-privacy proxies that load
# every image when a message arrives, security gateways that open every link to scan it, and
# programs. Lower-case pieces of the User-Agent header; one entry per line, so that adding one is
# one line. Each is matched anywhere in the header.
MACHINE_AGENTS = (
    # Mail providers' image proxies (fetch the pixel on delivery, or once for many readers)
    "googleimageproxy",
    "ggpht.com",
    "yahoomailproxy",
    "ymailproxy",
    "apple-mail-privacy",
    # Link and attachment scanners of mail security gateways
    "safelinks",
    "protection.outlook.com",
    "microsoft office existence discovery",
    "ms-office-preview",
    "defender",
    "bingpreview",
    "barracuda",
    "proofpoint",
    "ppops",
    "mimecast",
    "symantec",
    "broadcom",
    "messagelabs",
    "trendmicro",
    "sophos",
    "fortiguard",
    "forcepoint",
    "ironport",
    "zscaler",
    # Generic robots and programs
    "bot",
    "crawler",
    "spider",
    "scanner",
    "headless",
    "python-requests",
    "python-urllib",
    "aiohttp",
    "httpx",
    "curl/",
    "wget/",
    "go-http-client",
    "java/",
    "okhttp",
    "libwww",
    "httpclient",
)
# Apple Mail Privacy Protection loads every image of a message through Apple's own network (17/8),
# with a bare browser user agent: the address is read to tell, and never kept.
APPLE_PROXY_NETWORK = ipaddress.ip_network("17.0.0.0/8")
BARE_AGENTS = frozenset(("", "mozilla/5.0"))
# A person does not read a message and click in it this soon after it left; a scanner does.
SCANNER_CLICK_SECONDS = 10


def is_machine(request, delivery=None, *, click=False):
    """Whether a request came from a prefetcher or a scanner rather than a person."""
    if request.method == "HEAD":
        return True
    agent = request.headers.get("User-Agent", "").strip().lower()
    if agent in BARE_AGENTS or any(piece in agent for piece in MACHINE_AGENTS):
        return True
    try:
        if ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")) in APPLE_PROXY_NETWORK:
            return True
    except ValueError:
        pass
    if click and delivery is not None and delivery.sent_at is not None:
        return timezone.now() - delivery.sent_at < timedelta(seconds=SCANNER_CLICK_SECONDS)
    return False


# The switches --------------------------------------------------------------------------------


def do_set_tracking(user, *, count_opens_and_clicks, per_recipient):
    """Set the organisation's switches; only an owner may. Campaigns already launched keep theirs."""
    if not user.is_owner:
        raise OwnerRequired()
    per_recipient = per_recipient and count_opens_and_clicks
    with transaction.atomic():
        switches, _created = TrackingSettings.unscoped.select_for_update().get_or_create(
            tenant_id=user.tenant_id
        )
        switches.count_opens_and_clicks = count_opens_and_clicks
        switches.per_recipient = per_recipient
        switches.updated_at = timezone.now()
        switches.save()
    logger.info(
        "Tracking of tenant %s set to counting=%s per_recipient=%s",
        user.tenant_id,
        count_opens_and_clicks,
        per_recipient,
    )
    return switches


# Reading a hit -------------------------------------------------------------------------------


def _delivery(campaign, message_id):
    """The delivery a token names, in per-recipient mode only; one of another campaign is refused."""
    if not message_id or campaign.tracking != PER_RECIPIENT_TRACKING:
        return None
    delivery = (
        Delivery.unscoped.filter(message_id=uuid.UUID(message_id))
        .only("pk", "tenant_id", "campaign_id", "contact_id", "sent_at")
        .first()
    )
    if delivery is None or delivery.campaign_id != campaign.pk:
        raise InvalidLink()
    return delivery


def read_click(token):
    """(link, delivery or None) of a click token; InvalidLink when altered or unknown."""
    parts = read_token(LINK_SALT, token)
    link = CampaignLink.unscoped.select_related("campaign").filter(pk=parts.object_id).first()
    if link is None:
        raise InvalidLink()
    return link, _delivery(link.campaign, parts.message_id)


def read_open(token):
    """(campaign, delivery or None) of an open token; InvalidLink when altered or unknown."""
    parts = read_token(OPEN_SALT, token)
    campaign = Campaign.unscoped.filter(pk=parts.object_id).first()
    if campaign is None:
        raise InvalidLink()
    return campaign, _delivery(campaign, parts.message_id)


# Counting ------------------------------------------------------------------------------------


def _hour(now):
    return now.replace(minute=0, second=0, microsecond=0)


def _add_one(model, key_columns, values, machine):
    """Add one to the people or machines count of a row, creating it: one statement, exact when
    hits arrive at the same time (INSERT … ON CONFLICT, on SQLite and PostgreSQL alike)."""
    table = connection.ops.quote_name(model._meta.db_table)
    values = {**values, "people": 0 if machine else 1, "machines": 1 if machine else 0}
    columns = list(values)
    params = [
        model._meta.get_field(name).get_db_prep_value(value, connection)
        for name, value in values.items()
    ]
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))}) "  # noqa: S608
        f"ON CONFLICT ({', '.join(key_columns)}) DO UPDATE SET "
        f"people = {table}.people + excluded.people, "
        f"machines = {table}.machines + excluded.machines"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _first_time(delivery, field, now):
    """Record a recipient's first open or click, and that the contact engaged (segments read it)."""
    other = "first_clicked_at" if field == "first_opened_at" else "first_opened_at"
    table = connection.ops.quote_name(DeliveryEngagement._meta.db_table)
    prepared = DeliveryEngagement._meta.get_field(field).get_db_prep_value(now, connection)
    sql = (
        f"INSERT INTO {table} (tenant_id, delivery_id, campaign_id, {field}, {other}) "  # noqa: S608
        "VALUES (%s, %s, %s, %s, NULL) "
        f"ON CONFLICT (delivery_id) DO UPDATE SET {field} = "
        f"COALESCE({table}.{field}, excluded.{field})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [delivery.tenant_id, delivery.pk, delivery.campaign_id, prepared])
    if delivery.contact_id is not None:
        do_mark_engaged([delivery.contact_id], now)


@transaction.atomic
def do_record_open(campaign, delivery, *, machine):
    """Count one open of a campaign; a person's also marks the recipient's first open."""
    now = timezone.now()
    _add_one(
        OpenCount,
        ("campaign_id", "hour"),
        {"tenant_id": campaign.tenant_id, "campaign_id": campaign.pk, "hour": _hour(now)},
        machine,
    )
    if delivery is not None and not machine:
        _first_time(delivery, "first_opened_at", now)


@transaction.atomic
def do_record_click(link, delivery, *, machine):
    """Count one click on a link; a person's also marks the recipient's first click."""
    now = timezone.now()
    _add_one(
        ClickCount,
        ("link_id", "hour"),
        {
            "tenant_id": link.tenant_id,
            "campaign_id": link.campaign_id,
            "link_id": link.pk,
            "hour": _hour(now),
        },
        machine,
    )
    if delivery is not None and not machine:
        _first_time(delivery, "first_clicked_at", now)
