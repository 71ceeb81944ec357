"""The import routes: the multipart API, the report download and the pages, each within its tenant."""

import json

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.translation import gettext as translated

from conftest import basic_auth
from infolettre.accounts.tenancy import tenant_scope
from infolettre.audience.actions import do_create_list
from infolettre.audience.models import Contact, ContactImport, Subscription

from .test_import_run import MESSY, MESSY_MAPPING

EXPRESS = {
    "consent_basis": "express",
    "consent_source": "Sign-up sheet at the 2026 show",
    "consent_wording": "Yes, send me the newsletter.",
}


@pytest.fixture(autouse=True)
def _media_of_its_own(settings, tmp_path):
    """Each test stores uploads and reports in a folder of its own."""
    settings.MEDIA_ROOT = str(tmp_path / "media")


def _file(text, encoding="utf-8", name="contacts.csv"):
    return SimpleUploadedFile(name, text.encode(encoding), content_type="text/csv")


def _snapshot():
    return (
        list(Contact.unscoped.order_by("pk").values()),
        list(Subscription.unscoped.order_by("pk").values()),
        list(ContactImport.unscoped.order_by("pk").values()),
        sorted(default_storage.listdir("imports/")[1]) if default_storage.exists("imports") else [],
    )


@pytest.fixture
def mailing_list(owner):
    with tenant_scope(owner.tenant):
        return do_create_list(owner.tenant, name="Clients")


def test_api_preview_reads_the_file_and_stores_nothing(client, owner, mailing_list):
    """The preview gives encoding, delimiter, header, first rows and suggested mapping, storing nothing."""
    before = _snapshot()
    response = client.post(
        f"/api/v1/lists/{mailing_list.pk}/imports/preview",
        {"file": _file(MESSY, "cp1252")},
        **basic_auth(owner),
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["encoding"], body["delimiter"]) == ("cp1252", ";")
    assert body["header"] == MESSY.split("\r\n")[0].split(";")
    assert len(body["rows"]) == 5
    assert body["rows"][0][0] == "jean.tremblay@example.com"
    assert body["mapping"] == MESSY_MAPPING
    assert _snapshot() == before


def test_api_import_answers_202_then_shows_it_done_with_its_counts_and_report(
    client, owner, mailing_list, django_capture_on_commit_callbacks
):
    """POST multipart starts the import (202); GET shows it done; the report downloads as CSV."""
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/api/v1/lists/{mailing_list.pk}/imports",
            {
                "file": _file("email,name,points\nann@example.com,Ann,3\nnot an address,Bob,4\n"),
                "mapping": json.dumps(
                    {"email": "email", "name": "name", "points": "attribute:points"}
                ),
                "mode": "add_only",
                **EXPRESS,
            },
            **basic_auth(owner),
        )
    assert response.status_code == 202
    started = response.json()
    assert (started["status"], started["list_id"], started["mode"]) == (
        "queued",
        mailing_list.pk,
        "add_only",
    )

    response = client.get(f"/api/v1/imports/{started['id']}", **basic_auth(owner))
    body = response.json()
    assert {
        k: body[k]
        for k in (
            "status",
            "total_rows",
            "processed_rows",
            "progress",
            "created_count",
            "rejected_count",
            "attribute_types",
            "report_url",
        )
    } == {
        "status": "done",
        "total_rows": 2,
        "processed_rows": 2,
        "progress": 100,
        "created_count": 1,
        "rejected_count": 1,
        "attribute_types": {"points": "integer"},
        "report_url": f"/api/v1/imports/{started['id']}/report",
    }

    response = client.get(body["report_url"], **basic_auth(owner))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment;")
    assert b"".join(response.streaming_content).decode("utf-8-sig").splitlines() == [
        '"Ligne","Motif","email","name","points"',
        '"3","Adresse courriel non valide.","not an address","Bob","4"',
    ]


def test_api_import_without_mapping_uses_the_suggested_one(
    client, owner, mailing_list, django_capture_on_commit_callbacks
):
    """Without a mapping, the columns are read as suggested: courriel is the address, nom the name."""
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/api/v1/lists/{mailing_list.pk}/imports",
            {"file": _file("Courriel;Nom;Ville\nann@example.com;Ann Roy;Laval\n"), **EXPRESS},
            **basic_auth(owner),
        )
    assert response.status_code == 202
    assert response.json()["mapping"] == {
        "Courriel": "email",
        "Nom": "name",
        "Ville": "attribute:ville",
    }
    with tenant_scope(owner.tenant):
        contact = Contact.objects.get()
    assert (contact.email, contact.name, contact.attributes) == (
        "ann@example.com",
        "Ann Roy",
        {"ville": "Laval"},
    )


@pytest.mark.parametrize(
    ("content", "code", "message"),
    [
        (
            b"email:name\nann@example.com:Ann\n",
            "no_email_column",
            "Aucune colonne de ce fichier ne contient d’adresses courriel. Sa première ligne se "
            "lit comme ces colonnes : « email:name ». Nommez la colonne des adresses « email » "
            "ou « courriel », et séparez les colonnes par des virgules, des points-virgules, des "
            "tabulations ou des barres verticales.",
        ),
        (
            b"email,name\n\x00\x01\x02\x03binary",
            "binary_file",
            "Ce fichier n’est pas du texte : ce ne peut pas être un fichier CSV.",
        ),
        (b"", "empty_file", "Ce fichier est vide."),
        (
            b"email,name\n",
            "no_rows",
            "Ce fichier a une première ligne de noms de colonnes, mais aucune ligne à importer.",
        ),
    ],
)
def test_api_refuses_a_broken_file_with_its_reason_and_creates_nothing(
    client, owner, mailing_list, content, code, message
):
    """A broken file is refused (422) with a precise message; nothing is stored or created."""
    before = _snapshot()
    response = client.post(
        f"/api/v1/lists/{mailing_list.pk}/imports",
        {"file": SimpleUploadedFile("broken.csv", content), **EXPRESS},
        **basic_auth(owner),
    )
    assert response.status_code == 422
    assert response.json() == {"code": code, "message": message}
    assert _snapshot() == before


def test_api_refuses_a_mapping_without_address_column_and_keeps_nothing(
    client, owner, mailing_list
):
    """A mapping with no email column is refused with the field's message; no file is kept."""
    before = _snapshot()
    response = client.post(
        f"/api/v1/lists/{mailing_list.pk}/imports",
        {
            "file": _file("email,name\nann@example.com,Ann\n"),
            "mapping": json.dumps({"email": "attribute:email", "name": "fullname"}),
            **EXPRESS,
        },
        **basic_auth(owner),
    )
    assert response.status_code == 422
    assert response.json()["details"] == [
        {
            "field": "mapping",
            "message": "« fullname » n’est pas une chose qu’une colonne peut contenir "
            "(colonne « name »).",
        },
        {
            "field": "mapping",
            "message": "Choisissez la colonne qui contient les adresses courriel.",
        },
    ]
    assert _snapshot() == before


def test_api_refuses_an_upload_larger_than_the_limit(client, owner, mailing_list, settings):
    """A file over IMPORT_MAX_BYTES is refused before it is read or stored."""
    settings.IMPORT_MAX_BYTES = 1024 * 1024
    before = _snapshot()
    response = client.post(
        f"/api/v1/lists/{mailing_list.pk}/imports",
        {"file": _file("email\n" + "a@example.com\n" * 80000), **EXPRESS},
        **basic_auth(owner),
    )
    assert response.status_code == 422
    assert response.json()["code"] == "file_too_large"
    assert _snapshot() == before


def test_api_import_routes_answer_404_for_another_tenants_list_and_import(
    client, make_client_user, mailing_list, owner
):
    """Tenant B cannot preview or import into A's list, nor read A's import or its report."""
    intruder = make_client_user()
    with tenant_scope(owner.tenant):
        contact_import = ContactImport.objects.create(
            tenant=owner.tenant,
            mailing_list=mailing_list,
            filename="a.csv",
            consent_basis="express",
            consent_at="2026-01-01T00:00:00Z",
            report="imports/reports/a.csv",
        )
    before = _snapshot()
    for path in ("imports", "imports/preview"):
        response = client.post(
            f"/api/v1/lists/{mailing_list.pk}/{path}",
            {"file": _file("email\nb@example.com\n"), **EXPRESS},
            **basic_auth(intruder),
        )
        assert (path, response.status_code, response.json()["code"]) == (path, 404, "not_found")
    for path in (f"imports/{contact_import.pk}", f"imports/{contact_import.pk}/report"):
        response = client.get(f"/api/v1/{path}", **basic_auth(intruder))
        assert (path, response.status_code) == (path, 404)
    assert _snapshot() == before


def test_web_import_upload_mapping_start_and_detail(
    client, owner, mailing_list, django_capture_on_commit_callbacks
):
    """Upload, check the columns and the consent, start: the detail page shows the import done."""
    client.force_login(owner)
    url = f"/listes/{mailing_list.pk}/importer/"
    assert client.get(url).status_code == 200

    response = client.post(url, {"file": _file(MESSY, "cp1252")})
    assert response.status_code == 200
    page = response.content.decode()
    assert "jean.tremblay@example.com" in page
    assert 'name="upload"' in page
    columns = response.context["columns"]
    assert [(c["name"], c["field"].value) for c in columns] == [
        ("Courriel", "email"),
        ("Prénom", "first_name"),
        ("Nom", "last_name"),
        ("Téléphone", "phone"),
        ("Âge", "attribute"),
        ("Membre depuis", "attribute"),
        ("Payant", "attribute"),
        ("Solde", "attribute"),
        ("Ville", "attribute"),
    ]
    form = {f"column_{c['index']}": c["field"].value for c in columns}
    form.update(
        upload=response.context["token"],
        mode="add_or_update",
        basis="express",
        source="Sign-up sheet at the 2026 show",
        wording="Yes, send me the newsletter.",
        column_8="",  # Ville: ignored
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, form)
    contact_import = ContactImport.unscoped.get()
    assert response.status_code == 302
    assert response["Location"] == f"/importations/{contact_import.pk}/"

    response = client.get(response["Location"])
    assert response.status_code == 200
    assert "Refresh" not in response
    page = response.content.decode()
    assert response.context["contact_import"].status == "done"
    # bloque@ and parti@ are new people here; three rows are set aside.
    assert (response.context["on_list"], response.context["set_aside"]) == (5, 3)
    assert f'href="/importations/{contact_import.pk}/rapport.csv"' in page
    with tenant_scope(owner.tenant):
        assert Contact.objects.get(email="marie.cote@example.com").attributes == {
            "age": 37,
            "membre_depuis": "2019-11-30",
            "payant": False,
            "solde": 0.0,
        }

    response = client.get(f"/importations/{contact_import.pk}/rapport.csv")
    assert response.status_code == 200
    lines = b"".join(response.streaming_content).decode("utf-8-sig").splitlines()
    assert [line.split(";")[0] for line in lines] == ['"Ligne"', '"5"', '"10"', '"12"']


def test_web_import_page_refuses_a_broken_file_with_its_message(client, owner, mailing_list):
    """A file with no email column is refused on the upload page; nothing is stored or created."""
    client.force_login(owner)
    before = _snapshot()
    response = client.post(
        f"/listes/{mailing_list.pk}/importer/", {"file": _file("nom;ville\nAnn;Laval\n")}
    )
    assert response.status_code == 400
    assert "Aucune colonne de ce fichier ne contient d’adresses courriel." in (
        response.content.decode().replace("&#x27;", "'").replace("&rsquo;", "’")
    )
    assert _snapshot() == before


def test_web_import_keeps_the_choices_and_says_what_is_missing(client, owner, mailing_list):
    """An implied consent without its date is refused beside the date; nothing is imported."""
    client.force_login(owner)
    url = f"/listes/{mailing_list.pk}/importer/"
    token = client.post(url, {"file": _file("email\nann@example.com\n")}).context["token"]
    before = _snapshot()
    response = client.post(
        url,
        {
            "upload": token,
            "column_0": "email",
            "mode": "add_only",
            "basis": "implied_business",
            "source": "Invoices",
        },
    )
    assert response.status_code == 400
    assert response.context["consent"]["consent_date"].error == translated(
        "Give the date of the purchase, contract or inquiry."
    )
    assert [m["checked"] for m in response.context["modes"]] == [False, True]
    assert _snapshot() == before


def test_web_import_refuses_an_upload_signed_for_another_list(client, owner, mailing_list):
    """The signed upload of one list cannot start an import into another list."""
    client.force_login(owner)
    token = client.post(
        f"/listes/{mailing_list.pk}/importer/", {"file": _file("email\nann@example.com\n")}
    ).context["token"]
    with tenant_scope(owner.tenant):
        other = do_create_list(owner.tenant, name="Other")
    before = _snapshot()
    response = client.post(
        f"/listes/{other.pk}/importer/",
        {"upload": token, "column_0": "email", "mode": "add_only", "basis": "express"},
    )
    assert response.status_code == 400
    assert ContactImport.unscoped.count() == 0
    assert _snapshot() == before


def test_web_import_pages_answer_404_for_another_tenants_list_and_import(
    client, make_client_user, owner, mailing_list
):
    """Tenant B's pages for A's list, import and report answer 404."""
    with tenant_scope(owner.tenant):
        contact_import = ContactImport.objects.create(
            tenant=owner.tenant,
            mailing_list=mailing_list,
            filename="a.csv",
            consent_basis="express",
            consent_at="2026-01-01T00:00:00Z",
            report="imports/reports/a.csv",
        )
    client.force_login(make_client_user())
    before = _snapshot()
    assert client.get(f"/listes/{mailing_list.pk}/importer/").status_code == 404
    assert (
        client.post(
            f"/listes/{mailing_list.pk}/importer/", {"file": _file("email\nb@example.com\n")}
        ).status_code
        == 404
    )
    assert client.get(f"/importations/{contact_import.pk}/").status_code == 404
    assert client.get(f"/importations/{contact_import.pk}/rapport.csv").status_code == 404
    assert _snapshot() == before


def test_import_detail_refreshes_itself_while_the_import_runs(client, owner, mailing_list):
    """A queued import's page asks the browser to reload it, and says it waits."""
    with tenant_scope(owner.tenant):
        contact_import = ContactImport.objects.create(
            tenant=owner.tenant,
            mailing_list=mailing_list,
            filename="a.csv",
            consent_basis="express",
            consent_at="2026-01-01T00:00:00Z",
        )
    client.force_login(owner)
    response = client.get(f"/importations/{contact_import.pk}/")
    assert response.status_code == 200
    assert response["Refresh"] == "2"
    assert response.context["running"] is True


def test_api_report_of_an_import_still_running_is_not_ready(client, owner, mailing_list):
    """Before the import ends there is no report yet: 409 with its own code."""
    with tenant_scope(owner.tenant):
        contact_import = ContactImport.objects.create(
            tenant=owner.tenant,
            mailing_list=mailing_list,
            filename="a.csv",
            consent_basis="express",
            consent_at="2026-01-01T00:00:00Z",
            status="running",
        )
    response = client.get(f"/api/v1/imports/{contact_import.pk}/report", **basic_auth(owner))
    assert response.status_code == 409
    assert response.json() == {
        "code": "report_not_ready",
        "message": "Le rapport est prêt une fois l’importation terminée.",
    }
