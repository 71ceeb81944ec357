"""Messages per second per client, one allowance shared by every worker.

With Redis (REDIS_URL), each message reserves the next free slot of the client's schedule in Redis:
slots are 1/rate seconds apart on Redis's own clock, whichever worker or machine asks, so no window
of one second holds more than `rate` slots. Without Redis, a count per second in Django's cache
(the database table) does the same job less strictly: two processes may read the count together.
"""

import time

from django.conf import settings
from django.core.cache import cache

# KEYS[1]: the client's next free slot, in microseconds of Redis's clock (TIME). ARGV[1]: the
# microseconds this reservation takes. Returns how long the caller waits for its slot.
RESERVE_SLOT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local slot = tonumber(redis.call('GET', KEYS[1]) or '0')
if slot < now then slot = now end
local after = slot + tonumber(ARGV[1])
redis.call('SET', KEYS[1], string.format('%d', after), 'PX', math.floor((after - now) / 1000) + 1000)
return slot - now
"""

RATE_KEY = "infolettre:send-rate:{}"

_scripts = {}


class ThrottleUnavailable(Exception):
    """The shared allowance cannot be read (Redis is unreachable): nothing may be sent for now."""


def _reserve_script(url):
    # One client per process and URL; redis-py reopens its connections after a fork (RQ's workers).
    if url not in _scripts:
        import redis

        client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        _scripts[url] = client.register_script(RESERVE_SLOT)
    return _scripts[url]


def acquire_send_slots(tenant_id, count=1, rate=None):
    """Wait until `count` messages fit in the client's allowance; raise ThrottleUnavailable."""
    rate = rate if rate is not None else settings.CAMPAIGN_RATE_PER_SECOND
    if not rate:
        return
    if settings.REDIS_URL:
        _reserve_in_redis(tenant_id, count, rate)
    else:
        _count_in_cache(tenant_id, count, rate)


def _reserve_in_redis(tenant_id, count, rate):
    import redis

    # Rounded up, so that `rate` slots never fit in less than one second.
    spacing = -(-count * 1_000_000 // rate)
    try:
        wait = _reserve_script(settings.REDIS_URL)(
            keys=[RATE_KEY.format(tenant_id)], args=[spacing]
        )
    except redis.RedisError as error:
        raise ThrottleUnavailable(str(error)) from error
    if wait > 0:
        time.sleep(wait / 1_000_000)


def _count_in_cache(tenant_id, count, rate):
    while True:
        second = int(time.time())
        key = f"send-rate:{tenant_id}:{second}"
        cache.add(key, 0, timeout=5)
        if cache.incr(key, count) <= rate:
            return
        time.sleep(max(0.0, second + 1 - time.time()))
