"""The public double opt-in sign-up form of a list, its confirmation message and link, and who is mailed."""

import datetime
import re

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from infolettre.accounts.models import User
from infolettre.accounts.tenancy import tenant_scope
from infolettre.audience import signup
from infolettre.audience.actions import (
    do_create_contact,
    do_create_list,
    do_subscribe,
    do_suppress,
    do_unsubscribe_from_list,
)
from infolettre.audience.models import (
    ConsentBasis,
    Contact,
    Subscription,
    SubscriptionStatus,
    SuppressionReason,
)
from infolettre.audience.queries import sendable_subscriptions

NOW = datetime.datetime(2026, 3, 2, 15, 0, tzinfo=datetime.UTC)
LINK = re.compile(re.escape(settings.SITE_URL) + r"(/abonnement/confirmer/[^/\s\"]+/)")


def make_list(owner, name="Nouvelles de la boutique", **fields):
    fields.setdefault("public_signup", True)
    fields.setdefault("double_opt_in", True)
    with tenant_scope(owner.tenant):
        return do_create_list(
            owner.tenant, name=name, description="Un courriel par mois.", **fields
        )


def signup_url(mailing_list):
    return reverse("audience:public_signup", args=[mailing_list.public_key])


def hosted_url(mailing_list):
    return settings.SITE_URL + signup_url(mailing_list)


def words(mailing_list, language="fr"):
    with translation.override(language):
        return signup.consent_words(mailing_list)


def post_signup(client, mailing_list, callbacks, **data):
    data = {"name": "Marie Roy", "email": "marie@example.com", "consent": "yes", **data}
    with callbacks(execute=True):
        return client.post(signup_url(mailing_list), data)


def snapshot():
    return (
        list(Contact.unscoped.order_by("pk").values()),
        list(Subscription.unscoped.order_by("pk").values()),
    )


@pytest.fixture
def news(owner):
    return make_list(owner)


# The hosted form ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_hosted_form_shows_the_organisation_what_they_receive_and_the_consent_words(client, news):
    """The page names the sender, says what is sent, shows the words of consent and asks name and email."""
    response = client.get(signup_url(news))
    page = response.content.decode()
    organisation = news.tenant
    assert response.status_code == 200
    assert '<html lang="fr">' in page
    assert organisation.name in page
    assert "Un courriel par mois." in page
    assert f'<label for="id_consent" style="font-weight: 400;">{words(news)}</label>' in page
    assert '<input type="checkbox" id="id_consent" name="consent" value="yes" required>' in page
    assert re.findall(r'<input id="id_(\w+)" name="\1"', page) == ["name", "email"]
    assert 'name="website" tabindex="-1"' in page
    assert "csrfmiddlewaretoken" not in page.split('id="signup"')[1].split("</form>")[0]


@pytest.mark.django_db
def test_hosted_form_follows_the_visitors_language(client, news):
    """A visitor whose browser asks for English gets the page and the words in English."""
    page = client.get(signup_url(news), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="en">' in page
    assert words(news, "en") in page
    assert words(news, "en").startswith("I agree to receive “Nouvelles de la boutique” by email")


@pytest.mark.django_db
def test_the_consent_words_identify_the_sender_and_the_way_to_withdraw(news):
    """The words name the organisation, its mailing address and website, and how to withdraw."""
    organisation = news.tenant
    text = words(news, "en")
    assert organisation.name in text
    assert " ".join(organisation.address.split()) in text
    assert organisation.website in text
    assert "withdraw my consent at any time" in text


@pytest.mark.django_db
def test_an_unknown_key_or_a_closed_form_is_a_404(client, owner):
    """An unknown key, and a list without public sign-up, have no form."""
    closed = make_list(owner, public_signup=False)
    assert client.get(reverse("audience:public_signup", args=["nope"])).status_code == 404
    assert client.get(signup_url(closed)).status_code == 404
    assert client.post(signup_url(closed), {"email": "a@example.com"}).status_code == 404
    assert Contact.unscoped.count() == 0


# Posting it --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_sign_up_records_an_unconfirmed_subscription_and_sends_one_confirmation(
    client, news, django_capture_on_commit_callbacks
):
    """The person is on the list, unconfirmed, with the proof of consent; one message goes out."""
    with time_machine.travel(NOW, tick=False):
        response = post_signup(client, news, django_capture_on_commit_callbacks)
    page = response.content.decode()
    subscription = Subscription.unscoped.get()
    assert response.status_code == 200
    assert "<h1>Consultez votre boîte de réception</h1>" in page
    assert (subscription.tenant_id, subscription.mailing_list_id) == (news.tenant_id, news.pk)
    assert (subscription.contact.email, subscription.contact.name) == (
        "marie@example.com",
        "Marie Roy",
    )
    assert (
        subscription.status,
        subscription.consent_basis,
        subscription.consent_at,
        subscription.consent_expires_at,
        subscription.consent_source,
        subscription.consent_wording,
        subscription.confirmed_at,
    ) == (
        SubscriptionStatus.UNCONFIRMED,
        ConsentBasis.EXPRESS,
        NOW,
        None,
        hosted_url(news),
        words(news),
        None,
    )
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["marie@example.com"]


@pytest.mark.django_db
def test_the_confirmation_link_confirms_the_subscription_with_one_click(
    client, news, django_capture_on_commit_callbacks
):
    """Opening the link asks for one click (mail scanners open links); the click confirms."""
    post_signup(client, news, django_capture_on_commit_callbacks)
    path = LINK.search(mail.outbox[0].body).group(1)
    opened = Client().get(path)
    assert opened.status_code == 200
    assert Subscription.unscoped.get().status == SubscriptionStatus.UNCONFIRMED
    with time_machine.travel(NOW, tick=False):
        confirmed = Client(enforce_csrf_checks=True).post(path)
    subscription = Subscription.unscoped.get()
    assert confirmed.status_code == 200
    assert (subscription.status, subscription.confirmed_at) == (SubscriptionStatus.SUBSCRIBED, NOW)
    again = Client().post(path)
    assert again.status_code == 200
    assert Subscription.unscoped.get().confirmed_at == NOW


@pytest.mark.django_db
def test_the_confirmation_message_identifies_the_sender_and_carries_no_address_in_the_link(
    client, news, django_capture_on_commit_callbacks
):
    """The message names the organisation and its address, ends with the operator's footer, and
    its link does not contain the address."""
    post_signup(client, news, django_capture_on_commit_callbacks, language="en")
    message = mail.outbox[0]
    html = message.alternatives[0][0]
    organisation = news.tenant
    link = LINK.search(message.body).group(0)
    assert message.subject == "Confirm your subscription to “Nouvelles de la boutique”"
    assert message.extra_headers["X-Infolettre-Kind"] == "account"
    for body in (message.body, html):
        assert organisation.name in body
        assert " ".join(organisation.address.split()) in body
        assert f"Sent by {settings.OPERATOR['name']}" in body
        assert settings.OPERATOR["address"] in body
        assert link in body
    assert "marie" not in link
    assert "example.com" not in link


@pytest.mark.django_db
def test_the_confirmation_message_is_in_the_language_of_the_form(
    client, news, django_capture_on_commit_callbacks
):
    """A visitor who signed up on the French form gets the message in French."""
    post_signup(client, news, django_capture_on_commit_callbacks)
    assert mail.outbox[0].subject == "Confirmez votre abonnement à « Nouvelles de la boutique »"


@pytest.mark.django_db
def test_a_filled_honeypot_gets_the_same_answer_and_records_nothing(
    client, news, django_capture_on_commit_callbacks
):
    """A robot that fills the hidden input is answered as a person would be; nothing is kept or sent."""
    person = post_signup(
        client, news, django_capture_on_commit_callbacks, email="person@example.com"
    )
    mail.outbox.clear()
    before = snapshot()
    robot = post_signup(
        client, news, django_capture_on_commit_callbacks, email="bot@example.com", website="x"
    )
    assert robot.status_code == person.status_code == 200
    assert "<h1>Consultez votre boîte de réception</h1>" in robot.content.decode()
    assert "<h1>Consultez votre boîte de réception</h1>" in person.content.decode()
    assert snapshot() == before
    assert mail.outbox == []


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"email": "pas-une-adresse"}, "email", "Enter a valid email address."),
        ({"email": ""}, "email", "This field is required."),
        ({"consent": None}, "consent", "Tick the box to subscribe."),
    ],
)
@pytest.mark.django_db
def test_a_bad_address_or_no_consent_is_refused_and_nothing_is_recorded(
    client, news, django_capture_on_commit_callbacks, data, field, message
):
    """The form comes back with the message; no contact, no subscription, no message."""
    data = {
        "name": "Marie",
        "email": "marie@example.com",
        "consent": "yes",
        "language": "en",
        **data,
    }
    data = {k: v for k, v in data.items() if v is not None}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(signup_url(news), data)
    page = response.content.decode()
    assert response.status_code == 400
    assert f'id="id_{field}-error">{message}</p>' in page
    assert snapshot() == ([], [])
    assert mail.outbox == []


@pytest.mark.django_db
def test_a_suppressed_address_gets_the_same_answer_and_nothing_happens(
    client, news, django_capture_on_commit_callbacks
):
    """The form does not reveal the suppression list: same answer, nothing recorded, nothing sent."""
    do_suppress(news.tenant, "marie@example.com", SuppressionReason.UNSUBSCRIBED)
    response = post_signup(client, news, django_capture_on_commit_callbacks)
    assert response.status_code == 200
    assert "<h1>Consultez votre boîte de réception</h1>" in response.content.decode()
    assert snapshot() == ([], [])
    assert mail.outbox == []


@pytest.mark.django_db
def test_a_list_without_double_opt_in_subscribes_at_once_and_sends_nothing(
    client, owner, django_capture_on_commit_callbacks
):
    """Without double opt-in the sign-up is confirmed at once, and no confirmation is mailed."""
    direct = make_list(owner, double_opt_in=False)
    response = post_signup(client, direct, django_capture_on_commit_callbacks)
    subscription = Subscription.unscoped.get()
    assert response.status_code == 200
    assert "<h1>Merci</h1>" in response.content.decode()
    assert subscription.status == SubscriptionStatus.SUBSCRIBED
    assert subscription.confirmed_at is not None
    assert mail.outbox == []


@pytest.mark.django_db
def test_the_form_never_changes_an_existing_contact_or_demotes_a_subscriber(
    client, owner, news, django_capture_on_commit_callbacks
):
    """Someone typing a subscriber's address changes neither their name nor their subscription."""
    with tenant_scope(owner.tenant):
        marie = do_create_contact(owner.tenant, email="marie@example.com", name="Marie Roy")
        do_subscribe(marie, news, source="salon")
    before = snapshot()
    response = post_signup(client, news, django_capture_on_commit_callbacks, name="Quelqu'un")
    assert response.status_code == 200
    assert snapshot() == before
    assert mail.outbox == []


@pytest.mark.django_db
def test_someone_who_left_can_sign_up_again_and_must_confirm(
    client, owner, news, django_capture_on_commit_callbacks
):
    """A person who unsubscribed and signs up again is unconfirmed until they open the new link."""
    with tenant_scope(owner.tenant):
        marie = do_create_contact(owner.tenant, email="marie@example.com")
        do_unsubscribe_from_list(do_subscribe(marie, news, source="salon"))
    post_signup(client, news, django_capture_on_commit_callbacks)
    subscription = Subscription.unscoped.get()
    assert (subscription.status, subscription.unsubscribed_at) == (
        SubscriptionStatus.UNCONFIRMED,
        None,
    )
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_a_signed_in_user_of_another_organisation_signs_up_to_the_lists_organisation(
    client, news, make_client_user, django_capture_on_commit_callbacks
):
    """The sign-up belongs to the list's organisation, whoever is signed in."""
    client.force_login(make_client_user())
    post_signup(client, news, django_capture_on_commit_callbacks)
    assert list(Contact.unscoped.values_list("tenant_id", flat=True)) == [news.tenant_id]
    assert Subscription.unscoped.get().tenant_id == news.tenant_id


@pytest.mark.django_db
def test_the_form_embedded_on_another_site_can_post_without_a_csrf_token(
    owner, news, django_capture_on_commit_callbacks
):
    """The snippet on a client's own site posts with no cookie and no token, and it works."""
    browser = Client(enforce_csrf_checks=True)
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post(
            hosted_url(news),
            {"language": "en", "name": "", "email": "marie@example.com", "consent": "yes"},
            HTTP_ORIGIN="https://boutique.example",
        )
    assert response.status_code == 200
    assert "<h1>Check your inbox</h1>" in response.content.decode()
    assert Subscription.unscoped.get().consent_wording == words(news, "en")
    assert mail.outbox[0].subject == "Confirm your subscription to “Nouvelles de la boutique”"


@pytest.mark.django_db
def test_sign_ups_are_limited_per_network_and_the_ip_is_not_kept(
    client, news, django_capture_on_commit_callbacks
):
    """After 20 sign-ups from one network in an hour the next is refused with 429; the address is not stored."""
    for n in range(signup.SIGNUP_NETWORK_LIMIT):
        response = client.post(
            signup_url(news),
            {"email": f"p{n}@example.com", "website": "x"},
            REMOTE_ADDR="203.0.113.7",
        )
        assert response.status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        refused = client.post(
            signup_url(news),
            {"email": "marie@example.com", "consent": "yes"},
            REMOTE_ADDR="203.0.113.99",
            HTTP_ACCEPT_LANGUAGE="en",
        )
        elsewhere = client.post(
            signup_url(news),
            {"email": "jean@example.com", "consent": "yes"},
            REMOTE_ADDR="198.51.100.4",
        )
    assert refused.status_code == 429
    assert "Too many sign-ups came from your network in the last hour." in refused.content.decode()
    assert elsewhere.status_code == 200
    emails = list(Contact.unscoped.values_list("email", flat=True))
    assert "jean@example.com" in emails
    assert not any("203.0.113" in str(key) for key in cache._cache)


@pytest.mark.django_db
def test_a_sign_up_is_refused_while_the_organisation_has_no_confirmed_address(
    client, make_client_user, django_capture_on_commit_callbacks
):
    """Until someone in the organisation confirms their address, the form refuses and sends nothing."""
    unconfirmed = make_client_user(confirmed=False)
    mailing_list = make_list(unconfirmed)
    shown = client.get(signup_url(mailing_list), HTTP_ACCEPT_LANGUAGE="en")
    response = post_signup(client, mailing_list, django_capture_on_commit_callbacks, language="en")
    assert shown.status_code == 403
    assert response.status_code == 403
    assert "has not confirmed its account yet" in response.content.decode()
    assert snapshot() == ([], [])
    assert mail.outbox == []
    User.objects.filter(pk=unconfirmed.pk).update(email_confirmed_at=timezone.now())
    assert client.get(signup_url(mailing_list)).status_code == 200


# The confirmation link ---------------------------------------------------------------------------


def _signed_up(client, mailing_list, callbacks):
    post_signup(client, mailing_list, callbacks)
    return LINK.search(mail.outbox[0].body).group(1)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda path: path.replace("/confirmer/", "/confirmer/x"),
        lambda path: path[:-3] + ("A" if path[-3] != "A" else "B") + path[-2:],
        lambda path: "/abonnement/confirmer/not-a-token/",
    ],
)
@pytest.mark.django_db
def test_a_tampered_link_is_refused_with_400_and_changes_nothing(
    client, news, django_capture_on_commit_callbacks, tamper
):
    """A link that was changed is refused; the subscription stays unconfirmed."""
    path = _signed_up(client, news, django_capture_on_commit_callbacks)
    before = snapshot()
    for response in (client.get(tamper(path)), client.post(tamper(path))):
        assert response.status_code == 400
        assert "Lien invalide ou expiré" in response.content.decode()
    assert snapshot() == before


@pytest.mark.django_db
def test_an_expired_link_is_refused(client, news, django_capture_on_commit_callbacks):
    """A link older than seven days no longer confirms."""
    with time_machine.travel(NOW):
        path = _signed_up(client, news, django_capture_on_commit_callbacks)
    before = snapshot()
    with time_machine.travel(NOW + datetime.timedelta(days=7, minutes=1)):
        response = client.post(path)
    assert response.status_code == 400
    assert snapshot() == before


@pytest.mark.django_db
def test_a_link_stops_working_when_the_address_changes_or_the_person_leaves(
    client, owner, news, django_capture_on_commit_callbacks
):
    """A corrected address, an unsubscribe or a suppression makes the old link invalid."""
    path = _signed_up(client, news, django_capture_on_commit_callbacks)
    contact = Contact.unscoped.get()
    Contact.unscoped.filter(pk=contact.pk).update(email="autre@example.com")
    assert client.post(path).status_code == 400
    Contact.unscoped.filter(pk=contact.pk).update(email="marie@example.com")
    do_suppress(owner.tenant, "marie@example.com")
    assert client.post(path).status_code == 400
    assert Subscription.unscoped.get().status == SubscriptionStatus.UNCONFIRMED


@pytest.mark.django_db
def test_an_old_link_does_not_bring_back_someone_who_unsubscribed(
    client, owner, news, django_capture_on_commit_callbacks
):
    """After confirming and leaving, the old confirmation link does not subscribe again."""
    path = _signed_up(client, news, django_capture_on_commit_callbacks)
    client.post(path)
    with tenant_scope(owner.tenant):
        do_unsubscribe_from_list(Subscription.objects.get())
    assert client.post(path).status_code == 400
    assert Subscription.unscoped.get().status == SubscriptionStatus.UNSUBSCRIBED


@pytest.mark.django_db
def test_the_confirmation_task_sends_nothing_twice_nor_for_a_confirmed_subscription(
    client, news, django_capture_on_commit_callbacks
):
    """Running the task again soon after, or after confirmation, sends nothing more."""
    path = _signed_up(client, news, django_capture_on_commit_callbacks)
    subscription = Subscription.unscoped.get()
    signup.send_signup_confirmation.call(subscription.pk, "fr")
    assert len(mail.outbox) == 1
    client.post(path)
    cache.clear()
    signup.send_signup_confirmation.call(subscription.pk, "fr")
    assert len(mail.outbox) == 1


# Who may be mailed -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_only_confirmed_current_unsuppressed_subscriptions_are_sendable(owner, news):
    """Unconfirmed, unsubscribed, lapsed implied and suppressed subscriptions are never mailed."""
    with time_machine.travel(NOW, tick=False), tenant_scope(owner.tenant):

        def subscribe(email, **kwargs):
            contact = do_create_contact(owner.tenant, email=email)
            return do_subscribe(contact, news, source="test", **kwargs)

        express = subscribe("express@example.com")
        current = subscribe(
            "client@example.com",
            basis=ConsentBasis.IMPLIED_BUSINESS,
            consent_at=NOW - datetime.timedelta(days=300),
        )
        subscribe("unconfirmed@example.com", confirmed=False)
        do_unsubscribe_from_list(subscribe("left@example.com"))
        subscribe(
            "lapsed@example.com",
            basis=ConsentBasis.IMPLIED_INQUIRY,
            consent_at=NOW - datetime.timedelta(days=200),
        )
        subscribe("bounced@example.com")
        do_suppress(owner.tenant, "bounced@example.com", SuppressionReason.BOUNCED)
        sendable = sorted(s.pk for s in sendable_subscriptions(news))
    assert sendable == sorted([express.pk, current.pk])


@pytest.mark.django_db
def test_a_public_sign_up_is_not_sendable_until_confirmed(
    client, owner, news, django_capture_on_commit_callbacks
):
    """A person who signed up is mailed no campaign before they open the confirmation link."""
    path = _signed_up(client, news, django_capture_on_commit_callbacks)
    with tenant_scope(owner.tenant):
        assert list(sendable_subscriptions(news)) == []
    client.post(path)
    with tenant_scope(owner.tenant):
        assert [s.contact.email for s in sendable_subscriptions(news)] == ["marie@example.com"]
