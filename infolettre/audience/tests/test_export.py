"""CSV exports of a list or a segment: exact columns and values, UTF-8 with a BOM, streamed, and
every cell a spreadsheet would run as a formula neutralised with a leading quote."""

import csv
import datetime
import io

import pytest
from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone

from infolettre.accounts.tenancy import tenant_scope
from infolettre.audience.actions import (
    do_create_contact,
    do_create_list,
    do_delete_list,
    do_subscribe,
    do_unsubscribe_from_list,
)
from infolettre.audience.export import CHUNK_SIZE, do_export_contacts
from infolettre.audience.models import ConsentBasis
from infolettre.audience.segments import do_create_segment
from infolettre.privacy.csv_safe import neutralise

CONSENT_AT = timezone.make_aware(datetime.datetime(2025, 5, 1, 9, 30))

PAYLOADS = [
    ('=HYPERLINK("http://evil","x")', '\'=HYPERLINK("http://evil","x")'),
    ("+1+1", "'+1+1"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"),
    ("  =1+2", "'  =1+2"),
    ("Montréal", "Montréal"),
    ("a=b", "a=b"),
    ("", ""),
]


@pytest.mark.parametrize(("text", "written"), PAYLOADS)
def test_cells_that_start_a_formula_are_neutralised(text, written):
    """OWASP's advice: = + - @ tab or carriage return first, even after blanks, gets a quote."""
    assert neutralise(text) == written


def rows_of(response):
    """The file's rows, after checking it is UTF-8 with a byte order mark."""
    content = b"".join(response.streaming_content)
    assert content.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(content.decode("utf-8")[1:], newline="")))


@pytest.fixture
def audience(owner):
    with tenant_scope(owner.tenant):
        news = do_create_list(owner.tenant, name="Nouvelles d'été")
        people = [
            (
                "zoe@example.com",
                '=HYPERLINK("http://evil","x")',
                "+15145550123",
                {"note": "+1+1", "age": 33},
            ),
            (
                "amy@example.com",
                "Amélie Côté",
                "",
                {"note": "-2+3", "vip": True, "email": "@SUM(A1)"},
            ),
            ("max@example.com", "Max", "", {"note": "\t=1", "tags": ["a", "=b"], "none": None}),
        ]
        contacts = [
            do_create_contact(owner.tenant, email=e, name=n, phone=p, attributes=a)
            for e, n, p, a in people
        ]
        do_subscribe(contacts[0], news, source="test", consent_at=CONSENT_AT)
        do_subscribe(
            contacts[1],
            news,
            basis=ConsentBasis.IMPLIED_INQUIRY,
            source="test",
            consent_at=CONSENT_AT,
        )
        do_unsubscribe_from_list(
            do_subscribe(contacts[2], news, source="test", consent_at=CONSENT_AT)
        )
        do_create_contact(owner.tenant, email="not-on-list@example.com", attributes={"x": 1})
    return news


def test_list_export_has_the_contacts_their_attributes_and_their_consent(client, owner, audience):
    """Columns: email, name, phone, each attribute key, then status and consent of the list."""
    client.force_login(owner)
    response = client.get(reverse("audience:export_list", args=[audience.pk]))
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="nouvelles-dete-{timezone.localdate().isoformat()}.csv"'
    )
    assert "no-store" in response["Cache-Control"]
    consent = "2025-05-01T09:30:00-04:00"
    assert rows_of(response) == [
        [
            "email",
            "name",
            "phone",
            "age",
            "attribute:email",
            "none",
            "note",
            "tags",
            "vip",
            "status",
            "consent_basis",
            "consent_at",
            "consent_expires_at",
        ],
        [
            "amy@example.com",
            "Amélie Côté",
            "",
            "",
            "'@SUM(A1)",
            "",
            "'-2+3",
            "",
            "true",
            "subscribed",
            "implied_inquiry",
            consent,
            "2025-11-01T09:30:00-04:00",
        ],
        [
            "max@example.com",
            "Max",
            "",
            "",
            "",
            "",
            "'\t=1",
            '["a", "=b"]',
            "",
            "unsubscribed",
            "express",
            consent,
            "",
        ],
        [
            "zoe@example.com",
            '\'=HYPERLINK("http://evil","x")',
            "'+15145550123",
            "33",
            "",
            "",
            "'+1+1",
            "",
            "",
            "subscribed",
            "express",
            consent,
            "",
        ],
    ]


def test_segment_export_has_the_segments_contacts_only(client, owner, audience):
    with tenant_scope(owner.tenant):
        segment = do_create_segment(
            owner.tenant,
            name="Notes",
            definition={
                "match": "all",
                "conditions": [{"field": "attribute:note", "op": "is_set"}],
            },
        )
    client.force_login(owner)
    response = client.get(reverse("audience:export_segment", args=[segment.pk]))
    assert response.status_code == 200
    assert rows_of(response) == [
        ["email", "name", "phone", "age", "attribute:email", "none", "note", "tags", "vip"],
        ["amy@example.com", "Amélie Côté", "", "", "'@SUM(A1)", "", "'-2+3", "", "true"],
        ["max@example.com", "Max", "", "", "", "", "'\t=1", '["a", "=b"]', ""],
        [
            "zoe@example.com",
            '\'=HYPERLINK("http://evil","x")',
            "'+15145550123",
            "33",
            "",
            "",
            "'+1+1",
            "",
            "",
        ],
    ]


def test_export_reads_the_contacts_in_chunks(owner, audience, django_assert_max_num_queries):
    """The rows are read as the file is sent, CHUNK_SIZE at a time; the key query runs first."""
    with tenant_scope(owner.tenant):
        export = do_export_contacts(owner, mailing_list=audience)
    assert CHUNK_SIZE == 2000
    with django_assert_max_num_queries(1):
        chunks = list(export.chunks)
    assert len(chunks) == 1
    assert chunks[0].decode("utf-8-sig").count("\r\n") == 4


def test_empty_list_export_has_the_header_only(client, owner):
    with tenant_scope(owner.tenant):
        empty = do_create_list(owner.tenant, name="Vide")
    client.force_login(owner)
    rows = rows_of(client.get(reverse("audience:export_list", args=[empty.pk])))
    assert rows == [
        [
            "email",
            "name",
            "phone",
            "status",
            "consent_basis",
            "consent_at",
            "consent_expires_at",
        ]
    ]


def test_segment_whose_list_is_gone_is_not_exported(client, owner, audience):
    """A segment naming a deleted list cannot be exported until its conditions are corrected."""
    with tenant_scope(owner.tenant):
        segment = do_create_segment(
            owner.tenant,
            name="News",
            definition={
                "match": "all",
                "conditions": [{"field": "list", "op": "in", "value": audience.pk}],
            },
        )
        do_delete_list(audience)
    client.force_login(owner)
    response = client.get(reverse("audience:export_segment", args=[segment.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("audience:segment_detail", args=[segment.pk])


def test_another_clients_list_or_segment_is_not_exported(client, owner, make_client_user, audience):
    """Another client's export links answer 404; a POST to one's own is refused."""
    with tenant_scope(owner.tenant):
        segment = do_create_segment(
            owner.tenant, name="All", definition={"match": "all", "conditions": []}
        )
    other = make_client_user()
    client.force_login(other)
    assert client.get(reverse("audience:export_list", args=[audience.pk])).status_code == 404
    assert client.get(reverse("audience:export_segment", args=[segment.pk])).status_code == 404
    client.force_login(owner)
    assert client.post(reverse("audience:export_list", args=[audience.pk])).status_code == 405
