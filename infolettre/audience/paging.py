"""Pages of rows in address order that a big organisation turns without making the database skip
rows.

A page read by its number alone (`?page=120`) is read with OFFSET, which walks past every row before
it: at page 8,000 of a list, hundreds of thousands. So when a page of a big result (EXACT_BELOW rows
or more) is drawn, where it begins and ends is remembered for BOUNDARY_SECONDS, in the cache, for
the same search and organisation: the page itself drawn again, and the pages its Previous and Next
links (unchanged: `?page=N`) lead to, are then read from the index of addresses at that point, as
fast at page 8,000 as at page 2. A number typed into the address for the first time, or a
boundary no longer remembered, is read with OFFSET within the first DEEP_ROWS rows only, as the
API's `page` is; deeper, it is refused (PageTooDeep: the page shows the first page and says that
deep pages are reached with Next and Previous, or a search).
What is remembered is a contact id, under a key that holds no search text.

While a big total is being counted (infolettre.counts.COUNTING: its first view), the page is drawn
without it: Next is offered when a row follows the page, and the page says the total is counted.
"""

from django.core.cache import cache
from django.core.paginator import Page, Paginator
from django.db.models import F, Value
from django.db.models.functions import Concat

from infolettre import counts
from infolettre.accounts.tenancy import active_tenant_id

from .models import Contact

PER_PAGE = 50
# Rows a page number alone may skip with OFFSET (the API's OFFSET_ROWS); deeper pages are reached
# from the page beside them.
DEEP_ROWS = 10_000
BOUNDARY_SECONDS = 600
# Below this many rows (a search, a filter), a page is sorted from the rows found.
NARROW_BELOW = 20_000


class PageTooDeep(Exception):
    """A page number beyond the first DEEP_ROWS rows of a big result, with no boundary remembered:
    reading it would walk past every row before it."""


class CountedPaginator(Paginator):
    """Django's paginator given its total, counted beforehand.

    `counting`: the total is being counted; `count` is then only as many rows as the page shown
    proves (one more when a row follows it)."""

    def __init__(self, rows, count, per_page=PER_PAGE, counting=False):
        super().__init__(rows, per_page)
        self.count = count
        self.counting = counting


def _asked_number(request, num_pages):
    """The page number asked for, as Paginator.get_page reads it (the last page beyond it)."""
    raw = request.GET.get("page", "")
    if not raw.isdigit() or len(raw) > 9 or int(raw) < 1:
        return 1
    return min(int(raw), max(num_pages, 1))


def _check_shallow(number):
    if (number - 1) * PER_PAGE >= DEEP_ROWS:
        raise PageTooDeep


def _page_while_counting(request, rows):
    """The page asked for, its total unknown: read with OFFSET (within DEEP_ROWS), one row more
    telling whether a next page exists."""
    number = _asked_number(request, 10**9)
    _check_shallow(number)
    start = (number - 1) * PER_PAGE
    found = list(rows[start : start + PER_PAGE + 1])
    if not found and number > 1:
        number, start = 1, 0
        found = list(rows[: PER_PAGE + 1])
    paginator = CountedPaginator(rows, start + len(found), counting=True)
    return Page(found[:PER_PAGE], number, paginator)


def _boundary_key(request, number):
    query = request.GET.copy()
    query.pop("page", None)
    return counts.cache_key(
        "audience:page-boundary", active_tenant_id(), request.path, sorted(query.lists()), number
    )


def _remembered_page(request, rows, paginator, address):
    """The page asked for, read from where the page beside it was seen to end or begin, or None."""
    raw = request.GET.get("page", "")
    if not raw.isdigit() or len(raw) > 9 or not 1 < int(raw) <= paginator.num_pages:
        return None
    number = int(raw)
    boundary = cache.get(_boundary_key(request, number))
    if boundary is None:
        return None
    direction, contact_id = boundary
    email = Contact.objects.filter(pk=contact_id).values_list("email", flat=True).first()
    if email is None:
        return None
    if direction == "before":
        found = list(rows.filter(**{f"{address}__lt": email}).reverse()[:PER_PAGE])[::-1]
    else:
        lookup = "gt" if direction == "after" else "gte"
        found = list(rows.filter(**{f"{address}__{lookup}": email})[:PER_PAGE])
    return Page(found, number, paginator) if found else None


def address_page(request, rows, counted, *, address, contact_id, seconds):
    """One page of `rows`, ordered by the contact address `address` (unique in an organisation).

    `counted` is what the total counts (the same rows, without what only orders or draws them);
    `contact_id` gives the contact id of a row. Return the page and the query string, without the
    page number, that keeps the search when changing page. Raise PageTooDeep for a deep page
    number not reached from the page beside it.
    """
    # Read up to NARROW_BELOW rows when not kept: a narrow search is then counted at once, and
    # sorted from the rows found (below) on its first view too.
    total = counts.cached_count(counted, seconds, counting=True, bound=NARROW_BELOW)
    counting = total is counts.COUNTING
    if not counting and total < NARROW_BELOW:
        # Ordered by a copy of the address, so that PostgreSQL finds the few rows by the index that
        # fits the search and sorts them, instead of walking every address in order looking for
        # them, as a LIMIT below its estimate of the matches tempts it to.
        rows = rows.order_by(Concat(F(address), Value("")).asc(), "pk")
    # While counting, the total is of EXACT_BELOW rows or more, but no page is known to be last.
    paginator = CountedPaginator(rows, 10**9 if counting else total, counting=counting)
    big = paginator.count >= counts.EXACT_BELOW
    page = _remembered_page(request, rows, paginator, address) if big else None
    if page is None and counting:
        page = _page_while_counting(request, rows)
    elif page is None:
        if big:
            _check_shallow(_asked_number(request, paginator.num_pages))
        page = paginator.get_page(request.GET.get("page"))
    items = list(page.object_list)
    if items and big:
        first, last = contact_id(items[0]), contact_id(items[-1])
        boundaries = {
            page.number - 1: ("before", first),
            page.number: ("at", first),
            page.number + 1: ("after", last),
        }
        cache.set_many(
            {_boundary_key(request, n): b for n, b in boundaries.items() if n > 1},
            BOUNDARY_SECONDS,
        )
    query = request.GET.copy()
    query.pop("page", None)
    return page, query.urlencode()
