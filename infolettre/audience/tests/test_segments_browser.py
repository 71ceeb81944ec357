"""Building a segment in a real browser: the rows change and the count follows as conditions change."""

import os
import re

import pytest
from django.db import connections
from playwright.sync_api import expect, sync_playwright

from infolettre.accounts.tenancy import tenant_scope
from infolettre.audience.models import Segment

from .test_segments import make_people

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
def page(live_server, owner, client):
    # Playwright's sync API runs an event loop in this thread; the ORM calls of the test are safe.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    make_people(owner.tenant)
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


def settled(page):
    """Wait until htmx has answered and drawn the builder again, as a person would."""
    # A locator, not a script: the Content-Security-Policy forbids evaluating strings as code.
    expect(
        page.locator(".htmx-request, .htmx-swapping, .htmx-settling, .htmx-added")
    ).to_have_count(0)
    return page


def test_build_a_segment_with_a_live_count(page, live_server, owner):
    """Choose a field, an operator and a value; the count follows; a second row narrows it; save."""
    page.goto(live_server.url + "/segments/")
    page.locator("[name='name']").fill("Pros de 40 ans et plus")
    page.locator("[name='g0-c0-field']").select_option("attribute:plan")
    settled(page)
    # The row is drawn again with the attribute's operators and its kind of value.
    expect(page.locator("[name='g0-c0-type']")).to_be_visible()
    page.locator("[name='g0-c0-value']").fill("pro")
    expect(page.locator("#live-count")).to_contain_text(re.compile(r"^\s*1\b"))

    page.locator("button[value='add_row:g0']").click()
    settled(page)
    page.locator("[name='g0-c1-field']").select_option("attribute:age")
    settled(page)
    page.locator("[name='g0-c1-op']").select_option("greater_than")
    settled(page)
    page.locator("[name='g0-c1-type']").select_option("number")
    settled(page)
    page.locator("[name='g0-c1-value']").fill("50")
    expect(page.locator("#live-count")).to_contain_text(re.compile(r"^\s*0\b"))
    page.locator("[name='g0-c1-value']").fill("40")
    expect(page.locator("#live-count")).to_contain_text(re.compile(r"^\s*1\b"))

    page.locator(".segment-form button.button[value='save']").click()
    expect(page).to_have_url(re.compile(r"/segments/[0-9]+/$"))
    expect(page.locator("#count h2")).to_have_text("1")
    expect(page.locator("#preview + .table-wrap")).to_contain_text("ann@example.com")
    with tenant_scope(owner.tenant):
        assert Segment.objects.get().definition == {
            "match": "all",
            "conditions": [
                {"field": "attribute:plan", "op": "equals", "value": "pro"},
                {"field": "attribute:age", "op": "greater_than", "value": 40},
            ],
        }
