"""Campaigns through the REST API: drafts, sending, live counts, pause, resume, cancel, schedule."""

import email
import json
from datetime import timedelta
from email.policy import default as default_policy

import pytest
import time_machine
from django.utils import timezone

from conftest import basic_auth
from infolettre.accounts.tenancy import tenant_scope
from infolettre.audience.actions import do_create_contact, do_create_list, do_subscribe
from infolettre.audience.models import Segment
from infolettre.campaigns.models import (
    Campaign,
    CampaignStatus,
    Delivery,
    SenderAddress,
    Template,
)
from infolettre.campaigns.tasks import launch_scheduled_campaign

HTML = "<html><body><p>Bonjour {{ contact.name }}</p>{{ footer }}</body></html>"
ADDRESSES = [f"reader{n:02d}@example.com" for n in range(20)]


def call(client, method, url, body=None, user=None):
    data = json.dumps(body) if body is not None else ""
    return client.generic(method, url, data, content_type="application/json", **basic_auth(user))


def make_audience(owner, size=20):
    """A list of `size` subscribed contacts and a verified sender, in the owner's organisation."""
    with tenant_scope(owner.tenant):
        news = do_create_list(owner.tenant, name="Nouvelles")
        for n in range(size):
            contact = do_create_contact(
                owner.tenant, email=f"reader{n:02d}@example.com", name=f"Reader {n:02d}"
            )
            do_subscribe(contact, news, source="test")
        sender = SenderAddress.objects.create(
            tenant=owner.tenant,
            email="news@example.com",
            name="News Desk",
            verified_at=timezone.now(),
        )
    return news, sender


def campaign_body(news, sender, **overrides):
    body = {
        "name": "March news",
        "subject": "Hello {{ contact.name }}",
        "sender_id": sender.pk,
        "reply_to": "Replies@Example.com",
        "list_ids": [news.pk],
        "html": HTML,
    }
    body.update(overrides)
    return body


@pytest.fixture
def audience(owner):
    return make_audience(owner)


@pytest.fixture
def draft(client, owner, audience):
    news, sender = audience
    response = call(client, "POST", "/api/v1/campaigns", campaign_body(news, sender), owner)
    assert response.status_code == 201
    return response.json()


@pytest.fixture
def sending(client, owner, draft):
    """A launched campaign whose lanes have not run: its 20 deliveries are queued."""
    response = call(client, "POST", f"/api/v1/campaigns/{draft['id']}/send", None, owner)
    assert response.status_code == 202
    return draft["id"]


def received(smtp_server):
    return sorted(rcpt for _, rcpts, _ in smtp_server.messages for rcpt in rcpts)


def campaign_row(campaign_id):
    return Campaign.unscoped.filter(pk=campaign_id).values("status", "name", "html").get()


# Drafts ------------------------------------------------------------------------------------------


def test_creating_a_campaign_makes_a_draft_with_what_was_given(client, owner, audience):
    """The new campaign is a draft with its subject, sender, reply-to, lists and HTML, and no counts."""
    news, sender = audience
    response = call(client, "POST", "/api/v1/campaigns", campaign_body(news, sender), owner)
    body = response.json()
    assert response.status_code == 201
    assert {k: body[k] for k in ("name", "subject", "sender_id", "reply_to", "list_ids")} == {
        "name": "March news",
        "subject": "Hello {{ contact.name }}",
        "sender_id": sender.pk,
        "reply_to": "replies@example.com",
        "list_ids": [news.pk],
    }
    assert (body["status"], body["html"], body["segment_id"], body["template_id"]) == (
        "draft",
        HTML,
        None,
        None,
    )
    assert body["counts"] == {"recipients": 0, "queued": 0, "sent": 0, "bounced": 0, "failed": 0}
    assert (body["started_at"], body["finished_at"], body["scheduled_at"]) == (None, None, None)


def test_a_template_s_html_is_copied_into_the_campaign(client, owner, audience):
    """Naming a template copies its HTML; a later edit of the template leaves the campaign as it was."""
    news, sender = audience
    with tenant_scope(owner.tenant):
        template = Template.objects.create(tenant=owner.tenant, name="Monthly", html=HTML)
    body = campaign_body(news, sender, template_id=template.pk)
    del body["html"]
    response = call(client, "POST", "/api/v1/campaigns", body, owner)
    assert response.status_code == 201
    Template.unscoped.filter(pk=template.pk).update(html="<p>changed</p>")
    assert (response.json()["template_id"], campaign_row(response.json()["id"])["html"]) == (
        template.pk,
        HTML,
    )


def test_a_campaign_needs_html_or_a_template(client, owner, audience):
    """Without HTML and without a template, nothing is created."""
    news, sender = audience
    body = campaign_body(news, sender)
    del body["html"]
    response = call(client, "POST", "/api/v1/campaigns", body, owner)
    assert (response.status_code, response.json()["code"]) == (422, "template_error")
    assert Campaign.unscoped.count() == 0


def test_html_that_does_not_compile_is_refused_with_its_line(client, owner, audience):
    """A template error in the HTML is refused beside the html field, naming its line."""
    news, sender = audience
    body = campaign_body(news, sender, html="<p>\n{% if contact.name %}unclosed</p>")
    response = call(
        client,
        "POST",
        "/api/v1/campaigns",
        body,
        owner,
    )
    details = response.json()["details"]
    assert (response.status_code, response.json()["code"]) == (422, "template_error")
    assert [d["field"] for d in details] == ["html"]
    assert "2" in details[0]["message"]
    assert Campaign.unscoped.count() == 0


def test_a_subject_that_does_not_compile_is_refused(client, owner, audience):
    news, sender = audience
    body = campaign_body(news, sender, subject="Hello {{ contact.name")
    response = call(client, "POST", "/api/v1/campaigns", body, owner)
    assert response.status_code == 422
    assert [d["field"] for d in response.json()["details"]] == ["subject"]
    assert Campaign.unscoped.count() == 0


def test_a_wrong_reply_to_address_or_an_unknown_field_is_refused(client, owner, audience):
    news, sender = audience
    for body in (
        campaign_body(news, sender, reply_to="not an address"),
        campaign_body(news, sender, priority="high"),
    ):
        response = call(client, "POST", "/api/v1/campaigns", body, owner)
        assert response.status_code == 422
    assert Campaign.unscoped.count() == 0


def test_a_draft_may_name_an_unconfirmed_sender(client, owner, audience):
    """An unconfirmed sender is accepted in a draft; only sending needs it confirmed."""
    news, sender = audience
    SenderAddress.unscoped.filter(pk=sender.pk).update(verified_at=None)
    response = call(client, "POST", "/api/v1/campaigns", campaign_body(news, sender), owner)
    assert (response.status_code, response.json()["status"]) == (201, "draft")


def test_a_draft_can_be_changed_and_deleted(client, owner, audience, draft):
    """PATCH changes only what it names; DELETE removes the draft."""
    with tenant_scope(owner.tenant):
        other = do_create_list(owner.tenant, name="Autres")
        segment = Segment.objects.create(tenant=owner.tenant, name="All", definition={})
    url = f"/api/v1/campaigns/{draft['id']}"
    response = call(
        client,
        "PATCH",
        url,
        {"name": "April news", "list_ids": [other.pk], "segment_id": segment.pk, "reply_to": ""},
        owner,
    )
    body = response.json()
    assert response.status_code == 200
    assert (body["name"], body["subject"], body["list_ids"], body["segment_id"]) == (
        "April news",
        "Hello {{ contact.name }}",
        [other.pk],
        segment.pk,
    )
    assert body["reply_to"] == ""
    assert call(client, "DELETE", url, None, owner).status_code == 204
    assert Campaign.unscoped.count() == 0


def test_listing_shows_the_campaigns_with_their_counts(client, owner, sending):
    response = call(client, "GET", "/api/v1/campaigns", None, owner)
    assert response.status_code == 200
    [row] = response.json()["items"]
    assert (row["id"], row["status"], row["counts"]) == (
        sending,
        "sending",
        {"recipients": 20, "queued": 20, "sent": 0, "bounced": 0, "failed": 0},
    )
    assert call(client, "GET", "/api/v1/campaigns?status=draft", None, owner).json()["items"] == []


# Sending -----------------------------------------------------------------------------------------


def test_a_campaign_sent_through_the_api_reaches_every_address_exactly_once(
    client, owner, draft, smtp_server, settings, django_capture_on_commit_callbacks
):
    """Each of the 20 addresses receives one message, personalised for it; the counts are exact."""
    settings.CAMPAIGN_TRANSPORT_URL = smtp_server.url
    url = f"/api/v1/campaigns/{draft['id']}"
    with django_capture_on_commit_callbacks(execute=True):
        response = call(client, "POST", f"{url}/send", None, owner)
    assert (response.status_code, response.json()["status"]) == (202, "sending")
    assert received(smtp_server) == ADDRESSES
    for _mail_from, [rcpt], raw in smtp_server.messages:
        message = email.message_from_bytes(raw, policy=default_policy)
        name = "Reader " + rcpt[len("reader") : len("reader") + 2]
        assert (message["To"], message["Subject"], message["Reply-To"]) == (
            rcpt,
            f"Hello {name}",
            "replies@example.com",
        )
        assert f"Bonjour {name}" in message.get_body(("html",)).get_content()
    body = call(client, "GET", url, None, owner).json()
    assert body["status"] == "sent"
    assert body["counts"] == {"recipients": 20, "queued": 0, "sent": 20, "bounced": 0, "failed": 0}
    assert body["started_at"] is not None and body["finished_at"] is not None


def test_the_live_counts_follow_the_deliveries(client, owner, sending):
    """GET answers the counts as they are now, by delivery status."""
    deliveries = Delivery.unscoped.filter(campaign_id=sending).order_by("pk")
    Delivery.unscoped.filter(pk__in=list(deliveries.values_list("pk", flat=True)[:5])).update(
        status="sent"
    )
    Delivery.unscoped.filter(pk=deliveries.last().pk).update(status="bounced")
    counts = call(client, "GET", f"/api/v1/campaigns/{sending}", None, owner).json()["counts"]
    assert counts == {"recipients": 20, "queued": 14, "sent": 5, "bounced": 1, "failed": 0}


def test_pause_resume_and_cancel_move_between_states_and_refuse_the_rest(client, owner, sending):
    """Each transition answers the new status; a move the state does not allow is a 409."""
    url = f"/api/v1/campaigns/{sending}"
    steps = [
        ("resume", 409, "sending"),
        ("pause", 200, "paused"),
        ("pause", 409, "paused"),
        ("send", 409, "paused"),
        ("resume", 200, "sending"),
        ("cancel", 200, "cancelled"),
        ("cancel", 409, "cancelled"),
        ("resume", 409, "cancelled"),
        ("pause", 409, "cancelled"),
        ("send", 409, "cancelled"),
    ]
    for action, status, state in steps:
        response = call(client, "POST", f"{url}/{action}", None, owner)
        assert (action, response.status_code) == (action, status)
        if status == 409:
            assert response.json()["code"] == "wrong_campaign_state"
        assert (action, campaign_row(sending)["status"]) == (action, state)
    body = call(client, "GET", url, None, owner).json()
    assert body["finished_at"] is not None
    assert body["counts"]["queued"] == 20


def test_a_paused_campaign_sends_nothing_until_resumed_then_each_address_once(
    client, owner, sending, smtp_server, settings, django_capture_on_commit_callbacks
):
    settings.CAMPAIGN_TRANSPORT_URL = smtp_server.url
    url = f"/api/v1/campaigns/{sending}"
    assert call(client, "POST", f"{url}/pause", None, owner).status_code == 200
    from infolettre.campaigns.pipeline import run_lane

    assert run_lane(sending) is None
    assert smtp_server.messages == []
    with django_capture_on_commit_callbacks(execute=True):
        assert call(client, "POST", f"{url}/resume", None, owner).status_code == 200
    assert received(smtp_server) == ADDRESSES
    assert campaign_row(sending)["status"] == CampaignStatus.SENT


def test_a_campaign_being_sent_cannot_be_changed_or_deleted(client, owner, sending):
    url = f"/api/v1/campaigns/{sending}"
    before = campaign_row(sending)
    for method, body in (("PATCH", {"name": "Other"}), ("DELETE", None)):
        response = call(client, method, url, body, owner)
        assert (response.status_code, response.json()["code"]) == (409, "wrong_campaign_state")
    assert campaign_row(sending) == before


def test_sending_from_an_unconfirmed_sender_is_refused_and_queues_nothing(
    client, owner, audience, draft
):
    _news, sender = audience
    SenderAddress.unscoped.filter(pk=sender.pk).update(verified_at=None)
    response = call(client, "POST", f"/api/v1/campaigns/{draft['id']}/send", None, owner)
    assert (response.status_code, response.json()["code"]) == (422, "sender_not_verified")
    assert Delivery.unscoped.count() == 0
    assert campaign_row(draft["id"])["status"] == "draft"


def test_sending_without_a_list_or_a_segment_is_refused(client, owner, audience):
    news, sender = audience
    body = campaign_body(news, sender, list_ids=[])
    campaign_id = call(client, "POST", "/api/v1/campaigns", body, owner).json()["id"]
    response = call(client, "POST", f"/api/v1/campaigns/{campaign_id}/send", None, owner)
    assert (response.status_code, response.json()["code"]) == (422, "no_recipients")
    assert Delivery.unscoped.count() == 0
    assert campaign_row(campaign_id)["status"] == "draft"


def test_an_organisation_without_a_confirmed_address_cannot_send(client, make_client_user):
    """Until someone in the organisation confirms their address, sending is refused."""
    unconfirmed = make_client_user(confirmed=False)
    news, sender = make_audience(unconfirmed, size=2)
    campaign_id = call(
        client, "POST", "/api/v1/campaigns", campaign_body(news, sender), unconfirmed
    ).json()["id"]
    for body in (None, {"at": (timezone.now() + timedelta(hours=1)).isoformat()}):
        response = call(client, "POST", f"/api/v1/campaigns/{campaign_id}/send", body, unconfirmed)
        assert (response.status_code, response.json()["code"]) == (403, "account_not_confirmed")
    assert Delivery.unscoped.count() == 0
    assert campaign_row(campaign_id)["status"] == "draft"


def test_a_test_message_goes_to_the_addresses_given_with_a_marked_subject(
    client, owner, draft, smtp_server, settings
):
    """A test reaches each address once, as a sample person would see it; no delivery is made."""
    settings.CAMPAIGN_TRANSPORT_URL = smtp_server.url
    response = call(
        client,
        "POST",
        f"/api/v1/campaigns/{draft['id']}/test",
        {"addresses": ["Me@Example.com"]},
        owner,
    )
    assert response.status_code == 200
    assert response.json() == {"results": [{"email": "me@example.com", "sent": True, "detail": ""}]}
    [(_from, [rcpt], raw)] = smtp_server.messages
    message = email.message_from_bytes(raw, policy=default_policy)
    assert (rcpt, message["Subject"]) == ("me@example.com", "[Test] Hello Camille Tremblay")
    assert (campaign_row(draft["id"])["status"], Delivery.unscoped.count()) == ("draft", 0)


def test_a_test_message_is_refused_from_an_unconfirmed_sender_or_to_too_many_addresses(
    client, owner, audience, draft, smtp_server, settings
):
    settings.CAMPAIGN_TRANSPORT_URL = smtp_server.url
    url = f"/api/v1/campaigns/{draft['id']}/test"
    six = [f"t{n}@example.com" for n in range(6)]
    response = call(client, "POST", url, {"addresses": six}, owner)
    assert (response.status_code, response.json()["code"]) == (422, "too_many_test_addresses")
    SenderAddress.unscoped.filter(pk=audience[1].pk).update(verified_at=None)
    response = call(client, "POST", url, {"addresses": ["me@example.com"]}, owner)
    assert (response.status_code, response.json()["code"]) == (422, "sender_not_verified")
    assert smtp_server.messages == []


# Scheduling --------------------------------------------------------------------------------------


def test_a_scheduled_campaign_waits_then_launches_at_its_time(
    client, owner, draft, smtp_server, settings, django_capture_on_commit_callbacks
):
    """Send with `at` schedules it; the launch task before the time does nothing, after it sends."""
    settings.CAMPAIGN_TRANSPORT_URL = smtp_server.url
    at = (timezone.now() + timedelta(hours=2)).replace(microsecond=0)
    response = call(
        client, "POST", f"/api/v1/campaigns/{draft['id']}/send", {"at": at.isoformat()}, owner
    )
    body = response.json()
    assert (response.status_code, body["status"]) == (202, "scheduled")
    assert body["scheduled_at"] == at.isoformat().replace("+00:00", "Z")
    assert Delivery.unscoped.count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        launch_scheduled_campaign.call(draft["id"])
    assert (campaign_row(draft["id"])["status"], smtp_server.messages) == ("scheduled", [])
    with (
        time_machine.travel(at + timedelta(minutes=1)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        launch_scheduled_campaign.call(draft["id"])
    assert received(smtp_server) == ADDRESSES
    assert campaign_row(draft["id"])["status"] == "sent"


def test_a_time_in_the_past_is_refused(client, owner, draft):
    past = (timezone.now() - timedelta(minutes=5)).isoformat()
    response = call(client, "POST", f"/api/v1/campaigns/{draft['id']}/send", {"at": past}, owner)
    assert response.status_code == 422
    assert response.json()["details"][0]["field"] == "at"
    assert campaign_row(draft["id"])["status"] == "draft"


def test_a_time_without_an_offset_is_read_in_the_site_time_zone(client, owner, draft, settings):
    """A naive time is the site's local time (America/Toronto): 12:00 there is 16:00 or 17:00 UTC."""
    year = timezone.now().year + 1
    response = call(
        client,
        "POST",
        f"/api/v1/campaigns/{draft['id']}/send",
        {"at": f"{year}-01-15T12:00"},
        owner,
    )
    assert response.json()["scheduled_at"] == f"{year}-01-15T17:00:00Z"


def test_a_cancelled_schedule_never_launches(client, owner, draft, smtp_server, settings):
    settings.CAMPAIGN_TRANSPORT_URL = smtp_server.url
    at = timezone.now() + timedelta(hours=1)
    url = f"/api/v1/campaigns/{draft['id']}"
    call(client, "POST", f"{url}/send", {"at": at.isoformat()}, owner)
    assert call(client, "POST", f"{url}/cancel", None, owner).json()["status"] == "cancelled"
    with time_machine.travel(at + timedelta(minutes=1)):
        launch_scheduled_campaign.call(draft["id"])
    assert (campaign_row(draft["id"])["status"], Delivery.unscoped.count()) == ("cancelled", 0)


# Another organisation's ids ----------------------------------------------------------------------


def test_another_organisations_campaign_is_not_found_by_any_route(
    client, owner, make_client_user, sending
):
    """Every route with a campaign id answers 404 to another organisation, and changes nothing."""
    stranger = make_client_user()
    url = f"/api/v1/campaigns/{sending}"
    before = campaign_row(sending)
    for method, path, body in (
        ("GET", "", None),
        ("PATCH", "", {"name": "Mine"}),
        ("DELETE", "", None),
        ("POST", "/send", None),
        ("POST", "/pause", None),
        ("POST", "/resume", None),
        ("POST", "/cancel", None),
        ("POST", "/test", {"addresses": ["me@example.com"]}),
    ):
        response = call(client, method, url + path, body, stranger)
        assert (method, path, response.status_code) == (method, path, 404)
        assert response.json()["code"] == "not_found"
    assert campaign_row(sending) == before


@pytest.mark.parametrize("field", ["sender_id", "list_ids", "segment_id", "template_id"])
def test_another_organisations_ids_in_the_body_are_not_found(
    client, owner, make_client_user, audience, field
):
    """A sender, list, segment or template of another organisation is a 404; nothing is created."""
    news, sender = audience
    stranger = make_client_user()
    own_news, own_sender = make_audience(stranger, size=0)
    with tenant_scope(owner.tenant):
        foreign = {
            "sender_id": sender.pk,
            "list_ids": [news.pk],
            "segment_id": Segment.objects.create(tenant=owner.tenant, name="S", definition={}).pk,
            "template_id": Template.objects.create(tenant=owner.tenant, name="T", html=HTML).pk,
        }
    body = campaign_body(own_news, own_sender, **{field: foreign[field]})
    response = call(client, "POST", "/api/v1/campaigns", body, stranger)
    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert Campaign.unscoped.count() == 0
    draft_id = call(
        client, "POST", "/api/v1/campaigns", campaign_body(own_news, own_sender), stranger
    ).json()["id"]
    before = campaign_row(draft_id)
    response = call(
        client, "PATCH", f"/api/v1/campaigns/{draft_id}", {field: foreign[field]}, stranger
    )
    assert response.status_code == 404
    assert campaign_row(draft_id) == before
