"""Segment definitions: each field and operator selects exactly the expected contacts, conditions
combine with all / any and nest, and anything outside the schema is refused with its path."""

import datetime

import pytest
import time_machine
from django.utils import timezone

from infolettre.accounts.tenancy import tenant_scope
from infolettre.audience.actions import do_create_contact, do_create_list, do_subscribe
from infolettre.audience.errors import InvalidSegment
from infolettre.audience.models import Contact, Segment, Subscription, SubscriptionStatus
from infolettre.audience.segments import (
    check_definition,
    count_segment,
    do_create_segment,
    do_delete_segment,
    do_update_segment,
    segment_contacts,
)
from infolettre.errors import Invalid

NOW = datetime.datetime(2026, 3, 2, 15, 0, tzinfo=datetime.UTC)
ANN, BOB, CLEO, DAN, EVE = (
    "ann@example.com",
    "bob@example.com",
    "cleo@example.org",
    "dan@example.org",
    "eve@example.com",
)
EVERYONE = [ANN, BOB, CLEO, DAN, EVE]


def local(*args):
    return timezone.make_aware(datetime.datetime(*args))


def make_people(tenant):
    """Five contacts whose data exercise every operator; returns the lists A and B by name."""
    with tenant_scope(tenant):
        people = {
            ANN: (
                "Ann Martin",
                {
                    "plan": "pro",
                    "age": 41,
                    "vip": True,
                    "since": "2021-05-03",
                    "city": "Montréal",
                    "code": "007",
                },
            ),
            BOB: (
                "Bob Tremblay",
                {
                    "plan": "free",
                    "age": 25,
                    "vip": False,
                    "since": "2023-11-20T10:00:00",
                    "city": "Québec",
                },
            ),
            CLEO: ("", {"plan": "Pro", "age": "41", "score": 2.5}),
            DAN: ("Dan", {"plan": None, "age": 40.0, "vip": 1}),
            EVE: ("Eve", {"2024": "yes"}),
        }
        contacts = {
            email: do_create_contact(tenant, email=email, name=name, attributes=attributes)
            for email, (name, attributes) in people.items()
        }
        created = {
            ANN: local(2020, 1, 1, 12),
            BOB: local(2022, 6, 15, 12),
            CLEO: local(2024, 3, 1, 12),
            DAN: NOW - datetime.timedelta(days=2),
            EVE: NOW - datetime.timedelta(days=10),
        }
        engaged = {ANN: NOW - datetime.timedelta(days=3), BOB: NOW - datetime.timedelta(days=40)}
        for email, contact in contacts.items():
            Contact.objects.filter(pk=contact.pk).update(
                created_at=created[email], engaged_at=engaged.get(email)
            )
        list_a = do_create_list(tenant, name="A")
        list_b = do_create_list(tenant, name="B")
        subscriptions = [
            (ANN, list_a, SubscriptionStatus.SUBSCRIBED, local(2024, 1, 10, 9)),
            (BOB, list_a, SubscriptionStatus.UNCONFIRMED, local(2025, 3, 1, 10)),
            (CLEO, list_a, SubscriptionStatus.UNSUBSCRIBED, local(2023, 2, 1, 8)),
            (ANN, list_b, SubscriptionStatus.SUBSCRIBED, local(2025, 6, 1, 8)),
            (DAN, list_b, SubscriptionStatus.SUBSCRIBED, NOW - datetime.timedelta(days=5)),
        ]
        for email, mailing_list, status, created_at in subscriptions:
            subscription = do_subscribe(contacts[email], mailing_list, source="test")
            Subscription.objects.filter(pk=subscription.pk).update(
                status=status, created_at=created_at
            )
        return {"A": list_a.pk, "B": list_b.pk}


@pytest.fixture
def lists(owner):
    with time_machine.travel(NOW, tick=False):
        return make_people(owner.tenant)


def emails(tenant, definition):
    with tenant_scope(tenant):
        return sorted(segment_contacts(definition).values_list("email", flat=True))


def one(condition):
    return {"match": "all", "conditions": [condition]}


def problems(tenant, definition):
    with tenant_scope(tenant), pytest.raises(InvalidSegment) as raised:
        check_definition(definition)
    assert raised.value.code == "invalid_segment"
    return [d["field"] for d in raised.value.details]


ATTRIBUTE_CASES = [
    ("plan", "equals", "pro", [ANN]),
    ("plan", "not_equals", "pro", [BOB, CLEO, DAN, EVE]),
    ("age", "equals", 41, [ANN]),
    ("age", "equals", "41", [CLEO]),
    ("age", "equals", 40, [DAN]),
    ("vip", "equals", True, [ANN]),
    ("vip", "equals", False, [BOB]),
    ("vip", "not_equals", True, [BOB, CLEO, DAN, EVE]),
    ("code", "equals", "007", [ANN]),
    ("2024", "equals", "yes", [EVE]),
    ("city", "contains", "qué", [BOB]),
    ("city", "contains", "MONT", [ANN]),
    ("age", "contains", "4", [CLEO]),
    ("age", "greater_than", 40, [ANN]),
    ("age", "at_least", 40, [ANN, DAN]),
    ("age", "less_than", 41, [BOB, DAN]),
    ("age", "at_most", 25, [BOB]),
    ("score", "greater_than", 2, [CLEO]),
    ("since", "greater_than", "2022-01-01", [BOB]),
    ("since", "at_most", "2021-05-03", [ANN]),
    ("since", "less_than", "2021-05-03", []),
    ("since", "at_least", "2021-05-03", [ANN, BOB]),
    ("plan", "is_set", None, [ANN, BOB, CLEO]),
    ("plan", "is_not_set", None, [DAN, EVE]),
]


@pytest.mark.parametrize(("key", "op", "value", "expected"), ATTRIBUTE_CASES)
def test_attribute_conditions_select_exactly_the_matching_contacts(
    owner, lists, key, op, value, expected
):
    """The value's JSON type decides the comparison: text, number, boolean or date."""
    condition = {"field": f"attribute:{key}", "op": op}
    if value is not None:
        condition["value"] = value
    assert emails(owner.tenant, one(condition)) == expected


TEXT_CASES = [
    ("email", "equals", "ANN@example.com", [ANN]),
    ("email", "not_equals", "ann@example.com", [BOB, CLEO, DAN, EVE]),
    ("email", "contains", "example.org", [CLEO, DAN]),
    ("email", "not_contains", "example.org", [ANN, BOB, EVE]),
    ("email", "starts_with", "B", [BOB]),
    ("email", "ends_with", ".ORG", [CLEO, DAN]),
    ("email", "contains", "%", []),
    ("email", "contains", "_", []),
    ("name", "contains", "trem", [BOB]),
    ("name", "equals", "dan", [DAN]),
    ("name", "is_empty", None, [CLEO]),
    ("name", "is_not_empty", None, [ANN, BOB, DAN, EVE]),
]


@pytest.mark.parametrize(("field", "op", "value", "expected"), TEXT_CASES)
def test_address_and_name_conditions_ignore_case_and_wildcards(
    owner, lists, field, op, value, expected
):
    """Text operators on addresses and names ignore case; % and _ are plain characters."""
    condition = {"field": field, "op": op}
    if value is not None:
        condition["value"] = value
    assert emails(owner.tenant, one(condition)) == expected


LIST_CASES = [
    ("in", ["A"], None, [ANN]),
    ("in", "A", None, [ANN]),
    ("in", ["A"], "unconfirmed", [BOB]),
    ("in", ["A"], "unsubscribed", [CLEO]),
    ("in", ["A"], "any", [ANN, BOB, CLEO]),
    ("in", ["A", "B"], None, [ANN, DAN]),
    ("not_in", ["A"], None, [BOB, CLEO, DAN, EVE]),
    ("not_in", ["A"], "any", [DAN, EVE]),
]


@pytest.mark.parametrize(("op", "names", "status", "expected"), LIST_CASES)
def test_list_conditions_select_each_contact_once(owner, lists, op, names, status, expected):
    """Membership is subscribed unless a status is given; a contact on two lists appears once."""
    value = [lists[n] for n in names] if isinstance(names, list) else lists[names]
    condition = {"field": "list", "op": op, "value": value}
    if status:
        condition["status"] = status
    assert emails(owner.tenant, one(condition)) == expected


DATE_CASES = [
    ({"field": "subscribed_at", "op": "before", "value": "2024-01-10"}, [CLEO]),
    ({"field": "subscribed_at", "op": "after", "value": "2025-03-01"}, [ANN, DAN]),
    ({"field": "subscribed_at", "op": "within_last_days", "value": 30}, [DAN]),
    ({"field": "created_at", "op": "before", "value": "2022-06-15"}, [ANN]),
    ({"field": "created_at", "op": "after", "value": "2022-06-15"}, [CLEO, DAN, EVE]),
    ({"field": "created_at", "op": "within_last_days", "value": 7}, [DAN]),
    ({"field": "engagement", "op": "engaged_within_days", "value": 7}, [ANN]),
    ({"field": "engagement", "op": "not_engaged_within_days", "value": 7}, [BOB, CLEO, DAN, EVE]),
    ({"field": "engagement", "op": "never_engaged"}, [CLEO, DAN, EVE]),
]


@pytest.mark.parametrize(("condition", "expected"), DATE_CASES)
def test_date_and_engagement_conditions_count_whole_days(owner, lists, condition, expected):
    """Before a day ends at its start, after a day starts at the next one, in the site's time zone."""
    with time_machine.travel(NOW, tick=False):
        assert emails(owner.tenant, one(condition)) == expected


def test_subscription_date_can_be_limited_to_one_list(owner, lists):
    """Put on list A after 2024-01-01: Ann and Bob, not Dan (list B)."""
    condition = {"field": "subscribed_at", "op": "after", "value": "2024-01-01", "list": lists["A"]}
    assert emails(owner.tenant, one(condition)) == [ANN, BOB]


def test_all_and_any_combine_conditions(owner, lists):
    """All needs every condition; any needs one."""
    pro_over_40 = {
        "match": "all",
        "conditions": [
            {"field": "attribute:plan", "op": "equals", "value": "pro"},
            {"field": "attribute:age", "op": "at_least", "value": 40},
        ],
    }
    free_or_org = {
        "match": "any",
        "conditions": [
            {"field": "attribute:plan", "op": "equals", "value": "free"},
            {"field": "email", "op": "ends_with", "value": ".org"},
        ],
    }
    assert emails(owner.tenant, pro_over_40) == [ANN]
    assert emails(owner.tenant, free_or_org) == [BOB, CLEO, DAN]


def test_groups_nest_up_to_three_levels(owner, lists):
    """A group is a condition of its parent; three levels are accepted."""
    nested = {
        "match": "all",
        "conditions": [
            {"field": "list", "op": "in", "value": [lists["A"]], "status": "any"},
            {
                "match": "any",
                "conditions": [
                    {"field": "attribute:age", "op": "less_than", "value": 30},
                    {"field": "name", "op": "is_empty"},
                    {
                        "match": "all",
                        "conditions": [
                            {"field": "attribute:vip", "op": "equals", "value": True},
                            {"field": "email", "op": "starts_with", "value": "a"},
                        ],
                    },
                ],
            },
        ],
    }
    assert emails(owner.tenant, nested) == [ANN, BOB, CLEO]


def test_no_condition_selects_every_contact(owner, lists):
    assert emails(owner.tenant, {"match": "any", "conditions": []}) == EVERYONE
    with tenant_scope(owner.tenant):
        assert count_segment({"match": "all", "conditions": []}) == 5


def test_sql_in_a_value_is_only_a_value(owner, lists):
    """A value that looks like SQL is compared as text: it finds nothing and changes nothing."""
    for value in ("'; DROP TABLE audience_contact; --", "' OR '1'='1", 'x") OR 1=1 --'):
        for field in ("name", "attribute:plan"):
            assert emails(owner.tenant, one({"field": field, "op": "equals", "value": value})) == []
    with tenant_scope(owner.tenant):
        assert Contact.objects.count() == 5


def test_segments_never_reach_another_clients_contacts(owner, make_client_user, lists):
    """The same conditions run for another client select only that client's contacts."""
    other = make_client_user()
    with time_machine.travel(NOW, tick=False):
        make_people(other.tenant)
    with tenant_scope(other.tenant):
        theirs = set(Contact.objects.values_list("pk", flat=True))
    with tenant_scope(owner.tenant):
        ours = set(
            segment_contacts({"match": "all", "conditions": []}).values_list("pk", flat=True)
        )
    assert len(ours) == 5
    assert ours.isdisjoint(theirs)


def test_another_clients_list_id_is_refused(owner, make_client_user, lists):
    """A list id of another client is not found, so the condition is refused."""
    other = make_client_user()
    with tenant_scope(other.tenant):
        foreign = do_create_list(other.tenant, name="Theirs").pk
    definition = one({"field": "list", "op": "in", "value": [lists["A"], foreign]})
    assert problems(owner.tenant, definition) == ["conditions.0.value"]
    missing = one({"field": "subscribed_at", "op": "within_last_days", "value": 3, "list": 999999})
    assert problems(owner.tenant, missing) == ["conditions.0.list"]


INVALID = [
    ([], ["definition"]),
    ({"match": "some", "conditions": []}, ["match"]),
    ({"match": "all"}, ["conditions"]),
    ({"match": "all", "conditions": [], "sql": "SELECT 1"}, ["sql"]),
    (one("email"), ["conditions.0"]),
    (one({"field": "password", "op": "equals", "value": "x"}), ["conditions.0.field"]),
    (one({"op": "equals", "value": "x"}), ["conditions.0.field"]),
    (one({"field": "email", "op": "like", "value": "x"}), ["conditions.0.op"]),
    (one({"field": "email", "op": "greater_than", "value": "x"}), ["conditions.0.op"]),
    (one({"field": "attribute:Plan", "op": "is_set"}), ["conditions.0.field"]),
    (one({"field": "attribute:plan;drop", "op": "is_set"}), ["conditions.0.field"]),
    (one({"field": "attribute:a.b", "op": "is_set"}), ["conditions.0.field"]),
    (one({"field": "attribute:", "op": "is_set"}), ["conditions.0.field"]),
    (one({"field": "attribute:" + "a" * 65, "op": "is_set"}), ["conditions.0.field"]),
    (one({"field": "email", "op": "equals", "value": 5}), ["conditions.0.value"]),
    (one({"field": "email", "op": "equals", "value": ""}), ["conditions.0.value"]),
    (one({"field": "email", "op": "equals", "value": "x" * 501}), ["conditions.0.value"]),
    (one({"field": "email", "op": "equals"}), ["conditions.0.value"]),
    (one({"field": "name", "op": "is_empty", "value": "x"}), ["conditions.0.value"]),
    (one({"field": "attribute:age", "op": "greater_than", "value": "abc"}), ["conditions.0.value"]),
    (one({"field": "attribute:age", "op": "greater_than", "value": True}), ["conditions.0.value"]),
    (one({"field": "attribute:age", "op": "equals", "value": [1]}), ["conditions.0.value"]),
    (one({"field": "attribute:age", "op": "equals", "value": {"a": 1}}), ["conditions.0.value"]),
    (
        one({"field": "attribute:age", "op": "equals", "value": float("inf")}),
        ["conditions.0.value"],
    ),
    (one({"field": "attribute:age", "op": "contains", "value": 4}), ["conditions.0.value"]),
    (one({"field": "list", "op": "in", "value": "x"}), ["conditions.0.value"]),
    (one({"field": "list", "op": "in", "value": []}), ["conditions.0.value"]),
    (one({"field": "list", "op": "in", "value": [True]}), ["conditions.0.value"]),
    (one({"field": "list", "op": "in", "value": [2**64]}), ["conditions.0.value"]),
    (one({"field": "list", "op": "in", "value": 1, "status": ["any"]}), ["conditions.0.status"]),
    (
        one({"field": "list", "op": "in", "value": [999999], "status": "gone"}),
        ["conditions.0.status"],
    ),
    (one({"field": "created_at", "op": "before", "value": "2024-13-01"}), ["conditions.0.value"]),
    (one({"field": "created_at", "op": "within_last_days", "value": "7"}), ["conditions.0.value"]),
    (one({"field": "created_at", "op": "within_last_days", "value": 0}), ["conditions.0.value"]),
    (
        one({"field": "engagement", "op": "engaged_within_days", "value": True}),
        ["conditions.0.value"],
    ),
    (one({"field": "engagement", "op": "never_engaged", "value": 3}), ["conditions.0.value"]),
    (one({"field": "email", "op": "equals", "value": "a", "raw": "x"}), ["conditions.0.raw"]),
    (
        one({"field": "email", "op": "equals", "value": "a", "status": "any"}),
        ["conditions.0.status"],
    ),
    (
        {"match": "all", "conditions": [{"match": "any", "conditions": []}]},
        ["conditions.0.conditions"],
    ),
]


@pytest.mark.parametrize(("definition", "paths"), INVALID)
def test_invalid_definitions_are_refused_with_the_path(owner, definition, paths):
    """Unknown fields, operators and keys, odd attribute names and wrong values name their path."""
    assert problems(owner.tenant, definition) == paths


def test_every_problem_is_reported_with_its_own_path(owner):
    definition = {
        "match": "all",
        "conditions": [
            {"field": "email", "op": "contains", "value": "ok"},
            {"field": "email", "op": "equals", "value": 3},
            {"match": "any", "conditions": [{"field": "nope", "op": "equals", "value": 1}]},
        ],
    }
    assert problems(owner.tenant, definition) == [
        "conditions.1.value",
        "conditions.2.conditions.0.field",
    ]


def test_groups_nested_four_deep_are_refused(owner):
    innermost = {"match": "all", "conditions": [{"field": "name", "op": "is_empty"}]}
    definition = {
        "match": "all",
        "conditions": [
            {"match": "all", "conditions": [{"match": "all", "conditions": [innermost]}]}
        ],
    }
    assert problems(owner.tenant, definition) == ["conditions.0.conditions.0.conditions.0"]


def test_more_than_fifty_conditions_are_refused(owner):
    condition = {"field": "name", "op": "is_empty"}
    assert problems(owner.tenant, {"match": "any", "conditions": [condition] * 51}) == [
        "conditions"
    ]
    with tenant_scope(owner.tenant):
        assert check_definition({"match": "any", "conditions": [condition] * 50})


def test_create_segment_stores_the_checked_definition(owner, lists):
    """Repeated list ids are stored once; the name is trimmed."""
    definition = one({"field": "list", "op": "in", "value": [lists["A"], lists["A"]]})
    with tenant_scope(owner.tenant):
        segment = do_create_segment(owner.tenant, name="  Members of A ", definition=definition)
        stored = Segment.objects.values("name", "definition").get(pk=segment.pk)
    assert stored == {
        "name": "Members of A",
        "definition": one(
            {"field": "list", "op": "in", "value": [lists["A"]], "status": "subscribed"}
        ),
    }


def test_invalid_segment_is_not_saved_or_changed(owner, lists):
    """A refused definition or name leaves the segments as they were."""
    good = one({"field": "name", "op": "is_empty"})
    with tenant_scope(owner.tenant):
        with pytest.raises(InvalidSegment):
            do_create_segment(owner.tenant, name="Bad", definition=one({"field": "x"}))
        assert Segment.objects.count() == 0
        segment = do_create_segment(owner.tenant, name="Good", definition=good)
        with pytest.raises(InvalidSegment):
            do_update_segment(segment, name="Renamed", definition=one({"field": "x"}))
        with pytest.raises(Invalid):
            do_update_segment(segment, name="   ")
        assert list(Segment.objects.values_list("name", "definition")) == [("Good", good)]


def test_update_and_delete_segment(owner, lists):
    with tenant_scope(owner.tenant):
        segment = do_create_segment(
            owner.tenant, name="Old", definition=one({"field": "name", "op": "is_empty"})
        )
        do_update_segment(
            segment, definition=one({"field": "email", "op": "contains", "value": "b"})
        )
        assert Segment.objects.get().name == "Old"
        assert count_segment(Segment.objects.get().definition) == 1
        do_delete_segment(segment)
        assert Segment.objects.count() == 0
