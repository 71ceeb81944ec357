"""The safeguards as a newcomer meets them in production: gunicorn started as
deploy/infolettre-web.service starts it, with infolettre.settings.prod and the variables of
deploy/infolettre.env.example (test values only where the example holds placeholders), answering
over real HTTP on the test database.

Every request comes from 127.0.0.1, one of the example's TRUSTED_PROXIES, with the
X-Forwarded-For and X-Forwarded-Proto that deploy/nginx-infolettre.conf sets: the client address
is the forwarded one, inside or outside the example's OFFICE_NETWORKS.
"""

import base64
import http.client
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from html import unescape
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from conftest import PASSWORD, registration_data
from infolettre.accounts.models import Organisation, User
from infolettre.audience.models import Contact
from infolettre.privacy.models import AuditEntry
from infolettre.privacy.tests.database_search import mentions
from infolettre.staff.testing import STAFF_PASSWORD, confirmed_device, current_code, make_staff

# The server reads and writes the test database beside the test: committed, not rolled back.
on_the_test_database = pytest.mark.django_db(transaction=True, serialized_rollback=True)

ROOT = Path(settings.BASE_DIR)
ENV_EXAMPLE = ROOT / "deploy" / "infolettre.env.example"
WEB_UNIT = ROOT / "deploy" / "infolettre-web.service"
SECRET_KEY = "a-production-test-secret-of-enough-length-0123456789-abcdefgh"
ENCRYPTION_KEY = base64.urlsafe_b64encode(b"production-run-test-key-32-bytes").decode()
# Documentation addresses: one outside every office network, one inside the example's.
OUTSIDE = "203.0.113.9"
OFFICE = "198.51.100.7"
COMPANY_PHONE = "+15145550171"
COMPANY_FAX = "+15145550172"
CONTACT_PHONE = "+15145550173"
MASK = "•••••"
REASON = "Support case 4242: the client asked to be called back"
# The client's own team pages share the /equipe/ prefix; every other /equipe/ route is staff's.
CLIENT_TEAM_NAMESPACE = "accounts"
START_SECONDS = 40
# The cache of settings/base.py without REDIS_URL.
CACHE_TABLE = "infolettre_cache"
DATABASE_CACHE = {
    "default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": CACHE_TABLE}
}


def database_url():
    """The test database as a DATABASE_URL the server process can use."""
    params = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{params['NAME']}"
    credentials = quote(params["USER"] or "", safe="")
    if params["PASSWORD"]:
        credentials += ":" + quote(params["PASSWORD"], safe="")
    return (
        f"postgres://{credentials}@{params['HOST'] or '127.0.0.1'}:{params['PORT'] or 5432}/"
        f"{params['NAME']}"
    )


def documented_environment():
    """The uncommented KEY=value lines of the example file, quotes removed as systemd does."""
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.fullmatch(r"([A-Z][A-Z0-9_]*)=(.*)", line.strip())
        if match:
            value = match.group(2)
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            values[match.group(1)] = value
    return values


def production_environment(media_root, **changes):
    """The documented variables with test values where the example holds placeholders.

    The cache and the task queue stay in the database (REDIS_URL empty): what runs here is the
    web process, and what it is checked for does not depend on Redis.
    """
    env = documented_environment()
    env.update(
        SECRET_KEY=SECRET_KEY,
        FIELD_ENCRYPTION_KEYS=ENCRYPTION_KEY,
        DATABASE_URL=database_url(),
        REDIS_URL="",
        EMAIL_URL="locmem://",
        MEDIA_ROOT=str(media_root),
    )
    env.update(changes)
    env = {name: value for name, value in env.items() if value is not None}
    # Nothing of the test run's own environment, but where to find programs.
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONUNBUFFERED": "1", **env}


def web_command(port):
    """ExecStart of the web unit, with this checkout's gunicorn, a free port and one worker."""
    line = next(line for line in WEB_UNIT.read_text().splitlines() if line.startswith("ExecStart="))
    args = shlex.split(line.removeprefix("ExecStart="))
    args[0] = str(Path(sys.executable).parent / Path(args[0]).name)
    args[args.index("--bind") + 1] = f"127.0.0.1:{port}"
    args[args.index("--workers") + 1] = "1"
    return args


def manage(env, *args):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker, tmp_path_factory):
    """gunicorn with the production settings on the test database, for the module's tests."""
    env = production_environment(tmp_path_factory.mktemp("media"))
    # A release collects the static files first: without their manifest every page is an error.
    collected = manage(env, "collectstatic", "--noinput", "-v", "0")
    assert collected.returncode == 0, collected.stderr[-3000:]
    # With REDIS_URL empty the server's cache is the database table a release creates.
    with django_db_blocker.unblock(), override_settings(CACHES=DATABASE_CACHE):
        call_command("createcachetable")
    port = free_port()
    log = tmp_path_factory.mktemp("web") / "gunicorn.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            web_command(port), env=env, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + START_SECONDS
        while not answers(port):
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise AssertionError(log.read_text()[-3000:])
            time.sleep(0.1)
        yield Server(port, env, documented_environment()["ALLOWED_HOSTS"].split(",")[0])
    finally:
        process.terminate()
        process.wait(timeout=30)
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {CACHE_TABLE}")


@pytest.fixture
def production(server, transactional_db, settings):
    """The running server. This process reads what the server sealed with its key; sign-in and
    form counters live in the server's cache table, and each test starts without any."""
    settings.FIELD_ENCRYPTION_KEYS = [ENCRYPTION_KEY]
    # Staff made here sign in there: their passwords are hashed as production hashes them.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {CACHE_TABLE}")  # noqa: S608
    return server


@dataclass(frozen=True)
class Server:
    port: int
    env: dict
    host: str

    def browser(self, client_address):
        return Browser(self, client_address)


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    text: str

    def form_token(self):
        return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', self.text).group(1)


class Browser:
    """A browser behind the reverse proxy: the proxy forwards its address and the HTTPS scheme."""

    def __init__(self, server, client_address):
        self.server = server
        self.client_address = client_address
        self.cookies = {}

    def request(self, method, path, form=None, json_body=None, headers=None):
        host = self.server.host
        sent = {
            "Host": host,
            "X-Forwarded-For": self.client_address,
            "X-Forwarded-Proto": "https",
            **(headers or {}),
        }
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
            sent["Origin"] = f"https://{host}"
            sent["Referer"] = f"https://{host}{path}"
        elif json_body is not None:
            body = json_body
            sent["Content-Type"] = "application/json"
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        try:
            conn.request(method, path, body, sent)
            response = conn.getresponse()
            text = response.read().decode()
        finally:
            conn.close()
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                if morsel["max-age"] == "0" or "1970" in morsel["expires"]:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return Answer(response.status, response.headers, text)

    def get(self, path):
        return self.request("GET", path)

    def post(self, path, form):
        return self.request("POST", path, form=form)

    def sign_in(self, email, password, next_url="/equipe/tableau-de-bord/"):
        token = self.get("/connexion/").form_token()
        form = {"csrfmiddlewaretoken": token, "email": email, "password": password}
        return self.post("/connexion/", {**form, "next": next_url})

    def sign_in_staff(self, user):
        """Password, then the authenticator's code at the second-factor page."""
        device = confirmed_device(user)
        signed_in = self.sign_in(user.email, STAFF_PASSWORD)
        assert (signed_in.status, signed_in.headers["Location"]) == (
            302,
            "/equipe/tableau-de-bord/",
        )
        page = self.get("/equipe/verification/?next=/equipe/tableau-de-bord/")
        verified = self.post(
            "/equipe/verification/",
            {
                "csrfmiddlewaretoken": page.form_token(),
                "code": current_code(device),
                "next": "/equipe/tableau-de-bord/",
            },
        )
        assert (verified.status, verified.headers["Location"]) == (302, "/equipe/tableau-de-bord/")


def staff_urls():
    """Every staff route as a URL (ids of 1): each /equipe/ route but the client's team pages."""

    def walk(resolver, prefix="", namespace=""):
        for entry in resolver.url_patterns:
            route = prefix + str(entry.pattern)
            if isinstance(entry, URLResolver):
                yield from walk(entry, route, entry.namespace or namespace)
            elif isinstance(entry, URLPattern):
                yield route, namespace

    urls = []
    for route, namespace in walk(get_resolver()):
        if route.startswith("equipe/") and namespace != CLIENT_TEAM_NAMESPACE:
            urls.append("/" + re.sub(r"<(?:\w+:)?\w+>", "1", route))
    return urls


def register_client(server):
    """Register an organisation through the production server's API; return its owner."""
    body = {k: v for k, v in registration_data().items() if v}
    body.update(
        password=PASSWORD,
        accept_policy=True,
        phone=COMPANY_PHONE,
        fax=COMPANY_FAX,
        company_size="11-50",
        industry="retail",
        gender="female",
        heard_about="colleague",
    )
    answer = server.browser(OUTSIDE).request(
        "POST", "/api/v1/auth/register", json_body=json.dumps(body)
    )
    assert answer.status == 201, answer.text
    return User.objects.get(email=body["email"])


def field_cells(html, obj):
    """Each declared field's shown value on a staff page, by field name, as a reader sees it."""
    label = obj._meta.label
    rows = re.findall(
        rf'<tr id="field-{re.escape(label)}-{obj.pk}-(\w+)">\s*<th[^>]*>.*?</th>\s*<td>(.*?)</td>',
        html,
        flags=re.S,
    )
    return {name: unescape(re.sub(r"<[^>]+>", "", cell)).strip() for name, cell in rows}


# The example file ---------------------------------------------------------------------------------


def production_settings_files(name="prod", seen=None):
    """prod.py and every settings module it imports, directly or through another."""
    seen = set() if seen is None else seen
    path = ROOT / "infolettre" / "settings" / f"{name}.py"
    seen.add(path)
    for imported in re.findall(r"^from \.(\w+) import", path.read_text(), flags=re.M):
        if ROOT / "infolettre" / "settings" / f"{imported}.py" not in seen:
            production_settings_files(imported, seen)
    return seen


def test_the_example_environment_names_every_variable_production_reads_and_no_other():
    """Each variable read by the production settings is in deploy/infolettre.env.example (set,
    commented with its default, or named as not for production), and the file names no other."""
    read = {
        name
        for path in production_settings_files()
        for name in re.findall(r'env\.\w+\(\s*"([A-Z][A-Z0-9_]*)"', path.read_text())
    }
    named = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)[=:]", ENV_EXAMPLE.read_text(), flags=re.M))
    assert {p.name for p in production_settings_files()} >= {"prod.py", "base.py", "mail.py"}
    assert sorted(read - named) == [], "add these to deploy/infolettre.env.example"
    assert sorted(named - read) == ["DJANGO_SETTINGS_MODULE"]


# (a) Outside the office -----------------------------------------------------------------------


@on_the_test_database
def test_from_outside_the_office_no_staff_page_answers_even_to_a_signed_in_administrator(
    production,
):
    """Through the proxy from an outside address, every staff route answers 404 to GET and POST,
    with the session of an administrator who passed both factors inside; an office address
    written left of the real one changes nothing; the right password from outside signs no
    staff member in."""
    administrator = make_staff("administrator")
    inside = production.browser(OFFICE)
    inside.sign_in_staff(administrator)
    assert inside.get("/equipe/clients/").status == 200

    urls = staff_urls()
    assert len(urls) >= 15
    outside = production.browser(OUTSIDE)
    outside.cookies = dict(inside.cookies)
    refused = {}
    form = {"csrfmiddlewaretoken": inside.cookies["csrftoken"]}  # the session's own token
    for url in urls:
        refused[("GET", url)] = outside.get(url).status
        refused[("POST", url)] = outside.post(url, form).status
    # Whatever the client writes left of the address the proxy saw is not believed.
    forged = production.browser(f"{OFFICE}, {OUTSIDE}")
    forged.cookies = dict(inside.cookies)
    refused[("GET forged", "/equipe/clients/")] = forged.get("/equipe/clients/").status
    assert {key: status for key, status in refused.items() if status != 404} == {}

    stranger = production.browser(OUTSIDE)
    answer = stranger.sign_in(administrator.email, STAFF_PASSWORD)
    assert answer.status == 400
    assert "sessionid" not in stranger.cookies


# (b) Inside: only the role's categories ----------------------------------------------------------


@on_the_test_database
def test_inside_the_office_support_sees_only_its_categories_with_confidential_values_masked(
    production,
):
    """A support member (both factors, from the office) sees a client's contact fields, the phone
    and fax masked to their last four digits, the profile fields not at all; the staff list, the
    privacy desk and the client's lists (no grant) are refused."""
    owner = register_client(production)
    organisation = Organisation.objects.get(pk=owner.tenant_id)
    support = make_staff("support")
    browser = production.browser(OFFICE)
    browser.sign_in_staff(support)

    page = browser.get(f"/equipe/clients/{organisation.pk}/")
    assert page.status == 200
    assert field_cells(page.text, organisation) == {
        "name": organisation.name,
        "address": organisation.address,
        "phone": "••• ••• 0171",
        "fax": "••• ••• 0172",
        "website": organisation.website,
        "company_size": MASK,
        "industry": MASK,
    }
    owner_cells = field_cells(page.text, owner)
    assert (owner_cells["email"], owner_cells["gender"], owner_cells["heard_about"]) == (
        owner.email,
        MASK,
        MASK,
    )
    for value in (COMPANY_PHONE, COMPANY_FAX, COMPANY_PHONE[2:], COMPANY_FAX[2:]):
        assert value not in page.text
    assert page.headers["Cache-Control"].startswith("max-age=0, no-cache, no-store")

    assert browser.get("/equipe/personnel/").status == 403
    assert browser.get("/equipe/vie-privee/").status == 403
    assert browser.get(f"/equipe/clients/{organisation.pk}/listes/").status == 403


# (c) A reveal is audited, and the chain verifies ----------------------------------------------------


@on_the_test_database
def test_a_reveal_shows_the_value_once_writes_its_audit_entry_and_the_chain_verifies(production):
    """Revealing the phone with a reason shows it and appends one reveal entry naming the staff
    member, the field and the reason; `manage.py verify_audit_chain` under the production
    settings finds the whole chain intact."""
    owner = register_client(production)
    support = make_staff("support")
    browser = production.browser(OFFICE)
    browser.sign_in_staff(support)
    url = f"/equipe/clients/{owner.tenant_id}/reveler/"
    query = f"?model=accounts.Organisation&object={owner.tenant_id}&field=phone"
    form_token = browser.get(url + query).form_token()
    before = AuditEntry.objects.filter(action="reveal").count()

    answer = browser.post(
        url,
        {
            "csrfmiddlewaretoken": form_token,
            "model": "accounts.Organisation",
            "object": owner.tenant_id,
            "field": "phone",
            "reason": REASON,
        },
    )

    assert answer.status == 200
    assert f'<code id="revealed-value">{COMPANY_PHONE}</code>' in answer.text
    assert answer.headers["Cache-Control"].startswith("max-age=0, no-cache, no-store")
    reveals = list(AuditEntry.objects.filter(action="reveal").order_by("sequence"))
    assert len(reveals) == before + 1
    entry = reveals[-1]
    assert (entry.actor_id, entry.actor_role, entry.target, entry.reason, entry.details) == (
        support.pk,
        "staff:support",
        f"accounts.Organisation:{owner.tenant_id}",
        REASON,
        {"field": "phone"},
    )
    verified = manage(production.env, "verify_audit_chain")
    assert (verified.returncode, verified.stdout.strip()) == (
        0,
        f"chain intact: {AuditEntry.objects.count()} entries",
    )


# (d) Nothing confidential in clear ------------------------------------------------------------------


@on_the_test_database
def test_the_database_holds_no_confidential_value_written_by_the_production_server_in_clear(
    production,
):
    """The company phone and fax (registration) and a contact's mobile phone (the API) sent to
    the production server are nowhere in the database in clear, nor their digits alone."""
    owner = register_client(production)
    owner.email_confirmed_at = timezone.now()
    owner.save(update_fields=["email_confirmed_at"])
    basic = base64.b64encode(f"{owner.email}:{PASSWORD}".encode()).decode()
    answer = production.browser(OUTSIDE).request(
        "POST",
        "/api/v1/contacts",
        json_body=json.dumps({"email": "ana@example.com", "name": "Ana", "phone": CONTACT_PHONE}),
        headers={"Authorization": f"Basic {basic}"},
    )
    assert answer.status == 201, answer.text

    needles = [COMPANY_PHONE, COMPANY_FAX, CONTACT_PHONE]
    assert mentions(*needles, *(n[2:] for n in needles)) == []
    # Sealed, not lost: with the server's key, the ORM reads each value back.
    organisation = Organisation.objects.get(pk=owner.tenant_id)
    assert (organisation.phone, organisation.fax) == (COMPANY_PHONE, COMPANY_FAX)
    assert Contact.unscoped.get(tenant_id=owner.tenant_id).phone == CONTACT_PHONE


# (e) No start on the default secret --------------------------------------------------------------


@pytest.mark.parametrize(
    "secret_key",
    [None, documented_environment()["SECRET_KEY"]],
    ids=["default-secret-key", "example-placeholder"],
)
def test_the_web_server_refuses_to_start_without_a_secret_key_of_its_own(tmp_path, secret_key):
    """With SECRET_KEY unset (the development default applies) or left at the example's
    placeholder, gunicorn exits with an error naming SECRET_KEY and never answers."""
    env = production_environment(tmp_path, SECRET_KEY=secret_key)
    port = free_port()
    result = subprocess.run(
        web_command(port), env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured: Set SECRET_KEY in the environment" in result.stderr
    assert not answers(port)
