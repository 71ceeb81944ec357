"""The main navigation leads each user to the areas they may use, and shows no one the others."""

import re

import pytest

from infolettre.staff.testing import make_staff, sign_in_staff

STAFF_AREA = ("/equipe/tableau-de-bord/", "Espace du personnel")
SUPPORT_ACCESS = ("/compte/acces-soutien/", "Accès du soutien")


def _main_nav_links(response):
    """(address, words) of every link of the page's main navigation."""
    assert response.status_code == 200
    html = response.content.decode()
    nav = re.search(r'<nav class="main-nav".*?</nav>', html, re.DOTALL).group(0)
    return {
        (href, re.sub(r"<[^>]+>", "", words).strip())
        for href, words in re.findall(r'<a href="([^"]+)"[^>]*>(.*?)</a>', nav, re.DOTALL)
    }


def test_an_owner_is_led_to_the_support_access_page_and_not_to_the_staff_area(client, owner):
    """A client's owner, who alone may grant support access, finds it in the navigation."""
    client.force_login(owner)
    for page in ("/tableau-de-bord/", "/compte/acces-soutien/"):
        links = _main_nav_links(client.get(page))
        assert SUPPORT_ACCESS in links
        assert STAFF_AREA not in links
    assert 'href="/compte/acces-soutien/" aria-current="page"' in (
        client.get("/compte/acces-soutien/").content.decode()
    )


def test_a_member_sees_neither_the_support_access_page_nor_the_staff_area(
    client, owner, make_member
):
    """A member may not grant support access (the page refuses them): no link leads there."""
    client.force_login(make_member(owner.tenant))
    links = _main_nav_links(client.get("/tableau-de-bord/"))
    assert ("/listes/", "Listes") in links
    assert SUPPORT_ACCESS not in links
    assert STAFF_AREA not in links


@pytest.mark.parametrize("role", ["support", "billing", "privacy_officer", "administrator"])
def test_staff_are_led_to_the_staff_area_from_every_page(client, db, role):
    """Every staff role may use the staff dashboard; the link is on the pages they open, and
    the support access page, a client owner's, is not offered."""
    sign_in_staff(client, make_staff(role))
    for page in ("/equipe/tableau-de-bord/", "/politique-de-confidentialite/"):
        links = _main_nav_links(client.get(page))
        assert STAFF_AREA in links
        assert SUPPORT_ACCESS not in links


def test_an_anonymous_visitor_sees_neither_link(client, db):
    links = _main_nav_links(client.get("/connexion/"))
    assert STAFF_AREA not in links
    assert SUPPORT_ACCESS not in links
    assert ("/connexion/", "Se connecter") in links
