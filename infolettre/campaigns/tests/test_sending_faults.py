"""Campaign sending across several workers on Redis, and through faults.

The first tests check the parts one at a time: the lease that keeps a message from leaving twice,
the watchdog that restarts a stalled campaign, the shared throttle, the delay notice. The others
start real processes: RQ workers as deploy/ runs them (`manage.py rqworker --with-scheduler`), the
SMTP server of the tests, which counts what it receives (conftest's smtp_server), and, for the
faults, a Redis and a PostgreSQL of the test's own, stopped or restarted in the middle of a
campaign. Each proves that every recipient receives exactly one message once the fault is over.

The tests on RQ need Redis on 127.0.0.1:6379 (skipped without it): each takes an empty database
number of its own (8 to 14, marked with a key) and flushes only that one. The Redis that is stopped
is a redis-server of the test's own, on another port.
"""

import os
import re
import shutil
import signal
import subprocess
import threading
import time
from datetime import datetime, timedelta

import pytest
from django.db import (
    InterfaceError,
    OperationalError,
    close_old_connections,
    connections,
    transaction,
)
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from conftest import basic_auth
from infolettre.accounts.tenancy import tenant_scope
from infolettre.audience.actions import do_create_contact, do_create_list, do_subscribe
from infolettre.campaigns.actions import do_launch_campaign
from infolettre.campaigns.delays import NOT_SENDING, RETRIES_PENDING
from infolettre.campaigns.models import (
    Campaign,
    CampaignStatus,
    Delivery,
    DeliveryStatus,
    SenderAddress,
    SendingProfile,
)
from infolettre.campaigns.pipeline import (
    LeaseLost,
    claim_batch,
    restart_stalled_campaigns,
    run_lane,
    send_one,
    transport_for,
)
from infolettre.campaigns.templating import CompiledCampaign
from infolettre.campaigns.throttle import ThrottleUnavailable, acquire_send_slots

from .processes import (
    Supervisor,
    TerminatedBackends,
    ThrowawayPostgres,
    ThrowawayRedis,
    Worker,
    database_url,
    free_port,
    postgres_bindir,
    rq_workers_listening,
    wait_for,
)

LANE_TASK = "infolettre.campaigns.tasks.send_campaign_lane"
DB_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
RQ_TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
REDIS_LOCK = "infolettre-test:sending-faults"

processes = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def make_campaign(owner, recipients, rate=None):
    """A campaign to `recipients` subscribed contacts (r000@example.com, ...), not yet launched."""
    with tenant_scope(owner.tenant):
        news = do_create_list(owner.tenant, name="News")
        for n in range(recipients):
            do_subscribe(
                do_create_contact(owner.tenant, email=f"r{n:03}@example.com"), news, source="test"
            )
        sender = SenderAddress.objects.create(
            tenant=owner.tenant, email="news@example.com", name="News", verified_at=timezone.now()
        )
        campaign = Campaign.objects.create(
            tenant=owner.tenant,
            name="C",
            subject="Hi",
            sender=sender,
            html="<p>Hi {{ contact.email }}</p>",
        )
        campaign.lists.add(news)
        if rate:
            SendingProfile.objects.create(tenant=owner.tenant, rate_per_second=rate)
    return campaign


def everyone(recipients):
    return [f"r{n:03}@example.com" for n in range(recipients)]


def received(smtp_server):
    return sorted(rcpt for _, rcpts, _ in list(smtp_server.messages) for rcpt in rcpts)


def launched(owner, campaign):
    """Launch without running a lane (the test's transaction never commits, so no lane starts)."""
    with tenant_scope(owner.tenant):
        do_launch_campaign(campaign)
    return Campaign.unscoped.get(pk=campaign.pk)


def stalled(campaign, minutes=10, **delivery_fields):
    """Make the campaign look as if its last message left `minutes` ago."""
    long_ago = timezone.now() - timedelta(minutes=minutes)
    Campaign.unscoped.filter(pk=campaign.pk).update(progressed_at=long_ago, started_at=long_ago)
    if delivery_fields:
        Delivery.unscoped.filter(campaign=campaign).update(**delivery_fields)
    return Campaign.unscoped.get(pk=campaign.pk)


def lanes_enqueued(campaign):
    return DBTaskResult.objects.filter(task_path=LANE_TASK, args_kwargs__args__0=campaign.pk)


# The lease: a message leaves from one lane only -------------------------------------------------


@pytest.mark.django_db
def test_a_lane_whose_lease_lapsed_cuts_its_message_short_and_the_new_holder_sends_it(
    owner, settings, smtp_server
):
    """Lane A's lease lapses (a throttled or stalled lane) and lane B claims the same rows: A's
    message is cut short before its final dot, so the server keeps nothing of it; B's leaves."""
    settings.CAMPAIGN_TRANSPORT_URL = smtp_server.url
    campaign = launched(owner, make_campaign(owner, 3))
    lane_a = claim_batch(campaign, 3)
    Delivery.unscoped.update(claimed_until=timezone.now() - timedelta(seconds=1))
    lane_b = claim_batch(campaign, 3)
    assert [d.pk for d in lane_b.deliveries] == [d.pk for d in lane_a.deliveries]
    with tenant_scope(owner.tenant):
        compiled, transport = CompiledCampaign(campaign), transport_for(campaign)
        with pytest.raises(LeaseLost):
            send_one(transport, compiled, campaign, lane_a.deliveries[0], lane_a)
        transport.abort()
        assert smtp_server.messages == []
        first = Delivery.unscoped.get(pk=lane_a.deliveries[0].pk)
        assert (first.status, first.claimed_until) == (DeliveryStatus.QUEUED, lane_b.until)

        assert send_one(transport, compiled, campaign, lane_b.deliveries[0], lane_b) is True
        transport.close()
    assert received(smtp_server) == ["r000@example.com"]
    assert Delivery.unscoped.get(pk=first.pk).status == DeliveryStatus.SENT


@pytest.mark.django_db
def test_a_lane_of_an_earlier_generation_stops_without_sending(owner, settings, smtp_server):
    """After a restart by the watchdog, a lane of the generation before it sends nothing."""
    settings.CAMPAIGN_TRANSPORT_URL = smtp_server.url
    campaign = launched(owner, make_campaign(owner, 3))
    Campaign.unscoped.filter(pk=campaign.pk).update(lane_generation=5)
    assert run_lane(campaign.pk, generation=4) is None
    assert smtp_server.messages == []
    assert set(Delivery.unscoped.values_list("status", flat=True)) == {DeliveryStatus.QUEUED}
    assert run_lane(campaign.pk, generation=5) is None
    assert received(smtp_server) == everyone(3)


# The watchdog ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_watchdog_restarts_a_stalled_campaign_whose_lanes_are_gone(owner, settings):
    """No message for ten minutes, messages due, no lane queued: two new lanes of a new
    generation; the campaign still counts as late until a message leaves."""
    settings.TASKS = DB_TASKS
    campaign = stalled(launched(owner, make_campaign(owner, 3)))
    generation, progressed_at = campaign.lane_generation, campaign.progressed_at
    DBTaskResult.objects.all().delete()

    assert restart_stalled_campaigns() == [campaign.pk]

    campaign.refresh_from_db()
    lanes = lanes_enqueued(campaign)
    assert campaign.lane_generation == generation + 1
    assert campaign.progressed_at == progressed_at
    assert sorted(str(lane.pk) for lane in lanes) == sorted(campaign.lane_tasks)
    assert [lane.args_kwargs["args"] for lane in lanes] == [[campaign.pk, generation + 1]] * 2
    # Its lanes wait in the queue: the next run leaves the campaign alone.
    assert restart_stalled_campaigns() == []
    assert lanes_enqueued(campaign).count() == 2


@pytest.mark.django_db
def test_the_watchdog_leaves_alone_a_campaign_that_progresses_or_waits_for_a_retry(owner, settings):
    """A message left a minute ago, or every waiting message is due later: no new lane."""
    settings.TASKS = DB_TASKS
    settings.CAMPAIGN_STALL_SECONDS = 120
    campaign = stalled(launched(owner, make_campaign(owner, 3)), minutes=1)
    DBTaskResult.objects.all().delete()
    assert restart_stalled_campaigns() == []
    stalled(campaign, next_attempt_at=timezone.now() + timedelta(minutes=5))
    assert restart_stalled_campaigns() == []
    assert lanes_enqueued(campaign).count() == 0
    assert Campaign.unscoped.get(pk=campaign.pk).status == CampaignStatus.SENDING


@pytest.mark.django_db
def test_the_watchdog_finishes_a_campaign_whose_last_lane_died_after_the_last_message(
    owner, settings
):
    """Every delivery is dealt with but the campaign still says "sending": it ends."""
    settings.TASKS = DB_TASKS
    campaign = stalled(launched(owner, make_campaign(owner, 2)), status=DeliveryStatus.SENT)
    assert restart_stalled_campaigns() == []
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    assert campaign.finished_at is not None


def test_the_scheduler_runs_the_watchdog_every_minute(settings):
    """manage.py scheduler enqueues restart_stalled_campaigns every 60 seconds."""
    from infolettre.analytics.scheduler import parse_interval

    schedule = dict(settings.PERIODIC_TASKS)["infolettre.campaigns.tasks.restart_stalled_campaigns"]
    assert parse_interval(schedule) == timedelta(seconds=60)


# The throttle ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_without_its_shared_throttle_a_lane_sends_nothing_and_postpones_its_batch(
    owner, settings, smtp_server
):
    """Redis unreachable: the client's rate cannot be kept, so nothing leaves; the batch waits
    for its retry time, unclaimed."""
    settings.CAMPAIGN_TRANSPORT_URL = smtp_server.url
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    with pytest.raises(ThrottleUnavailable):
        acquire_send_slots(owner.tenant_id, rate=5)
    campaign = launched(owner, make_campaign(owner, 3, rate=5))
    before = timezone.now()
    assert run_lane(campaign.pk) > before
    assert smtp_server.messages == []
    rows = list(Delivery.unscoped.values("status", "claimed_until", "next_attempt_at"))
    assert [(r["status"], r["claimed_until"]) for r in rows] == [(DeliveryStatus.QUEUED, None)] * 3
    assert all(r["next_attempt_at"] > before for r in rows)


# The delay notice --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_campaign_whose_messages_stopped_leaving_says_so_on_its_page_and_in_the_api(
    client, owner
):
    """Ten minutes without a message and messages due: the page says sending is delayed and why,
    in French and in English; the API gives the same state with a code."""
    campaign = stalled(launched(owner, make_campaign(owner, 3)))
    client.force_login(owner)
    page = client.get(f"/campagnes/{campaign.pk}/").content.decode()
    assert 'id="delay"' in page
    assert (
        "L’envoi est retardé : aucun message n’est parti depuis 10\xa0minutes. La file des tâches ou "
        "le serveur de courrier est injoignable, ou aucun processus d’envoi ne tourne."
    ) in page
    page = client.get(f"/campagnes/{campaign.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert (
        "Sending is delayed: no message has left for 10\xa0minutes. The task queue or the mail "
        "server is unreachable, or no sending process is running. Sending resumes by itself once "
        "they are back, and no one receives a message twice."
    ) in page

    answer = client.get(f"/api/v1/campaigns/{campaign.pk}", HTTP_ACCEPT_LANGUAGE="en").json()
    assert answer["status"] == "sending"
    assert answer["delay"]["code"] == NOT_SENDING
    assert answer["delay"]["retry_at"] is None
    assert answer["delay"]["message"].startswith("Sending is delayed: no message has left for 10")


@pytest.mark.django_db
def test_a_campaign_waiting_for_retries_says_until_when(client, owner):
    """The mail server refused the last attempts: the notice gives the time of the next one."""
    retry_at = (timezone.now() + timedelta(minutes=7)).replace(microsecond=0)
    campaign = stalled(launched(owner, make_campaign(owner, 3)), next_attempt_at=retry_at)
    answer = client.get(
        f"/api/v1/campaigns/{campaign.pk}", HTTP_ACCEPT_LANGUAGE="en", **basic_auth(owner)
    ).json()
    assert answer["delay"]["code"] == RETRIES_PENDING
    assert datetime.fromisoformat(answer["delay"]["retry_at"]) == retry_at
    local = timezone.localtime(retry_at)
    assert (
        "The mail server refused the last attempts or could not be reached"
        in (answer["delay"]["message"])
    )
    assert f"{local:%-I:%M}" in answer["delay"]["message"]


@pytest.mark.django_db
def test_a_campaign_whose_messages_leave_shows_no_delay(client, owner, settings):
    """A message left a minute ago (or the campaign is a draft): no notice, no delay."""
    settings.CAMPAIGN_STALL_SECONDS = 120
    draft = make_campaign(owner, 3)
    client.force_login(owner)
    assert 'id="delay"' not in client.get(f"/campagnes/{draft.pk}/").content.decode()
    campaign = stalled(launched(owner, draft), minutes=1)
    assert 'id="delay"' not in client.get(f"/campagnes/{campaign.pk}/").content.decode()
    assert client.get(f"/api/v1/campaigns/{campaign.pk}").json()["delay"] is None


# Real workers on Redis ---------------------------------------------------------------------------


@pytest.fixture
def machine_redis():
    """An empty database of the machine's Redis, taken for this test and flushed after it."""
    import redis

    for number in range(8, 15):
        client = redis.Redis(host="127.0.0.1", port=6379, db=number, socket_connect_timeout=2)
        try:
            free = client.dbsize() == 0 and client.set(REDIS_LOCK, os.getpid(), nx=True, ex=600)
        except redis.ConnectionError:
            pytest.skip("Redis is not running on 127.0.0.1:6379")
        if free:
            break
    else:
        pytest.skip("no empty database on the Redis of 127.0.0.1:6379")
    yield f"redis://127.0.0.1:6379/{number}"
    client.flushdb()


@pytest.fixture
def workers(tmp_path):
    """Start workers with `start(env, ...)`; each is killed at the end of the test."""
    started = []

    def start(env, **options):
        worker = Worker(env, tmp_path / f"worker-{len(started) + 1}.log", **options).start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def worker_env(smtp_server, redis_url, db_url=None, **overrides):
    """What a worker of these tests reads: settings.worker_test, with tasks and throttle on Redis.

    Lanes hand over every 5 seconds, leases last 2, a postponed message is tried again after 1,
    a campaign is stalled after 2 seconds without a message (as in this process, see
    use_rq), and a worker checks every 2 seconds that RQ's scheduler of deferred tasks runs.
    """
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "infolettre.settings.worker_test",
        "DATABASE_URL": db_url or database_url(),
        "CAMPAIGN_TRANSPORT_URL": smtp_server.url,
        "REDIS_URL": redis_url,
        "TASKS_ON_REDIS": "1",
        "CAMPAIGN_LANE_SECONDS": "5",
        "CAMPAIGN_CLAIM_SECONDS": "2",
        "CAMPAIGN_RETRY_SECONDS": "1",
        "CAMPAIGN_STALL_SECONDS": "2",
        "RQ_MAINTENANCE_SECONDS": "2",
        "PYTHONUNBUFFERED": "1",
        **overrides,
    }


def use_rq(settings, redis_url):
    """This process enqueues (the launch, the watchdog) where the workers take their tasks."""
    settings.TASKS = RQ_TASKS
    settings.RQ_QUEUES = {"default": {"URL": redis_url}}
    settings.CAMPAIGN_STALL_SECONDS = 2


def status_of(campaign):
    """The campaign's status, or None while the database cannot be reached."""
    try:
        return Campaign.unscoped.values_list("status", flat=True).get(pk=campaign.pk)
    except (OperationalError, InterfaceError):
        close_old_connections()
        for conn in connections.all():
            conn.close()
        return None


def watchdog():
    """What manage.py scheduler does every minute (restart_stalled_campaigns), every turn here."""
    try:
        restart_stalled_campaigns()
    except (OperationalError, InterfaceError):
        for conn in connections.all():
            conn.close()


@processes
def test_a_launch_reaches_the_rq_queue_only_once_committed(owner, settings, machine_redis):
    """django-tasks-rq enqueues at once; the launch waits for its commit (on_commit), so a
    worker never takes a lane of a campaign whose send queue it cannot see yet."""
    import redis
    from rq import Queue

    use_rq(settings, machine_redis)
    queue = Queue("default", connection=redis.Redis.from_url(machine_redis))
    campaign = make_campaign(owner, 2)
    with transaction.atomic(), tenant_scope(owner.tenant):
        do_launch_campaign(campaign)
        assert queue.count == 0
    campaign.refresh_from_db()
    assert sorted(queue.job_ids) == sorted(campaign.lane_tasks)
    assert len(campaign.lane_tasks) == 2


@processes
def test_two_rq_workers_one_killed_mid_campaign_send_each_message_once(
    owner, settings, smtp_server, machine_redis, workers
):
    """Two RQ workers send a campaign; one is SIGKILLed (with its work horse) while the server
    takes one of its messages, its lane in the middle of a batch; the other finishes, and each of
    the 200 addresses receives one message."""
    recipients = 200
    use_rq(settings, machine_redis)
    env = worker_env(smtp_server, machine_redis)
    # The survivor runs RQ's scheduler (deferred lanes); the victim runs none, so that its death
    # costs nothing but its lane.
    survivor = workers(env)
    victim = workers(env, scheduler=False)
    campaign = make_campaign(owner, recipients)
    killed_at, peer = [], []
    take_data = smtp_server.handle_DATA

    async def note_the_sender(server, session, envelope):
        peer[:] = [session.peer]
        return await take_data(server, session, envelope)

    def kill_the_victim_mid_lane(count):
        # Only while the server takes one of the victim's own messages, as in
        # test_worker_killed: the victim then waits for the answer, and its next "sent" mark
        # comes only after it (see the README on the instant between a mark and its final dot).
        if not killed_at and count >= 57 and victim.connected_from(peer[0][1]):
            killed_at.append(count)
            victim.kill()

    smtp_server.handle_DATA = note_the_sender
    smtp_server.on_message = kill_the_victim_mid_lane
    assert rq_workers_listening(machine_redis, 2), Supervisor([survivor, victim]).report()
    with tenant_scope(owner.tenant):
        do_launch_campaign(campaign)

    done = wait_for(lambda: status_of(campaign) == CampaignStatus.SENT, 90)
    assert done, Supervisor([survivor, victim]).report()
    assert killed_at and victim.process.returncode == -signal.SIGKILL
    assert survivor.alive()
    assert received(smtp_server) == everyone(recipients)
    assert Delivery.unscoped.filter(status=DeliveryStatus.SENT).count() == recipients


@processes
def test_the_rate_of_a_client_holds_across_two_rq_workers(
    owner, settings, smtp_server, machine_redis, workers
):
    """Two messages a second for the client, two workers sending at once: the server never
    receives more than two in any one second (one more is tolerated, below)."""
    rate, recipients = 2, 24
    use_rq(settings, machine_redis)
    env = worker_env(smtp_server, machine_redis)
    first, second = workers(env), workers(env)
    campaign = make_campaign(owner, recipients, rate=rate)
    arrivals = []
    smtp_server.on_message = lambda count: arrivals.append(time.monotonic())
    assert rq_workers_listening(machine_redis, 2), Supervisor([first, second]).report()
    with tenant_scope(owner.tenant):
        do_launch_campaign(campaign)

    done = wait_for(lambda: status_of(campaign) == CampaignStatus.SENT, 90)
    assert done, Supervisor([first, second]).report()
    assert received(smtp_server) == everyone(recipients)
    # Both workers sent lanes of the campaign, side by side (each lane runs for 5 seconds).
    for worker in (first, second):
        assert "send_campaign_lane" in worker.log.read_text()
    # Slots are granted half a second apart on Redis's clock; a message reaches the server some
    # milliseconds after its slot, more or fewer with the machine's load, so two arrivals may come
    # closer than half a second: a one-second window may hold one message more than the rate
    # (two more would take a delay varying by over half a second). A limiter per process would
    # let each worker send two a second: four.
    busiest = max(sum(1 for other in arrivals if start <= other < start + 1) for start in arrivals)
    assert busiest <= rate + 1, arrivals
    assert arrivals[-1] - arrivals[0] >= (recipients - 1) / rate - 0.5


@processes
def test_redis_stopped_mid_campaign_delays_it_then_nothing_is_lost_or_sent_twice(
    client, owner, settings, smtp_server, workers
):
    """The Redis of the task queue and the throttle stops (and forgets every task, having no
    persistence) after the 40th message: the campaign's page says sending is delayed. Redis starts
    again; the workers reconnect (or are restarted, as systemd would), the watchdog restarts the
    lanes, and every address has received exactly one message."""
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed")
    recipients, stop_at = 100, 40
    redis_server = ThrowawayRedis()
    redis_server.start()
    try:
        use_rq(settings, redis_server.url)
        env = worker_env(smtp_server, redis_server.url)
        supervisor = Supervisor([workers(env), workers(env)])
        campaign = make_campaign(owner, recipients, rate=25)
        stopped = threading.Event()

        def stop_redis(count):
            if count == stop_at:
                redis_server.stop()
                stopped.set()

        smtp_server.on_message = stop_redis
        assert rq_workers_listening(redis_server.url, 2), supervisor.report()
        with tenant_scope(owner.tenant):
            do_launch_campaign(campaign)
        assert stopped.wait(60), supervisor.report()

        client.force_login(owner)

        def notice():
            page = client.get(f"/campagnes/{campaign.pk}/", HTTP_ACCEPT_LANGUAGE="en")
            found = re.search(r'<div[^>]*id="delay"[^>]*><p>([^<]*)</p>', page.content.decode())
            return found and found[1]

        unreachable = "The task queue or the mail server is unreachable"
        assert wait_for(lambda: unreachable in (notice() or ""), 30, between=supervisor), (
            supervisor.report()
        )
        assert len(received(smtp_server)) < recipients

        redis_server.start()
        done = wait_for(
            lambda: status_of(campaign) == CampaignStatus.SENT,
            90,
            every=1,
            between=lambda: (supervisor(), watchdog()),
        )
        assert done, supervisor.report()
        assert received(smtp_server) == everyone(recipients)
        assert notice() is None
    finally:
        redis_server.stop()


@pytest.fixture
def restartable_postgres(db):
    """A PostgreSQL the test may restart: a cluster of the test's own holding a copy of the test
    database, to which this process's connection points while the test runs. Where no cluster
    can be made (no server programs, no `postgres` account for initdb), the test database itself,
    whose restart is stood in for by cutting every connection to it (pg_terminate_backend)."""
    default = connections["default"]
    if default.vendor != "postgresql":
        pytest.skip("a PostgreSQL restart: SQLite has no server to restart")
    original = dict(default.settings_dict)
    bindir = postgres_bindir()
    server = None
    try:
        if bindir is not None:
            server = ThrowawayPostgres(bindir)
            server.start()
    except (OSError, KeyError, subprocess.CalledProcessError):
        if server is not None:
            server.stop()
        server = None
    if server is None:
        yield TerminatedBackends(original)
        return
    try:
        copy = server.copy_database(original, "infolettre_faults")
        default.close()
        default.settings_dict.update(copy)
        yield server
    finally:
        default.close()
        default.settings_dict.clear()
        default.settings_dict.update(original)
        server.stop()


@processes
def test_postgresql_restarted_mid_campaign_loses_nothing_and_sends_nothing_twice(
    make_client_user, settings, smtp_server, machine_redis, workers, restartable_postgres
):
    """PostgreSQL restarts (a clean restart, as for an upgrade) after the 40th message: lanes
    lose their connection and end; the workers stay up, the watchdog restarts the lanes on new
    connections, and every address has received exactly one message."""
    recipients, restart_at = 100, 40
    use_rq(settings, machine_redis)
    owner = make_client_user()
    db_url = database_url(connections["default"].settings_dict)
    env = worker_env(smtp_server, machine_redis, db_url=db_url)
    supervisor = Supervisor([workers(env), workers(env)])
    campaign = make_campaign(owner, recipients, rate=25)
    restarts = []

    def restart_postgres(count):
        if count == restart_at:
            restarts.append(restartable_postgres.restart())

    smtp_server.on_message = restart_postgres
    assert rq_workers_listening(machine_redis, 2), supervisor.report()
    with tenant_scope(owner.tenant):
        do_launch_campaign(campaign)
    assert wait_for(lambda: restarts, 60), supervisor.report()
    assert restarts[0].wait(timeout=60) == 0

    done = wait_for(
        lambda: status_of(campaign) == CampaignStatus.SENT,
        90,
        every=1,
        between=lambda: (supervisor(), watchdog()),
    )
    assert done, supervisor.report()
    assert received(smtp_server) == everyone(recipients)
    # The workers themselves lived through it: only their lanes ended.
    assert [worker.starts for worker in supervisor.workers] == [1, 1]
