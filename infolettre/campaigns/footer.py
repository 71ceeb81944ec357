"""The footer every campaign message carries: who sends it and how to stop receiving it.

Canada's anti-spam law asks each message to name its sender with a mailing address and a way to
reach them, and to carry an unsubscribe link. The footer is drawn once per organisation and
language; only the recipient's unsubscribe address changes from one message to the next.
"""

from functools import lru_cache

from django.template.loader import render_to_string
from django.utils.html import escape
from django.utils.translation import get_language

# Stand for the recipient's addresses while the footer is drawn once; no escaping changes them.
_URL_MARK = "INFOLETTREUNSUBSCRIBEURL"
_PREFERENCES_MARK = "INFOLETTREPREFERENCESURL"

# What the footer tells about open and click counting (Law 25: a tracking technology is announced).
NO_TRACKING = ""
AGGREGATE_TRACKING = "aggregate"
PER_RECIPIENT_TRACKING = "per_recipient"


@lru_cache(maxsize=512)
def _footer(name, address, website, phone, tracking, language):
    return render_to_string(
        "campaigns/footer.html",
        {
            "name": name,
            "address": address,
            "website": website,
            "phone": phone,
            "unsubscribe_url": _URL_MARK,
            "preferences_url": _PREFERENCES_MARK,
            "tracking": tracking,
        },
    ).strip()


def footer_html(organisation, unsubscribe_url, preferences_url="#", tracking=NO_TRACKING):
    """The footer's HTML for one recipient, in the active language, with inline styles only."""
    drawn = _footer(
        organisation.name,
        organisation.address,
        organisation.website,
        organisation.phone,
        tracking,
        get_language(),
    )
    return drawn.replace(_URL_MARK, escape(unsubscribe_url)).replace(
        _PREFERENCES_MARK, escape(preferences_url)
    )


def render_footer(campaign, unsubscribe_url, preferences_url="#", tracking=NO_TRACKING):
    return footer_html(campaign.tenant, unsubscribe_url, preferences_url, tracking)


def render_footer_text(organisation, unsubscribe_url):
    """The footer's plain-text form, as the text alternative of each message shows it."""
    from .templating import footer_text

    return footer_text(footer_html(organisation, unsubscribe_url), unsubscribe_url)
