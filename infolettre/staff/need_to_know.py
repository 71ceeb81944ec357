"""What a staff member may see of a client's declared fields: the declaration's `visible_to` decides.

A field the viewer's role may not see is masked whole, with no way to reveal it. A confidential
field the role may see is masked too, all but its last characters, until the viewer reveals it
with a reason (audited). Other fields the role may see are shown. A client's lists and contacts are
visible to no role: only an active access grant opens them, and their confidential fields stay
masked until revealed.
"""

import json
from dataclasses import dataclass
from datetime import date, datetime

from django.utils import formats, timezone

from infolettre.privacy.declaration import declared_model

MASK = "•••••"
# Models a staff member may look into, and the ones only an access grant opens.
ORGANISATION = "accounts.Organisation"
CLIENT_USER = "accounts.User"
CONTACT = "audience.Contact"
GRANT_ONLY = frozenset({CONTACT})


@dataclass(frozen=True)
class FieldView:
    model: str
    object_id: int
    name: str
    label: str
    shown: str
    masked: bool
    revealable: bool


def display_value(obj, name):
    """A field's value as a person reads it ("" when empty)."""
    field = obj._meta.get_field(name)
    value = getattr(obj, name)
    if value in (None, "", {}, []):
        return ""
    if field.choices:
        return str(getattr(obj, f"get_{name}_display")())
    if isinstance(value, datetime):
        return formats.date_format(timezone.localtime(value), "DATETIME_FORMAT")
    if isinstance(value, date):
        return formats.date_format(value, "DATE_FORMAT")
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def partial_mask(text):
    """Mask all but the last four characters, and those too when the value is short."""
    return f"••• ••• {text[-4:]}" if len(text) >= 8 else MASK


def may_see(label, field, role, *, granted=False):
    """Whether a role may see this declared field at all (masked first when confidential)."""
    if label in GRANT_ONLY:
        return granted
    return role in field.visible_to


def _view(obj, field, role, granted):
    label = obj._meta.label
    text = display_value(obj, field.name)
    verbose = str(obj._meta.get_field(field.name).verbose_name)
    if not may_see(label, field, role, granted=granted):
        shown, masked, can_reveal = MASK, True, False
    elif field.confidential and text:
        shown, masked, can_reveal = partial_mask(text), True, True
    else:
        shown, masked, can_reveal = text or "—", False, False
    return FieldView(label, obj.pk, field.name, verbose, shown, masked, can_reveal)


def field_views(obj, role, *, granted=False):
    """Each declared personal field of `obj` as the role may see it."""
    return [_view(obj, f, role, granted) for f in declared_model(obj._meta.label).fields]


def field_view(obj, name, role, *, granted=False):
    return _view(obj, declared_model(obj._meta.label).get(name), role, granted)


def revealable(obj, name, role, *, granted=False):
    """Whether `name` of `obj` is a confidential field the role may reveal."""
    label = obj._meta.label
    try:
        field = declared_model(label).get(name)
    except KeyError:
        return False
    return field.confidential and may_see(label, field, role, granted=granted)
