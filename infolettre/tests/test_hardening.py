"""Hardening: production refuses weak secrets, speaks only HTTPS, and every answer carries the
security headers (a strict Content-Security-Policy included, in every environment)."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import URLResolver, get_resolver, reverse

from conftest import PASSWORD, registration_data
from infolettre.accounts.models import Organisation, User
from infolettre.accounts.rate_limits import LIMITED_ROUTES, PUBLIC_FORM, TOKEN_PAGE
from infolettre.accounts.tests.test_tenant_isolation import OBJECT_FACTORIES, _snapshot
from infolettre.audience.models import Suppression
from infolettre.campaigns.tests.test_unsubscribe import make_delivery, statuses
from infolettre.campaigns.tests.test_unsubscribe import snapshot as unsubscribe_snapshot
from infolettre.campaigns.unsubscribe import make_token

ONE_CLICK = "List-Unsubscribe=One-Click"

ROOT = Path(settings.BASE_DIR)
GOOD_SECRET = "a-production-secret-of-enough-length-0123456789-abcdefghij"
FERNET_KEY = "DkVORQ5XhP7_WxDGmOvkN9SXZ_GfrMn6Nm3BP3nchIg="  # a key made for this test only
EXPECTED_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: https:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
# Asks production settings for three requests and prints what came back.
PROBE = """
import json
import django
django.setup()
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
client, url, out = Client(), "/api/v1/openapi.json", {}
response = client.get(url)
out["http"] = [response.status_code, response.get("Location")]
response = client.get(url, secure=True)
out["https"] = [response.status_code, dict(response.headers)]
response = client.get(url, HTTP_X_FORWARDED_PROTO="https")
out["forwarded"] = [response.status_code, response.get("Location")]
print(json.dumps(out))
"""


def _production(code_or_args, **environment):
    """Run Python under the production settings with only the given environment (plus paths)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "infolettre.settings.prod",
        "DATABASE_URL": "sqlite:///:memory:",
        "ALLOWED_HOSTS": "testserver",
        **environment,
    }
    env = {name: value for name, value in env.items() if value is not None}
    args = code_or_args if isinstance(code_or_args, list) else ["-c", code_or_args]
    return subprocess.run(
        [sys.executable, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )


START = "import django; django.setup(); print('started')"


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({"FIELD_ENCRYPTION_KEYS": FERNET_KEY}, "Set SECRET_KEY in the environment"),
        (
            {
                "SECRET_KEY": "insecure-development-key-change-me",
                "FIELD_ENCRYPTION_KEYS": FERNET_KEY,
            },
            "Set SECRET_KEY in the environment",
        ),
        ({"SECRET_KEY": "short", "FIELD_ENCRYPTION_KEYS": FERNET_KEY}, "Set SECRET_KEY"),
        ({"SECRET_KEY": GOOD_SECRET}, "Set FIELD_ENCRYPTION_KEYS in the environment"),
        ({"SECRET_KEY": GOOD_SECRET, "FIELD_ENCRYPTION_KEYS": " , "}, "FIELD_ENCRYPTION_KEYS"),
        (
            {
                "SECRET_KEY": GOOD_SECRET,
                "FIELD_ENCRYPTION_KEYS": FERNET_KEY,
                "BEHIND_TLS_PROXY": "true",
            },
            "BEHIND_TLS_PROXY needs TRUSTED_PROXIES",
        ),
    ],
)
def test_production_refuses_to_start_on_a_missing_or_default_secret(environment, message):
    """A missing, short or default SECRET_KEY, no FIELD_ENCRYPTION_KEYS, or a proxy header without
    named proxies stop the start with ImproperlyConfigured naming the variable."""
    result = _production(START, **environment)
    assert result.returncode == 1
    assert "started" not in result.stdout
    assert "django.core.exceptions.ImproperlyConfigured: " in result.stderr
    assert message in result.stderr


def test_production_starts_with_its_secrets_and_passes_the_deployment_checks():
    """With both secrets set, production starts and Django's deployment checks find nothing."""
    result = _production(
        ["manage.py", "check", "--deploy", "--tag", "security", "--fail-level", "WARNING"],
        SECRET_KEY=GOOD_SECRET,
        FIELD_ENCRYPTION_KEYS=FERNET_KEY,
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.strip() == "System check identified no issues (1 silenced)."


def _probe(**environment):
    result = _production(
        PROBE, SECRET_KEY=GOOD_SECRET, FIELD_ENCRYPTION_KEYS=FERNET_KEY, **environment
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_redirects_to_https_and_sends_every_security_header():
    """Plain HTTP is redirected; an HTTPS answer carries HSTS for a year with subdomains (no
    preload), the CSP, frame denial, nosniff, the referrer policy and the opener policy; a
    forged X-Forwarded-Proto is not believed without TRUSTED_PROXIES."""
    out = _probe()
    assert out["http"] == [301, "https://testserver/api/v1/openapi.json"]
    assert out["forwarded"] == [301, "https://testserver/api/v1/openapi.json"]
    status, headers = out["https"]
    assert status == 200
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert headers["Content-Security-Policy"] == EXPECTED_CSP
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"


def test_production_behind_a_named_proxy_believes_its_https_header():
    """With TRUSTED_PROXIES, X-Forwarded-Proto: https counts as HTTPS; the redirect can be turned
    off for a proxy that redirects itself, and preloading turned on."""
    out = _probe(TRUSTED_PROXIES="10.0.0.0/8", SECURE_HSTS_PRELOAD="true")
    assert out["forwarded"] == [200, None]
    assert out["http"] == [301, "https://testserver/api/v1/openapi.json"]
    assert out["https"][1]["Strict-Transport-Security"] == (
        "max-age=31536000; includeSubDomains; preload"
    )
    out = _probe(SECURE_SSL_REDIRECT="false")
    assert out["http"] == [200, None]


def test_production_cookies_are_secure_httponly_and_same_site():
    """Under production settings the session, CSRF and language cookies are Secure, HttpOnly and
    SameSite=Lax."""
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print([s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.LANGUAGE_COOKIE_SECURE, "
        "s.SESSION_COOKIE_HTTPONLY, s.CSRF_COOKIE_HTTPONLY, s.LANGUAGE_COOKIE_HTTPONLY, "
        "s.SESSION_COOKIE_SAMESITE, s.CSRF_COOKIE_SAMESITE, s.LANGUAGE_COOKIE_SAMESITE, s.DEBUG])"
    )
    result = _production(
        code, SECRET_KEY=GOOD_SECRET, FIELD_ENCRYPTION_KEYS=FERNET_KEY, DEBUG="true"
    )
    assert result.stdout.strip() == (
        "[True, True, True, True, True, True, 'Lax', 'Lax', 'Lax', False]"
    )


def test_every_page_carries_the_content_security_policy(client, owner):
    """The policy applies in every environment: pages, public token pages and the API."""
    client.force_login(owner)
    for url in ("/connexion/", "/campagnes/", "/u/garbage/", "/api/v1/lists", "/api/v1/docs"):
        response = client.get(url)
        assert response["Content-Security-Policy"] == EXPECTED_CSP, url
        assert response["X-Frame-Options"] == "DENY"


def test_the_api_docs_load_no_script_from_elsewhere_and_run_none_inline(client):
    """The API docs page's scripts and styles are our own static files."""
    body = client.get("/api/v1/docs").content.decode()
    assert "cdn.jsdelivr.net" not in body
    assert re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", body) == []


def test_sign_in_sets_httponly_same_site_session_and_csrf_cookies(client, owner):
    """Signing in sets a session cookie and the CSRF cookie that scripts cannot read."""
    client.get("/connexion/")
    csrf = client.cookies["csrftoken"]
    response = client.post(
        "/connexion/",
        {"email": owner.email, "password": PASSWORD, "csrfmiddlewaretoken": csrf.value},
    )
    assert response.status_code == 302
    session = response.cookies["sessionid"]
    assert (session["httponly"], session["samesite"]) == (True, "Lax")
    assert (client.cookies["csrftoken"]["httponly"], csrf["samesite"]) == (True, "Lax")


TEMPLATE_DIRS = [ROOT / "infolettre"]
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\b(?:src|nonce)=)(?![^>]*application/json)[^>]*>")
EVENT_HANDLER = re.compile(r"\son[a-z]+\s*=\s*[\"']", re.IGNORECASE)


def _page_templates():
    for path in sorted((ROOT / "infolettre").rglob("templates/**/*.html")):
        # Email templates never reach a browser as a page of the site.
        if "/email/" in str(path) or path.name in {"footer.html"}:
            continue
        yield path


def test_no_page_template_runs_inline_script():
    """A page template loads scripts by src (or gives an inline one the CSP nonce) and uses no
    event-handler attribute or javascript: URL: the policy would block them."""
    offenders = []
    for path in _page_templates():
        text = path.read_text()
        if INLINE_SCRIPT.search(text) or EVENT_HANDLER.search(text) or "javascript:" in text:
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


# Rate limits ---------------------------------------------------------------------------------------

# Routes opened by a signed link or a public key that are not in LIMITED_ROUTES, and why.
LINK_ROUTES_LIMITED_ELSEWHERE = {
    # Counting a click or an open must never break a reader's redirect or image; their tokens are
    # signed and a tampered one changes nothing (test_attacks.py).
    "campaigns:track_click": "a reader's redirect must never fail",
    "campaigns:track_open": "a reader's image must never fail",
    "audience:public_signup": "limited in its view (audience.signup.check_signup_rate)",
}


def _link_routes(resolver=None, prefix=""):
    """(view name, route) of every web route that takes a token or a public key."""
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            namespace = f"{prefix}{entry.namespace}:" if entry.namespace else prefix
            if str(entry.pattern).startswith("api/"):
                continue
            yield from _link_routes(entry, namespace)
        elif {"token", "public_key"} & set(entry.pattern.converters):
            yield f"{prefix}{entry.name}", str(entry.pattern)


def test_every_page_opened_by_a_link_is_rate_limited():
    """A new page with a token in its address fails here until it is rate limited (declare it in
    infolettre/accounts/rate_limits.py LIMITED_ROUTES) or listed above with the reason."""
    names = {name for name, _ in _link_routes()}
    assert names - set(LIMITED_ROUTES) - set(LINK_ROUTES_LIMITED_ELSEWHERE) == set()
    assert names & set(LINK_ROUTES_LIMITED_ELSEWHERE) == set(LINK_ROUTES_LIMITED_ELSEWHERE)


def _people():
    return (
        sorted(User.objects.values_list("email", flat=True)),
        list(Organisation.objects.order_by("pk").values_list("pk", flat=True)),
    )


def _registration_form(email):
    data = registration_data(email=email)
    return {**data, "password": PASSWORD, "accept_policy": "on"}


def _registration_json(email):
    data = registration_data(email=email)
    return {**data, "password": PASSWORD, "accept_policy": True}


# How to post each public form: (url, body of a refused attempt, body of a valid one, as JSON).
PUBLIC_FORMS = {
    "accounts:register": ("/inscription/", {"email": "nope"}, _registration_form, False),
    "accounts:password_reset": (
        "/mot-de-passe/oublie/",
        {"email": "nope"},
        lambda email: {"email": email},
        False,
    ),
    "api:register": ("/api/v1/auth/register", {"email": "nope"}, _registration_json, True),
    "api:request_password_reset": (
        "/api/v1/auth/password-reset",
        {"email": "nope"},
        lambda email: {"email": email},
        True,
    ),
}


def test_every_rate_limited_public_form_is_tested():
    """Each public form of the table has its case below."""
    assert {name for name, kind in LIMITED_ROUTES.items() if kind == PUBLIC_FORM} == set(
        PUBLIC_FORMS
    )


def _post(client, url, body, as_json, **extra):
    if as_json:
        return client.post(url, json.dumps(body), content_type="application/json", **extra)
    return client.post(url, body, **extra)


@pytest.mark.parametrize("name", sorted(PUBLIC_FORMS))
def test_a_public_form_answers_429_past_the_limit_and_changes_nothing(
    name, client, owner, settings, mailoutbox
):
    """Past PUBLIC_FORM_LIMIT posts from one network, the next one, even valid, is refused with 429
    and Retry-After, creates nothing and sends nothing; another network is still served."""
    settings.PUBLIC_FORM_LIMIT = 2
    url, refused_body, valid_body, as_json = PUBLIC_FORMS[name]
    here = {"REMOTE_ADDR": "203.0.113.7"}
    for _ in range(2):
        assert _post(client, url, refused_body, as_json, **here).status_code in (200, 202, 400, 422)
    before, sent = _people(), len(mailoutbox)
    response = _post(client, url, valid_body(owner.email), as_json, REMOTE_ADDR="203.0.113.99")
    assert response.status_code == 429
    assert response["Retry-After"] == "3600"
    if as_json:
        assert response.json()["code"] == "throttled"
    else:
        assert "Trop de requêtes" in response.content.decode()
    assert (_people(), len(mailoutbox)) == (before, sent)
    elsewhere = _post(client, url, valid_body("new-person@example.com"), as_json)
    assert elsewhere.status_code in (200, 201, 202, 302)


def _token_request(name):
    """A request to the route with a tampered token: (method, url, JSON body or None)."""
    if name.startswith("api:"):
        path = {
            "api:confirm_email": "/api/v1/auth/confirm",
            "api:confirm_password_reset": "/api/v1/auth/password-reset/confirm",
        }[name]
        body = {"token": "tampered"}
        if name == "api:confirm_password_reset":
            body |= {"uid": "tampered", "password": PASSWORD}
        return "post", path, body
    kwargs = {"token": "tampered"}
    if name == "accounts:password_reset_confirm":
        kwargs["uidb64"] = "tampered"
    return "get", reverse(name, kwargs=kwargs), None


TOKEN_ROUTES = sorted(name for name, kind in LIMITED_ROUTES.items() if kind == TOKEN_PAGE)


@pytest.mark.parametrize("name", TOKEN_ROUTES)
def test_invalid_links_count_and_then_every_link_page_answers_429(name, client, settings):
    """Each tampered link answers 4xx and counts; past INVALID_LINK_LIMIT the network gets 429 on
    every link page, a valid link included."""
    settings.INVALID_LINK_LIMIT = 2
    _, url, body = _token_request(name)
    for _ in range(2):
        response = _post(client, url, body, True) if body else client.get(url)
        assert 400 <= response.status_code < 500
        assert response.status_code != 429
    response = _post(client, url, body, True) if body else client.get(url)
    assert response.status_code == 429
    assert response["Retry-After"] == "3600"
    assert client.get("/u/another-tampered/").status_code == 429


def test_a_throttled_network_cannot_unsubscribe_and_nothing_changes(owner, settings):
    """Once a network has sent too many invalid links, even a valid one-click POST from it is
    refused with 429 and no subscription, suppression or delivery changes."""
    settings.INVALID_LINK_LIMIT = 2
    delivery = make_delivery(owner.tenant, "jeanne@example.com", lists=["News"])
    url = f"/u/{make_token(delivery)}/"
    client = Client(enforce_csrf_checks=True)
    for _ in range(2):
        assert client.get("/u/tampered/").status_code == 400
    before = unsubscribe_snapshot()
    response = client.post(url, ONE_CLICK, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 429
    assert unsubscribe_snapshot() == before
    assert statuses(owner.tenant) == {"News": "subscribed"}


def test_valid_links_never_count_against_a_network(owner, settings):
    """A mailbox provider posts many valid one-click unsubscribes from one network: all go through."""
    settings.INVALID_LINK_LIMIT = 2
    client = Client(enforce_csrf_checks=True)
    for n in range(4):
        delivery = make_delivery(owner.tenant, f"reader{n}@example.com", lists=["News"])
        response = client.post(
            f"/u/{make_token(delivery)}/",
            ONE_CLICK,
            content_type="application/x-www-form-urlencoded",
        )
        assert response.status_code == 200
    assert Suppression.unscoped.filter(tenant=owner.tenant).count() == 4


# CSRF ----------------------------------------------------------------------------------------------

# POST views that take no CSRF token, and why: each is public and acts only on what a signed token
# (or a list's public key) in its address names, so a forged cross-site POST has nothing to ride on.
# Tracking (/t/c/, /t/o/) answers GET only, so its POSTs are refused like any other.
CSRF_EXEMPT = {
    "campaigns:unsubscribe": "RFC 8058 one-click: the mailbox provider posts without cookie or form",
    "campaigns:preferences": "preference centre of a message's signed link; no session involved",
    "engagement:unsubscribe": "RFC 8058 one-click of the newsletter and special offers",
    "analytics:stop_daily_report": "RFC 8058 one-click of the daily report",
    "audience:confirm_subscription": "double opt-in button of a signed link; no session involved",
    "campaigns:sender_confirm": "a sender address's signed confirmation link; no session involved",
    "audience:public_signup": "a list's hosted form, also posted from the client's own website; "
    "honeypot, rate limit and double opt-in instead",
}


def _web_patterns(resolver=None, prefix="", namespace=""):
    for entry in (resolver or get_resolver()).url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            if route.startswith("api/"):
                continue
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _web_patterns(entry, route, inner)
        else:
            yield f"{namespace}{entry.name}", route, entry.pattern.converters


def _fill(route, converters, ids):
    url = "/" + route
    for name, converter in converters.items():
        numeric = type(converter).__name__ == "IntConverter"
        value = str(ids.get(name, 999999)) if numeric else "tampered"
        url = re.sub(rf"<(?:\w+:)?{name}>", value, url)
    return url


@pytest.fixture
def own_objects(owner, make_member):
    """One object of each kind, all of the signed-in owner's organisation."""
    return {name: factory(owner, make_member) for name, factory in OBJECT_FACTORIES.items()}


def test_every_post_without_a_csrf_token_is_refused(owner, own_objects):
    """A signed-in owner's browser, posting without the CSRF token to any web route, gets 403 and
    changes nothing, except the public routes of CSRF_EXEMPT, which refuse a tampered token."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    before = _snapshot()
    refused, exempt = [], {}
    for name, route, converters in _web_patterns():
        url = _fill(route, converters, own_objects)
        response = client.post(url, {"name": "Forged", "role": "owner", "confirm": "yes"})
        if name in CSRF_EXEMPT:
            exempt[name] = response.status_code
        else:
            assert (name, response.status_code) == (name, 403)
            refused.append(name)
    assert exempt == {
        name: 404 if name == "audience:public_signup" else 400 for name in CSRF_EXEMPT
    }
    assert len(refused) > 50
    assert _snapshot() == before


def test_the_api_refuses_a_session_post_without_the_csrf_token(owner):
    """The API accepts the session cookie only with the CSRF token (HTTP Basic and tokens need
    none: a browser never adds them by itself)."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    before = _snapshot()
    response = client.post("/api/v1/lists", {"name": "Forged"}, content_type="application/json")
    assert response.status_code in (401, 403)
    assert _snapshot() == before
