"""Lists and contacts of a big organisation: figures kept a minute, pages turned from where the
page seen ended. The threshold of EXACT_BELOW rows is lowered so that a few rows make it big."""

import datetime
import re

import pytest
import time_machine
from django.urls import reverse

from conftest import basic_auth
from infolettre import counts
from infolettre.accounts.tenancy import tenant_scope
from infolettre.audience import paging
from infolettre.audience.actions import do_create_contact, do_create_list, do_subscribe
from infolettre.audience.models import Contact

LISTS = reverse("audience:lists")
CONTACTS = reverse("audience:contacts")
NOW = datetime.datetime(2026, 3, 2, 15, 0, tzinfo=datetime.UTC)
EMAILS = re.compile(r'<tr id="(?:subscription|contact)-\d+">\s*<td><a [^>]+>([^<]+)</a>')


@pytest.fixture
def signed_in(client, owner):
    client.force_login(owner)
    return client


def subscribe(owner, mailing_list, *emails):
    with tenant_scope(owner.tenant):
        for email in emails:
            contact = do_create_contact(owner.tenant, email=email)
            do_subscribe(contact, mailing_list, source="test")


def list_counts_row(page, mailing_list):
    row = re.search(rf'<tr id="list-{mailing_list.pk}">(.*?)</tr>', page, re.S).group(1)
    return [int(n) for n in re.findall(r"<td>(\d+)</td>", row)]


@pytest.mark.django_db
def test_a_big_organisations_list_figures_are_at_most_a_minute_old(signed_in, owner, monkeypatch):
    """From EXACT_BELOW subscriptions on, the lists page counts once a minute; below, at once.
    The first view after the minute still shows the kept figure, and counts again once answered:
    the next view shows the new one."""
    with tenant_scope(owner.tenant):
        news = do_create_list(owner.tenant, name="Nouvelles")
    subscribe(owner, news, "a@example.com", "b@example.com")
    monkeypatch.setattr(counts, "EXACT_BELOW", 3)
    with time_machine.travel(NOW, tick=False) as clock:
        small = list_counts_row(signed_in.get(LISTS).content.decode(), news)
        subscribe(owner, news, "c@example.com")
        big = list_counts_row(signed_in.get(LISTS).content.decode(), news)
        subscribe(owner, news, "d@example.com")
        kept = list_counts_row(signed_in.get(LISTS).content.decode(), news)
        clock.shift(datetime.timedelta(seconds=counts.COUNT_SECONDS + 1))
        past_its_minute = list_counts_row(signed_in.get(LISTS).content.decode(), news)
        later = list_counts_row(signed_in.get(LISTS).content.decode(), news)
    assert (small, big, kept, past_its_minute, later) == (
        [2, 0, 0],
        [3, 0, 0],
        [3, 0, 0],
        [3, 0, 0],
        [4, 0, 0],
    )


@pytest.mark.django_db
def test_a_big_figure_unseen_for_long_is_counted_before_the_answer(signed_in, owner, monkeypatch):
    """A kept figure is shown past its minute for STALE_PERIODS minutes at most: after a longer
    quiet spell, the page counts before answering."""
    with tenant_scope(owner.tenant):
        news = do_create_list(owner.tenant, name="Nouvelles")
    subscribe(owner, news, "a@example.com", "b@example.com", "c@example.com")
    monkeypatch.setattr(counts, "EXACT_BELOW", 3)
    with time_machine.travel(NOW, tick=False) as clock:
        kept = list_counts_row(signed_in.get(LISTS).content.decode(), news)
        subscribe(owner, news, "d@example.com")
        clock.shift(datetime.timedelta(seconds=counts.COUNT_SECONDS * (1 + counts.STALE_PERIODS)))
        later = list_counts_row(signed_in.get(LISTS).content.decode(), news)
    assert (kept, later) == ([3, 0, 0], [4, 0, 0])


@pytest.mark.django_db
def test_a_big_figure_shrunk_below_the_threshold_is_exact_again(signed_in, owner, monkeypatch):
    """Counted again past its minute and found small, a figure is no longer kept: the next change
    shows at once."""
    with tenant_scope(owner.tenant):
        news = do_create_list(owner.tenant, name="Nouvelles")
    subscribe(owner, news, "a@example.com", "b@example.com", "c@example.com")
    monkeypatch.setattr(counts, "EXACT_BELOW", 3)
    with time_machine.travel(NOW, tick=False) as clock:
        signed_in.get(LISTS)
        with tenant_scope(owner.tenant):
            Contact.objects.filter(email="a@example.com").delete()
        clock.shift(datetime.timedelta(seconds=counts.COUNT_SECONDS + 1))
        past_its_minute = list_counts_row(signed_in.get(LISTS).content.decode(), news)
        counted = list_counts_row(signed_in.get(LISTS).content.decode(), news)
        with tenant_scope(owner.tenant):
            Contact.objects.filter(email="b@example.com").delete()
        at_once = list_counts_row(signed_in.get(LISTS).content.decode(), news)
    assert (past_its_minute, counted, at_once) == ([3, 0, 0], [2, 0, 0], [1, 0, 0])


@pytest.mark.django_db
def test_the_next_page_of_a_big_list_starts_after_the_last_address_shown(
    signed_in, owner, monkeypatch
):
    """Someone added before the addresses of the page seen does not push one of them onto the next
    page: Next continues from the last address shown (a small list pages by position)."""
    with tenant_scope(owner.tenant):
        news = do_create_list(owner.tenant, name="Nouvelles")
    subscribe(owner, news, *(f"person{n:03d}@example.com" for n in range(120)))
    monkeypatch.setattr(counts, "EXACT_BELOW", 100)
    url = reverse("audience:list_detail", args=[news.pk])
    first = EMAILS.findall(signed_in.get(url).content.decode())
    subscribe(owner, news, "aaron@example.com")
    second = EMAILS.findall(signed_in.get(url + "?page=2").content.decode())
    assert (first[-1], second[0], len(second)) == (
        "person049@example.com",
        "person050@example.com",
        50,
    )


@pytest.mark.django_db
def test_a_big_contacts_page_drawn_again_shows_the_same_people_and_pages_back(
    signed_in, owner, monkeypatch
):
    """Page 2 drawn again, and Previous from page 3, show the addresses the pages showed."""
    with tenant_scope(owner.tenant):
        for n in range(160):
            do_create_contact(owner.tenant, email=f"person{n:03d}@example.com")
    monkeypatch.setattr(counts, "EXACT_BELOW", 100)
    second = EMAILS.findall(signed_in.get(CONTACTS + "?page=2").content.decode())
    again = EMAILS.findall(signed_in.get(CONTACTS + "?page=2").content.decode())
    third = EMAILS.findall(signed_in.get(CONTACTS + "?page=3").content.decode())
    with tenant_scope(owner.tenant):
        Contact.objects.filter(email="person000@example.com").delete()
    back = EMAILS.findall(signed_in.get(CONTACTS + "?page=2").content.decode())
    assert (second[0], second[-1], again, third[0]) == (
        "person050@example.com",
        "person099@example.com",
        second,
        "person100@example.com",
    )
    assert back == second


@pytest.mark.django_db
def test_a_big_number_seen_for_the_first_time_is_shown_as_being_counted(
    signed_in, owner, monkeypatch
):
    """The first view of a big result answers without its number, saying it is being counted (in
    French and English); the count runs once answered, and the next view shows it. A small result
    is exact at once."""
    with tenant_scope(owner.tenant):
        for n in range(6):
            do_create_contact(owner.tenant, email=f"person{n}@example.com")
    monkeypatch.setattr(counts, "EXACT_BELOW", 5)
    # A page reads up to NARROW_BELOW rows before saying it counts.
    monkeypatch.setattr(paging, "NARROW_BELOW", 5)
    first = signed_in.get(CONTACTS, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    again = signed_in.get(CONTACTS, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    found = signed_in.get(CONTACTS + "?q=person1", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    counts.cache.clear()
    french = signed_in.get(CONTACTS, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "5 contacts or more: counting them…" in first
    assert len(EMAILS.findall(first)) == 6
    assert ("counting" in again, "6 contacts" in again) == (False, True)
    assert ("counting" in found, "1 contact" in found) == (False, True)
    assert "5 contacts ou plus : comptage en cours…" in french


@pytest.mark.django_db
def test_the_api_gives_a_null_count_while_a_big_number_is_counted(client, owner, monkeypatch):
    """GET /contacts: count is null on the first answer of a big result, the number after."""
    with tenant_scope(owner.tenant):
        for n in range(6):
            do_create_contact(owner.tenant, email=f"person{n}@example.com")
    monkeypatch.setattr(counts, "EXACT_BELOW", 5)
    first = client.get("/api/v1/contacts", **basic_auth(owner)).json()
    second = client.get("/api/v1/contacts", **basic_auth(owner)).json()
    small = client.get("/api/v1/contacts?q=person1", **basic_auth(owner)).json()
    assert (first["count"], len(first["items"]), second["count"], small["count"]) == (
        None,
        6,
        6,
        1,
    )


@pytest.mark.django_db
def test_a_deep_page_typed_into_the_address_leads_to_the_first_page_saying_why(
    signed_in, owner, monkeypatch
):
    """A page number beyond the rows a page may skip, not reached from the page beside it, is not
    read (it would walk past every row before it): the first page of the same search answers,
    with the way to deep pages. A page reached by Next is shown."""
    with tenant_scope(owner.tenant):
        news = do_create_list(owner.tenant, name="Nouvelles")
    subscribe(owner, news, *(f"person{n:03d}@example.com" for n in range(160)))
    monkeypatch.setattr(counts, "EXACT_BELOW", 100)
    monkeypatch.setattr(paging, "DEEP_ROWS", 100)
    url = reverse("audience:list_detail", args=[news.pk])
    typed = signed_in.get(url + "?q=person&page=3", HTTP_ACCEPT_LANGUAGE="en")
    shown = signed_in.get(typed["Location"], HTTP_ACCEPT_LANGUAGE="en").content.decode()
    signed_in.get(url + "?q=person&page=2")
    by_next = EMAILS.findall(signed_in.get(url + "?q=person&page=3").content.decode())
    assert typed.status_code == 302
    assert typed["Location"] == url + "?q=person#subscribers"
    assert "Deep pages are reached with Next page and Previous page" in shown
    assert EMAILS.findall(shown)[0] == "person000@example.com"
    assert by_next[0] == "person100@example.com"


@pytest.mark.django_db
def test_a_big_lists_first_view_shows_its_figures_as_being_counted(signed_in, owner, monkeypatch):
    """A list's page answers its first view without waiting for the figures of a big
    organisation's lists: they are shown as being counted, and the next view shows them."""
    with tenant_scope(owner.tenant):
        news = do_create_list(owner.tenant, name="Nouvelles")
    subscribe(owner, news, *(f"person{n}@example.com" for n in range(6)))
    monkeypatch.setattr(counts, "EXACT_BELOW", 5)
    url = reverse("audience:list_detail", args=[news.pk])
    cards = re.compile(r'<div class="card"><h2>([^<]+)</h2>')
    first = signed_in.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    again = signed_in.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert (cards.findall(first), cards.findall(again)) == (
        ["counting…"] * 3,
        ["6", "0", "0"],
    )
    assert len(EMAILS.findall(first)) == 6
