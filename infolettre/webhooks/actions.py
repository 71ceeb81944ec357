"""Every change of state of webhook endpoints, and the emission of events to them."""

import uuid

from django.db import IntegrityError, transaction
from django.utils import timezone

from .errors import UnknownEvent
from .models import SUBSCRIBABLE_EVENTS, WebhookDelivery, WebhookEndpoint, WebhookEvent
from .sending import attempt_delivery
from .signing import new_secret
from .tasks import enqueue_delivery
from .transport import check_endpoint_url

ENDPOINT_FIELDS = ("url", "events", "active")


def check_events(events):
    """The events chosen, without repeats, in the order of SUBSCRIBABLE_EVENTS."""
    chosen = set(events or ())
    if not chosen or not chosen <= set(SUBSCRIBABLE_EVENTS):
        raise UnknownEvent(details=[{"field": "events", "message": str(UnknownEvent.message)}])
    return [e.value for e in SUBSCRIBABLE_EVENTS if e in chosen]


def check_url(url):
    return check_endpoint_url(url)


def do_create_endpoint(tenant, *, url, events, active=True):
    """Add an endpoint with a new secret (the caller shows it to the owner once)."""
    return WebhookEndpoint.objects.create(
        tenant=tenant, url=url, events=events, active=active, secret=new_secret()
    )


def do_update_endpoint(endpoint, **fields):
    for name, value in fields.items():
        setattr(endpoint, name, value)
    endpoint.save(update_fields=list(fields))
    return endpoint


def do_delete_endpoint(endpoint):
    """Delete an endpoint and its delivery log; what is pending is never sent."""
    endpoint.delete()


def _envelope(event, event_id, data):
    return {
        "id": str(event_id),
        "type": str(event),
        "created_at": timezone.now().isoformat(),
        "data": data,
    }


def _create_delivery(endpoint, event, event_id, payload, dedupe_key):
    """The new delivery, or None when this endpoint already has the event with this key."""
    try:
        with transaction.atomic():
            return WebhookDelivery.unscoped.create(
                tenant_id=endpoint.tenant_id,
                endpoint=endpoint,
                event=event,
                event_id=event_id,
                payload=payload,
                dedupe_key=dedupe_key,
            )
    except IntegrityError:
        return None


def do_emit_event(tenant_id, event, data, *, dedupe_key=""):
    """Queue the event for each active endpoint of the tenant subscribed to it; return how many.

    Deliveries are sent once the caller's transaction commits, so an event whose change is rolled
    back is never sent. With a dedupe key, an endpoint gets the event once whatever the calls.
    `data` may be a function, called only when some endpoint wants the event (most have none).
    """
    endpoints = [
        e
        for e in WebhookEndpoint.unscoped.filter(tenant_id=tenant_id, active=True)
        if event in e.events
    ]
    if not endpoints:
        return 0
    event_id = uuid.uuid4()
    payload = _envelope(event, event_id, data() if callable(data) else data)
    created = [_create_delivery(e, event, event_id, payload, dedupe_key) for e in endpoints]
    for delivery in filter(None, created):
        transaction.on_commit(lambda pk=delivery.pk: enqueue_delivery(pk))
    return sum(1 for d in created if d is not None)


def do_send_ping(endpoint):
    """Send a test event to an endpoint now, whatever it subscribes to; return its delivery."""
    event_id = uuid.uuid4()
    payload = _envelope(WebhookEvent.PING, event_id, {"webhook_id": endpoint.pk})
    delivery = _create_delivery(endpoint, WebhookEvent.PING, event_id, payload, "")
    return attempt_delivery(delivery.pk) or delivery
