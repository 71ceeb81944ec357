"""The contact pages: search, creation with a list and its consent, correction, lists and deletion."""

import datetime
import re

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from infolettre.accounts.tenancy import tenant_scope
from infolettre.audience.actions import (
    do_create_contact,
    do_create_list,
    do_subscribe,
    do_suppress,
)
from infolettre.audience.models import (
    ConsentBasis,
    Contact,
    Subscription,
    SubscriptionStatus,
    SuppressionReason,
)

CONTACTS = reverse("audience:contacts")
NOW = datetime.datetime(2026, 3, 2, 15, 0, tzinfo=datetime.UTC)


@pytest.fixture
def signed_in(client, owner):
    client.force_login(owner)
    return client


def make_list(owner, name="Nouvelles", **fields):
    with tenant_scope(owner.tenant):
        return do_create_list(owner.tenant, name=name, **fields)


def make_contact(owner, email="marie@example.com", **fields):
    with tenant_scope(owner.tenant):
        return do_create_contact(owner.tenant, email=email, **fields)


def subscribe(owner, contact, mailing_list, **kwargs):
    kwargs.setdefault("source", "test")
    with tenant_scope(owner.tenant):
        return do_subscribe(contact, mailing_list, **kwargs)


def snapshot(owner):
    """Every contact and subscription of the organisation, as stored."""
    return (
        list(Contact.unscoped.filter(tenant=owner.tenant).order_by("pk").values()),
        list(Subscription.unscoped.filter(tenant=owner.tenant).order_by("pk").values()),
    )


def contact_form(**overrides):
    data = {"email": "marie@example.com", "name": "Marie Roy", "phone": "", "list": ""}
    data.update(overrides)
    return data


def field_error(page, name):
    block = page[page.index(f'id="field-{name}"') :]
    found = re.search(r'class="field-error"[^>]*>([^<]+)<', block)
    return found.group(1) if found else None


# The contacts page -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_contacts_page_lists_contacts_with_their_lists(signed_in, owner):
    """Each contact shows its address, name and the lists it is on."""
    news = make_list(owner, "Nouvelles")
    marie = make_contact(owner, name="Marie Roy")
    subscribe(owner, marie, news)
    response = signed_in.get(CONTACTS)
    page = response.content.decode()
    row = re.search(rf'<tr id="contact-{marie.pk}">(.*?)</tr>', page, re.S).group(1)
    assert response.status_code == 200
    assert "marie@example.com" in row
    assert "Marie Roy" in row
    assert "Nouvelles" in row


@pytest.mark.django_db
def test_contacts_page_searches_by_address_or_name_and_filters_by_list(signed_in, owner):
    """The search box matches addresses and names; the list filter keeps that list's contacts."""
    news = make_list(owner, "Nouvelles")
    marie = make_contact(owner, "marie@example.com", name="Marie Roy")
    make_contact(owner, "jean@example.org", name="Jean Tremblay")
    luc = make_contact(owner, "luc@example.net", name="Luc Roy")
    subscribe(owner, marie, news)
    emails = re.compile(r'<tr id="contact-\d+">\s*<td><a [^>]+>([^<]+)</a>')
    by_name = emails.findall(signed_in.get(CONTACTS + "?q=roy").content.decode())
    by_address = emails.findall(signed_in.get(CONTACTS + "?q=example.org").content.decode())
    on_list = emails.findall(signed_in.get(f"{CONTACTS}?list={news.pk}").content.decode())
    assert by_name == ["luc@example.net", "marie@example.com"]
    assert by_address == ["jean@example.org"]
    assert on_list == ["marie@example.com"]
    assert luc.pk not in [marie.pk]


@pytest.mark.django_db
def test_contacts_page_shows_50_contacts_per_page(signed_in, owner):
    """The contacts come 50 per page, and the search is kept from page to page."""
    for n in range(52):
        make_contact(owner, f"person{n:02d}@example.com")
    emails = re.compile(r'<tr id="contact-\d+">')
    first = signed_in.get(CONTACTS + "?q=person").content.decode()
    second = signed_in.get(CONTACTS + "?q=person&page=2").content.decode()
    assert len(emails.findall(first)) == 50
    assert len(emails.findall(second)) == 2
    assert 'href="?q=person&amp;page=2"' in first


@pytest.mark.django_db
def test_contacts_page_shows_only_the_organisations_own_contacts(
    signed_in, owner, make_client_user
):
    """Another organisation's contacts never appear, even when searched for."""
    make_contact(make_client_user(), "secret@example.com")
    page = signed_in.get(CONTACTS + "?q=secret").content.decode()
    assert "secret@example.com" not in page


# Creating a contact ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_creating_a_contact_without_a_list_saves_exactly_what_was_typed(signed_in, owner):
    """The address is normalised, the phone put in international form, the attributes kept."""
    response = signed_in.post(
        CONTACTS,
        {
            "email": " Marie@Example.COM ",
            "name": "Marie Roy",
            "phone": "514 555-0123",
            "attribute_key": ["city", "", "plan"],
            "attribute_value": ["Montréal", "", "or"],
            "list": "",
        },
    )
    contact = Contact.unscoped.get(tenant=owner.tenant)
    assert response.status_code == 302
    assert response["Location"] == reverse("audience:contact_detail", args=[contact.pk])
    assert (contact.email, contact.name, contact.phone, contact.attributes) == (
        "marie@example.com",
        "Marie Roy",
        "+15145550123",
        {"city": "Montréal", "plan": "or"},
    )
    assert Subscription.unscoped.filter(tenant=owner.tenant).count() == 0


@pytest.mark.django_db
def test_creating_a_contact_on_a_list_records_express_consent_and_its_proof(signed_in, owner):
    """Express consent is recorded with its source and words, and does not lapse."""
    news = make_list(owner)
    with time_machine.travel(NOW, tick=False):
        response = signed_in.post(
            CONTACTS,
            contact_form(
                list=str(news.pk),
                basis="express",
                source="Formulaire papier, Salon 2026",
                wording="Oui, je veux recevoir l'infolettre.",
            ),
        )
    subscription = Subscription.unscoped.get(tenant=owner.tenant)
    assert response.status_code == 302
    assert (
        subscription.mailing_list_id,
        subscription.contact.email,
        subscription.status,
        subscription.consent_basis,
        subscription.consent_at,
        subscription.consent_expires_at,
        subscription.consent_source,
        subscription.consent_wording,
    ) == (
        news.pk,
        "marie@example.com",
        SubscriptionStatus.SUBSCRIBED,
        ConsentBasis.EXPRESS,
        NOW,
        None,
        "Formulaire papier, Salon 2026",
        "Oui, je veux recevoir l'infolettre.",
    )


@pytest.mark.django_db
def test_implied_consent_from_an_inquiry_lapses_six_months_after_its_date(signed_in, owner):
    """An inquiry's date is the consent date, and consent lapses six months later."""
    news = make_list(owner)
    with time_machine.travel(NOW, tick=False):
        response = signed_in.post(
            CONTACTS,
            contact_form(
                list=str(news.pk),
                basis="implied_inquiry",
                consent_date="2026-01-15",
                source="Appel du 15 janvier",
            ),
        )
    subscription = Subscription.unscoped.get(tenant=owner.tenant)
    assert response.status_code == 302
    assert subscription.consent_basis == ConsentBasis.IMPLIED_INQUIRY
    assert timezone.localtime(subscription.consent_at).date() == datetime.date(2026, 1, 15)
    assert timezone.localtime(subscription.consent_expires_at).date() == datetime.date(2026, 7, 15)


@pytest.mark.django_db
def test_each_consent_basis_is_explained_beside_its_choice(signed_in):
    """The form explains each basis of consent in plain words, beside its radio button."""
    page = signed_in.get(CONTACTS, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    for value, words in (
        ("express", "It lasts until they unsubscribe."),
        ("implied_business", "You may mail them for two years after the date"),
        ("implied_inquiry", "You may mail them for six months after the date"),
    ):
        block = page[page.index(f'id="id_basis_{value}"') :]
        assert words in block[: block.index("</div>")]


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"email": "not-an-address"}, "email", "Enter a valid email address."),
        ({"email": ""}, "email", "This field is required."),
        (
            {"phone": "12"},
            "phone",
            "Enter a valid phone number, for example +1 514 555 0123.",
        ),
        (
            {"list": "999999", "basis": "express", "source": "x"},
            "list",
            "Choose one of your lists.",
        ),
        (
            {"list": "LIST", "basis": "implied_business", "source": "Facture 12"},
            "consent_date",
            "Give the date of the purchase, contract or inquiry: implied consent lapses from it.",
        ),
        (
            {
                "list": "LIST",
                "basis": "implied_inquiry",
                "consent_date": "2025-01-10",
                "source": "Appel",
            },
            "consent_date",
            "Implied consent from this date lapsed on 2025-07-10: this person may not be mailed "
            "without new consent.",
        ),
        (
            {"list": "LIST", "basis": "express", "consent_date": "2026-04-01", "source": "x"},
            "consent_date",
            "The date cannot be in the future.",
        ),
        ({"list": "LIST", "basis": "express", "source": ""}, "source", "This field is required."),
        (
            {"list": "LIST", "basis": "maybe", "source": "x"},
            "basis",
            "Choose how consent was obtained.",
        ),
    ],
)
@pytest.mark.django_db
def test_bad_contact_input_is_refused_beside_its_field_and_nothing_is_created(
    signed_in, owner, overrides, field, message
):
    """A bad address, phone, list, basis, date or missing source is named; nothing is saved."""
    news = make_list(owner)
    overrides = {k: (str(news.pk) if v == "LIST" else v) for k, v in overrides.items()}
    before = snapshot(owner)
    with time_machine.travel(NOW, tick=False):
        response = signed_in.post(CONTACTS, contact_form(**overrides), HTTP_ACCEPT_LANGUAGE="en")
    page = response.content.decode()
    assert response.status_code == 400
    assert field_error(page, field) == message
    assert snapshot(owner) == before


@pytest.mark.django_db
def test_a_duplicate_address_is_refused_and_nothing_changes(signed_in, owner):
    """A second contact with an address already there is refused beside the address."""
    make_contact(owner, "marie@example.com", name="Marie")
    before = snapshot(owner)
    response = signed_in.post(
        CONTACTS, contact_form(email="MARIE@example.com", name="Autre"), HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 400
    assert field_error(response.content.decode(), "email") == "A contact already has this address."
    assert snapshot(owner) == before


@pytest.mark.django_db
def test_a_suppressed_address_cannot_be_put_on_a_list(signed_in, owner):
    """Adding a suppressed address to a list is refused with the suppression message."""
    news = make_list(owner)
    do_suppress(owner.tenant, "marie@example.com", SuppressionReason.UNSUBSCRIBED)
    before = snapshot(owner)
    response = signed_in.post(
        CONTACTS,
        contact_form(list=str(news.pk), basis="express", source="x"),
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400
    assert field_error(response.content.decode(), "email") == (
        "This address is on your suppression list: it will not be mailed again."
    )
    assert snapshot(owner) == before


@pytest.mark.django_db
def test_another_organisations_list_cannot_be_chosen(signed_in, owner, make_client_user):
    """A list id of another organisation is refused like an unknown one."""
    theirs = make_list(make_client_user(), "Leur liste")
    response = signed_in.post(
        CONTACTS,
        contact_form(list=str(theirs.pk), basis="express", source="x"),
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400
    assert field_error(response.content.decode(), "list") == "Choose one of your lists."
    assert Contact.unscoped.count() == 0
    assert Subscription.unscoped.count() == 0


@pytest.mark.django_db
def test_a_bad_attribute_name_is_refused_and_the_rows_are_shown_again(signed_in, owner):
    """An attribute name with spaces is refused; what was typed comes back in the rows."""
    response = signed_in.post(
        CONTACTS,
        contact_form(attribute_key=["ville natale"], attribute_value=["Québec"]),
        HTTP_ACCEPT_LANGUAGE="en",
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert "“ville natale” is not a valid attribute name" in page
    assert 'value="ville natale"' in page
    assert Contact.unscoped.count() == 0


# One contact -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_contact_page_shows_each_subscription_with_its_consent_and_lapse_date(signed_in, owner):
    """Each list shows the status, the basis, the consent date and the date consent lapses."""
    news = make_list(owner, "Nouvelles")
    marie = make_contact(owner)
    consent_at = datetime.datetime(2026, 1, 15, 17, 0, tzinfo=datetime.UTC)
    with time_machine.travel(NOW, tick=False):
        subscription = subscribe(
            owner, marie, news, basis=ConsentBasis.IMPLIED_BUSINESS, consent_at=consent_at
        )
        response = signed_in.get(
            reverse("audience:contact_detail", args=[marie.pk]), HTTP_ACCEPT_LANGUAGE="en"
        )
    page = response.content.decode()
    row = re.search(rf'<tr id="subscription-{subscription.pk}">(.*?)</tr>', page, re.S).group(1)
    assert response.status_code == 200
    assert "Subscribed" in row
    assert "Implied: existing business relationship (2 years)" in row
    assert "Jan. 15, 2026" in row
    assert "Jan. 15, 2028" in row
    assert reverse("audience:subscription_unsubscribe", args=[subscription.pk]) in row


@pytest.mark.django_db
def test_correcting_a_contact_saves_the_new_details(signed_in, owner):
    """The address, name, phone and attributes can all be corrected."""
    marie = make_contact(owner, name="Marie", phone="+15145550123", attributes={"city": "Laval"})
    response = signed_in.post(
        reverse("audience:contact_detail", args=[marie.pk]),
        {
            "email": "marie.roy@example.com",
            "name": "Marie Roy",
            "phone": "+1 418 555 0199",
            "attribute_key": ["city", "since"],
            "attribute_value": ["Québec", "2020"],
        },
    )
    marie.refresh_from_db()
    assert response.status_code == 302
    assert (marie.email, marie.name, marie.phone, marie.attributes) == (
        "marie.roy@example.com",
        "Marie Roy",
        "+14185550199",
        {"city": "Québec", "since": "2020"},
    )


@pytest.mark.django_db
def test_an_unchanged_attribute_keeps_its_stored_type(signed_in, owner):
    """A number or a boolean stored by an import stays one when the row is saved unchanged."""
    marie = make_contact(owner, attributes={"orders": 12, "vip": True, "city": "Laval"})
    signed_in.post(
        reverse("audience:contact_detail", args=[marie.pk]),
        {
            "email": marie.email,
            "attribute_key": ["orders", "vip", "city"],
            "attribute_value": ["12", "true", "Lévis"],
        },
    )
    marie.refresh_from_db()
    assert marie.attributes == {"orders": 12, "vip": True, "city": "Lévis"}


@pytest.mark.django_db
def test_emptying_an_attribute_row_removes_the_attribute(signed_in, owner):
    """A row emptied of name and value removes that attribute."""
    marie = make_contact(owner, attributes={"city": "Laval", "plan": "or"})
    signed_in.post(
        reverse("audience:contact_detail", args=[marie.pk]),
        {"email": marie.email, "attribute_key": ["city", ""], "attribute_value": ["Laval", ""]},
    )
    marie.refresh_from_db()
    assert marie.attributes == {"city": "Laval"}


@pytest.mark.django_db
def test_correcting_to_another_contacts_address_is_refused(signed_in, owner):
    """A contact cannot take an address another contact has; nothing changes."""
    marie = make_contact(owner, "marie@example.com")
    make_contact(owner, "jean@example.com")
    before = snapshot(owner)
    response = signed_in.post(
        reverse("audience:contact_detail", args=[marie.pk]),
        {"email": "jean@example.com", "name": "Changé"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert field_error(page, "email") == "A contact already has this address."
    assert "<h1>marie@example.com</h1>" in page
    assert snapshot(owner) == before


@pytest.mark.django_db
def test_correcting_to_a_suppressed_address_is_refused(signed_in, owner):
    """A contact's address cannot be changed to one on the suppression list."""
    marie = make_contact(owner, "marie@example.com")
    do_suppress(owner.tenant, "ancien@example.com")
    before = snapshot(owner)
    response = signed_in.post(
        reverse("audience:contact_detail", args=[marie.pk]),
        {"email": "ancien@example.com"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400
    assert field_error(response.content.decode(), "email") == (
        "This address is on your suppression list: it will not be mailed again."
    )
    assert snapshot(owner) == before


@pytest.mark.django_db
def test_a_bad_phone_on_correction_is_refused(signed_in, owner):
    """A phone that is not a valid number is refused; nothing changes."""
    marie = make_contact(owner)
    before = snapshot(owner)
    response = signed_in.post(
        reverse("audience:contact_detail", args=[marie.pk]),
        {"email": marie.email, "phone": "555"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert field_error(page, "phone") == "Enter a valid phone number, for example +1 514 555 0123."
    assert 'name="phone"\n      type="tel"\n      value="555"' in page
    assert snapshot(owner) == before


@pytest.mark.django_db
def test_adding_a_contact_to_another_list_records_the_consent(signed_in, owner):
    """The add-to-list form subscribes the contact with the basis and proof given."""
    news = make_list(owner, "Nouvelles")
    promotions = make_list(owner, "Promotions")
    marie = make_contact(owner)
    subscribe(owner, marie, news)
    with time_machine.travel(NOW, tick=False):
        response = signed_in.post(
            reverse("audience:contact_subscribe", args=[marie.pk]),
            {
                "list": str(promotions.pk),
                "basis": "implied_business",
                "consent_date": "2025-11-20",
                "source": "Facture 1234",
            },
        )
    added = Subscription.unscoped.get(contact=marie, mailing_list=promotions)
    assert response.status_code == 302
    assert response["Location"] == reverse("audience:contact_detail", args=[marie.pk])
    assert (added.status, added.consent_basis, added.consent_source) == (
        SubscriptionStatus.SUBSCRIBED,
        ConsentBasis.IMPLIED_BUSINESS,
        "Facture 1234",
    )
    assert timezone.localtime(added.consent_expires_at).date() == datetime.date(2027, 11, 20)


@pytest.mark.django_db
def test_the_add_to_list_form_offers_only_the_lists_the_contact_is_not_on(signed_in, owner):
    """The list choices leave out the lists the contact is already on."""
    news = make_list(owner, "Nouvelles")
    make_list(owner, "Promotions")
    marie = make_contact(owner)
    subscribe(owner, marie, news)
    page = signed_in.get(reverse("audience:contact_detail", args=[marie.pk])).content.decode()
    select = page[page.index('id="id_list"') :]
    select = select[: select.index("</select>")]
    assert re.findall(r'<option value="\d+"[^>]*>([^<]+)</option>', select) == ["Promotions"]


@pytest.mark.django_db
def test_adding_a_contact_to_a_list_they_are_on_is_refused(signed_in, owner):
    """A second subscription to the same list is refused and the first is unchanged."""
    news = make_list(owner)
    marie = make_contact(owner)
    subscribe(owner, marie, news)
    before = snapshot(owner)
    response = signed_in.post(
        reverse("audience:contact_subscribe", args=[marie.pk]),
        {"list": str(news.pk), "basis": "express", "source": "x"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400
    assert "This contact is already on this list." in response.content.decode()
    assert snapshot(owner) == before


@pytest.mark.django_db
def test_a_suppressed_contact_cannot_be_added_to_a_list(signed_in, owner):
    """A contact whose address is suppressed is not subscribed; the page says why."""
    news = make_list(owner)
    marie = make_contact(owner)
    do_suppress(owner.tenant, marie.email)
    before = snapshot(owner)
    response = signed_in.post(
        reverse("audience:contact_subscribe", args=[marie.pk]),
        {"list": str(news.pk), "basis": "express", "source": "x"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 409
    assert "This address is on your suppression list: it will not be mailed again." in (
        response.content.decode()
    )
    assert snapshot(owner) == before


@pytest.mark.django_db
def test_adding_to_an_unknown_list_is_refused(signed_in, owner):
    """An unknown list id in the add-to-list form is refused; nothing changes."""
    marie = make_contact(owner)
    before = snapshot(owner)
    response = signed_in.post(
        reverse("audience:contact_subscribe", args=[marie.pk]),
        {"list": "999999", "basis": "express", "source": "x"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400
    assert field_error(response.content.decode(), "list") == "Choose one of your lists."
    assert snapshot(owner) == before


@pytest.mark.django_db
def test_unsubscribing_a_contact_from_one_list_keeps_the_others(signed_in, owner):
    """The unsubscribe button leaves that list only, at once."""
    news = make_list(owner, "Nouvelles")
    promotions = make_list(owner, "Promotions")
    marie = make_contact(owner)
    left = subscribe(owner, marie, news)
    kept = subscribe(owner, marie, promotions)
    with time_machine.travel(NOW, tick=False):
        response = signed_in.post(reverse("audience:subscription_unsubscribe", args=[left.pk]))
    left.refresh_from_db()
    kept.refresh_from_db()
    assert response.status_code == 302
    assert response["Location"] == reverse("audience:contact_detail", args=[marie.pk])
    assert (left.status, left.unsubscribed_at) == (SubscriptionStatus.UNSUBSCRIBED, NOW)
    assert kept.status == SubscriptionStatus.SUBSCRIBED


@pytest.mark.django_db
def test_unsubscribing_from_the_list_page_returns_to_it(signed_in, owner):
    """An unsubscribe from the list's page comes back to that page."""
    news = make_list(owner)
    subscription = subscribe(owner, make_contact(owner), news)
    back = reverse("audience:list_detail", args=[news.pk]) + "?q=marie"
    response = signed_in.post(
        reverse("audience:subscription_unsubscribe", args=[subscription.pk]), {"next": back}
    )
    assert response["Location"] == back
    response = signed_in.post(
        reverse("audience:subscription_unsubscribe", args=[subscription.pk]),
        {"next": "https://evil.example/"},
    )
    assert response["Location"] == reverse(
        "audience:contact_detail", args=[subscription.contact_id]
    )


@pytest.mark.django_db
def test_deleting_a_contact_removes_it_and_its_subscriptions(signed_in, owner):
    """The delete button removes the contact and its subscriptions; the lists stay."""
    news = make_list(owner)
    marie = make_contact(owner)
    jean = make_contact(owner, "jean@example.com")
    subscribe(owner, marie, news)
    kept = subscribe(owner, jean, news)
    response = signed_in.post(reverse("audience:contact_delete", args=[marie.pk]))
    assert response.status_code == 302
    assert response["Location"] == CONTACTS
    assert list(Contact.unscoped.filter(tenant=owner.tenant)) == [jean]
    assert list(Subscription.unscoped.filter(tenant=owner.tenant)) == [kept]


@pytest.mark.django_db
def test_deleting_a_contact_needs_a_post(signed_in, owner):
    """Opening the delete address deletes nothing."""
    marie = make_contact(owner)
    assert signed_in.get(reverse("audience:contact_delete", args=[marie.pk])).status_code == 405
    assert Contact.unscoped.filter(pk=marie.pk).exists()


@pytest.mark.django_db
def test_contact_routes_answer_404_for_another_organisations_objects(
    client, owner, make_client_user
):
    """Another organisation's contact and subscription ids give 404 on every route; nothing changes."""
    news = make_list(owner)
    marie = make_contact(owner)
    subscription = subscribe(owner, marie, news)
    stranger = make_client_user()
    mine = make_list(stranger, "Ma liste")
    client.force_login(stranger)
    before = snapshot(owner)
    detail = reverse("audience:contact_detail", args=[marie.pk])
    assert client.get(detail).status_code == 404
    assert client.post(detail, {"email": "vol@example.com"}).status_code == 404
    assert client.post(reverse("audience:contact_delete", args=[marie.pk])).status_code == 404
    assert (
        client.post(
            reverse("audience:contact_subscribe", args=[marie.pk]),
            {"list": str(mine.pk), "basis": "express", "source": "x"},
        ).status_code
        == 404
    )
    assert (
        client.post(
            reverse("audience:subscription_unsubscribe", args=[subscription.pk])
        ).status_code
        == 404
    )
    assert snapshot(owner) == before
    assert Subscription.unscoped.filter(mailing_list=mine).count() == 0
