from datetime import datetime

from ninja import Field, Schema

from infolettre.schemas import StrictSchema

from .models import CampaignStatus

MAX_HTML = 500_000


class CampaignIn(StrictSchema):
    name: str = Field(..., min_length=1, max_length=200)
    subject: str = Field(..., min_length=1, max_length=300)
    sender_id: int = Field(
        ..., description="One of your sender addresses; it must be confirmed before sending."
    )
    reply_to: str = Field("", max_length=254)
    list_ids: list[int] = Field([], max_length=100)
    segment_id: int | None = None
    template_id: int | None = Field(
        None, description="Copy this template's HTML into the campaign (unless html is given)."
    )
    html: str = Field("", max_length=MAX_HTML)


class CampaignPatch(StrictSchema):
    name: str | None = Field(None, min_length=1, max_length=200)
    subject: str | None = Field(None, min_length=1, max_length=300)
    sender_id: int | None = None
    reply_to: str | None = Field(None, max_length=254)
    list_ids: list[int] | None = Field(None, max_length=100)
    segment_id: int | None = None
    template_id: int | None = Field(
        None, description="Replace the HTML with this template's (unless html is given too)."
    )
    html: str | None = Field(None, max_length=MAX_HTML)


class SendIn(StrictSchema):
    at: datetime | None = Field(
        None,
        description="Send at this time instead of now; without an offset, the server's time zone.",
    )


class CampaignTestIn(StrictSchema):
    addresses: list[str] = Field(..., description="At most five addresses.")
    contact_id: int | None = Field(
        None, description="Render as this contact would receive it; a sample contact otherwise."
    )


class TestSendResult(Schema):
    email: str
    sent: bool
    detail: str = ""


class CampaignTestOut(Schema):
    results: list[TestSendResult]


class CampaignCounts(Schema):
    recipients: int
    queued: int
    sent: int
    bounced: int
    failed: int


class CampaignSummaryOut(Schema):
    id: int
    name: str
    subject: str
    sender_id: int
    status: CampaignStatus
    scheduled_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    created_at: datetime
    updated_at: datetime
    counts: CampaignCounts

    @staticmethod
    def resolve_counts(obj):
        """Live counts when the campaign carries them, else those annotated by the listing."""
        if hasattr(obj, "counts"):
            return obj.counts
        return {
            "recipients": obj.recipient_count,
            "queued": obj.queued_count,
            "sent": obj.delivered_count,
            "bounced": obj.bounced_count,
            "failed": obj.failed_count,
        }


class CampaignDelayOut(Schema):
    code: str = Field(
        ...,
        description="retries_pending: the mail server refused or could not be reached, the waiting "
        "messages are tried again at retry_at; not_sending: messages are due but none leaves (the "
        "task queue or the mail server is unreachable, or no sending process runs).",
    )
    message: str
    since: datetime = Field(..., description="When a message last left (or sending started).")
    retry_at: datetime | None


class CampaignOut(CampaignSummaryOut):
    reply_to: str
    list_ids: list[int]
    segment_id: int | None
    template_id: int | None
    html: str
    delay: CampaignDelayOut | None = Field(
        None,
        description="Present while a campaign being sent is late: no message left for a while.",
    )


class SenderIn(StrictSchema):
    email: str = Field(..., max_length=254)
    name: str = Field(..., min_length=1, max_length=200)


class SenderConfirmIn(StrictSchema):
    token: str = Field(..., min_length=1, max_length=500)


class SenderOut(Schema):
    id: int
    email: str
    name: str
    verified: bool
    verified_at: datetime | None
    created_at: datetime

    @staticmethod
    def resolve_verified(obj):
        return obj.verified_at is not None
