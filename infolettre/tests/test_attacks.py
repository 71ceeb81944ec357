"""Attacks a stranger or a client might try: each is refused cleanly (a 4xx with a code) and
changes nothing."""

import ast
import csv
import datetime
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, TestCase
from django.utils import timezone

from conftest import basic_auth
from infolettre.accounts.tenancy import tenant_scope
from infolettre.accounts.tests.test_tenant_isolation import _snapshot
from infolettre.api import api
from infolettre.audience.actions import do_create_contact, do_create_list, do_subscribe
from infolettre.audience.models import Contact, ContactImport
from infolettre.audience.segments import do_create_segment
from infolettre.campaigns.models import Template
from infolettre.campaigns.tests.test_unsubscribe import make_delivery
from infolettre.campaigns.tests.test_unsubscribe import snapshot as unsubscribe_snapshot
from infolettre.campaigns.unsubscribe import make_token
from infolettre.privacy import csv_safe
from infolettre.privacy.incidents import EXPORT_FIELDS, TEXT_FIELDS, do_record_incident
from infolettre.staff.testing import make_staff, sign_in_staff
from infolettre.tests.test_authorisation_matrix import _api_operations, _web_routes


def _json(client, method, url, body, user):
    return client.generic(
        method, url, json.dumps(body), content_type="application/json", **basic_auth(user)
    )


# Template injection ---------------------------------------------------------------------------------

INJECTIONS = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ self.__init__.__globals__.__builtins__ }}",
    "{% include '/etc/passwd' %}",
    "{% import 'os' as os %}",
    "{% for i in range(10**9) %}x{% endfor %}",
    "{{ 'x' * 10**9 }}",
    "{% set ns = namespace(s='x') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}"
    "{% endfor %}{{ ns.s }}",
    "{% set ns = namespace(s='x') %}{% for i in range(60) %}{% set ns.s = ns.s + ns.s %}"
    "{% endfor %}{{ ns.s }}",
    "{{ ('x' ~ 'x') * 999999999 }}",
    "{{ 'x'.ljust(10**9) }}",
    "{{ 'x'.zfill(10**9) }}",
    "{{ 'x'|center(10**9) }}",
    "{{ 'x'|indent(10**9) }}",
    "{{ '%999999999s' % 'x' }}",
    "{{ '%999999999s'|format('x') }}",
    "{{ '{:>999999999}'.format('x') }}",
]


@pytest.mark.parametrize("payload", INJECTIONS)
def test_template_injection_is_refused_and_nothing_is_saved(client, owner, payload):
    """A template that reaches Python internals, files or unbounded work is refused with an error
    code; no template is saved."""
    html = f"<p>Bonjour</p>{payload}"
    with tenant_scope(owner.tenant):
        before = list(Template.objects.values_list("pk", flat=True))
    response = _json(client, "POST", "/api/v1/templates", {"name": "Evil", "html": html}, owner)
    assert response.status_code == 422, response.content[:300]
    assert response.json()["code"] not in ("", "server_error")
    with tenant_scope(owner.tenant):
        assert list(Template.objects.values_list("pk", flat=True)) == before


# Formula injection in CSV exports -------------------------------------------------------------------

# What a client (or anyone whose words reach a file) may type to make a spreadsheet run a formula.
HOSTILE = [
    '=HYPERLINK("http://evil.example/","click")',
    "+1+1",
    "-2",
    "@SUM(1)",
    "\t=1",
    "\r=1",
    " =1+2",
]
# Addresses that are valid and still start a formula.
HOSTILE_EMAILS = ["=1+1@example.com", "+1+1@example.com", "-2@example.com"]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _quoted(value):
    """A hostile value as it must come out: behind a single quote, otherwise unchanged."""
    return "'" + value


def _rows(response, delimiter=","):
    text = b"".join(response.streaming_content if response.streaming else [response.content])
    return list(csv.reader(io.StringIO(text.decode("utf-8-sig"), newline=""), delimiter=delimiter))


@pytest.fixture
def export_media(settings, tmp_path):
    """Import reports are stored files: each test keeps them in a folder of its own."""
    settings.MEDIA_ROOT = str(tmp_path / "media")


@dataclass
class Expected:
    """What an export must hold: its exact header, and its rows (in any order) exactly."""

    url: str
    caller: str
    header: list
    rows: list
    delimiter: str = ","


CONSENT_AT = datetime.datetime(2025, 5, 1, 9, 30, tzinfo=datetime.UTC)


def _hostile_audience(owner):
    """A list whose contacts carry a hostile value in every column a client can fill."""
    with tenant_scope(owner.tenant):
        mailing_list = do_create_list(owner.tenant, name="Liste")
        people = [(f"p{n}@example.com", value, "", value) for n, value in enumerate(HOSTILE)]
        people += [(email, "Ann", "+15145550123", "ok") for email in HOSTILE_EMAILS]
        for email, name, phone, note in people:
            contact = do_create_contact(
                owner.tenant,
                email=email,
                name=name,
                phone=phone,
                attributes={"note": note, "score": -2},
            )
            do_subscribe(contact, mailing_list, source="test", consent_at=CONSENT_AT)
        segment = do_create_segment(
            owner.tenant,
            name="Notes",
            definition={
                "match": "all",
                "conditions": [{"field": "attribute:note", "op": "is_set"}],
            },
        )
    consent = timezone.localtime(CONSENT_AT).isoformat()
    contact_rows = [
        [
            _quoted(email) if email.startswith(FORMULA_STARTS) else email,
            _quoted(name) if name != "Ann" else name,
            _quoted(phone) if phone else "",
            _quoted(note) if note != "ok" else note,
            "'-2",  # even a number: the rule has no exception to get wrong
        ]
        for email, name, phone, note in people
    ]
    return mailing_list, segment, contact_rows, consent


def _list_export(people, api):
    mailing_list, _segment, contact_rows, consent = _hostile_audience(people["owner"])
    url = (
        f"/api/v1/lists/{mailing_list.pk}/export"
        if api
        else f"/listes/{mailing_list.pk}/exporter.csv"
    )
    header = [
        *("email", "name", "phone", "note", "score"),
        *("status", "consent_basis", "consent_at", "consent_expires_at"),
    ]
    rows = [[*row, "subscribed", "express", consent, ""] for row in contact_rows]
    return Expected(url, "owner", header, rows)


def _segment_export(people, api):
    _list, segment, contact_rows, _consent = _hostile_audience(people["owner"])
    url = f"/api/v1/segments/{segment.pk}/export" if api else f"/segments/{segment.pk}/exporter.csv"
    return Expected(url, "owner", ["email", "name", "phone", "note", "score"], contact_rows)


# A carriage return inside a cell starts a new line of the file: that row goes last, so that every
# rejected row's line number is its row's.
REPORTED = sorted(HOSTILE, key=lambda value: "\r" in value)


def _import_report(people, api):
    """An import whose rejected rows, and whose file's own column names, are hostile."""
    owner = people["owner"]
    with tenant_scope(owner.tenant):
        mailing_list = do_create_list(owner.tenant, name="Import")
    out = io.StringIO()
    upload = csv.writer(out, delimiter=";")
    upload.writerow(["email", "name", "@SUM(1)", "-x"])
    upload.writerow(["ann@example.com", HOSTILE[0], "ok", "ok"])
    for value in REPORTED:
        upload.writerow([value, value, value, value])
    client = Client()
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(
            f"/api/v1/lists/{mailing_list.pk}/imports",
            {
                "file": SimpleUploadedFile(
                    "contacts.csv", out.getvalue().encode(), content_type="text/csv"
                ),
                "mapping": json.dumps({"email": "email", "name": "name", "@SUM(1)": "", "-x": ""}),
                "consent_basis": "express",
                "consent_source": "Salon 2026",
                "consent_wording": "Oui",
            },
            **basic_auth(owner),
        )
    assert response.status_code == 202, response.content[:300]
    import_id = response.json()["id"]
    contact_import = ContactImport.unscoped.get(pk=import_id)
    assert (contact_import.status, contact_import.created_count) == ("done", 1)
    url = f"/api/v1/imports/{import_id}/report" if api else f"/importations/{import_id}/rapport.csv"
    rows = [
        [str(line), "Adresse courriel non valide.", *[_quoted(value)] * 4]
        for line, value in enumerate(REPORTED, start=3)
    ]
    return Expected(
        url, "owner", ["Ligne", "Motif", "email", "name", "'@SUM(1)", "'-x"], rows, delimiter=";"
    )


def _incident_register(people, api):
    officer = people["officer"]
    texts = dict(zip(TEXT_FIELDS, HOSTILE, strict=False))
    incident = do_record_incident(
        {
            **texts,
            "occurred_on": datetime.date(2026, 3, 2),
            "discovered_on": datetime.date(2026, 3, 4),
            "people_affected": 12,
            "serious_injury_risk": False,
            "regulator_notified_on": None,
            "people_notified_on": datetime.date(2026, 3, 6),
        },
        by=officer,
    )
    row = {
        **{name: _quoted(value) for name, value in texts.items()},
        "id": str(incident.pk),
        "occurred_on": "2026-03-02",
        "discovered_on": "2026-03-04",
        "people_affected": "12",
        "serious_injury_risk": "false",
        "regulator_notified_on": "",
        "people_notified_on": "2026-03-06",
        "recorded_at": timezone.localtime(incident.recorded_at).isoformat(),
        "updated_at": timezone.localtime(incident.updated_at).isoformat(),
    }
    return Expected(
        "/equipe/vie-privee/incidents/registre.csv",
        "officer",
        list(EXPORT_FIELDS),
        [[row[name] for name in EXPORT_FIELDS]],
    )


# Every route that hands out a CSV file, and how to fill it with hostile values. A route whose name,
# path or declared content looks like a download must be here or in NOT_CSV: a new export fails
# test_every_download_route_is_classified until its attack is written here.
CSV_EXPORTS = {
    "web:audience:export_list": lambda people: _list_export(people, api=False),
    "api:GET /api/v1/lists/{list_id}/export": lambda people: _list_export(people, api=True),
    "web:audience:export_segment": lambda people: _segment_export(people, api=False),
    "api:GET /api/v1/segments/{segment_id}/export": lambda people: _segment_export(
        people, api=True
    ),
    "web:audience:import_report": lambda people: _import_report(people, api=False),
    "api:GET /api/v1/imports/{import_id}/report": lambda people: _import_report(people, api=True),
    "web:privacy:incidents_csv": lambda people: _incident_register(people, api=False),
}
NOT_CSV = {
    "web:privacy:incidents_json": "the incident register as JSON, which no spreadsheet runs",
    "web:privacy:request_file": "a person's access file: an HTML page, or JSON",
    "web:campaigns:campaign_report": "a campaign's report is an HTML page",
    "web:analytics:daily_report_settings": "the settings page of the daily report e-mail",
    "web:analytics:stop_daily_report": "the daily report e-mail's stop link",
}
DOWNLOAD_WORDS = re.compile(
    r"export|csv|tsv|xlsx?|\.ods|spreadsheet|report|rapport|registre|download|telecharg|"
    r"fichier|dossier",
    re.IGNORECASE,
)


def _download_like_routes():
    """Every web route and API operation whose name or path speaks of a file, and every API
    operation that declares an answer other than JSON."""
    for name, route, _converters in _web_routes():
        if DOWNLOAD_WORDS.search(f"{name} {route}"):
            yield name
    schema = api.get_openapi_schema()
    for name, path, method in _api_operations():
        responses = schema["paths"][path][method].get("responses", {}).values()
        types = {kind for answer in responses for kind in answer.get("content", {})}
        if DOWNLOAD_WORDS.search(name) or types - {"application/json"}:
            yield name


def test_every_download_route_is_classified():
    """A route that may hand out a file is either attacked below or listed as not CSV, with why."""
    found = set(_download_like_routes())
    assert sorted(found - set(CSV_EXPORTS) - set(NOT_CSV)) == [], (
        "Add this export to CSV_EXPORTS (with hostile data) or NOT_CSV in "
        "infolettre/tests/test_attacks.py"
    )
    assert sorted((set(CSV_EXPORTS) | set(NOT_CSV)) - found) == []


def test_no_csv_is_written_but_by_the_formula_safe_writer():
    """Every CSV file of the product is written by privacy.csv_safe: no module of the product
    calls csv.writer or csv.DictWriter itself."""
    root = Path(__file__).resolve().parents[1]
    offenders = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root.parent).as_posix()
        if "/tests/" in relative or "/migrations/" in relative or relative == CSV_SAFE_MODULE:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            writes = (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "csv"
                and node.attr in ("writer", "DictWriter")
            ) or (
                isinstance(node, ast.ImportFrom)
                and node.module == "csv"
                and {alias.name for alias in node.names} & {"writer", "DictWriter"}
            )
            if writes:
                offenders.append(f"{relative}:{node.lineno}")
    assert offenders == [], "Write CSV files with infolettre.privacy.csv_safe"


CSV_SAFE_MODULE = "infolettre/privacy/csv_safe.py"


def test_a_cell_is_never_cut_in_two_by_a_spreadsheet_that_splits_on_another_separator():
    """Every cell is enclosed in double quotes: a spreadsheet set to split on semicolons (French
    settings) keeps "a;=1+1" whole instead of starting a formula at its second half."""
    out = io.StringIO()
    csv_safe.writer(out).writerow(["Ann", "a;=1+1", 'say "hi"', 3])
    assert out.getvalue() == '"Ann","a;=1+1","say ""hi""","3"\r\n'


@pytest.fixture
def people(owner):
    return {"owner": owner, "officer": make_staff("privacy_officer")}


@pytest.mark.parametrize("route", sorted(CSV_EXPORTS))
def test_every_csv_export_neutralises_formulas_and_keeps_the_data(route, people, export_media):
    """Hostile values in every column a user fills come out behind a single quote, in every CSV
    export, reached by its route as the user who may use it; everything else is exactly as held."""
    expected = CSV_EXPORTS[route](people)
    client, headers = Client(), {}
    if expected.caller == "officer":
        sign_in_staff(client, people["officer"])
    elif route.startswith("api:"):
        headers = basic_auth(people[expected.caller])
    else:
        client.force_login(people[expected.caller])
    response = client.get(expected.url, **headers)
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    header, *rows = _rows(response, expected.delimiter)
    assert header == expected.header
    assert sorted(rows) == sorted(expected.rows)
    cells = [cell for row in rows for cell in [*header, *row]]
    assert [cell for cell in cells if cell.lstrip().startswith(FORMULA_STARTS)] == []


# Token tampering and open redirects -----------------------------------------------------------------


@pytest.fixture
def delivery(owner):
    return make_delivery(owner.tenant, "jeanne@example.com", lists=["News"])


def _tampered(token):
    """The same token with its last character changed."""
    return token[:-1] + ("A" if token[-1] != "A" else "B")


PUBLIC_LINK_PAGES = [
    "/u/{token}/",
    "/u/{token}/preferences/",
    "/t/c/{token}/",
    "/communications/desabonnement/{token}/",
    "/rapport-quotidien/arret/{token}/",
    "/bulletin/confirmer/{token}/",
    "/abonnement/confirmer/{token}/",
    "/vie-privee/lien/{token}/",
    "/vie-privee/dossier/{token}/",
]


@pytest.mark.parametrize("page", PUBLIC_LINK_PAGES)
def test_a_tampered_or_misused_link_is_refused_with_400_and_changes_nothing(page, delivery):
    """A link whose signature was altered, or a valid link of another kind, answers 400 with no
    redirect, by GET or POST, and nothing changes."""
    client = Client(enforce_csrf_checks=True)
    token = make_token(delivery)
    before, rows = unsubscribe_snapshot(), _snapshot()
    for candidate in (_tampered(token), token if not page.startswith("/u/") else "x" + token):
        url = page.format(token=candidate)
        for response in (client.get(url), client.post(url)):
            assert (url, response.status_code) in ((url, 400), (url, 403), (url, 405))
            assert "Location" not in response
    assert (unsubscribe_snapshot(), _snapshot()) == (before, rows)


@pytest.mark.parametrize(
    "target",
    ["https://evil.example.com/", "//evil.example.com/", "javascript:alert(1)", "/\\evil.com"],
)
def test_a_click_link_never_redirects_to_an_address_it_was_not_signed_for(delivery, target):
    """Swapping the destination inside a click link, or adding one in the query, is refused."""
    client = Client()
    token = make_token(delivery)
    for url in (f"/t/c/{token}/?url={target}", f"/t/c/{_tampered(token)}/?next={target}"):
        response = client.get(url)
        assert response.status_code in (400, 404)
        assert "evil" not in response.get("Location", "")


@pytest.mark.parametrize(
    "target", ["https://evil.example.com/", "//evil.example.com/", "/\\evil.example.com"]
)
def test_sign_in_and_language_never_redirect_to_another_host(client, owner, target):
    """The ?next= of the sign-in page and of the language switch stays on this site."""
    from conftest import PASSWORD

    response = client.post(
        f"/connexion/?next={target}", {"email": owner.email, "password": PASSWORD}
    )
    assert response.status_code == 302
    assert "evil" not in response["Location"]
    response = client.post("/i18n/setlang/", {"language": "en", "next": target})
    assert "evil" not in response.get("Location", "")


# Oversized and malformed uploads --------------------------------------------------------------------


@pytest.fixture
def mailing_list(owner):
    with tenant_scope(owner.tenant):
        return do_create_list(owner.tenant, name="Import")


def _import(client, owner, mailing_list, upload):
    return client.post(
        f"/api/v1/lists/{mailing_list.pk}/imports",
        {
            "file": upload,
            "consent_basis": "express",
            "consent_source": "form",
            "consent_wording": "Oui",
        },
        **basic_auth(owner),
    )


def _imports_and_contacts():
    return (ContactImport.unscoped.count(), Contact.unscoped.count())


@pytest.mark.parametrize(
    "upload",
    [
        pytest.param(
            lambda: SimpleUploadedFile(
                "big.csv", b"email\n" + b"a@b.ca\n" * 400, content_type="text/csv"
            ),
            id="over the limit",
        ),
        pytest.param(
            lambda: SimpleUploadedFile("x.csv", bytes(range(256)) * 8, content_type="text/csv"),
            id="binary",
        ),
        pytest.param(
            lambda: SimpleUploadedFile("x.csv", b"email," + b"x" * 3000, content_type="text/csv"),
            id="one huge line",
        ),
        pytest.param(
            lambda: SimpleUploadedFile(
                "x.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 64, content_type="image/png"
            ),
            id="an image",
        ),
        pytest.param(
            lambda: SimpleUploadedFile(
                "x.zip", b"PK\x03\x04" + b"\0" * 64, content_type="application/zip"
            ),
            id="a zip",
        ),
    ],
)
def test_bad_uploads_are_refused_with_a_code_and_nothing_is_written(
    client, owner, mailing_list, upload, settings
):
    """A file over IMPORT_MAX_BYTES, a binary file, a single enormous line or a file of another
    kind is refused with a 4xx and an error code; no import and no contact is created."""
    settings.IMPORT_MAX_BYTES = 2048
    before = _imports_and_contacts()
    response = _import(client, owner, mailing_list, upload())
    assert 400 <= response.status_code < 500, response.content[:300]
    assert response.json()["code"] not in ("", "server_error")
    assert _imports_and_contacts() == before


def test_an_api_body_over_the_memory_limit_is_a_413_not_a_crash(client, owner, settings):
    """A JSON body past DATA_UPLOAD_MAX_MEMORY_SIZE answers 413 request_too_large; nothing saved."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    with tenant_scope(owner.tenant):
        before = Template.objects.count()
    body = {"name": "Big", "html": "<p>" + "x" * 20_000 + "</p>"}
    response = _json(client, "POST", "/api/v1/templates", body, owner)
    assert (response.status_code, response.json()["code"]) == (413, "request_too_large")
    with tenant_scope(owner.tenant):
        assert Template.objects.count() == before


def test_the_size_guards_leave_ordinary_templates_alone(client, owner):
    """Large numbers formatted, short joins and modest widths still render."""
    html = (
        "<p>{{ '%d'|format(1500000) }} {{ '{:,}'.format(1500000) }} {{ 'a' ~ 'b' }} "
        "{{ 'x'|center(20) }} {{ '%05d' % 42 }} {{ 'Bon' + 'jour' }}</p>"
    )
    response = _json(client, "POST", "/api/v1/templates", {"name": "Fine", "html": html}, owner)
    assert response.status_code == 201, response.content[:300]
