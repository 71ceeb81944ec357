"""The embedded default started by `make run`: SQLite, the database task worker, the local mail catcher."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DEBUG", default=True)
# A webhook receiver on this machine is what development needs.
WEBHOOKS_ALLOW_PRIVATE_URLS = env.bool("WEBHOOKS_ALLOW_PRIVATE_URLS", default=True)
