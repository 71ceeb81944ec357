"""The operator's public newsletter sign-up: name and address only, confirmed by a link, consent in the ledger."""

import re

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils.html import escape

from infolettre.accounts.actions import consent_wording
from infolettre.audience.signup import SIGNUP_NETWORK_LIMIT
from infolettre.engagement.models import NewsletterSubscriber, OperatorMessageKind
from infolettre.engagement.tokens import make_confirmation_token
from infolettre.privacy.models import ConsentEvent
from infolettre.privacy.purposes import NEWSLETTER
from infolettre.privacy.queries import current_policy

from .test_operator_messages import create_message, send

SIGNUP = "/bulletin/"
LINK = re.compile(re.escape(settings.SITE_URL) + r"(/bulletin/confirmer/[^/\s\"]+/)")


def sign_up(client, callbacks, **data):
    data = {"name": "Léa Tremblay", "email": "lea@example.com", "consent": "yes", **data}
    with callbacks(execute=True):
        return client.post(SIGNUP, data)


def confirmation_path(mailoutbox):
    return LINK.search(mailoutbox[-1].body).group(1)


def newsletter_events():
    return ConsentEvent.objects.filter(
        subject_type=ContentType.objects.get_for_model(NewsletterSubscriber)
    )


def test_signup_page_asks_name_and_email_only_each_with_its_declared_purpose(client, db):
    """The form has a name, an address, the consent box and a hidden trap; each field says why."""
    response = client.get(SIGNUP)

    assert response.status_code == 200
    html = response.content.decode()
    form = html.split('action="/bulletin/"')[1].split("</form>")[0]
    names = set(re.findall(r'name="([^"]+)"', form)) - {"csrfmiddlewaretoken"}
    assert names == {"name", "email", "website", "consent"}
    # Beside the name, beside the address, and in the consent words.
    assert html.count(escape(str(NEWSLETTER.description))) == 3
    assert "Abonnez-vous à notre bulletin de nouvelles" in html
    assert 'id="id_name-purpose"' in html
    assert 'id="id_email-purpose"' in html


def test_signup_mails_a_confirmation_link_and_records_no_consent_yet(
    client, db, mailoutbox, django_capture_on_commit_callbacks
):
    """A sign-up waits for its link: one message with the link, and nothing in the ledger."""
    response = sign_up(client, django_capture_on_commit_callbacks)

    assert response.status_code == 200
    subscriber = NewsletterSubscriber.objects.get()
    assert (subscriber.email, subscriber.name, subscriber.language) == (
        "lea@example.com",
        "Léa Tremblay",
        "fr",
    )
    assert subscriber.confirmed_at is None
    assert subscriber.confirmation_requested_at is not None
    assert [m.to for m in mailoutbox] == [["lea@example.com"]]
    assert confirmation_path(mailoutbox)
    assert newsletter_events().count() == 0


def test_unconfirmed_subscriber_is_never_sent_the_newsletter(
    client, db, mailoutbox, django_capture_on_commit_callbacks
):
    """Until the link is followed, the newsletter goes to nobody at that address."""
    sign_up(client, django_capture_on_commit_callbacks)
    mailoutbox.clear()

    count = send(create_message(OperatorMessageKind.NEWSLETTER), django_capture_on_commit_callbacks)

    assert count == 0
    assert mailoutbox == []


def test_opening_the_confirmation_link_changes_nothing_until_the_button(
    client, db, mailoutbox, django_capture_on_commit_callbacks
):
    """GET shows a button (mail scanners open links); the ledger stays empty."""
    sign_up(client, django_capture_on_commit_callbacks)

    response = client.get(confirmation_path(mailoutbox))

    assert response.status_code == 200
    assert 'method="post"' in response.content.decode()
    assert NewsletterSubscriber.objects.get().confirmed_at is None
    assert newsletter_events().count() == 0


def test_confirming_records_consent_with_the_words_shown_and_the_policy_version(
    client, db, mailoutbox, django_capture_on_commit_callbacks
):
    """The button confirms the address and appends a newsletter consent with its proof."""
    sign_up(client, django_capture_on_commit_callbacks)
    path = confirmation_path(mailoutbox)

    response = client.post(path)

    assert response.status_code == 200
    subscriber = NewsletterSubscriber.objects.get()
    assert subscriber.confirmed_at is not None
    assert subscriber.confirmation_requested_at is None
    event = newsletter_events().get()
    assert (event.subject_id, event.purpose, event.given, event.tenant_id) == (
        subscriber.pk,
        "newsletter",
        True,
        None,
    )
    assert event.wording == str(consent_wording(NEWSLETTER))
    assert event.policy_version == current_policy()
    assert event.source == f"web:{path}"


def test_confirming_twice_records_one_consent(
    client, db, mailoutbox, django_capture_on_commit_callbacks
):
    """The second press of the button shows the same page and adds nothing."""
    sign_up(client, django_capture_on_commit_callbacks)
    path = confirmation_path(mailoutbox)
    client.post(path)

    response = client.post(path)

    assert response.status_code == 200
    assert newsletter_events().count() == 1


def test_confirmed_subscriber_receives_the_newsletter(
    client, db, mailoutbox, django_capture_on_commit_callbacks
):
    """Once confirmed, the person is among the newsletter's recipients."""
    sign_up(client, django_capture_on_commit_callbacks)
    client.post(confirmation_path(mailoutbox))
    mailoutbox.clear()

    count = send(create_message(OperatorMessageKind.NEWSLETTER), django_capture_on_commit_callbacks)

    assert count == 1
    assert [m.to for m in mailoutbox] == [["lea@example.com"]]


def test_tampered_confirmation_link_is_refused_and_changes_nothing(
    client, db, mailoutbox, django_capture_on_commit_callbacks
):
    """An altered link is a 400 page, for the button too; the address stays unconfirmed."""
    sign_up(client, django_capture_on_commit_callbacks)
    path = confirmation_path(mailoutbox)
    tampered = path[:-3] + ("A" if path[-3] != "A" else "B") + path[-2:]

    assert client.get(tampered).status_code == 400
    assert client.post(tampered).status_code == 400
    assert NewsletterSubscriber.objects.get().confirmed_at is None
    assert newsletter_events().count() == 0


def test_link_for_another_address_is_refused(db):
    """A link stops working once the address it was sent to is no longer the subscriber's."""
    subscriber = NewsletterSubscriber.objects.create(
        email="a@example.com", name="A", confirmation_requested_at="2026-01-01T00:00Z"
    )
    token = make_confirmation_token(subscriber)
    NewsletterSubscriber.objects.filter(pk=subscriber.pk).update(email="b@example.com")

    from django.test import Client

    response = Client().post(reverse("engagement:newsletter_confirm", args=[token]))

    assert response.status_code == 400
    assert newsletter_events().count() == 0


def test_form_without_the_consent_box_records_nothing(
    client, db, mailoutbox, django_capture_on_commit_callbacks
):
    """Leaving the box unticked redraws the form with a message; no one is stored or mailed."""
    response = sign_up(client, django_capture_on_commit_callbacks, consent="")

    assert response.status_code == 400
    assert 'id="id_consent-error"' in response.content.decode()
    assert NewsletterSubscriber.objects.count() == 0
    assert mailoutbox == []


def test_invalid_address_records_nothing(
    client, db, mailoutbox, django_capture_on_commit_callbacks
):
    """A malformed address is named on the form; nothing is stored."""
    response = sign_up(client, django_capture_on_commit_callbacks, email="not an address")

    assert response.status_code == 400
    assert 'id="id_email-error"' in response.content.decode()
    assert NewsletterSubscriber.objects.count() == 0
    assert mailoutbox == []


def test_filled_trap_field_records_nothing_but_looks_done(
    client, db, mailoutbox, django_capture_on_commit_callbacks
):
    """A robot that fills the hidden field sees the usual answer; nothing is kept or sent."""
    response = sign_up(client, django_capture_on_commit_callbacks, website="https://spam.test")

    assert response.status_code == 200
    assert NewsletterSubscriber.objects.count() == 0
    assert mailoutbox == []


def test_signups_past_the_network_allowance_are_refused(
    client, db, mailoutbox, django_capture_on_commit_callbacks
):
    """One network gets a fixed number of attempts an hour; the next is a 429 that records nothing."""
    for n in range(SIGNUP_NETWORK_LIMIT):
        sign_up(client, django_capture_on_commit_callbacks, email=f"p{n}@example.com")

    response = sign_up(client, django_capture_on_commit_callbacks, email="late@example.com")

    assert response.status_code == 429
    assert NewsletterSubscriber.objects.count() == SIGNUP_NETWORK_LIMIT
    assert not NewsletterSubscriber.objects.filter(email="late@example.com").exists()


def test_signing_up_again_while_subscribed_sends_nothing(
    client, db, mailoutbox, django_capture_on_commit_callbacks
):
    """An address that already receives the newsletter gets no message; the page says the same."""
    sign_up(client, django_capture_on_commit_callbacks)
    client.post(confirmation_path(mailoutbox))
    mailoutbox.clear()

    response = sign_up(client, django_capture_on_commit_callbacks, name="Someone Else")

    assert response.status_code == 200
    assert mailoutbox == []
    assert NewsletterSubscriber.objects.get().name == "Léa Tremblay"
    assert newsletter_events().count() == 1


def test_the_signup_page_reads_no_table(client, db, django_assert_num_queries):
    """The form is served without the database: a crowd opening it costs no query."""
    with django_assert_num_queries(0):
        response = client.get("/bulletin/")
    assert response.status_code == 200
    assert 'name="email"' in response.content.decode()
