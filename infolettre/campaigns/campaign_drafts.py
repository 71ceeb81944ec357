"""Creating and editing campaigns while they are drafts; once launched or scheduled they are fixed."""

from types import SimpleNamespace

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from infolettre.errors import Invalid

from . import templating
from .errors import TemplateError, WrongCampaignState
from .models import Campaign, CampaignStatus

# What a campaign written from a blank page starts with: a greeting and the required footer.
STARTER_HTML = (
    "<!DOCTYPE html>\n<html>\n<body>\n"
    "<p>Bonjour {{ contact.name }},</p>\n\n<p></p>\n\n"
    "{{ footer }}\n</body>\n</html>\n"
)


class _AnyAttributes(dict):
    """A sample contact's attributes: any name a template uses exists, and is empty."""

    def __missing__(self, key):
        return ""


def sample_contact():
    return SimpleNamespace(
        email="prenom.nom@example.com", name="Prénom Nom", attributes=_AnyAttributes()
    )


def _problem(field, error):
    line = getattr(error, "lineno", None)
    message = getattr(error, "message", None) or str(error)
    if line:
        message = _("Line %(line)s: %(message)s") % {"line": line, "message": message}
    return {"field": field, "message": message}


def check_campaign_content(subject, html, organisation=None):
    """Refuse a subject or HTML that does not compile, or that fails for a sample contact."""
    check_template = getattr(templating, "check_template", None)
    if check_template is not None:
        check_template(html, subject, organisation=organisation)
        return
    problems = []
    # Each part is checked alone, so that the message names the part at fault.
    for field, stub in (
        ("subject", SimpleNamespace(subject=subject, html="")),
        ("html", SimpleNamespace(subject="", html=html)),
    ):
        stub.tenant, stub.template_id = organisation, None
        try:
            templating.CompiledCampaign(stub).render(
                sample_contact(), unsubscribe_url="#", footer_html=""
            )
        except Exception as error:  # a client's template may fail in any way
            problems.append(_problem(field, error))
    if problems:
        raise TemplateError(details=problems)


def _check_html_present(html):
    if not html.strip():
        raise TemplateError(
            _("Choose a template or write the message's HTML."),
            details=[
                {"field": "html", "message": _("Choose a template or write the message's HTML.")}
            ],
        )


def check_send_time(when):
    """A time to send at, in the future; without an offset it is read in the site's time zone."""
    if timezone.is_naive(when):
        when = timezone.make_aware(when, timezone.get_default_timezone())
    if when <= timezone.now():
        message = _("Choose a time in the future.")
        raise Invalid(message, details=[{"field": "at", "message": message}])
    return when


@transaction.atomic
def do_create_campaign(
    tenant,
    *,
    name,
    subject,
    sender,
    reply_to="",
    lists=(),
    segment=None,
    template=None,
    html="",
):
    """Create a draft; a template's HTML is copied into it, so later edits of either stay apart."""
    if not html and template is not None:
        html = template.html
    _check_html_present(html)
    check_campaign_content(subject, html, tenant)
    now = timezone.now()
    campaign = Campaign(
        tenant=tenant,
        name=name,
        subject=subject,
        sender=sender,
        reply_to=reply_to,
        segment=segment,
        template=template,
        html=html,
        created_at=now,
        updated_at=now,
    )
    campaign.save()
    campaign.lists.set(lists)
    return campaign


def _draft(campaign):
    locked = Campaign.unscoped.select_for_update().get(pk=campaign.pk)
    if locked.status != CampaignStatus.DRAFT:
        raise WrongCampaignState()
    return locked


@transaction.atomic
def do_update_campaign(campaign, **fields):
    """Change a draft; choosing another template replaces the HTML unless HTML is given too."""
    campaign = _draft(campaign)
    lists = fields.pop("lists", None)
    if fields.get("template") is not None and "html" not in fields:
        fields["html"] = fields["template"].html
    for name, value in fields.items():
        setattr(campaign, name, value)
    if {"subject", "html"} & set(fields):
        _check_html_present(campaign.html)
        check_campaign_content(campaign.subject, campaign.html, campaign.tenant)
    campaign.updated_at = timezone.now()
    campaign.save(update_fields=[*fields, "updated_at"])
    if lists is not None:
        campaign.lists.set(lists)
    return campaign


@transaction.atomic
def do_delete_campaign(campaign):
    """Delete a draft; a campaign that was scheduled or sent stays, as the record of what was sent."""
    _draft(campaign).delete()
