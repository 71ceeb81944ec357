"""`make loadtest`: the click redirect and the unsubscribe page under concurrent load, on loopback.

1. A fresh PostgreSQL database (LOADTEST_DATABASE_URL; its name must contain "loadtest", it is
   dropped and made again) and Redis (LOADTEST_REDIS_URL; keys under "loadtest" only, removed
   before and after; set it empty to measure without Redis, the cache then in a table).
2. One organisation, LOADTEST_RECIPIENTS contacts on a list, two campaigns recorded as sent to all
   of them: one counting in aggregate (one link), one per recipient (one link each).
3. gunicorn on 127.0.0.1:LOADTEST_PORT with `infolettre.settings.loadtest` (production's settings,
   DEBUG off, plain HTTP) and LOADTEST_GUNICORN's worker options.
4. wrk (loadtest/wrk.lua) for each scenario: a warm-up, then LOADTEST_SECONDS of measure; each
   token of a distinct-token scenario is used once until the list runs out (reported as "wraps").
5. The counts moved from Redis into the tables are checked against the requests answered.

Prints requests per second, p50 and p99 latency and the errors (connection errors, timeouts and
answers other than 2xx/3xx) of each scenario. Exits 1 when any request failed or a count is wrong.
"""

import base64
import datetime
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "var" / "loadtest"
LUA = Path(__file__).resolve().parent / "wrk.lua"

DATABASE_URL = os.environ.get(
    "LOADTEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/infolettre_loadtest"
)
REDIS_URL = os.environ.get("LOADTEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PORT = int(os.environ.get("LOADTEST_PORT", "8765"))
SECONDS = int(os.environ.get("LOADTEST_SECONDS", "15"))
WARMUP_SECONDS = int(os.environ.get("LOADTEST_WARMUP_SECONDS", "3"))
CONNECTIONS = int(os.environ.get("LOADTEST_CONNECTIONS", "32"))
WRK_THREADS = int(os.environ.get("LOADTEST_WRK_THREADS", "1"))
RECIPIENTS = int(os.environ.get("LOADTEST_RECIPIENTS", "30000"))
# Chosen by measurement on 2 cores (README, "Hot endpoints and make loadtest").
GUNICORN = os.environ.get("LOADTEST_GUNICORN", "--workers 4 --worker-class gthread --threads 4")
KEY_PREFIX = "loadtest"
LINK = "https://example.org/offre-du-printemps"
TARGET_RPS, TARGET_P99_MS = 2000, 50


def environment():
    """The variables of every process of the run: production's settings with made-up secrets."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "infolettre.settings.loadtest",
        "DATABASE_URL": DATABASE_URL,
        "REDIS_URL": REDIS_URL,
        "LOADTEST_CACHE_PREFIX": KEY_PREFIX,
        "TRACKING_COUNTER_PREFIX": f"{KEY_PREFIX}:tracking",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEYS": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "SITE_URL": f"http://127.0.0.1:{PORT}",
        "PYTHONUNBUFFERED": "1",
    }


def fresh_database():
    import psycopg

    url = urlsplit(DATABASE_URL)
    name = url.path.lstrip("/")
    if "loadtest" not in name:
        sys.exit(f"LOADTEST_DATABASE_URL must name a database called *loadtest*, not {name!r}")
    server = url._replace(path="/postgres").geturl()
    try:
        connection = psycopg.connect(server, autocommit=True)
    except psycopg.OperationalError as error:
        sys.exit(f"PostgreSQL does not answer at {url.hostname}:{url.port or 5432}: {error}")
    with connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def clear_redis():
    if not REDIS_URL:
        return
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError as error:
        sys.exit(
            f"Redis does not answer at {REDIS_URL}: {error} (LOADTEST_REDIS_URL= runs without)"
        )
    for key in client.scan_iter(match=f"{KEY_PREFIX}*", count=1000):
        client.delete(key)


def seed():
    """One organisation, its contacts, two campaigns sent to them; write the paths to request."""
    from django.utils import timezone

    from infolettre.accounts.actions import do_register_organisation
    from infolettre.accounts.tenancy import tenant_scope
    from infolettre.audience.actions import do_create_list
    from infolettre.audience.models import (
        ConsentBasis,
        Contact,
        Subscription,
        SubscriptionStatus,
    )
    from infolettre.campaigns.models import (
        Campaign,
        CampaignStatus,
        Delivery,
        DeliveryStatus,
        SenderAddress,
        TrackingMode,
    )
    from infolettre.campaigns.tracking import Tracker, ensure_links, recipient_part
    from infolettre.campaigns.unsubscribe import unsubscribe_url

    owner = do_register_organisation(
        {
            "name": "Camille Charge",
            "title": "Directrice",
            "email": "owner@loadtest.example",
            "company_name": "Charge Inc.",
            "address": "100 rue Saint-Paul, Montréal (Québec) H2Y 1Z1",
            "phone": "+15145550123",
            "website": "https://example.org",
        },
        secrets.token_urlsafe(16),
        consents={},
        source="loadtest",
    )
    tenant, now = owner.tenant, timezone.now()
    sent_at = now - datetime.timedelta(hours=1)
    with tenant_scope(tenant):
        readers = do_create_list(tenant, name="Lecteurs")
        Contact.objects.bulk_create(
            [
                Contact(tenant=tenant, email=f"reader{n}@loadtest.example", name=f"Reader {n}")
                for n in range(RECIPIENTS)
            ],
            batch_size=5000,
        )
        contacts = list(Contact.objects.order_by("pk").values_list("pk", "email"))
        Subscription.objects.bulk_create(
            [
                Subscription(
                    tenant=tenant,
                    contact_id=pk,
                    mailing_list=readers,
                    status=SubscriptionStatus.SUBSCRIBED,
                    consent_basis=ConsentBasis.EXPRESS,
                    consent_at=now,
                    confirmed_at=now,
                    consent_source="loadtest",
                )
                for pk, _email in contacts
            ],
            batch_size=5000,
        )
        sender = SenderAddress.objects.create(
            tenant=tenant, email="news@loadtest.example", name="News", verified_at=now
        )
        campaigns = {}
        for mode in (TrackingMode.AGGREGATE, TrackingMode.PER_RECIPIENT):
            campaign = Campaign.objects.create(
                tenant=tenant,
                name=f"Printemps ({mode})",
                subject="Le printemps",
                sender=sender,
                html=f'<p><a href="{LINK}">Offre</a></p>',
                status=CampaignStatus.SENT,
                started_at=sent_at,
                finished_at=sent_at,
                tracking=mode,
                recipient_count=len(contacts),
            )
            campaign.lists.add(readers)
            Delivery.objects.bulk_create(
                [
                    Delivery(
                        tenant=tenant,
                        campaign=campaign,
                        contact_id=pk,
                        email=email,
                        status=DeliveryStatus.SENT,
                        sent_at=sent_at,
                    )
                    for pk, email in contacts
                ],
                batch_size=5000,
            )
            campaigns[mode] = campaign

    def path(url):
        return urlsplit(url).path

    aggregate = campaigns[TrackingMode.AGGREGATE]
    link_id = ensure_links(aggregate, [LINK])[LINK]
    write_paths("click-aggregate", [path(Tracker(aggregate).click_url(link_id))])
    per_recipient = campaigns[TrackingMode.PER_RECIPIENT]
    link_id = ensure_links(per_recipient, [LINK])[LINK]
    tracker = Tracker(per_recipient)
    deliveries = list(Delivery.unscoped.filter(campaign=per_recipient).order_by("pk"))
    write_paths(
        "click-recipients",
        [
            path(tracker.click_url(link_id).replace(tracker.marker, "." + recipient_part(d)))
            for d in deliveries
        ],
    )
    unsubscribe = [path(unsubscribe_url(d)) for d in deliveries]
    write_paths("unsubscribe", unsubscribe)
    # Warm-ups take their tokens from the end of the list, the measured runs from the start.
    write_paths("unsubscribe-warmup", unsubscribe[-len(unsubscribe) // 4 :])
    return {"aggregate": aggregate.pk, "per_recipient": per_recipient.pk}


def write_paths(name, paths):
    (WORK / f"{name}.txt").write_text("\n".join(paths) + "\n")


def wait_for_server(process, path):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"gunicorn stopped at start; see {WORK / 'gunicorn.log'}")
        try:
            with socket.create_connection(("127.0.0.1", PORT), timeout=1):
                pass
            request = urllib.request.Request(f"http://127.0.0.1:{PORT}{path}", method="HEAD")
            urllib.request.urlopen(request, timeout=5)  # noqa: S310 (loopback)
            return
        except urllib.error.HTTPError:
            return  # it answers (a redirect it does not follow counts as an answer)
        except OSError:
            time.sleep(0.3)
    sys.exit("gunicorn did not answer within 60 seconds")


def wrk(paths_file, seconds, method="GET", body=None):
    """Run wrk for `seconds` over the paths of a file, in order; its figures as a dict."""
    env = {
        **os.environ,
        "LOADTEST_PATHS": str(WORK / f"{paths_file}.txt"),
        "LOADTEST_METHOD": method,
        "LOADTEST_THREADS": str(WRK_THREADS),
    }
    if body is not None:
        env["LOADTEST_BODY"] = body
    command = [
        "wrk",
        f"-t{WRK_THREADS}",
        f"-c{CONNECTIONS}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        f"http://127.0.0.1:{PORT}",
    ]
    out = subprocess.run(  # noqa: S603 (our own command line)
        command, env=env, capture_output=True, text=True, check=True
    ).stdout
    figures = json.loads(out.strip().splitlines()[-1])
    figures["errors"] = sum(figures[k] for k in ("connect", "read", "write", "status", "timeout"))
    figures["rps"] = figures["requests"] / (figures["duration_us"] / 1e6)
    return figures


def scenarios():
    """(name, paths file, method, body, warmed up first, each path a new token) of each scenario."""
    one_click = "List-Unsubscribe=One-Click"
    return [
        ("click redirect (aggregate link)", "click-aggregate", "GET", None, True, False),
        (
            "click redirect (per recipient, new tokens)",
            "click-recipients",
            "GET",
            None,
            False,
            True,
        ),
        ("unsubscribe GET (first view, new tokens)", "unsubscribe", "GET", None, True, True),
        ("unsubscribe GET (seen again)", "unsubscribe-seen", "GET", None, False, False),
        ("unsubscribe POST one-click (new tokens)", "unsubscribe", "POST", one_click, True, True),
    ]


def run_scenarios():
    results = []
    for name, paths, method, body, warm_up, distinct in scenarios():
        warmed = 0
        if warm_up:
            warm = paths if paths == "click-aggregate" else "unsubscribe-warmup"
            warmed = wrk(warm, WARMUP_SECONDS, method, body)["requests"]
        figures = wrk(paths, SECONDS, method, body)
        figures["name"], figures["distinct"], figures["warmed"] = name, distinct, warmed
        results.append(figures)
        if name.startswith("unsubscribe GET (first"):
            seen = (WORK / "unsubscribe.txt").read_text().splitlines()[: figures["requests"]]
            write_paths("unsubscribe-seen", seen)
        print(f"  {report_line(figures)}  load {os.getloadavg()[0]:.1f}", flush=True)
    return results


def report_line(f):
    errors = f"{f['errors']} ({f['status']} non-2xx/3xx)"
    wraps = f"  tokens reused: {f['wraps']}x" if f["distinct"] and f["wraps"] else ""
    return (
        f"{f['name']:<44} {f['rps']:>8.0f} req/s   p50 {f['p50_us'] / 1000:>6.1f} ms   "
        f"p99 {f['p99_us'] / 1000:>6.1f} ms   errors {errors:<14} "
        f"({f['requests']} requests){wraps}"
    )


def check_counts(campaign_ids, results):
    """The hits counted (moved from Redis first) against the requests wrk saw answered."""
    from django.db.models import Sum

    from infolettre.campaigns.models import ClickCount, Delivery, DeliveryEngagement
    from infolettre.campaigns.tracking_counters import do_flush_tracking_counters

    do_flush_tracking_counters()
    problems = []
    answered = results[0]["requests"] + results[0]["warmed"]
    counted = (
        ClickCount.unscoped.filter(campaign_id=campaign_ids["aggregate"]).aggregate(
            n=Sum("people")
        )["n"]
        or 0
    )
    # wrk stops with requests in flight: the server may have counted up to one per connection more.
    print(f"  aggregate clicks counted: {counted} for {answered} redirects answered to wrk")
    if not answered <= counted <= answered + 2 * CONNECTIONS:
        problems.append("aggregate clicks")
    clicked = DeliveryEngagement.unscoped.filter(
        campaign_id=campaign_ids["per_recipient"], first_clicked_at__isnull=False
    ).count()
    wanted = min(results[1]["requests"], results[1]["paths"])
    print(f"  recipients with a first click: {clicked} for {wanted} distinct tokens answered")
    if not wanted <= clicked <= wanted + CONNECTIONS:
        problems.append("first clicks")
    left = Delivery.unscoped.filter(
        campaign_id=campaign_ids["per_recipient"], unsubscribed_at__isnull=False
    ).count()
    warm_tokens = len((WORK / "unsubscribe-warmup.txt").read_text().splitlines())
    posted = min(results[4]["requests"], results[4]["paths"]) + min(
        results[4]["warmed"], warm_tokens
    )
    print(f"  deliveries unsubscribed: {left} for {posted} distinct one-click POSTs answered")
    if not posted <= left <= posted + 2 * CONNECTIONS:
        problems.append("unsubscribes")
    return problems


def main():
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install wrk (make loadtest does it)")
    WORK.mkdir(parents=True, exist_ok=True)
    env = environment()
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    fresh_database()
    clear_redis()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    if not REDIS_URL:
        call_command("createcachetable", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    campaign_ids = seed()

    from django.db import connection

    engine = f"PostgreSQL {connection.cursor().connection.info.server_version // 10000}"
    connection.close()
    print("Infolettre load test, on loopback")
    print(f"  database: {engine}, {urlsplit(DATABASE_URL).path.lstrip('/')}")
    print(
        "  counters and cache: "
        + (
            f"Redis ({REDIS_URL})"
            if REDIS_URL
            else "no Redis: hits written to the tables, cache in a table"
        )
    )
    print(f"  gunicorn {GUNICORN}, settings infolettre.settings.loadtest (DEBUG off)")
    print(
        f"  wrk: {WRK_THREADS} thread(s), {CONNECTIONS} connections, {SECONDS} s per scenario "
        f"after a {WARMUP_SECONDS} s warm-up; {RECIPIENTS} recipients"
    )
    # wrk, gunicorn, PostgreSQL and Redis share this machine's cores with whatever else runs.
    print(f"  {os.cpu_count()} cores; load average (1 min) before: {os.getloadavg()[0]:.1f}")
    log = (WORK / "gunicorn.log").open("w")
    server = subprocess.Popen(  # noqa: S603 (our own command line)
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "infolettre.wsgi",
            "--bind",
            f"127.0.0.1:{PORT}",
            *GUNICORN.split(),
            "--no-control-socket",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_server(server, "/")
        results = run_scenarios()
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
    problems = check_counts(campaign_ids, results)
    click = results[0]
    met = click["rps"] >= TARGET_RPS and click["p99_us"] / 1000 < TARGET_P99_MS
    print(
        f"  target (click redirect >= {TARGET_RPS} req/s, p99 < {TARGET_P99_MS} ms, no error): "
        + ("met" if met and not click["errors"] else "not met")
    )
    clear_redis()
    failed = sum(r["errors"] for r in results)
    if failed or problems:
        sys.exit(f"load test failed: {failed} failed requests; wrong counts: {problems or 'none'}")


if __name__ == "__main__":
    main()
