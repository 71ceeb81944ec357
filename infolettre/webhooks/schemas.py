from datetime import datetime
from typing import Any
from uuid import UUID

from ninja import Field, Schema

from infolettre.schemas import StrictSchema


class WebhookIn(StrictSchema):
    url: str = Field(..., min_length=1, max_length=500)
    events: list[str] = Field(..., min_length=1, max_length=10)
    active: bool = True


class WebhookPatch(StrictSchema):
    url: str | None = Field(None, min_length=1, max_length=500)
    events: list[str] | None = Field(None, min_length=1, max_length=10)
    active: bool | None = None


class WebhookOut(Schema):
    id: int
    url: str
    events: list[str]
    active: bool
    created_at: datetime


class NewWebhookOut(WebhookOut):
    secret: str


class SecretOut(Schema):
    secret: str


class WebhookDeliveryOut(Schema):
    id: int
    event: str
    event_id: UUID
    payload: dict[str, Any]
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None

    @staticmethod
    def resolve_next_attempt_at(delivery):
        return delivery.next_attempt_at if delivery.status == "pending" else None
