"""The server-rendered account pages: registration, sign-in, dashboard, account, team and tokens."""

import re

import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape

from conftest import PASSWORD, registration_data
from infolettre.accounts.actions import (
    consent_wording,
    do_invite_member,
    do_issue_api_token,
)
from infolettre.accounts.models import ApiToken, Invitation, Organisation, Role, User
from infolettre.accounts.registration import MEMBER_FIELDS, REGISTRATION_FIELDS
from infolettre.accounts.tenancy import tenant_scope
from infolettre.accounts.tokens import api_token_digest
from infolettre.privacy.models import ConsentEvent, PolicyAcceptance
from infolettre.privacy.purposes import NEWSLETTER, SPECIAL_OFFERS

REGISTER = reverse("accounts:register")
LOGIN = reverse("accounts:login")
DASHBOARD = reverse("accounts:dashboard")
TEAM = reverse("accounts:team")
TOKENS = reverse("accounts:api_tokens")


def form_data(**overrides):
    """A complete registration form as a browser would post it."""
    data = registration_data()
    data.update(password=PASSWORD, accept_policy="on")
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def field_block(html, name):
    """The HTML of one field of a form, from its wrapper to the next field."""
    start = html.index(f'id="field-{name}"')
    end = html.find('class="field', start + 1)
    return html[start : end if end != -1 else len(html)]


def without_csrf(response):
    """The page without its CSRF tokens, which are masked afresh on every answer."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())


def invite(owner, email="invitee@example.com", role=Role.MEMBER):
    with tenant_scope(owner.tenant):
        return do_invite_member(owner, email, role)


# Registration ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_registration_page_shows_the_declared_purpose_beside_every_field(client):
    """Each registration input has its declared purpose right under it, read from the declaration."""
    response = client.get(REGISTER, HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert response.status_code == 200
    with translation.override("en"):
        for spec in REGISTRATION_FIELDS:
            expected = (
                f'<p class="purpose" id="id_{spec.name}-purpose">{escape(spec.purpose_text)}</p>'
            )
            assert expected in field_block(html, spec.name), spec.name
    assert html.count('class="purpose" id="id_') == len(REGISTRATION_FIELDS) + 2


@pytest.mark.django_db
def test_registration_page_marks_optional_inputs_and_gives_selects_an_empty_first_option(client):
    """Optional inputs say so, and each optional select starts with an empty, selected option."""
    html = client.get(REGISTER).content.decode()
    for spec in REGISTRATION_FIELDS:
        block = field_block(html, spec.name)
        control = re.search(r"<(input|select|textarea) [^>]*>", block)[0]
        assert (" required" in control) is spec.required, spec.name
        if spec.choices:
            first_option = re.search(r"<option[^>]*>", block).group(0)
            assert first_option == '<option value="">', spec.name
            assert " selected" not in block, spec.name


@pytest.mark.django_db
def test_consent_boxes_are_separate_and_unticked_by_default(client):
    """Newsletter and special offers are two unticked boxes, each with its own purpose."""
    html = client.get(REGISTER, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    for purpose in (NEWSLETTER, SPECIAL_OFFERS):
        box = re.search(rf'<input type="checkbox" id="id_{purpose.code}"[^>]*>', html).group(0)
        assert "checked" not in box
        with translation.override("en"):
            assert escape(str(purpose.description)) in html
    policy_box = re.search(r'<input type="checkbox" id="id_accept_policy"[^>]*>', html).group(0)
    assert "checked" not in policy_box
    assert f'href="{reverse("privacy:policy")}"' in html


@pytest.mark.django_db
def test_registration_creates_organisation_and_owner_and_signs_them_in(
    client, django_capture_on_commit_callbacks
):
    """A valid form creates the organisation and its owner, signs them in and says a welcome left."""
    data = form_data(email="Ana.Lopez@Example.com", company_name="Acme", phone="514 555-0199")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(REGISTER, data)
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:registered")
    user = User.objects.get()
    assert (user.email, user.role, user.email_confirmed) == (
        "ana.lopez@example.com",
        "owner",
        False,
    )
    assert (user.tenant.name, user.tenant.phone) == ("Acme", "+15145550199")
    assert (user.gender, user.tenant.fax, user.tenant.industry) == ("", "", "")
    assert client.session["_auth_user_id"] == str(user.pk)
    page = client.get(reverse("accounts:registered")).content.decode()
    assert "<strong>ana.lopez@example.com</strong>" in page
    assert f'href="{DASHBOARD}"' in page


@pytest.mark.django_db
def test_registration_sends_one_welcome_whose_link_confirms_the_address(
    client, django_capture_on_commit_callbacks
):
    """Exactly one welcome message leaves; following its link confirms the address."""
    with django_capture_on_commit_callbacks(execute=True):
        client.post(REGISTER, form_data(email="bo@example.com"))
    assert [m.to for m in mail.outbox] == [["bo@example.com"]]
    path = re.search(r"https?://[^/\s]+(/confirmer/[^/\s]+/)", mail.outbox[0].body).group(1)
    response = client.get(path)
    assert response.status_code == 200
    assert "<strong>bo@example.com</strong>" in response.content.decode()
    assert User.objects.get(email="bo@example.com").email_confirmed is True


@pytest.mark.django_db
def test_ticked_consent_boxes_are_recorded_in_the_ledger_and_unticked_ones_are_not(client):
    """Only the ticked box becomes a consent, with the exact wording and the web source."""
    client.post(REGISTER, form_data(newsletter="on"))
    user = User.objects.get()
    events = list(ConsentEvent.objects.all())
    assert [(e.subject_id, e.purpose, e.given) for e in events] == [(user.pk, "newsletter", True)]
    assert events[0].source == "web:/inscription/"
    assert events[0].wording == str(consent_wording(NEWSLETTER))
    assert [(a.subject_id, a.policy_version.version) for a in PolicyAcceptance.objects.all()] == [
        (user.pk, "1")
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"title": ""}, "title", "This field is required."),
        ({"email": "not-an-address"}, "email", "Enter a valid email address."),
        ({"phone": "12"}, "phone", "Enter a valid phone number, for example +1 514 555 0123."),
        (
            {"password": "12345"},
            "password",
            "This password is too short. It must contain at least 10 characters. "
            "This password is too common. This password is entirely numeric.",
        ),
        ({"industry": "astrology"}, "industry", "Choose one of the proposed answers."),
        (
            {"accept_policy": None},
            "accept_policy",
            "Accept the privacy policy to create an account.",
        ),
    ],
)
def test_bad_registration_input_is_shown_beside_its_field_and_creates_nothing(
    client, overrides, field, message
):
    """A faulty form comes back with the message beside the faulty field; nothing is created."""
    users, organisations = User.objects.count(), Organisation.objects.count()
    response = client.post(REGISTER, form_data(**overrides), HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert response.status_code == 400
    assert f'<p class="field-error" id="id_{field}-error">{escape(message)}</p>' in html
    assert html.count('class="field-error"') == 1
    assert (User.objects.count(), Organisation.objects.count()) == (users, organisations)
    assert ConsentEvent.objects.count() == 0
    assert mail.outbox == []
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_a_faulty_registration_keeps_what_was_typed_but_never_the_password(client):
    """The page shows the typed values again, ticked boxes still ticked, and an empty password."""
    data = form_data(name="Ana Lopez", email="bad", industry="retail", special_offers="on")
    html = client.post(REGISTER, data).content.decode()
    assert 'name="name"' in html
    assert 'value="Ana Lopez"' in field_block(html, "name")
    assert 'value="bad"' in field_block(html, "email")
    assert '<option value="retail" selected>' in field_block(html, "industry")
    assert "checked" in re.search(r'<input type="checkbox" id="id_special_offers"[^>]*>', html)[0]
    assert "checked" not in re.search(r'<input type="checkbox" id="id_newsletter"[^>]*>', html)[0]
    assert PASSWORD not in html
    assert "value=" not in re.search(r'<input id="id_password"[^>]*>', html, re.S)[0]


@pytest.mark.django_db
def test_registering_an_address_already_in_use_is_refused(client, owner):
    """An address that already has an account is named as such; no second organisation appears."""
    organisations = Organisation.objects.count()
    response = client.post(REGISTER, form_data(email=owner.email), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert (
        '<p class="field-error" id="id_email-error">An account already uses this address.</p>'
        in response.content.decode()
    )
    assert Organisation.objects.count() == organisations


# Language ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_pages_are_in_french_by_default_and_in_english_on_request(client):
    """Without a preference the page is French; Accept-Language: en gives English."""
    french = client.post(REGISTER, form_data(title="")).content.decode()
    english = client.post(REGISTER, form_data(title=""), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="fr">' in french
    assert '<p class="field-error" id="id_title-error">Ce champ est obligatoire.</p>' in french
    assert '<html lang="en">' in english
    assert '<p class="field-error" id="id_title-error">This field is required.</p>' in english


@pytest.mark.django_db
def test_our_own_words_are_translated_into_french(client):
    """The product's own text, not only Django's, reads in French by default."""
    french = client.get(REGISTER).content.decode()
    assert "<h1>Créer un compte</h1>" in french
    assert (
        "<h1>Create an account</h1>"
        in client.get(REGISTER, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    )


@pytest.mark.django_db
def test_language_switch_posts_to_set_language_and_remembers_the_choice(client):
    """The header's language buttons post to set_language; the choice then applies to every page."""
    html = client.get(reverse("accounts:home")).content.decode()
    assert f'action="{reverse("set_language")}"' in html
    assert 'name="language" value="en"' in html
    response = client.post(reverse("set_language"), {"language": "en", "next": LOGIN})
    assert response.status_code == 302
    assert response["Location"] == LOGIN
    assert '<html lang="en">' in client.get(LOGIN).content.decode()


# Signing in and out ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_login_with_the_right_password_signs_in_and_follows_a_local_next(client, owner):
    """The right credentials open a session and lead to the page asked for."""
    response = client.post(
        LOGIN, {"email": owner.email.upper(), "password": PASSWORD, "next": TEAM}
    )
    assert response.status_code == 302
    assert response["Location"] == TEAM
    assert client.session["_auth_user_id"] == str(owner.pk)


@pytest.mark.django_db
def test_login_ignores_a_next_that_leaves_the_site(client, owner):
    """A next address on another site is ignored: the dashboard opens instead."""
    response = client.post(
        LOGIN, {"email": owner.email, "password": PASSWORD, "next": "https://evil.example/"}
    )
    assert response["Location"] == DASHBOARD


@pytest.mark.django_db
def test_login_with_a_wrong_password_is_refused(client, owner):
    """A wrong password shows the error, keeps the address, and opens no session."""
    response = client.post(
        LOGIN, {"email": owner.email, "password": "wrong"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert '<p class="form-error" role="alert">The address or the password is wrong.</p>' in html
    assert f'value="{owner.email}"' in html
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_login_is_throttled_after_too_many_failures_even_with_the_right_password(client, owner):
    """After LOGIN_FAILURE_LIMIT failures, the right password is refused too, with status 429."""
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        assert client.post(LOGIN, {"email": owner.email, "password": "wrong"}).status_code == 400
    response = client.post(
        LOGIN, {"email": owner.email, "password": PASSWORD}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 429
    assert (
        "Too many failed sign-in attempts: wait 15 minutes, or reset your password."
        in response.content.decode()
    )
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_logout_accepts_only_post(client, owner):
    """Signing out is a POST; a GET (a link or a prefetch) changes nothing."""
    client.force_login(owner)
    assert client.get(reverse("accounts:logout")).status_code == 405
    assert client.session["_auth_user_id"] == str(owner.pk)
    response = client.post(reverse("accounts:logout"))
    assert response["Location"] == reverse("accounts:home")
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_signed_in_header_has_the_navigation_and_a_sign_out_form(client, owner):
    """The header links every client page, and signing out is a form with a CSRF token."""
    client.force_login(owner)
    html = client.get(DASHBOARD).content.decode()
    for name in ("dashboard", "profile", "organisation", "team", "api_tokens"):
        assert f'href="{reverse(f"accounts:{name}")}"' in html
    sign_out = re.search(
        rf'<form method="post" action="{reverse("accounts:logout")}".*?</form>', html, re.S
    )[0]
    assert 'name="csrfmiddlewaretoken"' in sign_out


# Password reset ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_password_reset_gives_the_same_answer_for_known_and_unknown_addresses(
    client, owner, django_capture_on_commit_callbacks
):
    """Asking for a reset says the same either way; only a known address gets a message."""
    url = reverse("accounts:password_reset")
    with django_capture_on_commit_callbacks(execute=True):
        known = client.post(url, {"email": owner.email})
        unknown = client.post(url, {"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 200
    assert without_csrf(known) == without_csrf(unknown)
    assert [m.to for m in mail.outbox] == [[owner.email]]


@pytest.mark.django_db
def test_password_reset_link_sets_a_new_password_and_signs_in(
    client, owner, django_capture_on_commit_callbacks
):
    """The emailed link lets the person choose a new password; the link then stops working."""
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("accounts:password_reset"), {"email": owner.email})
    path = re.search(r"https?://[^/\s]+(/mot-de-passe/nouveau/\S+/\S+/)", mail.outbox[0].body)[1]
    new = "another long passphrase 43"
    assert client.get(path).status_code == 200
    response = client.post(path, {"password": new, "password_again": new})
    assert response["Location"] == DASHBOARD
    owner.refresh_from_db()
    assert owner.check_password(new) is True
    assert client.get(path).status_code == 400


@pytest.mark.django_db
def test_password_reset_refuses_a_weak_password_and_keeps_the_old_one(
    client, owner, django_capture_on_commit_callbacks
):
    """A weak new password is named and changes nothing."""
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("accounts:password_reset"), {"email": owner.email})
    path = re.search(r"https?://[^/\s]+(/mot-de-passe/nouveau/\S+/\S+/)", mail.outbox[0].body)[1]
    response = client.post(path, {"password": "short", "password_again": "short"})
    assert response.status_code == 400
    owner.refresh_from_db()
    assert owner.check_password(PASSWORD) is True


@pytest.mark.django_db
def test_a_forged_password_reset_link_shows_the_invalid_link_page(client, owner):
    """A link that was not issued answers 400 with a way to ask for a new one."""
    response = client.get(
        reverse("accounts:password_reset_confirm", args=["MQ", "forged-token"]),
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "This link is invalid or has expired." in html
    assert f'href="{reverse("accounts:password_reset")}"' in html


# Email confirmation ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_forged_confirmation_link_shows_the_invalid_link_page(client, make_client_user):
    """A bad confirmation link answers 400, confirms nothing, and offers a new link."""
    user = make_client_user(confirmed=False)
    client.force_login(user)
    response = client.get(
        reverse("accounts:confirm_email", args=["forged:token"]), HTTP_ACCEPT_LANGUAGE="en"
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "This link is invalid or has expired." in html
    assert f'action="{reverse("accounts:resend_confirmation")}"' in html
    user.refresh_from_db()
    assert user.email_confirmed is False


@pytest.mark.django_db
def test_resend_confirmation_sends_a_new_welcome_on_post_only(
    client, make_client_user, django_capture_on_commit_callbacks
):
    """The resend button posts; a new welcome leaves for an unconfirmed address."""
    user = make_client_user(confirmed=False)
    mail.outbox.clear()
    client.force_login(user)
    url = reverse("accounts:resend_confirmation")
    assert client.get(url).status_code == 405
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url)
    assert response["Location"] == DASHBOARD
    assert [m.to for m in mail.outbox] == [[user.email]]


# Dashboard ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_dashboard_sends_anonymous_visitors_to_sign_in(client):
    """An anonymous visitor is redirected to the sign-in page, which will bring them back."""
    response = client.get(DASHBOARD)
    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN}?next={DASHBOARD}"


@pytest.mark.django_db
def test_dashboard_shows_the_unconfirmed_banner_until_the_address_is_confirmed(
    client, make_client_user
):
    """An unconfirmed owner sees a banner saying nothing can be sent, with a resend button."""
    user = make_client_user(confirmed=False, company_name="Acme")
    client.force_login(user)
    html = client.get(DASHBOARD, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'id="unconfirmed-banner"' in html
    assert "Nothing can be sent from your account until" in html
    assert f'action="{reverse("accounts:resend_confirmation")}"' in html
    assert '<p>Acme · Your role: <span class="badge">Owner</span></p>' in html


@pytest.mark.django_db
def test_dashboard_has_no_banner_once_the_address_is_confirmed(client, owner):
    """A confirmed owner sees the cards, not the banner."""
    client.force_login(owner)
    html = client.get(DASHBOARD).content.decode()
    assert 'id="unconfirmed-banner"' not in html
    assert f'class="card" href="{TOKENS}"' in html


@pytest.mark.django_db
def test_staff_users_have_no_client_pages(client):
    """A member of staff has no organisation: client pages answer 403."""
    staff = User.objects.create_user("staff@example.com", PASSWORD, name="Staff", is_staff=True)
    client.force_login(staff)
    for name in ("dashboard", "profile", "organisation", "team", "api_tokens", "consents"):
        assert client.get(reverse(f"accounts:{name}")).status_code == 403, name


# Account -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_profile_corrects_own_data_with_the_purpose_of_each_field(client, owner):
    """The profile shows each field's purpose and saves a correction at once."""
    client.force_login(owner)
    html = client.get(reverse("accounts:profile"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    with translation.override("en"):
        for spec in MEMBER_FIELDS:
            assert escape(str(spec.purpose_text)) in field_block(html, spec.name)
    assert f'value="{owner.email}" readonly' in html
    response = client.post(
        reverse("accounts:profile"),
        {"name": "Ana Lopez", "title": "CEO", "gender": "female", "heard_about": ""},
    )
    assert response["Location"] == reverse("accounts:profile")
    owner.refresh_from_db()
    assert (owner.name, owner.title, owner.gender, owner.heard_about) == (
        "Ana Lopez",
        "CEO",
        "female",
        "",
    )


@pytest.mark.django_db
def test_profile_refuses_an_empty_name_and_changes_nothing(client, owner):
    """A required field left empty is named; the stored value stays."""
    client.force_login(owner)
    name = owner.name
    response = client.post(
        reverse("accounts:profile"), {"name": "", "title": "CEO"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 400
    assert (
        '<p class="field-error" id="id_name-error">This field is required.</p>'
        in response.content.decode()
    )
    owner.refresh_from_db()
    assert (owner.name, owner.title) == (name, "Director")


@pytest.mark.django_db
def test_password_change_needs_the_current_password_and_keeps_the_session(client, owner):
    """The right current password changes it and the person stays signed in."""
    client.force_login(owner)
    url = reverse("accounts:password_change")
    new = "another long passphrase 43"
    refused = client.post(url, {"current_password": "wrong", "password": new})
    assert refused.status_code == 400
    owner.refresh_from_db()
    assert owner.check_password(PASSWORD) is True
    response = client.post(url, {"current_password": PASSWORD, "password": new})
    assert response["Location"] == reverse("accounts:profile")
    owner.refresh_from_db()
    assert owner.check_password(new) is True
    assert client.get(DASHBOARD).status_code == 200


@pytest.mark.django_db
def test_consents_page_gives_and_withdraws_each_purpose_in_the_ledger(client, owner):
    """Each button records one answer with the page as source; the history lists both."""
    client.force_login(owner)
    url = reverse("accounts:consents")
    client.post(url, {"purpose": "special_offers", "given": "yes"})
    client.post(url, {"purpose": "special_offers", "given": "no"})
    client.post(url, {"purpose": "special_offers", "given": "no"})
    events = list(ConsentEvent.objects.filter(subject_id=owner.pk))
    assert [(e.purpose, e.given, e.source) for e in events] == [
        ("special_offers", True, "web:/compte/consentements/"),
        ("special_offers", False, "web:/compte/consentements/"),
    ]
    html = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert html.count('<span class="badge badge-yes">Given</span>') == 1
    assert html.count('<span class="badge badge-no">Withdrawn</span>') == 1
    assert f'href="{reverse("privacy:policy_version", args=["1"])}">1</a>' in html


@pytest.mark.django_db
def test_consents_page_refuses_a_purpose_that_does_not_rest_on_consent(client, owner):
    """Only newsletter and special offers can be answered here."""
    client.force_login(owner)
    client.post(reverse("accounts:consents"), {"purpose": "billing", "given": "no"})
    assert ConsentEvent.objects.filter(subject_id=owner.pk).count() == 0


# Organisation ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_owner_edits_the_organisation(client, owner):
    """An owner saves the organisation's details, validated like at registration."""
    client.force_login(owner)
    data = {
        "company_name": "Acme Québec",
        "address": "1 rue Principale",
        "phone": "514 555-0100",
        "website": "acme.example",
        "fax": "",
        "company_size": "11-50",
        "industry": "",
    }
    response = client.post(reverse("accounts:organisation"), data)
    assert response["Location"] == reverse("accounts:organisation")
    organisation = Organisation.objects.get(pk=owner.tenant_id)
    assert (organisation.name, organisation.phone, organisation.website) == (
        "Acme Québec",
        "+15145550100",
        "https://acme.example",
    )
    assert organisation.company_size == "11-50"


@pytest.mark.django_db
def test_member_sees_the_organisation_but_may_not_change_it(client, owner, make_member):
    """A member reads the details (website marked as leaving the site); a POST is refused."""
    member = make_member(owner.tenant)
    client.force_login(member)
    html = client.get(reverse("accounts:organisation"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<form method="post" action="/organisation/"' not in html
    assert (
        '<a href="https://example.com" class="external" rel="noopener noreferrer" target="_blank">'
        'https://example.com<span class="external-mark" aria-hidden="true"> ↗</span>'
        '<span class="visually-hidden"> (leaves this site, opens in a new tab)</span></a>'
    ) in html
    name = owner.tenant.name
    response = client.post(reverse("accounts:organisation"), {"company_name": "Taken over"})
    assert response.status_code == 403
    assert Organisation.objects.get(pk=owner.tenant_id).name == name


# Team --------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_owner_invites_and_the_invited_person_joins(
    client, owner, django_capture_on_commit_callbacks
):
    """An invitation leaves by email; its link creates the account, signed in, in the same organisation."""
    client.force_login(owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(TEAM, {"email": "New.Person@Example.com", "role": "member"})
    assert response["Location"] == TEAM
    assert [m.to for m in mail.outbox] == [["new.person@example.com"]]
    path = re.search(r"https?://[^/\s]+(/invitation/[^/\s]+/)", mail.outbox[0].body)[1]
    client.logout()
    page = client.get(path, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert owner.tenant.name in page
    with translation.override("en"):
        for spec in MEMBER_FIELDS:
            assert escape(str(spec.purpose_text)) in field_block(page, spec.name)
    response = client.post(
        path,
        {
            "name": "New Person",
            "title": "Writer",
            "password": PASSWORD,
            "accept_policy": "on",
            "newsletter": "on",
        },
    )
    assert response["Location"] == DASHBOARD
    joined = User.objects.get(email="new.person@example.com")
    assert (joined.tenant_id, joined.role, joined.email_confirmed) == (
        owner.tenant_id,
        "member",
        True,
    )
    assert client.session["_auth_user_id"] == str(joined.pk)
    assert [(e.purpose, e.source) for e in ConsentEvent.objects.filter(subject_id=joined.pk)] == [
        ("newsletter", "web:/invitation/")
    ]
    assert client.get(path).status_code == 400


@pytest.mark.django_db
def test_accepting_an_invitation_without_the_policy_creates_nothing(client, owner):
    """The invited person must accept the policy; nothing is created otherwise."""
    invitation = invite(owner)
    from infolettre.accounts.tokens import make_invitation_token

    path = reverse("accounts:accept_invitation", args=[make_invitation_token(invitation)])
    users = User.objects.count()
    response = client.post(path, {"name": "N", "title": "T", "password": PASSWORD})
    assert response.status_code == 400
    assert User.objects.count() == users
    assert 'id="id_accept_policy-error"' in response.content.decode()


@pytest.mark.django_db
def test_a_forged_invitation_link_shows_the_invalid_link_page(client):
    """An invitation link that was not issued answers 400."""
    response = client.get(reverse("accounts:accept_invitation", args=["forged"]))
    assert response.status_code == 400


@pytest.mark.django_db
def test_team_actions_by_a_member_are_refused(client, owner, make_member):
    """A member can neither invite, change roles, remove people, nor cancel invitations."""
    member = make_member(owner.tenant, email_confirmed_at=owner.email_confirmed_at)
    colleague = make_member(owner.tenant)
    invitation = invite(owner)
    client.force_login(member)
    html = client.get(TEAM, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Invite someone" not in html
    assert reverse("accounts:remove_member", args=[colleague.pk]) not in html
    response = client.post(
        TEAM, {"email": "x@example.com", "role": "member"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 403
    assert "Only an owner of the organisation may do this." in response.content.decode()
    for url, data in (
        (reverse("accounts:change_member_role", args=[owner.pk]), {"role": "member"}),
        (reverse("accounts:remove_member", args=[colleague.pk]), {}),
        (reverse("accounts:cancel_invitation", args=[invitation.pk]), {}),
    ):
        response = client.post(url, data, HTTP_ACCEPT_LANGUAGE="en", follow=True)
        assert response.redirect_chain == [(TEAM, 302)], url
        assert "Only an owner of the organisation may do this." in response.content.decode()
    owner.refresh_from_db()
    assert owner.role == "owner"
    assert User.objects.filter(pk=colleague.pk).exists()
    assert Invitation.unscoped.filter(pk=invitation.pk).exists()
    assert Invitation.unscoped.filter(email="x@example.com").exists() is False


@pytest.mark.django_db
def test_the_last_owner_cannot_step_down(client, owner):
    """An organisation keeps one owner: the last one cannot become a member."""
    client.force_login(owner)
    response = client.post(
        reverse("accounts:change_member_role", args=[owner.pk]),
        {"role": "member"},
        HTTP_ACCEPT_LANGUAGE="en",
        follow=True,
    )
    assert "An organisation keeps at least one owner." in response.content.decode()
    owner.refresh_from_db()
    assert owner.role == "owner"


@pytest.mark.django_db
def test_owner_changes_a_role_removes_a_member_and_cancels_an_invitation(
    client, owner, make_member
):
    """The owner's three team actions each take effect and lead back to the team page."""
    member, leaving = make_member(owner.tenant), make_member(owner.tenant)
    invitation = invite(owner)
    client.force_login(owner)
    assert (
        client.post(reverse("accounts:change_member_role", args=[member.pk]), {"role": "owner"})[
            "Location"
        ]
        == TEAM
    )
    assert client.post(reverse("accounts:remove_member", args=[leaving.pk]))["Location"] == TEAM
    assert (
        client.post(reverse("accounts:cancel_invitation", args=[invitation.pk]))["Location"] == TEAM
    )
    member.refresh_from_db()
    assert member.role == "owner"
    assert User.objects.filter(pk=leaving.pk).exists() is False
    assert Invitation.unscoped.filter(pk=invitation.pk).exists() is False


@pytest.mark.django_db
@pytest.mark.parametrize(
    "route", ["change_member_role", "remove_member", "cancel_invitation", "revoke_api_token"]
)
def test_another_tenants_ids_answer_404_on_the_team_and_token_endpoints(
    client, make_client_user, make_member, route
):
    """Tenant B's owner posting tenant A's ids gets 404 and nothing of A's changes."""
    owner_a, owner_b = make_client_user(), make_client_user()
    ids = {
        "change_member_role": make_member(owner_a.tenant).pk,
        "remove_member": make_member(owner_a.tenant).pk,
        "cancel_invitation": invite(owner_a).pk,
        "revoke_api_token": do_issue_api_token(owner_a, "A's")[0].pk,
    }
    client.force_login(owner_b)
    before = (
        list(User.objects.order_by("pk").values()),
        list(Invitation.unscoped.values()),
        list(ApiToken.unscoped.values()),
    )
    response = client.post(reverse(f"accounts:{route}", args=[ids[route]]), {"role": "owner"})
    assert response.status_code == 404
    assert (
        list(User.objects.order_by("pk").values()),
        list(Invitation.unscoped.values()),
        list(ApiToken.unscoped.values()),
    ) == before


# API tokens --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_new_tokens_secret_is_shown_once(client, owner):
    """The page after creating a token shows its secret; no later page does."""
    client.force_login(owner)
    response = client.post(TOKENS, {"name": "Import script"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    secret = re.search(r"<code>(inf_[A-Za-z0-9_-]+)</code>", html)[1]
    token = ApiToken.unscoped.get()
    assert (token.name, token.user_id, token.digest) == (
        "Import script",
        owner.pk,
        api_token_digest(secret),
    )
    later = client.get(TOKENS).content.decode()
    assert secret not in later
    assert f"<code>inf_{token.prefix}…</code>" in later


@pytest.mark.django_db
def test_a_token_without_a_name_is_not_created(client, owner):
    """A token needs a name; none is created without."""
    client.force_login(owner)
    response = client.post(TOKENS, {"name": "  "})
    assert response.status_code == 400
    assert ApiToken.unscoped.count() == 0


@pytest.mark.django_db
def test_revoking_a_token_removes_it_from_the_list(client, owner):
    """A revoked token is marked revoked and no longer listed."""
    token, _secret = do_issue_api_token(owner, "cli")
    client.force_login(owner)
    assert client.get(reverse("accounts:revoke_api_token", args=[token.pk])).status_code == 405
    response = client.post(reverse("accounts:revoke_api_token", args=[token.pk]))
    assert response["Location"] == TOKENS
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert f'id="token-{token.pk}"' not in client.get(TOKENS).content.decode()


# Home --------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_home_invites_visitors_to_register_and_signed_in_users_to_their_dashboard(client, owner):
    """Visitors see register and sign-in calls; a signed-in client sees the dashboard link."""
    html = client.get(reverse("accounts:home")).content.decode()
    assert f'class="button" href="{REGISTER}"' in html
    assert f'href="{LOGIN}"' in html
    client.force_login(owner)
    html = client.get(reverse("accounts:home")).content.decode()
    assert f'class="button" href="{DASHBOARD}"' in html
    assert f'class="button" href="{REGISTER}"' not in html


@pytest.mark.django_db
def test_every_form_carries_a_csrf_token(client, owner):
    """Every POST form of the signed-in pages has its CSRF token."""
    client.force_login(owner)
    invite(owner)
    do_issue_api_token(owner, "cli")
    for name in (
        "dashboard",
        "profile",
        "password_change",
        "consents",
        "organisation",
        "team",
        "api_tokens",
    ):
        html = client.get(reverse(f"accounts:{name}")).content.decode()
        forms = re.findall(r'<form method="post".*?</form>', html, re.S)
        assert forms, name
        for form in forms:
            assert 'name="csrfmiddlewaretoken"' in form, name


@pytest.mark.django_db
def test_an_unknown_page_answers_404_in_the_sites_layout(client):
    """A missing page keeps the header and footer, and leads back home."""
    response = client.get("/no-such-page/", HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert response.status_code == 404
    assert "<h1>Page not found</h1>" in html
    assert f'<a href="{reverse("privacy:policy")}">Privacy policy</a>' in html
