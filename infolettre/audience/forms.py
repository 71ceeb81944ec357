"""The inputs of the list, contact and suppression pages: what a page draws, and the checks of what came back.

Each `check_*` returns (cleaned values, errors by input name); the views call the actions only when
there is no error, so a refused form changes nothing.
"""

import datetime
import json

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from infolettre.accounts.forms import REQUIRED, Field
from infolettre.accounts.validation import check_email, check_phone
from infolettre.errors import Invalid, NotFound

from .consent import consent_expiry
from .models import ATTRIBUTE_KEY, ConsentBasis
from .queries import access_list_for_tenant

NAME_MAX = 200
SOURCE_MAX = 300
ATTRIBUTE_VALUE_MAX = 500
EMPTY_ATTRIBUTE_ROWS = 3

# What each basis means, in the words a client reads beside the choice.
BASIS_EXPLANATIONS = {
    ConsentBasis.EXPRESS: gettext_lazy(
        "The person said yes to receiving your messages, for example by ticking an unticked box "
        "or signing a form. It lasts until they unsubscribe. Keep where and how they said it."
    ),
    ConsentBasis.IMPLIED_BUSINESS: gettext_lazy(
        "The person bought from you or signed a contract with you. You may mail them for two "
        "years after the date of that purchase or contract; then they drop off the list unless "
        "they give express consent."
    ),
    ConsentBasis.IMPLIED_INQUIRY: gettext_lazy(
        "The person asked you about your products or services. You may mail them for six months "
        "after the date of their inquiry; then they drop off the list unless they give express "
        "consent."
    ),
}


def _text(post, name):
    return (post.get(name) or "").strip()


def _checkbox(post, name):
    return post.get(name) in ("on", "yes", "true", "1")


def _required_text(post, name, errors, max_length):
    value = _text(post, name)
    if not value:
        errors[name] = str(REQUIRED)
    elif len(value) > max_length:
        errors[name] = _("Use at most %(limit)d characters.") % {"limit": max_length}
    return value


def _optional_text(post, name, errors, max_length):
    value = _text(post, name)
    if len(value) > max_length:
        errors[name] = _("Use at most %(limit)d characters.") % {"limit": max_length}
    return value


# Lists -------------------------------------------------------------------------------------------


def list_inputs(values=None, errors=None, prefix=""):
    """The name and description inputs of a list's settings, with their checkboxes' states."""
    values, errors = values or {}, errors or {}
    return {
        "name": Field(
            f"{prefix}name",
            _("Name"),
            value=values.get("name", ""),
            error=errors.get("name", ""),
            max_length=NAME_MAX,
            autocomplete="off",
        ),
        "description": Field(
            f"{prefix}description",
            _("Description"),
            "textarea",
            value=values.get("description", ""),
            required=False,
            error=errors.get("description", ""),
            help_text=_("What subscribers will receive; the public sign-up form shows it."),
        ),
        "double_opt_in": values.get("double_opt_in", True),
        "public_signup": values.get("public_signup", False),
    }


def list_values(mailing_list):
    return {
        "name": mailing_list.name,
        "description": mailing_list.description,
        "double_opt_in": mailing_list.double_opt_in,
        "public_signup": mailing_list.public_signup,
    }


def check_list(post):
    errors = {}
    cleaned = {
        "name": _required_text(post, "name", errors, NAME_MAX),
        "description": _optional_text(post, "description", errors, 5000),
        "double_opt_in": _checkbox(post, "double_opt_in"),
        "public_signup": _checkbox(post, "public_signup"),
    }
    return cleaned, errors


# Contacts ----------------------------------------------------------------------------------------


def display_attribute(value):
    """Show a stored attribute as typed: text as it is, numbers, booleans and the rest as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def attribute_rows(attributes=None, post=None):
    """The key/value rows of the attributes input, followed by a few empty rows to add more."""
    if post is not None:
        rows = list(
            zip(post.getlist("attribute_key"), post.getlist("attribute_value"), strict=False)
        )
        rows = [(k, v) for k, v in rows if k.strip() or v.strip()]
    else:
        rows = [(key, display_attribute(value)) for key, value in (attributes or {}).items()]
    return rows + [("", "")] * EMPTY_ATTRIBUTE_ROWS


def check_attributes(post, original=None):
    """Read the key/value rows; a row left as it was shown keeps its stored value and type."""
    original = original or {}
    attributes, problems = {}, []
    keys, values = post.getlist("attribute_key"), post.getlist("attribute_value")
    for key, value in zip(keys, values, strict=False):
        key, value = key.strip(), value.strip()
        if not key and not value:
            continue
        if not ATTRIBUTE_KEY.fullmatch(key):
            problems.append(
                _(
                    "“%(key)s” is not a valid attribute name: use up to 64 lower-case letters, "
                    "digits or underscores, without spaces or accents."
                )
                % {"key": key}
            )
            continue
        if key in attributes:
            problems.append(_("The attribute “%(key)s” is given twice.") % {"key": key})
            continue
        if len(value) > ATTRIBUTE_VALUE_MAX:
            problems.append(
                _("The value of “%(key)s” is longer than %(limit)d characters.")
                % {"key": key, "limit": ATTRIBUTE_VALUE_MAX}
            )
            continue
        if key in original and display_attribute(original[key]) == value:
            attributes[key] = original[key]
        else:
            attributes[key] = value
    return attributes, " ".join(str(p) for p in problems)


def contact_inputs(values=None, errors=None):
    values, errors = values or {}, errors or {}
    return [
        Field(
            "email",
            _("Email address"),
            "email",
            value=values.get("email", ""),
            error=errors.get("email", ""),
            autocomplete="off",
            max_length=254,
        ),
        Field(
            "name",
            _("Name"),
            value=values.get("name", ""),
            required=False,
            error=errors.get("name", ""),
            autocomplete="off",
            max_length=NAME_MAX,
        ),
        Field(
            "phone",
            _("Mobile phone"),
            "tel",
            value=values.get("phone", ""),
            required=False,
            error=errors.get("phone", ""),
            autocomplete="off",
            help_text=_("Optional; for text messages. For example +1 514 555 0123."),
        ),
    ]


def contact_values(contact):
    return {"email": contact.email, "name": contact.name, "phone": contact.phone}


def check_contact(post, original_attributes=None):
    """Check the address, name, phone and attributes of a contact."""
    errors = {}
    cleaned = {}
    email = _text(post, "email")
    if not email:
        errors["email"] = str(REQUIRED)
    else:
        try:
            cleaned["email"] = check_email(email)
        except Invalid as e:
            errors["email"] = str(e.message)
    cleaned["name"] = _optional_text(post, "name", errors, NAME_MAX)
    phone = _text(post, "phone")
    cleaned["phone"] = ""
    if phone:
        try:
            cleaned["phone"] = check_phone(phone)
        except Invalid as e:
            errors["phone"] = str(e.message)
    cleaned["attributes"], problem = check_attributes(post, original_attributes)
    if problem:
        errors["attributes"] = problem
    return cleaned, errors


# Consent -----------------------------------------------------------------------------------------


def consent_inputs(values=None, errors=None, lists=(), list_required=False):
    """The list, the basis of consent and its proof, for adding a contact to a list."""
    values, errors = values or {}, errors or {}
    return {
        "list": Field(
            "list",
            _("List"),
            "select",
            value=str(values.get("list", "")),
            required=list_required,
            error=errors.get("list", ""),
            choices=tuple((str(m.pk), m.name) for m in lists),
            autocomplete="off",
        ),
        "bases": [
            {
                "value": value,
                "label": label,
                "explanation": BASIS_EXPLANATIONS[value],
                "checked": values.get("basis", ConsentBasis.EXPRESS) == value,
            }
            for value, label in ConsentBasis.choices
        ],
        "basis_error": errors.get("basis", ""),
        "consent_date": Field(
            "consent_date",
            _("Date of consent, purchase, contract or inquiry"),
            "date",
            value=values.get("consent_date", ""),
            required=False,
            error=errors.get("consent_date", ""),
            help_text=_(
                "Required for implied consent: the lapse date counts from it. "
                "Leave empty for express consent given today."
            ),
        ),
        "source": Field(
            "source",
            _("Where and how consent was obtained"),
            value=values.get("source", ""),
            required=list_required,
            error=errors.get("source", ""),
            max_length=SOURCE_MAX,
            autocomplete="off",
            help_text=_(
                "For example: paper form at the 2026 show, invoice 1234, inquiry by telephone."
            ),
        ),
        "wording": Field(
            "wording",
            _("Words the person agreed to"),
            "textarea",
            value=values.get("wording", ""),
            required=False,
            error=errors.get("wording", ""),
            help_text=_("For express consent: the exact words of the request they said yes to."),
        ),
    }


def _consent_moment(day):
    """A date of consent as a moment: now when it is today, else noon of that day, local time."""
    today = timezone.localdate()
    if day == today:
        return timezone.now()
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(12)))


def check_consent(post, list_required=False):
    """Check the list, basis, date and proof of a consent; the list must be the organisation's."""
    errors, cleaned = {}, {}
    list_id = _text(post, "list")
    cleaned["mailing_list"] = None
    if list_id:
        try:
            cleaned["mailing_list"] = access_list_for_tenant(int(list_id))
        except (NotFound, ValueError):
            errors["list"] = _("Choose one of your lists.")
    elif list_required:
        errors["list"] = str(REQUIRED)
    if cleaned["mailing_list"] is None and not list_required:
        return cleaned, errors
    basis = _text(post, "basis")
    if basis not in ConsentBasis.values:
        errors["basis"] = _("Choose how consent was obtained.")
    cleaned["basis"] = basis
    raw_date = _text(post, "consent_date")
    consent_at = None
    if raw_date:
        try:
            day = datetime.date.fromisoformat(raw_date)
        except ValueError:
            errors["consent_date"] = _("Enter a date such as 2026-03-31.")
        else:
            if day > timezone.localdate():
                errors["consent_date"] = _("The date cannot be in the future.")
            else:
                consent_at = _consent_moment(day)
    elif basis in (ConsentBasis.IMPLIED_BUSINESS, ConsentBasis.IMPLIED_INQUIRY):
        errors["consent_date"] = _(
            "Give the date of the purchase, contract or inquiry: implied consent lapses from it."
        )
    if consent_at is not None and "basis" not in errors:
        lapses = consent_expiry(basis, consent_at)
        if lapses is not None and lapses <= timezone.now():
            errors["consent_date"] = _(
                "Implied consent from this date lapsed on %(date)s: this person may not be mailed "
                "without new consent."
            ) % {"date": timezone.localtime(lapses).date().isoformat()}
    cleaned["consent_at"] = consent_at
    cleaned["source"] = _required_text(post, "source", errors, SOURCE_MAX)
    cleaned["wording"] = _optional_text(post, "wording", errors, 5000)
    return cleaned, errors


def check_suppression(post):
    errors = {}
    email = _text(post, "email")
    if not email:
        errors["email"] = str(REQUIRED)
        return "", errors
    try:
        return check_email(email), errors
    except Invalid as e:
        errors["email"] = str(e.message)
        return email, errors
