"""Creating and editing campaigns while they are drafts; once launched or scheduled they are fixed."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from infolettre.errors import Invalid

from .errors import TemplateError, WrongCampaignState
from .models import Campaign, CampaignStatus
from .templating import check_template


def check_campaign_content(subject, html, organisation):
    """Refuse an empty message, or a subject or HTML that templates may not hold (with its line)."""
    if not html.strip():
        message = _("Choose a template or write the message's HTML.")
        raise TemplateError(message, details=[{"field": "html", "message": message}])
    check_template(html, subject, organisation=organisation)


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
