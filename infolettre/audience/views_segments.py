"""Segment pages: the builder (rows of field, operator and value, in groups), its live count, the
preview of the first contacts, and the CSV exports of a segment or a list.

The builder works without JavaScript: its buttons post the form back and the page is drawn again
with the rows added, removed or updated. With htmx, the same posts redraw only the builder, and every
change asks `segment_count` for the number of contacts that match.
"""

import dataclasses
import json
import re
from dataclasses import dataclass

from django.contrib import messages
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from infolettre import counts
from infolettre.accounts.forms import Field
from infolettre.accounts.tenancy import active_tenant_id
from infolettre.accounts.views import client_page
from infolettre.errors import Invalid, NotFound

from .errors import InvalidSegment
from .export import attribute_keys, csv_response, do_export_contacts
from .models import Contact, MailingList, Segment
from .queries import access_list_for_tenant, access_segment_for_tenant
from .segments import (
    ATTRIBUTE_KEY,
    ATTRIBUTE_PREFIX,
    DATE_TEXT,
    DAYS_OPS,
    FIELDS,
    LIST_STATUSES,
    MATCHES,
    MAX_CONDITIONS,
    MAX_NAME,
    MAX_TEXT,
    NO_VALUE_OPS,
    OPERATORS,
    check_definition,
    check_segment_name,
    do_create_segment,
    do_delete_segment,
    do_update_segment,
    is_group,
    operators_for,
    segment_contacts,
)

PREVIEW_SIZE = 20
MAX_KNOWN_KEYS = 500
# How long a big organisation's attribute keys are kept: reading them reads every contact.
KEYS_SECONDS = 600
MAX_GROUPS = 10
VALUE_TYPES = {
    "text": gettext_lazy("text"),
    "number": gettext_lazy("number"),
    "date": gettext_lazy("date"),
    "boolean": gettext_lazy("yes or no"),
}
BOOLEAN_WORDS = {"true": True, "yes": True, "oui": True, "false": False, "no": False, "non": False}
_ROW = re.compile(r"g([0-9]{1,3})-c([0-9]{1,3})-field")
_GROUP = re.compile(r"g([0-9]{1,3})-match")
_WHOLE = re.compile(r"[0-9]{1,18}")


@dataclass
class Row:
    """One condition of the builder, as the person typed it."""

    field: str = ""
    op: str = ""
    value: str = ""
    lists: list = dataclasses.field(default_factory=list)
    value_type: str = "text"
    status: str = "subscribed"
    prefix: str = ""
    errors: dict = dataclasses.field(default_factory=dict)

    @property
    def operators(self):
        return [(op, OPERATORS[op]) for op in operators_for(self.field)]

    @property
    def widget(self):
        """How the value is asked: none, text, attribute, list, days or date."""
        if not self.field or self.op in NO_VALUE_OPS:
            return "none"
        if self.field.startswith(ATTRIBUTE_PREFIX):
            return "attribute"
        if self.field in ("email", "name"):
            return "text"
        if self.field == "list":
            return "list"
        return "days" if self.op in DAYS_OPS else "date"


@dataclass
class Group:
    match: str = "all"
    rows: list = dataclasses.field(default_factory=list)
    prefix: str = ""


@dataclass
class Builder:
    match: str = "all"
    groups: list = dataclasses.field(default_factory=list)
    error: str = ""
    summary: str = ""
    # A definition nested deeper than the page shows: it is kept as it is, and changed by the API.
    too_deep: bool = False

    def number(self):
        for i, group in enumerate(self.groups):
            group.prefix = f"g{i}"
            for j, row in enumerate(group.rows):
                row.prefix = f"g{i}-c{j}"
        return self


def _new_builder():
    return Builder(groups=[Group(rows=[Row()])]).number()


# From a saved definition to the builder -------------------------------------------------------


def _row_from(condition):
    row = Row(field=condition["field"], op=condition["op"])
    value = condition.get("value")
    if row.field == "list":
        row.lists = [str(i) for i in value]
        row.status = condition.get("status", "subscribed")
    elif isinstance(value, bool):
        row.value_type, row.value = "boolean", "true" if value else "false"
    elif isinstance(value, int | float):
        row.value_type = "number"
        row.value = str(int(value)) if float(value).is_integer() else str(value)
    elif value is not None:
        row.value = str(value)
        if row.field.startswith(ATTRIBUTE_PREFIX) and DATE_TEXT.fullmatch(row.value):
            row.value_type = "date"
    return row


def _builder_from(definition):
    conditions = definition.get("conditions") or []
    if not conditions:
        return _new_builder()
    if not any(is_group(c) for c in conditions):
        return Builder(
            groups=[Group(match=definition["match"], rows=[_row_from(c) for c in conditions])]
        ).number()
    groups = []
    for child in conditions:
        if not is_group(child):
            groups.append(Group(rows=[_row_from(child)]))
        elif any(is_group(c) for c in child["conditions"]):
            return Builder(too_deep=True)
        else:
            groups.append(
                Group(match=child["match"], rows=[_row_from(c) for c in child["conditions"]])
            )
    return Builder(match=definition["match"], groups=groups).number()


# From the form to the builder, and to a definition -------------------------------------------


def _choice(value, choices, default):
    return value if value in choices else default


def _read_builder(post):
    rows = {}
    for key in post:
        if m := _ROW.fullmatch(key):
            rows.setdefault(int(m[1]), []).append(int(m[2]))
    group_ids = sorted({int(m[1]) for key in post if (m := _GROUP.fullmatch(key))} | set(rows))[
        :MAX_GROUPS
    ]
    builder = Builder(match=_choice(post.get("match"), MATCHES, "all"))
    for g in group_ids:
        group = Group(match=_choice(post.get(f"g{g}-match"), MATCHES, "all"), prefix=f"g{g}")
        for c in sorted(rows.get(g, []))[:MAX_CONDITIONS]:
            prefix = f"g{g}-c{c}"
            row = Row(
                field=post.get(f"{prefix}-field", "").strip(),
                op=post.get(f"{prefix}-op", ""),
                value=post.get(f"{prefix}-value", "").strip()[: MAX_TEXT + 1],
                lists=post.getlist(f"{prefix}-lists")[:MAX_CONDITIONS],
                value_type=_choice(post.get(f"{prefix}-type"), VALUE_TYPES, "text"),
                status=_choice(post.get(f"{prefix}-status"), LIST_STATUSES, "subscribed"),
                prefix=prefix,
            )
            if row.op not in operators_for(row.field):
                # The field changed: offer its first operator rather than a stale one.
                row.op = next(iter(operators_for(row.field)), "")
            group.rows.append(row)
        builder.groups.append(group)
    return builder


def _apply_action(builder, action):
    """Add or remove a row or a group, as the button that was pressed asks."""
    kind, _sep, target = (action or "").partition(":")
    by_prefix = {g.prefix: g for g in builder.groups}
    if kind == "add_row" and target in by_prefix:
        by_prefix[target].rows.append(Row())
    elif kind == "remove_row":
        for group in builder.groups:
            group.rows = [r for r in group.rows if r.prefix != target]
    elif kind == "add_group" and len(builder.groups) < MAX_GROUPS:
        builder.groups.append(Group(rows=[Row()]))
    elif kind == "remove_group":
        builder.groups = [g for g in builder.groups if g.prefix != target]
    builder.groups = [g for g in builder.groups if g.rows] or [Group(rows=[Row()])]
    return builder.number()


def _number(text):
    text = text.replace(" ", "").replace("\u00a0", "").replace(",", ".")
    try:
        number = float(text)
    except ValueError:
        return None
    return int(number) if number.is_integer() and "." not in text else number


def _whole(text):
    """A whole number as typed, or the text itself for the checks to refuse."""
    return int(text) if _WHOLE.fullmatch(text) else text


def _condition(row, path, problems):
    condition = {"field": row.field, "op": row.op}
    widget = row.widget
    if widget == "list":
        condition["value"] = [_whole(i) for i in row.lists]
        condition["status"] = row.status
    elif widget == "days":
        condition["value"] = _whole(row.value)
    elif widget == "attribute" and row.value_type == "number":
        condition["value"] = _number(row.value)
        if condition["value"] is None:
            problems.append({"field": f"{path}.value", "message": _("Enter a number.")})
    elif widget == "attribute" and row.value_type == "boolean":
        condition["value"] = BOOLEAN_WORDS.get(row.value.lower(), row.value)
    elif widget != "none":
        condition["value"] = row.value
    return condition


def _definition(builder):
    """The definition the builder shows, and the row each path names; empty rows are left out."""
    rows_by_path, problems, groups = {}, [], []
    for group in builder.groups:
        rows = [row for row in group.rows if row.field]
        if rows:
            groups.append((group, rows))
    single = len(groups) == 1

    def conditions(rows, prefix):
        out = []
        for k, row in enumerate(rows):
            path = f"{prefix}conditions.{k}"
            rows_by_path[path] = row
            out.append(_condition(row, path, problems))
        return out

    if single:
        group, rows = groups[0]
        definition = {"match": group.match, "conditions": conditions(rows, "")}
    else:
        definition = {
            "match": builder.match,
            "conditions": [
                {"match": group.match, "conditions": conditions(rows, f"conditions.{i}.")}
                for i, (group, rows) in enumerate(groups)
            ],
        }
    return definition, rows_by_path, problems


def _show_problems(builder, problems, rows_by_path):
    """Put each problem beside the input it names; the others above the builder."""
    general = []
    for problem in problems:
        path = problem["field"] or ""
        row_path, _sep, part = path.rpartition(".")
        row = rows_by_path.get(row_path)
        if row is not None and part in ("field", "op", "value", "status", "list"):
            row.errors[part] = problem["message"]
        elif path in rows_by_path:
            rows_by_path[path].errors["value"] = problem["message"]
        else:
            general.append(problem["message"])
    builder.error = " ".join(general) or _("Correct the conditions marked below.")
    # The live count has no rows to mark: it says each problem once.
    builder.summary = " ".join(dict.fromkeys(str(p["message"]) for p in problems))


def _checked(builder):
    """Return the builder's definition, checked, or None with the problems shown on the builder."""
    definition, rows_by_path, problems = _definition(builder)
    if not problems:
        try:
            return check_definition(definition)
        except InvalidSegment as e:
            problems = e.details
    _show_problems(builder, problems, rows_by_path)
    return None


# Pages ---------------------------------------------------------------------------------------


def _known_keys(request):
    """The attribute keys the client's contacts hold: read once when the page is drawn, then
    carried by the form, so that redrawing the builder does not read every contact again. None
    while a big organisation's keys are being read (after the answer): the form then carries
    none, and the next redraw reads them from the cache."""
    if request.method == "POST" and "known_keys" in request.POST:
        keys = request.POST.getlist("known_keys")[:MAX_KNOWN_KEYS]
    else:
        keys = _attribute_keys()
        if keys is counts.COUNTING:
            return None
    return [k for k in keys if ATTRIBUTE_KEY.fullmatch(k)]


def _attribute_keys():
    """Every attribute key of the organisation's contacts: exact below EXACT_BELOW contacts,
    else at most KEYS_SECONDS old (a key new since then is offered once it is read again), or
    COUNTING when not read yet (read after the answer: every contact is read)."""
    contacts = Contact.objects.all()
    if not counts.at_least(contacts, counts.EXACT_BELOW):
        return attribute_keys(contacts)
    return counts.cached_figures(
        counts.cache_key("audience:attribute-keys", active_tenant_id()),
        lambda: attribute_keys(contacts),
        KEYS_SECONDS,
        lambda _keys: counts.EXACT_BELOW,
        big=lambda: True,
    )


def _count(definition, counting=False):
    """How many contacts a checked definition selects (see infolettre.counts); with `counting`,
    COUNTING for a big number not counted yet (counted after the answer)."""
    return counts.cached_count(
        segment_contacts(definition), counts.COUNT_SECONDS, counting=counting
    )


def _field_choices(builder, keys):
    """Every field the builder offers; attributes are the keys the client's contacts hold."""
    used = [
        row.field[len(ATTRIBUTE_PREFIX) :]
        for group in builder.groups
        for row in group.rows
        if row.field.startswith(ATTRIBUTE_PREFIX)
    ]
    attributes = [(f"{ATTRIBUTE_PREFIX}{k}", k) for k in sorted(set(keys) | set(used))]
    contact = [(name, FIELDS[name]) for name in ("email", "name", "created_at", "engagement")]
    lists = [(name, FIELDS[name]) for name in ("list", "subscribed_at")]
    return [
        (_("Contact"), contact),
        (_("Attributes"), attributes),
        (_("Lists"), lists),
    ]


def _name_field(value="", error=""):
    return Field(
        "name",
        _("Segment name"),
        value=value,
        error=error,
        max_length=MAX_NAME,
        autocomplete="off",
    )


def _builder_context(request, builder):
    keys = _known_keys(request)
    return {
        "builder": builder,
        "known_keys": keys or [],
        "keys_pending": keys is None,
        "field_choices": _field_choices(builder, keys or []),
        "value_types": list(VALUE_TYPES.items()),
        "statuses": list(LIST_STATUSES.items()),
        "lists": [(str(pk), name) for pk, name in MailingList.objects.values_list("pk", "name")],
    }


def _count_or_none(definition):
    try:
        return _count(definition)
    except InvalidSegment:
        return None


def _segment(segment_id):
    try:
        return access_segment_for_tenant(segment_id)
    except NotFound:
        raise Http404 from None


def _save(request, builder, segment=None):
    """Check the name and the conditions; save and return the segment, or None with the errors."""
    name_error = ""
    try:
        name = check_segment_name(request.POST.get("name", ""))
    except Invalid as e:
        name, name_error = None, e.details[0]["message"]
    definition = _checked(builder)
    if name is None or definition is None:
        return None, name_error
    if segment is None:
        segment = do_create_segment(request.tenant, name=name, definition=definition)
    else:
        segment = do_update_segment(segment, name=name, definition=definition)
    return segment, ""


def _redraw_only(request):
    """htmx asks for the builder alone after a row or a choice changed: skip the rest of the page."""
    return request.headers.get("HX-Request") == "true"


@client_page
def segments(request):
    status, name_field = 200, _name_field()
    builder = _new_builder()
    if request.method == "POST":
        builder = _apply_action(_read_builder(request.POST), request.POST.get("action"))
        name_field.value = request.POST.get("name", "").strip()
        if request.POST.get("action") == "save":
            segment, name_field.error = _save(request, builder)
            if segment is not None:
                messages.success(
                    request, _("The segment “%(name)s” is saved.") % {"name": segment.name}
                )
                return redirect("audience:segment_detail", segment.pk)
            status = 400
        elif _redraw_only(request):
            return render(
                request, "audience/segment_builder.html", _builder_context(request, builder)
            )
    saved = [(segment, _count_or_none(segment.definition)) for segment in Segment.objects.all()]
    return render(
        request,
        "audience/segments.html",
        {"segments": saved, "name_field": name_field, **_builder_context(request, builder)},
        status=status,
    )


@client_page
def segment_detail(request, segment_id):
    segment = _segment(segment_id)
    status, name_field = 200, _name_field(segment.name)
    builder = _builder_from(segment.definition)
    if request.method == "POST" and not builder.too_deep:
        builder = _apply_action(_read_builder(request.POST), request.POST.get("action"))
        name_field.value = request.POST.get("name", "").strip()
        if request.POST.get("action") == "save":
            saved, name_field.error = _save(request, builder, segment)
            if saved is not None:
                messages.success(
                    request, _("The segment “%(name)s” is saved.") % {"name": saved.name}
                )
                return redirect("audience:segment_detail", segment.pk)
            status = 400
        elif _redraw_only(request):
            return render(
                request, "audience/segment_builder.html", _builder_context(request, builder)
            )
    try:
        contacts = segment_contacts(segment.definition)
        count = _count(segment.definition, counting=True)
        counting = count is counts.COUNTING
        preview = list(contacts[:PREVIEW_SIZE])
    except InvalidSegment as e:
        count, counting, preview = None, False, []
        if status == 200:
            builder.error = " ".join(d["message"] for d in e.details)
    return render(
        request,
        "audience/segment_detail.html",
        {
            "segment": segment,
            "definition_json": json.dumps(segment.definition, indent=2, ensure_ascii=False),
            "count": count,
            "counting": counting,
            "at_least": counts.at_least_text(),
            "preview": preview,
            "name_field": name_field,
            **_builder_context(request, builder),
        },
        status=status,
    )


@require_POST
@client_page
def segment_count(request):
    """The live count of the builder's conditions, as a fragment of the page."""
    builder = _read_builder(request.POST).number()
    definition = _checked(builder)
    count = _count(definition, counting=True) if definition is not None else None
    return render(
        request,
        "audience/segment_count.html",
        {
            "count": count,
            "counting": definition is not None and count is counts.COUNTING,
            "at_least": counts.at_least_text(),
            "error": builder.summary if definition is None else "",
        },
    )


@require_POST
@client_page
def segment_delete(request, segment_id):
    segment = _segment(segment_id)
    do_delete_segment(segment)
    messages.success(request, _("The segment “%(name)s” is deleted.") % {"name": segment.name})
    return redirect("audience:segments")


def _only_get(request):
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    return None


@client_page
def export_list(request, list_id):
    try:
        mailing_list = access_list_for_tenant(list_id)
    except NotFound:
        raise Http404 from None
    return _only_get(request) or csv_response(
        do_export_contacts(request.user, mailing_list=mailing_list)
    )


@client_page
def export_segment(request, segment_id):
    segment = _segment(segment_id)
    if refused := _only_get(request):
        return refused
    try:
        export = do_export_contacts(request.user, segment=segment)
    except InvalidSegment:
        messages.error(request, _("Correct the segment's conditions before exporting it."))
        return redirect("audience:segment_detail", segment.pk)
    return csv_response(export)
