"""The suppression list page: the addresses never mailed again, added and removed by hand."""

import datetime
import re

import pytest
import time_machine
from django.urls import reverse

from infolettre.audience.actions import do_suppress
from infolettre.audience.models import Suppression, SuppressionReason

SUPPRESSIONS = reverse("audience:suppressions")
NOW = datetime.datetime(2026, 3, 2, 15, 0, tzinfo=datetime.UTC)


@pytest.fixture
def signed_in(client, owner):
    client.force_login(owner)
    return client


def stored(owner):
    return list(
        Suppression.unscoped.filter(tenant=owner.tenant)
        .order_by("pk")
        .values("email", "email_hash", "reason", "created_at")
    )


@pytest.mark.django_db
def test_suppression_page_lists_each_address_with_its_reason_and_date(signed_in, owner):
    """Each suppressed address shows why and since when; only a hand-added one can be removed."""
    with time_machine.travel(NOW, tick=False):
        manual = do_suppress(owner.tenant, "main@example.com", SuppressionReason.MANUAL)
        chosen = do_suppress(owner.tenant, "parti@example.com", SuppressionReason.UNSUBSCRIBED)
    response = signed_in.get(SUPPRESSIONS, HTTP_ACCEPT_LANGUAGE="en")
    page = response.content.decode()
    manual_row = re.search(rf'<tr id="suppression-{manual.pk}">(.*?)</tr>', page, re.S).group(1)
    chosen_row = re.search(rf'<tr id="suppression-{chosen.pk}">(.*?)</tr>', page, re.S).group(1)
    assert response.status_code == 200
    assert [c.strip() for c in re.findall(r"<td>([^<]+)</td>", manual_row)] == [
        "main@example.com",
        "Added by hand",
        "March 2, 2026",
    ]
    assert reverse("audience:suppression_remove", args=[manual.pk]) in manual_row
    assert "Unsubscribed" in chosen_row
    assert reverse("audience:suppression_remove", args=[chosen.pk]) not in chosen_row


@pytest.mark.django_db
def test_an_erased_address_shows_as_a_fingerprint_only(signed_in, owner):
    """A suppression kept after an erasure has no address to show, and says so."""
    suppression = do_suppress(owner.tenant, "gone@example.com", SuppressionReason.UNSUBSCRIBED)
    Suppression.unscoped.filter(pk=suppression.pk).update(email="")
    page = signed_in.get(SUPPRESSIONS, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "erased address (only a fingerprint is kept)" in page


@pytest.mark.django_db
def test_adding_an_address_by_hand_suppresses_it(signed_in, owner):
    """An address added on the page is suppressed with the reason "added by hand"."""
    with time_machine.travel(NOW, tick=False):
        response = signed_in.post(SUPPRESSIONS, {"email": " Bye@Example.com "})
    assert response.status_code == 302
    assert response["Location"] == SUPPRESSIONS
    assert [(s["email"], s["reason"], s["created_at"]) for s in stored(owner)] == [
        ("bye@example.com", SuppressionReason.MANUAL, NOW)
    ]


@pytest.mark.django_db
def test_adding_an_address_already_suppressed_changes_nothing(signed_in, owner):
    """An address already on the list keeps its first reason and date."""
    do_suppress(owner.tenant, "parti@example.com", SuppressionReason.UNSUBSCRIBED)
    before = stored(owner)
    response = signed_in.post(
        SUPPRESSIONS, {"email": "PARTI@example.com"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    followed = signed_in.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302
    assert "parti@example.com is already on your suppression list." in followed.content.decode()
    assert stored(owner) == before


@pytest.mark.parametrize(
    ("email", "message"),
    [("pas une adresse", "Enter a valid email address."), ("", "This field is required.")],
)
@pytest.mark.django_db
def test_a_bad_address_is_refused_and_nothing_is_suppressed(signed_in, owner, email, message):
    """A bad or missing address is named beside the input; nothing is added."""
    response = signed_in.post(SUPPRESSIONS, {"email": email}, HTTP_ACCEPT_LANGUAGE="en")
    page = response.content.decode()
    assert response.status_code == 400
    assert f'<p class="field-error" id="id_email-error">{message}</p>' in page
    assert stored(owner) == []


@pytest.mark.django_db
def test_removing_an_address_added_by_hand_lifts_the_suppression(signed_in, owner):
    """A suppression added by hand can be removed."""
    suppression = do_suppress(owner.tenant, "main@example.com", SuppressionReason.MANUAL)
    response = signed_in.post(reverse("audience:suppression_remove", args=[suppression.pk]))
    assert response.status_code == 302
    assert response["Location"] == SUPPRESSIONS
    assert stored(owner) == []


@pytest.mark.parametrize(
    "reason",
    [SuppressionReason.UNSUBSCRIBED, SuppressionReason.BOUNCED, SuppressionReason.COMPLAINED],
)
@pytest.mark.django_db
def test_a_suppression_that_records_a_choice_or_a_bounce_cannot_be_removed(
    signed_in, owner, reason
):
    """An unsubscribe, a bounce or a complaint stays on the list; the page says why."""
    suppression = do_suppress(owner.tenant, "parti@example.com", reason)
    before = stored(owner)
    response = signed_in.post(
        reverse("audience:suppression_remove", args=[suppression.pk]), HTTP_ACCEPT_LANGUAGE="en"
    )
    followed = signed_in.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302
    assert "Only an address added by hand can be removed." in followed.content.decode()
    assert stored(owner) == before


@pytest.mark.django_db
def test_removing_a_suppression_needs_a_post(signed_in, owner):
    """Opening the remove address removes nothing."""
    suppression = do_suppress(owner.tenant, "main@example.com")
    response = signed_in.get(reverse("audience:suppression_remove", args=[suppression.pk]))
    assert response.status_code == 405
    assert len(stored(owner)) == 1


@pytest.mark.django_db
def test_another_organisations_suppression_cannot_be_seen_or_removed(
    client, owner, make_client_user
):
    """Another organisation's suppression id gives 404, and its list never shows."""
    suppression = do_suppress(owner.tenant, "secret@example.com")
    stranger = make_client_user()
    client.force_login(stranger)
    before = stored(owner)
    response = client.post(reverse("audience:suppression_remove", args=[suppression.pk]))
    assert response.status_code == 404
    assert "secret@example.com" not in client.get(SUPPRESSIONS).content.decode()
    assert stored(owner) == before


@pytest.mark.django_db
def test_suppression_page_shows_50_addresses_per_page(signed_in, owner):
    """The suppressed addresses come 50 per page."""
    for n in range(51):
        do_suppress(owner.tenant, f"p{n}@example.com")
    rows = re.compile(r'<tr id="suppression-\d+">')
    assert len(rows.findall(signed_in.get(SUPPRESSIONS).content.decode())) == 50
    assert len(rows.findall(signed_in.get(SUPPRESSIONS + "?page=2").content.decode())) == 1
