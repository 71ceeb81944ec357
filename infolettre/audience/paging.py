"""Pages of rows in address order that a big organisation turns without making the database skip
rows.

A page read by its number alone (`?page=120`) is read with OFFSET, which walks past every row before
it: at page 8,000 of a list, hundreds of thousands. So when a page of a big result (EXACT_BELOW rows
or more) is drawn, where it begins and ends is remembered for BOUNDARY_SECONDS, in the cache, for
the same search and organisation: the page itself drawn again, and the pages its Previous and Next
links (unchanged: `?page=N`) lead to, are then read from the index of addresses at that point, as
fast at page 8,000 as at page 2. Only a number typed into the address for the first time, or a
boundary no longer remembered, is read with OFFSET.
What is remembered is a contact id, under a key that holds no search text.
"""

from django.core.cache import cache
from django.core.paginator import Page, Paginator
from django.db.models import F, Value
from django.db.models.functions import Concat

from infolettre import counts
from infolettre.accounts.tenancy import active_tenant_id

from .models import Contact

PER_PAGE = 50
BOUNDARY_SECONDS = 600
# Below this many rows (a search, a filter), a page is sorted from the rows found.
NARROW_BELOW = 20_000


class CountedPaginator(Paginator):
    """Django's paginator given its total, counted beforehand."""

    def __init__(self, rows, count, per_page=PER_PAGE):
        super().__init__(rows, per_page)
        self.count = count


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
    page number, that keeps the search when changing page.
    """
    total = counts.cached_count(counted, seconds)
    if total < NARROW_BELOW:
        # Ordered by a copy of the address, so that PostgreSQL finds the few rows by the index that
        # fits the search and sorts them, instead of walking every address in order looking for
        # them, as a LIMIT below its estimate of the matches tempts it to.
        rows = rows.order_by(Concat(F(address), Value("")).asc(), "pk")
    paginator = CountedPaginator(rows, total)
    page = None
    if paginator.count >= counts.EXACT_BELOW:
        page = _remembered_page(request, rows, paginator, address)
    if page is None:
        page = paginator.get_page(request.GET.get("page"))
    items = list(page.object_list)
    if items and paginator.count >= counts.EXACT_BELOW:
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
