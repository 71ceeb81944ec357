"""Attacks a stranger or a client might try: each is refused cleanly (a 4xx with a code) and
changes nothing."""

import csv
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from conftest import basic_auth
from infolettre.accounts.tenancy import tenant_scope
from infolettre.accounts.tests.test_tenant_isolation import _snapshot
from infolettre.audience.actions import do_create_contact, do_create_list, do_subscribe
from infolettre.audience.models import Contact, ContactImport
from infolettre.campaigns.models import Template
from infolettre.campaigns.tests.test_unsubscribe import make_delivery
from infolettre.campaigns.tests.test_unsubscribe import snapshot as unsubscribe_snapshot
from infolettre.campaigns.unsubscribe import make_token


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

FORMULAS = ["=1+2", "+1+2", "-1+2", "@SUM(A1)", "\t=1", "\r=1", ' =HYPERLINK("http://x")']


def _rows(response):
    text = b"".join(response.streaming_content if response.streaming else [response.content])
    return list(csv.reader(io.StringIO(text.decode("utf-8-sig"))))


def test_list_and_segment_exports_neutralise_formulas(client, owner):
    """Every cell a spreadsheet would run as a formula starts with a quote in the list export."""
    with tenant_scope(owner.tenant):
        mailing_list = do_create_list(owner.tenant, name="Liste")
        for n, formula in enumerate(FORMULAS):
            contact = do_create_contact(
                owner.tenant, email=f"p{n}@example.com", name=formula, attributes={"note": formula}
            )
            do_subscribe(contact, mailing_list, source="test")
    client.force_login(owner)
    rows = _rows(client.get(f"/listes/{mailing_list.pk}/exporter.csv"))
    cells = [cell for row in rows[1:] for cell in row]
    for formula in FORMULAS:
        assert formula not in cells
        assert "'" + formula in cells


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
