"""The embedded default started by `make run`: SQLite, the database task worker, the local mail catcher."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DEBUG", default=True)
