"""Who may open what: every web page and API operation, for every kind of caller, as declared.

ACCESS is the one table: route name pattern → the callers who get in. Every other caller must be
refused (401, 403, 404, or sent to sign in / to the second factor). Routes with object ids are
tried with objects of tenant A (OBJECT_FACTORIES of the tenant isolation walk), made afresh for
each request so that one caller's delete does not hide the next caller's answer.
"""

import fnmatch
import json
import re
from contextlib import contextmanager

import pytest
from django.conf import settings
from django.contrib import messages
from django.core.files.base import ContentFile
from django.db import transaction
from django.test import Client
from django.urls import URLResolver, get_resolver
from django.utils import translation

from conftest import basic_auth
from infolettre.accounts.tenancy import tenant_scope
from infolettre.accounts.tests.test_tenant_isolation import (
    OBJECT_FACTORIES,
    VALID_BODIES,
    _snapshot,
)
from infolettre.api import api
from infolettre.audience.actions import do_create_list
from infolettre.audience.models import ContactImport, MailingList
from infolettre.errors import Forbidden
from infolettre.privacy.queries import current_policy
from infolettre.staff.testing import make_staff, sign_in_staff

STAFF = ("support", "billing", "privacy_officer", "administrator")
CALLERS = ("anonymous", "member", "owner", "other_owner", *(f"staff_{role}" for role in STAFF))

EVERYONE = frozenset(CALLERS)
CLIENTS = frozenset({"member", "owner", "other_owner"})  # pages without ids: each their own data
TENANT_A = frozenset({"member", "owner"})  # pages of tenant A's objects
OWNER_A = frozenset({"owner"})
NOBODY = frozenset()


def staff(*roles):
    return frozenset(f"staff_{role}" for role in roles)


# The one table. First matching pattern wins; "web:" names are URL names, "api:" names are
# "api:<METHOD> <path>". A new route matches nothing and fails the test until declared here.
ACCESS = [
    # Public pages and forms, and the pages of signed links (a tampered token still reaches the
    # page, which refuses it: test_attacks.py).
    ("web:set_language", EVERYONE),
    ("web:privacy:policy*", EVERYONE),
    ("web:privacy:declaration", EVERYONE),
    ("web:privacy:policy_refusal", EVERYONE),
    ("web:privacy:access_request", EVERYONE),
    ("web:privacy:request_*", EVERYONE),
    ("web:accounts:home", EVERYONE),
    ("web:accounts:register*", EVERYONE),
    ("web:accounts:confirm_email", EVERYONE),
    ("web:accounts:login", EVERYONE),
    ("web:accounts:logout", EVERYONE),
    ("web:accounts:password_reset*", EVERYONE),
    ("web:accounts:accept_invitation", EVERYONE),
    ("web:audience:public_signup", EVERYONE),
    ("web:audience:confirm_subscription", EVERYONE),
    ("web:campaigns:sender_confirm", EVERYONE),
    ("web:campaigns:unsubscribe", EVERYONE),
    ("web:campaigns:preferences", EVERYONE),
    ("web:campaigns:track_*", EVERYONE),
    ("web:engagement:*", EVERYONE),
    ("web:analytics:stop_daily_report", EVERYONE),
    # A client's own pages.
    ("web:accounts:revoke_api_token", OWNER_A),  # one's own tokens only
    ("web:accounts:change_member_role", OWNER_A),
    ("web:accounts:remove_member", OWNER_A),
    ("web:accounts:cancel_invitation", OWNER_A),
    ("web:accounts:*", CLIENTS),
    ("web:privacy:tenant_requests", CLIENTS),
    ("web:privacy:tenant_answer", TENANT_A),
    ("web:audience:lists", CLIENTS),
    ("web:audience:contacts", CLIENTS),
    ("web:audience:suppressions", CLIENTS),
    ("web:audience:segments", CLIENTS),
    ("web:audience:segment_count", CLIENTS),
    ("web:audience:*", TENANT_A),
    ("web:campaigns:campaigns", CLIENTS),
    ("web:campaigns:campaign_create", CLIENTS),
    ("web:campaigns:tracking", CLIENTS),
    ("web:campaigns:senders", CLIENTS),
    ("web:campaigns:templates", CLIENTS),
    ("web:campaigns:*", TENANT_A),
    ("web:webhooks:webhooks", CLIENTS),
    ("web:webhooks:*", OWNER_A),
    ("web:analytics:daily_report_settings", CLIENTS),
    ("web:staff:support_access", frozenset({"owner", "other_owner"})),
    ("web:staff:revoke_support_access", OWNER_A),
    # The operator's staff area: need to know, by role.
    ("web:privacy:desk*", staff("privacy_officer")),
    ("web:privacy:incident*", staff("privacy_officer")),
    ("web:staff:second_factor", staff(*STAFF)),
    ("web:staff:dashboard", staff(*STAFF)),
    ("web:staff:account*", staff(*STAFF)),  # one's own second factor and recovery codes
    ("web:staff:clients", staff("support", "billing", "administrator")),
    ("web:staff:client_detail", staff("support", "billing", "administrator")),
    # A client's lists only under the client's access grant, a value only with a reason and a
    # field: none of that here (staff/tests/test_access_grants.py, test_need_to_know.py).
    ("web:staff:client_lists", NOBODY),
    ("web:staff:reveal", NOBODY),
    ("web:staff:personnel", staff("administrator")),
    ("web:staff:change_staff_role", staff("administrator")),
    ("web:staff:reset_second_factor", staff("administrator")),  # another member's, never one's own
    # The API: public operations; staff have no API at all.
    ("api:POST /api/v1/auth/register", EVERYONE),
    ("api:POST /api/v1/auth/confirm", EVERYONE),
    ("api:POST /api/v1/auth/password-reset*", EVERYONE),
    ("api:POST /api/v1/invitations/accept", EVERYONE),
    ("api:GET /api/v1/privacy/policy", EVERYONE),
    ("api:GET /api/v1/privacy/purposes", EVERYONE),
    ("api:GET /api/v1/privacy/declaration", EVERYONE),
    ("api:POST /api/v1/privacy/requests", EVERYONE),
    ("api:GET /api/v1/privacy/requests/{request_id}", NOBODY),  # only with its signed token
    # Owners only.
    ("api:* /api/v1/auth/tokens/{token_id}", OWNER_A),  # one's own tokens only
    ("api:PATCH /api/v1/organisation", frozenset({"owner", "other_owner"})),
    ("api:POST /api/v1/invitations", frozenset({"owner", "other_owner"})),
    ("api:PUT /api/v1/tracking", frozenset({"owner", "other_owner"})),
    ("api:POST /api/v1/webhooks", frozenset({"owner", "other_owner"})),
    ("api:PATCH /api/v1/members/{member_id}", OWNER_A),
    ("api:DELETE /api/v1/members/{member_id}", OWNER_A),
    ("api:DELETE /api/v1/invitations/{invitation_id}", OWNER_A),
    ("api:GET /api/v1/webhooks/{webhook_id}", TENANT_A),
    ("api:GET /api/v1/webhooks/{webhook_id}/deliveries", TENANT_A),
    ("api:* /api/v1/webhooks/{webhook_id}*", OWNER_A),
    # Every other operation: tenant A's users on tenant A's objects, each client on their own.
    ("api:* /api/v1/*{*}*", TENANT_A),
    ("api:*", CLIENTS),
]


def _web_routes(resolver=None, prefix="", namespace=""):
    for entry in (resolver or get_resolver()).url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            if route.startswith("api/"):
                continue
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _web_routes(entry, route, inner)
        else:
            yield f"web:{namespace}{entry.name}", route, entry.pattern.converters


def _api_operations():
    for path, operations in api.get_openapi_schema()["paths"].items():
        for method in operations:
            yield f"api:{method.upper()} {path}", path, method


def declared(name):
    for pattern, callers in ACCESS:
        if fnmatch.fnmatchcase(name, pattern):
            return callers
    return None


@pytest.fixture
def people(make_client_user, make_member):
    owner_a, owner_b = make_client_user(), make_client_user()
    people = {"owner": owner_a, "member": make_member(owner_a.tenant), "other_owner": owner_b}
    for role in STAFF:
        people[f"staff_{role}"] = make_staff(role)
    return people


def _client_for(caller, people, web):
    client = Client()
    headers = {}
    if caller.startswith("staff_"):
        sign_in_staff(client, people[caller])
    elif caller != "anonymous":
        if web:
            client.force_login(people[caller])
        else:
            headers = basic_auth(people[caller])
    return client, headers


def _import_with_report(owner_a, make_member):
    """Tenant A's import, with the report of the rows it set aside (its download needs one)."""
    pk = OBJECT_FACTORIES["import_id"](owner_a, make_member)
    contact_import = ContactImport.unscoped.get(pk=pk)
    contact_import.report.save("report.csv", ContentFile(b"line,reason\n"), save=True)
    return pk


def _public_key(owner_a):
    with tenant_scope(owner_a.tenant):
        mailing_list = do_create_list(owner_a.tenant, name="A's public list")
    MailingList.unscoped.filter(pk=mailing_list.pk).update(public_signup=True)
    return mailing_list.public_key


FACTORIES = {**OBJECT_FACTORIES, "import_id": _import_with_report}
# Path parameters that are not object ids but must be real for the page to exist.
VALUES = {
    "version": lambda owner_a: current_policy().version,
    "public_key": _public_key,
}


def _ids(names, people, make_member):
    ids = {
        name: FACTORIES[name](people["owner"], make_member) for name in names if name in FACTORIES
    }
    ids |= {name: VALUES[name](people["owner"]) for name in names if name in VALUES}
    return ids


def _forbidden_messages():
    """The words of every Forbidden error, as a page shows them when it refuses an action."""
    found, classes = set(), [Forbidden]
    while classes:
        cls = classes.pop()
        for language, _ in settings.LANGUAGES:
            with translation.override(language):
                found.add(str(cls.message))
        classes.extend(cls.__subclasses__())
    return found


def _refused(response):
    """401, 403, 404, sent to sign in or to the second factor, or sent back with the message of a
    Forbidden error (the pages' way of refusing an action, e.g. a member changing a role)."""
    if response.status_code in (401, 403, 404):
        return True
    if response.status_code not in (301, 302):
        return False
    if response["Location"].startswith(("/connexion/", "/equipe/verification/")):
        return True
    request = getattr(response, "wsgi_request", None)
    shown = {str(m.message) for m in messages.get_messages(request)} if request else set()
    return bool(shown & _forbidden_messages())


def _web_answer(caller, name, route, converters, people, make_member):
    with _rolled_back():
        return _web_request(caller, name, route, converters, people, make_member)


def _api_answer(caller, path, method, people, make_member):
    with _rolled_back():
        return _api_request(caller, path, method, people, make_member)


# Bodies that let an allowed caller through, so that a refusal is about who calls, not what.
WEB_BODIES = {"accounts:change_member_role": {"role": "member"}}
API_BODIES = {
    **VALID_BODIES,
    ("/api/v1/invitations", "post"): {"email": "invitee@example.com", "role": "member"},
    ("/api/v1/tracking", "put"): {"count_opens_and_clicks": True},
    ("/api/v1/webhooks", "post"): {
        "url": "https://hooks.example.com/x",
        "events": ["campaign_finished"],
    },
}


@contextmanager
def _rolled_back():
    """Run one request with objects of its own; undo everything it and its objects did."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def _web_request(caller, name, route, converters, people, make_member):
    ids = _ids(list(converters), people, make_member)
    url = "/" + route
    for param, converter in converters.items():
        numeric = type(converter).__name__ == "IntConverter"
        value = str(ids.get(param, 999999 if numeric else "tampered"))
        url = re.sub(rf"<(?:\w+:)?{param}>", value, url)
    client, _ = _client_for(caller, people, web=True)
    response = client.get(url)
    if response.status_code != 405:
        return url, response, False
    before = _snapshot()
    response = client.post(url, WEB_BODIES.get(name.removeprefix("web:"), {}))
    return url, response, _snapshot() != before


def _api_request(caller, path, method, people, make_member):
    names = re.findall(r"{(\w+)}", path)
    ids = _ids(names, people, make_member)
    url = path
    for name in names:
        url = url.replace("{" + name + "}", str(ids.get(name, 999999)))
    client, headers = _client_for(caller, people, web=False)
    body = json.dumps(API_BODIES.get((path, method), {}))
    before = _snapshot() if method != "get" else None
    response = client.generic(method.upper(), url, body, content_type="application/json", **headers)
    return url, response, before is not None and _snapshot() != before


def test_every_route_is_declared():
    """A new page or API operation fails here until ACCESS says who may use it."""
    names = [name for name, _, _ in _web_routes()] + [name for name, _, _ in _api_operations()]
    undeclared = [name for name in names if declared(name) is None]
    assert undeclared == [], (
        "Declare who may use these routes in ACCESS of infolettre/tests/test_authorisation_matrix.py"
    )


def test_every_caller_gets_exactly_what_the_table_declares(people, make_member, settings):
    """Slow (about two minutes: every route × every caller, each in its own rolled-back savepoint).

    Each caller is let in where ACCESS says and refused everywhere else, and a refused call
    changes nothing."""
    settings.PUBLIC_FORM_LIMIT = settings.INVALID_LINK_LIMIT = 10**6
    wrong, checked = [], 0
    for name, route, converters in _web_routes():
        for caller in CALLERS:
            url, response, changed = _web_answer(
                caller, name, route, converters, people, make_member
            )
            wrong += _compare(name, caller, url, response, changed)
            checked += 1
    for name, path, method in _api_operations():
        for caller in CALLERS:
            url, response, changed = _api_answer(caller, path, method, people, make_member)
            wrong += _compare(name, caller, url, response, changed)
            checked += 1
    assert wrong == [], wrong
    assert checked > 1000


def _compare(name, caller, url, response, changed):
    allowed = caller in (declared(name) or ())
    refused = _refused(response)
    if allowed == refused or (refused and changed):
        return [(name, caller, url, response.status_code, "changed" if changed else "")]
    return []
