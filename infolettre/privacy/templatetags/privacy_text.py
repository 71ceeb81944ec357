"""Template helpers for the privacy pages: the policy's plain text as HTML, and marked external links."""

from urllib.parse import urlsplit

from django import template
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe
from django.utils.text import slugify
from django.utils.translation import gettext as _

register = template.Library()

HEADINGS = (("### ", "h3"), ("## ", "h2"), ("# ", "h2"))
BULLETS = ("- ", "* ")


def _heading(line):
    for marker, tag in HEADINGS:
        if line.startswith(marker):
            return tag, line[len(marker) :].strip()
    return None


@register.filter
def policy_body(text):
    """Render '## ' and '### ' headings, '- ' lists and paragraphs; every character is escaped."""
    html, paragraph, items, ids = [], [], [], set()

    def flush():
        if paragraph:
            html.append(f"<p>{escape(' '.join(paragraph))}</p>")
            paragraph.clear()
        if items:
            html.append("<ul>" + "".join(f"<li>{escape(i)}</li>" for i in items) + "</ul>")
            items.clear()

    for raw in (text or "").splitlines():
        line = raw.strip()
        heading = _heading(line)
        if not line:
            flush()
        elif heading:
            flush()
            tag, title = heading
            anchor = base = slugify(title) or "section"
            n = 1
            while anchor in ids:
                n += 1
                anchor = f"{base}-{n}"
            ids.add(anchor)
            html.append(f'<{tag} id="{escape(anchor)}">{escape(title)}</{tag}>')
        elif line.startswith(BULLETS):
            if paragraph:
                flush()
            items.append(line[2:].strip())
        else:
            if items:
                flush()
            paragraph.append(line)
    flush()
    # Safe: every piece of text above went through escape().
    return mark_safe("\n".join(html))


@register.simple_tag
def external_link(url, text=None):
    """A link that leaves the site: opened apart, without a way back to this page, and marked so."""
    url = (url or "").strip()
    label = text or url
    if urlsplit(url).scheme not in ("http", "https"):
        return escape(label)
    return format_html(
        '<a href="{}" class="external" rel="noopener noreferrer" target="_blank">{}'
        '<span class="external-mark" aria-hidden="true"> ↗</span>'
        '<span class="visually-hidden"> ({})</span></a>',
        url,
        label,
        _("leaves this site, opens in a new tab"),
    )
