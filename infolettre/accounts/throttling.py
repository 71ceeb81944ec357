"""Sign-in throttling against password guessing, per address and per network, kept only briefly."""

from django.conf import settings
from django.core.cache import cache

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
