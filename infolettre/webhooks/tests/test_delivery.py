"""A webhook not answered with a 2xx is retried with backoff, then failed; each try is logged."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.utils.translation import gettext as _

from conftest import basic_auth
from infolettre.accounts.tenancy import tenant_scope
from infolettre.webhooks.actions import do_create_endpoint, do_emit_event
from infolettre.webhooks.models import WebhookDelivery
from infolettre.webhooks.sending import attempt_delivery
from infolettre.webhooks.tasks import retry_due_webhooks

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
BODY_EXCERPT = ("Internal error " + "x" * 500)[:200]


@pytest.fixture
def endpoint(owner, receiver):
    with tenant_scope(owner.tenant):
        return do_create_endpoint(owner.tenant, url=receiver.url, events=["subscribe"])


def emit(owner, capture):
    with capture(execute=True):
        do_emit_event(
            owner.tenant_id, "subscribe", {"list_id": 1, "contact_id": 2, "email": "a@b.c"}
        )
    return WebhookDelivery.unscoped.get()


def state(delivery):
    delivery.refresh_from_db()
    return (delivery.status, delivery.attempts, delivery.last_status_code, delivery.next_attempt_at)


def test_an_error_answer_is_retried_with_backoff_then_failed(
    client, owner, endpoint, receiver, django_capture_on_commit_callbacks
):
    """A 500 is tried again after 1 min, 5 min, 30 min, 2 h and 6 h, then marked failed."""
    receiver.statuses = [500] * 6
    with time_machine.travel(T0, tick=False):
        delivery = emit(owner, django_capture_on_commit_callbacks)
    assert state(delivery) == ("pending", 1, 500, T0 + timedelta(minutes=1))
    assert delivery.last_error == f"HTTP 500: {BODY_EXCERPT}"
    # Not yet due: nothing is sent.
    assert attempt_delivery(delivery.pk, now=T0 + timedelta(seconds=59)) is None
    assert len(receiver.requests) == 1
    now = T0 + timedelta(minutes=1)
    for attempts, delay in [(2, 5), (3, 30), (4, 120), (5, 360)]:
        attempt_delivery(delivery.pk, now=now)
        assert state(delivery) == ("pending", attempts, 500, now + timedelta(minutes=delay))
        now += timedelta(minutes=delay)
    attempt_delivery(delivery.pk, now=now)
    assert state(delivery)[:3] == ("failed", 6, 500)
    assert attempt_delivery(delivery.pk, now=now + timedelta(days=1)) is None
    assert len(receiver.requests) == 6
    # The same event, the same delivery id, each time.
    assert {h["Infolettre-Delivery"] for _, h, _ in receiver.requests} == {str(delivery.pk)}
    response = client.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries", **basic_auth(owner))
    [logged] = response.json()
    assert {
        k: logged[k] for k in ("status", "attempts", "last_status_code", "next_attempt_at")
    } == {
        "status": "failed",
        "attempts": 6,
        "last_status_code": 500,
        "next_attempt_at": None,
    }
    assert logged["last_error"] == f"HTTP 500: {BODY_EXCERPT}"


def test_a_retry_that_succeeds_is_delivered(
    owner, endpoint, receiver, django_capture_on_commit_callbacks
):
    """A 503 then a 204: delivered at the second attempt, the log says so."""
    receiver.statuses = [503, 204]
    with time_machine.travel(T0, tick=False):
        delivery = emit(owner, django_capture_on_commit_callbacks)
    attempt_delivery(delivery.pk, now=T0 + timedelta(minutes=1))
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code, delivery.last_error) == (
        "delivered",
        2,
        204,
        "",
    )


def test_the_sweep_sends_due_retries(owner, endpoint, receiver, django_capture_on_commit_callbacks):
    """On a task backend that cannot wait, the periodic sweep sends the retries whose time came."""
    receiver.statuses = [500]
    with time_machine.travel(T0, tick=False):
        delivery = emit(owner, django_capture_on_commit_callbacks)
    with time_machine.travel(T0 + timedelta(seconds=30), tick=False):
        retry_due_webhooks.enqueue()
    assert len(receiver.requests) == 1
    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        retry_due_webhooks.enqueue()
        retry_due_webhooks.enqueue()
    assert len(receiver.requests) == 2
    assert state(delivery)[:3] == ("delivered", 2, 200)


def test_a_delivery_claimed_twice_is_sent_once(
    owner, endpoint, receiver, django_capture_on_commit_callbacks
):
    """Running the delivery task again after success sends nothing."""
    delivery = emit(owner, django_capture_on_commit_callbacks)
    assert attempt_delivery(delivery.pk) is None
    assert len(receiver.requests) == 1
    assert state(delivery)[:3] == ("delivered", 1, 200)


def test_a_redirect_is_not_followed(owner, endpoint, receiver, django_capture_on_commit_callbacks):
    """A 302 is a failed attempt: the request never goes where the redirect points."""
    receiver.statuses = [302]
    delivery = emit(owner, django_capture_on_commit_callbacks)
    assert [path for path, _, _ in receiver.requests] == ["/hooks/infolettre"]
    assert state(delivery)[:3] == ("pending", 1, 302)


def test_a_private_address_is_refused_at_sending_time(
    owner, endpoint, receiver, settings, django_capture_on_commit_callbacks
):
    """When private addresses are not allowed, a request to 127.0.0.1 is never made."""
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
    delivery = emit(owner, django_capture_on_commit_callbacks)
    assert receiver.requests == []
    assert state(delivery)[:3] == ("pending", 1, None)
    assert delivery.last_error == _("The address leads to a private network.")


def test_an_unreachable_endpoint_is_retried(owner, django_capture_on_commit_callbacks, receiver):
    """A refused connection is an attempt like a 500: retried later, the error logged."""
    url = receiver.url
    receiver.server.shutdown()
    receiver.server.server_close()
    with tenant_scope(owner.tenant):
        do_create_endpoint(owner.tenant, url=url, events=["subscribe"])
    with time_machine.travel(T0, tick=False):
        delivery = emit(owner, django_capture_on_commit_callbacks)
    assert state(delivery) == ("pending", 1, None, T0 + timedelta(minutes=1))
    assert delivery.last_error.startswith("ConnectionRefusedError")


def test_the_sweep_command_sends_due_retries(
    owner, endpoint, receiver, django_capture_on_commit_callbacks
):
    """`manage.py send_due_webhooks` queues the retries whose time has come, once."""
    receiver.statuses = [500]
    with time_machine.travel(T0, tick=False):
        delivery = emit(owner, django_capture_on_commit_callbacks)
    with time_machine.travel(T0 + timedelta(minutes=2), tick=False):
        call_command("send_due_webhooks")
    assert state(delivery)[:3] == ("delivered", 2, 200)
