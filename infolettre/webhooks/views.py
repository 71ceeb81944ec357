"""The webhooks page: the organisation's endpoints, their secrets on demand, and the delivery log.

Everyone in the organisation sees the page; only owners add, delete, test or reveal a secret
(the same rule as the API). Another organisation's endpoint id is a 404.
"""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from infolettre.accounts.actions import check_owner
from infolettre.accounts.forms import Field
from infolettre.accounts.views import client_page
from infolettre.errors import InfolettreError, NotFound

from . import actions, queries
from .models import SUBSCRIBABLE_EVENTS, WebhookDeliveryStatus

RECENT_DELIVERIES = 30


def _found(webhook_id):
    try:
        return queries.access_endpoint_for_tenant(int(webhook_id))
    except (NotFound, TypeError, ValueError):
        raise Http404 from None


def _page(request, *, url_field=None, chosen=(), events_error="", secret_of=None, status=200):
    if url_field is None:
        url_field = Field("url", _("Address"), autocomplete="off", max_length=500)
        url_field.help_text = _(
            "The address of your server that receives the events, such as "
            "https://example.com/webhooks/infolettre."
        )
    response = render(
        request,
        "webhooks/webhooks.html",
        {
            "endpoints": list(queries.endpoints()),
            "deliveries": queries.recent_deliveries(RECENT_DELIVERIES),
            "url_field": url_field,
            "events": [
                {"value": e.value, "label": e.label, "checked": e.value in chosen}
                for e in SUBSCRIBABLE_EVENTS
            ],
            "events_error": events_error,
            "secret_of": secret_of,
            "statuses": WebhookDeliveryStatus,
        },
        status=status,
    )
    if secret_of is not None:
        # The page with a secret is not kept by any cache.
        add_never_cache_headers(response)
    return response


@client_page
def webhooks(request):
    if request.method != "POST":
        return _page(request)
    try:
        check_owner(request.user)
    except InfolettreError as e:
        messages.error(request, str(e.message))
        return redirect("webhooks:webhooks")
    url_field = Field("url", _("Address"), autocomplete="off", max_length=500)
    url_field.value = request.POST.get("url", "").strip()
    chosen = request.POST.getlist("events")
    url, events, events_error = None, None, ""
    try:
        url = actions.check_url(url_field.value)
    except InfolettreError as e:
        url_field.error = str(e.message)
    try:
        events = actions.check_events(chosen)
    except InfolettreError as e:
        events_error = str(e.message)
    if url is None or events is None:
        return _page(
            request, url_field=url_field, chosen=chosen, events_error=events_error, status=400
        )
    endpoint = actions.do_create_endpoint(request.tenant, url=url, events=events)
    messages.success(request, _("The endpoint is added. Copy its secret now."))
    return _page(request, secret_of=endpoint)


@require_POST
@client_page
def webhook_secret(request, webhook_id):
    endpoint = _found(webhook_id)
    try:
        check_owner(request.user)
    except InfolettreError as e:
        messages.error(request, str(e.message))
        return redirect("webhooks:webhooks")
    return _page(request, secret_of=endpoint)


@require_POST
@client_page
def webhook_test(request, webhook_id):
    endpoint = _found(webhook_id)
    try:
        check_owner(request.user)
    except InfolettreError as e:
        messages.error(request, str(e.message))
        return redirect("webhooks:webhooks")
    delivery = actions.do_send_ping(endpoint)
    if delivery.status == WebhookDeliveryStatus.DELIVERED:
        messages.success(
            request,
            _("The test event reached %(url)s (answer %(status)s).")
            % {"url": endpoint.url, "status": delivery.last_status_code},
        )
    else:
        messages.error(
            request,
            _("The test event did not reach %(url)s: %(error)s")
            % {"url": endpoint.url, "error": delivery.last_error},
        )
    return redirect("webhooks:webhooks")


@require_POST
@client_page
def webhook_delete(request, webhook_id):
    endpoint = _found(webhook_id)
    try:
        check_owner(request.user)
    except InfolettreError as e:
        messages.error(request, str(e.message))
        return redirect("webhooks:webhooks")
    actions.do_delete_endpoint(endpoint)
    messages.success(request, _("The endpoint %(url)s is deleted.") % {"url": endpoint.url})
    return redirect("webhooks:webhooks")
