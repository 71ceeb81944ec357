"""The public preference centre of every message's footer: `<unsubscribe link>preferences/`.

GET shows the person's lists and details and changes nothing; each form POSTs one change and the page
comes back with a confirmation. No sign-in, and the page sets no cookie.
"""

from django.shortcuts import render
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from infolettre.accounts.errors import InvalidLink
from infolettre.accounts.tenancy import tenant_scope
from infolettre.errors import InfolettreError

from .preferences import (
    NotYourList,
    blocking_suppression,
    can_rejoin,
    check_correction,
    correction_rows,
    do_correct_contact,
    do_leave_list,
    do_rejoin_list,
    do_withdraw_all_consent,
    recipient_for,
    refusal_message,
    rejoin_wording,
    subscription_of,
    subscriptions_of,
    suppressions_of,
)
from .unsubscribe import mask_email, read_token

SUCCESS, ERROR = "success", "error"


def _page(request, template, status=200, **context):
    response = render(request, f"campaigns/{template}.html", context, status=status)
    add_never_cache_headers(response)
    # The token is in the address: no other site learns it from a Referer header.
    response["Referrer-Policy"] = "no-referrer"
    return response


def _centre(request, recipient, *, notice=None, errors=None, post=None, status=200):
    delivery = recipient.delivery
    campaign = delivery.campaign
    email = recipient.contact.email if recipient.contact else delivery.email
    context = {
        "organisation": recipient.tenant,
        "contact_email": campaign.reply_to or campaign.sender.email,
        "masked_email": mask_email(email) if email else "",
        "notice": notice,
    }
    with tenant_scope(recipient.tenant):
        suppressions = suppressions_of(recipient)
        if recipient.contact is None:
            return _page(
                request,
                "preferences_erased",
                status=status,
                suppressed=bool(suppressions),
                **context,
            )
        blocking = blocking_suppression(suppressions)
        rows = [
            {
                "subscription": subscription,
                "mailing_list": subscription.mailing_list,
                "can_rejoin": can_rejoin(subscription, suppressions),
                "rejoin_wording": rejoin_wording(subscription.mailing_list),
            }
            for subscription in subscriptions_of(recipient)
        ]
    errors = errors or {}
    return _page(
        request,
        "preferences",
        status=status,
        contact=recipient.contact,
        subscriptions=rows,
        stopped=bool(suppressions) and blocking is None,
        blocking=blocking,
        blocking_message=refusal_message(blocking) if blocking else "",
        name=(post.get("name", "") if post is not None else recipient.contact.name),
        attribute_rows=correction_rows(recipient.contact, post),
        name_error=errors.get("name", ""),
        attributes_error=errors.get("attributes", ""),
        **context,
    )


def _leave(request, recipient):
    subscription = subscription_of(recipient, request.POST.get("list"))
    do_leave_list(recipient, subscription)
    return _("You left the list “%(list)s”: it sends you nothing more.") % {
        "list": subscription.mailing_list.name
    }


def _rejoin(request, recipient):
    subscription = subscription_of(recipient, request.POST.get("list"))
    _subscription, lifted = do_rejoin_list(
        recipient, subscription, wording=rejoin_wording(subscription.mailing_list)
    )
    message = _("You are back on the list “%(list)s”.") % {"list": subscription.mailing_list.name}
    if lifted:
        message += " " + _("Your other lists stay stopped until you rejoin them too.")
    return message


def _withdraw(request, recipient):
    do_withdraw_all_consent(recipient)
    return _(
        "Your consent is withdrawn for everything: %(name)s will send no more messages to this "
        "address. This takes effect at once."
    ) % {"name": recipient.tenant.name}


ACTIONS = {"leave": _leave, "rejoin": _rejoin, "withdraw": _withdraw}


# CSRF: exempt, like the unsubscribe page. The signed token in the address is the only credential:
# no cookie or session grants anything here, so another site has nothing to forge a request with,
# and whoever holds the token can post these forms anyway. A form token would also need a cookie,
# which this page promises not to set, and would fail for people whose browser refuses cookies.
@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def preferences(request, token):
    try:
        delivery = read_token(token)
    except InvalidLink as e:
        return _page(request, "unsubscribe_invalid", status=400, message=e.message)
    recipient = recipient_for(delivery)
    if request.method != "POST":
        return _centre(request, recipient)
    action = request.POST.get("action")
    if action == "correct":
        return _correct(request, recipient)
    if action not in ACTIONS:
        return _centre(
            request,
            recipient,
            notice={"level": ERROR, "text": _("This change is unknown: nothing was changed.")},
            status=400,
        )
    try:
        text = ACTIONS[action](request, recipient)
    except InfolettreError as e:
        status = 400 if isinstance(e, NotYourList) else 409
        return _centre(
            request, recipient, notice={"level": ERROR, "text": e.message}, status=status
        )
    return _centre(request, recipient, notice={"level": SUCCESS, "text": text})


def _correct(request, recipient):
    if recipient.contact is None:
        return _centre(
            request,
            recipient,
            notice={
                "level": ERROR,
                "text": _("Nothing is held about you any more: nothing was changed."),
            },
            status=400,
        )
    values, errors = check_correction(request.POST, recipient.contact)
    if errors:
        return _centre(
            request,
            recipient,
            notice={"level": ERROR, "text": _("Nothing was changed: check the fields below.")},
            errors=errors,
            post=request.POST,
            status=400,
        )
    do_correct_contact(recipient, **values)
    return _centre(
        request, recipient, notice={"level": SUCCESS, "text": _("Your details are saved.")}
    )
