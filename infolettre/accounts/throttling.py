"""Sign-in throttling against password guessing, per address and per network, kept only briefly."""

from django.conf import settings
from django.core.cache import cache

from infolettre.errors import Throttled
from infolettre.privacy.pseudonymise import keyed_hash, truncate_ip

from .errors import SignInThrottled


def _keys(email, ip):
    keys = [f"signin-fail:e:{keyed_hash(email.strip().lower(), 'sign-in-throttle')}"]
    if network := truncate_ip(ip or ""):
        keys.append(f"signin-fail:n:{keyed_hash(network, 'sign-in-throttle')}")
    return keys


def check_sign_in_allowed(email, ip):
    # A network is shared by a whole office behind one address, so it gets a larger allowance.
    limits = [settings.LOGIN_FAILURE_LIMIT, settings.LOGIN_NETWORK_FAILURE_LIMIT]
    counts = cache.get_many(keys := _keys(email, ip))
    if any(counts.get(key, 0) >= limit for key, limit in zip(keys, limits, strict=False)):
        raise SignInThrottled()


def record_sign_in_failure(email, ip):
    for key in _keys(email, ip):
        if not cache.add(key, 1, settings.LOGIN_FAILURE_WINDOW):
            try:
                cache.incr(key)
            except ValueError:
                cache.set(key, 1, settings.LOGIN_FAILURE_WINDOW)


def clear_sign_in_failures(email):
    cache.delete(_keys(email, None)[0])


def count_network_request(ip, purpose, limit, window):
    """Count one request of this network (/24, /48) for a purpose; Throttled past `limit` in `window`.

    Like sign-in throttling: only a keyed hash of the truncated address, kept only for the window.
    """
    key = f"rate:{purpose}:n:{keyed_hash(truncate_ip(ip or ''), f'{purpose}-throttle')}"
    if cache.add(key, 1, window):
        return
    try:
        count = cache.incr(key)
    except ValueError:
        cache.set(key, 1, window)
        return
    if count > limit:
        raise Throttled()


def check_network_allowed(ip, purpose, limit):
    """Raise Throttled when this network already reached `limit` for a purpose (nothing counted)."""
    key = f"rate:{purpose}:n:{keyed_hash(truncate_ip(ip or ''), f'{purpose}-throttle')}"
    if (cache.get(key) or 0) >= limit:
        raise Throttled()
