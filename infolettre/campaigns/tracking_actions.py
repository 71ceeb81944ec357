"""Changes of state of open and click counting: the organisation's switches, and each counted hit.

A hit keeps only what the counts need: the hour, whether a person or a machine made it, and (in
per-recipient mode only) when that recipient first opened or clicked. The IP address and the user
agent are read to tell machines apart and are never stored, nor logged.
"""

import contextlib
import ipaddress
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from django.conf import settings
from django.core.cache import cache
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
from .tracking_counters import add_click, add_counts_sql, add_open, counters_client

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
# The click redirect and the pixel answer from the cache (Redis when REDIS_URL is set): a link's
# address never changes once written, and a campaign keeps the mode of its launch. A miss reads the
# table once and fills the cache; an id no longer in the tables (a deleted campaign) is remembered
# as unknown for as long.

LOOKUP_SECONDS = 600
_UNKNOWN = ()
# Each process also keeps the links and campaigns it served, for settings.TRACKING_LOCAL_SECONDS:
# a spike clicks the same few links, and a lookup in memory costs no round trip to Redis.
_LOCAL_ENTRIES = 10_000
_local = {}


@dataclass(frozen=True, slots=True)
class LinkTarget:
    """What a click needs of a link: where it leads, and what and how its campaign counts."""

    id: int
    tenant_id: int
    campaign_id: int
    url: str
    tracking: str


@dataclass(frozen=True, slots=True)
class CampaignTarget:
    """What an open needs of a campaign."""

    id: int
    tenant_id: int
    tracking: str


@dataclass(frozen=True, slots=True)
class Recipient:
    """What a per-recipient hit needs of its delivery; ids and the time it was sent, nothing else."""

    id: int
    tenant_id: int
    campaign_id: int
    contact_id: int | None
    sent_at: datetime | None


def _cache_get_many(keys):
    try:
        if len(keys) == 1:  # GET costs less than MGET, and this is most hits
            value = cache.get(keys[0])
            return {} if value is None else {keys[0]: value}
        return cache.get_many(keys)
    except redis.RedisError:
        return {}  # the tables answer while Redis is away


def _cache_set(key, value):
    with contextlib.suppress(redis.RedisError):
        cache.set(key, value, LOOKUP_SECONDS)


def _local_get(key):
    found = _local.get(key)
    if found is not None and found[0] > time.monotonic():
        return found[1]
    return None


def _local_set(key, row):
    seconds = settings.TRACKING_LOCAL_SECONDS
    if seconds > 0:
        if len(_local) >= _LOCAL_ENTRIES:
            _local.clear()
        _local[key] = (time.monotonic() + seconds, row)


def _link_key(link_id):
    return f"tracking:link:{link_id}"


def _campaign_key(campaign_id):
    return f"tracking:campaign:{campaign_id}"


def _recipient_key(message_id):
    return f"tracking:recipient:{message_id}"


def _link(link_id, cached):
    key = _link_key(link_id)
    row = cached.get(key)
    if row is not None:
        _local_set(key, row)
    else:
        found = (
            CampaignLink.unscoped.filter(pk=link_id)
            .values_list("pk", "tenant_id", "campaign_id", "url", "campaign__tracking")
            .first()
        )
        row = tuple(found) if found else _UNKNOWN
        _cache_set(key, row)
        _local_set(key, row)
    if row == _UNKNOWN:
        raise InvalidLink()
    return LinkTarget(*row)


def _campaign(campaign_id):
    key = _campaign_key(campaign_id)
    row = _local_get(key)
    if row is None:
        row = _cache_get_many([key]).get(key)
        if row is not None:
            _local_set(key, row)
    if row is None:
        found = (
            Campaign.unscoped.filter(pk=campaign_id)
            .values_list("pk", "tenant_id", "tracking")
            .first()
        )
        row = tuple(found) if found else _UNKNOWN
        _cache_set(key, row)
        _local_set(key, row)
    if row == _UNKNOWN:
        raise InvalidLink()
    return CampaignTarget(*row)


def _recipient(campaign_id, tracking, message_id, cached):
    """The delivery a token names, in per-recipient mode only; one of another campaign is refused."""
    if not message_id or tracking != PER_RECIPIENT_TRACKING:
        return None
    key = _recipient_key(message_id)
    row = cached.get(key)
    if row is None:
        found = (
            Delivery.unscoped.filter(message_id=uuid.UUID(message_id))
            .values_list("pk", "tenant_id", "campaign_id", "contact_id", "sent_at")
            .first()
        )
        row = tuple(found) if found else _UNKNOWN
        # Only what cannot change is kept: a message not yet recorded as sent is read again.
        if counters_client() is not None and (not found or found[4] is not None):
            _cache_set(key, row)
    if row == _UNKNOWN or row[2] != campaign_id:
        raise InvalidLink()
    return Recipient(*row)


def read_click(token):
    """(LinkTarget, Recipient or None) of a click token; InvalidLink when altered or unknown."""
    parts = read_token(LINK_SALT, token)
    row = _local_get(_link_key(parts.object_id))
    keys = [] if row is not None else [_link_key(parts.object_id)]
    if parts.message_id:
        keys.append(_recipient_key(parts.message_id))
    cached = _cache_get_many(keys) if keys else {}  # one round trip for both
    if row == _UNKNOWN:
        raise InvalidLink()
    link = LinkTarget(*row) if row is not None else _link(parts.object_id, cached)
    return link, _recipient(link.campaign_id, link.tracking, parts.message_id, cached)


def read_open(token):
    """(CampaignTarget, Recipient or None) of an open token; InvalidLink when altered or unknown."""
    parts = read_token(OPEN_SALT, token)
    campaign = _campaign(parts.object_id)
    cached = _cache_get_many([_recipient_key(parts.message_id)]) if parts.message_id else {}
    return campaign, _recipient(campaign.id, campaign.tracking, parts.message_id, cached)


# Counting ------------------------------------------------------------------------------------
# With Redis, a hit is counted there and moved into the tables by the flush (tracking_counters);
# without it, or when Redis does not answer, it is written to the tables at once.


def _hour(now):
    return now.replace(minute=0, second=0, microsecond=0)


def _add_one(model, key_columns, values, machine):
    """Add one to the people or machines count of a row, creating it: one statement, exact when
    hits arrive at the same time (INSERT … ON CONFLICT, on SQLite and PostgreSQL alike)."""
    values = {**values, "people": 0 if machine else 1, "machines": 1 if machine else 0}
    params = [
        model._meta.get_field(name).get_db_prep_value(value, connection)
        for name, value in values.items()
    ]
    with connection.cursor() as cursor:
        cursor.execute(add_counts_sql(model, list(values), key_columns), params)


def _first_time(recipient, field, now):
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
        cursor.execute(sql, [recipient.tenant_id, recipient.id, recipient.campaign_id, prepared])
    if recipient.contact_id is not None:
        do_mark_engaged([recipient.contact_id], now)


def _counted_in_redis(add, target, recipient, machine, now):
    """Count the hit in Redis when it is configured; False when the tables must take it."""
    client = counters_client()
    if client is None:
        return False
    try:
        add(client, target, recipient, machine=machine, now=now)
    except redis.RedisError:
        logger.warning("Redis did not answer: a hit is written to the tables instead")
        return False
    return True


def do_record_open(campaign, recipient, *, machine):
    """Count one open of a campaign; a person's also marks the recipient's first open."""
    now = timezone.now()
    if _counted_in_redis(add_open, campaign, recipient, machine, now):
        return
    with transaction.atomic():
        _add_one(
            OpenCount,
            ("campaign_id", "hour"),
            {"tenant_id": campaign.tenant_id, "campaign_id": campaign.id, "hour": _hour(now)},
            machine,
        )
        if recipient is not None and not machine:
            _first_time(recipient, "first_opened_at", now)


def do_record_click(link, recipient, *, machine):
    """Count one click on a link; a person's also marks the recipient's first click."""
    now = timezone.now()
    if _counted_in_redis(add_click, link, recipient, machine, now):
        return
    with transaction.atomic():
        _add_one(
            ClickCount,
            ("link_id", "hour"),
            {
                "tenant_id": link.tenant_id,
                "campaign_id": link.campaign_id,
                "link_id": link.id,
                "hour": _hour(now),
            },
            machine,
        )
        if recipient is not None and not machine:
            _first_time(recipient, "first_clicked_at", now)
