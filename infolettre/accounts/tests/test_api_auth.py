"""Signing in without cookies: HTTP Basic and personal API tokens; throttling; password reset."""

import json
import re

import pytest
from django.core import mail
from django.test import Client, override_settings

from conftest import PASSWORD, basic_auth
from infolettre.accounts.models import ApiToken, User


def call(client, method, url, body=None, **extra):
    data = json.dumps(body) if body is not None else ""
    return client.generic(method, url, data, content_type="application/json", **extra)


def bearer(raw):
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def test_basic_auth_reaches_the_api_without_a_cookie(client, owner):
    """A person who refuses cookies sends their password with each request."""
    response = call(client, "GET", "/api/v1/me", **basic_auth(owner))
    assert response.status_code == 200
    assert response.json()["email"] == owner.email
    assert response.json()["organisation"]["name"] == owner.tenant.name
    assert "sessionid" not in response.cookies


def test_a_wrong_password_is_refused_with_401(client, owner):
    response = call(client, "GET", "/api/v1/me", **basic_auth(owner, "wrong password"))
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"
    assert response["WWW-Authenticate"].startswith("Basic")


def test_a_request_without_credentials_is_refused_with_401(client, owner):
    response = call(client, "GET", "/api/v1/me")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"


@override_settings(LOGIN_FAILURE_LIMIT=3)
def test_repeated_failures_lock_the_address_even_for_the_right_password(client, owner):
    """After the limit of failures, even the right password is refused for a while."""
    for _ in range(3):
        assert call(client, "GET", "/api/v1/me", **basic_auth(owner, "guess")).status_code == 401
    response = call(client, "GET", "/api/v1/me", **basic_auth(owner))
    assert response.status_code == 429
    assert response.json()["code"] == "sign_in_throttled"


@override_settings(LOGIN_FAILURE_LIMIT=3)
def test_a_success_clears_the_failures_of_the_address(client, owner):
    for _ in range(2):
        call(client, "GET", "/api/v1/me", **basic_auth(owner, "guess"))
    assert call(client, "GET", "/api/v1/me", **basic_auth(owner)).status_code == 200
    for _ in range(2):
        call(client, "GET", "/api/v1/me", **basic_auth(owner, "guess"))
    assert call(client, "GET", "/api/v1/me", **basic_auth(owner)).status_code == 200


def test_a_token_is_shown_once_stored_as_a_digest_and_works_as_bearer(client, owner):
    """The secret is in the creation answer only; the database keeps a digest; Bearer works."""
    created = call(
        client, "POST", "/api/v1/auth/tokens", {"name": "reporting"}, **basic_auth(owner)
    )
    assert created.status_code == 201
    raw = created.json()["token"]
    assert raw.startswith("inf_")
    stored = ApiToken.unscoped.get()
    assert raw not in (stored.digest, stored.prefix, stored.name)
    listed = call(client, "GET", "/api/v1/auth/tokens", **basic_auth(owner)).json()
    assert [set(t) for t in listed] == [
        {"id", "name", "prefix", "created_at", "last_used_at", "revoked_at"}
    ]
    me = call(client, "GET", "/api/v1/me", **bearer(raw))
    assert me.status_code == 200
    assert me.json()["email"] == owner.email


def test_a_revoked_token_no_longer_works(client, owner):
    raw = call(client, "POST", "/api/v1/auth/tokens", {"name": "cli"}, **basic_auth(owner)).json()[
        "token"
    ]
    token_id = ApiToken.unscoped.get().pk
    assert (
        call(client, "DELETE", f"/api/v1/auth/tokens/{token_id}", **bearer(raw)).status_code == 204
    )
    response = call(client, "GET", "/api/v1/me", **bearer(raw))
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"


@pytest.mark.parametrize(
    "header", ["Bearer inf_notarealtoken", "Bearer ", "Basic !!!", "Basic Zm9v", "Digest abc"]
)
def test_malformed_or_unknown_credentials_are_refused(client, owner, header):
    response = call(client, "GET", "/api/v1/me", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"


def test_a_session_needs_the_csrf_token_to_change_anything(owner):
    """The web session reaches the API, but a change without the CSRF token is refused."""
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(owner)
    assert call(browser, "GET", "/api/v1/me").status_code == 200
    response = call(browser, "POST", "/api/v1/auth/tokens", {"name": "x"})
    assert response.status_code == 403
    assert ApiToken.unscoped.count() == 0


def test_credentials_in_a_header_need_no_csrf_token(owner):
    browser = Client(enforce_csrf_checks=True)
    response = call(browser, "POST", "/api/v1/auth/tokens", {"name": "x"}, **basic_auth(owner))
    assert response.status_code == 201


def test_password_reset_by_email_sets_a_new_password(
    client, owner, django_capture_on_commit_callbacks
):
    """The reset link's uid and token set a new password once; the old one stops working."""
    with django_capture_on_commit_callbacks(execute=True):
        response = call(client, "POST", "/api/v1/auth/password-reset", {"email": owner.email})
    assert response.status_code == 202
    uid, token = re.search(r"/mot-de-passe/nouveau/([^/]+)/([^/]+)/", mail.outbox[0].body).groups()
    new = "another long passphrase 77"
    body = {"uid": uid, "token": token, "password": new}
    assert call(client, "POST", "/api/v1/auth/password-reset/confirm", body).status_code == 200
    assert call(client, "GET", "/api/v1/me", **basic_auth(owner, new)).status_code == 200
    assert call(client, "GET", "/api/v1/me", **basic_auth(owner, PASSWORD)).status_code == 401
    again = call(client, "POST", "/api/v1/auth/password-reset/confirm", body)
    assert again.status_code == 422
    assert again.json()["code"] == "invalid_link"


def test_password_reset_for_an_unknown_address_answers_the_same(
    client, db, django_capture_on_commit_callbacks
):
    """Nobody learns whether an address has an account."""
    with django_capture_on_commit_callbacks(execute=True):
        response = call(
            client, "POST", "/api/v1/auth/password-reset", {"email": "nobody@example.com"}
        )
    assert response.status_code == 202
    assert response.json()["code"] == "reset_sent"
    assert mail.outbox == []


def test_a_weak_new_password_is_refused_and_the_old_one_kept(client, owner):
    response = call(
        client,
        "POST",
        "/api/v1/auth/password",
        {"current_password": PASSWORD, "password": "123"},
        **basic_auth(owner),
    )
    assert response.status_code == 422
    assert User.objects.get(pk=owner.pk).check_password(PASSWORD)


@override_settings(LOGIN_FAILURE_LIMIT=2)
def test_resetting_the_password_lifts_the_sign_in_lock(
    client, owner, django_capture_on_commit_callbacks
):
    """The lock message advises a reset: after one, the new password works at once."""
    for _ in range(2):
        call(client, "GET", "/api/v1/me", **basic_auth(owner, "guess"))
    assert call(client, "GET", "/api/v1/me", **basic_auth(owner)).status_code == 429
    with django_capture_on_commit_callbacks(execute=True):
        call(client, "POST", "/api/v1/auth/password-reset", {"email": owner.email})
    uid, token = re.search(r"/mot-de-passe/nouveau/([^/]+)/([^/]+)/", mail.outbox[0].body).groups()
    new = "another long passphrase 77"
    call(
        client,
        "POST",
        "/api/v1/auth/password-reset/confirm",
        {"uid": uid, "token": token, "password": new},
    )
    assert call(client, "GET", "/api/v1/me", **basic_auth(owner, new)).status_code == 200


def test_web_pages_work_without_a_cookie_given_the_password_each_time(owner):
    """A person who refuses cookies sends their password with each submission, pages included."""
    browser = Client(enforce_csrf_checks=True)
    page = browser.get("/tableau-de-bord/", **basic_auth(owner))
    assert page.status_code == 200
    assert owner.tenant.name in page.content.decode()
    assert "sessionid" not in page.cookies
    saved = browser.post(
        "/compte/", {"name": "Renamed Person", "title": "Chair"}, **basic_auth(owner)
    )
    assert saved.status_code == 302
    assert User.objects.get(pk=owner.pk).name == "Renamed Person"
