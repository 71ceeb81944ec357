"""The fields of the web pages' forms: what a template needs to draw one input, its error and its purpose.

Validation stays in `registration` and `validation`; these helpers only carry what the person typed
and the messages those checks returned back to the page. The inputs that collect personal data are
built from the declared `Input`s, so the purpose shown beside each is the declared one.
"""

from dataclasses import dataclass

from django.apps import apps
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy

from infolettre.privacy.purposes import NEWSLETTER, SPECIAL_OFFERS

from .validation import check_email, check_phone, check_website

# Purposes asked at sign-up, each in its own unticked box.
CONSENT_PURPOSES = (NEWSLETTER, SPECIAL_OFFERS)
REQUIRED = gettext_lazy("This field is required.")

_KIND_BY_CHECK = {check_email: "email", check_phone: "tel", check_website: "url"}
# Hints that let browsers fill the form; presentation only.
_AUTOCOMPLETE = {
    "name": "name",
    "title": "organization-title",
    "email": "email",
    "company_name": "organization",
    "address": "street-address",
    "phone": "tel",
    "website": "url",
}


@dataclass
class Field:
    """One input of a page's form, with what the person typed and what the checks said of it."""

    name: str
    label: str
    kind: str = "text"
    value: str = ""
    required: bool = True
    error: str = ""
    help_text: str = ""
    purpose: str = ""
    choices: tuple = ()
    autocomplete: str = ""
    max_length: int | None = None

    @property
    def html_id(self):
        return f"id_{self.name}"


def _model_field(spec):
    return apps.get_model(spec.model)._meta.get_field(spec.field)


def declared_fields(inputs, data=None, errors=None):
    """Return a Field for each declared input, labelled by its model field, with its purpose."""
    data, errors = data or {}, errors or {}
    fields = []
    for spec in inputs:
        model_field = _model_field(spec)
        if spec.choices:
            kind = "select"
        elif model_field.get_internal_type() == "TextField":
            kind = "textarea"
        else:
            kind = _KIND_BY_CHECK.get(spec.check, "text")
        fields.append(
            Field(
                name=spec.name,
                label=capfirst(model_field.verbose_name),
                kind=kind,
                value=data.get(spec.name) or "",
                required=spec.required,
                error=errors.get(spec.name, ""),
                purpose=spec.purpose_text,
                choices=spec.choices,
                autocomplete=_AUTOCOMPLETE.get(spec.name, "off" if spec.choices else ""),
                max_length=getattr(model_field, "max_length", None),
            )
        )
    return fields


def submitted(inputs, post):
    """Return what was typed in each input; absent inputs count as empty."""
    return {spec.name: post.get(spec.name, "") for spec in inputs}


def errors_by_field(details):
    """Turn Invalid.details into one message per field."""
    by_field = {}
    for detail in details:
        field = detail.get("field") or "__all__"
        message = str(detail.get("message", ""))
        by_field[field] = f"{by_field[field]} {message}" if field in by_field else message
    return by_field


def consent_answers(post):
    """Each consent box is ticked only when the person ticked it."""
    return {purpose.code: post.get(purpose.code) == "on" for purpose in CONSENT_PURPOSES}


def policy_accepted(post):
    return post.get("accept_policy") == "on"
