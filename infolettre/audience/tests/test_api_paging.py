"""The API's big collections page by cursor: next_cursor continues after the last row given; page
numbers still work, read with OFFSET near the start only. OFFSET_ROWS is lowered so that a few rows
make a deep page."""

import base64
import json

import pytest

from conftest import basic_auth
from infolettre.accounts.tenancy import tenant_scope
from infolettre.audience import api_paging
from infolettre.audience.actions import (
    do_create_contact,
    do_create_list,
    do_subscribe,
    do_suppress,
)
from infolettre.audience.segments import do_create_segment


def get(client, url, user):
    return client.get(url, **basic_auth(user))


def emails(answer):
    return [row["email"] for row in answer["items"]]


def walk(client, url, user):
    """Every page from the first by next_cursor: (emails of each page, last next_cursor)."""
    pages, answer = [], get(client, url, user).json()
    pages.append(emails(answer))
    while answer["next_cursor"]:
        separator = "&" if "?" in url else "?"
        answer = get(client, f"{url}{separator}cursor={answer['next_cursor']}", user).json()
        pages.append(emails(answer))
    return pages, answer["next_cursor"]


@pytest.fixture
def people(owner):
    """Seven contacts, p0 to p6, the odd ones on the list News."""
    with tenant_scope(owner.tenant):
        news = do_create_list(owner.tenant, name="News")
        for n in range(7):
            contact = do_create_contact(owner.tenant, email=f"p{n}@example.com")
            if n % 2:
                do_subscribe(contact, news, source="test")
    return news


@pytest.mark.django_db
def test_next_cursor_walks_every_contact_once_in_address_order(client, owner, people):
    """Pages of three by next_cursor: every contact once, by address; null on the last page."""
    pages, last = walk(client, "/api/v1/contacts?page_size=3", owner)
    assert pages == [
        ["p0@example.com", "p1@example.com", "p2@example.com"],
        ["p3@example.com", "p4@example.com", "p5@example.com"],
        ["p6@example.com"],
    ]
    assert last is None


@pytest.mark.django_db
def test_a_cursor_continues_after_the_last_address_shown_whatever_was_added(client, owner, people):
    """Someone added before the page seen does not push its last row onto the next page."""
    first = get(client, "/api/v1/contacts?page_size=3", owner).json()
    with tenant_scope(owner.tenant):
        do_create_contact(owner.tenant, email="a0@example.com")
    second = get(
        client, f"/api/v1/contacts?page_size=3&cursor={first['next_cursor']}", owner
    ).json()
    assert (emails(second), second["count"]) == (
        ["p3@example.com", "p4@example.com", "p5@example.com"],
        8,
    )


@pytest.mark.django_db
def test_list_subscriptions_suppressions_and_segments_page_by_cursor(client, owner, people):
    """Each big collection follows its own order: a list's subscriptions and a segment's contacts
    by address, the suppression list newest first."""
    with tenant_scope(owner.tenant):
        for n in range(3):
            do_suppress(owner.tenant, f"gone{n}@example.com")
        segment = do_create_segment(
            owner.tenant, name="All", definition={"match": "any", "conditions": []}
        )
    subscriptions, _ = walk(client, f"/api/v1/lists/{people.pk}/subscriptions?page_size=2", owner)
    suppressions, _ = walk(client, "/api/v1/suppressions?page_size=2", owner)
    in_segment, _ = walk(client, f"/api/v1/segments/{segment.pk}/contacts?page_size=4", owner)
    assert subscriptions == [["p1@example.com", "p3@example.com"], ["p5@example.com"]]
    assert suppressions == [["gone2@example.com", "gone1@example.com"], ["gone0@example.com"]]
    assert in_segment == [
        ["p0@example.com", "p1@example.com", "p2@example.com", "p3@example.com"],
        ["p4@example.com", "p5@example.com", "p6@example.com"],
    ]


@pytest.mark.django_db
def test_a_cursor_holds_no_address_in_clear(client, owner, people):
    """The cursor, which travels in URLs that proxies log, is encrypted: no address shows."""
    cursor = get(client, "/api/v1/contacts?page_size=3", owner).json()["next_cursor"]
    decoded = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    assert (b"p2@example.com" in decoded, "example" in cursor) == (False, False)


@pytest.mark.django_db
def test_an_altered_misplaced_or_foreign_cursor_is_refused_with_its_code(
    client, owner, people, make_client_user
):
    """A cursor altered, given to another collection, or by another organisation, is a 422 with
    the code invalid_cursor, and says which input was wrong."""
    cursor = get(client, "/api/v1/contacts?page_size=3", owner).json()["next_cursor"]
    with tenant_scope(owner.tenant):
        do_suppress(owner.tenant, "gone@example.com")
        do_suppress(owner.tenant, "gone2@example.com")
    other_kind = get(client, "/api/v1/suppressions?page_size=1", owner).json()["next_cursor"]
    stranger = make_client_user()
    altered = cursor[:-6] + ("AAAAAA" if not cursor.endswith("AAAAAA") else "BBBBBB")
    answers = [
        get(client, f"/api/v1/contacts?cursor={altered}", owner),
        get(client, f"/api/v1/contacts?cursor={other_kind}", owner),
        get(client, f"/api/v1/contacts?cursor={cursor}", stranger),
    ]
    assert [
        (a.status_code, a.json()["code"], a.json()["details"][0]["field"]) for a in answers
    ] == [
        (422, "invalid_cursor", "cursor"),
    ] * 3


@pytest.mark.django_db
def test_a_cursor_with_a_page_number_is_refused(client, owner, people):
    cursor = get(client, "/api/v1/contacts?page_size=3", owner).json()["next_cursor"]
    answer = get(client, f"/api/v1/contacts?page=2&cursor={cursor}", owner)
    assert (answer.status_code, answer.json()["details"][0]["field"]) == (422, "page")


@pytest.mark.django_db
def test_page_numbers_still_work_near_the_start(client, owner, people):
    """`page` reads by position within the first OFFSET_ROWS rows, with the next cursor too."""
    answer = get(client, "/api/v1/contacts?page_size=3&page=2", owner).json()
    after = get(client, f"/api/v1/contacts?page_size=3&cursor={answer['next_cursor']}", owner)
    assert (emails(answer), answer["count"], emails(after.json())) == (
        ["p3@example.com", "p4@example.com", "p5@example.com"],
        7,
        ["p6@example.com"],
    )


@pytest.mark.django_db
def test_a_deep_page_is_read_right_after_the_page_before_and_refused_when_typed_in(
    client, owner, people, monkeypatch
):
    """Beyond OFFSET_ROWS rows of a bigger result, page N is answered when page N - 1 was just
    read (from where it ended, as a cursor would), the page past the last is empty, and a page
    asked for out of the blue is refused with the code page_too_deep."""
    monkeypatch.setattr(api_paging, "OFFSET_ROWS", 4)
    typed_in = get(client, "/api/v1/contacts?page_size=2&page=3", owner)
    pages = [
        emails(get(client, f"/api/v1/contacts?page_size=2&page={n}", owner).json())
        for n in (1, 2, 3, 4, 5)
    ]
    assert (typed_in.status_code, typed_in.json()["code"]) == (422, "page_too_deep")
    assert pages == [
        ["p0@example.com", "p1@example.com"],
        ["p2@example.com", "p3@example.com"],
        ["p4@example.com", "p5@example.com"],
        ["p6@example.com"],
        [],
    ]
    other_search = get(client, "/api/v1/contacts?page_size=2&page=3&q=example", owner)
    assert other_search.status_code == 422


@pytest.mark.django_db
def test_the_openapi_document_describes_the_cursor(client):
    """The contacts operation takes `cursor` and answers `next_cursor`, both described."""
    document = json.loads(client.get("/api/v1/openapi.json").content)
    operation = document["paths"]["/api/v1/contacts"]["get"]
    parameters = {p["name"]: p for p in operation["parameters"]}
    reference = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    answer = document["components"]["schemas"][reference.rsplit("/", 1)[-1]]
    assert {"cursor", "page", "page_size", "q", "list_id"} <= set(parameters)
    assert "next_cursor" in parameters["cursor"]["description"]
    assert "page_too_deep" in parameters["page"]["description"]
    assert set(answer["properties"]) == {"items", "count", "next_cursor"}
    assert "cursor" in answer["properties"]["next_cursor"]["description"]
