"""The footer every campaign message carries: who sends it and how to stop receiving it."""

from django.template.loader import render_to_string


def render_footer(campaign, unsubscribe_url):
    organisation = campaign.tenant
    return render_to_string(
        "campaigns/footer.html", {"organisation": organisation, "unsubscribe_url": unsubscribe_url}
    )
