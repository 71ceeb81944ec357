"""Both ways of counting opens and clicks, for tests that must give the same figures either way:
written to the tables at once (no REDIS_URL, the default), or counted in Redis then flushed."""

import contextlib
import os
import uuid

import pytest
import redis

from infolettre.campaigns.tracking_counters import do_flush_tracking_counters

# A database number of its own, and a prefix per test, so that nothing else in Redis is touched.
REDIS_TEST_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def redis_keys(prefix):
    """Every key of the test's counters (names and values), to look into what Redis holds."""
    client = redis.Redis.from_url(REDIS_TEST_URL)
    return {key: client.hgetall(key) for key in client.scan_iter(match=f"{prefix}:*")}


@contextlib.contextmanager
def _counted_in_redis(settings):
    client = redis.Redis.from_url(REDIS_TEST_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"no Redis at {REDIS_TEST_URL} (.ci/run starts one)")
    prefix = f"test-tracking-{uuid.uuid4().hex}"
    settings.REDIS_URL = REDIS_TEST_URL
    settings.TRACKING_COUNTER_PREFIX = prefix
    try:
        yield "redis"
    finally:
        for key in client.scan_iter(match=f"{prefix}:*"):
            client.delete(key)


@pytest.fixture(params=["tables", "redis"])
def counting(request, settings):
    """Hits go to the tables at once ("tables"), or to Redis until `flush()` ("redis")."""
    if request.param == "tables":
        settings.REDIS_URL = ""
        yield "tables"
        return
    with _counted_in_redis(settings) as way:
        yield way


@pytest.fixture
def redis_counting(settings):
    """Hits go to Redis until `flush()`."""
    with _counted_in_redis(settings) as way:
        yield way


def flush():
    """Move what Redis counted into the tables (nothing to do without Redis)."""
    do_flush_tracking_counters()
