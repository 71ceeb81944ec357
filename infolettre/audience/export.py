"""CSV export of a list's or a segment's contacts.

The file is streamed (the contacts are read 2,000 at a time, never all held in memory), written in
UTF-8 with a byte order mark so that spreadsheet programs read accents, and every cell that a
spreadsheet would run as a formula is neutralised with a leading quote (OWASP's advice on CSV
injection; privacy.csv_safe writes every CSV file). An export is a disclosure of personal data: it
goes through `do_export_contacts` alone, and nothing of its content is logged.
"""

from dataclasses import dataclass

from django.db import connection
from django.db.models import Exists, OuterRef
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.http import content_disposition_header
from django.utils.text import slugify

from infolettre.privacy import csv_safe
from infolettre.privacy.audit import AuditAction, do_record_audit

from .models import Contact, Subscription
from .segments import segment_contacts

CHUNK_SIZE = 2000
CONTACT_COLUMNS = ("email", "name", "phone")
SUBSCRIPTION_COLUMNS = ("status", "consent_basis", "consent_at", "consent_expires_at")


def attribute_keys(contacts):
    """Every attribute key the given contacts hold, sorted, read with one query.

    The ORM has no way to list a JSON object's keys; the statement wraps the queryset's own SQL,
    whose values stay parameters, and adds no value of its own.
    """
    rows_sql, params = contacts.order_by().values("attributes").query.sql_with_params()
    if connection.vendor == "postgresql":
        sql = f"SELECT DISTINCT k FROM ({rows_sql}) AS c, jsonb_object_keys(CASE WHEN jsonb_typeof(c.attributes) = 'object' THEN c.attributes ELSE '{{}}'::jsonb END) AS k"  # noqa: S608
    else:
        sql = f"SELECT DISTINCT e.key FROM ({rows_sql}) AS c, json_each(c.attributes) AS e WHERE json_type(c.attributes) = 'object'"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return sorted(row[0] for row in cursor.fetchall())


def _attribute_columns(keys, fixed):
    """Name attribute columns by their key, unless the key is already a column's name."""
    return [key if key not in fixed else f"attribute:{key}" for key in keys]


@dataclass
class Export:
    filename: str
    chunks: object  # an iterator of bytes


def _filename(name):
    return f"{slugify(name) or 'contacts'}-{timezone.localdate().isoformat()}.csv"


def _list_export(mailing_list):
    contacts = Contact.objects.filter(
        Exists(Subscription.objects.filter(contact=OuterRef("pk"), mailing_list=mailing_list))
    )
    keys = attribute_keys(contacts)
    fixed = (*CONTACT_COLUMNS, *SUBSCRIPTION_COLUMNS)
    header = [*CONTACT_COLUMNS, *_attribute_columns(keys, fixed), *SUBSCRIPTION_COLUMNS]
    rows = (
        Subscription.objects.filter(mailing_list=mailing_list)
        .order_by("contact__email", "pk")
        .values_list(
            "contact__email",
            "contact__name",
            "contact__phone",
            "contact__attributes",
            *SUBSCRIPTION_COLUMNS,
        )
        .iterator(chunk_size=CHUNK_SIZE)
    )

    def values():
        for email, name, phone, attributes, *subscription in rows:
            attributes = attributes if isinstance(attributes, dict) else {}
            yield [
                email,
                name,
                phone,
                *(attributes.get(key) for key in keys),
                *subscription,
            ]

    return Export(_filename(mailing_list.name), csv_safe.stream(header, values()))


def _segment_export(segment):
    contacts = segment_contacts(segment.definition)
    keys = attribute_keys(contacts)
    header = [*CONTACT_COLUMNS, *_attribute_columns(keys, CONTACT_COLUMNS)]
    rows = (
        contacts.order_by("email", "pk")
        .values_list(*CONTACT_COLUMNS, "attributes")
        .iterator(chunk_size=CHUNK_SIZE)
    )

    def values():
        for email, name, phone, attributes in rows:
            attributes = attributes if isinstance(attributes, dict) else {}
            yield [email, name, phone, *(attributes.get(key) for key in keys)]

    return Export(_filename(segment.name), csv_safe.stream(header, values()))


def do_export_contacts(by, *, mailing_list=None, segment=None):
    """Export the contacts of a list (with their consent) or of a segment, for the user `by`.

    Every bulk export of contacts passes here, so that it can be recorded in one place. The queries
    are built now, within the active client; the rows are read as the file is sent.
    """
    if (mailing_list is None) == (segment is None):
        raise ValueError("Export a list or a segment.")
    source = mailing_list if mailing_list is not None else segment
    export = _list_export(mailing_list) if mailing_list is not None else _segment_export(segment)
    do_record_audit(
        by, AuditAction.EXPORT, target=source, tenant=source.tenant_id, details={"format": "csv"}
    )
    return export


def do_export_import_report(by, contact_import):
    """Open an import's report (the rows it set aside, as read) for the user `by`; record it.

    The report holds the contacts' values as the file gave them: downloading it is an export.
    """
    report = contact_import.report.open("rb")
    do_record_audit(
        by,
        AuditAction.EXPORT,
        target=contact_import,
        tenant=contact_import.tenant_id,
        details={"format": "csv", "kind": "import_report"},
    )
    return report


def csv_response(export):
    response = StreamingHttpResponse(export.chunks, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, export.filename)
    # Personal data: no shared or browser cache keeps a copy.
    add_never_cache_headers(response)
    return response
