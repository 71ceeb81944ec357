"""CSV import of contacts into a list: preview a file, start its import, follow it, get its report."""

import json
from datetime import date, datetime

from django.http import FileResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from ninja import File, Form, Router, Schema, Status, UploadedFile

from infolettre.accounts.api_auth import CLIENT_AUTH
from infolettre.errors import Conflict, Invalid
from infolettre.schemas import ErrorOut

from . import queries
from .export import do_export_import_report
from .importing import check_import_file, do_start_import, store_upload
from .models import ConsentBasis, ImportMode, ImportStatus

router = Router(auth=CLIENT_AUTH, tags=["imports"])
ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


class PreviewOut(Schema):
    encoding: str
    delimiter: str
    header: list[str]
    rows: list[list[str]]
    mapping: dict[str, str]


class ImportOut(Schema):
    id: int
    list_id: int
    filename: str
    status: ImportStatus
    mode: ImportMode
    consent_basis: ConsentBasis
    consent_at: datetime
    consent_source: str
    consent_wording: str
    encoding: str
    delimiter: str
    mapping: dict[str, str]
    attribute_types: dict[str, str]
    total_rows: int
    processed_rows: int
    progress: int
    created_count: int
    updated_count: int
    unchanged_count: int
    duplicate_count: int
    suppressed_count: int
    rejected_count: int
    unsubscribed_count: int
    error: str
    report_url: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


def import_out(contact_import):
    """The import's state, its progress in percent and where its report is, once done."""
    contact_import.list_id = contact_import.mailing_list_id
    total = contact_import.total_rows
    contact_import.progress = (
        100
        if contact_import.status == ImportStatus.DONE
        else (contact_import.processed_rows * 100 // total if total else 0)
    )
    contact_import.report_url = (
        reverse("api:import_report", args=[contact_import.pk]) if contact_import.report else None
    )
    return contact_import


def _checked_upload(file):
    if file is None:
        raise Invalid(
            _("Choose a CSV file."), details=[{"field": "file", "message": _("Choose a CSV file.")}]
        )
    return check_import_file(file)


def _mapping(value, suggested):
    if not value.strip():
        return suggested
    try:
        return json.loads(value)
    except ValueError:
        message = _("Give the mapping as an object: column name to “email”, “name”, “phone”…")
        raise Invalid(message, details=[{"field": "mapping", "message": message}]) from None


@router.post("/lists/{list_id}/imports/preview", response={200: PreviewOut, **ERRORS})
def preview_import(request, list_id: int, file: File[UploadedFile] = None):
    """Read the first lines of a CSV file: its encoding, delimiter, columns and suggested mapping.

    Nothing is stored.
    """
    queries.access_list_for_tenant(list_id)
    checked = _checked_upload(file)
    return {
        "encoding": checked.encoding,
        "delimiter": checked.delimiter,
        "header": checked.header,
        "rows": checked.rows,
        "mapping": checked.mapping,
    }


@router.post("/lists/{list_id}/imports", response={202: ImportOut, **ERRORS})
def start_import(
    request,
    list_id: int,
    file: File[UploadedFile] = None,
    mapping: Form[str] = "",
    mode: Form[str] = ImportMode.ADD_OR_UPDATE,
    consent_basis: Form[str] = ConsentBasis.EXPRESS,
    consent_at: Form[date | None] = None,
    consent_source: Form[str] = "",
    consent_wording: Form[str] = "",
):
    """Import a CSV file (multipart) into a list, in the background; follow it with its URL.

    `mapping` is a JSON object, column name to "email", "name", "first_name", "last_name",
    "phone", "attribute:<key>" or "" (ignored); without it, the suggested mapping is used.
    `consent_basis` states how every person of the file consented: "express" (with the source
    and the words they agreed to) or an implied basis with `consent_at`, the date of the
    purchase, contract or inquiry.
    """
    mailing_list = queries.access_list_for_tenant(list_id)
    checked = _checked_upload(file)
    stored = store_upload(file)
    try:
        contact_import = do_start_import(
            mailing_list,
            request.user,
            stored_name=stored,
            filename=file.name,
            encoding=checked.encoding,
            delimiter=checked.delimiter,
            header=checked.header,
            mapping=_mapping(mapping, checked.mapping),
            mode=mode,
            consent_basis=consent_basis,
            consent_at=consent_at,
            consent_source=consent_source,
            consent_wording=consent_wording,
        )
    except Exception:
        from django.core.files.storage import default_storage

        default_storage.delete(stored)
        raise
    contact_import.refresh_from_db()
    return Status(202, import_out(contact_import))


@router.get("/imports/{import_id}", response={200: ImportOut, **ERRORS})
def get_import(request, import_id: int):
    """An import's status, counts and progress."""
    return import_out(queries.access_import_for_tenant(import_id))


@router.get(
    "/imports/{import_id}/report",
    response={200: None, **ERRORS},
    url_name="import_report",
    openapi_extra={
        "responses": {
            200: {
                "description": "The rows set aside: line number, reason, the row as read.",
                "content": {"text/csv": {"schema": {"type": "string"}}},
            }
        }
    },
)
def get_import_report(request, import_id: int):
    """The rows set aside by an import, as CSV: line number, reason and the row as read."""
    contact_import = queries.access_import_for_tenant(import_id)
    if not contact_import.report:
        raise Conflict(_("The report is ready once the import is done."), code="report_not_ready")
    return report_response(request.user, contact_import)


def report_response(by, contact_import):
    """Send an import's report as a CSV attachment, recorded as an export by the user `by`."""
    return FileResponse(
        do_export_import_report(by, contact_import),
        as_attachment=True,
        filename=_("import-report-%(id)d.csv") % {"id": contact_import.pk},
        content_type="text/csv; charset=utf-8",
    )
