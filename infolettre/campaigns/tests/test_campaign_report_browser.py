"""A campaign's owner in a real browser: turn counting on, send, a reader clicks, read the report."""

import os
import re
from datetime import timedelta

import pytest
import time_machine
from django.db import connections
from django.utils import timezone
from playwright.sync_api import expect, sync_playwright

from infolettre.accounts.tenancy import tenant_scope
from infolettre.audience.models import Subscription, SubscriptionStatus
from infolettre.campaigns.actions import do_launch_campaign
from infolettre.campaigns.models import CampaignLink
from infolettre.campaigns.tests.test_tracking import (
    BROWSER,
    campaign,  # noqa: F401 (a fixture)
    sent_html,
)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = os.environ.get("INFOLETTRE_SCREENSHOTS", "")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def page(settings, live_server, owner, client):
    # Playwright's sync API runs an event loop in this thread; the ORM calls of the test are safe.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    # Links in the messages lead to the live server, as they lead to the site in production.
    settings.SITE_URL = live_server.url
    client.force_login(owner)
    cookie = client.cookies["sessionid"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(locale="fr-CA")
        context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": live_server.url}])
        yield context.new_page()
        connections.close_all()
        context.close()
        browser.close()
    del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


def shoot(page, name, selector=None):
    """Keep a picture of the page for a person to look at, when INFOLETTRE_SCREENSHOTS names a
    folder (outside the repository)."""
    if not SCREENSHOTS:
        return
    path = os.path.join(SCREENSHOTS, name)
    if selector:
        page.locator(selector).screenshot(path=path)
    else:
        page.screenshot(path=path, full_page=True)


def test_count_send_click_and_read_the_report(page, live_server, campaign, smtp_server):  # noqa: F811
    """Counting per recipient is turned on from the navigation; a reader's click on a received
    message is counted once, and the report shows it in its figures, its table and its charts."""
    page.goto(live_server.url + "/campagnes/")
    page.locator("header nav a[href='/campagnes/suivi/']").click()
    shoot(page, "tracking.png")
    page.locator("#id_count_opens_and_clicks").check()
    page.locator("#id_per_recipient").check()
    page.locator("#switches form button[type='submit']").click()
    expect(page.locator(".messages")).to_contain_text("C’est enregistré")

    page.locator("header nav a[href='/webhooks/']").click()
    expect(page.locator("header nav a[aria-current='page']")).to_have_text("Webhooks")
    shoot(page, "webhooks.png")

    page.goto(f"{live_server.url}/campagnes/{campaign.pk}/")
    page.locator(f"form[action='/campagnes/{campaign.pk}/envoyer/'] button").first.click()
    expect(page.locator(".messages")).to_contain_text("en cours d’envoi")
    assert len(smtp_server.messages) == 3

    html, _text = sent_html(smtp_server, "r0@example.com")
    clicks = re.findall(rf'href="({re.escape(live_server.url)}/t/c/[^"]+)"', html)
    link_b = CampaignLink.unscoped.get(url="https://example.org/b")
    # A minute later, the reader clicks the second link in their mail program's browser.
    with time_machine.travel(timezone.now() + timedelta(minutes=1), tick=True):
        answer = page.request.get(clicks[1], max_redirects=0, headers={"User-Agent": BROWSER})
    assert (answer.status, answer.headers["location"]) == (302, link_b.url)

    page.goto(f"{live_server.url}/campagnes/{campaign.pk}/")
    page.locator("#report-link").click()
    expect(page).to_have_url(re.compile(rf"/campagnes/{campaign.pk}/rapport/$"))
    expect(page.locator("#figure-sent h3")).to_have_text("3")
    expect(page.locator("#figure-clicked h3")).to_have_text("1")
    row = page.locator("#per-link tbody tr", has_text="https://example.org/b")
    expect(row.locator("td")).to_have_text(["https://example.org/b", "1", "0"])
    expect(page.locator("#per-link svg[role='img']")).to_be_visible()
    expect(page.locator("#over-time svg[role='img']")).to_have_count(2)
    shoot(page, "report.png")
    page.set_viewport_size({"width": 390, "height": 844})
    shoot(page, "report-mobile.png")
    shoot(page, "report-mobile-over-time.png", "#over-time")
    shoot(page, "report-mobile-per-link.png", "#per-link")


def test_a_reader_leaves_a_list_from_the_preference_centre(
    page,
    live_server,
    owner,
    campaign,  # noqa: F811
    smtp_server,
):
    """The footer's preference link of a received message opens the reader's lists, signed in
    nowhere; leaving the list takes effect at once and the page says so."""
    with tenant_scope(owner.tenant):
        do_launch_campaign(campaign)
        news = campaign.lists.get()
    html, _text = sent_html(smtp_server, "r0@example.com")
    link = re.search(rf'href="({re.escape(live_server.url)}/u/[^"]+/preferences/)"', html)[1]
    page.context.clear_cookies()

    page.goto(link)
    expect(page.locator("#preferences h1")).to_have_text("Vos abonnements et vos données")
    row = page.locator(f"#list-{news.pk}")
    expect(row).to_contain_text("Abonné")
    shoot(page, "preferences.png")
    row.get_by_role("button", name="Quitter cette liste").click()

    expect(page.locator("#notice")).to_be_visible()
    expect(page.locator(f"#list-{news.pk}")).to_contain_text("Désabonné")
    status = Subscription.unscoped.get(contact__email="r0@example.com").status
    assert status == SubscriptionStatus.UNSUBSCRIBED
    page.set_viewport_size({"width": 390, "height": 844})
    shoot(page, "preferences-mobile.png")
