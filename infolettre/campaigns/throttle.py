"""Messages per second per client, shared by every worker through the cache."""

import time

from django.conf import settings
from django.core.cache import cache


def acquire_send_slots(tenant_id, count=1, rate=None):
    """Wait until `count` messages fit in this second's allowance for the client."""
    rate = rate if rate is not None else settings.CAMPAIGN_RATE_PER_SECOND
    if not rate:
        return
    while True:
        second = int(time.time())
        key = f"send-rate:{tenant_id}:{second}"
        cache.add(key, 0, timeout=5)
        if cache.incr(key, count) <= rate:
            return
        time.sleep(max(0.0, second + 1 - time.time()))
