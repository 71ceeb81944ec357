"""Figures that would count hundreds of thousands of rows at every page view.

A figure below EXACT_BELOW is counted at every request: a small client, and every test, always sees
exact figures. From EXACT_BELOW on, the figure is kept in the cache for the number of seconds its
caller gives, so that a big client's page counts at most once in that time; it may then be that
many seconds old. Keys are hashes of what is counted (the statement and its values, or the names
the caller gives): no address or other personal value is ever written into a key.
"""

import hashlib

from django.core.cache import cache
from django.core.exceptions import EmptyResultSet
from django.db.models import QuerySet

EXACT_BELOW = 10_000
# How long a big number of rows is kept when its caller has no period of its own.
COUNT_SECONDS = 60


def cache_key(prefix, *parts):
    """A key naming `parts` without holding them."""
    return f"{prefix}:{hashlib.sha256(repr(parts).encode()).hexdigest()[:40]}"


def cached_figures(key, compute, seconds, size):
    """Return compute()'s figures, from the cache when they were kept there.

    They are kept for `seconds` when size(figures) is at least EXACT_BELOW rows, so that small
    figures stay exact."""
    found = cache.get(key)
    if found is not None:
        return found
    figures = compute()
    if size(figures) >= EXACT_BELOW:
        cache.set(key, figures, seconds)
    return figures


def cached_count(queryset, seconds):
    """The number of rows of `queryset`: exact below EXACT_BELOW, else at most `seconds` old."""
    try:
        sql, params = queryset.query.sql_with_params()
    except EmptyResultSet:
        return 0
    key = cache_key("count", queryset.db, sql, params)
    return cached_figures(key, lambda: QuerySet.count(queryset), seconds, lambda count: count)


class CountedQuerySet(QuerySet):
    """A queryset whose count() is cached_count(), kept COUNT_SECONDS: for a paginator, such as
    the API's, that only knows count()."""

    def count(self):
        return cached_count(self, COUNT_SECONDS)


def counted(queryset):
    """`queryset` (filters and ordering only) as a CountedQuerySet."""
    return CountedQuerySet(model=queryset.model, query=queryset.query.chain(), using=queryset.db)


def at_least(queryset, number):
    """Whether `queryset` has `number` rows or more, read from at most that many index entries."""
    return queryset.order_by().values("pk")[number - 1 : number].exists()
