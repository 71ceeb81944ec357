"""The click redirect and the open pixel are answered ahead of most of the middleware, with the
same security headers as every page, and are the same routes as in the site's URLconf."""

import pytest
from django.conf import settings
from django.core import signing
from django.test import Client
from django.urls import get_resolver, resolve, reverse

from infolettre.campaigns.tests.test_tracking import (
    BROWSER,
    campaign,  # noqa: F401 (a fixture)
    click_paths,
    launch,
    sent_html,
)
from infolettre.campaigns.tracking import LINK_SALT
from infolettre.campaigns.tracking_actions import do_set_tracking


@pytest.fixture
def click(owner, campaign, smtp_server, django_capture_on_commit_callbacks):  # noqa: F811
    do_set_tracking(owner, count_opens_and_clicks=True, per_recipient=False)
    launch(owner, campaign, django_capture_on_commit_callbacks)
    html, _text = sent_html(smtp_server)
    return click_paths(html)[0]


def test_every_hot_route_is_the_same_route_of_the_site():
    """Each route of HOT_URLCONF has the same address and view under the campaigns namespace, so
    that the fast lane and the site cannot drift apart."""
    hot = get_resolver(settings.HOT_URLCONF)
    assert [p.name for p in hot.url_patterns] == ["track_click", "track_open"]
    for pattern in hot.url_patterns:
        path = reverse(f"campaigns:{pattern.name}", args=["T0K3N"])
        assert hot.resolve(path).func is resolve(path).func
        assert resolve(path).view_name == f"campaigns:{pattern.name}"


def test_a_hot_answer_carries_the_security_headers_and_skips_the_rest(client, click):
    """The redirect has the headers of every page and sets no cookie; it did not go through the
    language middleware (no Content-Language), which a page of the site does."""
    response = client.get(click, HTTP_USER_AGENT=BROWSER)
    assert response.status_code == 302
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "no-referrer"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert response["Cache-Control"] == "max-age=0, no-cache, no-store, must-revalidate, private"
    assert response.cookies == {}
    assert "Content-Language" not in response and "Vary" not in response
    assert "Content-Language" in client.get("/politique-de-confidentialite/")


def test_an_unknown_host_is_refused_on_a_hot_route(click):
    """The fast lane checks the Host header against ALLOWED_HOSTS like every other page."""
    response = Client().get(click, HTTP_HOST="evil.example", HTTP_USER_AGENT=BROWSER)
    assert response.status_code == 400
    assert "Location" not in response


def test_the_page_of_a_damaged_link_speaks_the_browsers_language(client, db):
    """Without the language middleware, the hot route's error page still follows Accept-Language."""
    damaged = signing.Signer(salt=LINK_SALT).sign("1")[:-2] + "xx"
    english = client.get(f"/t/c/{damaged}/", HTTP_ACCEPT_LANGUAGE="en")
    french = client.get(f"/t/c/{damaged}/")
    assert english.status_code == french.status_code == 400
    assert "This link is damaged." in english.content.decode()
    assert 'lang="en"' in english.content.decode()
    assert 'lang="fr"' in french.content.decode()
    assert english["X-Frame-Options"] == "DENY"
