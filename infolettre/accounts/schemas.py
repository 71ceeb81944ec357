from datetime import datetime

from django.utils import translation
from ninja import Field, Schema
from pydantic import create_model

from infolettre.schemas import StrictSchema

from .models import Role
from .registration import MEMBER_FIELDS, REGISTRATION_FIELDS


def _declared_fields(inputs, *, all_optional=False):
    """Schema fields built from the registration inputs, each described by its declared purpose."""
    fields = {}
    with translation.override("en"):
        for spec in inputs:
            description = str(spec.purpose_text)
            if spec.required and not all_optional:
                fields[spec.name] = (str, Field(..., description=description, max_length=300))
            else:
                fields[spec.name] = (
                    str | None,
                    Field(None, description=description, max_length=300),
                )
    return fields


CONSENT_DESCRIPTION = "Unticked unless the person asks: express consent is never assumed."

RegistrationIn = create_model(
    "RegistrationIn",
    __base__=StrictSchema,
    **_declared_fields(REGISTRATION_FIELDS),
    password=(str, Field(..., min_length=1, max_length=200)),
    accept_policy=(bool, Field(..., description="The person accepts the privacy policy in force.")),
    newsletter=(bool, Field(False, description=CONSENT_DESCRIPTION)),
    special_offers=(bool, Field(False, description=CONSENT_DESCRIPTION)),
)

ProfileIn = create_model(
    "ProfileIn", __base__=StrictSchema, **_declared_fields(MEMBER_FIELDS, all_optional=True)
)

OrganisationIn = create_model(
    "OrganisationIn",
    __base__=StrictSchema,
    **_declared_fields(
        [f for f in REGISTRATION_FIELDS if f.model == "accounts.Organisation"], all_optional=True
    ),
)

InvitationAcceptIn = create_model(
    "InvitationAcceptIn",
    __base__=StrictSchema,
    **_declared_fields(MEMBER_FIELDS),
    token=(str, Field(..., max_length=500)),
    password=(str, Field(..., min_length=1, max_length=200)),
    accept_policy=(bool, ...),
    newsletter=(bool, Field(False, description=CONSENT_DESCRIPTION)),
    special_offers=(bool, Field(False, description=CONSENT_DESCRIPTION)),
)


class OrganisationOut(Schema):
    id: int
    name: str
    address: str
    phone: str
    fax: str
    website: str
    company_size: str
    industry: str


class UserOut(Schema):
    id: int
    email: str
    name: str
    title: str
    gender: str
    heard_about: str
    language: str
    role: Role
    email_confirmed: bool


class MeOut(UserOut):
    organisation: OrganisationOut = Field(..., alias="tenant")


class TokenIn(StrictSchema):
    token: str = Field(..., max_length=500)


class EmailIn(StrictSchema):
    email: str = Field(..., max_length=320)


class PasswordResetConfirmIn(StrictSchema):
    uid: str = Field(..., max_length=64)
    token: str = Field(..., max_length=100)
    password: str = Field(..., min_length=1, max_length=200)


class PasswordChangeIn(StrictSchema):
    current_password: str = Field(..., max_length=200)
    password: str = Field(..., min_length=1, max_length=200)


class ApiTokenIn(StrictSchema):
    name: str = Field(..., min_length=1, max_length=100)


class ApiTokenOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class NewApiTokenOut(ApiTokenOut):
    token: str = Field(..., description="The secret, shown this once; only a digest of it is kept.")


class InvitationIn(StrictSchema):
    email: str = Field(..., max_length=320)
    role: Role = Role.MEMBER


class InvitationOut(Schema):
    id: int
    email: str
    role: Role
    created_at: datetime


class RoleIn(StrictSchema):
    role: Role


class MessageOut(Schema):
    code: str
    message: str


class ConsentOut(Schema):
    purpose: str
    given: bool


class ConsentEventOut(Schema):
    purpose: str
    given: bool
    occurred_at: datetime
    source: str
    wording: str
    policy_version: str


class ConsentIn(StrictSchema):
    purpose: str
    given: bool
