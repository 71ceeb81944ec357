from django.http import HttpResponse
from ninja import Query, Router, Schema, Status

from infolettre.accounts.actions import check_owner
from infolettre.accounts.api_auth import CLIENT_AUTH
from infolettre.errors import Invalid
from infolettre.schemas import ErrorOut

from . import actions, queries
from .schemas import (
    NewWebhookOut,
    SecretOut,
    WebhookDeliveryOut,
    WebhookIn,
    WebhookOut,
    WebhookPatch,
)

router = Router(auth=CLIENT_AUTH, tags=["webhooks"])
# An answer that carries a secret is kept by no cache.
NO_STORE = "no-store"
ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}


class DeliveryFilter(Schema):
    limit: int = 50


def _field_error(field, error):
    return Invalid(
        error.message, code=error.code, details=[{"field": field, "message": str(error.message)}]
    )


def _checked(data):
    """Validate the fields given; name the one a check refused."""
    cleaned = dict(data)
    if "url" in data:
        try:
            cleaned["url"] = actions.check_url(data["url"])
        except Invalid as e:
            raise _field_error("url", e) from None
    if "events" in data:
        cleaned["events"] = actions.check_events(data["events"])
    return cleaned


@router.get("/webhooks", response=list[WebhookOut])
def list_webhooks(request):
    """The organisation's endpoints; secrets are not in this answer."""
    return list(queries.endpoints())


@router.post("/webhooks", response={201: NewWebhookOut, **ERRORS})
def create_webhook(request, payload: WebhookIn, response: HttpResponse):
    """Add an endpoint (owners only); its signing secret is in this answer."""
    response["Cache-Control"] = NO_STORE
    check_owner(request.user)
    cleaned = _checked(payload.model_dump())
    return Status(201, actions.do_create_endpoint(request.tenant, **cleaned))


@router.get("/webhooks/{webhook_id}", response={200: WebhookOut, **ERRORS})
def get_webhook(request, webhook_id: int):
    return queries.access_endpoint_for_tenant(webhook_id)


@router.patch("/webhooks/{webhook_id}", response={200: WebhookOut, **ERRORS})
def update_webhook(request, webhook_id: int, payload: WebhookPatch):
    """Change an endpoint's address, events or state (owners only)."""
    endpoint = queries.access_endpoint_for_tenant(webhook_id)
    check_owner(request.user)
    data = {k: v for k, v in payload.model_dump(exclude_unset=True).items() if v is not None}
    return actions.do_update_endpoint(endpoint, **_checked(data))


@router.delete("/webhooks/{webhook_id}", response={204: None, **ERRORS})
def delete_webhook(request, webhook_id: int):
    """Delete an endpoint and its delivery log (owners only)."""
    endpoint = queries.access_endpoint_for_tenant(webhook_id)
    check_owner(request.user)
    actions.do_delete_endpoint(endpoint)
    return Status(204, None)


@router.get("/webhooks/{webhook_id}/secret", response={200: SecretOut, **ERRORS})
def get_webhook_secret(request, webhook_id: int, response: HttpResponse):
    """The endpoint's signing secret (owners only)."""
    response["Cache-Control"] = NO_STORE
    endpoint = queries.access_endpoint_for_tenant(webhook_id)
    check_owner(request.user)
    return {"secret": endpoint.secret}


@router.get("/webhooks/{webhook_id}/deliveries", response={200: list[WebhookDeliveryOut], **ERRORS})
def list_webhook_deliveries(request, webhook_id: int, filters: Query[DeliveryFilter]):
    """The endpoint's delivery log, newest first (at most 200)."""
    endpoint = queries.access_endpoint_for_tenant(webhook_id)
    return queries.deliveries_of(endpoint, limit=max(1, min(filters.limit, 200)))


@router.post("/webhooks/{webhook_id}/test", response={200: WebhookDeliveryOut, **ERRORS})
def test_webhook(request, webhook_id: int):
    """Send a ping event to the endpoint now (owners only); the answer says how it went."""
    endpoint = queries.access_endpoint_for_tenant(webhook_id)
    check_owner(request.user)
    return actions.do_send_ping(endpoint)
