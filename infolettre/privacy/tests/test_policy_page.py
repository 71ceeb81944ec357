"""The public privacy pages: the versioned policy, linked from every page, and the declaration."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.apps import apps
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.html import escape
from django.utils.text import capfirst, slugify

from infolettre.privacy.declaration import declared_models
from infolettre.privacy.models import PolicyVersion
from infolettre.privacy.templatetags.privacy_text import external_link, policy_body

POLICY = reverse("privacy:policy")
DECLARATION = reverse("privacy:declaration")


def publish(version, published_at, **fields):
    return PolicyVersion.objects.create(
        version=version,
        published_at=published_at,
        body_fr=fields.get("body_fr", f"## Version {version}\n\nTexte français."),
        body_en=fields.get("body_en", f"## Version {version}\n\nEnglish text."),
    )


@pytest.mark.django_db
def test_the_policy_page_is_linked_from_the_home_pages_footer(client):
    """Every page's footer, the home page's included, links the policy and the declaration."""
    html = client.get(reverse("accounts:home")).content.decode()
    footer = html[html.index('<footer class="site-footer">') :]
    assert f'<a href="{POLICY}">' in footer
    assert f'<a href="{DECLARATION}">' in footer


@pytest.mark.django_db
def test_the_policy_page_shows_the_version_in_force_and_its_publication_date(client):
    """The policy page names its version and publication date, in the visitor's language."""
    response = client.get(POLICY, HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert response.status_code == 200
    assert '<span id="policy-version">Version 1</span>' in html
    published = PolicyVersion.objects.get(version="1").published_at
    with translation.override("en"):
        day = date_format(timezone.localtime(published), "DATE_FORMAT")
    assert f"<span>Published on {day}</span>" in html
    assert '<span class="badge badge-yes">In force</span>' in html


@pytest.mark.django_db
def test_the_policy_body_is_french_by_default_and_english_on_request(client):
    """The body follows the active language, French first."""
    french = client.get(POLICY).content.decode()
    english = client.get(POLICY, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<h2 id="politique-sur-la-protection-de-la-vie-privee">' in french
    assert "Politique sur la protection de la vie privée</h2>" in french
    assert '<html lang="fr">' in french
    policy = PolicyVersion.objects.get(version="1")
    first_heading = policy.body_en.splitlines()[0].removeprefix("## ")
    assert f">{escape(first_heading)}</h2>" in english
    assert '<html lang="en">' in english


@pytest.mark.django_db
def test_the_policy_page_gives_the_privacy_officer_and_links_the_declaration(client, settings):
    """Below the policy: the officer's name and address from the settings, and the declaration."""
    settings.OPERATOR = {
        **settings.OPERATOR,
        "privacy_officer": "Camille Roy",
        "privacy_email": "dpo@example.org",
    }
    html = client.get(POLICY).content.decode()
    aside = html[html.index("<aside>") : html.index("</aside>")]
    assert 'Camille Roy<br><a href="mailto:dpo@example.org">dpo@example.org</a>' in aside
    assert f'<a href="{DECLARATION}">' in aside


@pytest.mark.django_db
def test_an_earlier_version_is_shown_by_its_number_and_listed_with_the_others(client):
    """Each published version has its page; the page lists every version; the newest is in force."""
    publish("2", timezone.now() - timedelta(minutes=1))
    current = client.get(POLICY, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    earlier = client.get(
        reverse("privacy:policy_version", args=["1"]), HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    assert '<span id="policy-version">Version 2</span>' in current
    assert "<p>English text.</p>" in current
    assert '<span id="policy-version">Version 1</span>' in earlier
    assert '<span class="badge badge-warn">Earlier version</span>' in earlier
    versions = re.search(r'<ul class="small" id="policy-versions">.*?</ul>', earlier, re.S)[0]
    assert re.findall(r"Version (\d)", versions) == ["2", "1"]
    assert "<strong>Version 1</strong>" in versions
    assert f'<a href="{reverse("privacy:policy_version", args=["2"])}">Version 2</a>' in versions


@pytest.mark.django_db
def test_a_version_published_later_is_not_shown_yet(client):
    """A version dated in the future is neither in force nor reachable by its number."""
    publish("9", datetime(2999, 1, 1, tzinfo=UTC))
    assert client.get(reverse("privacy:policy_version", args=["9"])).status_code == 404
    assert '<span id="policy-version">Version 1</span>' in client.get(POLICY).content.decode()


@pytest.mark.django_db
def test_an_unknown_version_is_not_found(client):
    """A version number that was never published answers 404."""
    response = client.get(reverse("privacy:policy_version", args=["404"]))
    assert response.status_code == 404


def test_policy_body_renders_headings_and_paragraphs_and_escapes_everything():
    """Headings, paragraphs and lists become HTML; any markup in the text is shown, never run."""
    text = (
        "## Title\n\nFirst line\nsame paragraph <script>x</script>\n\n### Sub & more\n- one\n- two"
    )
    assert policy_body(text) == (
        '<h2 id="title">Title</h2>\n'
        "<p>First line same paragraph &lt;script&gt;x&lt;/script&gt;</p>\n"
        '<h3 id="sub-more">Sub &amp; more</h3>\n'
        "<ul><li>one</li><li>two</li></ul>"
    )


def test_external_links_are_marked_and_only_web_addresses_become_links():
    """A link to another site opens apart with rel=noopener and a visible mark; others stay text."""
    with translation.override("en"):
        link = external_link("https://example.org/a?b=1&c=2", "Example")
    assert link == (
        '<a href="https://example.org/a?b=1&amp;c=2" class="external" rel="noopener noreferrer" '
        'target="_blank">Example<span class="external-mark" aria-hidden="true"> ↗</span>'
        '<span class="visually-hidden"> (leaves this site, opens in a new tab)</span></a>'
    )
    assert external_link("javascript:alert(1)") == "javascript:alert(1)"


@pytest.mark.django_db
def test_the_declaration_page_lists_every_declared_field_with_its_purposes(client):
    """Every declared model has its table, every field its row, every purpose its description."""
    html = client.get(DECLARATION, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    with translation.override("en"):
        for entry in declared_models():
            table = re.search(
                rf'<table id="model-{slugify(entry.model)}" class="declaration-table">.*?</table>',
                html,
                re.S,
            )
            assert table, entry.model
            rows = re.findall(r"<tr>\s*<td>(.*?)</td>", table[0], re.S)
            meta = apps.get_model(entry.model)._meta
            assert rows == [
                escape(str(capfirst(meta.get_field(f.name).verbose_name))) for f in entry.fields
            ]
            for field in entry.fields:
                for purpose in field.purpose_objects:
                    assert escape(str(purpose.description)) in html


@pytest.mark.django_db
def test_the_declaration_page_says_which_fields_are_confidential(client):
    """The company phone is confidential, the company name is not."""
    html = client.get(DECLARATION, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    table = re.search(
        r'<table id="model-accountsorganisation" class="declaration-table">.*?</table>', html, re.S
    )[0]
    rows = dict(re.findall(r"<tr>\s*<td>(.*?)</td>.*?<td>(?:<span[^>]*>)?(yes|no)", table, re.S))
    assert rows["Company phone"] == "yes"
    assert rows["Company name"] == "no"
