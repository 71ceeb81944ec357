"""The operator's messages, kept apart by kind: service notices to every client user, never promotion;
newsletters and special offers only to those who consented, each with a one-click unsubscribe."""

import io
import re

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from infolettre.accounts.actions import do_set_consent
from infolettre.engagement import actions
from infolettre.engagement.errors import NoConsentPurpose, PromotionInServiceNotice
from infolettre.engagement.models import (
    DeliveryStatus,
    NewsletterSubscriber,
    OperatorDelivery,
    OperatorMessage,
    OperatorMessageKind,
)
from infolettre.engagement.tasks import send_operator_message
from infolettre.privacy.actions import do_record_consent
from infolettre.privacy.models import ConsentEvent
from infolettre.privacy.purposes import NEWSLETTER, SPECIAL_OFFERS
from infolettre.privacy.queries import consent_history, has_consent

UNSUBSCRIBE = re.compile(
    re.escape(settings.SITE_URL) + r"(/communications/desabonnement/[^/\s\"<>]+/)"
)
HTML = "<h1>Nouveautés</h1><p>Voici ce qui change. <a href='https://example.com/x'>Lire</a></p>"


def create_message(kind, *, contains_promotion=False, subject="Des nouvelles"):
    return actions.do_create_operator_message(
        kind=kind, subject=subject, html_body=HTML, contains_promotion=contains_promotion
    )


def send(message, callbacks):
    with callbacks(execute=True):
        return actions.do_send_operator_message(message)


def consenting_user(make_client_user, *, newsletter=False, special_offers=False, **fields):
    user = make_client_user(**fields)
    do_set_consent(user, NEWSLETTER, newsletter, source="test")
    do_set_consent(user, SPECIAL_OFFERS, special_offers, source="test")
    return user


def confirmed_subscriber(email="abonne@example.com", consent=True):
    subscriber = NewsletterSubscriber.objects.create(
        email=email, name="Abonné", confirmed_at=timezone.now()
    )
    if consent:
        do_record_consent(subscriber, NEWSLETTER, given=True, wording="oui", source="test")
    return subscriber


def recipients(mailoutbox):
    return sorted(m.to[0] for m in mailoutbox)


def unsubscribe_path(mail):
    return UNSUBSCRIBE.search(mail.body).group(1)


# Service notices ----------------------------------------------------------------------------------


def test_service_notice_reaches_every_confirmed_client_user_whatever_their_choices(
    make_client_user, make_member, mailoutbox, django_capture_on_commit_callbacks
):
    """Refusing the newsletter and the offers does not stop a notice about the applications;
    unconfirmed, inactive and staff accounts are not client users it is for."""
    refused = consenting_user(make_client_user, email="refused@example.com")
    consented = consenting_user(
        make_client_user, email="yes@example.com", newsletter=True, special_offers=True
    )
    never_answered = make_member(refused.tenant, email="member@example.com")
    never_answered.email_confirmed_at = timezone.now()
    never_answered.save()
    make_client_user(confirmed=False, email="unconfirmed@example.com")
    inactive = make_client_user(email="inactive@example.com")
    inactive.is_active = False
    inactive.save()
    staff = make_member(consented.tenant, email="staff@example.com", is_staff=True)
    staff.email_confirmed_at = timezone.now()
    staff.save()

    count = send(
        create_message(OperatorMessageKind.SERVICE_NOTICE), django_capture_on_commit_callbacks
    )

    assert count == 3
    assert recipients(mailoutbox) == [
        "member@example.com",
        "refused@example.com",
        "yes@example.com",
    ]
    assert [m.extra_headers["X-Infolettre-Kind"] for m in mailoutbox] == ["service_notice"] * 3


def test_service_notice_carries_no_unsubscribe_header_or_link(
    make_client_user, mailoutbox, django_capture_on_commit_callbacks
):
    """A service notice cannot be unsubscribed from: no List-Unsubscribe, no link, in either part."""
    consenting_user(make_client_user, newsletter=True)

    send(create_message(OperatorMessageKind.SERVICE_NOTICE), django_capture_on_commit_callbacks)

    (mail,) = mailoutbox
    assert "List-Unsubscribe" not in mail.extra_headers
    assert "List-Unsubscribe-Post" not in mail.extra_headers
    html = mail.alternatives[0][0]
    for part in (mail.body, html):
        assert "desabonnement" not in part
        assert settings.OPERATOR["address"] in part
    assert "Voici ce qui change." in mail.body
    assert "<h1>Nouveautés</h1>" in html
    assert mail.subject == "Des nouvelles"


def test_service_notice_marked_promotional_is_refused_and_nothing_is_sent_or_recorded(
    make_client_user, mailoutbox, django_capture_on_commit_callbacks
):
    """The flag is the rule: the service path refuses it with its code, queues nothing, sends nothing."""
    consenting_user(make_client_user)
    # Written past the check at creation, as a stored message could be.
    message = OperatorMessage.objects.create(
        kind=OperatorMessageKind.SERVICE_NOTICE,
        subject="Promo",
        html_body=HTML,
        contains_promotion=True,
    )

    with pytest.raises(PromotionInServiceNotice) as refused:
        send(message, django_capture_on_commit_callbacks)

    assert refused.value.code == "promotion_in_service_notice"
    message.refresh_from_db()
    assert (message.sent_at, message.recipient_count) == (None, 0)
    assert OperatorDelivery.objects.count() == 0
    assert mailoutbox == []


def test_a_promotional_service_notice_cannot_even_be_written(db):
    """Creating a service notice marked as promotion is refused with the same code."""
    with pytest.raises(PromotionInServiceNotice):
        create_message(OperatorMessageKind.SERVICE_NOTICE, contains_promotion=True)

    assert OperatorMessage.objects.count() == 0


def test_the_paths_do_not_cross(make_client_user, mailoutbox, django_capture_on_commit_callbacks):
    """A service notice has no consent purpose, so the promotional path refuses it; a newsletter
    cannot be pushed through the service path to reach everyone."""
    consenting_user(make_client_user)
    notice = create_message(OperatorMessageKind.SERVICE_NOTICE)
    newsletter = create_message(OperatorMessageKind.NEWSLETTER)

    with pytest.raises(NoConsentPurpose):
        actions.do_send_promotional_message(notice)
    with pytest.raises(actions.NotAServiceNotice):
        actions.do_send_service_notice(newsletter)

    assert OperatorDelivery.objects.count() == 0
    assert mailoutbox == []


# Newsletters and special offers -------------------------------------------------------------------


def test_newsletter_reaches_only_consenting_users_and_confirmed_subscribers(
    make_client_user, mailoutbox, django_capture_on_commit_callbacks
):
    """Only a current yes counts: never answered, refused, withdrawn and unconfirmed get nothing;
    an address that is both a consenting user and a subscriber gets one copy."""
    consenting_user(make_client_user, email="yes@example.com", newsletter=True)
    consenting_user(make_client_user, email="offers-only@example.com", special_offers=True)
    make_client_user(email="never@example.com")
    withdrawn = consenting_user(make_client_user, email="withdrawn@example.com", newsletter=True)
    do_set_consent(withdrawn, NEWSLETTER, False, source="test")
    consenting_user(make_client_user, confirmed=False, email="unconfirmed@example.com")
    confirmed_subscriber("abonne@example.com")
    confirmed_subscriber("yes@example.com")
    confirmed_subscriber("no-consent@example.com", consent=False)
    NewsletterSubscriber.objects.create(
        email="pending@example.com", name="P", confirmation_requested_at=timezone.now()
    )

    count = send(create_message(OperatorMessageKind.NEWSLETTER), django_capture_on_commit_callbacks)

    assert count == 2
    assert recipients(mailoutbox) == ["abonne@example.com", "yes@example.com"]


def test_special_offers_reach_only_those_who_consented_to_offers(
    make_client_user, mailoutbox, django_capture_on_commit_callbacks
):
    """The offers rest on their own consent: a newsletter-only person and a subscriber get none."""
    consenting_user(make_client_user, email="offers@example.com", special_offers=True)
    consenting_user(make_client_user, email="newsletter@example.com", newsletter=True)
    confirmed_subscriber("abonne@example.com")

    count = send(
        create_message(OperatorMessageKind.SPECIAL_OFFERS, contains_promotion=True),
        django_capture_on_commit_callbacks,
    )

    assert count == 1
    assert recipients(mailoutbox) == ["offers@example.com"]


def test_promotional_message_carries_one_click_unsubscribe_and_the_operator_identity(
    make_client_user, mailoutbox, django_capture_on_commit_callbacks
):
    """List-Unsubscribe (https) with its one-click POST header, the link in both parts, and who sends."""
    consenting_user(make_client_user, newsletter=True)

    send(create_message(OperatorMessageKind.NEWSLETTER), django_capture_on_commit_callbacks)

    (mail,) = mailoutbox
    path = unsubscribe_path(mail)
    assert mail.extra_headers["List-Unsubscribe"] == f"<{settings.SITE_URL}{path}>"
    assert mail.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail.extra_headers["X-Infolettre-Kind"] == "promotional"
    html = mail.alternatives[0][0]
    assert path in html
    for part in (mail.body, html):
        assert settings.OPERATOR["name"] in part
        assert settings.OPERATOR["address"] in part
    assert "@" not in path


def test_one_click_unsubscribe_withdraws_that_consent_only(
    make_client_user, mailoutbox, django_capture_on_commit_callbacks
):
    """RFC 8058's POST, without a sign-in, appends a withdrawal to the ledger at once; the next
    newsletter skips the person while their special-offers consent stays."""
    user = consenting_user(
        make_client_user, email="yes@example.com", newsletter=True, special_offers=True
    )
    send(create_message(OperatorMessageKind.NEWSLETTER), django_capture_on_commit_callbacks)
    path = unsubscribe_path(mailoutbox[0])
    mailoutbox.clear()

    response = Client().post(path, {"List-Unsubscribe": "One-Click"})

    assert response.status_code == 200
    assert response.cookies == {}
    last = consent_history(user).filter(purpose="newsletter").last()
    assert (last.given, last.source) == (False, f"one-click:{path}")
    assert has_consent(user, NEWSLETTER.code) is False
    assert has_consent(user, SPECIAL_OFFERS.code) is True
    assert (
        send(create_message(OperatorMessageKind.NEWSLETTER), django_capture_on_commit_callbacks)
        == 0
    )
    assert (
        send(create_message(OperatorMessageKind.SPECIAL_OFFERS), django_capture_on_commit_callbacks)
        == 1
    )
    assert recipients(mailoutbox) == ["yes@example.com"]
    assert mailoutbox[0].extra_headers["X-Infolettre-Kind"] == "promotional"


def test_unsubscribe_button_works_for_a_subscriber_and_twice_changes_nothing(
    db, mailoutbox, django_capture_on_commit_callbacks
):
    """The page's button withdraws a subscriber's consent; pressing again records nothing more."""
    subscriber = confirmed_subscriber()
    send(create_message(OperatorMessageKind.NEWSLETTER), django_capture_on_commit_callbacks)
    path = unsubscribe_path(mailoutbox[0])

    first = Client().post(path)
    events = ConsentEvent.objects.count()
    second = Client().post(path)

    assert (first.status_code, second.status_code) == (200, 200)
    assert ConsentEvent.objects.count() == events
    last = consent_history(subscriber).last()
    assert (last.purpose, last.given, last.source) == ("newsletter", False, f"web:{path}")


def test_opening_the_unsubscribe_link_changes_nothing(
    make_client_user, mailoutbox, django_capture_on_commit_callbacks
):
    """GET shows a button naming the purpose and a masked address; the ledger is untouched."""
    user = consenting_user(make_client_user, email="yes@example.com", newsletter=True)
    send(create_message(OperatorMessageKind.NEWSLETTER), django_capture_on_commit_callbacks)
    events = ConsentEvent.objects.count()

    response = Client().get(unsubscribe_path(mailoutbox[0]))

    assert response.status_code == 200
    html = response.content.decode()
    assert 'method="post"' in html
    assert "y***@example.com" in html
    assert "yes@example.com" not in html
    assert ConsentEvent.objects.count() == events
    assert has_consent(user, NEWSLETTER.code) is True


def test_tampered_unsubscribe_link_is_refused_and_changes_nothing(
    make_client_user, mailoutbox, django_capture_on_commit_callbacks
):
    """An altered token is a 400 page for GET and POST alike; the consent stays."""
    user = consenting_user(make_client_user, newsletter=True)
    send(create_message(OperatorMessageKind.NEWSLETTER), django_capture_on_commit_callbacks)
    path = unsubscribe_path(mailoutbox[0])
    tampered = path[:-3] + ("A" if path[-3] != "A" else "B") + path[-2:]
    events = ConsentEvent.objects.count()

    assert Client().get(tampered).status_code == 400
    assert Client().post(tampered, {"List-Unsubscribe": "One-Click"}).status_code == 400
    assert ConsentEvent.objects.count() == events
    assert has_consent(user, NEWSLETTER.code) is True


# Sending safely -----------------------------------------------------------------------------------


def test_running_the_send_task_twice_sends_once(
    make_client_user, mailoutbox, django_capture_on_commit_callbacks
):
    """Each copy is claimed before it goes: a second run of the task finds nothing to send."""
    consenting_user(make_client_user, email="a@example.com", newsletter=True)
    consenting_user(make_client_user, email="b@example.com", newsletter=True)
    message = create_message(OperatorMessageKind.NEWSLETTER)
    send(message, django_capture_on_commit_callbacks)

    send_operator_message.call(message.pk)

    assert recipients(mailoutbox) == ["a@example.com", "b@example.com"]
    assert list(message.deliveries.values_list("status", flat=True)) == [DeliveryStatus.SENT] * 2


def test_a_crash_mid_way_resumes_with_the_copies_not_yet_sent(
    make_client_user, mailoutbox, django_capture_on_commit_callbacks
):
    """Copies already sent stay sent; the task sends only those still queued."""
    consenting_user(make_client_user, email="a@example.com", newsletter=True)
    consenting_user(make_client_user, email="b@example.com", newsletter=True)
    message = create_message(OperatorMessageKind.NEWSLETTER)
    with django_capture_on_commit_callbacks(execute=False):
        actions.do_send_operator_message(message)
    first = message.deliveries.order_by("pk").first()
    OperatorDelivery.objects.filter(pk=first.pk).update(status=DeliveryStatus.SENT)

    send_operator_message.call(message.pk)

    assert len(mailoutbox) == 1
    assert message.deliveries.filter(status=DeliveryStatus.SENT).count() == 2


def test_a_message_is_sent_once(make_client_user, django_capture_on_commit_callbacks):
    """Sending the same message again is refused."""
    consenting_user(make_client_user, newsletter=True)
    message = create_message(OperatorMessageKind.NEWSLETTER)
    send(message, django_capture_on_commit_callbacks)

    with pytest.raises(actions.AlreadySent):
        send(message, django_capture_on_commit_callbacks)

    assert OperatorDelivery.objects.count() == 1


def test_a_withdrawal_between_queueing_and_sending_is_respected(
    make_client_user, mailoutbox, django_capture_on_commit_callbacks
):
    """Consent is read again just before each copy leaves."""
    user = consenting_user(make_client_user, newsletter=True)
    message = create_message(OperatorMessageKind.NEWSLETTER)
    with django_capture_on_commit_callbacks(execute=False):
        actions.do_send_operator_message(message)
    do_set_consent(user, NEWSLETTER, False, source="test")

    send_operator_message.call(message.pk)

    assert mailoutbox == []
    assert message.deliveries.get().status == DeliveryStatus.SKIPPED


def test_text_body_is_derived_from_the_html(db):
    """Without a text body, the text part is the HTML's text with each link's address."""
    message = create_message(OperatorMessageKind.NEWSLETTER)

    assert "Voici ce qui change." in message.text_body
    assert "https://example.com/x" in message.text_body
    assert "<p>" not in message.text_body


# The command --------------------------------------------------------------------------------------


def run_command(tmp_path, *args):
    html = tmp_path / "message.html"
    html.write_text(HTML, encoding="utf-8")
    out = io.StringIO()
    call_command(
        "send_operator_message",
        "--subject",
        "Des nouvelles",
        "--html-file",
        str(html),
        *args,
        stdout=out,
    )
    return out.getvalue().strip()


def test_command_sends_and_prints_the_recipient_count(
    make_client_user, tmp_path, mailoutbox, django_capture_on_commit_callbacks
):
    """The command writes the message, sends it by its kind's path and prints how many it reached."""
    consenting_user(make_client_user, email="a@example.com")
    consenting_user(make_client_user, email="b@example.com", newsletter=True)

    with django_capture_on_commit_callbacks(execute=True):
        out = run_command(tmp_path, "--kind", "service_notice")

    assert out == "2"
    assert recipients(mailoutbox) == ["a@example.com", "b@example.com"]
    assert OperatorMessage.objects.get().recipient_count == 2


def test_command_dry_run_prints_the_count_and_writes_nothing(
    make_client_user, tmp_path, mailoutbox
):
    """--dry-run counts today's recipients of the kind and sends nothing."""
    consenting_user(make_client_user, email="a@example.com")
    consenting_user(make_client_user, email="b@example.com", newsletter=True)

    out = run_command(tmp_path, "--kind", "newsletter", "--dry-run")

    assert out == "1"
    assert OperatorMessage.objects.count() == 0
    assert mailoutbox == []


def test_command_refuses_a_promotional_service_notice_with_its_code(
    make_client_user, tmp_path, mailoutbox
):
    """The refusal prints the code; no message, no delivery, no mail."""
    consenting_user(make_client_user)

    with pytest.raises(CommandError, match=r"^promotion_in_service_notice$"):
        run_command(tmp_path, "--kind", "service_notice", "--contains-promotion")

    assert OperatorMessage.objects.count() == 0
    assert OperatorDelivery.objects.count() == 0
    assert mailoutbox == []
