"""Admin pages at scale: one client with BENCH_SCALE_CONTACTS contacts (1,000,000 by default) and
BENCH_SCALE_SENDS send records (10,000,000), and the time each page of its admin takes to answer.

PostgreSQL only, on a database of its own whose name contains "scale" (it fills it with millions of
rows): `DATABASE_URL=postgres://postgres@127.0.0.1:5432/infolettre_scale python -m benchmarks
admin_scale`. The first run fills it in one transaction (generate_series, a few minutes for the
default sizes, then VACUUM ANALYZE); later runs find the filled client and only time the pages.
Not part of `make bench`.

The client holds four lists (80 %, 50 %, 20 % and 2 % of the contacts; 2 % of subscriptions
awaiting confirmation, 6 % unsubscribed, 30 % on implied consent with its lapse date), 1 % of the
addresses on the suppression list, two segments, and campaigns sent to the first list: the send
records are split between twelve campaigns, the last one still sending (40 % queued), each with
1.5 % skipped, 0.5 % failed and 2 % bounced records, a bounce row per bounced record, complaints
and unsubscribes; one in three campaigns counts opens and clicks in total (hourly counts, five
links), one in three per recipient (a first open for a quarter of its recipients, a first click
for one in sixteen).

Attributes (plan, age, city) are spread by a hash of the contact's number, independent of its
address. Each page is asked for through Django's test client as the client's owner (the API with a token):
once with an empty cache ("cold": what the very first visitor waits for, a big figure then shown
as being counted and counted after the answer; for a page reached by a Next link, the cache holds
only what drawing the page before left in it), then BENCH_SCALE_RUNS
times (5) warm, then once more with the clock moved STALE_AFTER seconds on ("a minute on": the
figures kept a minute are past their period, and are counted again after the answer). Each time is
the time until the answer is ready: what runs after it (the recount) is timed apart ("recount").
The figures are the cold time, the median and the worst of the warm ones, a minute on and its
recount, the number of SQL statements of a warm view and the slowest of them. BENCH_SCALE_ONLY
times only the pages whose label holds it.
"""

import math
import os
import statistics
import time
from datetime import timedelta
from typing import NamedTuple
from unittest.mock import patch

import time_machine
from django.conf import settings
from django.core.cache import cache
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.test import Client, override_settings
from django.test.client import ClientHandler
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from infolettre.accounts.actions import do_issue_api_token, do_register_organisation
from infolettre.accounts.models import User
from infolettre.accounts.tenancy import tenant_scope
from infolettre.audience import paging
from infolettre.audience.actions import suppression_hash
from infolettre.audience.models import MailingList, Segment
from infolettre.campaigns.models import Campaign, CampaignStatus, SenderAddress, TrackingMode

FIRST = ("marie", "jean", "elodie", "francois", "chloe", "mathieu", "lea", "olivier", "zoe", "luc")
FIRST_NAMES = (
    "Marie",
    "Jean",
    "Élodie",
    "François",
    "Chloé",
    "Mathieu",
    "Léa",
    "Olivier",
    "Zoé",
    "Luc",
)
LAST = ("tremblay", "gagnon", "roy", "cote", "bouchard", "gauthier", "morin", "lavoie", "fortin")
LAST_NAMES = (
    "Tremblay",
    "Gagnon",
    "Roy",
    "Côté",
    "Bouchard",
    "Gauthier",
    "Morin",
    "Lavoie",
    "Fortin",
)
DOMAINS = ("example.com", "exemple.ca", "courriel.example.org", "mail.example.net")
CITIES = ("Montréal", "Québec", "Laval", "Gatineau", "Longueuil", "Sherbrooke", "Saguenay", "Lévis")
PLANS = ("free", "starter", "pro", "team", "enterprise")
# name, share of the contacts (a rule on the contact's number n), double opt-in
LISTS = (
    ("Infolettre mensuelle", "n %% 10 < 8", True),
    ("Promotions", "n %% 2 = 0", False),
    ("Événements", "n %% 5 = 1", True),
    ("Membres VIP", "n %% 50 = 3", False),
)
CAMPAIGNS = 12
LINKS = 5
TRACKED_HOURS = 72
PASSWORD = "a long enough passphrase 42"  # noqa: S105
# Past the minute of the figures kept a minute (and the seconds of a sending campaign's), within
# the twelve periods during which they are still shown while counted again.
STALE_AFTER = 61


def _array(values):
    return "ARRAY[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _email_sql(n):
    """The address of contact number `n` (an SQL expression), the same in every table."""
    return (
        f"({_array(FIRST)})[1 + ({n}) %% 10] || '.' || ({_array(LAST)})[1 + (({n}) / 10) %% 9]"
        f" || ({n}) || '@' || ({_array(DOMAINS)})[1 + (({n}) / 90) %% 4]"
    )


def _email(n):
    return f"{FIRST[n % 10]}.{LAST[(n // 10) % 9]}{n}@{DOMAINS[(n // 90) % 4]}"


def _owner_email(contacts, sends):
    return f"owner-{contacts}-{sends}@scale.example.com"


# Filling the database ----------------------------------------------------------------------------


def _execute(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _step(label, started):
    print(f"  {label:<58} {time.perf_counter() - started:>8.1f} s", flush=True)
    return time.perf_counter()


def _insert_contacts(tenant_id, total, now):
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM audience_contact")
        base = cursor.fetchone()[0]
    for first in range(1, total + 1, 250_000):
        last = min(first + 249_999, total)
        _execute(
            f"""
            INSERT INTO audience_contact (id, tenant_id, email, name, phone, phone_hash,
                attributes, engaged_at, created_at, updated_at)
            SELECT %s + n, %s, {_email_sql("n")},
                ({_array(FIRST_NAMES)})[1 + n %% 10] || ' ' || ({_array(LAST_NAMES)})[1 + (n / 10) %% 9],
                '', '',
                jsonb_build_object(
                    'plan', ({_array(PLANS)})[1 + abs(hashint8extended(n, 1)) %% 5],
                    'age', 18 + abs(hashint8extended(n, 2)) %% 73,
                    'city', ({_array(CITIES)})[1 + abs(hashint8extended(n, 3)) %% 8]),
                CASE WHEN n %% 3 = 0 THEN %s - ((n %% 200) * interval '1 day') END,
                %s - (((n * 37) %% 1095) * interval '1 day'),
                %s - (((n * 37) %% 1095) * interval '1 day')
            FROM generate_series(%s::bigint, %s::bigint) AS n
            """,  # noqa: S608
            [base, tenant_id, now, now, now, first, last],
        )
    _execute(
        "SELECT setval(pg_get_serial_sequence('audience_contact', 'id'), "
        "(SELECT MAX(id) FROM audience_contact))"
    )
    return base


def _insert_subscriptions(tenant_id, lists, base, total, now):
    for index, (mailing_list, (_name, rule, _double)) in enumerate(zip(lists, LISTS, strict=True)):
        _execute(
            f"""
            INSERT INTO audience_subscription (tenant_id, contact_id, mailing_list_id, status,
                consent_basis, consent_at, consent_expires_at, consent_source, consent_wording,
                created_at, confirmed_at, unsubscribed_at)
            SELECT %s, %s + n, %s, s.status, s.basis, s.consent_at,
                CASE s.basis WHEN 'implied_business' THEN s.consent_at + interval '24 months'
                             WHEN 'implied_inquiry' THEN s.consent_at + interval '6 months' END,
                CASE s.basis WHEN 'express' THEN 'Formulaire d''inscription'
                             ELSE 'Importation : clients.csv' END,
                CASE s.basis WHEN 'express'
                    THEN 'J''accepte de recevoir l''infolettre. Je peux me désabonner en tout temps.'
                    ELSE '' END,
                s.consent_at,
                CASE WHEN s.status <> 'unconfirmed' THEN s.consent_at END,
                CASE WHEN s.status = 'unsubscribed' THEN s.consent_at + interval '30 days' END
            FROM generate_series(1::bigint, %s::bigint) AS n,
            LATERAL (SELECT
                CASE WHEN (n * 7919 + %s) %% 1000 < 20 THEN 'unconfirmed'
                     WHEN (n * 7919 + %s) %% 1000 < 80 THEN 'unsubscribed'
                     ELSE 'subscribed' END AS status,
                CASE WHEN (n * 7 + %s) %% 10 < 7 THEN 'express'
                     WHEN (n * 7 + %s) %% 10 < 9 THEN 'implied_business'
                     ELSE 'implied_inquiry' END AS basis,
                %s - (((n * 13 + %s) %% 700) * interval '1 day') - ((n %% 86400) * interval '1 second')
                    AS consent_at) AS s
            WHERE {rule}
            """,  # noqa: S608
            [tenant_id, base, mailing_list.pk, total]
            + [index * 101] * 2
            + [index * 3] * 2
            + [now, index * 37],
        )


def _insert_suppressions(tenant_id, total, now):
    reasons = ("unsubscribed", "bounced", "complained", "manual")
    rows = [
        (tenant_id, _email(n), suppression_hash(_email(n)), reasons[n % 4], now)
        for n in range(42, total + 1, 100)
    ]
    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO audience_suppression (tenant_id, email, email_hash, reason, created_at) "
            "VALUES (%s, %s, %s, %s, %s)",
            rows,
        )


def _campaign_sizes(contacts, sends):
    count = max(CAMPAIGNS, math.ceil(sends / contacts))
    sizes = [sends // count] * count
    sizes[-1] += sends - sum(sizes)
    return sizes


def _create_campaigns(tenant, lists, sizes, now):
    from infolettre.campaigns.template_actions import default_template_html

    sender = SenderAddress.objects.create(
        tenant=tenant, email="bonjour@scale.example.com", name="Échelle", verified_at=now
    )
    html = default_template_html()
    modes = (TrackingMode.NONE, TrackingMode.AGGREGATE, TrackingMode.PER_RECIPIENT)
    campaigns = []
    for index, size in enumerate(sizes):
        sending = index == len(sizes) - 1
        started = (
            now - timedelta(hours=3) if sending else now - timedelta(days=7 * (len(sizes) - index))
        )
        campaign = Campaign.objects.create(
            tenant=tenant,
            name=f"Infolettre n° {index + 1}",
            subject=f"Les nouvelles du mois, numéro {index + 1}",
            sender=sender,
            html=html,
            status=CampaignStatus.SENDING if sending else CampaignStatus.SENT,
            started_at=started,
            finished_at=None if sending else started + timedelta(hours=6),
            recipient_count=size,
            tracking=modes[index % 3],
            created_at=started - timedelta(days=1),
            updated_at=started,
        )
        campaign.lists.set([lists[0]])
        campaigns.append(campaign)
    draft = Campaign.objects.create(
        tenant=tenant,
        name="Soldes d'été (brouillon)",
        subject="Nos soldes d'été, {{ contact.name }}",
        sender=sender,
        html=html,
        segment=Segment.objects.get(name="Montréal, forfait pro"),
        created_at=now,
        updated_at=now,
    )
    draft.lists.set([lists[1]])
    return campaigns, draft


def _insert_deliveries(tenant_id, campaign, index, size, base, contacts, sending):
    """One campaign's send records; the status of each from a hash of its number g."""
    offset = index * contacts // CAMPAIGNS
    done = int(size * 0.6) if sending else size
    seconds = 6 * 3600 / size
    for first in range(0, size, 1_000_000):
        last = min(first + 999_999, size - 1)
        _execute(
            f"""
            INSERT INTO campaigns_delivery (tenant_id, campaign_id, contact_id, email, status,
                attempts, next_attempt_at, claimed_until, message_id, sent_at, error,
                unsubscribed_at)
            SELECT %s, %s, %s + d.n, {_email_sql("d.n")}, d.status,
                CASE WHEN d.status = 'queued' THEN 0 ELSE 1 END,
                %s::timestamptz + g * %s * interval '1 second', NULL, gen_random_uuid(),
                CASE WHEN d.status IN ('sent', 'bounced')
                     THEN %s::timestamptz + g * %s * interval '1 second' END,
                CASE d.status WHEN 'failed' THEN '550 5.7.1 Message refused by the receiving server'
                              WHEN 'skipped' THEN 'no longer subscribed' ELSE '' END,
                CASE WHEN d.status = 'sent' AND d.h BETWEEN 400 AND 429
                     THEN %s::timestamptz + g * %s * interval '1 second' + interval '1 day' END
            FROM generate_series(%s::bigint, %s::bigint) AS g,
            LATERAL (SELECT ((g + %s) %% %s) + 1 AS n, (g * 7919 + %s) %% 10000 AS h) AS k,
            LATERAL (SELECT k.n, k.h, CASE
                WHEN g >= %s THEN 'queued'
                WHEN k.h < 150 THEN 'skipped'
                WHEN k.h < 200 THEN 'failed'
                WHEN k.h < 400 THEN 'bounced'
                ELSE 'sent' END AS status) AS d
            """,  # noqa: S608
            [
                *(tenant_id, campaign.pk, base, campaign.started_at, seconds),
                *(campaign.started_at, seconds, campaign.started_at, seconds),
                *(first, last, offset, contacts, index * 104729, done),
            ],
        )


def _insert_bounces_and_tracking(tenant_id, campaigns):
    ids = [c.pk for c in campaigns]
    _execute(
        """
        INSERT INTO campaigns_bounce (tenant_id, delivery_id, email, kind, status, diagnostic,
            received_at)
        SELECT tenant_id, id, email,
            CASE WHEN id %% 10 < 7 THEN 'hard' ELSE 'soft' END,
            CASE WHEN id %% 10 < 7 THEN '5.1.1' ELSE '4.2.2' END,
            CASE WHEN id %% 10 < 7 THEN '550 5.1.1 User unknown' ELSE '452 4.2.2 Mailbox full' END,
            sent_at + interval '5 minutes'
        FROM campaigns_delivery WHERE campaign_id = ANY(%s) AND status = 'bounced'
        """,
        [ids],
    )
    _execute(
        """
        INSERT INTO campaigns_bounce (tenant_id, delivery_id, email, kind, status, diagnostic,
            received_at)
        SELECT tenant_id, id, email, 'complaint', 'abuse', '', sent_at + interval '2 hours'
        FROM campaigns_delivery
        WHERE campaign_id = ANY(%s) AND status = 'sent' AND id %% 2000 = 0
        """,
        [ids],
    )
    for campaign in campaigns:
        if campaign.tracking == TrackingMode.NONE:
            continue
        size = campaign.recipient_count
        for link in range(LINKS):
            _execute(
                "INSERT INTO campaigns_campaignlink (tenant_id, campaign_id, url, created_at) "
                "VALUES (%s, %s, %s, %s)",
                [
                    tenant_id,
                    campaign.pk,
                    f"https://scale.example.com/article-{link + 1}?utm_campaign={campaign.pk}",
                    campaign.started_at,
                ],
            )
        _execute(
            """
            INSERT INTO campaigns_opencount (tenant_id, campaign_id, hour, people, machines)
            SELECT %s, %s, date_trunc('hour', %s::timestamptz) + h * interval '1 hour',
                GREATEST(1, (%s * 0.3 / (h + 2))::int), GREATEST(1, (%s * 0.05 / (h + 2))::int)
            FROM generate_series(0, %s) AS h
            """,
            [tenant_id, campaign.pk, campaign.started_at, size, size, TRACKED_HOURS - 1],
        )
        _execute(
            """
            INSERT INTO campaigns_clickcount (tenant_id, campaign_id, link_id, hour, people,
                machines)
            SELECT %s, %s, l.id, date_trunc('hour', %s::timestamptz) + h * interval '1 hour',
                GREATEST(1, (%s * 0.02 / (h + 2) / (l.rank + 1))::int),
                GREATEST(0, (%s * 0.004 / (h + 2))::int)
            FROM generate_series(0, %s) AS h,
                (SELECT id, row_number() OVER (ORDER BY id) AS rank
                 FROM campaigns_campaignlink WHERE campaign_id = %s) AS l
            """,
            [
                tenant_id,
                campaign.pk,
                campaign.started_at,
                size,
                size,
                TRACKED_HOURS - 1,
                campaign.pk,
            ],
        )
        if campaign.tracking == TrackingMode.PER_RECIPIENT:
            _execute(
                """
                INSERT INTO campaigns_deliveryengagement (tenant_id, delivery_id, campaign_id,
                    first_opened_at, first_clicked_at)
                SELECT tenant_id, id, campaign_id, sent_at + interval '1 hour',
                    CASE WHEN id %% 16 = 0 THEN sent_at + interval '90 minutes' END
                FROM campaigns_delivery
                WHERE campaign_id = %s AND status = 'sent' AND id %% 4 = 0
                """,
                [campaign.pk],
            )


def _fill(contacts, sends):
    """Create the client and all its rows in one transaction, then VACUUM ANALYZE."""
    started = begun = time.perf_counter()
    now = timezone.now()
    sizes = _campaign_sizes(contacts, sends)
    with transaction.atomic():
        # Every row is generated consistent: the foreign keys need not be checked one by one
        # (this needs a superuser; without one the checks simply run).
        try:
            with transaction.atomic():
                _execute("SET LOCAL session_replication_role = replica")
        except DatabaseError:
            print("  (foreign keys are checked row by row: not a superuser)")
        owner = do_register_organisation(
            {
                "name": "Propriétaire Échelle",
                "title": "Directrice",
                "email": _owner_email(contacts, sends),
                "company_name": f"Échelle {contacts:,} × {sends:,}",
                "address": "1000, rue Sherbrooke Ouest, Montréal (Québec) H3A 3G4",
                "phone": "+15145550123",
                "website": "https://scale.example.com",
            },
            PASSWORD,
            consents={},
            source="bench",
        )
        owner.email_confirmed_at = now
        owner.save(update_fields=["email_confirmed_at"])
        tenant = owner.tenant
        with tenant_scope(tenant):
            lists = [
                MailingList.objects.create(
                    tenant=tenant, name=name, double_opt_in=double, created_at=now
                )
                for name, _rule, double in LISTS
            ]
            base = _insert_contacts(tenant.pk, contacts, now)
            started = _step(f"{contacts:,} contacts", started)
            _insert_subscriptions(tenant.pk, lists, base, contacts, now)
            _insert_suppressions(tenant.pk, contacts, now)
            started = _step("subscriptions and suppressions", started)
            Segment.objects.create(
                tenant=tenant,
                name="Montréal, forfait pro",
                definition={
                    "match": "all",
                    "conditions": [
                        {"field": "attribute:city", "op": "equals", "value": "Montréal"},
                        {"field": "attribute:plan", "op": "equals", "value": "pro"},
                    ],
                },
            )
            Segment.objects.create(
                tenant=tenant,
                name="Promotions, 40 ans et plus",
                definition={
                    "match": "all",
                    "conditions": [
                        {
                            "field": "list",
                            "op": "in",
                            "value": [lists[1].pk],
                            "status": "subscribed",
                        },
                        {"field": "attribute:age", "op": "at_least", "value": 40},
                    ],
                },
            )
            campaigns, _draft = _create_campaigns(tenant, lists, sizes, now)
            for index, (campaign, size) in enumerate(zip(campaigns, sizes, strict=True)):
                _insert_deliveries(
                    tenant.pk, campaign, index, size, base, contacts, index == len(sizes) - 1
                )
                started = _step(f"campaign {index + 1}: {size:,} send records", started)
            _insert_bounces_and_tracking(tenant.pk, campaigns)
            started = _step("bounces, complaints, tracking", started)
    for table in (
        "audience_contact",
        "audience_subscription",
        "audience_suppression",
        "campaigns_delivery",
        "campaigns_bounce",
        "campaigns_deliveryengagement",
        "campaigns_opencount",
        "campaigns_clickcount",
        "campaigns_campaignlink",
    ):
        _execute(f"VACUUM (ANALYZE) {table}")
    _step("VACUUM ANALYZE", started)
    print(f"  {'filled in':<58} {time.perf_counter() - begun:>8.1f} s")
    return owner


# Timing the pages --------------------------------------------------------------------------------


class Case(NamedTuple):
    label: str
    path: str
    headers: dict
    before: tuple = ()  # pages drawn first, untimed: the page the visitor came from
    status: int = 200


def _api_cursor(rows, order, position):
    """The cursor the API gives after the row at `position` of `rows` (read once, with OFFSET)."""
    from infolettre.audience.api_paging import KeysetPagination

    return KeysetPagination(order=order).cursor_after(rows.order_by(*order)[position])


def _cases(tenant, token):
    with tenant_scope(tenant):
        lists = list(MailingList.objects.order_by("pk"))
        big = lists[0]
        campaigns = list(Campaign.objects.order_by("pk"))
        segment = Segment.objects.get(name="Montréal, forfait pro")
        list_segment = Segment.objects.get(name="Promotions, 40 ans et plus")
        sending = next(c for c in campaigns if c.status == CampaignStatus.SENDING)
        per_recipient = [
            c for c in campaigns if c.tracking == TrackingMode.PER_RECIPIENT and c.status == "sent"
        ][-1]
        sent = [c for c in campaigns if c.status == CampaignStatus.SENT][-1]
        draft = next(c for c in campaigns if c.status == CampaignStatus.DRAFT)
        from infolettre.audience.models import Contact, Subscription
        from infolettre.audience.queries import search_contacts

        middle = Subscription.objects.filter(mailing_list=big).count() // 2 // 50
        someone = Contact.objects.order_by("pk")[Contact.objects.count() // 2]
        # Where page `middle` begins, as the answer to page middle - 1 gives it.
        contacts_cursor = _api_cursor(
            search_contacts("", big), ("email", "id"), (middle - 1) * 50 - 1
        )
        subscriptions_cursor = _api_cursor(
            Subscription.objects.filter(mailing_list=big).select_related("contact"),
            ("contact__email", "id"),
            (middle - 1) * 50 - 1,
        )
    api = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    list_url = reverse("audience:list_detail", args=[big.pk])
    address = someone.email
    return [
        Case("lists page", reverse("audience:lists"), {}),
        Case("list's contacts, first page", list_url, {}),
        Case(
            f"list's contacts, page {middle:,} from its Next link",
            f"{list_url}?page={middle}",
            {},
            (f"{list_url}?page={middle - 1}",),
        ),
        Case(
            f"list's contacts, page {middle:,} typed in (refused)",
            f"{list_url}?page={middle}",
            {},
            status=302,
        ),
        Case("list's contacts, search by address", f"{list_url}?q={address}", {}),
        Case("list's contacts, search by part of an address", f"{list_url}?q={address[:12]}", {}),
        Case("contacts page", reverse("audience:contacts"), {}),
        Case("contacts page, search by address", f"{reverse('audience:contacts')}?q={address}", {}),
        Case(
            "segment preview (two attributes)",
            reverse("audience:segment_detail", args=[segment.pk]),
            {},
        ),
        Case(
            "segment preview (a list and an attribute)",
            reverse("audience:segment_detail", args=[list_segment.pk]),
            {},
        ),
        Case("campaigns page", reverse("campaigns:campaigns"), {}),
        Case(
            "campaign page, sending (live counts)",
            reverse("campaigns:campaign_detail", args=[sending.pk]),
            {},
        ),
        Case("campaign page, sent", reverse("campaigns:campaign_detail", args=[sent.pk]), {}),
        Case(
            "campaign page, draft (recipient estimate)",
            reverse("campaigns:campaign_detail", args=[draft.pk]),
            {},
        ),
        Case(
            "campaign report, per recipient",
            reverse("campaigns:campaign_report", args=[per_recipient.pk]),
            {},
        ),
        Case(
            "campaign report, sending",
            reverse("campaigns:campaign_report", args=[sending.pk]),
            {},
        ),
        Case("API GET /contacts", "/api/v1/contacts", api),
        Case("API GET /contacts?q=address", f"/api/v1/contacts?q={address}", api),
        Case(
            f"API GET /contacts?list_id=&cursor= (page {middle:,})",
            f"/api/v1/contacts?list_id={big.pk}&cursor={contacts_cursor}",
            api,
        ),
        Case(
            f"API GET /contacts?list_id=&page={middle:,} (refused)",
            f"/api/v1/contacts?list_id={big.pk}&page={middle}",
            api,
            status=422,
        ),
        Case(
            f"API GET /lists/{{id}}/subscriptions?cursor= (page {middle:,})",
            f"/api/v1/lists/{big.pk}/subscriptions?cursor={subscriptions_cursor}",
            api,
        ),
        Case("API GET /campaigns/{id} (sending)", f"/api/v1/campaigns/{sending.pk}", api),
        Case(
            "API GET /campaigns/{id}/stats (per recipient)",
            f"/api/v1/campaigns/{per_recipient.pk}/stats",
            api,
        ),
    ]


class TimedHandler(ClientHandler):
    """The test client's handler, noting when the answer is ready, before the work that the
    response's closing runs (as a WSGI server runs it once the answer is sent)."""

    answered = None

    def get_response(self, request):
        response = super().get_response(request)
        self.answered = time.perf_counter()
        return response


def _get(client, case):
    """(seconds until the answer was ready, seconds of the work run after it)."""
    start = time.perf_counter()
    response = client.get(case.path, **case.headers)
    if response.streaming:
        b"".join(response.streaming_content)
    done = time.perf_counter()
    assert response.status_code == case.status, (
        case.path,
        response.status_code,
        response.content[:300],
    )
    answered = done if response.streaming else client.handler.answered
    return answered - start, done - answered


def _ms(seconds):
    return f"{seconds * 1000:>6.0f}ms"


def _time_pages(owner, token, runs):
    client = Client()
    client.handler = TimedHandler(enforce_csrf_checks=False)
    client.force_login(owner)
    cases = _cases(owner.tenant, token)
    only = os.environ.get("BENCH_SCALE_ONLY", "")
    cases = [case for case in cases if only in case.label]
    print(
        f"  {'page':<55} {'cold':>8} {'median':>8} {'worst':>8} {'a minute on':>12} "
        f"{'recount':>8}   {'queries':>7} {'slowest':>8}"
    )
    for case in cases:
        cache.clear()
        # The page before, drawn as if reached by Next from the first (the walk is not timed): a
        # deep page number alone is refused.
        with patch.object(paging, "DEEP_ROWS", math.inf):
            for seen in case.before:
                _get(client, case._replace(path=seen, status=200))
        cold, _after = _get(client, case)
        warm = [_get(client, case)[0] for _ in range(runs)]
        with CaptureQueriesContext(connection) as capture:
            _get(client, case)
        # Read now: the next request empties the connection's log.
        queries = capture.captured_queries
        slowest = max((float(q["time"]) for q in queries), default=0.0)
        with time_machine.travel(timezone.now() + timedelta(seconds=STALE_AFTER)):
            stale, recount = _get(client, case)
        print(
            f"  {case.label:<55} {_ms(cold)} {_ms(statistics.median(warm))} {_ms(max(warm))} "
            f"{_ms(stale):>12} {_ms(recount)}   {len(queries):>7} "
            f"{_ms(slowest)}",
            flush=True,
        )
        if os.environ.get("BENCH_SCALE_SQL"):
            for query in sorted(queries, key=lambda q: -float(q["time"]))[:3]:
                print(f"      {float(query['time']) * 1000:7.1f} ms  {query['sql'][:400]}")


def run():
    contacts = int(os.environ.get("BENCH_SCALE_CONTACTS", "1000000"))
    sends = int(os.environ.get("BENCH_SCALE_SENDS", "10000000"))
    runs = int(os.environ.get("BENCH_SCALE_RUNS", "5"))
    name = settings.DATABASES["default"]["NAME"]
    print(
        f"admin_scale (database: {connection.vendor} {name}; contacts: {contacts:,}; sends: {sends:,})"
    )
    if connection.vendor != "postgresql":
        print(
            "  skipped: PostgreSQL only, on a database of its own, e.g. "
            "DATABASE_URL=postgres://postgres@127.0.0.1:5432/infolettre_scale"
        )
        return
    if "scale" not in name:
        print(f"  skipped: {name} is not a database of its own (its name must contain 'scale')")
        return
    owner = User.objects.filter(email=_owner_email(contacts, sends)).first()
    if owner is None:
        print("  filling the database (once; later runs reuse it)")
        owner = _fill(contacts, sends)
    else:
        print(f"  reusing the client filled on {owner.date_joined:%Y-%m-%d %H:%M}")
    with tenant_scope(owner.tenant):
        _token, raw = do_issue_api_token(owner, "admin_scale bench")
    # The embedded default's cache (a table in the same database), as `make run` has it.
    database_cache = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "infolettre_cache",
        }
    }
    # Pages refer to static files by name: no collected manifest is needed to draw them.
    storages = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(CACHES=database_cache, STORAGES=storages):
        call_command("createcachetable", verbosity=0)
        _time_pages(owner, raw, runs)
