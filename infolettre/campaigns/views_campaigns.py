"""The pages of campaigns and sender addresses.

Each page finds its object through the organisation's own queries (another organisation's id is a
404), checks what was sent, calls one action and redirects; a refused form is drawn again with its
messages and changes nothing. A refused launch, pause or cancel is told in a message.
"""

from datetime import datetime

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from infolettre import counts
from infolettre.accounts.errors import AccountNotConfirmed, InvalidLink
from infolettre.accounts.forms import REQUIRED, Field, errors_by_field
from infolettre.accounts.validation import check_email
from infolettre.accounts.views import client_page
from infolettre.audience.models import Contact, MailingList, Segment
from infolettre.audience.queries import (
    access_contact_for_tenant,
    access_list_for_tenant,
    access_segment_for_tenant,
)
from infolettre.errors import InfolettreError, Invalid, NotFound

from . import actions, campaign_drafts
from . import senders as sender_actions
from .campaign_queries import (
    access_campaign_for_tenant,
    access_sender_for_tenant,
    campaign_counts,
    campaigns_with_counts,
    progress,
)
from .campaign_queries import senders as all_senders
from .delays import campaign_delay
from .errors import TemplateError, WrongCampaignState
from .models import CampaignStatus, Template
from .pipeline import resolve_recipients
from .template_actions import default_template_html, do_send_campaign_test, preview_message
from .template_queries import access_template_for_tenant

PER_PAGE = 50
PREVIEW_CONTACTS = 20
SUBJECT_HELP = gettext_lazy(
    "You may personalise it, for example with {{ contact.name }} or {{ contact.attributes.city }}."
)


def _found(access, raw_id):
    try:
        return access(int(raw_id))
    except (NotFound, TypeError, ValueError):
        raise Http404 from None


# Forms -------------------------------------------------------------------------------------------


def _sender_choices():
    return tuple(
        (
            str(s.pk),
            f"{s.name} <{s.email}>"
            + (" — " + _("confirmed") if s.verified_at else " — " + _("not confirmed yet")),
        )
        for s in all_senders()
    )


def _campaign_fields(values, errors, *, creating):
    """The inputs of the campaign form, with what was typed and what the checks said."""
    fields = {
        "name": Field(
            "name",
            _("Campaign name"),
            value=values.get("name", ""),
            max_length=200,
            help_text=_("For you only; recipients do not see it."),
        ),
        "subject": Field(
            "subject",
            _("Subject"),
            value=values.get("subject", ""),
            max_length=300,
            help_text=str(SUBJECT_HELP),
        ),
        "sender": Field(
            "sender",
            _("Sender"),
            kind="select",
            value=values.get("sender", ""),
            choices=_sender_choices(),
            autocomplete="off",
            help_text=_("Only a confirmed address can send; a draft may name one still waiting."),
        ),
        "reply_to": Field(
            "reply_to",
            _("Reply-to address"),
            kind="email",
            value=values.get("reply_to", ""),
            required=False,
            max_length=254,
            help_text=_("Where replies go, if not to the sender address."),
        ),
        "segment": Field(
            "segment",
            _("Segment"),
            kind="select",
            value=values.get("segment", ""),
            required=False,
            autocomplete="off",
            choices=tuple((str(s.pk), s.name) for s in Segment.objects.all()),
            help_text=_("Only the contacts of the chosen lists who match the segment receive it."),
        ),
    }
    if creating:
        fields["template"] = Field(
            "template",
            _("Template"),
            kind="select",
            value=values.get("template", ""),
            required=False,
            autocomplete="off",
            choices=tuple((str(t.pk), t.name) for t in Template.objects.all()),
            help_text=_(
                "Its HTML is copied into the campaign; without one, you start from the default layout."
            ),
        )
    else:
        fields["html"] = Field(
            "html",
            _("HTML of the message"),
            kind="textarea",
            value=values.get("html", ""),
            help_text=_(
                "{{ footer }} marks where your address and the unsubscribe link go; without it, "
                "they are added at the end."
            ),
        )
    for name, message in errors.items():
        if name in fields:
            fields[name].error = message
    return fields


def _list_boxes(values, errors):
    chosen = set(values.get("lists", ()))
    return {
        "choices": [(m, str(m.pk) in chosen) for m in MailingList.objects.all()],
        "error": errors.get("lists", ""),
    }


def _submitted(post):
    return {
        "name": post.get("name", "").strip(),
        "subject": post.get("subject", "").strip(),
        "sender": post.get("sender", ""),
        "reply_to": post.get("reply_to", "").strip(),
        "lists": post.getlist("lists"),
        "segment": post.get("segment", ""),
        "template": post.get("template", ""),
        "html": post.get("html", ""),
    }


def _check_campaign(values, *, creating):
    """Return the action's arguments and the errors by field; ids not of this tenant are a 404."""
    fields, errors = {}, {}
    for name, limit in (("name", 200), ("subject", 300)):
        if not values[name]:
            errors[name] = str(REQUIRED)
        elif len(values[name]) > limit:
            errors[name] = _("At most %(limit)s characters.") % {"limit": limit}
        else:
            fields[name] = values[name]
    if values["sender"]:
        fields["sender"] = _found(access_sender_for_tenant, values["sender"])
    else:
        errors["sender"] = str(REQUIRED)
    try:
        fields["reply_to"] = check_email(values["reply_to"]) if values["reply_to"] else ""
    except Invalid as e:
        errors["reply_to"] = str(e.message)
    fields["lists"] = [_found(access_list_for_tenant, i) for i in dict.fromkeys(values["lists"])]
    fields["segment"] = (
        _found(access_segment_for_tenant, values["segment"]) if values["segment"] else None
    )
    if creating:
        fields["template"] = (
            _found(access_template_for_tenant, values["template"]) if values["template"] else None
        )
        if fields["template"] is None:
            fields["html"] = default_template_html()
    else:
        fields["html"] = values["html"]
    return fields, errors


def _campaign_values(campaign):
    return {
        "name": campaign.name,
        "subject": campaign.subject,
        "sender": str(campaign.sender_id),
        "reply_to": campaign.reply_to,
        "lists": [str(pk) for pk in campaign.lists.values_list("pk", flat=True)],
        "segment": str(campaign.segment_id or ""),
        "html": campaign.html,
    }


# Campaigns ---------------------------------------------------------------------------------------


@client_page
def campaigns(request):
    page = Paginator(campaigns_with_counts(counting=True), PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(request, "campaigns/campaigns.html", {"page": page, "query": ""})


@client_page
def campaign_create(request):
    values, errors, status = {}, {}, 200
    if request.method == "POST":
        values = _submitted(request.POST)
        fields, errors = _check_campaign(values, creating=True)
        if not errors:
            try:
                campaign = campaign_drafts.do_create_campaign(request.tenant, **fields)
            except TemplateError as e:
                errors = errors_by_field(e.details) or {"__all__": str(e.message)}
            else:
                messages.success(
                    request, _("The campaign “%(name)s” is created.") % {"name": campaign.name}
                )
                return redirect("campaigns:campaign_detail", campaign.pk)
        status = 400
    return render(
        request,
        "campaigns/campaign_create.html",
        {
            "form": _campaign_fields(values, errors, creating=True),
            "lists": _list_boxes(values, errors),
            "has_errors": bool(errors),
            "template_error": errors.get("html", ""),
            "has_senders": all_senders().exists(),
        },
        status=status,
    )


def _render_preview(campaign, contact=None):
    """The subject and HTML as this contact (or a sample one) would receive them, or what fails."""
    try:
        subject, html, _text = preview_message(
            campaign.html,
            campaign.subject,
            campaign.tenant,
            contact,
            # A launched campaign announces what it counts; a draft what a launch now would.
            tracking=None if campaign.status == CampaignStatus.DRAFT else campaign.tracking,
        )
    except TemplateError as error:
        return {"error": str(error.message)}
    return {"subject": subject, "html": html}


def _preview_contacts(campaign):
    return list(resolve_recipients(campaign).order_by("email")[:PREVIEW_CONTACTS])


def _blockers(campaign):
    """What stands between a draft and sending, each as a sentence."""
    found = []
    try:
        actions.check_tenant_can_send(campaign.tenant)
    except AccountNotConfirmed as e:
        found.append(str(e.message))
    if campaign.sender.verified_at is None:
        found.append(
            _("The sender address %(email)s is not confirmed yet.")
            % {"email": campaign.sender.email}
        )
    if campaign.segment_id is None and not campaign.lists.exists():
        found.append(_("Choose at least one list or a segment."))
    return found


def _recipient_estimate(campaign):
    """How many would receive the draft if it left now: exact while the organisation has fewer
    than EXACT_BELOW contacts, else at most COUNT_SECONDS old unless the draft or its segment
    changed since (see infolettre.counts)."""
    recipients = resolve_recipients(campaign)
    if not counts.at_least(Contact.objects.all(), counts.EXACT_BELOW):
        return recipients.count()
    segment = campaign.segment
    key = counts.cache_key(
        "campaigns:recipient-estimate",
        campaign.pk,
        campaign.updated_at,
        segment.updated_at if segment is not None else None,
    )
    # However few they are, they are found among many contacts: kept whatever their number.
    return counts.cached_figures(
        key, recipients.count, counts.COUNT_SECONDS, lambda _n: counts.EXACT_BELOW
    )


def _live(campaign):
    counts = campaign_counts(campaign)
    delay = campaign_delay(campaign)
    return {
        "counts": counts,
        "progress": progress(counts),
        "delay_message": delay.message() if delay else "",
    }


@client_page
def campaign_detail(request, campaign_id):
    campaign = _found(access_campaign_for_tenant, campaign_id)
    is_draft = campaign.status == CampaignStatus.DRAFT
    values, errors, status = {}, {}, 200
    if request.method == "POST":
        if not is_draft:
            messages.error(request, str(WrongCampaignState.message))
            return redirect("campaigns:campaign_detail", campaign.pk)
        values = _submitted(request.POST)
        fields, errors = _check_campaign(values, creating=False)
        if not errors:
            try:
                campaign_drafts.do_update_campaign(campaign, **fields)
            except TemplateError as e:
                errors = errors_by_field(e.details) or {"html": str(e.message)}
            except InfolettreError as e:
                messages.error(request, str(e.message))
                return redirect("campaigns:campaign_detail", campaign.pk)
            else:
                messages.success(request, _("The campaign is saved."))
                return redirect("campaigns:campaign_detail", campaign.pk)
        status = 400
    else:
        values = _campaign_values(campaign)
    context = {"campaign": campaign, "is_draft": is_draft, **_live(campaign)}
    if is_draft:
        contacts = _preview_contacts(campaign)
        context.update(
            form=_campaign_fields(values, errors, creating=False),
            lists=_list_boxes(values, errors),
            has_errors=bool(errors),
            blockers=_blockers(campaign),
            recipient_estimate=_recipient_estimate(campaign),
            preview=_render_preview(campaign, contacts[0] if contacts else None),
            preview_contacts=contacts,
            schedule_min=timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
            time_zone=settings.TIME_ZONE,
        )
    else:
        context.update(
            chosen_lists=list(campaign.lists.all()),
            preview=_render_preview(campaign),
        )
    response = render(request, "campaigns/campaign_detail.html", context, status=status)
    add_never_cache_headers(response)
    return response


def _send_time(raw):
    try:
        return campaign_drafts.check_send_time(datetime.fromisoformat(raw))
    except ValueError:
        message = _("Enter a date and a time.")
        raise Invalid(message, details=[{"field": "at", "message": message}]) from None


@require_POST
@client_page
def campaign_send(request, campaign_id):
    """Send now, or at the time given in the schedule form."""
    campaign = _found(access_campaign_for_tenant, campaign_id)
    raw = request.POST.get("at", "").strip()
    try:
        if raw:
            when = _send_time(raw)
            actions.do_schedule_campaign(campaign, when)
            messages.success(
                request,
                _("The campaign is scheduled for %(when)s.")
                % {"when": date_format(timezone.localtime(when), "DATETIME_FORMAT")},
            )
        else:
            actions.do_launch_campaign(campaign)
            messages.success(request, _("The campaign is being sent."))
    except InfolettreError as e:
        messages.error(request, str(e.message))
    return redirect("campaigns:campaign_detail", campaign.pk)


def _change_state(request, campaign_id, action, done):
    campaign = _found(access_campaign_for_tenant, campaign_id)
    try:
        action(campaign)
    except InfolettreError as e:
        messages.error(request, str(e.message))
    else:
        messages.success(request, done)
    return redirect("campaigns:campaign_detail", campaign.pk)


@require_POST
@client_page
def campaign_pause(request, campaign_id):
    return _change_state(
        request,
        campaign_id,
        actions.do_pause_campaign,
        _("Sending is paused. What is queued waits until you resume."),
    )


@require_POST
@client_page
def campaign_resume(request, campaign_id):
    return _change_state(
        request, campaign_id, actions.do_resume_campaign, _("Sending has resumed.")
    )


@require_POST
@client_page
def campaign_cancel(request, campaign_id):
    return _change_state(
        request,
        campaign_id,
        actions.do_cancel_campaign,
        _("The campaign is cancelled: what was sent stays sent, nothing more will be."),
    )


@client_page
def campaign_preview(request, campaign_id):
    """The campaign as one chosen contact (or a sample person) would receive it."""
    campaign = _found(access_campaign_for_tenant, campaign_id)
    raw = request.GET.get("contact", "")
    contact = _found(access_contact_for_tenant, raw) if raw else None
    response = render(
        request,
        "campaigns/campaign_preview.html",
        {
            "campaign": campaign,
            "contacts": _preview_contacts(campaign),
            "chosen": contact,
            "preview": _render_preview(campaign, contact),
        },
    )
    add_never_cache_headers(response)
    return response


@require_POST
@client_page
def campaign_test_send(request, campaign_id):
    """Send the campaign as it stands to a few addresses, subject marked "[Test]"."""
    campaign = _found(access_campaign_for_tenant, campaign_id)
    raw = request.POST.get("contact", "")
    contact = _found(access_contact_for_tenant, raw) if raw else None
    addresses = request.POST.get("addresses", "").replace(",", " ").replace(";", " ").split()
    try:
        results = do_send_campaign_test(campaign, addresses, user=request.user, contact=contact)
    except InfolettreError as e:
        messages.error(request, str(e.message))
    else:
        sent = [r["email"] for r in results if r["sent"]]
        refused = [f"{r['email']} ({r['detail']})" for r in results if not r["sent"]]
        if sent:
            messages.success(
                request, _("The test is sent to %(list)s.") % {"list": ", ".join(sent)}
            )
        if refused:
            messages.error(
                request, _("The mail server refused %(list)s.") % {"list": "; ".join(refused)}
            )
    return redirect(reverse("campaigns:campaign_detail", args=[campaign.pk]) + "#test")


# Sender addresses --------------------------------------------------------------------------------


def _sender_fields(values, errors):
    return {
        "email": Field(
            "email",
            _("Email address"),
            kind="email",
            value=values.get("email", ""),
            max_length=254,
            error=errors.get("email", ""),
            autocomplete="email",
        ),
        "name": Field(
            "name",
            _("Sender name"),
            value=values.get("name", ""),
            max_length=200,
            error=errors.get("name", ""),
            autocomplete="organization",
            help_text=_(
                "What recipients see beside the address, for example your organisation's name."
            ),
        ),
    }


@client_page
def senders(request):
    values, errors, status = {}, {}, 200
    if request.method == "POST":
        values = {k: request.POST.get(k, "").strip() for k in ("email", "name")}
        email = ""
        try:
            email = check_email(values["email"])
        except Invalid as e:
            errors["email"] = str(e.message)
        if not values["name"]:
            errors["name"] = str(REQUIRED)
        elif len(values["name"]) > 200:
            errors["name"] = _("At most %(limit)s characters.") % {"limit": 200}
        if not errors:
            try:
                sender = sender_actions.do_add_sender(
                    request.user, email=email, name=values["name"]
                )
            except sender_actions.SenderTaken as e:
                errors["email"] = str(e.message)
            except InfolettreError as e:
                messages.error(request, str(e.message))
                return redirect("campaigns:senders")
            else:
                if sender.verified_at:
                    messages.success(
                        request,
                        _("%(email)s is one of your confirmed addresses: you can send from it now.")
                        % {"email": sender.email},
                    )
                else:
                    messages.success(
                        request,
                        _("A link to confirm %(email)s is on its way to that address.")
                        % {"email": sender.email},
                    )
                return redirect("campaigns:senders")
        status = 400
    return render(
        request,
        "campaigns/senders.html",
        {
            "senders": all_senders(),
            "form": _sender_fields(values, errors),
            "has_errors": bool(errors),
        },
        status=status,
    )


@require_POST
@client_page
def sender_delete(request, sender_id):
    sender = _found(access_sender_for_tenant, sender_id)
    try:
        sender_actions.do_delete_sender(sender)
    except InfolettreError as e:
        messages.error(request, str(e.message))
    else:
        messages.success(request, _("%(email)s is deleted.") % {"email": sender.email})
    return redirect("campaigns:senders")


def _public(response):
    add_never_cache_headers(response)
    # The token is in the address: no other site learns it from a Referer header.
    response["Referrer-Policy"] = "no-referrer"
    return response


@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def sender_confirm(request, token):
    """Confirm with a button, not on opening the link: mail scanners open links on their own."""
    try:
        sender = sender_actions.sender_from_link(token)
        if request.method == "POST":
            sender = sender_actions.do_confirm_sender(token)
    except InvalidLink as e:
        return _public(
            render(request, "campaigns/sender_confirm.html", {"error": e.message}, status=400)
        )
    return _public(
        render(
            request,
            "campaigns/sender_confirm.html",
            {"sender": sender, "organisation": sender.tenant, "token": token},
        )
    )
