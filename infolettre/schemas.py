"""Schema bases shared by every router."""

from ninja import Schema
from pydantic import ConfigDict


class StrictSchema(Schema):
    """An input schema that refuses fields it does not know, rather than silently dropping them."""

    model_config = ConfigDict(extra="forbid")


class ErrorOut(Schema):
    code: str
    message: str
    details: list[dict] | None = None
