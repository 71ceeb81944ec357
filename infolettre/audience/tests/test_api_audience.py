"""Lists, contacts, subscriptions and the suppression list through the REST API."""

import json
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from conftest import basic_auth
from infolettre.accounts.tenancy import tenant_scope
from infolettre.audience.actions import do_create_list, do_suppress
from infolettre.audience.models import Contact, Subscription, Suppression


def call(client, method, url, body=None, user=None):
    data = json.dumps(body) if body is not None else ""
    return client.generic(method, url, data, content_type="application/json", **basic_auth(user))


@pytest.fixture
def news(owner):
    with tenant_scope(owner.tenant):
        return do_create_list(owner.tenant, name="News")


EXPRESS = {"consent_source": "form on example.com", "consent_wording": "Yes, send me news"}


def test_create_a_list_and_read_its_counts(client, owner):
    response = call(
        client, "POST", "/api/v1/lists", {"name": "Clients", "public_signup": True}, owner
    )
    assert response.status_code == 201
    body = response.json()
    assert (
        body["name"],
        body["double_opt_in"],
        body["subscribed_count"],
        body["lapsing_count"],
    ) == (
        "Clients",
        True,
        0,
        0,
    )
    assert body["signup_url"].startswith("http://127.0.0.1:8000/abonnement/")
    assert (
        call(client, "POST", "/api/v1/lists", {"name": "Clients"}, owner).json()["code"]
        == "list_name_taken"
    )


def test_create_a_contact_on_a_list_with_its_proof_of_consent(client, owner, news):
    """The contact and its subscription are created together, with the consent as given."""
    body = {
        "email": "Lea.Roy@Example.com",
        "name": "Léa Roy",
        "phone": "514 555 0100",
        "attributes": {"plan": "pro", "seats": 12, "vip": True},
        "subscriptions": [{"list_id": news.pk, **EXPRESS}],
    }
    response = call(client, "POST", "/api/v1/contacts", body, owner)
    assert response.status_code == 201
    data = response.json()
    assert (data["email"], data["phone"], data["attributes"]) == (
        "lea.roy@example.com",
        "+15145550100",
        {"plan": "pro", "seats": 12, "vip": True},
    )
    [subscription] = data["subscriptions"]
    assert (subscription["list_id"], subscription["status"], subscription["consent_basis"]) == (
        news.pk,
        "subscribed",
        "express",
    )
    assert (
        subscription["consent_source"],
        subscription["consent_wording"],
        subscription["consent_expires_at"],
    ) == (
        "form on example.com",
        "Yes, send me news",
        None,
    )


def test_implied_consent_lapses_after_its_period(client, owner, news):
    """An inquiry gives 6 months; a consent that has already lapsed is refused."""
    six_weeks_ago = (timezone.now() - timedelta(weeks=6)).isoformat()
    body = {
        "email": "a@example.com",
        "consent_basis": "implied_inquiry",
        "consent_at": six_weeks_ago,
        **EXPRESS,
    }
    response = call(client, "POST", f"/api/v1/lists/{news.pk}/subscriptions", body, owner)
    assert response.status_code == 201
    lapse = timezone.datetime.fromisoformat(response.json()["consent_expires_at"])
    assert 4 * 30 < (lapse - timezone.now()).days < 5 * 31
    old = (timezone.now() - timedelta(days=200)).isoformat()
    body = {
        "email": "b@example.com",
        "consent_basis": "implied_inquiry",
        "consent_at": old,
        **EXPRESS,
    }
    refused = call(client, "POST", f"/api/v1/lists/{news.pk}/subscriptions", body, owner)
    assert refused.status_code == 422
    assert refused.json()["details"][0]["field"] == "consent_at"
    assert Contact.unscoped.filter(email="b@example.com").count() == 0


def test_the_list_counts_consents_that_lapse_within_30_days(client, owner, news):
    body = {"email": "c@example.com", "consent_basis": "implied_business", **EXPRESS}
    body["consent_at"] = (timezone.now() - timedelta(days=715)).isoformat()
    call(client, "POST", f"/api/v1/lists/{news.pk}/subscriptions", body, owner)
    call(
        client,
        "POST",
        f"/api/v1/lists/{news.pk}/subscriptions",
        {"email": "d@example.com", **EXPRESS},
        owner,
    )
    counts = call(client, "GET", f"/api/v1/lists/{news.pk}", user=owner).json()
    assert (counts["subscribed_count"], counts["lapsing_count"]) == (2, 1)
    with time_machine.travel(timezone.now() + timedelta(days=31)):
        assert (
            call(client, "GET", f"/api/v1/lists/{news.pk}", user=owner).json()["lapsing_count"] == 0
        )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "nope"}, "email"),
        ({"email": "x@example.com", "phone": "12"}, "phone"),
        ({"email": "x@example.com", "attributes": {"Bad Key": 1}}, "payload.attributes"),
        ({"email": "x@example.com", "colour": "red"}, "payload.colour"),
    ],
)
def test_bad_contact_input_is_refused_and_nothing_created(client, owner, body, field):
    response = call(client, "POST", "/api/v1/contacts", body, owner)
    assert response.status_code == 422
    assert field in [d["field"] for d in response.json()["details"]]
    assert Contact.unscoped.count() == 0


def test_an_address_is_unique_within_a_client_but_not_across_clients(
    client, owner, make_client_user
):
    other = make_client_user()
    assert (
        call(client, "POST", "/api/v1/contacts", {"email": "same@example.com"}, owner).status_code
        == 201
    )
    assert (
        call(client, "POST", "/api/v1/contacts", {"email": "same@example.com"}, other).status_code
        == 201
    )
    again = call(client, "POST", "/api/v1/contacts", {"email": "SAME@example.com"}, owner)
    assert (again.status_code, again.json()["code"]) == (409, "contact_exists")
    assert Contact.unscoped.filter(email="same@example.com").count() == 2


def test_a_bad_list_in_a_new_contact_creates_nothing(client, owner, news, make_client_user):
    """A foreign or unknown list id refuses the whole request: no contact is half-created."""
    foreign = make_client_user()
    with tenant_scope(foreign.tenant):
        their_list = do_create_list(foreign.tenant, name="Theirs")
    body = {
        "email": "x@example.com",
        "subscriptions": [{"list_id": news.pk, **EXPRESS}, {"list_id": their_list.pk, **EXPRESS}],
    }
    assert call(client, "POST", "/api/v1/contacts", body, owner).status_code == 404
    assert (Contact.unscoped.count(), Subscription.unscoped.count()) == (0, 0)


def test_search_and_paginate_contacts(client, owner, news):
    for n in range(7):
        call(
            client,
            "POST",
            "/api/v1/contacts",
            {"email": f"p{n}@example.com", "name": f"Person {n}"},
            owner,
        )
    call(
        client,
        "POST",
        f"/api/v1/lists/{news.pk}/subscriptions",
        {"email": "p3@example.com", **EXPRESS},
        owner,
    )
    page = call(client, "GET", "/api/v1/contacts?page_size=5&page=2", user=owner).json()
    assert (page["count"], [c["email"] for c in page["items"]]) == (
        7,
        ["p5@example.com", "p6@example.com"],
    )
    found = call(client, "GET", "/api/v1/contacts?q=person 4", user=owner).json()
    assert [c["email"] for c in found["items"]] == ["p4@example.com"]
    on_list = call(client, "GET", f"/api/v1/contacts?list_id={news.pk}", user=owner).json()
    assert [c["email"] for c in on_list["items"]] == ["p3@example.com"]


def test_correct_a_contact(client, owner):
    contact_id = call(
        client, "POST", "/api/v1/contacts", {"email": "old@example.com"}, owner
    ).json()["id"]
    body = {"email": "new@example.com", "name": "New Name", "attributes": {"city": "Laval"}}
    response = call(client, "PATCH", f"/api/v1/contacts/{contact_id}", body, owner)
    assert (response.json()["email"], response.json()["name"], response.json()["attributes"]) == (
        "new@example.com",
        "New Name",
        {"city": "Laval"},
    )


def test_unsubscribe_from_one_list_and_never_resubscribe_without_consent(client, owner, news):
    sub = call(
        client,
        "POST",
        f"/api/v1/lists/{news.pk}/subscriptions",
        {"email": "u@example.com", **EXPRESS},
        owner,
    )
    sub_id = sub.json()["id"]
    done = call(
        client, "PATCH", f"/api/v1/subscriptions/{sub_id}", {"status": "unsubscribed"}, owner
    )
    assert (done.json()["status"], done.json()["unsubscribed_at"] is not None) == (
        "unsubscribed",
        True,
    )
    refused = call(
        client, "PATCH", f"/api/v1/subscriptions/{sub_id}", {"status": "subscribed"}, owner
    )
    assert refused.status_code == 422
    assert Subscription.unscoped.get(pk=sub_id).status == "unsubscribed"


def test_a_suppressed_address_cannot_be_added_again(client, owner, news):
    """Suppression wins over any later form, import or API call."""
    assert (
        call(
            client, "POST", "/api/v1/suppressions", {"email": "Gone@Example.com"}, owner
        ).status_code
        == 201
    )
    refused = call(client, "POST", "/api/v1/contacts", {"email": "gone@example.com"}, owner)
    assert (refused.status_code, refused.json()["code"]) == (409, "address_suppressed")
    via_list = call(
        client,
        "POST",
        f"/api/v1/lists/{news.pk}/subscriptions",
        {"email": "gone@example.com", **EXPRESS},
        owner,
    )
    assert via_list.json()["code"] == "address_suppressed"
    assert Contact.unscoped.count() == 0


def test_only_a_suppression_added_by_hand_can_be_lifted(client, owner):
    manual = call(client, "POST", "/api/v1/suppressions", {"email": "m@example.com"}, owner).json()[
        "id"
    ]
    unsubscribed = do_suppress(owner.tenant, "u@example.com", "unsubscribed")
    refused = call(client, "DELETE", f"/api/v1/suppressions/{unsubscribed.pk}", user=owner)
    assert refused.status_code == 403
    assert call(client, "DELETE", f"/api/v1/suppressions/{manual}", user=owner).status_code == 204
    assert list(Suppression.unscoped.values_list("email", flat=True)) == ["u@example.com"]


def test_deleting_a_list_keeps_its_contacts(client, owner, news):
    call(
        client,
        "POST",
        f"/api/v1/lists/{news.pk}/subscriptions",
        {"email": "k@example.com", **EXPRESS},
        owner,
    )
    assert call(client, "DELETE", f"/api/v1/lists/{news.pk}", user=owner).status_code == 204
    assert (Contact.unscoped.count(), Subscription.unscoped.count()) == (1, 0)
