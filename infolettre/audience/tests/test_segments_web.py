"""The segment pages: build conditions in rows and groups (with or without JavaScript), see the live
count and the first contacts, save, delete and export; another client's segment is not found."""

import csv
import re

import pytest
from django.urls import reverse

from infolettre.accounts.tenancy import tenant_scope
from infolettre.audience.actions import do_delete_list
from infolettre.audience.models import MailingList, Segment
from infolettre.audience.segments import do_create_segment

from .test_segments import ANN, make_people

SEGMENTS = reverse("audience:segments")
COUNT = reverse("audience:segment_count")
TWO_CONDITIONS = {
    "name": "Pros over 40",
    "match": "all",
    "g0-match": "all",
    "g0-c0-field": "attribute:plan",
    "g0-c0-op": "equals",
    "g0-c0-type": "text",
    "g0-c0-value": "pro",
    "g0-c1-field": "attribute:age",
    "g0-c1-op": "at_least",
    "g0-c1-type": "number",
    "g0-c1-value": "40",
}
PRO_OVER_40 = {
    "match": "all",
    "conditions": [
        {"field": "attribute:plan", "op": "equals", "value": "pro"},
        {"field": "attribute:age", "op": "at_least", "value": 40},
    ],
}


@pytest.fixture
def signed_in(client, owner):
    make_people(owner.tenant)
    client.force_login(owner)
    return client


def saved(owner):
    with tenant_scope(owner.tenant):
        return list(Segment.objects.order_by("pk").values("name", "definition"))


def row_prefixes(page):
    return re.findall(r'name="(g[0-9]+-c[0-9]+)-field"', page)


def selected(page, name):
    select = re.search(rf'<select[^>]* name="{name}"[^>]*>(.*?)</select>', page, re.S)
    return re.findall(r'<option value="([^"]*)"[^>]* selected', select.group(1))


def test_builder_saves_a_segment_with_two_conditions(signed_in, owner):
    """The builder's rows become the saved definition; its page shows the count and the contacts."""
    page = signed_in.get(SEGMENTS).content.decode()
    assert row_prefixes(page) == ["g0-c0"]
    assert f'hx-post="{COUNT}"' in page
    response = signed_in.post(SEGMENTS, {**TWO_CONDITIONS, "action": "save"})
    assert response.status_code == 302
    assert saved(owner) == [{"name": "Pros over 40", "definition": PRO_OVER_40}]
    with tenant_scope(owner.tenant):
        segment = Segment.objects.get()
    assert response["Location"] == reverse("audience:segment_detail", args=[segment.pk])
    detail = signed_in.get(response["Location"]).content.decode()
    assert re.search(r'<div class="cards" id="count">\s*<div class="card"><h2>1</h2>', detail)
    assert re.findall(r'<tr id="contact-[0-9]+">\s*<td><a [^>]*>([^<]+)</a>', detail) == [ANN]
    assert row_prefixes(detail) == ["g0-c0", "g0-c1"]
    assert selected(detail, "g0-c1-op") == ["at_least"]
    assert 'value="40"' in detail
    assert reverse("audience:export_segment", args=[segment.pk]) in detail
    export = signed_in.get(reverse("audience:export_segment", args=[segment.pk]))
    rows = csv.reader(b"".join(export.streaming_content).decode("utf-8-sig").splitlines())
    assert [row[0] for row in rows][1:] == [ANN]


def test_live_count_answers_a_fragment(signed_in):
    """The builder posts its rows as they change; the answer is the count, or what to correct."""
    response = signed_in.post(COUNT, TWO_CONDITIONS)
    assert response.status_code == 200
    assert response.content.decode().startswith("<strong>1</strong>")
    everyone = signed_in.post(COUNT, {"match": "all", "g0-match": "any", "g0-c0-field": ""})
    assert everyone.content.decode().startswith("<strong>5</strong>")
    odd_days = {"g0-c0-field": "created_at", "g0-c0-op": "within_last_days", "g0-c0-value": "²"}
    odd = signed_in.post(COUNT, {"match": "all", "g0-match": "all", **odd_days})
    assert (odd.status_code, 'class="field-error"' in odd.content.decode()) == (200, True)
    wrong = signed_in.post(COUNT, {**TWO_CONDITIONS, "g0-c1-value": "forty"})
    assert (wrong.status_code, "<strong>" in wrong.content.decode()) == (200, False)
    assert 'class="field-error"' in wrong.content.decode()
    assert signed_in.get(COUNT).status_code == 405


def test_rows_and_groups_are_added_and_removed_without_javascript(signed_in, owner):
    """Each button posts the form back; the page returns with the rows changed and nothing saved."""
    added = signed_in.post(SEGMENTS, {**TWO_CONDITIONS, "action": "add_row:g0"}).content.decode()
    assert row_prefixes(added) == ["g0-c0", "g0-c1", "g0-c2"]
    removed = signed_in.post(
        SEGMENTS, {**TWO_CONDITIONS, "action": "remove_row:g0-c0"}
    ).content.decode()
    assert row_prefixes(removed) == ["g0-c0"]
    assert selected(removed, "g0-c0-field") == ["attribute:age"]
    grouped = signed_in.post(SEGMENTS, {**TWO_CONDITIONS, "action": "add_group"}).content.decode()
    assert row_prefixes(grouped) == ["g0-c0", "g0-c1", "g1-c0"]
    assert selected(grouped, "match") == ["all"]
    assert 'value="remove_group:g1"' in grouped
    assert saved(owner) == []


def test_htmx_gets_the_builder_alone(signed_in, owner):
    """A redraw asked by htmx answers the builder, not the whole page, and saves nothing."""
    response = signed_in.post(
        SEGMENTS, {**TWO_CONDITIONS, "action": "add_row:g0"}, headers={"HX-Request": "true"}
    )
    page = response.content.decode()
    assert (response.status_code, page.lstrip().startswith('<div id="builder">')) == (200, True)
    assert row_prefixes(page) == ["g0-c0", "g0-c1", "g0-c2"]
    assert saved(owner) == []


def test_redraws_reuse_the_attribute_keys_the_page_was_drawn_with(signed_in):
    """The page lists the contacts' keys once; redraws take them from the form, well-formed only."""
    page = signed_in.get(SEGMENTS).content.decode()
    assert re.findall(r'name="known_keys" value="([^"]*)"', page) == [
        "2024",
        "age",
        "city",
        "code",
        "plan",
        "score",
        "since",
        "vip",
    ]
    form = {**TWO_CONDITIONS, "known_keys": ["tier", "Bad Key"], "action": "refresh"}
    redrawn = signed_in.post(SEGMENTS, form).content.decode()
    offered = re.findall(r'<option value="attribute:([^"]+)"', redrawn.split("g0-c1-field")[0])
    assert offered == ["age", "plan", "tier"]


def test_a_changed_field_offers_its_own_operators_and_value(signed_in):
    """A list row asks for lists and a status; an operator of the old field is replaced."""
    page = signed_in.post(
        SEGMENTS, {**TWO_CONDITIONS, "g0-c0-field": "list", "action": "refresh"}
    ).content.decode()
    assert selected(page, "g0-c0-op") == ["in"]
    assert re.search(r'<select id="id_g0-c0-lists" name="g0-c0-lists" multiple', page)
    assert selected(page, "g0-c0-status") == ["subscribed"]


def test_two_groups_are_saved_as_nested_conditions(signed_in, owner):
    with tenant_scope(owner.tenant):
        list_a = MailingList.objects.get(name="A").pk
    form = {
        **TWO_CONDITIONS,
        "match": "any",
        "g1-match": "all",
        "g1-c0-field": "list",
        "g1-c0-op": "in",
        "g1-c0-lists": [str(list_a)],
        "g1-c0-status": "any",
        "g1-c1-field": "engagement",
        "g1-c1-op": "never_engaged",
        "action": "save",
    }
    response = signed_in.post(SEGMENTS, form)
    assert response.status_code == 302
    assert saved(owner)[0]["definition"] == {
        "match": "any",
        "conditions": [
            PRO_OVER_40,
            {
                "match": "all",
                "conditions": [
                    {"field": "list", "op": "in", "value": [list_a], "status": "any"},
                    {"field": "engagement", "op": "never_engaged"},
                ],
            },
        ],
    }
    detail = signed_in.get(response["Location"]).content.decode()
    assert row_prefixes(detail) == ["g0-c0", "g0-c1", "g1-c0", "g1-c1"]
    assert selected(detail, "match") == ["any"]
    assert re.search(r'<div class="card"><h2>2</h2>', detail)


def test_invalid_builder_is_refused_with_its_errors(signed_in, owner):
    """No name and a number that is not one: the page says so beside each input; nothing is saved."""
    response = signed_in.post(
        SEGMENTS, {**TWO_CONDITIONS, "name": " ", "g0-c1-value": "forty", "action": "save"}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert 'id="id_name-error"' in page
    assert re.search(r'id="id_g0-c1-value"[^>]* aria-invalid="true"', page)
    assert saved(owner) == []


def test_detail_page_saves_changes(signed_in, owner):
    with tenant_scope(owner.tenant):
        segment = do_create_segment(owner.tenant, name="Pros", definition=PRO_OVER_40)
    url = reverse("audience:segment_detail", args=[segment.pk])
    form = {**TWO_CONDITIONS, "name": "Free", "g0-c0-value": "free", "action": "save"}
    form.pop("g0-c1-field")
    assert signed_in.post(url, form)["Location"] == url
    assert saved(owner) == [
        {
            "name": "Free",
            "definition": {
                "match": "all",
                "conditions": [{"field": "attribute:plan", "op": "equals", "value": "free"}],
            },
        }
    ]


def test_conditions_deeper_than_the_page_are_shown_as_they_are(signed_in, owner):
    """Three levels made through the API are shown, not offered for editing in rows."""
    deep = {
        "match": "all",
        "conditions": [
            {
                "match": "any",
                "conditions": [
                    {"match": "all", "conditions": [{"field": "name", "op": "is_empty"}]}
                ],
            }
        ],
    }
    with tenant_scope(owner.tenant):
        segment = do_create_segment(owner.tenant, name="Deep", definition=deep)
    url = reverse("audience:segment_detail", args=[segment.pk])
    page = signed_in.get(url).content.decode()
    assert row_prefixes(page) == []
    assert "&quot;is_empty&quot;" in page
    assert signed_in.post(url, {**TWO_CONDITIONS, "action": "save"}).status_code == 200
    assert saved(owner) == [{"name": "Deep", "definition": deep}]


def test_segments_page_lists_each_segment_with_its_count(signed_in, owner):
    with tenant_scope(owner.tenant):
        pros = do_create_segment(owner.tenant, name="Pros", definition=PRO_OVER_40)
        list_b = MailingList.objects.get(name="B")
        on_b = do_create_segment(
            owner.tenant,
            name="On B",
            definition={
                "match": "all",
                "conditions": [{"field": "list", "op": "in", "value": list_b.pk}],
            },
        )
        do_delete_list(list_b)
    page = signed_in.get(SEGMENTS).content.decode()
    assert re.search(rf'<tr id="segment-{pros.pk}">.*?</td>\s*<td>1</td>', page, re.S)
    assert re.search(rf'<tr id="segment-{on_b.pk}">.*?<span class="badge badge-warn">', page, re.S)


def test_delete_removes_the_segment(signed_in, owner):
    with tenant_scope(owner.tenant):
        segment = do_create_segment(owner.tenant, name="Pros", definition=PRO_OVER_40)
    url = reverse("audience:segment_delete", args=[segment.pk])
    assert signed_in.get(url).status_code == 405
    response = signed_in.post(url)
    assert (response.status_code, response["Location"]) == (302, SEGMENTS)
    assert saved(owner) == []


def test_another_clients_segment_pages_are_not_found(client, owner, make_client_user):
    """Another client's segment: every page answers 404 and the segment stays."""
    with tenant_scope(owner.tenant):
        segment = do_create_segment(owner.tenant, name="Ours", definition=PRO_OVER_40)
    client.force_login(make_client_user())
    for name in ("segment_detail", "segment_delete", "export_segment"):
        url = reverse(f"audience:{name}", args=[segment.pk])
        assert (url, client.post(url, {**TWO_CONDITIONS, "action": "save"}).status_code) == (
            url,
            404,
        )
        assert client.get(url).status_code in (404, 405)
    assert saved(owner) == [{"name": "Ours", "definition": PRO_OVER_40}]
    assert "Ours" not in client.get(SEGMENTS).content.decode()


def test_htmx_is_served_by_the_site_itself(signed_in):
    """The pages load htmx from our static files, never from another site."""
    page = signed_in.get(SEGMENTS).content.decode()
    sources = re.findall(r'<script src="([^"]+)"', page)
    assert sources == ["/static/audience/htmx.min.js"]
    assert signed_in.get(sources[0]).status_code == 200
