"""Segments: conditions over a client's contacts, checked, then compiled to a query (never to SQL text).

A definition is JSON:

    {"match": "all" | "any", "conditions": [condition | group, ...]}

where a group has the same shape (nested at most MAX_DEPTH deep, at most MAX_CONDITIONS conditions in
all) and a condition is `{"field": ..., "op": ..., "value": ...}`:

- `email`, `name`: equals, not_equals, contains, not_contains, starts_with, ends_with (text, any
  case), is_empty, is_not_empty (no value).
- `attribute:<key>`: the value's JSON type decides the comparison. equals / not_equals take text,
  a number or true/false, compared with values of the same type (text as written, case included);
  contains takes text (any case); greater_than, less_than, at_least, at_most take a number or a date
  written YYYY-MM-DD (compared with text attributes that start with a date); is_set / is_not_set take
  no value (a key holding null is not set).
- `list`: in / not_in, the id of one of the client's lists or a list of ids; with `"status"`
  subscribed (the default), unconfirmed, unsubscribed or any.
- `subscribed_at`: before / after a date (YYYY-MM-DD, in the site's time zone) or within_last_days
  (a number of days): when the contact was put on a list, any list or the one named by `"list"`.
- `engagement`: engaged_within_days / not_engaged_within_days (a number of days), never_engaged.
- `created_at`: before / after / within_last_days, when the contact was added.

A definition without conditions selects every contact; a nested group needs at least one. The
compiled query is over `Contact.objects`, hence always within the active client's contacts; list
conditions are subqueries, so a contact appears once however many lists match.
"""

import json
import math
import re
from datetime import date, datetime, time, timedelta

from django.db import NotSupportedError, transaction
from django.db.models import BooleanField, Exists, F, Func, OuterRef, Q, TextField
from django.db.models.lookups import (
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    IContains,
    In,
    LessThan,
    LessThanOrEqual,
    Regex,
)
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from infolettre.errors import Invalid

from .errors import InvalidSegment
from .models import ATTRIBUTE_KEY, Contact, MailingList, Segment, Subscription

MAX_DEPTH = 3
MAX_CONDITIONS = 50
MAX_TEXT = 500
MAX_DAYS = 36500
MAX_LISTS = 50
MAX_NAME = 200
MAX_ID = 2**63 - 1
ATTRIBUTE_PREFIX = "attribute:"
DATE_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

MATCHES = ("all", "any")
FIELDS = {
    "email": gettext_lazy("Email address"),
    "name": gettext_lazy("Name"),
    "list": gettext_lazy("List"),
    "subscribed_at": gettext_lazy("Put on a list"),
    "engagement": gettext_lazy("Engagement"),
    "created_at": gettext_lazy("Contact added"),
}
OPERATORS = {
    "equals": gettext_lazy("is"),
    "not_equals": gettext_lazy("is not"),
    "contains": gettext_lazy("contains"),
    "not_contains": gettext_lazy("does not contain"),
    "starts_with": gettext_lazy("starts with"),
    "ends_with": gettext_lazy("ends with"),
    "is_empty": gettext_lazy("is empty"),
    "is_not_empty": gettext_lazy("is not empty"),
    "greater_than": gettext_lazy("is more than"),
    "less_than": gettext_lazy("is less than"),
    "at_least": gettext_lazy("is at least"),
    "at_most": gettext_lazy("is at most"),
    "is_set": gettext_lazy("has a value"),
    "is_not_set": gettext_lazy("has no value"),
    "in": gettext_lazy("is on"),
    "not_in": gettext_lazy("is not on"),
    "before": gettext_lazy("before"),
    "after": gettext_lazy("after"),
    "within_last_days": gettext_lazy("within the last … days"),
    "engaged_within_days": gettext_lazy("opened or clicked within the last … days"),
    "not_engaged_within_days": gettext_lazy("did not open or click within the last … days"),
    "never_engaged": gettext_lazy("never opened or clicked"),
}
LIST_STATUSES = {
    "subscribed": gettext_lazy("subscribed"),
    "unconfirmed": gettext_lazy("awaiting confirmation"),
    "unsubscribed": gettext_lazy("unsubscribed"),
    "any": gettext_lazy("with any status"),
}

TEXT_OPS = (
    "equals",
    "not_equals",
    "contains",
    "not_contains",
    "starts_with",
    "ends_with",
    "is_empty",
    "is_not_empty",
)
ATTRIBUTE_OPS = (
    "equals",
    "not_equals",
    "contains",
    "greater_than",
    "less_than",
    "at_least",
    "at_most",
    "is_set",
    "is_not_set",
)
DATE_OPS = ("before", "after", "within_last_days")
OPS_BY_FIELD = {
    "email": TEXT_OPS,
    "name": TEXT_OPS,
    "list": ("in", "not_in"),
    "subscribed_at": DATE_OPS,
    "engagement": ("engaged_within_days", "not_engaged_within_days", "never_engaged"),
    "created_at": DATE_OPS,
}
NO_VALUE_OPS = frozenset({"is_empty", "is_not_empty", "is_set", "is_not_set", "never_engaged"})
DAYS_OPS = frozenset({"within_last_days", "engaged_within_days", "not_engaged_within_days"})
ORDER_OPS = {
    "greater_than": GreaterThan,
    "less_than": LessThan,
    "at_least": GreaterThanOrEqual,
    "at_most": LessThanOrEqual,
}
# Keys a condition may carry besides field, op and value, by field.
EXTRA_KEYS = {"list": ("status",), "subscribed_at": ("list",)}


def operators_for(field):
    """The operators that apply to a field, or () for a field that does not exist."""
    if field.startswith(ATTRIBUTE_PREFIX):
        return ATTRIBUTE_OPS
    return OPS_BY_FIELD.get(field, ())


def is_group(node):
    return isinstance(node, dict) and ("conditions" in node or "match" in node)


# Checking ------------------------------------------------------------------------------------


def _is_number(value):
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and abs(value) < 1e15
    )


def _parse_date(value):
    if not isinstance(value, str) or not DATE_TEXT.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


class _Checker:
    """Walk a definition, collect every problem with the path of the faulty part, and normalise."""

    def __init__(self):
        self.problems = []
        self.conditions = 0
        self.list_ids = {}  # list id -> paths naming it

    def problem(self, path, message):
        self.problems.append({"field": path, "message": str(message)})

    def group(self, node, path, depth):
        prefix = f"{path}." if path else ""
        if not isinstance(node, dict):
            self.problem(path or "definition", _("Send an object with “match” and “conditions”."))
            return None
        for key in sorted(node.keys() - {"match", "conditions"}, key=str):
            self.problem(f"{prefix}{key}", _("Unknown key."))
        match = node.get("match")
        if match not in MATCHES:
            self.problem(f"{prefix}match", _("Choose “all” or “any”."))
        conditions = node.get("conditions")
        if not isinstance(conditions, list):
            self.problem(f"{prefix}conditions", _("Give a list of conditions."))
            return None
        if not conditions and depth > 1:
            self.problem(f"{prefix}conditions", _("Add at least one condition to this group."))
        checked = []
        for index, child in enumerate(conditions):
            child_path = f"{prefix}conditions.{index}"
            if is_group(child):
                if depth >= MAX_DEPTH:
                    self.problem(
                        child_path,
                        _("Groups nest at most %(limit)d levels deep.") % {"limit": MAX_DEPTH},
                    )
                    continue
                checked.append(self.group(child, child_path, depth + 1))
            else:
                checked.append(self.condition(child, child_path))
        return {"match": match, "conditions": checked}

    def condition(self, node, path):
        self.conditions += 1
        if not isinstance(node, dict):
            self.problem(
                path, _("Each condition is an object with a field, an operator and a value.")
            )
            return None
        field, op = node.get("field"), node.get("op")
        if not isinstance(field, str) or not operators_for(field):
            message = _("Choose a field.") if field is None else _("Unknown field.")
            self.problem(f"{path}.field", message)
            return None
        if field.startswith(ATTRIBUTE_PREFIX) and not ATTRIBUTE_KEY.fullmatch(
            field[len(ATTRIBUTE_PREFIX) :]
        ):
            self.problem(
                f"{path}.field",
                _("An attribute name has 1 to 64 lowercase letters, digits or underscores."),
            )
            return None
        kind = "attribute" if field.startswith(ATTRIBUTE_PREFIX) else field
        allowed = {"field", "op", "value", *EXTRA_KEYS.get(kind, ())}
        for key in sorted(node.keys() - allowed, key=str):
            self.problem(f"{path}.{key}", _("Unknown key."))
        if op not in operators_for(field):
            self.problem(f"{path}.op", _("This operator does not apply to this field."))
            return None
        checked = {"field": field, "op": op}
        value_path = f"{path}.value"
        if op in NO_VALUE_OPS:
            if node.get("value") is not None:
                self.problem(value_path, _("This operator takes no value."))
        elif "value" not in node:
            self.problem(value_path, _("This field is required."))
        else:
            checked["value"] = getattr(self, f"_{kind}_value")(node["value"], op, value_path)
        if kind == "list":
            status = node.get("status", "subscribed")
            if not isinstance(status, str) or status not in LIST_STATUSES:
                self.problem(
                    f"{path}.status",
                    _("Choose subscribed, unconfirmed, unsubscribed or any."),
                )
            checked["status"] = status
        if kind == "subscribed_at" and node.get("list") is not None:
            checked["list"] = self._list_ids(node["list"], f"{path}.list", single=True)
        return checked

    def _text(self, value, path):
        if not isinstance(value, str) or not value:
            self.problem(path, _("Enter a text."))
        elif len(value) > MAX_TEXT:
            self.problem(path, _("Use at most %(limit)d characters.") % {"limit": MAX_TEXT})
        return value

    def _days(self, value, path):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_DAYS:
            self.problem(
                path,
                _("Enter a whole number of days from 1 to %(limit)d.") % {"limit": MAX_DAYS},
            )
        return value

    def _date(self, value, path):
        if _parse_date(value) is None:
            self.problem(path, _("Enter a date as YYYY-MM-DD."))
        return value

    def _email_value(self, value, op, path):
        return self._text(value, path)

    _name_value = _email_value

    def _attribute_value(self, value, op, path):
        if op in ORDER_OPS:
            if not _is_number(value) and _parse_date(value) is None:
                self.problem(path, _("Enter a number or a date as YYYY-MM-DD."))
        elif op == "contains" or isinstance(value, str):
            self._text(value, path)
        elif not isinstance(value, bool) and not _is_number(value):
            self.problem(path, _("Enter a text, a number, true or false."))
        return value

    def _list_ids(self, value, path, single=False):
        ids = [value] if single or not isinstance(value, list) else value
        if (
            not ids
            or len(ids) > MAX_LISTS
            or any(
                isinstance(i, bool) or not isinstance(i, int) or not 1 <= i <= MAX_ID for i in ids
            )
        ):
            self.problem(path, _("Choose one or more of your lists."))
            return value
        for list_id in ids:
            self.list_ids.setdefault(list_id, []).append(path)
        unique = list(dict.fromkeys(ids))
        return unique[0] if single else unique

    def _list_value(self, value, op, path):
        return self._list_ids(value, path)

    def _subscribed_at_value(self, value, op, path):
        return self._days(value, path) if op in DAYS_OPS else self._date(value, path)

    _created_at_value = _subscribed_at_value

    def _engagement_value(self, value, op, path):
        return self._days(value, path)

    def check_lists_exist(self):
        """Only the active client's lists exist here: another client's list id is refused."""
        if not self.list_ids:
            return
        found = set(MailingList.objects.filter(pk__in=self.list_ids).values_list("pk", flat=True))
        for list_id, paths in self.list_ids.items():
            if list_id not in found:
                for path in paths:
                    self.problem(path, _("No such list."))


def check_definition(definition):
    """Return the definition, normalised, or raise InvalidSegment naming the path of each problem."""
    checker = _Checker()
    checked = checker.group(definition, "", 1)
    if checker.conditions > MAX_CONDITIONS:
        checker.problem(
            "conditions",
            _("A segment has at most %(limit)d conditions.") % {"limit": MAX_CONDITIONS},
        )
    if not checker.problems:
        checker.check_lists_exist()
    if checker.problems:
        raise InvalidSegment(details=checker.problems)
    return checked


def check_segment_name(name):
    name = (name or "").strip() if isinstance(name, str) else ""
    if not name:
        raise Invalid(details=[{"field": "name", "message": _("Give the segment a name.")}])
    if len(name) > MAX_NAME:
        raise Invalid(
            details=[
                {
                    "field": "name",
                    "message": _("Use at most %(limit)d characters.") % {"limit": MAX_NAME},
                }
            ]
        )
    return name


# Attributes, for PostgreSQL (jsonb) and SQLite (JSON1), with the same results on both ----------


class _Attribute(Func):
    """An expression over one key of Contact.attributes; the key and values are parameters.

    Django's key transforms read a key made of digits as an array index, so the paths are built here.
    """

    def __init__(self, key, value=None, *, output_field):
        self.key, self.value = key, value
        super().__init__(F("attributes"), output_field=output_field)

    def _column(self, compiler):
        return compiler.compile(self.get_source_expressions()[0])

    def _path(self):
        return "$." + json.dumps(self.key)

    def as_sql(self, compiler, connection, **extra_context):
        raise NotSupportedError("Segments run on PostgreSQL or SQLite.")


class AttributeType(_Attribute):
    """The JSON type of the value: number, string, boolean, null, object, array, or missing."""

    def __init__(self, key):
        super().__init__(key, output_field=TextField())

    def as_postgresql(self, compiler, connection, **extra_context):
        column, params = self._column(compiler)
        return f"COALESCE(jsonb_typeof({column} -> %s), 'missing')", (*params, self.key)

    def as_sqlite(self, compiler, connection, **extra_context):
        column, params = self._column(compiler)
        sql = (
            f"COALESCE(CASE JSON_TYPE({column}, %s) WHEN 'integer' THEN 'number' "
            "WHEN 'real' THEN 'number' WHEN 'text' THEN 'string' WHEN 'true' THEN 'boolean' "
            f"WHEN 'false' THEN 'boolean' ELSE JSON_TYPE({column}, %s) END, 'missing')"
        )
        return sql, (*params, self._path(), *params, self._path())


# SQLite's JSON_TYPE names of each JSON type a condition's value can have.
_SQLITE_TYPES = {
    "string": "('text')",
    "number": "('integer', 'real')",
    "boolean": "('true', 'false')",
}
_COMPARISONS = {"greater_than": ">", "less_than": "<", "at_least": ">=", "at_most": "<="}


def _json_type(value):
    if isinstance(value, bool):
        return "boolean"
    return "string" if isinstance(value, str) else "number"


class AttributeEquals(_Attribute):
    """True when the value is of the same JSON type as `value` and equal to it; never NULL.

    On PostgreSQL this is a containment test (`@>`), exact in type and value for a scalar, which the
    GIN index on attributes answers.
    """

    def __init__(self, key, value):
        super().__init__(key, value, output_field=BooleanField())

    def as_postgresql(self, compiler, connection, **extra_context):
        column, params = self._column(compiler)
        return f"({column} @> %s::jsonb)", (*params, json.dumps({self.key: self.value}))

    def as_sqlite(self, compiler, connection, **extra_context):
        column, params = self._column(compiler)
        types = _SQLITE_TYPES[_json_type(self.value)]
        sql = (
            f"COALESCE(JSON_TYPE({column}, %s) IN {types} "
            f"AND JSON_EXTRACT({column}, %s) = %s, FALSE)"
        )
        return sql, (*params, self._path(), *params, self._path(), self.value)


class AttributeCompare(_Attribute):
    """True when the value is a number and compares with `value` as asked; never NULL."""

    def __init__(self, key, op, value):
        self.operator = _COMPARISONS[op]
        super().__init__(key, value, output_field=BooleanField())

    def as_postgresql(self, compiler, connection, **extra_context):
        column, params = self._column(compiler)
        sql = (
            f"COALESCE(jsonb_typeof({column} -> %s) = 'number' "
            f"AND ({column} -> %s) {self.operator} %s::jsonb, FALSE)"
        )
        return sql, (*params, self.key, *params, self.key, json.dumps(self.value))

    def as_sqlite(self, compiler, connection, **extra_context):
        column, params = self._column(compiler)
        sql = (
            f"COALESCE(JSON_TYPE({column}, %s) IN ('integer', 'real') "
            f"AND JSON_EXTRACT({column}, %s) {self.operator} %s, FALSE)"
        )
        return sql, (*params, self._path(), *params, self._path(), self.value)


class AttributeText(_Attribute):
    """The value as text (meant for string values)."""

    def __init__(self, key):
        super().__init__(key, output_field=TextField())

    def as_postgresql(self, compiler, connection, **extra_context):
        column, params = self._column(compiler)
        return f"({column} ->> %s)", (*params, self.key)

    def as_sqlite(self, compiler, connection, **extra_context):
        column, params = self._column(compiler)
        return f"JSON_EXTRACT({column}, %s)", (*params, self._path())


class AttributeDateText(_Attribute):
    """The first ten characters of a text value, compared byte by byte (YYYY-MM-DD sorts as dates)."""

    def __init__(self, key):
        super().__init__(key, output_field=TextField())

    def as_postgresql(self, compiler, connection, **extra_context):
        column, params = self._column(compiler)
        return f'(LEFT({column} ->> %s, 10) COLLATE "C")', (*params, self.key)

    def as_sqlite(self, compiler, connection, **extra_context):
        column, params = self._column(compiler)
        return f"SUBSTR(JSON_EXTRACT({column}, %s), 1, 10)", (*params, self._path())


# Compiling -----------------------------------------------------------------------------------


def _has_type(key, json_type):
    return Q(Exact(AttributeType(key), json_type))


def _attribute_q(key, op, value):
    if op in ("equals", "not_equals"):
        q = Q(AttributeEquals(key, value))
        return q if op == "equals" else ~q
    if op == "contains":
        return _has_type(key, "string") & Q(IContains(AttributeText(key), value))
    if op in ORDER_OPS:
        if _is_number(value):
            return Q(AttributeCompare(key, op, value))
        compare = ORDER_OPS[op]
        dated = AttributeDateText(key)
        return (
            _has_type(key, "string")
            & Q(Regex(dated, r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"))
            & Q(compare(dated, value))
        )
    unset = Q(In(AttributeType(key), ["missing", "null"]))
    return ~unset if op == "is_set" else unset


def _text_q(field, op, value):
    if op in ("is_empty", "is_not_empty"):
        q = Q(**{field: ""})
        return q if op == "is_empty" else ~q
    lookup = {
        "equals": "iexact",
        "not_equals": "iexact",
        "contains": "icontains",
        "not_contains": "icontains",
        "starts_with": "istartswith",
        "ends_with": "iendswith",
    }[op]
    q = Q(**{f"{field}__{lookup}": value})
    return ~q if op.startswith("not_") else q


def _start_of_day(value):
    return timezone.make_aware(datetime.combine(date.fromisoformat(value), time.min))


def _moment_q(field, op, value):
    if op == "within_last_days":
        return Q(**{f"{field}__gte": timezone.now() - timedelta(days=value)})
    if op == "before":
        return Q(**{f"{field}__lt": _start_of_day(value)})
    next_day = date.fromisoformat(value) + timedelta(days=1)
    return Q(**{f"{field}__gte": _start_of_day(next_day.isoformat())})


def _condition_q(condition):
    field, op, value = condition["field"], condition["op"], condition.get("value")
    if field.startswith(ATTRIBUTE_PREFIX):
        return _attribute_q(field[len(ATTRIBUTE_PREFIX) :], op, value)
    if field in ("email", "name"):
        return _text_q(field, op, value)
    if field == "list":
        subscriptions = Subscription.objects.filter(
            contact=OuterRef("pk"), mailing_list_id__in=value
        )
        if condition["status"] != "any":
            subscriptions = subscriptions.filter(status=condition["status"])
        q = Q(Exists(subscriptions))
        return q if op == "in" else ~q
    if field == "subscribed_at":
        subscriptions = Subscription.objects.filter(contact=OuterRef("pk")).filter(
            _moment_q("created_at", op, value)
        )
        if condition.get("list") is not None:
            subscriptions = subscriptions.filter(mailing_list_id=condition["list"])
        return Q(Exists(subscriptions))
    if field == "engagement":
        if op == "never_engaged":
            return Q(engaged_at__isnull=True)
        since = timezone.now() - timedelta(days=value)
        if op == "engaged_within_days":
            return Q(engaged_at__gte=since)
        return Q(engaged_at__isnull=True) | Q(engaged_at__lt=since)
    return _moment_q("created_at", op, value)


def _group_q(group):
    parts = [
        _group_q(child) if is_group(child) else _condition_q(child) for child in group["conditions"]
    ]
    combined = Q()
    for part in parts:
        combined = combined & part if group["match"] == "all" else combined | part
    return combined


def segment_q(definition):
    """Check a definition and compile it to a Q over Contact."""
    return _group_q(check_definition(definition))


def segment_contacts(definition):
    """The active client's contacts that the definition selects, each once."""
    return Contact.objects.filter(segment_q(definition))


def count_segment(definition):
    return segment_contacts(definition).count()


# Changes of state ------------------------------------------------------------------------------


def do_create_segment(tenant, *, name, definition):
    return Segment.objects.create(
        tenant=tenant, name=check_segment_name(name), definition=check_definition(definition)
    )


@transaction.atomic
def do_update_segment(segment, *, name=None, definition=None):
    """Rename a segment or change its conditions; nothing is saved unless all of it is valid."""
    fields = {}
    if name is not None:
        fields["name"] = check_segment_name(name)
    if definition is not None:
        fields["definition"] = check_definition(definition)
    for field, value in fields.items():
        setattr(segment, field, value)
    segment.updated_at = timezone.now()
    segment.save(update_fields=[*fields, "updated_at"])
    return segment


def do_delete_segment(segment):
    segment.delete()
