"""The stop link of the daily report: GET asks, POST stops at once, a damaged link changes nothing."""

from django.utils import timezone

from infolettre.accounts.actions import do_set_consent
from infolettre.accounts.models import User
from infolettre.analytics.stop_links import make_stop_token
from infolettre.privacy.models import ConsentEvent
from infolettre.privacy.purposes import NEWSLETTER, SPECIAL_OFFERS
from infolettre.privacy.queries import current_consents


def stop_path(user):
    return f"/rapport-quotidien/arret/{make_stop_token(user)}/"


def test_get_shows_one_button_and_changes_nothing(client, owner):
    """Opening the link (as a mail scanner does) only shows the button."""
    response = client.get(stop_path(owner))

    assert response.status_code == 200
    assert 'id="stop-daily-report"' in response.text
    assert response.text.count('type="submit"') == 1
    assert response["Referrer-Policy"] == "no-referrer"
    assert "no-cache" in response["Cache-Control"]
    assert response.cookies == {}
    owner.refresh_from_db()
    assert owner.daily_report_stopped_at is None


def test_one_click_post_stops_the_report_without_sign_in(client, owner):
    """The RFC 8058 POST, with no session and no form token, stops the report at once."""
    response = client.post(stop_path(owner), {"List-Unsubscribe": "One-Click"})

    assert response.status_code == 200
    assert 'id="daily-report-stopped"' in response.text
    owner.refresh_from_db()
    assert owner.daily_report_stopped_at is not None


def test_the_button_stops_the_report_and_a_second_post_changes_nothing(client, owner):
    """Stopping twice keeps the first date; the page says it is stopped."""
    client.post(stop_path(owner))
    owner.refresh_from_db()
    first = owner.daily_report_stopped_at

    response = client.post(stop_path(owner))

    assert response.status_code == 200
    owner.refresh_from_db()
    assert owner.daily_report_stopped_at == first
    assert 'id="daily-report-stopped"' in client.get(stop_path(owner)).text


def test_stopping_the_report_leaves_newsletter_and_offers_consents_as_they_were(client, owner):
    """Only the report stops: the consents to the newsletter and special offers do not change."""
    do_set_consent(owner, NEWSLETTER, True, source="test")
    do_set_consent(owner, SPECIAL_OFFERS, True, source="test")
    events = ConsentEvent.objects.count()

    client.post(stop_path(owner), {"List-Unsubscribe": "One-Click"})

    assert ConsentEvent.objects.count() == events
    assert current_consents(owner) == {"newsletter": True, "special_offers": True}


def test_a_tampered_link_answers_400_and_changes_nothing(client, owner, make_member):
    """A token whose user id was changed is refused: nobody's report stops."""
    other = make_member(owner.tenant, email_confirmed_at=timezone.now())
    token = make_stop_token(owner)
    forged = f"{other.pk}{token[token.index(':') :]}"
    before = list(User.objects.order_by("pk").values_list("pk", "daily_report_stopped_at"))

    for path in (f"/rapport-quotidien/arret/{forged}/", "/rapport-quotidien/arret/nonsense/"):
        response = client.post(path, {"List-Unsubscribe": "One-Click"})
        assert response.status_code == 400
        assert "Lien invalide" in response.text
        assert "endommagé" in response.text
    assert client.get(f"/rapport-quotidien/arret/{forged}/").status_code == 400
    assert list(User.objects.order_by("pk").values_list("pk", "daily_report_stopped_at")) == before


def test_the_link_names_the_user_id_only(owner):
    """The token carries no address (links end up in browser histories and proxy logs)."""
    token = make_stop_token(owner)
    assert token.split(":")[0] == str(owner.pk)
    assert owner.email.split("@")[0] not in token


def test_the_account_page_switches_the_report_off_and_on(client, owner):
    """From /compte/rapport-quotidien/, linked from /compte/, a user stops and restarts the report."""
    client.force_login(owner)
    assert "/compte/rapport-quotidien/" in client.get("/compte/").text
    page = client.get("/compte/rapport-quotidien/")
    assert page.status_code == 200
    assert "Vous le recevez" in page.text

    client.post("/compte/rapport-quotidien/", {"send": "no"})
    owner.refresh_from_db()
    assert owner.daily_report_stopped_at is not None
    assert "Vous ne le recevez pas" in client.get("/compte/rapport-quotidien/").text

    client.post("/compte/rapport-quotidien/", {"send": "yes"})
    owner.refresh_from_db()
    assert owner.daily_report_stopped_at is None


def test_the_account_page_needs_a_sign_in(client, owner):
    """Without a session the switch redirects to the sign-in page and changes nothing."""
    response = client.post("/compte/rapport-quotidien/", {"send": "no"})
    assert response.status_code == 302
    owner.refresh_from_db()
    assert owner.daily_report_stopped_at is None
