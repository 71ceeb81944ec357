from datetime import datetime

from ninja import Field, Schema
from pydantic import field_validator

from infolettre.schemas import StrictSchema

from .models import ATTRIBUTE_KEY, ConsentBasis, SubscriptionStatus, SuppressionReason

AttributeValue = str | int | float | bool | None


def check_attributes(value):
    """Keys are short identifiers; values are plain scalars of bounded size."""

    if len(value) > 50:
        raise ValueError("at most 50 attributes")
    for key, item in value.items():
        if not ATTRIBUTE_KEY.fullmatch(key):
            raise ValueError(f"attribute key {key!r} must be 1 to 64 of a-z, 0-9 and _")
        if isinstance(item, str) and len(item) > 1000:
            raise ValueError(f"attribute {key!r} is longer than 1000 characters")
    return value


class ListIn(StrictSchema):
    name: str = Field(..., min_length=1, max_length=200)
    description: str = Field("", max_length=5000)
    double_opt_in: bool = True
    public_signup: bool = False


class ListPatch(StrictSchema):
    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=5000)
    double_opt_in: bool | None = None
    public_signup: bool | None = None


class ListOut(Schema):
    id: int
    name: str
    description: str
    double_opt_in: bool
    public_signup: bool
    created_at: datetime
    subscribed_count: int = 0
    unconfirmed_count: int = 0
    lapsing_count: int = Field(
        0, description="Subscriptions whose implied consent lapses within 30 days."
    )
    signup_url: str | None = None


class ConsentIn(StrictSchema):
    consent_basis: ConsentBasis = ConsentBasis.EXPRESS
    consent_at: datetime | None = Field(
        None,
        description="Express: when it was given (default now). Implied: the purchase, contract or inquiry date.",
    )
    consent_source: str = Field(
        ..., min_length=1, max_length=300, description="Where or how consent was obtained."
    )
    consent_wording: str = Field(
        "", max_length=5000, description="The exact words the person agreed to."
    )


class ContactSubscriptionIn(ConsentIn):
    list_id: int


class ContactIn(StrictSchema):
    email: str = Field(..., max_length=254)
    name: str = Field("", max_length=200)
    phone: str = Field("", max_length=32)
    attributes: dict[str, AttributeValue] = {}
    subscriptions: list[ContactSubscriptionIn] = Field([], max_length=50)

    _attributes = field_validator("attributes")(check_attributes)


class ContactPatch(StrictSchema):
    email: str | None = Field(None, max_length=254)
    name: str | None = Field(None, max_length=200)
    phone: str | None = Field(None, max_length=32)
    attributes: dict[str, AttributeValue] | None = None

    _attributes = field_validator("attributes")(lambda v: v if v is None else check_attributes(v))


class SubscriptionOut(Schema):
    id: int
    list_id: int = Field(..., alias="mailing_list_id")
    contact_id: int
    email: str = Field(..., alias="contact.email")
    status: SubscriptionStatus
    consent_basis: ConsentBasis
    consent_at: datetime
    consent_expires_at: datetime | None
    consent_source: str
    consent_wording: str
    created_at: datetime
    confirmed_at: datetime | None
    unsubscribed_at: datetime | None


class ContactOut(Schema):
    id: int
    email: str
    name: str
    phone: str
    attributes: dict
    created_at: datetime
    updated_at: datetime
    subscriptions: list[SubscriptionOut] = Field(..., alias="subscription_list")


class SubscribeIn(ConsentIn):
    contact_id: int | None = None
    email: str | None = Field(
        None, max_length=254, description="Creates the contact when no contact has it."
    )
    name: str = Field("", max_length=200)
    confirmed: bool = Field(
        True, description="False sends nothing until the person confirms (double opt-in)."
    )


class SubscriptionPatch(StrictSchema):
    status: SubscriptionStatus = Field(
        ..., description="Only 'unsubscribed': subscribing again needs new consent."
    )


class SuppressionIn(StrictSchema):
    email: str = Field(..., max_length=254)


class SuppressionOut(Schema):
    id: int
    email: str
    reason: SuppressionReason
    created_at: datetime
