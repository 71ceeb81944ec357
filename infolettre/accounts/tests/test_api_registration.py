"""Registering an organisation through the API, confirming its address, and bad input refused."""

import base64
import json
import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone, translation

from conftest import PASSWORD, registration_data
from infolettre.accounts.actions import consent_wording
from infolettre.accounts.errors import EmailTaken
from infolettre.accounts.models import Organisation, User
from infolettre.privacy.models import ConsentEvent, PolicyAcceptance
from infolettre.privacy.purposes import NEWSLETTER

REGISTER = "/api/v1/auth/register"


def post(client, url, body, **extra):
    return client.post(url, json.dumps(body), content_type="application/json", **extra)


def registration(**overrides):
    body = {k: v for k, v in registration_data().items() if v}
    body.update(password=PASSWORD, accept_policy=True)
    body.update(overrides)
    return body


@pytest.mark.django_db
def test_register_creates_the_organisation_its_owner_and_sends_one_welcome(
    client, django_capture_on_commit_callbacks
):
    """A valid registration answers 201 with the new owner; one welcome message confirms the address."""
    body = registration(email="Ana.Lopez@Example.com", phone="514 555-0199", website="acme.example")
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, REGISTER, body)
    assert response.status_code == 201
    data = response.json()
    assert data["email"] == "ana.lopez@example.com"
    assert data["role"] == "owner"
    assert data["email_confirmed"] is False
    assert data["organisation"]["phone"] == "+15145550199"
    assert data["organisation"]["website"] == "https://acme.example"
    assert data["organisation"]["fax"] == ""
    assert data["gender"] == ""
    assert [m.to for m in mail.outbox] == [["ana.lopez@example.com"]]
    assert mail.outbox[0].extra_headers["X-Infolettre-Kind"] == "welcome"


@pytest.mark.django_db
def test_welcome_link_confirms_the_address(client, django_capture_on_commit_callbacks):
    """The token in the welcome message's link confirms the address through the API."""
    with django_capture_on_commit_callbacks(execute=True):
        post(client, REGISTER, registration(email="bo@example.com"))
    token = re.search(r"/confirmer/([^/\s]+)/", mail.outbox[0].body).group(1)
    response = post(client, "/api/v1/auth/confirm", {"token": token})
    assert response.status_code == 200
    assert response.json()["code"] == "email_confirmed"
    assert User.objects.get(email="bo@example.com").email_confirmed is True


@pytest.mark.django_db
def test_a_tampered_confirmation_token_is_refused(client, owner):
    """A token that was not signed by us changes nothing."""
    response = post(client, "/api/v1/auth/confirm", {"token": "forged:token:value"})
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_link"


@pytest.mark.django_db
def test_registration_records_policy_version_and_only_the_consents_given(client):
    """The accepted policy version is recorded; only the ticked consent box is in the ledger."""
    response = post(client, REGISTER, registration(newsletter=True))
    user = User.objects.get(pk=response.json()["id"])
    assert [a.policy_version.version for a in PolicyAcceptance.objects.all()] == ["1"]
    events = list(ConsentEvent.objects.values_list("subject_id", "purpose", "given", "source"))
    assert events == [(user.pk, "newsletter", True, "api:/api/v1/auth/register")]
    with translation.override("fr"):
        assert ConsentEvent.objects.get().wording == consent_wording(NEWSLETTER)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"email": "not-an-address"}, "email"),
        ({"phone": "123"}, "phone"),
        ({"website": "not a site"}, "website"),
        ({"password": "short"}, "password"),
        ({"gender": "robot"}, "gender"),
        ({"company_size": "huge"}, "company_size"),
        ({"name": "   "}, "name"),
        ({"accept_policy": False}, "accept_policy"),
    ],
)
def test_bad_registration_input_names_the_field_and_creates_nothing(client, override, field):
    """Each faulty field is named in the error; no organisation or user is created."""
    response = post(client, REGISTER, registration(**override))
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid"
    assert field in [d["field"] for d in body["details"]]
    assert (Organisation.objects.count(), User.objects.count()) == (0, 0)


@pytest.mark.django_db
def test_an_unknown_field_is_refused(client):
    """A field the API does not know is refused rather than ignored."""
    response = post(client, REGISTER, registration(favourite_colour="blue"))
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert response.json()["details"][0]["field"] == "payload.favourite_colour"
    assert User.objects.count() == 0


@pytest.mark.django_db
def test_a_missing_required_field_is_refused(client):
    body = registration()
    del body["company_name"]
    response = post(client, REGISTER, body)
    assert response.status_code == 422
    assert response.json()["details"][0]["field"] == "payload.company_name"
    assert User.objects.count() == 0


@pytest.mark.django_db
def test_malformed_json_gets_a_json_error_not_a_trace(client):
    response = client.post(REGISTER, "{not json", content_type="application/json")
    assert response.status_code in (400, 422)
    assert response["Content-Type"].startswith("application/json")
    assert set(response.json()) >= {"code", "message"}
    assert "Traceback" not in response.content.decode()


@pytest.mark.django_db
def test_an_address_already_registered_is_refused(client, owner):
    """A second account with the same address is refused with a stable code."""
    response = post(client, REGISTER, registration(email=owner.email.upper()))
    assert response.status_code == 422
    with translation.override("fr"):
        assert response.json()["details"] == [
            {"field": "email", "message": str(EmailTaken.message)}
        ]
    assert User.objects.count() == 1


@pytest.mark.django_db
def test_openapi_document_describes_each_registration_field_with_its_purpose(client):
    """The OpenAPI document is served and every registration field says why it is asked."""
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    schema = response.json()["components"]["schemas"]["RegistrationIn"]
    assert schema["additionalProperties"] is False
    assert "contact you about the applications" in schema["properties"]["email"]["description"]
    assert schema["properties"]["gender"]["description"].startswith("Optional.")
    assert set(schema["required"]) == {
        "name",
        "title",
        "email",
        "company_name",
        "address",
        "phone",
        "website",
        "password",
        "accept_policy",
    }


@pytest.mark.django_db
def test_unknown_api_path_answers_json_404(client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.django_db
def test_the_confirmation_link_expires_and_does_not_carry_the_address(
    client, django_capture_on_commit_callbacks, settings
):
    """The link stops working after its lifetime, and nothing in it decodes to the address."""
    with django_capture_on_commit_callbacks(execute=True):
        post(client, REGISTER, registration(email="carla@example.com"))
    token = re.search(r"/confirmer/([^/\s]+)/", mail.outbox[0].body).group(1)
    payload = token.split(":")[0]
    assert "carla" not in base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode(
        errors="ignore"
    )
    with time_machine.travel(
        timezone.now() + timedelta(seconds=settings.EMAIL_CONFIRMATION_MAX_AGE + 1)
    ):
        response = post(client, "/api/v1/auth/confirm", {"token": token})
    assert response.json()["code"] == "invalid_link"
    assert User.objects.get(email="carla@example.com").email_confirmed is False


@pytest.mark.django_db
def test_a_value_longer_than_its_column_is_refused_by_name(client):
    """A name of 201 characters gets a clear message, not a database error."""
    response = post(client, REGISTER, registration(name="x" * 201))
    assert response.status_code == 422
    assert [d["field"] for d in response.json()["details"]] == ["name"]
    assert User.objects.count() == 0
