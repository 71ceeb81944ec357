"""A user of one organisation never reaches another organisation's objects, by any route."""

import json

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from conftest import basic_auth
from infolettre.accounts.actions import do_invite_member, do_issue_api_token
from infolettre.accounts.models import ApiToken, Invitation, User
from infolettre.accounts.tenancy import TenantNotActive, tenant_scope
from infolettre.api import api

# Each path parameter that names an object, and how to make one that belongs to tenant A.
OBJECT_FACTORIES = {
    "member_id": lambda owner_a, make_member: make_member(owner_a.tenant).pk,
    "invitation_id": lambda owner_a, make_member: _invite(owner_a).pk,
    "token_id": lambda owner_a, make_member: do_issue_api_token(owner_a, "A's token")[0].pk,
}
# Bodies that are valid for a route, so that only the lookup can refuse the request.
VALID_BODIES = {("/api/v1/members/{member_id}", "patch"): {"role": "owner"}}


def _invite(owner_a):
    with tenant_scope(owner_a.tenant):
        return do_invite_member(owner_a, "invitee@example.com", "member")


def _snapshot():
    return (
        list(User.objects.order_by("pk").values()),
        list(Invitation.unscoped.order_by("pk").values()),
        list(ApiToken.unscoped.order_by("pk").values()),
    )


def _web_routes(resolver=None, prefix=""):
    for entry in (resolver or get_resolver()).url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            if route.startswith("api/"):
                continue
            yield from _web_routes(entry, route)
        elif isinstance(entry, URLPattern) and entry.pattern.converters:
            yield route, list(entry.pattern.converters)


def _api_routes():
    for path, operations in api.get_openapi_schema()["paths"].items():
        params = [
            p["name"]
            for op in operations.values()
            for p in op.get("parameters", [])
            if p["in"] == "path"
        ]
        if params:
            yield path, sorted(set(params)), list(operations)


def _object_params(params):
    return [p for p in params if p.endswith("_id")]


def test_every_route_with_an_object_id_has_a_factory():
    """Adding a route with an object id fails here until the isolation walk covers it."""
    params = {p for _, ps in _web_routes() for p in _object_params(ps)}
    params |= {p for _, ps, _ in _api_routes() for p in _object_params(ps)}
    assert params - set(OBJECT_FACTORIES) == set()
    assert params == set(OBJECT_FACTORIES)


@pytest.fixture
def two_tenants(make_client_user, make_member):
    owner_a, owner_b = make_client_user(), make_client_user()
    ids = {name: factory(owner_a, make_member) for name, factory in OBJECT_FACTORIES.items()}
    return owner_b, ids


def test_api_routes_answer_404_on_another_tenants_objects(client, two_tenants):
    """Tenant B's owner gets 404 from every API route and method given tenant A's object ids."""
    owner_b, ids = two_tenants
    before = _snapshot()
    checked = 0
    for path, params, methods in _api_routes():
        url = path
        for name in _object_params(params):
            url = url.replace("{" + name + "}", str(ids[name]))
        for method in methods:
            response = client.generic(
                method.upper(),
                url,
                json.dumps(VALID_BODIES.get((path, method), {})),
                content_type="application/json",
                **basic_auth(owner_b),
            )
            assert (path, method, response.status_code) == (path, method, 404)
            assert response.json()["code"] == "not_found"
            checked += 1
    assert checked >= 6
    assert _snapshot() == before


def test_web_routes_answer_404_on_another_tenants_objects(client, two_tenants):
    """Tenant B's owner, signed in, gets 404 from every page that takes tenant A's object ids."""
    owner_b, ids = two_tenants
    client.force_login(owner_b)
    before = _snapshot()
    routes = list(_web_routes())
    checked = 0
    for route, params in routes:
        if not _object_params(params):
            continue
        url = "/" + route.replace("^", "").replace("$", "")
        for name in params:
            url = url.replace(f"<int:{name}>", str(ids[name])).replace(f"<{name}>", str(ids[name]))
        response = client.post(url, {"role": "owner"})
        assert (url, response.status_code) == (url, 404)
        assert client.get(url).status_code in (404, 405)
        checked += 1
    assert checked >= 4
    assert _snapshot() == before


def test_tenant_owned_rows_are_unreadable_without_an_active_tenant(owner):
    """Reading tenant-owned rows outside a tenant's scope is refused, not silently unscoped."""
    do_issue_api_token(owner, "cli")
    with pytest.raises(TenantNotActive):
        list(ApiToken.objects.all())
    with tenant_scope(owner.tenant):
        assert [t.name for t in ApiToken.objects.all()] == ["cli"]


def test_scoped_manager_shows_only_the_active_tenants_rows(make_client_user):
    """Within tenant B's scope, tenant A's tokens do not exist."""
    owner_a, owner_b = make_client_user(), make_client_user()
    do_issue_api_token(owner_a, "a")
    do_issue_api_token(owner_b, "b")
    with tenant_scope(owner_b.tenant):
        assert [t.name for t in ApiToken.objects.all()] == ["b"]
        assert [u.email for u in User.members.all()] == [owner_b.email]
