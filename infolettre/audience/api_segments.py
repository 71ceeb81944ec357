"""Segments and CSV exports: saved conditions over contacts, their live count, their contacts."""

from datetime import datetime
from typing import Any

from ninja import Body, Router, Schema, Status
from ninja.pagination import paginate

from infolettre.accounts.api_auth import CLIENT_AUTH
from infolettre.schemas import ErrorOut, StrictSchema

from .api_paging import KeysetPagination
from .export import csv_response, do_export_contacts
from .models import Segment
from .queries import access_list_for_tenant, access_segment_for_tenant
from .segments import (
    count_segment,
    do_create_segment,
    do_delete_segment,
    do_update_segment,
    segment_contacts,
)

router = Router(auth=CLIENT_AUTH, tags=["audience"])
ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}
CSV = {
    "responses": {
        "200": {"description": "A CSV file (UTF-8 with BOM)", "content": {"text/csv": {}}}
    }
}


class SegmentIn(StrictSchema):
    name: str
    definition: dict[str, Any]


class SegmentChangeIn(StrictSchema):
    name: str | None = None
    definition: dict[str, Any] | None = None


class SegmentOut(Schema):
    id: int
    name: str
    definition: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class CountOut(Schema):
    count: int


class SegmentContactOut(Schema):
    id: int
    email: str
    name: str
    attributes: dict[str, Any]
    created_at: datetime


@router.get("/segments", response=list[SegmentOut])
def list_segments(request):
    return list(Segment.objects.all())


@router.post("/segments", response={201: SegmentOut, **ERRORS})
def create_segment(request, payload: SegmentIn):
    """Save a segment; its definition is checked first (see `POST /segments/count`)."""
    segment = do_create_segment(request.tenant, name=payload.name, definition=payload.definition)
    return Status(201, segment)


@router.post("/segments/count", response={200: CountOut, **ERRORS})
def count_definition(request, definition: Body[dict[str, Any]]):
    """Count the contacts a definition selects, without saving it: the builder's live count.

    A definition is `{"match": "all" | "any", "conditions": [...]}`; a condition is
    `{"field": ..., "op": ..., "value": ...}` or a nested group (at most 3 levels, 50 conditions).
    Fields: `email`, `name`, `attribute:<key>`, `list` (with `status`), `subscribed_at` (with
    `list`), `engagement`, `created_at`. A problem is answered with 422 and the path of the faulty
    part, for example `conditions.2.value`.
    """
    return {"count": count_segment(definition)}


@router.get("/segments/{segment_id}", response={200: SegmentOut, **ERRORS})
def get_segment(request, segment_id: int):
    return access_segment_for_tenant(segment_id)


@router.patch("/segments/{segment_id}", response={200: SegmentOut, **ERRORS})
def change_segment(request, segment_id: int, payload: SegmentChangeIn):
    segment = access_segment_for_tenant(segment_id)
    return do_update_segment(segment, **payload.model_dump(exclude_unset=True))


@router.delete("/segments/{segment_id}", response={204: None, **ERRORS})
def delete_segment(request, segment_id: int):
    do_delete_segment(access_segment_for_tenant(segment_id))
    return Status(204, None)


@router.get("/segments/{segment_id}/contacts", response={200: list[SegmentContactOut], **ERRORS})
@paginate(KeysetPagination, order=("email", "id"), max_page_size=100)
def segment_contact_list(request, segment_id: int):
    """The segment's contacts now, by address, 50 a page (`page_size` up to 100): follow
    `next_cursor` (see `cursor`)."""
    return segment_contacts(access_segment_for_tenant(segment_id).definition)


@router.get("/segments/{segment_id}/export", response=ERRORS, openapi_extra=CSV)
def export_segment(request, segment_id: int):
    """The segment's contacts as CSV: email, name, phone and one column per attribute."""
    segment = access_segment_for_tenant(segment_id)
    return csv_response(do_export_contacts(request.user, segment=segment))


@router.get("/lists/{list_id}/export", response=ERRORS, openapi_extra=CSV)
def export_list(request, list_id: int):
    """The list's contacts as CSV, with each one's status and consent (basis, date, lapse)."""
    mailing_list = access_list_for_tenant(list_id)
    return csv_response(do_export_contacts(request.user, mailing_list=mailing_list))
