"""The public pages of the operator's messages: the newsletter sign-up, its confirmation, and the
one-click unsubscribe of every newsletter and special offer. None needs a sign-in."""

from django.shortcuts import render
from django.utils import translation
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from infolettre.accounts.actions import consent_wording
from infolettre.accounts.authentication import client_ip
from infolettre.accounts.errors import InvalidLink
from infolettre.accounts.forms import declared_fields, submitted
from infolettre.accounts.registration import Input, check_inputs
from infolettre.accounts.validation import check_email
from infolettre.audience.signup import HONEYPOT, check_signup_rate
from infolettre.campaigns.unsubscribe import mask_email
from infolettre.errors import Invalid, Throttled
from infolettre.privacy.purposes import NEWSLETTER
from infolettre.privacy.queries import has_consent

from . import actions

SUBSCRIBER = "engagement.NewsletterSubscriber"
# Name and address, nothing more (the policy's "Bulletin de nouvelles"); each shows its declared purpose.
NEWSLETTER_INPUTS = (
    Input("name", SUBSCRIBER, "name", True),
    Input("email", SUBSCRIBER, "email", True, check_email),
)


def _page(request, template, status=200, **context):
    response = render(request, f"engagement/{template}.html", context, status=status)
    add_never_cache_headers(response)
    # The token is in the address: no other site learns it from a Referer header.
    response["Referrer-Policy"] = "no-referrer"
    return response


def _signup_form(request, data=None, errors=None, consent_error="", status=200):
    return _page(
        request,
        "newsletter_signup",
        status=status,
        inputs=declared_fields(NEWSLETTER_INPUTS, data, errors),
        honeypot=HONEYPOT,
        consent_words=consent_wording(NEWSLETTER),
        consent_error=consent_error,
        consent_given=bool(data and data.get("consent") == "yes"),
    )


@require_http_methods(["GET", "HEAD", "POST"])
def newsletter_signup(request):
    if request.method != "POST":
        return _signup_form(request)
    try:
        check_signup_rate(client_ip(request))
    except Throttled:
        return _page(request, "newsletter_throttled", status=429)
    if request.POST.get(HONEYPOT):
        return _page(request, "newsletter_signup_done")
    errors, cleaned = {}, {}
    try:
        cleaned = check_inputs(NEWSLETTER_INPUTS, submitted(NEWSLETTER_INPUTS, request.POST))
    except Invalid as e:
        errors = {d["field"]: d["message"] for d in e.details}
    consent_error = "" if request.POST.get("consent") == "yes" else _("Tick the box to subscribe.")
    if errors or consent_error:
        data = {
            **submitted(NEWSLETTER_INPUTS, request.POST),
            "consent": request.POST.get("consent"),
        }
        return _signup_form(request, data, errors, consent_error, status=400)
    actions.do_newsletter_signup(
        email=cleaned["email"],
        name=cleaned["name"],
        language=(translation.get_language() or "fr")[:2],
    )
    return _page(request, "newsletter_signup_done")


@require_http_methods(["GET", "HEAD", "POST"])
def newsletter_confirm(request, token):
    """Confirm with a button, not on opening the link: mail scanners open links on their own."""
    try:
        subscriber = actions.subscriber_from_link(token)
    except InvalidLink as e:
        return _page(request, "newsletter_link_invalid", status=400, message=e.message)
    if request.method == "POST":
        subscriber = actions.do_confirm_newsletter(token, source=f"web:{request.path}")
    if subscriber.confirmation_requested_at is None:
        return _page(request, "newsletter_confirmed", subscriber=subscriber)
    return _page(
        request,
        "newsletter_confirm",
        subscriber=subscriber,
        token=token,
        consent_words=consent_wording(NEWSLETTER),
    )


@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request, token):
    """GET shows one button and changes nothing; POST (the button, or RFC 8058's one click
    `List-Unsubscribe=One-Click`, with no cookie and no form token) withdraws at once."""
    try:
        delivery = actions.delivery_from_link(token)
    except InvalidLink as e:
        return _page(request, "unsubscribe_invalid", status=400, message=e.message)
    purpose = actions.PROMOTIONAL_PURPOSES[delivery.message.kind]
    person = delivery.recipient
    context = {
        "purpose": purpose,
        "masked_email": mask_email(person.email) if person is not None else "",
    }
    if request.method == "POST":
        one_click = request.POST.get("List-Unsubscribe") == "One-Click"
        actions.do_unsubscribe_from_message(
            delivery,
            source=f"{'one-click' if one_click else 'web'}:{request.path}",
            how=actions.ONE_CLICK if one_click else actions.PAGE,
        )
        return _page(request, "unsubscribe_done", **context)
    if person is None or not has_consent(person, purpose.code):
        return _page(request, "unsubscribe_done", **context)
    return _page(
        request, "unsubscribe", **context, words=actions.withdrawal_words(purpose), token=token
    )
