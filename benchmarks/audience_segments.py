"""Segment counts: one client with BENCH_SEGMENT_CONTACTS contacts (1,000,000 by default), and the
live count of two attribute conditions, as the segment builder asks for it.

Contacts are inserted by one SQL statement (generate_series on PostgreSQL, a recursive CTE on
SQLite), with attributes {"plan": one of 5, "age": 18..90, "city": one of 50} spread evenly and
independently, so both databases hold the same rows and must give the same counts. Then: the list
of attribute keys (the builder's fields, an export's columns) and a segment's CSV export, streamed
to the end. On PostgreSQL the counts are timed again without the GIN index of migration 0002, to
show what the index buys.
"""

import os
import statistics
import time

from django.db import connection
from django.utils import timezone

from infolettre.accounts.models import Organisation
from infolettre.accounts.tenancy import tenant_scope
from infolettre.audience.export import attribute_keys, do_export_contacts
from infolettre.audience.models import Contact, Segment
from infolettre.audience.segments import count_segment

PLANS = ("free", "starter", "pro", "team", "enterprise")
GIN_INDEX = "audience_contact_attributes_gin"
RUNS = 5

CASES = (
    (
        "plan equals pro AND age at least 40",
        {
            "match": "all",
            "conditions": [
                {"field": "attribute:plan", "op": "equals", "value": "pro"},
                {"field": "attribute:age", "op": "at_least", "value": 40},
            ],
        },
    ),
    (
        "city equals city_7 AND plan equals team",
        {
            "match": "all",
            "conditions": [
                {"field": "attribute:city", "op": "equals", "value": "city_7"},
                {"field": "attribute:plan", "op": "equals", "value": "team"},
            ],
        },
    ),
    (
        "city equals city_7 OR age less than 20",
        {
            "match": "any",
            "conditions": [
                {"field": "attribute:city", "op": "equals", "value": "city_7"},
                {"field": "attribute:age", "op": "less_than", "value": 20},
            ],
        },
    ),
)

_POSTGRESQL_INSERT = """
INSERT INTO audience_contact
    (tenant_id, email, name, phone, attributes, engaged_at, created_at, updated_at)
SELECT %s, 'contact' || n || '@example.com', 'Contact ' || n, '',
    jsonb_build_object(
        'plan', (ARRAY['free', 'starter', 'pro', 'team', 'enterprise'])[1 + n %% 5],
        'age', 18 + (n * 7919) %% 73,
        'city', 'city_' || ((n / 5) %% 50)),
    NULL, %s, %s
FROM generate_series(%s::bigint, %s::bigint) AS n
"""

_SQLITE_INSERT = """
WITH RECURSIVE seq(n) AS (SELECT %s UNION ALL SELECT n + 1 FROM seq WHERE n < %s)
INSERT INTO audience_contact
    (tenant_id, email, name, phone, attributes, engaged_at, created_at, updated_at)
SELECT %s, 'contact' || n || '@example.com', 'Contact ' || n, '',
    json_object(
        'plan', CASE n %% 5 WHEN 0 THEN 'free' WHEN 1 THEN 'starter' WHEN 2 THEN 'pro'
                            WHEN 3 THEN 'team' ELSE 'enterprise' END,
        'age', 18 + (n * 7919) %% 73,
        'city', 'city_' || ((n / 5) %% 50)),
    NULL, %s, %s
FROM seq
"""


def _insert_contacts(tenant, total, batch=250_000):
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        for first in range(1, total + 1, batch):
            last = min(first + batch - 1, total)
            if connection.vendor == "postgresql":
                cursor.execute(_POSTGRESQL_INSERT, [tenant.pk, now, now, first, last])
            else:
                cursor.execute(_SQLITE_INSERT, [first, last, tenant.pk, now, now])


def _analyze():
    with connection.cursor() as cursor:
        cursor.execute(
            "ANALYZE audience_contact" if connection.vendor == "postgresql" else "ANALYZE"
        )


def _median_seconds(definition):
    timings, count = [], None
    for _ in range(RUNS):
        start = time.perf_counter()
        count = count_segment(definition)
        timings.append(time.perf_counter() - start)
    return statistics.median(timings), count


def _report(label, definition):
    seconds, count = _median_seconds(definition)
    print(f"  {label:<60} {seconds * 1000:>9.1f} ms median of {RUNS}   count {count:>9,}")


def _report_export(tenant):
    """The attribute keys of every contact (the builder's fields), and a segment's CSV export."""
    start = time.perf_counter()
    keys = attribute_keys(Contact.objects.all())
    seconds = time.perf_counter() - start
    print(f"  {'attribute keys of every contact':<60} {seconds * 1000:>9.1f} ms   keys {keys}")
    segment = Segment(tenant=tenant, name="Pros 40+", definition=CASES[0][1])
    start = time.perf_counter()
    export = do_export_contacts(None, segment=segment)
    size = sum(len(chunk) for chunk in export.chunks)
    seconds = time.perf_counter() - start
    print(f"  {'export ' + CASES[0][0] + ' as CSV':<60} {seconds:>9.2f} s    {size / 1e6:.1f} MB")


def _plan(definition):
    """The first line of PostgreSQL's plan that reads the contacts table."""
    from infolettre.audience.segments import segment_contacts

    sql, params = segment_contacts(definition).order_by().values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN SELECT COUNT(*) FROM ({sql}) AS segment", params)  # noqa: S608
        lines = [row[0].strip().lstrip("-> ").strip() for row in cursor.fetchall()]
    return next((line for line in lines if "audience_contact" in line), lines[0])


def _has_gin_index():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_indexes WHERE indexname = %s", [GIN_INDEX])
        return cursor.fetchone() is not None


def run():
    total = int(os.environ.get("BENCH_SEGMENT_CONTACTS", "1000000"))
    print(f"audience_segments (database: {connection.vendor}; contacts: {total:,})")
    tenant = Organisation.objects.create(
        name="Segments bench",
        address="1 rue Sherbrooke, Montréal",
        phone="+15145550123",
        website="https://example.com",
    )
    start = time.perf_counter()
    _insert_contacts(tenant, total)
    _analyze()
    print(f"  {'insert the contacts and ANALYZE':<60} {time.perf_counter() - start:>9.1f} s")
    with tenant_scope(tenant):
        assert Contact.objects.count() == total
        for label, definition in CASES:
            _report(label, definition)
        _report_export(tenant)
        if connection.vendor != "postgresql" or not _has_gin_index():
            return
        label, definition = CASES[0]
        print(f"  plan with the GIN index: {_plan(definition)}")
        with connection.cursor() as cursor:
            cursor.execute(f"DROP INDEX {GIN_INDEX}")
        _analyze()
        for label, definition in CASES:
            _report(f"{label} (no GIN index)", definition)
        print(f"  plan without it: {_plan(CASES[0][1])}")
