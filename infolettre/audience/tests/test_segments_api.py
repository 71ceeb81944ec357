"""The segments API: saved segments, the live count of a definition, a segment's contacts by page,
and the CSV exports; another client's segment or list is not found."""

import csv
import json

import pytest

from conftest import basic_auth
from infolettre.accounts.tenancy import tenant_scope
from infolettre.audience.actions import do_create_contact, do_create_list
from infolettre.audience.models import Contact, Segment
from infolettre.audience.segments import do_create_segment

from .test_segments import ANN, BOB, make_people

PRO_OVER_40 = {
    "match": "all",
    "conditions": [
        {"field": "attribute:plan", "op": "equals", "value": "pro"},
        {"field": "attribute:age", "op": "at_least", "value": 40},
    ],
}


def call(client, method, url, body=None, user=None):
    data = json.dumps(body) if body is not None else ""
    extra = basic_auth(user) if user is not None else {}
    return client.generic(method, url, data, content_type="application/json", **extra)


def segments_of(tenant):
    with tenant_scope(tenant):
        return list(Segment.objects.order_by("pk").values("name", "definition"))


@pytest.fixture
def lists(owner):
    return make_people(owner.tenant)


def test_count_answers_the_number_of_matching_contacts(client, owner, lists):
    """The live count of a definition that is not saved."""
    response = call(client, "POST", "/api/v1/segments/count", PRO_OVER_40, owner)
    assert (response.status_code, response.json()) == (200, {"count": 1})
    anyone = {"match": "any", "conditions": []}
    assert call(client, "POST", "/api/v1/segments/count", anyone, owner).json() == {"count": 5}


def test_count_refuses_an_invalid_definition_with_the_path(client, owner, lists):
    definition = {
        "match": "all",
        "conditions": [
            {"field": "email", "op": "contains", "value": "a"},
            {"field": "attribute:age", "op": "greater_than", "value": "old"},
        ],
    }
    response = call(client, "POST", "/api/v1/segments/count", definition, owner)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid_segment"
    assert [d["field"] for d in body["details"]] == ["conditions.1.value"]


def test_count_refuses_another_clients_list(client, owner, make_client_user, lists):
    """A list id of another client is refused as if it did not exist."""
    other = make_client_user()
    with tenant_scope(other.tenant):
        foreign = do_create_list(other.tenant, name="Theirs")
    definition = {
        "match": "all",
        "conditions": [{"field": "list", "op": "in", "value": foreign.pk}],
    }
    response = call(client, "POST", "/api/v1/segments/count", definition, owner)
    assert response.status_code == 422
    assert [d["field"] for d in response.json()["details"]] == ["conditions.0.value"]


def test_create_read_change_and_delete_a_segment(client, owner, lists):
    created = call(
        client, "POST", "/api/v1/segments", {"name": "Pros", "definition": PRO_OVER_40}, owner
    )
    assert created.status_code == 201
    segment_id = created.json()["id"]
    assert {k: created.json()[k] for k in ("name", "definition")} == {
        "name": "Pros",
        "definition": PRO_OVER_40,
    }
    listed = call(client, "GET", "/api/v1/segments", user=owner).json()
    assert [(s["id"], s["name"]) for s in listed] == [(segment_id, "Pros")]
    url = f"/api/v1/segments/{segment_id}"
    assert call(client, "GET", url, user=owner).json()["definition"] == PRO_OVER_40
    renamed = call(client, "PATCH", url, {"name": "Pros over 40"}, owner)
    assert (renamed.status_code, renamed.json()["name"]) == (200, "Pros over 40")
    assert call(client, "DELETE", url, user=owner).status_code == 204
    assert segments_of(owner.tenant) == []


def test_invalid_change_leaves_the_segment_as_it_was(client, owner, lists):
    with tenant_scope(owner.tenant):
        segment = do_create_segment(owner.tenant, name="Pros", definition=PRO_OVER_40)
    bad = {"match": "all", "conditions": [{"field": "email", "op": "drop", "value": "x"}]}
    response = call(
        client, "PATCH", f"/api/v1/segments/{segment.pk}", {"name": "New", "definition": bad}, owner
    )
    assert response.status_code == 422
    assert [d["field"] for d in response.json()["details"]] == ["conditions.0.op"]
    blank = call(client, "PATCH", f"/api/v1/segments/{segment.pk}", {"name": " "}, owner)
    assert (blank.status_code, blank.json()["details"][0]["field"]) == (422, "name")
    assert segments_of(owner.tenant) == [{"name": "Pros", "definition": PRO_OVER_40}]


def test_create_refuses_unknown_fields_and_invalid_definitions(client, owner, lists):
    unknown = call(
        client,
        "POST",
        "/api/v1/segments",
        {"name": "X", "definition": PRO_OVER_40, "sql": "SELECT 1"},
        owner,
    )
    assert (unknown.status_code, unknown.json()["code"]) == (422, "validation_error")
    invalid = call(
        client,
        "POST",
        "/api/v1/segments",
        {"name": "X", "definition": {"match": "all", "conditions": [{"field": "attribute:A"}]}},
        owner,
    )
    assert (invalid.status_code, invalid.json()["code"]) == (422, "invalid_segment")
    assert segments_of(owner.tenant) == []


def test_segment_contacts_come_by_page_of_at_most_100(client, owner, lists):
    """The contacts that match now, by address; a page holds 50 by default and 100 at most."""
    with tenant_scope(owner.tenant):
        segment = do_create_segment(
            owner.tenant,
            name="Everyone",
            definition={"match": "any", "conditions": []},
        )
        Contact.objects.bulk_create(
            Contact(tenant=owner.tenant, email=f"z{n:03}@example.com") for n in range(120)
        )
    url = f"/api/v1/segments/{segment.pk}/contacts"
    first = call(client, "GET", f"{url}?page_size=2", user=owner).json()
    assert first["count"] == 125
    assert [(c["email"], c["attributes"]) for c in first["items"]] == [
        (
            ANN,
            {
                "plan": "pro",
                "age": 41,
                "vip": True,
                "since": "2021-05-03",
                "city": "Montréal",
                "code": "007",
            },
        ),
        (
            BOB,
            {
                "plan": "free",
                "age": 25,
                "vip": False,
                "since": "2023-11-20T10:00:00",
                "city": "Québec",
            },
        ),
    ]
    assert len(call(client, "GET", url, user=owner).json()["items"]) == 50
    assert len(call(client, "GET", f"{url}?page_size=500", user=owner).json()["items"]) == 100
    last = call(client, "GET", f"{url}?page_size=100&page=2", user=owner).json()["items"]
    assert [c["email"] for c in last][-1] == "z119@example.com"


def test_segment_and_list_exports_are_csv_files(client, owner, lists):
    with tenant_scope(owner.tenant):
        segment = do_create_segment(owner.tenant, name="Pros 40+", definition=PRO_OVER_40)
    response = call(client, "GET", f"/api/v1/segments/{segment.pk}/export", user=owner)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="pros-40-')
    assert csv_rows(response) == [
        ["email", "name", "phone", "age", "city", "code", "plan", "since", "vip"],
        ["ann@example.com", "Ann Martin", "", "41", "Montréal", "007", "pro", "2021-05-03", "true"],
    ]
    exported = call(client, "GET", f"/api/v1/lists/{lists['B']}/export", user=owner)
    rows = csv_rows(exported)
    assert rows[0] == [
        *("email", "name", "phone", "age", "city", "code", "plan", "since", "vip"),
        *("status", "consent_basis", "consent_at", "consent_expires_at"),
    ]
    assert [row[0] for row in rows[1:]] == [ANN, "dan@example.org"]


def csv_rows(response):
    return list(csv.reader(b"".join(response.streaming_content).decode("utf-8-sig").splitlines()))


def test_routes_need_a_signed_in_client(client, owner, lists):
    assert call(client, "POST", "/api/v1/segments/count", PRO_OVER_40).status_code == 401
    assert call(client, "GET", "/api/v1/segments").status_code == 401


def test_another_clients_segment_and_list_are_not_found(client, owner, make_client_user):
    """Every route that names a segment or a list answers 404 to another client and changes nothing."""
    other = make_client_user()
    with tenant_scope(owner.tenant):
        segment = do_create_segment(owner.tenant, name="Ours", definition=PRO_OVER_40)
        mailing_list = do_create_list(owner.tenant, name="Ours")
        do_create_contact(owner.tenant, email="ours@example.com")
    routes = [
        ("GET", f"/api/v1/segments/{segment.pk}", None),
        ("PATCH", f"/api/v1/segments/{segment.pk}", {"name": "Theirs now"}),
        ("DELETE", f"/api/v1/segments/{segment.pk}", None),
        ("GET", f"/api/v1/segments/{segment.pk}/contacts", None),
        ("GET", f"/api/v1/segments/{segment.pk}/export", None),
        ("GET", f"/api/v1/lists/{mailing_list.pk}/export", None),
    ]
    for method, url, body in routes:
        response = call(client, method, url, body, other)
        assert (url, method, response.status_code) == (url, method, 404)
        assert response.json()["code"] == "not_found"
    assert segments_of(owner.tenant) == [{"name": "Ours", "definition": PRO_OVER_40}]
    assert call(client, "GET", "/api/v1/segments", user=other).json() == []
