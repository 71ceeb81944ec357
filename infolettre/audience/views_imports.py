"""The import pages: upload a CSV file, check its columns and the consent, follow the import."""

import datetime

from django.core import signing
from django.core.files.storage import default_storage
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from infolettre.accounts.forms import Field
from infolettre.accounts.views import client_page
from infolettre.errors import Invalid, NotFound

from . import queries
from .api_imports import import_out, report_response
from .errors import BrokenFile
from .forms import consent_inputs
from .importing import (
    ATTRIBUTE_PREFIX,
    attribute_keys,
    check_import_file,
    do_start_import,
    encoding_name,
    max_upload_bytes,
    read_stored_head,
    store_upload,
)
from .models import ContactImport, ImportMode, ImportStatus

# What a column of the file can fill, as offered beside each column.
COLUMN_CHOICES = (
    ("email", gettext_lazy("Email address")),
    ("name", gettext_lazy("Name")),
    ("first_name", gettext_lazy("First name")),
    ("last_name", gettext_lazy("Last name")),
    ("phone", gettext_lazy("Mobile phone")),
    ("attribute", gettext_lazy("Attribute")),
    ("", gettext_lazy("Ignore this column")),
)
MODE_EXPLANATIONS = {
    ImportMode.ADD_OR_UPDATE: gettext_lazy(
        "New addresses become contacts. For an address you already have, the file's values "
        "replace those you hold; its empty cells leave them as they are."
    ),
    ImportMode.ADD_ONLY: gettext_lazy(
        "New addresses become contacts. Contacts you already have keep their data exactly as "
        "it is; they are only added to the list if they were not on it."
    ),
}
# The signed upload between the two steps of the page stays valid this long.
UPLOAD_MAX_AGE = 12 * 60 * 60


def _list(list_id):
    try:
        return queries.access_list_for_tenant(list_id)
    except NotFound:
        raise Http404 from None


def _import(import_id):
    try:
        return queries.access_import_for_tenant(import_id)
    except NotFound:
        raise Http404 from None


def _salt(request, mailing_list):
    return f"audience.import:{request.tenant.pk}:{request.user.pk}:{mailing_list.pk}"


@client_page
def import_start(request, list_id):
    """Upload a file; then check what each column holds, the mode and the consent, and start."""
    mailing_list = _list(list_id)
    if request.method == "POST" and "upload" in request.POST:
        return _confirm(request, mailing_list)
    if request.method == "POST":
        return _upload(request, mailing_list)
    return _upload_page(request, mailing_list)


def _upload_page(request, mailing_list, error="", status=200):
    return render(
        request,
        "audience/import_upload.html",
        {
            "mailing_list": mailing_list,
            "error": error,
            "max_megabytes": max_upload_bytes() // (1024 * 1024),
            "recent": list(ContactImport.objects.filter(mailing_list=mailing_list)[:5]),
        },
        status=status,
    )


def _upload(request, mailing_list):
    uploaded = request.FILES.get("file")
    if uploaded is None:
        return _upload_page(request, mailing_list, _("Choose a CSV file."), status=400)
    try:
        checked = check_import_file(uploaded)
    except BrokenFile as e:
        return _upload_page(request, mailing_list, str(e.message), status=400)
    upload = {
        "name": store_upload(uploaded),
        "filename": uploaded.name[:255],
        "encoding": checked.encoding,
        "delimiter": checked.delimiter,
        "header": checked.header,
    }
    token = signing.dumps(upload, salt=_salt(request, mailing_list), compress=True)
    values = {
        f"column_{i}": _choice(checked.mapping.get(name, ""))
        for i, name in enumerate(checked.header)
    }
    return _mapping_page(request, mailing_list, upload, token, checked.rows, values)


def _choice(target):
    return "attribute" if target.startswith(ATTRIBUTE_PREFIX) else target


def _mapping_page(request, mailing_list, upload, token, rows, values, errors=None, status=200):
    errors = errors or {}
    header = upload["header"]
    keys = attribute_keys(header)
    columns = [
        {
            "index": i,
            "name": name,
            "key": keys[i],
            "samples": [row[i] for row in rows if i < len(row) and row[i].strip()][:3],
            "field": Field(
                f"column_{i}",
                name,
                "select",
                value=values.get(f"column_{i}", ""),
                required=False,
                choices=COLUMN_CHOICES,
                autocomplete="off",
            ),
        }
        for i, name in enumerate(header)
        if name
    ]
    consent = consent_inputs(values, errors)
    consent["source"].required = True
    return render(
        request,
        "audience/import_mapping.html",
        {
            "mailing_list": mailing_list,
            "upload": upload,
            "encoding": encoding_name(upload["encoding"]),
            "delimiter": _("tab") if upload["delimiter"] == "\t" else upload["delimiter"],
            "token": token,
            "header": header,
            "rows": rows,
            "columns": columns,
            "modes": [
                {
                    "value": value,
                    "label": label,
                    "explanation": MODE_EXPLANATIONS[value],
                    "checked": values.get("mode", ImportMode.ADD_OR_UPDATE) == value,
                }
                for value, label in ImportMode.choices
            ],
            "consent": consent,
            "mapping_error": errors.get("mapping", ""),
            "mode_error": errors.get("mode", ""),
            "has_errors": bool(errors),
        },
        status=status,
    )


def _confirm(request, mailing_list):
    try:
        upload = signing.loads(
            request.POST["upload"], salt=_salt(request, mailing_list), max_age=UPLOAD_MAX_AGE
        )
    except signing.BadSignature:
        return _upload_page(
            request,
            mailing_list,
            _("This upload has expired or is not yours; choose the file again."),
            status=400,
        )
    if not default_storage.exists(upload["name"]):
        return _upload_page(
            request, mailing_list, _("This upload has expired; choose the file again."), status=400
        )
    header = upload["header"]
    keys = attribute_keys(header)
    values = {name: request.POST.get(name, "") for name in request.POST}
    mapping = {}
    for i, name in enumerate(header):
        if name:
            choice = values.get(f"column_{i}", "")
            mapping[name] = f"{ATTRIBUTE_PREFIX}{keys[i]}" if choice == "attribute" else choice
    errors = {}
    consent_at = None
    if values.get("consent_date", "").strip():
        try:
            consent_at = datetime.date.fromisoformat(values["consent_date"].strip())
        except ValueError:
            errors["consent_date"] = _("Enter a date such as 2026-03-31.")
    if not errors:
        try:
            contact_import = do_start_import(
                mailing_list,
                request.user,
                stored_name=upload["name"],
                filename=upload["filename"],
                encoding=upload["encoding"],
                delimiter=upload["delimiter"],
                header=header,
                mapping=mapping,
                mode=values.get("mode", ""),
                consent_basis=values.get("basis", ""),
                consent_at=consent_at,
                consent_source=values.get("source", ""),
                consent_wording=values.get("wording", ""),
            )
        except Invalid as e:
            for detail in e.details:
                field = {
                    "consent_basis": "basis",
                    "consent_at": "consent_date",
                    "consent_source": "source",
                    "consent_wording": "wording",
                }.get(detail["field"], detail["field"])
                message = str(detail["message"])
                errors[field] = f"{errors[field]} {message}" if field in errors else message
        else:
            return redirect("audience:import_detail", contact_import.pk)
    _header, rows = read_stored_head(upload["name"], upload["encoding"], upload["delimiter"])
    return _mapping_page(
        request, mailing_list, upload, request.POST["upload"], rows, values, errors, status=400
    )


@client_page
def import_detail(request, import_id):
    """An import's progress and counts; the page refreshes itself until the import ends."""
    contact_import = import_out(_import(import_id))
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    running = contact_import.status in (ImportStatus.QUEUED, ImportStatus.RUNNING)
    response = render(
        request,
        "audience/import_detail.html",
        {
            "contact_import": contact_import,
            "mailing_list": contact_import.mailing_list,
            "running": running,
            "set_aside": contact_import.rejected_count
            + contact_import.suppressed_count
            + contact_import.unsubscribed_count,
            "on_list": contact_import.created_count
            + contact_import.updated_count
            + contact_import.unchanged_count,
        },
    )
    if running:
        response["Refresh"] = "2"
    return response


@client_page
def import_report(request, import_id):
    """Download the rows an import set aside, with the line number and the reason of each."""
    contact_import = _import(import_id)
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    if not contact_import.report:
        raise Http404
    return report_response(request.user, contact_import)
