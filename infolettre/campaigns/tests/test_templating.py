"""Client templates render in a sandbox, keep the footer, inline their CSS and carry a text twin."""

from types import SimpleNamespace

import pytest
from django.utils import translation

from infolettre.accounts.tenancy import tenant_scope
from infolettre.campaigns.errors import TemplateError
from infolettre.campaigns.footer import footer_html, render_footer_text
from infolettre.campaigns.models import Template
from infolettre.campaigns.template_actions import (
    default_template_html,
    do_create_template,
    do_update_template,
)
from infolettre.campaigns.templating import CompiledMessage, check_template

URL = "https://infolettre.example/u/abc:def/"
ORGANISATION = SimpleNamespace(
    name="Café Lumière",
    address="100 rue Saint-Paul, Montréal (Québec) H2Y 1Z1",
    website="https://cafe.example",
    phone="+15145550123",
)


def contact(name="Zoé Gagnon", email="zoe@example.com", **attributes):
    return SimpleNamespace(name=name, email=email, attributes=attributes)


def render(html, subject="Hello", who=None):
    return CompiledMessage(subject, html, ORGANISATION).render(
        who or contact(), unsubscribe_url=URL, footer_html=footer_html(ORGANISATION, URL)
    )


def refusal(html, subject=""):
    with pytest.raises(TemplateError) as caught:
        check_template(html, subject)
    return caught.value


# The sandbox ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "line"),
    [
        ("<p>{{ ''.__class__.__mro__ }}</p>", 1),
        ("<p>\n{{ cycler.__init__.__globals__ }}</p>", 2),
        ("<p>{{ contact['__class__'] }}</p>", 1),
        ("<p>{{ contact|attr('__class__') }}</p>", 1),
        ("\n\n<p>{% include '/etc/passwd' %}</p>", 3),
        ("<p>{% import 'macros.html' as m %}</p>", 1),
        ("{% extends '/etc/passwd' %}", 1),
        ("<p>{% from 'x' import y %}</p>", 1),
    ],
)
def test_reaching_python_internals_or_files_is_refused_with_its_line(html, line):
    """Internals, includes, imports and extends are refused when checked, naming the line."""
    error = refusal(html)
    assert error.code == "template_error"
    assert str(error.message).startswith(f"Ligne {line} : ")
    assert error.details[0]["field"] == "html"
    assert error.details[0]["line"] == line


def test_an_escape_built_at_run_time_is_refused_when_checked():
    """A name assembled while rendering is stopped by the sandbox, and refused with its line."""
    error = refusal("<p>ok</p>\n<p>{{ contact[('__cla' ~ 'ss__')] }}</p>")
    assert str(error.message).startswith("Ligne 2 : ")
    assert "unsafe" in str(error.message)


def test_the_environment_has_no_loader_so_nothing_is_read_from_disk():
    """Even unchecked, an include cannot read a file: rendering it fails, showing nothing."""
    compiled = CompiledMessage("s", "<p>{% include '/etc/passwd' %}</p>", ORGANISATION)
    with pytest.raises(TemplateError) as caught:
        compiled.render(contact(), unsubscribe_url=URL, footer_html="")
    assert "root:" not in str(caught.value.message)


def test_a_syntax_error_is_refused_with_its_line():
    """A malformed construct is named with the line Jinja reports."""
    error = refusal("<p>one</p>\n<p>two</p>\n<p>{{ contact.name }</p>")
    assert str(error.message).startswith("Ligne 3 : ")
    assert "'}'" in str(error.message)


def test_an_unknown_name_is_refused_and_the_known_ones_are_listed():
    """A misspelt name is caught when saved rather than printing nothing to every recipient."""
    error = refusal("<p>Hello {{ contcat.name }}</p>")
    assert str(error.message).startswith("Ligne 1 : « contcat » est inconnu.")
    assert "contact" in str(error.message)


def test_a_syntax_error_in_the_subject_names_the_subject():
    """The subject is checked too, and its errors say so."""
    error = refusal("<p>Hi</p>", subject="Hello {{ contact.name")
    assert error.details[0]["field"] == "subject"


def test_a_refused_template_is_not_saved(owner):
    """Creating or changing a template with an escape leaves the stored templates as they were."""
    with tenant_scope(owner.tenant):
        template = do_create_template(owner.tenant, name="Letter", html="<p>fine</p>")
        with pytest.raises(TemplateError):
            do_create_template(owner.tenant, name="Bad", html="{{ ''.__class__ }}")
        with pytest.raises(TemplateError):
            do_update_template(template, html="{% include 'x' %}")
        assert list(Template.objects.values_list("name", "html")) == [("Letter", "<p>fine</p>")]


def test_a_huge_string_built_by_a_template_is_refused():
    """A template cannot make the server build an enormous value."""
    error = refusal("<p>{{ 'x' * 100000000 }}</p>")
    assert "too large" in str(error.message)


# Missing values ---------------------------------------------------------------------------------


def test_a_missing_attribute_renders_as_nothing_for_that_contact_only():
    """A contact without the attribute gets an empty spot; another contact gets its value."""
    html = "<p>City: [{{ contact.attributes.city }}] [{{ contact.attributes.city.upper() }}]</p>"
    compiled = CompiledMessage("s", html, ORGANISATION)
    render_for = lambda who: compiled.render(  # noqa: E731
        who, unsubscribe_url=URL, footer_html=""
    )
    assert "City: [] []" in render_for(contact())[1]
    assert "City: [Québec] [QUÉBEC]" in render_for(contact(city="Québec"))[1]


def test_arithmetic_and_comparisons_on_missing_or_unlike_values_do_not_fail():
    """Values imported as text, or absent, make a condition false and a sum empty, not an error."""
    html = (
        "<p>[{{ contact.attributes.points + 10 }}]"
        "{% if contact.attributes.age > 17 %}adult{% else %}unknown{% endif %}</p>"
    )
    assert "[]unknown" in render(html, who=contact(age="25"))[1]
    assert "[]unknown" in render(html, who=contact())[1]
    assert "[15]adult" in render(html, who=contact(points=5, age=30))[1]


def test_a_null_value_renders_as_nothing():
    """An attribute stored as null shows nothing rather than “None”."""
    assert (
        "<p>[]</p>" in render("<p>[{{ contact.attributes.title }}]</p>", who=contact(title=None))[1]
    )


def test_values_are_escaped_in_html_and_plain_in_the_subject_and_text():
    """A name with markup is escaped in the HTML, and written as is in the subject and the text."""
    subject, html, text = render(
        "<p>Hi {{ contact.name }}</p>", subject="For {{ contact.name }}", who=contact(name="A<b>&B")
    )
    assert subject == "For A<b>&B"
    assert "<p>Hi A&lt;b&gt;&amp;B</p>" in html
    assert "Hi A<b>&B" in text


def test_the_subject_is_always_one_line():
    """Line breaks a value brings into the subject are folded into spaces."""
    subject, _html, _text = render(
        "<p>x</p>", subject="Hi {{ contact.name }}", who=contact(name="A\nB")
    )
    assert subject == "Hi A B"


# The footer -------------------------------------------------------------------------------------


def test_the_footer_is_appended_before_body_when_the_placeholder_is_absent():
    """Without {{ footer }}, the footer goes just before </body>, once."""
    _subject, html, _text = render("<html><body><p>News</p></body></html>")
    assert html.count("Café Lumière") == 1
    assert html.index("<p>News</p>") < html.index("Café Lumière") < html.index("</body>")
    assert f'href="{URL}"' in html


def test_the_footer_is_appended_at_the_end_of_a_fragment():
    """A template without <body> gets the footer at its end."""
    _subject, html, _text = render("<p>News</p>")
    assert html.index("<p>News</p>") < html.index("100 rue Saint-Paul")


def test_the_footer_stands_once_where_the_placeholder_is():
    """A template with {{ footer }} shows the footer there, and only there."""
    _subject, html, _text = render(
        "<html><body><div id='top'>{{ footer }}</div><p>News</p></body></html>"
    )
    assert html.count("100 rue Saint-Paul") == 1
    assert html.index('id="top"') < html.index("100 rue Saint-Paul") < html.index("<p>News</p>")


@pytest.mark.parametrize(
    "html",
    [
        "<body>{% if false %}{{ footer }}{% endif %}<p>News</p></body>",
        "<body>{% set footer = '' %}{{ footer }}<p>News</p></body>",
        "<body>{{ footer[:0] }}<p>News</p></body>",
        "<body>{{ footer|truncate(3) }}<p>News</p></body>",
        "<body><!-- {{ footer }} --><p>News</p></body>",
        "<body>{% raw %}{{ footer }}{% endraw %}<p>News</p></body>",
    ],
)
def test_a_template_cannot_remove_the_footer(html):
    """Hiding the placeholder in a false branch, emptying it or cutting it still shows the footer."""
    _subject, rendered, text = render(html)
    visible = rendered.replace("<!-- ", "").split("-->")[-1]
    assert "100 rue Saint-Paul" in visible
    assert f'href="{URL}"' in visible
    assert URL in text


def test_the_footer_cannot_be_put_in_an_attribute():
    """A placeholder inside a tag is refused when saved, with its line."""
    error = refusal('<p>\n<img alt="{{ footer }}"></p>')
    assert str(error.message).startswith("Ligne 2 : placez {{ footer }} dans le texte")


def test_the_footer_names_the_sender_and_links_to_unsubscribe():
    """The footer carries the organisation's name, address, website and the unsubscribe link."""
    footer = footer_html(ORGANISATION, URL)
    for part in ("Café Lumière", "100 rue Saint-Paul", "https://cafe.example", f'href="{URL}"'):
        assert part in footer


def test_the_footer_text_carries_the_address_and_the_unsubscribe_url():
    """The text form of the footer has the mailing address and the unsubscribe address."""
    text = render_footer_text(ORGANISATION, URL)
    assert "100 rue Saint-Paul, Montréal (Québec) H2Y 1Z1" in text
    assert f"({URL})" in text


def test_each_recipient_gets_their_own_unsubscribe_link():
    """The footer drawn once still carries each recipient's own link, in HTML and text."""
    compiled = CompiledMessage("s", "<p>x</p>", ORGANISATION)
    for token in ("first", "second"):
        url = f"https://infolettre.example/u/{token}/"
        _s, html, text = compiled.render(
            contact(), unsubscribe_url=url, footer_html=footer_html(ORGANISATION, url)
        )
        assert f'href="{url}"' in html and f"({url})" in text


# CSS and the text alternative -------------------------------------------------------------------


def test_style_rules_are_inlined_into_style_attributes_and_media_queries_kept():
    """A <style> block's rules land on the elements; @media rules stay for mail clients."""
    _subject, html, _text = render(
        "<html><head><style>p.lead { color: #123456; } "
        "@media (max-width: 600px) { p { font-size: 18px; } }</style></head>"
        "<body><p class='lead'>Hi {{ contact.name }}</p></body></html>"
    )
    assert '<p class="lead" style="color: #123456;">Hi Zoé Gagnon</p>' in html
    assert "@media (max-width: 600px)" in html
    assert "p.lead" not in html


def test_inlining_keeps_the_jinja_constructs_working():
    """Statements between table rows and values in attributes survive the inlining."""
    html = (
        "<html><head><style>td { padding: 4px; }</style></head><body><table>"
        "{% if contact.attributes.vip %}<tr><td>VIP</td></tr>{% endif %}"
        "{% for n in range(2) %}<tr><td title='row-{{ n }}'>Row {{ n }}</td></tr>{% endfor %}"
        "</table></body></html>"
    )
    compiled = CompiledMessage("s", html, ORGANISATION)
    assert compiled.inline_each is False
    _s, plain, text = compiled.render(contact(), unsubscribe_url=URL, footer_html="")
    assert "VIP" not in plain and "VIP" not in text
    assert '<td title="row-1" style="padding: 4px;">Row 1</td>' in plain
    _s, vip, vip_text = compiled.render(contact(vip=True), unsubscribe_url=URL, footer_html="")
    assert '<td style="padding: 4px;">VIP</td>' in vip
    assert vip_text.index("VIP") < vip_text.index("Row 0") < vip_text.index("Row 1")


def test_a_construct_between_attributes_is_inlined_per_recipient():
    """Where a token cannot stand, the CSS is inlined on each rendered message instead."""
    html = (
        "<html><head><style>p { color: red; }</style></head><body>"
        "<p {% if contact.name %}title='named'{% endif %}>Hi</p></body></html>"
    )
    compiled = CompiledMessage("s", html, ORGANISATION)
    assert compiled.inline_each is True
    _s, rendered, text = compiled.render(contact(), unsubscribe_url=URL, footer_html="")
    assert '<p title="named" style="color: red;">Hi</p>' in rendered
    assert "Hi" in text


def test_the_text_alternative_has_the_body_the_links_and_the_footer():
    """The plain text carries the message, each link's address, the unsubscribe URL and address."""
    _subject, _html, text = render(
        "<html><body><h1>Spring sale</h1><p>Hello {{ contact.name }},</p>"
        "<p>See <a href='https://cafe.example/menu'>the menu</a>.</p></body></html>"
    )
    assert "Spring sale" in text
    assert "Hello Zoé Gagnon," in text
    assert "the menu (https://cafe.example/menu)" in text
    assert f"({URL})" in text
    assert "100 rue Saint-Paul, Montréal (Québec) H2Y 1Z1" in text
    assert "<p>" not in text


def test_the_default_template_renders_with_every_part_in_place():
    """The shipped template passes the check and renders the contact, the header and the footer."""
    with translation.override("en"):
        html = default_template_html()
    check_template(html, "Hello")
    compiled = CompiledMessage("News for {{ contact.name }}", html, ORGANISATION)
    assert (compiled.inline_each, compiled.text is not None) == (False, True)
    subject, rendered, text = compiled.render(
        contact(), unsubscribe_url=URL, footer_html=footer_html(ORGANISATION, URL)
    )
    assert subject == "News for Zoé Gagnon"
    assert "max-width: 600px" in rendered
    assert "@media only screen and (max-width: 620px)" in rendered
    assert rendered.count("100 rue Saint-Paul") == 1
    assert "Café Lumière" in rendered.split("<h1")[0]
    assert "Hello Zoé Gagnon," in text
    assert f"({URL})" in text


def test_the_default_template_greets_a_contact_without_a_name():
    """A contact without a name is greeted without a stray space."""
    with translation.override("en"):
        html = default_template_html()
    _subject, rendered, _text = render(html, who=contact(name=""))
    assert '<p style="margin: 0 0 16px;">Hello,</p>' in rendered


def test_braces_written_as_entities_stay_text():
    """Braces a template writes as HTML entities are shown, never run as a construct."""
    _subject, html, text = render(
        "<p>&#123;&#123; contact.name &#125;&#125; {{ contact.email }}</p>"
    )
    assert "<p>{{ contact.name }} zoe@example.com</p>" in html
    assert "{{ contact.name }} zoe@example.com" in text
    assert "Zoé" not in html


def test_a_class_chosen_per_recipient_gets_its_rules():
    """A class set by a condition is styled by the rules of the class each recipient ends up with."""
    html = (
        "<html><head><style>.vip { font-weight: bold; }</style></head><body>"
        '<p class="{% if contact.attributes.vip %}vip{% endif %}">Hi</p></body></html>'
    )
    compiled = CompiledMessage("s", html, ORGANISATION)
    _s, vip, _t = compiled.render(contact(vip=True), unsubscribe_url=URL, footer_html="")
    _s, plain, _t = compiled.render(contact(), unsubscribe_url=URL, footer_html="")
    assert '<p class="vip" style="font-weight: bold;">Hi</p>' in vip
    assert '<p class="">Hi</p>' in plain


def test_rules_on_an_elements_place_follow_the_rows_a_loop_makes():
    """An :nth-child rule styles the rows a loop makes, not the loop's single written row."""
    html = (
        "<html><head><style>tr:nth-child(2) td { color: red; }</style></head><body><table>"
        "{% for n in range(3) %}<tr><td>{{ n }}</td></tr>{% endfor %}</table></body></html>"
    )
    _s, rendered, _t = render(html)
    assert "<td>0</td>" in rendered
    assert '<td style="color: red;">1</td>' in rendered
    assert "<td>2</td>" in rendered
