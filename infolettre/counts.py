"""Figures that would count hundreds of thousands of rows at every page view.

A figure below EXACT_BELOW is counted at every request: a small client, and every test, always sees
exact figures. From EXACT_BELOW on, the figure is kept in the cache and counted again once the
number of seconds its caller gives (its period) has passed; it may then be that many seconds old.

Once its period is over, a kept figure is still shown, and counted again after the answer has
been sent (RecountAfterResponseMiddleware), so that no one waits for the count: the next view
shows the new figure. Only one request recounts a figure at a time. A figure is shown this way for
STALE_PERIODS periods after its own; past that it is gone, as before its very first view.

A figure with no kept value (its very first view, or unseen for STALE_PERIODS periods) is counted
before answering when a bounded look (at most EXACT_BELOW index entries) finds it small. When it is
big, a caller that can say so gets COUNTING (None) at once, shows the figure as being counted,
and the count runs after the answer: the next view shows it. Outside a request (a task, a
command), a figure without a current value is counted at once.

Keys are hashes of what is counted (the statement and its values, or the names the caller gives):
no address or other personal value is ever written into a key.
"""

import contextvars
import hashlib
import logging
import time
from functools import partial
from typing import Any, NamedTuple

from django.core.cache import cache
from django.core.exceptions import EmptyResultSet
from django.db.models import QuerySet
from django.utils.formats import number_format

logger = logging.getLogger(__name__)

EXACT_BELOW = 10_000
# How long a big number of rows is kept when its caller has no period of its own.
COUNT_SECONDS = 60
# How many periods past its own a kept figure is still shown while it is counted again.
STALE_PERIODS = 12
# How long one request's recount keeps the others from starting their own (a recount that died
# with its process is started again after that).
RECOUNT_LOCK_SECONDS = 120

# A big figure not counted yet: being counted after the answer (shown as such; null in the API).
COUNTING = None

# The recounts to run once the answer to the current request is sent; None outside a request.
_after_response = contextvars.ContextVar("counts_after_response", default=None)


class Kept(NamedTuple):
    """A figure in the cache, and the time (seconds since the epoch) until which it is current."""

    figures: Any
    current_until: float


def cache_key(prefix, *parts):
    """A key naming `parts` without holding them."""
    return f"{prefix}:{hashlib.sha256(repr(parts).encode()).hexdigest()[:40]}"


def _keep(key, figures, seconds, size):
    if size(figures) >= EXACT_BELOW:
        cache.set(key, Kept(figures, time.time() + seconds), seconds * (1 + STALE_PERIODS))
    else:
        # Small again: from now on counted at every request.
        cache.delete(key)


def _count_and_keep(key, compute, seconds, size):
    figures = compute()
    _keep(key, figures, seconds, size)
    return figures


def _recount(key, compute, seconds, size):
    try:
        _count_and_keep(key, compute, seconds, size)
    finally:
        cache.delete(f"{key}:recounting")


def _recount_later(key, job):
    """Run `job` after the answer, unless another request is already recounting `key`."""
    if cache.add(f"{key}:recounting", True, RECOUNT_LOCK_SECONDS):
        _after_response.get().append((contextvars.copy_context(), job))


def in_request():
    """Whether work can be left until the answer is sent (RecountAfterResponseMiddleware)."""
    return _after_response.get() is not None


def cached_figures(key, compute, seconds, size, big=None):
    """Return compute()'s figures, from the cache when they were kept there.

    They are kept, and counted again after `seconds`, when size(figures) is at least EXACT_BELOW
    rows, so that small figures stay exact (see the top of this module). With `big` (a cheap,
    bounded check that the figures are of EXACT_BELOW rows or more), figures not kept yet are
    COUNTING during a request when big() is true, and counted after the answer."""
    found = cache.get(key)
    if not isinstance(found, Kept):
        if big is not None and in_request() and big():
            _recount_later(key, partial(_recount, key, compute, seconds, size))
            return COUNTING
        return _count_and_keep(key, compute, seconds, size)
    if found.current_until <= time.time() and not in_request():
        return _count_and_keep(key, compute, seconds, size)
    if found.current_until <= time.time():
        _recount_later(key, partial(_recount, key, compute, seconds, size))
    return found.figures


def cached_many(keys, compute, seconds, size, big=None):
    """{name: figures} for each name of `keys` ({name: cache key}), as cached_figures gives them.

    compute(names) counts the figures of several names at once ({name: figures}); seconds(name)
    is the period of a name's figures; big(name), if given, the bounded check of cached_figures
    (a big name not kept yet is COUNTING, and counted after the answer)."""
    found = cache.get_many(list(keys.values()))
    figures, missing, stale = {}, [], []
    now = time.time()
    asked = in_request()
    for name, key in keys.items():
        kept = found.get(key)
        if not isinstance(kept, Kept) or (kept.current_until <= now and not asked):
            missing.append(name)
            continue
        figures[name] = kept.figures
        if kept.current_until <= now:
            stale.append(name)
    if missing and big is not None and asked:
        for name in [name for name in missing if big(name)]:
            missing.remove(name)
            figures[name] = COUNTING
            _recount_later(
                keys[name], partial(_recount_one_of_many, name, keys[name], compute, seconds, size)
            )
    if missing:
        counted = compute(missing)
        for name in missing:
            _keep(keys[name], counted[name], seconds(name), size)
        figures.update(counted)
    for name in stale:
        _recount_later(
            keys[name], partial(_recount_one_of_many, name, keys[name], compute, seconds, size)
        )
    return figures


def _recount_one_of_many(name, key, compute, seconds, size):
    _recount(key, lambda: compute([name])[name], seconds(name), size)


def cached_count(queryset, seconds, *, counting=False, bound=None):
    """The number of rows of `queryset`: exact below EXACT_BELOW, else at most `seconds` old
    (or, past that, being counted again: see the top of this module).

    With `counting`, a number not kept yet is read up to `bound` rows (EXACT_BELOW unless given):
    below it, that is the number; from it on, COUNTING during a request (counted after the
    answer)."""
    bound = bound or EXACT_BELOW
    try:
        sql, params = queryset.query.sql_with_params()
    except EmptyResultSet:
        return 0
    key = cache_key("count", queryset.db, sql, params)
    exact = []

    def big():
        exact.append(bounded_count(queryset, bound))
        return exact[0] >= bound

    def compute():
        # A number the bounded look has just read exactly is not read again.
        return exact[0] if exact and exact[0] < bound else QuerySet.count(queryset)

    return cached_figures(key, compute, seconds, lambda count: count, big if counting else None)


def bounded_count(queryset, bound):
    """The number of rows of `queryset`, up to `bound` (reading no more rows than that)."""
    return QuerySet.count(queryset.order_by().values("pk")[:bound])


class CountedQuerySet(QuerySet):
    """A queryset whose count() is cached_count(), kept COUNT_SECONDS: for a paginator, such as
    the API's, that only knows count()."""

    def count(self):
        return cached_count(self, COUNT_SECONDS)


def counted(queryset):
    """`queryset` (filters and ordering only) as a CountedQuerySet."""
    return CountedQuerySet(model=queryset.model, query=queryset.query.chain(), using=queryset.db)


def at_least_text():
    """EXACT_BELOW as shown beside a figure being counted ("10,000 or more")."""
    return number_format(EXACT_BELOW, force_grouping=True)


def at_least(queryset, number):
    """Whether `queryset` has `number` rows or more, read from at most that many index entries."""
    return queryset.order_by().values("pk")[number - 1 : number].exists()


def _run_recounts(recounts):
    for context, job in recounts:
        try:
            # In the context of the request that found the figure stale (its organisation), and
            # without a request of its own: a figure the job reads stale is counted at once.
            context.run(_run_detached, job)
        except Exception:
            # The figure stays as it was, and is counted again at a later view.
            logger.exception("A kept figure could not be counted again")


def _run_detached(job):
    _after_response.set(None)
    job()


class RecountAfterResponseMiddleware:
    """Count again, once the answer is sent, the kept figures the request found past their period.

    The work is handed to the response's closing, which the WSGI server calls after the last byte
    is sent (Django's test client too, before it returns the response)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        recounts = []
        token = _after_response.set(recounts)
        try:
            response = self.get_response(request)
        finally:
            _after_response.reset(token)
        if recounts:
            # Run before request_finished, which may close the database connection.
            response._resource_closers.append(partial(_run_recounts, recounts))
        return response
