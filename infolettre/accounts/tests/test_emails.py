"""The welcome, password-reset and invitation messages: in the recipient's language, with a text and
an HTML part, the right link, and the footer that identifies the sender as Canada's anti-spam law asks."""

import re

import pytest
from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.urls import resolve
from django.utils.encoding import force_str
from django.utils.html import escape
from django.utils.http import urlsafe_base64_decode
from django.utils.translation import gettext, override

from infolettre.accounts.actions import (
    do_confirm_email,
    do_invite_member,
    pending_invitation_from_token,
)
from infolettre.accounts.models import Role
from infolettre.accounts.tasks import (
    send_password_reset_email,
    send_welcome_email,
)
from infolettre.accounts.tenancy import tenant_scope

LANGUAGES = ["fr", "en"]


def translated(language, msgid, **values):
    with override(language):
        return gettext(msgid) % values if values else gettext(msgid)


def speaking(user, language):
    user.language = language
    user.save(update_fields=["language"])
    return user


def only_message():
    assert len(mail.outbox) == 1
    return mail.outbox[0]


def html_part(message):
    assert [a.mimetype for a in message.alternatives] == ["text/html"]
    return message.alternatives[0].content


def link_in(message):
    """The one link to the site in the text part; the HTML part carries the same."""
    links = set(re.findall(re.escape(settings.SITE_URL) + r"/[^\s\"<]*", message.body))
    assert len(links) == 1, links
    link = links.pop()
    assert escape(link) in html_part(message)
    return link


def assert_sender_identified(message, language):
    """The footer names the operator, its mailing address, its web address and an email address."""
    operator = settings.OPERATOR
    html = html_part(message)
    for part in (message.body, html):
        assert operator["name"] in part
        assert escape(operator["address"]) in part or operator["address"] in part
        assert settings.SITE_URL in part
        assert operator["privacy_email"] in part
    assert f'<html lang="{language}">' in html
    assert translated(language, "Sent by %(name)s", name=operator["name"]) in message.body


@pytest.mark.parametrize("language", LANGUAGES)
def test_welcome_message_confirms_the_address_in_the_users_language(make_client_user, language):
    """The welcome message is in the user's language and its link confirms their address."""
    user = speaking(make_client_user(confirmed=False), language)
    mail.outbox.clear()

    send_welcome_email.enqueue(user.pk)

    message = only_message()
    assert message.to == [user.email]
    assert message.subject == translated(
        language, "Welcome to %(name)s: confirm your email address", name=settings.OPERATOR["name"]
    )
    assert message.extra_headers["X-Infolettre-Kind"] == "welcome"
    expected = translated(
        language, "The link works for a few days. If it has expired, sign in and ask for a new one."
    )
    assert expected in message.body
    assert escape(expected) in html_part(message)
    assert_sender_identified(message, language)
    match = resolve(link_in(message).removeprefix(settings.SITE_URL))
    assert match.view_name == "accounts:confirm_email"
    assert do_confirm_email(match.kwargs["token"]) == user
    user.refresh_from_db()
    assert user.email_confirmed


@pytest.mark.parametrize("language", LANGUAGES)
def test_password_reset_message_links_to_a_valid_reset(make_client_user, language):
    """The reset message is in the user's language and its link carries a valid reset token."""
    user = speaking(make_client_user(), language)
    mail.outbox.clear()

    send_password_reset_email.enqueue(user.pk)

    message = only_message()
    assert message.to == [user.email]
    assert message.subject == translated(
        language, "%(name)s: choose a new password", name=settings.OPERATOR["name"]
    )
    assert message.extra_headers["X-Infolettre-Kind"] == "account"
    expected = translated(language, "The link works once and for a short time.")
    assert expected in message.body
    assert escape(expected) in html_part(message)
    assert_sender_identified(message, language)
    match = resolve(link_in(message).removeprefix(settings.SITE_URL))
    assert match.view_name == "accounts:password_reset_confirm"
    assert force_str(urlsafe_base64_decode(match.kwargs["uidb64"])) == str(user.pk)
    assert default_token_generator.check_token(user, match.kwargs["token"])


@pytest.mark.parametrize("language", LANGUAGES)
def test_invitation_message_names_who_invites_and_links_to_the_invitation(
    make_client_user, language, django_capture_on_commit_callbacks
):
    """The invitation is in the inviter's language, says who invites on whose behalf, and links to it."""
    owner = speaking(make_client_user(name="Léa Roy"), language)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True), tenant_scope(owner.tenant):
        invitation = do_invite_member(owner, "invited@example.com", Role.MEMBER)

    message = only_message()
    assert message.to == ["invited@example.com"]
    organisation = owner.tenant.name
    assert message.subject == translated(
        language,
        "%(organisation)s invites you to join it on %(name)s",
        organisation=organisation,
        name=settings.OPERATOR["name"],
    )
    assert message.extra_headers["X-Infolettre-Kind"] == "account"
    for part in (message.body, html_part(message)):
        assert "Léa Roy" in part
        assert organisation in part
    assert_sender_identified(message, language)
    match = resolve(link_in(message).removeprefix(settings.SITE_URL))
    assert match.view_name == "accounts:accept_invitation"
    assert pending_invitation_from_token(match.kwargs["token"]) == invitation


def test_text_part_is_plain_and_html_part_is_escaped(make_client_user):
    """A name with markup reads as written in the text part and is escaped in the HTML part."""
    user = speaking(make_client_user(confirmed=False, name="Zoé <Tremblay> & Fils"), "en")
    mail.outbox.clear()

    send_welcome_email.enqueue(user.pk)

    message = only_message()
    assert "Hello Zoé <Tremblay> & Fils," in message.body
    assert "Zoé &lt;Tremblay&gt; &amp; Fils" in html_part(message)
    assert "<Tremblay>" not in html_part(message)
