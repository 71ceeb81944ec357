"""Pages of the API's collections that may hold millions of rows, turned by a cursor.

Each answer gives `next_cursor` while rows remain after its page; sent back as `cursor` (with the
same filters), it continues after the last row of that page, read from the index at that point:
as fast at the millionth row as at the first, and no row is skipped or given twice when rows are
added or removed meanwhile. `next_cursor` is null on the last page.

`page` still works. A page that starts within the first OFFSET_ROWS rows, or of a result smaller
than that, is read with OFFSET, which walks past every row before it. A deeper page is read from
where the page before it ended, when that page was read by its number less than BOUNDARY_SECONDS
ago (the start of the next page is remembered, in the cache): a client that walks the pages in
order walks them all. Any other deeper page (typed in, or after a long pause) is refused with the
code `page_too_deep` rather than making the database walk past hundreds of thousands of rows.

A cursor holds the ordering values of the last row (an address among them), the organisation's id
and the ordering it continues. It is encrypted and signed (Fernet, with a key derived from
SECRET_KEY), so that no address shows in a URL a proxy logs; one altered, or made for another
ordering or organisation, is refused with the code `invalid_cursor`. It does not expire, but a
change of SECRET_KEY makes every cursor invalid.
"""

import base64
import json
from datetime import datetime
from operator import attrgetter
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from django.core.cache import cache
from django.db.models import Q
from django.utils.crypto import salted_hmac
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from ninja import Field, Schema
from ninja.pagination import PaginationBase

from infolettre import counts
from infolettre.accounts.tenancy import active_tenant_id
from infolettre.errors import Invalid

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
# Rows that OFFSET may walk past: a few milliseconds' worth.
OFFSET_ROWS = 10_000
BOUNDARY_SECONDS = 600
# Far beyond any result; keeps OFFSET within what a database integer holds.
MAX_PAGE = 1_000_000
MAX_CURSOR_LENGTH = 1000
END = "end"


def _fernet():
    key = salted_hmac("infolettre.audience.api_paging", "cursor", algorithm="sha256").digest()
    return Fernet(base64.urlsafe_b64encode(key))


def _plain(value):
    if isinstance(value, datetime):
        return ["t", value.isoformat()]
    return ["v", value]


def _typed(pair):
    kind, value = pair
    if kind == "t":
        return datetime.fromisoformat(value)
    if kind != "v" or not isinstance(value, str | int) or isinstance(value, bool):
        raise ValueError
    return value


class KeysetPagination(PaginationBase):
    """Django Ninja's pagination by cursor, `page` kept (see the top of this module).

    `order` names the ordering, every field ascending or every one descending, the last one
    unique (the id), as Django's order_by takes it; a related field (`contact__email`) is read
    from the row through its relation, which the queryset should select. `through` names such a
    relation to a tenant-owned model: the rows are then also limited to that model's rows of the
    organisation (which they are anyway), so that PostgreSQL walks its (tenant, field) index in
    order instead of sorting every row; the count is read without that condition.
    """

    class Input(Schema):
        cursor: str | None = Field(
            None,
            max_length=MAX_CURSOR_LENGTH,
            description=(
                "The `next_cursor` of the previous answer, with the same filters: the page after "
                "it. The fast way through a big collection; do not combine with `page`."
            ),
        )
        page: int = Field(
            1,
            ge=1,
            le=MAX_PAGE,
            description=(
                f"A page number, kept for compatibility. Beyond the first {OFFSET_ROWS:,} rows of "
                "a bigger result, a page is answered only right after the page before it "
                f"(within {BOUNDARY_SECONDS // 60} minutes); otherwise 422 with the code "
                "`page_too_deep`: follow `next_cursor` instead."
            ),
        )
        page_size: int | None = Field(
            None, ge=1, description="Rows a page (50 unless given; above the maximum, the maximum)."
        )

    class Output(Schema):
        items: list[Any]
        count: int | None = Field(
            ...,
            description=(
                "How many rows match: exact below 10,000; from 10,000 on, counted at most a "
                "minute before, or up to 13 minutes before after a quiet spell (then counted "
                "again for the next answer). Null: 10,000 rows or more match and they are being "
                "counted (the first time they are asked for, or after a longer quiet spell); a "
                "later answer gives the number."
            ),
        )
        next_cursor: str | None = Field(
            None,
            description=(
                "Pass it as `cursor` (with the same filters) for the next page; null on the last."
            ),
        )

    def __init__(
        self, *, order, through=None, page_size=PAGE_SIZE, max_page_size=MAX_PAGE_SIZE, **kwargs
    ):
        self.order = tuple(order)
        self.through = through
        self.fields = [o.lstrip("-") for o in self.order]
        self.descending = self.order[0].startswith("-")
        if any(o.startswith("-") != self.descending for o in self.order):
            raise ValueError("every field of a keyset ordering goes the same way")
        self.page_size = page_size
        self.max_page_size = max_page_size
        super().__init__(**kwargs)

    # Cursors -------------------------------------------------------------------------------------

    def cursor_after(self, row):
        """The cursor of the page that follows `row`."""
        values = [_plain(attrgetter(f.replace("__", "."))(row)) for f in self.fields]
        payload = {"t": active_tenant_id(), "o": ",".join(self.order), "v": values}
        return _fernet().encrypt(json.dumps(payload, separators=(",", ":")).encode()).decode()

    def _position(self, cursor):
        try:
            payload = json.loads(_fernet().decrypt(cursor.encode()))
            if payload["t"] != active_tenant_id() or payload["o"] != ",".join(self.order):
                raise ValueError
            values = [_typed(pair) for pair in payload["v"]]
            if len(values) != len(self.fields):
                raise ValueError
        except (InvalidToken, ValueError, TypeError, KeyError):
            raise Invalid(
                _("This cursor is not one this collection gave: start again without it."),
                code="invalid_cursor",
                details=[{"field": "cursor", "message": _("Use a next_cursor as it was given.")}],
            ) from None
        return values

    def _after(self, rows, values):
        """The rows after `values` in the ordering, for an index read from that point on."""
        beyond = "lt" if self.descending else "gt"
        within = "lte" if self.descending else "gte"
        after = Q()
        for index, field in enumerate(self.fields):
            equal = {f: v for f, v in zip(self.fields[:index], values, strict=False)}
            after |= Q(**equal, **{f"{field}__{beyond}": values[index]})
        return rows.filter(**{f"{self.fields[0]}__{within}": values[0]}).filter(after)

    # Pages ---------------------------------------------------------------------------------------

    def _boundary_key(self, request, size, number):
        query = request.GET.copy()
        for name in ("page", "cursor", "page_size"):
            query.pop(name, None)
        return counts.cache_key(
            "api:page-boundary",
            active_tenant_id(),
            request.path,
            sorted(query.lists()),
            size,
            number,
        )

    def _numbered(self, rows, request, number, size):
        """Up to size + 1 rows from page `number` on, or the refusal of a page too deep."""
        offset = (number - 1) * size
        # Whether the result is small is read from at most OFFSET_ROWS index entries, not counted.
        if offset < OFFSET_ROWS or not counts.at_least(rows, OFFSET_ROWS):
            return list(rows[offset : offset + size + 1])
        boundary = cache.get(self._boundary_key(request, size, number))
        if boundary == END:
            return []
        if boundary is not None:
            return list(self._after(rows, self._position(boundary))[: size + 1])
        raise Invalid(
            _(
                "Pages beyond the first %(rows)s rows are reached with the cursor: follow "
                "next_cursor from the first page, or ask for the page right after the one read."
            )
            % {"rows": number_format(OFFSET_ROWS, force_grouping=True)},
            code="page_too_deep",
            details=[{"field": "page", "message": _("Use cursor for deep pages.")}],
        )

    def paginate_queryset(self, queryset, pagination, request, **params):
        size = min(pagination.page_size or self.page_size, self.max_page_size)
        rows = queryset.order_by(*self.order)
        if self.through:
            rows = rows.filter(**{f"{self.through}__tenant_id": active_tenant_id()})
        if pagination.cursor is not None:
            if pagination.page != 1:
                raise Invalid(
                    _("Give cursor or page, not both."),
                    details=[{"field": "page", "message": _("Leave page out with a cursor.")}],
                )
            found = list(self._after(rows, self._position(pagination.cursor))[: size + 1])
        else:
            found = self._numbered(rows, request, pagination.page, size)
        items = found[:size]
        next_cursor = self.cursor_after(items[-1]) if len(found) > size else None
        total = counts.cached_count(queryset.order_by(), counts.COUNT_SECONDS, counting=True)
        # A total being counted (null) is of EXACT_BELOW rows or more.
        big = total is counts.COUNTING or total >= OFFSET_ROWS
        next_is_deep = pagination.page * size >= OFFSET_ROWS and big
        if pagination.cursor is None and next_is_deep:
            # The next page is deep: where it starts is remembered for a client turning pages.
            cache.set(
                self._boundary_key(request, size, pagination.page + 1),
                next_cursor or END,
                BOUNDARY_SECONDS,
            )
        return {"items": items, "count": total, "next_cursor": next_cursor}
