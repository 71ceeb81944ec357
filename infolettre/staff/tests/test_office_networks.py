"""The staff area answers only to the office networks; staff accounts work nowhere else."""

from ipaddress import ip_address

import pytest
from django.test import RequestFactory, override_settings
from django.urls import URLPattern, URLResolver, get_resolver

from conftest import basic_auth
from infolettre.accounts.models import ApiToken
from infolettre.privacy.models import AuditEntry
from infolettre.staff.networks import client_address, from_office
from infolettre.staff.testing import STAFF_PASSWORD, sign_in_staff

OUTSIDE = "203.0.113.9"
# The client's team pages share the /equipe/ prefix; they are client pages, not staff pages.
CLIENT_TEAM_ROUTES = {
    "accounts:team",
    "accounts:change_member_role",
    "accounts:remove_member",
    "accounts:cancel_invitation",
}


def _routes(resolver=None, prefix="", namespace=""):
    for entry in (resolver or get_resolver()).url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            ns = f"{entry.namespace}:" if entry.namespace else namespace
            yield from _routes(entry, route, ns)
        elif isinstance(entry, URLPattern):
            yield route, f"{namespace}{entry.name}", entry.callback


def _staff_routes():
    return [
        (r, n, cb)
        for r, n, cb in _routes()
        if r.startswith("equipe/") and n not in CLIENT_TEAM_ROUTES
    ]


def _url(route):
    for name in ("organisation_id", "staff_user_id", "request_id", "incident_id"):
        route = route.replace(f"<int:{name}>", "1")
    return "/" + route


def test_every_staff_route_goes_through_the_office_gate():
    """Each /equipe/ route but the client's team pages carries the gate; a new one fails here."""
    routes = _staff_routes()
    assert len(routes) >= 15
    assert [n for _, n, cb in routes if not getattr(cb, "staff_area", False)] == []


def test_outside_the_office_every_staff_url_is_404_even_signed_in(client, staff):
    """A verified administrator and privacy officer, seen from outside, reach nothing: 404."""
    for member in (staff["administrator"], staff["privacy_officer"]):
        sign_in_staff(client, member)
        for route, name, _ in _staff_routes():
            for method in ("get", "post"):
                response = getattr(client, method)(_url(route), REMOTE_ADDR=OUTSIDE)
                assert (name, method, response.status_code) == (name, method, 404)


def test_inside_the_office_the_same_session_is_let_in(client, staff):
    sign_in_staff(client, staff["administrator"])
    assert client.get("/equipe/tableau-de-bord/").status_code == 200
    assert client.get("/equipe/clients/").status_code == 200


@override_settings(OFFICE_NETWORKS="10.20.0.0/16")
def test_office_networks_come_from_the_setting(client, staff):
    sign_in_staff(client, staff["support"])
    assert client.get("/equipe/tableau-de-bord/").status_code == 404
    assert client.get("/equipe/tableau-de-bord/", REMOTE_ADDR="10.20.3.4").status_code == 200


def test_client_users_get_404_on_staff_pages(client, owner):
    client.force_login(owner)
    for route, name, _ in _staff_routes():
        if name == "staff:second_factor":
            continue
        assert (name, client.get(_url(route)).status_code) == (name, 404)
    assert client.get("/equipe/verification/").status_code == 404


def test_a_staff_account_is_refused_sign_in_outside_the_office(client, staff):
    """The right password from outside gets the same message as a wrong one; no session."""
    support = staff["support"]
    response = client.post(
        "/connexion/", {"email": support.email, "password": STAFF_PASSWORD}, REMOTE_ADDR=OUTSIDE
    )
    wrong = client.post(
        "/connexion/", {"email": support.email, "password": "wrong"}, REMOTE_ADDR=OUTSIDE
    )
    assert response.status_code == wrong.status_code == 400
    assert response.context["error"] == wrong.context["error"]
    assert "_auth_user_id" not in client.session


def test_a_staff_account_signs_in_with_its_password_inside_then_meets_the_second_factor(
    client, staff
):
    support = staff["support"]
    response = client.post(
        "/connexion/",
        {"email": support.email, "password": STAFF_PASSWORD, "next": "/equipe/clients/"},
    )
    assert response.status_code == 302
    response = client.get("/equipe/clients/")
    assert (response.status_code, response.url) == (
        302,
        "/equipe/verification/?next=%2Fequipe%2Fclients%2F",
    )


def test_staff_cannot_use_http_basic(client, staff):
    """Even from the office, staff credentials sent with a request are refused (401)."""
    for member in staff.values():
        response = client.get("/api/v1/lists", **basic_auth(member, STAFF_PASSWORD))
        assert response.status_code == 401
        response = client.get("/equipe/tableau-de-bord/", **basic_auth(member, STAFF_PASSWORD))
        assert response.status_code == 401


def test_staff_sessions_have_no_api(client, staff):
    """Staff have no API routes: a verified staff session is anonymous to the API."""
    sign_in_staff(client, staff["administrator"])
    assert client.get("/api/v1/lists").status_code == 401
    assert ApiToken.unscoped.count() == 0


def test_nothing_is_audited_for_refused_requests(client, staff):
    sign_in_staff(client, staff["administrator"])
    client.get("/equipe/clients/1/", REMOTE_ADDR=OUTSIDE)
    assert AuditEntry.objects.count() == 0


def _request(remote, forwarded=None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


@pytest.mark.parametrize(
    ("remote", "forwarded", "expected"),
    [
        # No trusted proxy: the header is anyone's to write, and ignored.
        ("203.0.113.9", "127.0.0.1", "203.0.113.9"),
        # From the trusted proxy: the right-most entry that is not one of our proxies.
        ("10.0.0.2", "127.0.0.1, 198.51.100.7", "198.51.100.7"),
        ("10.0.0.2", "198.51.100.7, 10.0.0.3", "198.51.100.7"),
        ("10.0.0.2", "127.0.0.1", "127.0.0.1"),
        # A forged left-most entry does not win over what our proxy saw.
        ("10.0.0.2", "127.0.0.1, 203.0.113.9", "203.0.113.9"),
        # Garbage in the chain: no address at all.
        ("10.0.0.2", "not-an-ip, 10.0.0.3", None),
        # Only proxies: the request began at the left-most.
        ("10.0.0.2", "10.0.0.5", "10.0.0.5"),
        ("10.0.0.2", None, "10.0.0.2"),
    ],
)
@override_settings(TRUSTED_PROXIES="10.0.0.0/24")
def test_client_address_reads_x_forwarded_for_only_from_a_trusted_proxy(
    remote, forwarded, expected
):
    found = client_address(_request(remote, forwarded))
    assert found == (ip_address(expected) if expected else None)


@override_settings(TRUSTED_PROXIES="10.0.0.0/24")
def test_a_trusted_proxy_forwarding_an_office_client_opens_the_staff_area(client, staff):
    sign_in_staff(client, staff["support"])
    through_proxy = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "127.0.0.1"}
    assert client.get("/equipe/tableau-de-bord/", **through_proxy).status_code == 200
    forged = {"REMOTE_ADDR": OUTSIDE, "HTTP_X_FORWARDED_FOR": "127.0.0.1"}
    assert client.get("/equipe/tableau-de-bord/", **forged).status_code == 404
    spoofed_chain = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": f"127.0.0.1, {OUTSIDE}"}
    assert client.get("/equipe/tableau-de-bord/", **spoofed_chain).status_code == 404


def test_without_trusted_proxies_x_forwarded_for_is_ignored():
    assert from_office(_request(OUTSIDE, "127.0.0.1")) is False
    assert from_office(_request("127.0.0.1", OUTSIDE)) is True
    assert from_office(_request("::ffff:127.0.0.1")) is True
