"""Everything held about one address, compiled from the personal-data declaration.

Nothing here names an app or a model: each declared model is searched by its `subject_email_path`,
and the ledgers that name their person by (subject_type, subject_id) are searched for every row
found that way. A new app's declared model appears in the access file with no new code.
"""

from datetime import date, datetime

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q
from django.db.models.fields.files import FieldFile
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from .audit import SUBJECT, AuditAction, do_record_audit
from .declaration import CREDENTIALS, THIRD_PARTY, declared_models
from .purposes import PURPOSES

# The instant each retention is counted from, read from the row when the row has it.
COLLECTED_AT = (
    "created_at",
    "occurred_at",
    "accepted_at",
    "received_at",
    "date_joined",
    "consent_at",
    "sent_at",
)


def _manager(model):
    # Tenant-owned models scope `objects` to the active tenant; the person's file spans tenants.
    return getattr(model, "unscoped", model._base_manager)


def _is_generic(model):
    names = {f.name for f in model._meta.concrete_fields}
    return {"subject_type", "subject_id"} <= names


def _plain(value):
    """A value as it goes into the JSON file."""
    if isinstance(value, datetime):
        return timezone.localtime(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, FieldFile):
        return value.name or None
    if isinstance(value, dict | list | str | int | float | bool) or value is None:
        return value
    return str(value)


def _has_value(value):
    return value not in (None, "", [], {})


def _field_value(row, personal_field):
    model_field = row._meta.get_field(personal_field.name)
    value = getattr(row, model_field.attname)
    if not _has_value(value) or (isinstance(value, FieldFile) and not value):
        return None
    # A password or token digest is one-way: it tells the person nothing and would help an attacker.
    if personal_field.category == CREDENTIALS and personal_field.confidential:
        return _("Held as a one-way digest; not shown.")
    if model_field.choices:
        return str(getattr(row, f"get_{model_field.name}_display")())
    return _plain(value)


def _client_of(row):
    tenant_id = getattr(row, "tenant_id", None)
    if tenant_id is None:
        return None
    organisation = apps.get_model("accounts.Organisation")
    return organisation.objects.filter(pk=tenant_id).values_list("name", flat=True).first()


def _account_closed_at(row):
    if hasattr(row, "closed_at") and row._meta.label == "accounts.Organisation":
        return row.closed_at
    tenant_id = getattr(row, "tenant_id", None)
    if tenant_id is None:
        return None
    organisation = apps.get_model("accounts.Organisation")
    return organisation.objects.filter(pk=tenant_id).values_list("closed_at", flat=True).first()


def retention_end(row, retention):
    """The date the value is due to go, when the row says when its period started; else None."""
    start = None
    if retention.counted_from == "collected":
        start = next((getattr(row, n) for n in COLLECTED_AT if getattr(row, n, None)), None)
    elif retention.counted_from == "account_closed":
        start = _account_closed_at(row)
    elif retention.counted_from == "request_closed":
        start = getattr(row, "closed_at", None)
    elif retention.counted_from == "session_end":
        start = getattr(row, "expire_date", None)
    if not isinstance(start, datetime):
        return None
    return timezone.localdate(start + retention.period).isoformat()


def _source(entry, client):
    if entry.subject == THIRD_PARTY and client:
        return _("From the mailing lists of %(client)s") % {"client": client}
    if client:
        return _("Your account with %(client)s") % {"client": client}
    return _("Given by you or recorded by our service")


def _record(entry, row):
    client = _client_of(row)
    items = []
    for personal_field in entry.fields:
        value = _field_value(row, personal_field)
        if value is None:
            continue
        items.append(
            {
                "field": personal_field.name,
                "label": str(capfirst(row._meta.get_field(personal_field.name).verbose_name)),
                "value": value,
                "category": str(personal_field.category.label),
                "purposes": [str(p.label) for p in personal_field.purpose_objects],
                "retention": str(personal_field.retention.label),
                "retention_end": retention_end(row, personal_field.retention),
            }
        )
    return {"id": row.pk, "client": client, "source": _source(entry, client), "items": items}


def _rows_by_address(entry, email):
    model = apps.get_model(entry.model)
    lookup = {f"{entry.subject_email_path}__iexact": email}
    return list(_manager(model).filter(**lookup).distinct().order_by("pk"))


def _rows_by_subject(entry, subjects):
    model = apps.get_model(entry.model)
    if not subjects:
        return []
    condition = Q()
    for content_type, ids in subjects.items():
        condition |= Q(subject_type=content_type, subject_id__in=ids)
    return list(_manager(model).filter(condition).order_by("pk"))


def _group(entry, rows):
    model = apps.get_model(entry.model)
    records = [r for r in (_record(entry, row) for row in rows) if r["items"]]
    return {
        "app": model._meta.app_label,
        "model": entry.model,
        "label": str(capfirst(model._meta.verbose_name)),
        "records": records,
    }


def access_file_disclosures(email):
    """Whom the person's data was communicated to, from the disclosure log."""
    try:
        from .disclosures import disclosures_for
    except ImportError:
        return []
    categories = {
        f.category.code: str(f.category.label) for entry in declared_models() for f in entry.fields
    }
    found = []
    for disclosure in disclosures_for(email):
        entry = {key: _plain(value) for key, value in disclosure.items()}
        if isinstance(entry.get("categories"), list):
            entry["category_labels"] = [categories.get(c, c) for c in entry["categories"]]
        if entry.get("purpose") in PURPOSES:
            entry["purpose_label"] = str(PURPOSES[entry["purpose"]].label)
        found.append(entry)
    return found


def compile_access_file(email, *, now=None):
    """Return the person's access file: every declared value held about `email`, as plain data."""
    email = email.strip().lower()
    groups, not_searchable, subjects, generic = [], [], {}, []
    for entry in declared_models():
        model = apps.get_model(entry.model)
        if entry.subject_email_path:
            rows = _rows_by_address(entry, email)
            if rows and "__" not in entry.subject_email_path:
                content_type = ContentType.objects.get_for_model(model)
                subjects.setdefault(content_type, []).extend(r.pk for r in rows)
            groups.append(_group(entry, rows))
        elif _is_generic(model):
            generic.append(entry)
        else:
            not_searchable.append(
                {
                    "model": entry.model,
                    "label": str(capfirst(model._meta.verbose_name)),
                    "retention": sorted({str(f.retention.label) for f in entry.fields}),
                }
            )
    for entry in generic:
        groups.append(_group(entry, _rows_by_subject(entry, subjects)))
    return {
        "subject": {"email": email},
        "generated_at": (now or timezone.now()).isoformat(),
        "groups": [g for g in groups if g["records"]],
        "disclosures": access_file_disclosures(email),
        # Declared data that names no address (an uploaded file, a session): held, not searchable.
        "not_searchable": not_searchable,
    }


def do_deliver_access_file(privacy_request, *, export_format, actor=SUBJECT):
    """Compile the access file of a proven access request; record its delivery in the audit trail.

    actor: the person themselves (SUBJECT, by the signed link) or the signed-in user who asked.
    """
    access_file = compile_access_file(privacy_request.email)
    do_record_audit(
        actor,
        AuditAction.EXPORT,
        target=privacy_request,
        tenant=privacy_request.tenant_id,
        details={
            "format": export_format,
            "kind": "access_file",
            "groups": len(access_file["groups"]),
        },
    )
    return access_file
