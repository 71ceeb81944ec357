"""The webhooks API: owners manage endpoints, the secret shows at creation and on demand only."""

import json

import pytest

from conftest import basic_auth
from infolettre.accounts.tenancy import tenant_scope
from infolettre.webhooks.actions import do_create_endpoint
from infolettre.webhooks.models import WebhookDelivery, WebhookEndpoint


def api(client, method, path, user, body=None):
    return client.generic(
        method,
        f"/api/v1{path}",
        json.dumps(body) if body is not None else "",
        content_type="application/json",
        **basic_auth(user),
    )


def endpoints():
    return list(WebhookEndpoint.unscoped.values_list("url", "events", "active").order_by("pk"))


def test_an_owner_adds_an_endpoint_and_sees_its_secret_once(client, owner, receiver):
    """POST answers with the secret; the list and the detail never include it."""
    response = api(
        client, "POST", "/webhooks", owner, {"url": receiver.url, "events": ["bounce", "subscribe"]}
    )
    assert response.status_code == 201
    assert response["Cache-Control"] == "no-store"
    created = response.json()
    endpoint = WebhookEndpoint.unscoped.get()
    assert created == {
        "id": endpoint.pk,
        "url": receiver.url,
        "events": ["subscribe", "bounce"],
        "active": True,
        "created_at": created["created_at"],
        "secret": endpoint.secret,
    }
    assert endpoint.secret.startswith("whsec_") and len(endpoint.secret) > 40
    listed = api(client, "GET", "/webhooks", owner).json()
    assert listed == [{k: v for k, v in created.items() if k != "secret"}]
    detail = api(client, "GET", f"/webhooks/{endpoint.pk}", owner).json()
    assert "secret" not in detail
    assert endpoint.secret not in json.dumps(listed) + json.dumps(detail)


def test_an_owner_reads_the_secret_on_demand_a_member_may_not(client, owner, make_member, receiver):
    """GET …/secret gives the owner the secret; a member gets 403 and no secret."""
    with tenant_scope(owner.tenant):
        endpoint = do_create_endpoint(owner.tenant, url=receiver.url, events=["subscribe"])
    response = api(client, "GET", f"/webhooks/{endpoint.pk}/secret", owner)
    assert (response.status_code, response.json()) == (200, {"secret": endpoint.secret})
    member = make_member(owner.tenant)
    response = api(client, "GET", f"/webhooks/{endpoint.pk}/secret", member)
    assert (response.status_code, response.json()["code"]) == (403, "owner_required")
    assert endpoint.secret not in response.content.decode()


def test_a_member_sees_endpoints_but_cannot_change_them(client, owner, make_member, receiver):
    """Members read the list and the log; creating, changing, deleting and testing are refused."""
    with tenant_scope(owner.tenant):
        endpoint = do_create_endpoint(owner.tenant, url=receiver.url, events=["subscribe"])
    member = make_member(owner.tenant)
    before = endpoints()
    assert api(client, "GET", "/webhooks", member).status_code == 200
    assert api(client, "GET", f"/webhooks/{endpoint.pk}/deliveries", member).json() == []
    refused = [
        api(client, "POST", "/webhooks", member, {"url": receiver.url, "events": ["subscribe"]}),
        api(client, "PATCH", f"/webhooks/{endpoint.pk}", member, {"active": False}),
        api(client, "DELETE", f"/webhooks/{endpoint.pk}", member),
        api(client, "POST", f"/webhooks/{endpoint.pk}/test", member),
    ]
    assert [(r.status_code, r.json()["code"]) for r in refused] == [(403, "owner_required")] * 4
    assert endpoints() == before
    assert receiver.requests == []


def test_an_owner_changes_and_deletes_an_endpoint(client, owner, receiver):
    """PATCH changes the events and the state; DELETE removes the endpoint and its log."""
    with tenant_scope(owner.tenant):
        endpoint = do_create_endpoint(owner.tenant, url=receiver.url, events=["subscribe"])
    response = api(
        client,
        "PATCH",
        f"/webhooks/{endpoint.pk}",
        owner,
        {"events": ["campaign_finished", "unsubscribe"], "active": False},
    )
    assert response.status_code == 200
    assert endpoints() == [(receiver.url, ["unsubscribe", "campaign_finished"], False)]
    api(client, "POST", f"/webhooks/{endpoint.pk}/test", owner)
    assert api(client, "DELETE", f"/webhooks/{endpoint.pk}", owner).status_code == 204
    assert (endpoints(), WebhookDelivery.unscoped.count()) == ([], 0)


def test_a_test_event_is_sent_at_once_and_logged(client, owner, receiver):
    """POST …/test sends a ping now, whatever the endpoint subscribes to, and answers its outcome."""
    with tenant_scope(owner.tenant):
        endpoint = do_create_endpoint(owner.tenant, url=receiver.url, events=["bounce"])
    response = api(client, "POST", f"/webhooks/{endpoint.pk}/test", owner)
    assert response.status_code == 200
    body = response.json()
    assert (body["event"], body["status"], body["attempts"], body["last_status_code"]) == (
        "ping",
        "delivered",
        1,
        200,
    )
    assert [e["type"] for e in receiver.events()] == ["ping"]
    assert receiver.events()[0]["data"] == {"webhook_id": endpoint.pk}
    log = api(client, "GET", f"/webhooks/{endpoint.pk}/deliveries", owner).json()
    assert [(d["id"], d["event"], d["status"]) for d in log] == [(body["id"], "ping", "delivered")]


def test_a_failed_test_event_is_not_retried(client, owner, receiver):
    """A ping answered with a 500 is failed at once: it was a test."""
    receiver.statuses = [500]
    with tenant_scope(owner.tenant):
        endpoint = do_create_endpoint(owner.tenant, url=receiver.url, events=["bounce"])
    body = api(client, "POST", f"/webhooks/{endpoint.pk}/test", owner).json()
    assert (body["status"], body["attempts"], body["last_status_code"]) == ("failed", 1, 500)


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://10.0.0.5/hook",
        "https://192.168.1.10/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "http://203.0.113.10/hook",
    ],
)
def test_a_private_or_plain_http_address_is_refused_when_not_allowed(client, owner, settings, url):
    """Without WEBHOOKS_ALLOW_PRIVATE_URLS, loopback, private, link-local and http are refused."""
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
    response = api(client, "POST", "/webhooks", owner, {"url": url, "events": ["subscribe"]})
    assert response.status_code == 422
    assert response.json()["code"] == "webhook_url_refused"
    assert response.json()["details"][0]["field"] == "url"
    assert endpoints() == []


def test_a_changed_address_is_checked_too(client, owner, settings):
    """PATCH to a private address is refused and the endpoint keeps its address."""
    with tenant_scope(owner.tenant):
        endpoint = do_create_endpoint(
            owner.tenant, url="https://93.184.215.14/hook", events=["subscribe"]
        )
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
    response = api(client, "PATCH", f"/webhooks/{endpoint.pk}", owner, {"url": "https://10.1.2.3/"})
    assert (response.status_code, response.json()["code"]) == (422, "webhook_url_refused")
    assert endpoints() == [("https://93.184.215.14/hook", ["subscribe"], True)]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "https://example.com/hook", "events": ["ping"]}, "events"),
        ({"url": "https://example.com/hook", "events": ["subscribe", "opened"]}, "events"),
        ({"url": "ftp://example.com/hook", "events": ["subscribe"]}, "url"),
        ({"url": "https://user:pw@example.com/hook", "events": ["subscribe"]}, "url"),
        ({"url": "http://example.com/hook", "events": ["subscribe"]}, "url"),
    ],
)
def test_unknown_events_and_bad_addresses_are_refused(client, owner, body, field):
    """Only the offered events, and complete https addresses without credentials, are accepted."""
    response = api(client, "POST", "/webhooks", owner, body)
    assert response.status_code == 422
    assert response.json()["details"][0]["field"] == field
    assert endpoints() == []


def test_plain_http_is_allowed_in_debug(client, owner, settings):
    """With DEBUG on (development), an http address is accepted."""
    settings.DEBUG = True
    response = api(
        client, "POST", "/webhooks", owner, {"url": "http://example.com/hook", "events": ["bounce"]}
    )
    assert response.status_code == 201
    assert endpoints() == [("http://example.com/hook", ["bounce"], True)]
