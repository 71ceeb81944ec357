"""The load test (`make loadtest`): production's settings, served over plain HTTP on loopback.

Everything of `prod.py` applies (DEBUG off, the secrets it requires, which `python -m loadtest`
makes up for each run); only what a loopback server without TLS needs differs.
"""

from .base import VAR_DIR, env
from .prod import *  # noqa: F403
from .prod import CACHES, DATABASES, REDIS_URL

# No TLS on loopback: an HTTPS redirect or HSTS would answer every request with a 301.
SECURE_SSL_REDIRECT = False
SECURE_HSTS_SECONDS = 0
ALLOWED_HOSTS = ["127.0.0.1"]
# The run's own static files (collected by the runner), out of the way of a real deployment's.
STATIC_ROOT = VAR_DIR / "loadtest" / "static"
# Each gunicorn thread keeps its database connection between requests, as a deployment should
# (in DATABASE_URL: ?conn_max_age=60). No health check: it would cost a round trip per request.
DATABASES["default"]["CONN_MAX_AGE"] = 60
# The run's keys in Redis start with this, so that it removes its own and nothing else.
if REDIS_URL:
    CACHES["default"]["KEY_PREFIX"] = env.str("LOADTEST_CACHE_PREFIX", default="loadtest")
