"""The /webhooks/ page: owners add, test and delete endpoints; everyone reads the delivery log."""

import pytest

from infolettre.accounts.tenancy import tenant_scope
from infolettre.webhooks.actions import do_create_endpoint
from infolettre.webhooks.models import WebhookEndpoint


@pytest.fixture
def endpoint(owner, receiver):
    with tenant_scope(owner.tenant):
        return do_create_endpoint(owner.tenant, url=receiver.url, events=["subscribe"])


def test_an_owner_adds_an_endpoint_and_the_page_shows_its_secret(client, owner, receiver):
    """Posting the form creates the endpoint and shows its secret on the answer, uncached."""
    client.force_login(owner)
    response = client.post(
        "/webhooks/", {"url": receiver.url, "events": ["unsubscribe", "complaint"]}
    )
    endpoint = WebhookEndpoint.unscoped.get()
    assert (endpoint.url, endpoint.events) == (receiver.url, ["unsubscribe", "complaint"])
    assert response.status_code == 200
    assert endpoint.secret in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    page = client.get("/webhooks/").content.decode()
    assert receiver.url in page
    assert endpoint.secret not in page


def test_a_form_without_events_is_refused(client, owner, receiver):
    """No event chosen: the form comes back with its message and nothing is created."""
    client.force_login(owner)
    response = client.post("/webhooks/", {"url": receiver.url})
    assert response.status_code == 400
    assert WebhookEndpoint.unscoped.count() == 0


def test_the_page_shows_the_log_of_a_test_event(client, owner, endpoint, receiver):
    """The test button sends a ping; the log on the page shows it delivered."""
    client.force_login(owner)
    response = client.post(f"/webhooks/{endpoint.pk}/essai/", follow=True)
    assert [e["type"] for e in receiver.events()] == ["ping"]
    page = response.content.decode()
    assert 'id="webhook-deliveries"' in page
    assert "<code>ping</code>" in page


def test_an_owner_reveals_the_secret_and_deletes_the_endpoint(client, owner, endpoint):
    client.force_login(owner)
    assert endpoint.secret in client.post(f"/webhooks/{endpoint.pk}/secret/").content.decode()
    client.post(f"/webhooks/{endpoint.pk}/supprimer/")
    assert WebhookEndpoint.unscoped.count() == 0


def test_a_member_reads_the_page_but_changes_nothing(client, owner, make_member, endpoint):
    """A member sees the endpoints, not the secret; their posts change nothing."""
    member = make_member(owner.tenant)
    client.force_login(member)
    page = client.get("/webhooks/").content.decode()
    assert endpoint.url in page
    assert 'id="new-webhook"' not in page
    for path in (f"/webhooks/{endpoint.pk}/secret/", f"/webhooks/{endpoint.pk}/supprimer/"):
        response = client.post(path, follow=True)
        assert endpoint.secret not in response.content.decode()
    client.post("/webhooks/", {"url": "https://example.com/x", "events": ["subscribe"]})
    assert list(WebhookEndpoint.unscoped.values_list("pk", flat=True)) == [endpoint.pk]
