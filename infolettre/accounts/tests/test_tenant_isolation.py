"""A user of one organisation never reaches another organisation's objects, by any route."""

import json

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from conftest import basic_auth
from infolettre.accounts.actions import do_invite_member, do_issue_api_token
from infolettre.accounts.models import ApiToken, Invitation, User
from infolettre.accounts.tenancy import TenantNotActive, tenant_scope
from infolettre.analytics.models import DailyReport, DailyReportSend
from infolettre.api import api
from infolettre.audience.actions import do_create_contact, do_create_list, do_subscribe, do_suppress
from infolettre.audience.models import (
    Contact,
    ContactImport,
    MailingList,
    Segment,
    Subscription,
    Suppression,
)
from infolettre.campaigns.models import (
    Campaign,
    CampaignLink,
    ClickCount,
    DeliveryEngagement,
    OpenCount,
    SenderAddress,
    TrackingSettings,
)
from infolettre.campaigns.template_actions import do_create_template
from infolettre.privacy.models import ConfidentialityIncident, PrivacyRequest
from infolettre.privacy.requests import do_prove_request, do_receive_request
from infolettre.staff.actions import do_grant_access
from infolettre.staff.models import AccessGrant
from infolettre.webhooks.actions import do_create_endpoint
from infolettre.webhooks.models import WebhookDelivery, WebhookEndpoint


def _in_tenant(make):
    """Run a factory as tenant A, as a request of tenant A's owner would."""

    def factory(owner_a, make_member):
        with tenant_scope(owner_a.tenant):
            return make(owner_a, make_member).pk

    return factory


def _subscription(owner_a):
    contact = do_create_contact(owner_a.tenant, email="subscribed@example.com")
    mailing_list = do_create_list(owner_a.tenant, name="A's subscribed list")
    return do_subscribe(contact, mailing_list, source="test")


def _import(owner_a):
    mailing_list = do_create_list(owner_a.tenant, name="A's imported list")
    return ContactImport.objects.create(
        tenant=owner_a.tenant,
        mailing_list=mailing_list,
        filename="a.csv",
        consent_basis="express",
        consent_at=timezone.now(),
    )


def _sender(owner_a):
    return SenderAddress.objects.get_or_create(
        tenant=owner_a.tenant,
        email="a-sender@example.com",
        defaults={"name": "A", "verified_at": timezone.now()},
    )[0]


def _campaign(owner_a):
    campaign = Campaign.objects.create(
        tenant=owner_a.tenant,
        name="A's campaign",
        subject="Hi",
        sender=_sender(owner_a),
        html="<p>Hi</p>",
    )
    campaign.lists.add(do_create_list(owner_a.tenant, name="A's campaign list"))
    return campaign


def _privacy_request(owner_a):
    """A proven question from a contact of tenant A's lists: shown to tenant A only."""
    do_create_contact(owner_a.tenant, email="a-asks@example.com")
    asked = do_receive_request(kind="question", email="a-asks@example.com", message="Why?")
    return do_prove_request(asked)


def _incident(owner_a, _):
    return ConfidentialityIncident.objects.create(
        title="Lost laptop",
        data_involved="names",
        circumstances="left in a taxi",
        occurred_on=timezone.localdate(),
        discovered_on=timezone.localdate(),
        people_affected=0,
        serious_injury_risk=False,
        risk_assessment="encrypted disk",
    ).pk


# Each path parameter that names an object, and how to make one that belongs to tenant A.
OBJECT_FACTORIES = {
    "member_id": lambda owner_a, make_member: make_member(owner_a.tenant).pk,
    "invitation_id": _in_tenant(
        lambda owner_a, _: do_invite_member(owner_a, "invitee@example.com", "member")
    ),
    "token_id": lambda owner_a, make_member: do_issue_api_token(owner_a, "A's token")[0].pk,
    "list_id": _in_tenant(lambda owner_a, _: do_create_list(owner_a.tenant, name="A's list")),
    "contact_id": _in_tenant(
        lambda owner_a, _: do_create_contact(owner_a.tenant, email="a-contact@example.com")
    ),
    "subscription_id": _in_tenant(lambda owner_a, _: _subscription(owner_a)),
    "suppression_id": _in_tenant(
        lambda owner_a, _: do_suppress(owner_a.tenant, "a-gone@example.com")
    ),
    "import_id": _in_tenant(lambda owner_a, _: _import(owner_a)),
    "campaign_id": _in_tenant(lambda owner_a, _: _campaign(owner_a)),
    "sender_id": _in_tenant(lambda owner_a, _: _sender(owner_a)),
    "template_id": _in_tenant(
        lambda owner_a, _: do_create_template(owner_a.tenant, name="A's template")
    ),
    "segment_id": _in_tenant(
        lambda owner_a, _: Segment.objects.create(
            tenant=owner_a.tenant, name="A's segment", definition={}
        )
    ),
    "request_id": _in_tenant(lambda owner_a, _: _privacy_request(owner_a)),
    "incident_id": _incident,
    # Staff pages: a client user gets 404 whatever the id, their own organisation's included.
    "organisation_id": lambda owner_a, _: owner_a.tenant_id,
    "staff_user_id": lambda owner_a, _: (
        User.objects.create_user(
            "staff-a@infolettre.example", None, name="Staff", is_staff=True, staff_role="support"
        ).pk
    ),
    "grant_id": _in_tenant(
        lambda owner_a, _: do_grant_access(owner_a, role="support", days=1, case_reference="A-1")
    ),
    "webhook_id": _in_tenant(
        lambda owner_a, _: do_create_endpoint(
            owner_a.tenant, url="https://a.example.com/hook", events=["campaign_finished"]
        )
    ),
}
# Bodies that are valid for a route, so that only the lookup can refuse the request.
VALID_BODIES = {
    ("/api/v1/members/{member_id}", "patch"): {"role": "owner"},
    ("/api/v1/lists/{list_id}", "patch"): {"name": "Renamed"},
    ("/api/v1/lists/{list_id}/subscriptions", "post"): {
        "email": "b@example.com",
        "consent_source": "test",
    },
    ("/api/v1/contacts/{contact_id}", "patch"): {"name": "Renamed"},
    ("/api/v1/subscriptions/{subscription_id}", "patch"): {"status": "unsubscribed"},
    ("/api/v1/campaigns/{campaign_id}", "patch"): {"name": "Renamed"},
    ("/api/v1/campaigns/{campaign_id}/test", "post"): {"addresses": ["b@example.com"]},
    ("/api/v1/templates/{template_id}/test", "post"): {
        "addresses": ["b@example.com"],
        "subject": "Hi",
    },
    ("/api/v1/webhooks/{webhook_id}", "patch"): {"active": False},
}


def _snapshot():
    models = (
        User,
        Invitation,
        ApiToken,
        MailingList,
        Contact,
        Subscription,
        Suppression,
        ContactImport,
        Segment,
        WebhookEndpoint,
        WebhookDelivery,
        PrivacyRequest,
        ConfidentialityIncident,
        DailyReport,
        DailyReportSend,
        TrackingSettings,
        CampaignLink,
        OpenCount,
        ClickCount,
        DeliveryEngagement,
        AccessGrant,
    )
    return [list(getattr(m, "unscoped", m.objects).order_by("pk").values()) for m in models]


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
