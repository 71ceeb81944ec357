"""The templates API: checked templates, previews with a chosen contact, test sends, tenant isolation."""

import email
import json
from email.policy import default as default_policy

import pytest

from conftest import basic_auth
from infolettre.accounts.tenancy import tenant_scope
from infolettre.audience.actions import do_create_contact
from infolettre.campaigns.models import Campaign, SenderAddress, Template
from infolettre.campaigns.template_actions import (
    do_create_template,
    do_send_campaign_test,
    do_send_test,
)
from infolettre.errors import Invalid

HTML = "<html><body><h1>News</h1><p>Hello {{ contact.name }}!</p>{{ footer }}</body></html>"


def call(client, user, method, url, body=None):
    return client.generic(
        method,
        url,
        json.dumps(body) if body is not None else "",
        content_type="application/json",
        **basic_auth(user),
    )


@pytest.fixture
def template(owner):
    with tenant_scope(owner.tenant):
        return do_create_template(owner.tenant, name="Letter", html=HTML)


@pytest.fixture
def reader(owner):
    with tenant_scope(owner.tenant):
        return do_create_contact(
            owner.tenant,
            email="reader@example.com",
            name="Rosalie Roy",
            attributes={"city": "Laval"},
        )


@pytest.fixture
def stranger(make_client_user):
    """The owner of another organisation, with a template and a contact of its own."""
    other = make_client_user()
    with tenant_scope(other.tenant):
        other.template = do_create_template(other.tenant, name="Theirs", html=HTML)
        other.contact = do_create_contact(other.tenant, email="theirs@example.com", name="Secret")
    return other


def _templates():
    return list(Template.unscoped.order_by("pk").values("tenant_id", "name", "html"))


def test_creating_without_html_starts_from_the_default_template(client, owner):
    """A template created with a name only holds the default responsive template."""
    response = call(client, owner, "POST", "/api/v1/templates", {"name": "Monthly"})
    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "Monthly"
    assert "{{ footer }}" in body["html"] and "max-width: 600px" in body["html"]


def test_creating_with_html_keeps_it(client, owner):
    """The HTML given is saved as written."""
    response = call(client, owner, "POST", "/api/v1/templates", {"name": "Mine", "html": HTML})
    assert (response.status_code, response.json()["html"]) == (201, HTML)


@pytest.mark.parametrize(
    ("html", "line"),
    [
        ("<p>\n{{ ''.__class__.__mro__ }}</p>", 2),
        ("<p>{{ cycler.__init__.__globals__ }}</p>", 1),
        ("<p>\n\n{% include '/etc/passwd' %}</p>", 3),
        ("<p>{% if x %}</p>", 1),
    ],
)
def test_a_template_that_escapes_the_sandbox_is_refused_and_not_saved(client, owner, html, line):
    """The answer is 422 with the line at fault; no template is created."""
    response = call(client, owner, "POST", "/api/v1/templates", {"name": "Bad", "html": html})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "template_error"
    assert body["message"].startswith(f"Ligne {line} : ")
    assert body["details"][0]["field"] == "html" and body["details"][0]["line"] == line
    assert _templates() == []


def test_an_empty_name_is_refused(client, owner):
    """A name of spaces is no name."""
    response = call(client, owner, "POST", "/api/v1/templates", {"name": "   "})
    assert (response.status_code, response.json()["details"][0]["field"]) == (422, "name")
    assert _templates() == []


def test_an_unknown_field_is_refused(client, owner):
    """Fields the API does not know are refused, not dropped."""
    response = call(client, owner, "POST", "/api/v1/templates", {"name": "x", "subject": "y"})
    assert response.status_code == 422
    assert _templates() == []


def test_listing_reading_changing_and_deleting(client, owner, template):
    """A template is listed, read, renamed, its HTML replaced, and deleted."""
    assert [t["name"] for t in call(client, owner, "GET", "/api/v1/templates").json()] == ["Letter"]
    url = f"/api/v1/templates/{template.pk}"
    assert call(client, owner, "GET", url).json()["html"] == HTML
    response = call(client, owner, "PATCH", url, {"name": "Renamed", "html": "<p>New</p>"})
    assert (response.status_code, response.json()["name"]) == (200, "Renamed")
    assert response.json()["html"] == "<p>New</p>"
    assert call(client, owner, "DELETE", url).status_code == 204
    assert _templates() == []


def test_a_refused_change_leaves_the_template_as_it_was(client, owner, template):
    """A change with a sandbox escape is refused with 422 and changes nothing, the name included."""
    before = _templates()
    response = call(
        client,
        owner,
        "PATCH",
        f"/api/v1/templates/{template.pk}",
        {"name": "Renamed", "html": "{{ ''.__class__ }}"},
    )
    assert response.status_code == 422
    assert _templates() == before


def test_deleting_a_template_leaves_its_drafts_a_copy(client, owner, template):
    """A draft campaign that used the template keeps its HTML."""
    with tenant_scope(owner.tenant):
        sender = SenderAddress.objects.create(tenant=owner.tenant, email="n@example.com", name="N")
        draft = Campaign.objects.create(
            tenant=owner.tenant, name="Draft", subject="S", sender=sender, template=template
        )
    assert call(client, owner, "DELETE", f"/api/v1/templates/{template.pk}").status_code == 204
    draft.refresh_from_db()
    assert (draft.template_id, draft.html) == (None, HTML)


def test_preview_with_a_chosen_contact_shows_that_contact(client, owner, template, reader):
    """The preview renders the contact's name, the footer and the text alternative."""
    response = call(
        client,
        owner,
        "POST",
        f"/api/v1/templates/{template.pk}/preview",
        {"contact_id": reader.pk, "subject": "For {{ contact.attributes.city }}"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["subject"] == "For Laval"
    assert "<p>Hello Rosalie Roy!</p>" in body["html"]
    assert owner.tenant.address in body["html"]
    assert "Hello Rosalie Roy!" in body["text"] and owner.tenant.address in body["text"]


def test_preview_without_a_contact_uses_the_sample_contact(client, owner, template):
    """With no contact chosen, the sample contact stands in."""
    response = call(client, owner, "POST", f"/api/v1/templates/{template.pk}/preview", {})
    assert "<p>Hello Camille Tremblay!</p>" in response.json()["html"]


def test_another_organisations_template_is_not_found_by_any_route(
    client, owner, stranger, smtp_server, settings
):
    """Every template route answers 404 for another tenant's template, and changes or sends nothing."""
    settings.CAMPAIGN_TRANSPORT_URL = smtp_server.url
    before = _templates()
    url = f"/api/v1/templates/{stranger.template.pk}"
    for method, path, body in [
        ("GET", url, None),
        ("PATCH", url, {"name": "Taken"}),
        ("DELETE", url, None),
        ("POST", url + "/preview", {}),
        ("POST", url + "/test", {"addresses": ["me@example.com"], "subject": "Hi"}),
    ]:
        response = call(client, owner, method, path, body)
        assert (method, path, response.status_code) == (method, path, 404)
    assert _templates() == before
    assert smtp_server.messages == []


def test_another_organisations_contact_is_not_found_for_preview_or_test(
    client, owner, template, stranger, smtp_server, settings
):
    """A contact id of another tenant is a 404: its data is never rendered, nothing is sent."""
    settings.CAMPAIGN_TRANSPORT_URL = smtp_server.url
    url = f"/api/v1/templates/{template.pk}"
    preview = call(client, owner, "POST", url + "/preview", {"contact_id": stranger.contact.pk})
    test = call(
        client,
        owner,
        "POST",
        url + "/test",
        {"addresses": ["me@example.com"], "subject": "Hi", "contact_id": stranger.contact.pk},
    )
    assert (preview.status_code, test.status_code) == (404, 404)
    assert "Secret" not in preview.content.decode() + test.content.decode()
    assert smtp_server.messages == []


# Test sends -------------------------------------------------------------------------------------


def test_a_test_send_reaches_each_address_marked_as_a_test(
    client, owner, template, reader, smtp_server, settings
):
    """Each address gets one message, subject prefixed "[Test]", rendered for the chosen contact."""
    settings.CAMPAIGN_TRANSPORT_URL = smtp_server.url
    response = call(
        client,
        owner,
        "POST",
        f"/api/v1/templates/{template.pk}/test",
        {
            "addresses": ["one@example.com", "two@example.com"],
            "subject": "News for {{ contact.name }}",
            "contact_id": reader.pk,
        },
    )
    assert response.status_code == 200
    assert response.json()["results"] == [
        {"email": "one@example.com", "sent": True, "detail": ""},
        {"email": "two@example.com", "sent": True, "detail": ""},
    ]
    assert sorted(r for _, rcpts, _ in smtp_server.messages for r in rcpts) == [
        "one@example.com",
        "two@example.com",
    ]
    message = email.message_from_bytes(smtp_server.messages[0][2], policy=default_policy)
    assert message["Subject"] == "[Test] News for Rosalie Roy"
    assert message["Reply-To"] == owner.email
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    assert "Hello Rosalie Roy!" in html and owner.tenant.address in html
    assert "Hello Rosalie Roy!" in text and "/u/test/" in text


def test_six_addresses_are_refused_and_nothing_is_sent(
    client, owner, template, smtp_server, settings
):
    """At most five addresses: a sixth refuses the whole test, with a clear message."""
    settings.CAMPAIGN_TRANSPORT_URL = smtp_server.url
    response = call(
        client,
        owner,
        "POST",
        f"/api/v1/templates/{template.pk}/test",
        {"addresses": [f"p{n}@example.com" for n in range(6)], "subject": "Hi"},
    )
    assert response.status_code == 422
    assert response.json()["code"] == "too_many_test_addresses"
    assert response.json()["message"] == "Un essai va à au plus 5 adresses; vous en avez indiqué 6."
    assert smtp_server.messages == []


def test_an_invalid_address_is_refused_and_nothing_is_sent(
    client, owner, template, smtp_server, settings
):
    """One bad address refuses the test before anything leaves."""
    settings.CAMPAIGN_TRANSPORT_URL = smtp_server.url
    response = call(
        client,
        owner,
        "POST",
        f"/api/v1/templates/{template.pk}/test",
        {"addresses": ["ok@example.com", "not an address"], "subject": "Hi"},
    )
    assert (response.status_code, response.json()["details"][0]["field"]) == (422, "addresses")
    assert smtp_server.messages == []


def test_an_organisation_that_cannot_send_gets_no_test(
    client, make_client_user, smtp_server, settings
):
    """Until someone confirms their address, tests are refused like campaigns, and nothing leaves."""
    settings.CAMPAIGN_TRANSPORT_URL = smtp_server.url
    unconfirmed = make_client_user(confirmed=False)
    with tenant_scope(unconfirmed.tenant):
        template = do_create_template(unconfirmed.tenant, name="T", html=HTML)
    response = call(
        client,
        unconfirmed,
        "POST",
        f"/api/v1/templates/{template.pk}/test",
        {"addresses": ["me@example.com"], "subject": "Hi"},
    )
    assert (response.status_code, response.json()["code"]) == (403, "account_not_confirmed")
    assert smtp_server.messages == []


def test_a_campaign_test_comes_from_its_confirmed_sender(owner, smtp_server, settings):
    """A campaign's test uses its subject, sender and HTML; the campaign is not sent."""
    settings.CAMPAIGN_TRANSPORT_URL = smtp_server.url
    with tenant_scope(owner.tenant):
        sender = SenderAddress.objects.create(
            tenant=owner.tenant,
            email="news@example.com",
            name="News Desk",
            verified_at=owner.date_joined,
        )
        campaign = Campaign.objects.create(
            tenant=owner.tenant, name="C", subject="Spring", sender=sender, html=HTML
        )
        do_send_campaign_test(campaign, ["me@example.com"], user=owner)
    mail_from, rcpts, raw = smtp_server.messages[0]
    message = email.message_from_bytes(raw, policy=default_policy)
    assert mail_from == "bounce@bounces.infolettre.local"
    assert (rcpts, message["Subject"], message["From"]) == (
        ["me@example.com"],
        "[Test] Spring",
        "News Desk <news@example.com>",
    )
    campaign.refresh_from_db()
    assert (campaign.status, campaign.recipient_count) == ("draft", 0)


def test_a_campaign_from_an_unconfirmed_sender_sends_no_test(owner, smtp_server, settings):
    """A test cannot put an unconfirmed address in From."""
    settings.CAMPAIGN_TRANSPORT_URL = smtp_server.url
    with tenant_scope(owner.tenant):
        sender = SenderAddress.objects.create(tenant=owner.tenant, email="x@example.com", name="X")
        campaign = Campaign.objects.create(
            tenant=owner.tenant, name="C", subject="S", sender=sender, html=HTML
        )
        with pytest.raises(Invalid) as caught:
            do_send_test(campaign, None, ["me@example.com"])
    assert caught.value.code == "sender_not_verified"
    assert smtp_server.messages == []
