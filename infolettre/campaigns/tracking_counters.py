"""Opens and clicks counted in Redis while a campaign's first readers arrive, moved into the tables
by a periodic flush, each exactly once.

With REDIS_URL set, a hit costs the request one Redis round trip and no database statement: HINCRBY
on the live hash (the hour's people or machines count of the campaign or link), pipelined in
per-recipient mode with HSETNX of the recipient's first open or click and HSET of the contact's
latest engagement. Without Redis, tracking_actions writes each hit to the tables at once, as before.

The flush (`do_flush_tracking_counters`, the task `flush_tracking_counters` the scheduler enqueues
every minute) hands the live hash over by RENAME to a pending key named for its time and a random
id: a hit after the rename starts a new live hash, none lands in the one being read. A pending hash
is applied in one transaction that also inserts its id into `TrackingFlush` (unique); only then is
the key deleted. A crash before the commit leaves the key for the next flush (nothing lost); a
crash between the commit and the delete leaves a key whose id is already recorded, which the next
flush deletes without applying it again (nothing counted twice).

Only ids, hours and times are kept in Redis: never an address, an IP address or a user agent.
"""

import contextlib
import logging
import secrets
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import redis
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.tasks import task
from django.utils import timezone

from infolettre.audience.actions import do_mark_engaged

from .models import (
    Campaign,
    CampaignLink,
    ClickCount,
    Delivery,
    DeliveryEngagement,
    OpenCount,
    TrackingFlush,
)

logger = logging.getLogger(__name__)

# How long the flush may hold its lock; a flush that died frees it after this.
LOCK_SECONDS = 300
# Batch ids are kept this long to recognise a batch already applied.
KEEP_FLUSHES = timedelta(days=7)
# Kinds of fields in a counters hash (see _field_* below).
OPEN, CLICK, FIRST_OPEN, FIRST_CLICK, ENGAGED = "o", "c", "fo", "fc", "e"
PERSON, MACHINE = "p", "m"

_clients = {}


def counters_client():
    """The Redis client of the counters, or None when REDIS_URL is empty (hits go to the tables)."""
    url = settings.REDIS_URL
    if not url:
        return None
    client = _clients.get(url)
    if client is None:
        # One client (and its connection pool) per process, made after gunicorn forked.
        client = _clients[url] = redis.Redis.from_url(
            url, socket_timeout=2, socket_connect_timeout=2, health_check_interval=30
        )
    return client


def _key(name):
    return f"{settings.TRACKING_COUNTER_PREFIX}:{name}"


def _hour(now):
    return int(now.timestamp()) // 3600 * 3600


# Counting a hit ------------------------------------------------------------------------------


def add_open(client, campaign, recipient, *, machine, now):
    """Count one open of `campaign` (a tracking.CampaignTarget) in Redis."""
    field = (
        f"{OPEN}:{campaign.tenant_id}:{campaign.id}:{_hour(now)}:{MACHINE if machine else PERSON}"
    )
    _add(client, field, FIRST_OPEN, recipient, machine, now)


def add_click(client, link, recipient, *, machine, now):
    """Count one click on `link` (a tracking.LinkTarget) in Redis."""
    field = (
        f"{CLICK}:{link.tenant_id}:{link.campaign_id}:{link.id}:{_hour(now)}:"
        f"{MACHINE if machine else PERSON}"
    )
    _add(client, field, FIRST_CLICK, recipient, machine, now)


def _add(client, field, first_kind, recipient, machine, now):
    live = _key("live")
    if recipient is None or machine:
        client.hincrby(live, field, 1)
        return
    # One round trip. No MULTI: a flush between two of these commands puts them in two batches,
    # each applied once, which comes to the same.
    at = f"{now.timestamp():.6f}"
    pipe = client.pipeline(transaction=False)
    pipe.hincrby(live, field, 1)
    pipe.hsetnx(
        live, f"{first_kind}:{recipient.tenant_id}:{recipient.campaign_id}:{recipient.id}", at
    )
    if recipient.contact_id is not None:
        pipe.hset(live, f"{ENGAGED}:{recipient.contact_id}", at)
    pipe.execute()


# Moving the counts into the tables -----------------------------------------------------------


def _batch_name(name):
    return name.decode() if isinstance(name, bytes) else name


def do_flush_tracking_counters():
    """Move every count waiting in Redis into the tables; return how many batches were applied.

    Safe to run twice and at the same time: one flush holds the lock, and a batch is applied once.
    """
    client = counters_client()
    if client is None:
        return 0
    lock, holder = _key("flush-lock"), secrets.token_hex(8)
    if not client.set(lock, holder, nx=True, ex=LOCK_SECONDS):
        return 0
    applied = 0
    try:
        # The time first, so pending batches are applied in the order they were handed over.
        pending = _key(f"pending:{time.time_ns():020d}:{secrets.token_hex(8)}")
        with contextlib.suppress(redis.ResponseError):  # no hit since the last flush
            client.rename(_key("live"), pending)
        names = sorted(_batch_name(n) for n in client.scan_iter(match=_key("pending:*")))
        for name in names:
            if _apply(name.removeprefix(_key("pending:")), client.hgetall(name)):
                applied += 1
            client.delete(name)
        TrackingFlush.objects.filter(flushed_at__lt=timezone.now() - KEEP_FLUSHES).delete()
    finally:
        if client.get(lock) == holder.encode():
            client.delete(lock)
    if applied:
        logger.info("Tracking counters moved into the tables (batches: %s)", applied)
    return applied


def _at(raw):
    return datetime.fromtimestamp(float(raw), tz=UTC)


def _read(fields):
    """The counts of a hash, by table: {(kind, ids..., hour): [people, machines]} and the firsts."""
    counts = defaultdict(lambda: [0, 0])
    firsts, engaged = {}, {}
    for raw_field, raw_value in fields.items():
        field = raw_field.decode()
        kind, *parts = field.split(":")
        value = raw_value.decode()
        if kind in (OPEN, CLICK):
            *ids, who = parts
            counts[(kind, *map(int, ids))][0 if who == PERSON else 1] += int(value)
        elif kind in (FIRST_OPEN, FIRST_CLICK):
            firsts[(kind, *map(int, parts))] = _at(value)
        elif kind == ENGAGED:
            engaged[int(parts[0])] = _at(value)
    return counts, firsts, engaged


def _apply(batch, fields):
    """Apply one batch in one transaction with its id; False when it was applied already."""
    counts, firsts, engaged = _read(fields)
    with transaction.atomic():
        try:
            with transaction.atomic():
                TrackingFlush.objects.create(batch=batch)
        except IntegrityError:
            return False
        # A campaign, link or send record deleted since the hit takes its counts with it.
        campaigns = set(
            Campaign.unscoped.filter(pk__in={key[2] for key in (*counts, *firsts)}).values_list(
                "pk", flat=True
            )
        )
        links = set(
            CampaignLink.unscoped.filter(
                pk__in={key[3] for key in counts if key[0] == CLICK}
            ).values_list("pk", flat=True)
        )
        deliveries = set(
            Delivery.unscoped.filter(pk__in={key[3] for key in firsts}).values_list("pk", flat=True)
        )
        opens, clicks = [], []
        for key, (people, machines) in counts.items():
            if key[0] == OPEN and key[2] in campaigns:
                _kind, tenant_id, campaign_id, hour = key
                opens.append((tenant_id, campaign_id, hour, people, machines))
            elif key[0] == CLICK and key[2] in campaigns and key[3] in links:
                _kind, tenant_id, campaign_id, link_id, hour = key
                clicks.append((tenant_id, campaign_id, link_id, hour, people, machines))
        _add_counts(OpenCount, ("campaign_id", "hour"), opens)
        _add_counts(ClickCount, ("link_id", "hour"), clicks)
        for kind, field in ((FIRST_OPEN, "first_opened_at"), (FIRST_CLICK, "first_clicked_at")):
            _first_times(
                field,
                [
                    (tenant_id, delivery_id, campaign_id, at)
                    for (k, tenant_id, campaign_id, delivery_id), at in firsts.items()
                    if k == kind and delivery_id in deliveries and campaign_id in campaigns
                ],
            )
        by_time = defaultdict(list)
        for contact_id, at in engaged.items():
            by_time[at].append(contact_id)
        for at, contact_ids in by_time.items():
            do_mark_engaged(contact_ids, at)
    return True


def add_counts_sql(model, columns, key_columns):
    """INSERT … ON CONFLICT adding a row's people and machines to those of its hour's row."""
    table = connection.ops.quote_name(model._meta.db_table)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))}) "  # noqa: S608
        f"ON CONFLICT ({', '.join(key_columns)}) DO UPDATE SET "
        f"people = {table}.people + excluded.people, "
        f"machines = {table}.machines + excluded.machines"
    )


def _add_counts(model, key_columns, rows):
    """Add each row's people and machines to the hour's count, creating it (INSERT … ON CONFLICT)."""
    if not rows:
        return
    columns = [
        "tenant_id",
        "campaign_id",
        *(["link_id"] if model is ClickCount else []),
        "hour",
        "people",
        "machines",
    ]
    hour_field = model._meta.get_field("hour")
    params = []
    for row in rows:
        *ids, hour, people, machines = row
        when = datetime.fromtimestamp(hour, tz=UTC)
        params.append([*ids, hour_field.get_db_prep_value(when, connection), people, machines])
    with connection.cursor() as cursor:
        cursor.executemany(add_counts_sql(model, columns, key_columns), params)


def _first_times(field, rows):
    """Record each recipient's first open or click; an earlier one already recorded stays."""
    if not rows:
        return
    other = "first_clicked_at" if field == "first_opened_at" else "first_opened_at"
    table = connection.ops.quote_name(DeliveryEngagement._meta.db_table)
    model_field = DeliveryEngagement._meta.get_field(field)
    sql = (
        f"INSERT INTO {table} (tenant_id, delivery_id, campaign_id, {field}, {other}) "  # noqa: S608
        "VALUES (%s, %s, %s, %s, NULL) "
        f"ON CONFLICT (delivery_id) DO UPDATE SET {field} = CASE "
        f"WHEN {table}.{field} IS NULL OR excluded.{field} < {table}.{field} "
        f"THEN excluded.{field} ELSE {table}.{field} END"
    )
    with connection.cursor() as cursor:
        cursor.executemany(
            sql,
            [
                [tenant_id, delivery_id, campaign_id, model_field.get_db_prep_value(at, connection)]
                for tenant_id, delivery_id, campaign_id, at in rows
            ],
        )


@task()
def flush_tracking_counters():
    """Move the opens and clicks counted in Redis into the tables (every minute, by the scheduler)."""
    do_flush_tracking_counters()
