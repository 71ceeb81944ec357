"""Production: HTTPS assumed, secrets required from the environment.

Every header and cookie rule of `base.py` applies (the Content-Security-Policy included); this file
adds what only holds behind HTTPS and refuses to start on a missing or default secret.
"""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import SECRET_KEY, env

DEBUG = False

# Secrets come only from the environment: a default or missing one stops the start, by name.
if not SECRET_KEY or SECRET_KEY.startswith("insecure-") or len(SECRET_KEY) < 32:
    raise ImproperlyConfigured(
        "Set SECRET_KEY in the environment to a random value of 32 characters or more "
        "(python -c 'import secrets; print(secrets.token_urlsafe(50))'): production refuses a "
        "missing, short or default key."
    )
if not [key for key in env.list("FIELD_ENCRYPTION_KEYS", default=[]) if key.strip()]:
    raise ImproperlyConfigured(
        "Set FIELD_ENCRYPTION_KEYS in the environment (comma-separated, the first one encrypts): "
        "production refuses to store confidential fields under a development key."
    )

# HTTPS only: cookies never travel in clear, HTTP is redirected, browsers remember it for a year.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = LANGUAGE_COOKIE_SECURE = True
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
# Preloading is a promise to browsers that is slow to undo: only when the operator asks for it.
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
if not SECURE_HSTS_PRELOAD:
    SILENCED_SYSTEM_CHECKS = ["security.W021"]  # not preloading is the decision above

# Opening a connection costs more than answering a click: each web thread keeps its own for a
# minute, checked before reuse so that a restarted database costs a reconnect, not an error page.
# `?conn_max_age=` in DATABASE_URL wins.
DATABASES["default"].setdefault("CONN_MAX_AGE", 60)  # noqa: F405
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)  # noqa: F405

# Behind a reverse proxy that terminates TLS, its X-Forwarded-Proto says the request was HTTPS.
# The header is believed only when the proxies are named: anyone can send it otherwise.
if [proxy for proxy in env.list("TRUSTED_PROXIES", default=[]) if proxy.strip()]:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
elif env.bool("BEHIND_TLS_PROXY", default=False):
    raise ImproperlyConfigured(
        "BEHIND_TLS_PROXY needs TRUSTED_PROXIES (the proxies' addresses, CIDR, comma-separated): "
        "production believes X-Forwarded-Proto only from a named proxy."
    )
else:
    SECURE_PROXY_SSL_HEADER = None

# RQ (TASKS_ON_REDIS) stops a task after its queue's DEFAULT_TIMEOUT, 180 seconds unless set: a
# contact import of IMPORT_MAX_BYTES runs longer than that as one task. Campaign lanes hand over
# every CAMPAIGN_LANE_SECONDS, so the longer limit holds no worker back.
for _queue in globals().get("RQ_QUEUES", {}).values():
    _queue.setdefault("DEFAULT_TIMEOUT", 6 * 60 * 60)
