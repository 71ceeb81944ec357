"""What registration collects: each input names the declared personal field it fills.

The web form and the API schema are both built from `REGISTRATION_FIELDS`, so a field without a
declared purpose cannot be collected, and the purpose shown beside it is the declared one.
"""

from dataclasses import dataclass

from django.apps import apps
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from infolettre.errors import Invalid
from infolettre.privacy.declaration import personal_field

from .errors import EmailTaken
from .models import CompanySize, Gender, HeardAbout, Industry, User
from .validation import check_choice, check_email, check_password, check_phone, check_website


@dataclass(frozen=True)
class Input:
    name: str
    model: str
    field: str
    required: bool
    check: object = None
    choices: tuple = ()

    @property
    def declared(self):
        return personal_field(self.model, self.field)

    @property
    def max_length(self):
        return apps.get_model(self.model)._meta.get_field(self.field).max_length

    @property
    def purpose_text(self):
        """The sentence shown beside the input: why it is asked."""
        purposes = " ".join(str(p.description) for p in self.declared.purpose_objects)
        if self.required:
            return purposes
        return format_lazy("{} {}", _("Optional."), purposes)


USER, ORG = "accounts.User", "accounts.Organisation"
POLICY_NOT_ACCEPTED = _("Accept the privacy policy to create an account.")

REGISTRATION_FIELDS = (
    Input("name", USER, "name", True),
    Input("title", USER, "title", True),
    Input("email", USER, "email", True, check_email),
    Input("company_name", ORG, "name", True),
    Input("address", ORG, "address", True),
    Input("phone", ORG, "phone", True, check_phone),
    Input("website", ORG, "website", True, check_website),
    Input("fax", ORG, "fax", False, check_phone),
    Input("gender", USER, "gender", False, choices=tuple(Gender.choices)),
    Input("company_size", ORG, "company_size", False, choices=tuple(CompanySize.choices)),
    Input("industry", ORG, "industry", False, choices=tuple(Industry.choices)),
    Input("heard_about", USER, "heard_about", False, choices=tuple(HeardAbout.choices)),
)
# The person's own account (invitations) collects these of the same fields.
MEMBER_FIELDS = tuple(
    f for f in REGISTRATION_FIELDS if f.name in {"name", "title", "gender", "heard_about"}
)


def check_inputs(inputs, data, *, partial=False):
    """Validate and normalise `data` against `inputs`; raise Invalid naming each faulty field."""
    cleaned, errors = {}, []
    for spec in inputs:
        if spec.name not in data:
            if spec.required and not partial:
                errors.append({"field": spec.name, "message": str(_("This field is required."))})
            continue
        value = (data[spec.name] or "").strip()
        if not value:
            if spec.required:
                errors.append({"field": spec.name, "message": str(_("This field is required."))})
            else:
                cleaned[spec.name] = ""
            continue
        if spec.max_length and len(value) > spec.max_length:
            message = _("Use at most %(limit)d characters.") % {"limit": spec.max_length}
            errors.append({"field": spec.name, "message": str(message)})
            continue
        try:
            if spec.check:
                value = spec.check(value)
            if spec.choices:
                value = check_choice(value, spec.choices)
        except Invalid as e:
            errors.append({"field": spec.name, "message": str(e.message)})
            continue
        cleaned[spec.name] = value
    if errors:
        raise Invalid(_("Some fields need attention."), details=errors)
    return cleaned


def check_signup(inputs, data, password, *, email, accept_policy):
    """Validate a new account's inputs, password and policy acceptance; name every faulty field."""
    errors, cleaned = [], {}
    try:
        cleaned = check_inputs(inputs, data)
    except Invalid as e:
        errors = e.details
    if cleaned.get("email") and User.objects.filter(email=cleaned["email"]).exists():
        errors.append({"field": "email", "message": str(EmailTaken.message)})
    try:
        check_password(password or "", User(email=email or "", name=data.get("name") or ""))
    except Invalid as e:
        errors.append({"field": "password", "message": str(e.message)})
    if not accept_policy:
        errors.append({"field": "accept_policy", "message": str(POLICY_NOT_ACCEPTED)})
    if errors:
        raise Invalid(_("Some fields need attention."), details=errors)
    return cleaned


def check_registration(data, password, *, accept_policy):
    return check_signup(
        REGISTRATION_FIELDS, data, password, email=data.get("email"), accept_policy=accept_policy
    )


def check_invitation_acceptance(invitation, data, password, *, accept_policy):
    return check_signup(
        MEMBER_FIELDS, data, password, email=invitation.email, accept_policy=accept_policy
    )
