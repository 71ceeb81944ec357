"""The preference centre of a message's footer: a recipient sees and manages their lists and details."""

import email
import logging
import re
from email.policy import default as default_policy

import pytest
from django.test import Client

from infolettre.accounts.tenancy import tenant_scope
from infolettre.audience.actions import (
    do_create_contact,
    do_create_list,
    do_delete_contact,
    do_subscribe,
    do_suppress,
    do_unsubscribe_from_list,
)
from infolettre.audience.models import (
    ConsentBasis,
    Contact,
    Subscription,
    SubscriptionStatus,
    Suppression,
    SuppressionReason,
)
from infolettre.campaigns.actions import do_launch_campaign
from infolettre.campaigns.models import Campaign, Delivery, SenderAddress
from infolettre.campaigns.preferences import SOURCE
from infolettre.campaigns.tests.test_unsubscribe import make_delivery, tenant_contact, tenant_list
from infolettre.campaigns.unsubscribe import do_unsubscribe_recipient, make_token

SITE = "http://127.0.0.1:8000"


def snapshot():
    """Every row the preference centre may change."""
    return (
        list(Suppression.unscoped.order_by("pk").values()),
        list(Subscription.unscoped.order_by("pk").values()),
        list(Contact.unscoped.order_by("pk").values()),
    )


def statuses(tenant):
    with tenant_scope(tenant):
        return dict(Subscription.objects.values_list("mailing_list__name", "status").order_by("pk"))


def suppressed(tenant):
    return list(
        Suppression.unscoped.filter(tenant=tenant).values_list("email", "reason").order_by("pk")
    )


def list_id(tenant, name):
    with tenant_scope(tenant):
        return tenant_list(tenant, name).pk


def notice(response):
    return response.context["notice"]


@pytest.fixture
def delivery(owner):
    """Jeanne, on News and Events of the owner's organisation, was sent a campaign to News."""
    delivery = make_delivery(owner.tenant, "jeanne.roy@example.com", lists=["News"])
    with tenant_scope(owner.tenant):
        contact = tenant_contact(owner.tenant, "jeanne.roy@example.com")
        contact.name = "Jeanne Roy"
        contact.attributes = {"city": "Montréal", "age": 41, "member": True, "score": 2.5}
        contact.save()
        do_subscribe(contact, tenant_list(owner.tenant, "Events"), source="test")
    return delivery


@pytest.fixture
def url(delivery):
    return f"/u/{make_token(delivery)}/preferences/"


def test_the_page_lists_exactly_the_contacts_lists_of_its_organisation(
    client, owner, make_client_user, delivery, url
):
    """Subscribed, pending and left lists of this client appear; another client's never do."""
    other = make_client_user(company_name="Autre Compagnie")
    with tenant_scope(other.tenant):
        twin = do_create_contact(other.tenant, email="jeanne.roy@example.com", name="J. Roy")
        do_subscribe(twin, do_create_list(other.tenant, name="Liste secrète"), source="test")
    with tenant_scope(owner.tenant):
        contact = tenant_contact(owner.tenant, "jeanne.roy@example.com")
        do_subscribe(contact, tenant_list(owner.tenant, "Pending"), source="t", confirmed=False)
        do_unsubscribe_from_list(contact.subscriptions.get(mailing_list__name="Events"))
        tenant_list(owner.tenant, "Not hers")
    before = snapshot()

    response = client.get(url)

    assert response.status_code == 200
    rows = response.context["subscriptions"]
    assert [(r["mailing_list"].name, r["subscription"].status) for r in rows] == [
        ("Events", SubscriptionStatus.UNSUBSCRIBED),
        ("News", SubscriptionStatus.SUBSCRIBED),
        ("Pending", SubscriptionStatus.UNCONFIRMED),
    ]
    assert [r["can_rejoin"] for r in rows] == [True, False, False]
    html = response.content.decode()
    assert "Liste secrète" not in html and "Autre Compagnie" not in html
    assert "Not hers" not in html
    assert "J. Roy" not in html
    assert "Abonné" in html and "Désabonné" in html
    assert owner.tenant.name in html and "news@example.org" in html
    assert 'value="Jeanne Roy"' in html and 'value="Montréal"' in html
    assert "j***@example.com" in html
    assert snapshot() == before


def test_the_page_sets_no_cookie_is_never_cached_and_leaks_no_referrer(client, delivery, url):
    """No sign-in, no cookie, never cached, no Referer; the same after a change."""
    for response in (client.get(url), client.post(url, {"action": "withdraw"})):
        assert response.status_code == 200
        assert response.cookies == {}
        assert response["Cache-Control"].startswith("max-age=0")
        assert "no-store" in response["Cache-Control"]
        assert response["Referrer-Policy"] == "no-referrer"


def test_the_forms_need_no_csrf_token(owner, delivery, url):
    """The signed token protects the forms: a strict CSRF client without cookie still acts."""
    client = Client(enforce_csrf_checks=True)
    response = client.post(url, {"action": "leave", "list": list_id(owner.tenant, "News")})
    assert response.status_code == 200
    assert statuses(owner.tenant)["News"] == SubscriptionStatus.UNSUBSCRIBED


def test_leaving_a_list_leaves_only_that_list_and_is_idempotent(client, owner, delivery, url):
    """Leave News: Events stays, no suppression; leaving again changes nothing more."""
    body = {"action": "leave", "list": list_id(owner.tenant, "News")}
    response = client.post(url, body)
    assert response.status_code == 200
    assert notice(response) == {
        "level": "success",
        "text": "Vous avez quitté la liste « News » : elle ne vous envoie plus rien.",
    }
    assert statuses(owner.tenant) == {"News": "unsubscribed", "Events": "subscribed"}
    assert suppressed(owner.tenant) == []
    before = snapshot()
    assert client.post(url, body).status_code == 200
    assert snapshot() == before


def test_rejoining_records_a_new_express_consent_with_the_words_of_the_button(
    client, owner, delivery, url
):
    """A list left is rejoined at once, with source "preference centre" and the button's words."""
    news = list_id(owner.tenant, "News")
    client.post(url, {"action": "leave", "list": news})
    page = client.get(url).content.decode()
    wording = "Oui, envoyez-moi de nouveau les messages de la liste « News »"
    assert f">{wording}</button>" in page

    response = client.post(url, {"action": "rejoin", "list": news})

    assert response.status_code == 200
    assert notice(response)["text"] == "Vous êtes de nouveau sur la liste « News »."
    subscription = Subscription.unscoped.get(mailing_list_id=news)
    assert subscription.status == SubscriptionStatus.SUBSCRIBED
    assert subscription.consent_basis == ConsentBasis.EXPRESS
    assert subscription.consent_source == SOURCE == "preference centre"
    assert subscription.consent_wording == wording
    assert subscription.unsubscribed_at is None
    before = snapshot()
    assert client.post(url, {"action": "rejoin", "list": news}).status_code == 200
    assert snapshot() == before


def test_rejoining_after_ones_own_unsubscribe_lifts_it_and_keeps_the_other_lists_stopped(
    client, owner, delivery, url
):
    """The unsubscribe link stopped everything; rejoining Events restarts Events and nothing else."""
    do_unsubscribe_recipient(delivery, source="page")
    assert statuses(owner.tenant) == {"News": "unsubscribed", "Events": "subscribed"}
    assert suppressed(owner.tenant) == [("jeanne.roy@example.com", "unsubscribed")]
    page = client.get(url)
    assert page.context["stopped"] is True
    assert [r["can_rejoin"] for r in page.context["subscriptions"]] == [True, True]

    response = client.post(url, {"action": "rejoin", "list": list_id(owner.tenant, "Events")})

    assert response.status_code == 200
    assert notice(response)["text"] == (
        "Vous êtes de nouveau sur la liste « Events ». "
        "Vos autres listes restent arrêtées tant que vous ne les rejoignez pas aussi."
    )
    assert suppressed(owner.tenant) == []
    assert statuses(owner.tenant) == {"News": "unsubscribed", "Events": "subscribed"}
    events = Subscription.unscoped.get(mailing_list__name="Events")
    assert (events.consent_source, events.consent_basis) == (SOURCE, ConsentBasis.EXPRESS)


@pytest.mark.parametrize(
    ("reason", "words"),
    [
        (SuppressionReason.BOUNCED, "refusés par votre serveur de courriel"),
        (SuppressionReason.COMPLAINED, "signalé comme indésirable"),
        (SuppressionReason.MANUAL, "l’organisation elle-même"),
    ],
)
def test_rejoining_is_refused_when_the_address_was_blocked_for_another_reason(
    client, owner, delivery, url, reason, words
):
    """A bounce, a complaint or the client's own block is never lifted from this page."""
    news = list_id(owner.tenant, "News")
    client.post(url, {"action": "leave", "list": news})
    do_suppress(owner.tenant, "jeanne.roy@example.com", reason)
    page = client.get(url)
    assert [r["can_rejoin"] for r in page.context["subscriptions"]] == [False, False]
    assert words in page.content.decode()
    before = snapshot()

    response = client.post(url, {"action": "rejoin", "list": news})

    assert response.status_code == 409
    assert notice(response)["level"] == "error"
    assert words in notice(response)["text"]
    assert snapshot() == before
    assert suppressed(owner.tenant) == [("jeanne.roy@example.com", reason)]


def test_the_page_says_which_suppressions_can_be_undone_here(client, url):
    """The page explains that only one's own unsubscribe is undone, never a bounce or complaint."""
    html = client.get(url).content.decode()
    assert "Seul un désabonnement fait par vous peut être annulé ici" in html


def test_correcting_the_name_and_attributes_keeps_their_types_and_is_idempotent(
    client, owner, delivery, url
):
    """A changed number stays a number, a yes/no a boolean; unchanged rows keep their values."""
    body = {
        "action": "correct",
        "name": "  Jeanne Roy-Tremblay ",
        "attribute_key": ["city", "age", "member", "score", "favourite_colour", ""],
        "attribute_value": ["Québec", "42", "non", "3,5", "bleu", ""],
    }
    response = client.post(url, body)
    assert response.status_code == 200
    assert notice(response) == {"level": "success", "text": "Vos renseignements sont enregistrés."}
    contact = Contact.unscoped.get(email="jeanne.roy@example.com", tenant=owner.tenant)
    assert contact.name == "Jeanne Roy-Tremblay"
    assert contact.attributes == {
        "city": "Québec",
        "age": 42,
        "member": False,
        "score": 3.5,
        "favourite_colour": "bleu",
    }
    before = snapshot()
    client.post(url, body)
    assert snapshot() == before


def test_a_request_without_the_attribute_rows_keeps_the_attributes(client, owner, delivery, url):
    """Only the name sent: the attributes stay as stored; nothing sent at all changes nothing."""
    assert client.post(url, {"action": "correct", "name": "Jeanne R."}).status_code == 200
    contact = Contact.unscoped.get(email="jeanne.roy@example.com", tenant=owner.tenant)
    assert contact.name == "Jeanne R."
    assert contact.attributes == {"city": "Montréal", "age": 41, "member": True, "score": 2.5}
    before = snapshot()
    assert client.post(url, {"action": "correct"}).status_code == 200
    assert snapshot() == before


def test_an_attribute_row_emptied_is_removed(client, owner, delivery, url):
    """Emptying a row's name and value removes that detail; the others stay as stored."""
    body = {
        "action": "correct",
        "name": "Jeanne Roy",
        "attribute_key": ["city", "", "member", "score"],
        "attribute_value": ["Montréal", "", "true", "2.5"],
    }
    assert client.post(url, body).status_code == 200
    contact = Contact.unscoped.get(email="jeanne.roy@example.com", tenant=owner.tenant)
    assert contact.attributes == {"city": "Montréal", "member": True, "score": 2.5}


@pytest.mark.parametrize(
    ("keys", "values", "message"),
    [
        (["Ville natale"], ["Québec"], "n’est pas un nom d’attribut valide"),
        (["city", "city"], ["Québec", "Laval"], "est donné deux fois"),
        (["age"], ["quarante"], "La valeur de « age » doit être un nombre entier."),
        (["member"], ["peut-être"], "La valeur de « member » doit être oui ou non."),
        (["score"], ["beaucoup"], "La valeur de « score » doit être un nombre."),
        (["city"], ["x" * 501], "dépasse 500 caractères"),
        ([f"key_{n}" for n in range(51)], ["v"] * 51, "Gardez au plus 50 attributs."),
    ],
)
def test_an_invalid_attribute_is_refused_and_nothing_changes(
    client, delivery, url, keys, values, message
):
    """A bad name, a twice-given name, a value not of its type, too long or too many: refused."""
    before = snapshot()
    body = {"action": "correct", "name": "Autre", "attribute_key": keys, "attribute_value": values}
    response = client.post(url, body)
    assert response.status_code == 400
    assert notice(response) == {
        "level": "error",
        "text": "Rien n’a été changé : vérifiez les champs ci-dessous.",
    }
    assert message in response.context["attributes_error"]
    html = response.content.decode()
    assert 'value="Autre"' in html  # what was typed is shown again
    assert snapshot() == before


def test_a_name_too_long_is_refused(client, delivery, url):
    """The name keeps the contact page's limit of 200 characters."""
    before = snapshot()
    response = client.post(url, {"action": "correct", "name": "x" * 201})
    assert response.status_code == 400
    assert response.context["name_error"] == "Utilisez au plus 200 caractères."
    assert snapshot() == before


def test_the_address_cannot_be_changed_here_and_the_page_says_how(client, owner, delivery, url):
    """An email field sent back is ignored; the page explains leaving and signing up again."""
    client.post(url, {"action": "correct", "name": "Jeanne", "email": "autre@example.com"})
    assert Contact.unscoped.filter(email="jeanne.roy@example.com", name="Jeanne").count() == 1
    html = client.get(url).content.decode()
    assert 'name="email"' not in html
    assert "inscrivez-vous de nouveau avec la nouvelle adresse" in html


def test_withdrawing_everything_leaves_every_list_and_suppresses_for_this_client_only(
    client, owner, make_client_user, delivery, url
):
    """Every list of this client is left and the address suppressed here; another client's stays."""
    other = make_client_user()
    with tenant_scope(other.tenant):
        twin = do_create_contact(other.tenant, email="jeanne.roy@example.com")
        do_subscribe(twin, do_create_list(other.tenant, name="Ailleurs"), source="test")

    response = client.post(url, {"action": "withdraw"})

    assert response.status_code == 200
    assert notice(response)["text"] == (
        f"Votre consentement est retiré pour tout : {owner.tenant.name} ne vous enverra plus "
        "aucun message à cette adresse. Cela prend effet immédiatement."
    )
    assert statuses(owner.tenant) == {"News": "unsubscribed", "Events": "unsubscribed"}
    assert suppressed(owner.tenant) == [("jeanne.roy@example.com", "unsubscribed")]
    assert statuses(other.tenant) == {"Ailleurs": "subscribed"}
    assert suppressed(other.tenant) == []
    before = snapshot()
    assert client.post(url, {"action": "withdraw"}).status_code == 200
    assert snapshot() == before


def test_another_clients_list_or_an_unknown_change_is_refused(
    client, owner, make_client_user, delivery, url
):
    """A list id of another client, a list the person is not on, or a bad action change nothing."""
    other = make_client_user()
    with tenant_scope(other.tenant):
        twin = do_create_contact(other.tenant, email="jeanne.roy@example.com")
        foreign = do_create_list(other.tenant, name="Ailleurs")
        do_subscribe(twin, foreign, source="test")
        do_unsubscribe_from_list(twin.subscriptions.get())
    not_hers = list_id(owner.tenant, "Not hers")
    before = snapshot()
    for body in (
        {"action": "rejoin", "list": foreign.pk},
        {"action": "leave", "list": foreign.pk},
        {"action": "rejoin", "list": not_hers},
        {"action": "leave", "list": "abc"},
        {"action": "leave"},
        {"action": "delete_everything"},
    ):
        response = client.post(url, body)
        assert response.status_code == 400, body
        assert notice(response)["level"] == "error"
    assert snapshot() == before


def test_a_tampered_token_gets_the_unsubscribe_pages_400_and_changes_nothing(client, delivery, url):
    """One character changed: the same clear 400 page as the unsubscribe link, for GET and POST."""
    token = make_token(delivery)
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    before = snapshot()
    for response in (
        client.get(f"/u/{tampered}/preferences/", HTTP_ACCEPT_LANGUAGE="en"),
        client.post(f"/u/{tampered}/preferences/", {"action": "withdraw"}),
        client.post(f"/u/{tampered}/preferences/", {"action": "correct", "name": "X"}),
    ):
        assert response.status_code == 400
        assert response.templates[0].name == "campaigns/unsubscribe_invalid.html"
        assert response["Referrer-Policy"] == "no-referrer"
    assert (
        "This unsubscribe link is damaged."
        in client.get(f"/u/{tampered}/preferences/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    )
    assert snapshot() == before


def test_an_erased_contact_is_told_nothing_is_held_but_the_suppression(
    client, owner, delivery, url
):
    """After erasure only the suppression remains, and the page says so; nothing can be changed."""
    do_unsubscribe_recipient(delivery, source="page")
    with tenant_scope(owner.tenant):
        do_delete_contact(tenant_contact(owner.tenant, "jeanne.roy@example.com"))
    response = client.get(url)
    assert response.status_code == 200
    assert response.templates[0].name == "campaigns/preferences_erased.html"
    html = response.content.decode()
    assert "ne détient plus rien sur vous, sauf votre adresse" in html
    assert "Jeanne Roy" not in html and "<button" not in html
    before = snapshot()
    response = client.post(url, {"action": "correct", "name": "Jeanne"})
    assert response.status_code == 400
    assert snapshot() == before


def test_an_erased_contact_not_suppressed_can_still_stop_everything(client, owner, delivery, url):
    """Without a suppression, the page offers to never be mailed again, and does it."""
    with tenant_scope(owner.tenant):
        do_delete_contact(tenant_contact(owner.tenant, "jeanne.roy@example.com"))
    html = client.get(url).content.decode()
    assert "ne détient plus rien sur vous :" in html
    response = client.post(url, {"action": "withdraw"})
    assert response.status_code == 200
    assert suppressed(owner.tenant) == [("jeanne.roy@example.com", "unsubscribed")]
    assert "sauf votre adresse" in response.content.decode()


def test_the_page_links_to_the_access_request(client, delivery, url):
    """A copy of one's data is asked from the privacy request page, on the live page and the erased one."""
    html = client.get(url).content.decode()
    assert '<a class="button button-secondary" href="/vie-privee/acces/"' in html
    assert "Demander une copie de mes données" in html
    with tenant_scope(delivery.tenant):
        do_delete_contact(delivery.contact)
    assert 'href="/vie-privee/acces/"' in client.get(url).content.decode()


def test_the_page_is_in_english_on_request(client, owner, delivery, url):
    """English when the browser prefers it, and the rejoin words are kept in that language."""
    news = list_id(owner.tenant, "News")
    client.post(url, {"action": "leave", "list": news}, HTTP_ACCEPT_LANGUAGE="en")
    html = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'lang="en"' in html and "Your subscriptions and your data" in html
    client.post(url, {"action": "rejoin", "list": news}, HTTP_ACCEPT_LANGUAGE="en")
    subscription = Subscription.unscoped.get(mailing_list_id=news)
    assert subscription.consent_wording == "Yes, send me the messages of the list “News” again"


def test_changes_are_logged_without_personal_data(client, owner, delivery, url, caplog):
    """The log names the change and ids, never the address, the name or an attribute."""
    caplog.set_level(logging.INFO, logger="infolettre.campaigns.preferences")
    news = list_id(owner.tenant, "News")
    client.post(url, {"action": "leave", "list": news})
    client.post(url, {"action": "rejoin", "list": news})
    client.post(
        url, {"action": "correct", "name": "Jeanne R.", "attribute_key": [], "attribute_value": []}
    )
    client.post(url, {"action": "withdraw"})
    logged = [r.getMessage() for r in caplog.records]
    assert [m.split(":")[1].split()[0] for m in logged] == [
        "leave",
        "rejoin",
        "correct",
        "withdraw",
    ]
    for message in logged:
        assert f"tenant {owner.tenant.pk}" in message
        for secret in ("jeanne", "Jeanne", "Montréal", "example.com"):
            assert secret not in message


def test_the_page_is_reached_from_a_sent_messages_footer(
    client, owner, settings, smtp_server, django_capture_on_commit_callbacks
):
    """A real campaign's footer links to the preference centre of its recipient."""
    settings.CAMPAIGN_TRANSPORT_URL = smtp_server.url
    with tenant_scope(owner.tenant):
        news = do_create_list(owner.tenant, name="News")
        contact = do_create_contact(owner.tenant, email="lea@example.com", name="Léa")
        do_subscribe(contact, news, source="test")
        sender = SenderAddress.objects.create(
            tenant=owner.tenant,
            email="news@example.com",
            name="News Desk",
            verified_at=owner.date_joined,
        )
        campaign = Campaign.objects.create(
            tenant=owner.tenant,
            name="Launch",
            subject="Hello",
            sender=sender,
            html="<html><body><p>Bonjour {{ contact.name }}</p>{{ footer }}</body></html>",
        )
        campaign.lists.add(news)
        with django_capture_on_commit_callbacks(execute=True):
            do_launch_campaign(campaign)
    (_, _, raw), *rest = smtp_server.messages
    assert rest == []
    message = email.message_from_bytes(raw, policy=default_policy)
    html = message.get_body(("html",)).get_content()
    links = re.findall(r'href="([^"]*/preferences/)"', html)
    delivery = Delivery.unscoped.get(email="lea@example.com")
    assert links == [f"{SITE}/u/{make_token(delivery)}/preferences/"]
    assert f"({links[0]})" in message.get_body(("plain",)).get_content()

    response = client.get(links[0].removeprefix(SITE))

    assert response.status_code == 200
    assert [r["mailing_list"].name for r in response.context["subscriptions"]] == ["News"]
    assert 'value="Léa"' in response.content.decode()
