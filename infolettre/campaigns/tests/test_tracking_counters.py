"""With Redis, a click or an open touches no table: it is counted there, and the flush moves the
counts into the tables exactly once, whatever crash comes between."""

from datetime import timedelta

import pytest
import redis
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from infolettre.campaigns import tracking_counters
from infolettre.campaigns.models import (
    Campaign,
    ClickCount,
    Delivery,
    DeliveryEngagement,
    OpenCount,
    TrackingFlush,
)
from infolettre.campaigns.tests.counting import REDIS_TEST_URL, flush, redis_keys
from infolettre.campaigns.tests.test_tracking import (
    BROWSER,
    campaign,  # noqa: F401 (a fixture)
    click_paths,
    launch,
    pixel_path,
    sent_html,
)
from infolettre.campaigns.tracking_actions import do_set_tracking
from infolettre.campaigns.tracking_counters import do_flush_tracking_counters


@pytest.fixture
def aggregate(owner, campaign, smtp_server, django_capture_on_commit_callbacks):  # noqa: F811
    """A campaign counting in aggregate, sent; its first link and its pixel."""
    do_set_tracking(owner, count_opens_and_clicks=True, per_recipient=False)
    launch(owner, campaign, django_capture_on_commit_callbacks)
    html, _text = sent_html(smtp_server)
    return click_paths(html)[0], pixel_path(html)


def counts():
    """What the tables hold: clicks and opens (people, machines)."""
    return (
        list(ClickCount.unscoped.values_list("people", "machines")),
        list(OpenCount.unscoped.values_list("people", "machines")),
    )


def pending(settings):
    return [key for key in redis_keys(settings.TRACKING_COUNTER_PREFIX) if b":pending:" in key]


def test_clicks_and_opens_touch_no_table_until_the_flush(
    client, settings, redis_counting, aggregate
):
    """Once a link is in the cache, a click and an open run no SQL at all; the flush then writes
    the exact counts, and a second flush adds nothing."""
    click, pixel = aggregate
    assert client.get(click, HTTP_USER_AGENT=BROWSER).status_code == 302  # fills the cache
    assert client.get(pixel, HTTP_USER_AGENT=BROWSER).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert client.get(click, HTTP_USER_AGENT=BROWSER).status_code == 302
        assert client.get(click, HTTP_USER_AGENT="curl/8.5").status_code == 302
        assert client.get(pixel, HTTP_USER_AGENT=BROWSER).status_code == 200
    assert [q["sql"] for q in queries.captured_queries] == []
    assert counts() == ([], [])

    flush()
    assert counts() == ([(2, 1)], [(2, 0)])
    flush()
    assert counts() == ([(2, 1)], [(2, 0)])
    assert redis_keys(settings.TRACKING_COUNTER_PREFIX) == {}


def test_a_crash_before_the_commit_loses_no_hit(
    client, settings, monkeypatch, redis_counting, aggregate
):
    """A flush that dies while writing leaves its batch in Redis; the next one applies it."""
    click, _pixel = aggregate
    for _ in range(3):
        client.get(click, HTTP_USER_AGENT=BROWSER)

    def crash(*args):
        raise RuntimeError("the database went away")

    with monkeypatch.context() as patch:
        patch.setattr(tracking_counters, "_add_counts", crash)
        with pytest.raises(RuntimeError):
            do_flush_tracking_counters()
    assert counts() == ([], [])
    assert TrackingFlush.objects.count() == 0
    assert len(pending(settings)) == 1

    assert do_flush_tracking_counters() == 1
    assert counts() == ([(3, 0)], [])
    assert pending(settings) == []


def test_a_crash_after_the_commit_counts_nothing_twice(
    client, settings, monkeypatch, redis_counting, aggregate
):
    """A flush that dies between its commit and deleting the batch leaves a batch already
    applied: the next flush recognises its id, deletes it and adds nothing."""
    click, _pixel = aggregate
    for _ in range(3):
        client.get(click, HTTP_USER_AGENT=BROWSER)
    real_delete = redis.Redis.delete

    def crash(self, *names):
        if any(b":pending:" in (n if isinstance(n, bytes) else n.encode()) for n in names):
            raise redis.ConnectionError("the process was killed")
        return real_delete(self, *names)

    with monkeypatch.context() as patch:
        patch.setattr(redis.Redis, "delete", crash)
        with pytest.raises(redis.ConnectionError):
            do_flush_tracking_counters()
    assert counts() == ([(3, 0)], [])
    assert len(pending(settings)) == 1

    assert do_flush_tracking_counters() == 0
    assert counts() == ([(3, 0)], [])
    assert pending(settings) == []
    assert TrackingFlush.objects.count() == 1


def test_a_hit_during_a_flush_goes_to_the_next_batch(
    client, settings, monkeypatch, redis_counting, aggregate
):
    """The live hash is renamed before it is read: a click arriving meanwhile is counted once,
    by the next flush."""
    click, _pixel = aggregate
    client.get(click, HTTP_USER_AGENT=BROWSER)
    real_hgetall = redis.Redis.hgetall

    def click_meanwhile(self, name):
        monkeypatch.setattr(redis.Redis, "hgetall", real_hgetall)
        assert client.get(click, HTTP_USER_AGENT=BROWSER).status_code == 302
        return real_hgetall(self, name)

    monkeypatch.setattr(redis.Redis, "hgetall", click_meanwhile)
    assert do_flush_tracking_counters() == 1
    assert counts() == ([(1, 0)], [])
    assert do_flush_tracking_counters() == 1
    assert counts() == ([(2, 0)], [])


def test_a_second_flush_waits_while_one_holds_the_lock(client, settings, redis_counting, aggregate):
    """Two flushes at once: the one without the lock applies nothing and says so."""
    click, _pixel = aggregate
    client.get(click, HTTP_USER_AGENT=BROWSER)
    lock = f"{settings.TRACKING_COUNTER_PREFIX}:flush-lock"
    holder = redis.Redis.from_url(REDIS_TEST_URL)
    holder.set(lock, "another flush", ex=60)
    assert do_flush_tracking_counters() == 0
    assert counts() == ([], [])
    holder.delete(lock)
    assert do_flush_tracking_counters() == 1
    assert counts() == ([(1, 0)], [])


def test_counts_of_a_campaign_deleted_meanwhile_are_dropped(
    client,
    owner,
    campaign,  # noqa: F811 (the fixture)
    settings,
    redis_counting,
    aggregate,
):
    """A campaign deleted between a hit and the flush takes its counts with it; the flush goes
    on for the others."""
    click, pixel = aggregate
    client.get(click, HTTP_USER_AGENT=BROWSER)
    client.get(pixel, HTTP_USER_AGENT=BROWSER)
    Campaign.unscoped.filter(pk=campaign.pk).delete()
    assert do_flush_tracking_counters() == 1
    assert counts() == ([], [])
    assert redis_keys(settings.TRACKING_COUNTER_PREFIX) == {}


def test_per_recipient_hits_read_each_delivery_once_then_no_table(
    client,
    owner,
    campaign,  # noqa: F811 (the fixture)
    smtp_server,
    django_capture_on_commit_callbacks,
    redis_counting,
):
    """Per recipient, a recipient's first hit reads their send record once (then the cache);
    the flush records their first open and click and that the contact engaged."""
    do_set_tracking(owner, count_opens_and_clicks=True, per_recipient=True)
    launch(owner, campaign, django_capture_on_commit_callbacks)
    Delivery.unscoped.update(sent_at=timezone.now() - timedelta(minutes=5))
    html, _text = sent_html(smtp_server)
    client.get(pixel_path(html), HTTP_USER_AGENT=BROWSER)
    client.get(click_paths(html)[0], HTTP_USER_AGENT=BROWSER)
    with CaptureQueriesContext(connection) as queries:
        client.get(pixel_path(html), HTTP_USER_AGENT=BROWSER)
        client.get(click_paths(html)[1], HTTP_USER_AGENT=BROWSER)
    assert len(queries.captured_queries) == 1  # the second link, read once
    assert DeliveryEngagement.unscoped.count() == 0

    flush()
    engagement = DeliveryEngagement.unscoped.get()
    assert engagement.delivery.email == "r0@example.com"
    assert engagement.first_opened_at < engagement.first_clicked_at
    contact = engagement.delivery.contact
    assert contact.engaged_at >= engagement.first_clicked_at
    assert counts() == ([(1, 0), (1, 0)], [(2, 0)])


def test_when_redis_does_not_answer_the_hit_goes_to_the_tables(client, settings, aggregate):
    """Redis down: the redirect still answers, and the click is written to the table at once."""
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    click, _pixel = aggregate
    assert client.get(click, HTTP_USER_AGENT=BROWSER).status_code == 302
    assert counts() == ([(1, 0)], [])


def test_a_worker_keeps_a_link_it_served_for_a_minute(
    client, settings, monkeypatch, redis_counting, aggregate
):
    """With TRACKING_LOCAL_SECONDS, a process answers a link it served from memory, neither Redis
    nor the table, until the time is over."""
    from django.core.cache import cache

    from infolettre.campaigns import tracking_actions

    settings.TRACKING_LOCAL_SECONDS = 60
    clock = [1000.0]
    monkeypatch.setattr(tracking_actions.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(tracking_actions, "_local", {})
    click, _pixel = aggregate
    assert client.get(click, HTTP_USER_AGENT=BROWSER).status_code == 302
    cache.clear()
    with CaptureQueriesContext(connection) as queries:
        assert client.get(click, HTTP_USER_AGENT=BROWSER).status_code == 302
    assert queries.captured_queries == []
    assert cache.get(f"tracking:link:{click.split('/')[3].split(':')[0]}") is None
    clock[0] += 61
    with CaptureQueriesContext(connection) as queries:
        assert client.get(click, HTTP_USER_AGENT=BROWSER).status_code == 302
    assert len(queries.captured_queries) == 1
