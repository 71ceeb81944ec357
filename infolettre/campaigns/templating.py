"""Client-written templates, rendered in Jinja2's sandbox: no Python internals, no file system."""

from functools import cache

from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

FOOTER_PLACEHOLDER = "footer"


@cache
def environment():
    return SandboxedEnvironment(autoescape=True, undefined=StrictUndefined)


class CompiledCampaign:
    """A campaign's subject and HTML compiled once, then rendered for each recipient."""

    def __init__(self, campaign):
        env = environment()
        self.campaign = campaign
        self.subject = env.from_string(campaign.subject)
        self.html = env.from_string(campaign.html)

    def render(self, contact, *, unsubscribe_url, footer_html):
        context = {
            "contact": {
                "email": contact.email,
                "name": contact.name,
                "attributes": contact.attributes,
            },
            "unsubscribe_url": unsubscribe_url,
            FOOTER_PLACEHOLDER: footer_html,
        }
        html = self.html.render(context)
        return self.subject.render(context), html, html
