"""A newcomer's whole path in a real browser: register, confirm from the welcome message, sign in."""

import os
import re

import pytest
from django.core import mail
from django.db import connections
from django.utils import translation
from playwright.sync_api import expect, sync_playwright

from conftest import PASSWORD
from infolettre.accounts.models import User
from infolettre.accounts.registration import REGISTRATION_FIELDS

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

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def page(settings, live_server):
    # Playwright's sync API runs an event loop in this thread; the ORM calls of the test are safe.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    settings.SITE_URL = live_server.url
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(locale="fr-CA")
        yield context.new_page()
        # The test's own queries ran in Playwright's context, on a connection of their own.
        connections.close_all()
        context.close()
        browser.close()
    del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


def test_register_confirm_sign_in_and_see_the_dashboard(page, live_server):
    """From the home page to the dashboard, in French, as a newcomer would click through."""
    page.goto(live_server.url + "/")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.locator("footer a[href='/politique-de-confidentialite/']")).to_be_visible()
    page.locator("main a[href='/inscription/']").first.click()

    form = page.locator("main form")
    with translation.override("fr"):
        for spec in REGISTRATION_FIELDS:  # each field says why it is asked, in French
            expect(form).to_contain_text(str(spec.purpose_text))
    fields = {
        "name": "Ana Lopez",
        "title": "Présidente",
        "email": "ana@example.com",
        "company_name": "Boulangerie Lopez",
        "address": "12 rue Saint-Denis, Montréal (Québec) H2X 3K1",
        "phone": "514 555 0199",
        "website": "boulangerie.example",
        "password": PASSWORD,
    }
    for name, value in fields.items():
        page.locator(f"[name='{name}']").fill(value)
    expect(page.locator("[name='newsletter']")).not_to_be_checked()
    expect(page.locator("[name='special_offers']")).not_to_be_checked()
    page.locator("[name='accept_policy']").check()
    form.locator("button[type='submit']").click()

    expect(page).to_have_url(re.compile("/inscription/envoyee/$"))
    assert User.objects.get(email="ana@example.com").email_confirmed is False
    link = re.search(r"https?://\S+/confirmer/\S+/", mail.outbox[0].body).group(0)

    page.goto(link)
    expect(page.locator("main")).to_contain_text("ana@example.com")
    assert User.objects.get(email="ana@example.com").email_confirmed is True

    page.locator("header form[action='/deconnexion/'] button").click()
    page.goto(live_server.url + "/connexion/")
    page.locator("[name='email']").fill("ana@example.com")
    page.locator("[name='password']").fill(PASSWORD)
    page.locator("main form button[type='submit']").click()

    expect(page).to_have_url(re.compile("/tableau-de-bord/$"))
    expect(page.locator("main")).to_contain_text("Boulangerie Lopez")
    expect(page.locator("#unconfirmed-banner")).to_have_count(0)
