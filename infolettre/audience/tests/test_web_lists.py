"""The list pages: the lists with their counts, one list's subscribers and settings, and deletion."""

import datetime
import html
import re

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from infolettre.accounts.tenancy import tenant_scope
from infolettre.audience.actions import do_create_contact, do_create_list, do_subscribe
from infolettre.audience.models import (
    ConsentBasis,
    Contact,
    MailingList,
    Subscription,
    SubscriptionStatus,
)

LISTS = reverse("audience:lists")
NOW = datetime.datetime(2026, 3, 2, 15, 0, tzinfo=datetime.UTC)


def make_list(owner, name="Infolettre mensuelle", **fields):
    with tenant_scope(owner.tenant):
        return do_create_list(owner.tenant, name=name, **fields)


def subscribe(owner, mailing_list, email, **kwargs):
    kwargs.setdefault("source", "test")
    with tenant_scope(owner.tenant):
        contact = Contact.objects.filter(email=email).first() or do_create_contact(
            owner.tenant, email=email, name=kwargs.pop("name", "")
        )
        return do_subscribe(contact, mailing_list, **kwargs)


def list_rows(owner):
    with tenant_scope(owner.tenant):
        return list(
            MailingList.objects.order_by("pk").values(
                "name", "description", "double_opt_in", "public_signup"
            )
        )


@pytest.fixture
def signed_in(client, owner):
    client.force_login(owner)
    return client


@pytest.mark.django_db
def test_lists_page_shows_each_list_with_its_counts(signed_in, owner):
    """Each list shows its number of subscribed, unconfirmed and soon-lapsing people."""
    news = make_list(owner, "Nouvelles")
    make_list(owner, "Promotions")
    subscribe(owner, news, "a@example.com")
    subscribe(owner, news, "b@example.com")
    subscribe(owner, news, "c@example.com", confirmed=False)
    response = signed_in.get(LISTS)
    page = response.content.decode()
    assert response.status_code == 200
    row = re.search(rf'<tr id="list-{news.pk}">(.*?)</tr>', page, re.S).group(1)
    assert [int(n) for n in re.findall(r"<td>(\d+)</td>", row)] == [2, 1, 0]
    assert "Promotions" in page


@pytest.mark.django_db
def test_pages_of_lists_need_a_signed_in_client(client, owner):
    """Without signing in, the list pages send to the sign-in page."""
    mailing_list = make_list(owner)
    for url in (LISTS, reverse("audience:list_detail", args=[mailing_list.pk])):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:login"))


@pytest.mark.django_db
def test_creating_a_list_saves_what_was_typed_and_opens_the_new_list(signed_in, owner):
    """The new list has the name, description and choices given, and its page opens."""
    response = signed_in.post(
        LISTS,
        {"name": " Clients fidèles ", "description": "Une fois par mois.", "public_signup": "on"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    created = MailingList.unscoped.get(tenant=owner.tenant)
    assert response.status_code == 302
    assert response["Location"] == reverse("audience:list_detail", args=[created.pk])
    assert list_rows(owner) == [
        {
            "name": "Clients fidèles",
            "description": "Une fois par mois.",
            "double_opt_in": False,
            "public_signup": True,
        }
    ]
    followed = signed_in.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en")
    assert "The list “Clients fidèles” is created." in followed.content.decode()


@pytest.mark.django_db
def test_a_duplicate_list_name_is_refused_beside_the_name_and_nothing_is_created(signed_in, owner):
    """A second list with a name already taken is refused, the message beside the name."""
    make_list(owner, "Nouvelles")
    before = list_rows(owner)
    response = signed_in.post(LISTS, {"name": "Nouvelles"}, HTTP_ACCEPT_LANGUAGE="en")
    page = response.content.decode()
    assert response.status_code == 400
    block = page[page.index('id="field-name"') :]
    assert "Another list already has this name." in block[: block.index("</div>")]
    assert list_rows(owner) == before


@pytest.mark.django_db
def test_a_list_without_a_name_is_refused(signed_in, owner):
    """A list needs a name; none is created without one."""
    response = signed_in.post(LISTS, {"name": "  ", "description": "x"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert list_rows(owner) == []


@pytest.mark.django_db
def test_the_same_list_name_is_free_in_another_organisation(signed_in, owner, make_client_user):
    """List names are unique within an organisation only."""
    other = make_client_user()
    make_list(other, "Nouvelles")
    response = signed_in.post(LISTS, {"name": "Nouvelles"})
    assert response.status_code == 302
    assert [row["name"] for row in list_rows(owner)] == ["Nouvelles"]


@pytest.mark.django_db
def test_list_page_shows_how_many_implied_consents_lapse_in_the_next_30_days(signed_in, owner):
    """The list page warns of the subscriptions whose implied consent lapses within 30 days."""
    mailing_list = make_list(owner)
    with time_machine.travel(NOW, tick=False):
        # Inquiries lapse after six months: these two lapse in 10 and 29 days, this one in 40.
        for email, days in (("a@example.com", 10), ("b@example.com", 29), ("c@example.com", 40)):
            consent_at = NOW - datetime.timedelta(days=183 - days)
            subscribe(
                owner,
                mailing_list,
                email,
                basis=ConsentBasis.IMPLIED_INQUIRY,
                consent_at=consent_at,
            )
        subscribe(owner, mailing_list, "d@example.com", basis=ConsentBasis.EXPRESS)
        response = signed_in.get(
            reverse("audience:list_detail", args=[mailing_list.pk]), HTTP_ACCEPT_LANGUAGE="en"
        )
        lapsing = signed_in.get(
            reverse("audience:list_detail", args=[mailing_list.pk]) + "?lapsing=1"
        )
    page = response.content.decode()
    warning = page[page.index('id="lapsing-warning"') :]
    warning = warning[: warning.index("</div>")]
    assert response.status_code == 200
    assert "2 subscriptions rest on implied consent that lapses in the next 30 days" in " ".join(
        warning.split()
    )
    shown = re.findall(
        r'<tr id="subscription-\d+">\s*<td><a [^>]+>([^<]+)</a>', lapsing.content.decode()
    )
    assert shown == ["a@example.com", "b@example.com"]


@pytest.mark.django_db
def test_list_page_shows_no_lapse_warning_when_nothing_lapses(signed_in, owner):
    """Without implied consent lapsing soon, no warning is shown."""
    mailing_list = make_list(owner)
    subscribe(owner, mailing_list, "a@example.com")
    response = signed_in.get(reverse("audience:list_detail", args=[mailing_list.pk]))
    assert 'id="lapsing-warning"' not in response.content.decode()


@pytest.mark.django_db
def test_list_page_lists_its_subscribers_50_per_page_and_searches_them(signed_in, owner):
    """The subscribers come 50 per page in address order, and the search box narrows them."""
    mailing_list = make_list(owner)
    for n in range(51):
        subscribe(owner, mailing_list, f"person{n:02d}@example.com", name=f"Person {n:02d}")
    subscribe(owner, mailing_list, "zoe@example.org", name="Zoé Roy")
    url = reverse("audience:list_detail", args=[mailing_list.pk])
    emails = re.compile(r'<tr id="subscription-\d+">\s*<td><a [^>]+>([^<]+)</a>')
    first = emails.findall(signed_in.get(url).content.decode())
    second = emails.findall(signed_in.get(url + "?page=2").content.decode())
    found = emails.findall(signed_in.get(url + "?q=zoé").content.decode())
    assert len(first) == 50
    assert first[0] == "person00@example.com"
    assert second == ["person50@example.com", "zoe@example.org"]
    assert found == ["zoe@example.org"]


@pytest.mark.django_db
def test_editing_a_list_saves_its_settings(signed_in, owner):
    """The settings form changes the name, description and both switches at once."""
    mailing_list = make_list(owner, "Nouvelles", double_opt_in=True, public_signup=False)
    url = reverse("audience:list_detail", args=[mailing_list.pk])
    response = signed_in.post(url, {"name": "Actualités", "public_signup": "on"})
    assert response.status_code == 302
    assert response["Location"] == url
    assert list_rows(owner) == [
        {"name": "Actualités", "description": "", "double_opt_in": False, "public_signup": True}
    ]


@pytest.mark.django_db
def test_renaming_a_list_to_another_lists_name_is_refused(signed_in, owner):
    """A list cannot take the name of another list; nothing changes."""
    make_list(owner, "Nouvelles")
    promotions = make_list(owner, "Promotions", description="Soldes")
    before = list_rows(owner)
    response = signed_in.post(
        reverse("audience:list_detail", args=[promotions.pk]),
        {"name": "Nouvelles", "description": "autre"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert "Another list already has this name." in page
    assert "<h1>Promotions</h1>" in page
    assert list_rows(owner) == before


@pytest.mark.django_db
def test_deleting_a_list_keeps_its_contacts(signed_in, owner):
    """Deleting a list removes it and its subscriptions; the contacts stay."""
    news = make_list(owner, "Nouvelles")
    other = make_list(owner, "Promotions")
    subscribe(owner, news, "a@example.com")
    kept = subscribe(owner, other, "a@example.com")
    response = signed_in.post(reverse("audience:list_delete", args=[news.pk]))
    assert response.status_code == 302
    assert response["Location"] == LISTS
    assert [row["name"] for row in list_rows(owner)] == ["Promotions"]
    assert list(Contact.unscoped.filter(tenant=owner.tenant).values_list("email", flat=True)) == [
        "a@example.com"
    ]
    assert list(Subscription.unscoped.filter(tenant=owner.tenant)) == [kept]


@pytest.mark.django_db
def test_deleting_a_list_needs_a_post(signed_in, owner):
    """Opening the delete address does not delete the list."""
    mailing_list = make_list(owner)
    response = signed_in.get(reverse("audience:list_delete", args=[mailing_list.pk]))
    assert response.status_code == 405
    assert MailingList.unscoped.filter(pk=mailing_list.pk).exists()


@pytest.mark.django_db
def test_list_page_links_to_import_and_export(signed_in, owner):
    """The list page links to its import and its CSV export."""
    mailing_list = make_list(owner)
    page = signed_in.get(reverse("audience:list_detail", args=[mailing_list.pk])).content.decode()
    assert f'href="{reverse("audience:import_start", args=[mailing_list.pk])}"' in page
    assert f'href="{reverse("audience:export_list", args=[mailing_list.pk])}"' in page


@pytest.mark.django_db
def test_list_page_gives_the_hosted_form_and_a_snippet_that_posts_to_it(signed_in, owner, settings):
    """With public sign-up on, the page shows the form's address and an HTML form posting to it."""
    mailing_list = make_list(owner, public_signup=True)
    hosted = settings.SITE_URL + reverse("audience:public_signup", args=[mailing_list.public_key])
    page = signed_in.get(reverse("audience:list_detail", args=[mailing_list.pk])).content.decode()
    snippet = re.search(
        r'<textarea id="id_signup_snippet"[^>]*readonly[^>]*>(.*?)</textarea>', page, re.S
    )
    form = html.unescape(snippet.group(1))
    assert f'value="{hosted}"' in page
    assert form.startswith(f'<form method="post" action="{hosted}"')
    assert '<input type="email"' in form
    assert 'name="name"' in form
    assert '<input type="checkbox" name="consent" value="yes" required>' in form
    assert 'name="website" tabindex="-1"' in form
    assert "<script" not in form


@pytest.mark.django_db
def test_list_page_has_no_signup_form_when_public_signup_is_off(signed_in, owner):
    """A list without public sign-up shows neither address nor snippet."""
    mailing_list = make_list(owner, public_signup=False)
    page = signed_in.get(reverse("audience:list_detail", args=[mailing_list.pk])).content.decode()
    assert "id_signup_snippet" not in page


@pytest.mark.django_db
def test_list_routes_answer_404_for_another_organisations_list(client, owner, make_client_user):
    """Another organisation's list cannot be seen, edited or deleted: 404, and nothing changes."""
    mailing_list = make_list(owner, "Nouvelles")
    stranger = make_client_user()
    client.force_login(stranger)
    before = list_rows(owner)
    detail = reverse("audience:list_detail", args=[mailing_list.pk])
    assert client.get(detail).status_code == 404
    assert client.post(detail, {"name": "Volée"}).status_code == 404
    assert client.post(reverse("audience:list_delete", args=[mailing_list.pk])).status_code == 404
    assert client.get(detail + "?page=2").status_code == 404
    assert list_rows(owner) == before


@pytest.mark.django_db
def test_an_unknown_list_id_is_a_404(signed_in):
    """A list id that exists nowhere is a 404."""
    assert signed_in.get(reverse("audience:list_detail", args=[999999])).status_code == 404


@pytest.mark.django_db
def test_lists_page_shows_only_the_organisations_own_lists(signed_in, owner, make_client_user):
    """Another organisation's lists never appear."""
    make_list(owner, "Les miennes")
    make_list(make_client_user(), "Les autres")
    page = signed_in.get(LISTS).content.decode()
    assert "Les miennes" in page
    assert "Les autres" not in page


@pytest.mark.django_db
def test_list_page_counts_only_current_subscribers(signed_in, owner):
    """The subscribed count leaves out the unconfirmed and the unsubscribed."""
    mailing_list = make_list(owner)
    subscribe(owner, mailing_list, "a@example.com")
    subscribe(owner, mailing_list, "b@example.com", confirmed=False)
    gone = subscribe(owner, mailing_list, "c@example.com")
    Subscription.unscoped.filter(pk=gone.pk).update(
        status=SubscriptionStatus.UNSUBSCRIBED, unsubscribed_at=timezone.now()
    )
    page = signed_in.get(reverse("audience:list_detail", args=[mailing_list.pk])).content.decode()
    counts = page[page.index('id="counts"') :]
    assert re.findall(r"<h2>(\d+)</h2>", counts)[:3] == ["1", "1", "0"]
