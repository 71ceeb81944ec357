"""The template pages: create from the default, edit with the check's message in place, preview."""

import email
from email.policy import default as default_policy

import pytest
from django.urls import reverse

from infolettre.accounts.tenancy import tenant_scope
from infolettre.audience.actions import do_create_contact
from infolettre.campaigns.models import Template
from infolettre.campaigns.template_actions import do_create_template

HTML = "<html><body><p>Hello {{ contact.name }}!</p>{{ footer }}</body></html>"


@pytest.fixture
def signed_in(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def template(owner):
    with tenant_scope(owner.tenant):
        return do_create_template(owner.tenant, name="Letter", html=HTML)


@pytest.fixture
def reader(owner):
    with tenant_scope(owner.tenant):
        return do_create_contact(owner.tenant, email="reader@example.com", name="Rosalie Roy")


@pytest.fixture
def stranger(make_client_user):
    other = make_client_user()
    with tenant_scope(other.tenant):
        other.template = do_create_template(other.tenant, name="Theirs", html=HTML)
        other.contact = do_create_contact(other.tenant, email="theirs@example.com", name="Secret")
    return other


def _templates():
    return list(Template.unscoped.order_by("pk").values("tenant_id", "name", "html"))


def test_the_new_template_form_starts_from_the_default_template(signed_in, template):
    """The list shows the templates, and the HTML box holds the default responsive template."""
    response = signed_in.get(reverse("campaigns:templates"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Letter" in page
    assert "{{ footer }}" in page and "max-width: 600px" in page


def test_creating_a_template_from_the_page_opens_it(signed_in, owner):
    """A valid form saves the template and leads to its page."""
    response = signed_in.post(reverse("campaigns:templates"), {"name": "Monthly", "html": HTML})
    saved = Template.unscoped.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("campaigns:template_detail", args=[saved.pk])
    assert (saved.tenant_id, saved.name, saved.html) == (owner.tenant_id, "Monthly", HTML)


def test_a_refused_template_shows_the_message_in_place_and_saves_nothing(signed_in):
    """A sandbox escape is drawn again with its line under the HTML box; nothing is created."""
    response = signed_in.post(
        reverse("campaigns:templates"), {"name": "Bad", "html": "<p>\n{{ ''.__class__ }}</p>"}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert 'id="id_html-error"' in page
    assert "Ligne 2 : " in page
    assert _templates() == []


def test_editing_saves_and_a_refused_edit_changes_nothing(signed_in, template):
    """A valid edit is saved; one with an include is refused in place and the old HTML stays."""
    url = reverse("campaigns:template_detail", args=[template.pk])
    assert signed_in.post(url, {"name": "Renamed", "html": "<p>New</p>"}).status_code == 302
    before = _templates()
    response = signed_in.post(url, {"name": "Again", "html": "{% include '/etc/passwd' %}"})
    assert response.status_code == 400
    assert "ne peut pas inclure, importer ni étendre" in response.content.decode()
    assert (
        _templates()
        == before
        == [{"tenant_id": template.tenant_id, "name": "Renamed", "html": "<p>New</p>"}]
    )


def test_the_preview_is_drawn_for_the_chosen_contact_in_a_sandboxed_frame(
    signed_in, template, reader
):
    """The detail page's preview shows the chosen contact's name, in a frame that runs no script."""
    url = reverse("campaigns:template_detail", args=[template.pk])
    page = signed_in.get(url, {"contact": reader.pk}).content.decode()
    assert 'sandbox=""' in page
    assert "Hello Rosalie Roy!" in page
    assert "Hello Camille Tremblay!" in signed_in.get(url).content.decode()


def test_the_preview_alone_is_the_rendered_html_under_a_sandbox_policy(
    signed_in, owner, template, reader
):
    """The preview URL answers the message's HTML, which the browser runs as a sandbox."""
    url = reverse("campaigns:template_preview", args=[template.pk])
    response = signed_in.get(url, {"contact": reader.pk})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert response["Content-Security-Policy"].startswith("sandbox;")
    body = response.content.decode()
    assert "<p>Hello Rosalie Roy!</p>" in body
    assert owner.tenant.address in body


def test_another_organisations_contact_is_not_found_for_a_preview(signed_in, template, stranger):
    """A contact id of another tenant is a 404 and shows nothing of that contact."""
    for name in ("campaigns:template_preview", "campaigns:template_detail"):
        response = signed_in.get(
            reverse(name, args=[template.pk]), {"contact": stranger.contact.pk}
        )
        assert (name, response.status_code) == (name, 404)
        assert "Secret" not in response.content.decode()


def test_another_organisations_template_is_not_found_by_any_page(
    signed_in, stranger, smtp_server, settings
):
    """Every template page answers 404 for another tenant's template and changes nothing."""
    settings.CAMPAIGN_TRANSPORT_URL = smtp_server.url
    before = _templates()
    pk = stranger.template.pk
    detail = reverse("campaigns:template_detail", args=[pk])
    assert signed_in.get(detail).status_code == 404
    assert signed_in.post(detail, {"name": "Taken", "html": "<p>x</p>"}).status_code == 404
    assert (
        signed_in.post(
            detail, {"action": "test", "addresses": "me@example.com", "subject": "Hi"}
        ).status_code
        == 404
    )
    assert signed_in.get(reverse("campaigns:template_preview", args=[pk])).status_code == 404
    assert signed_in.post(reverse("campaigns:template_delete", args=[pk])).status_code == 404
    assert _templates() == before
    assert smtp_server.messages == []


def test_deleting_from_the_page_removes_the_template(signed_in, template):
    """The delete button removes the template and returns to the list."""
    response = signed_in.post(reverse("campaigns:template_delete", args=[template.pk]))
    assert (response.status_code, response["Location"]) == (302, reverse("campaigns:templates"))
    assert _templates() == []


def test_a_test_sent_from_the_page_reaches_the_addresses(
    signed_in, template, reader, smtp_server, settings
):
    """The test form sends the saved template, marked "[Test]", rendered for the chosen contact."""
    settings.CAMPAIGN_TRANSPORT_URL = smtp_server.url
    response = signed_in.post(
        reverse("campaigns:template_detail", args=[template.pk]),
        {
            "action": "test",
            "addresses": "one@example.com, two@example.com",
            "subject": "Hi {{ contact.name }}",
            "contact": reader.pk,
        },
    )
    assert response.status_code == 302
    assert sorted(r for _, rcpts, _ in smtp_server.messages for r in rcpts) == [
        "one@example.com",
        "two@example.com",
    ]
    message = email.message_from_bytes(smtp_server.messages[0][2], policy=default_policy)
    assert message["Subject"] == "[Test] Hi Rosalie Roy"


def test_six_test_addresses_are_refused_on_the_page(signed_in, template, smtp_server, settings):
    """Six addresses are refused under the addresses box, and nothing is sent."""
    settings.CAMPAIGN_TRANSPORT_URL = smtp_server.url
    response = signed_in.post(
        reverse("campaigns:template_detail", args=[template.pk]),
        {
            "action": "test",
            "addresses": " ".join(f"p{n}@example.com" for n in range(6)),
            "subject": "Hi",
        },
    )
    assert response.status_code == 400
    assert 'id="id_addresses-error"' in response.content.decode()
    assert smtp_server.messages == []
