"""Rate limits of the public pages: the forms anyone may post and the pages opened by a link.

One table names every limited route, so a test can prove each one answers 429 past its limit. The
counts are kept per network (/24, /48) under a keyed hash, only for the window (throttling.py).
Routes limited in their own view (sign-in, the list and newsletter sign-up forms, privacy requests)
are not repeated here.
"""

import contextlib

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers

from infolettre.errors import Throttled

from .authentication import client_ip
from .throttling import check_network_allowed, count_network_request

# A public form: each POST counts (reading the form is free).
PUBLIC_FORM = "public-form"
# A page opened by a signed link: each invalid link counts, and a network past the limit is refused
# on every such page for the rest of the window. Valid links never count, so that a mailbox
# provider's one-click unsubscribes (RFC 8058), all from its own networks, always go through.
TOKEN_PAGE = "token-page"  # noqa: S105 (a name, not a secret)

LIMITED_ROUTES = {
    "accounts:register": PUBLIC_FORM,
    "accounts:password_reset": PUBLIC_FORM,
    "api:register": PUBLIC_FORM,
    "api:request_password_reset": PUBLIC_FORM,
    "accounts:confirm_email": TOKEN_PAGE,
    "accounts:password_reset_confirm": TOKEN_PAGE,
    "accounts:accept_invitation": TOKEN_PAGE,
    "api:confirm_email": TOKEN_PAGE,
    "api:confirm_password_reset": TOKEN_PAGE,
    "campaigns:unsubscribe": TOKEN_PAGE,
    "campaigns:preferences": TOKEN_PAGE,
    "campaigns:sender_confirm": TOKEN_PAGE,
    "engagement:newsletter_confirm": TOKEN_PAGE,
    "engagement:unsubscribe": TOKEN_PAGE,
    "analytics:stop_daily_report": TOKEN_PAGE,
    "audience:confirm_subscription": TOKEN_PAGE,
    "privacy:request_confirm": TOKEN_PAGE,
    "privacy:request_file": TOKEN_PAGE,
    "privacy:policy_refusal": TOKEN_PAGE,
}


def _limits(kind):
    if kind == PUBLIC_FORM:
        return settings.PUBLIC_FORM_LIMIT, settings.PUBLIC_FORM_WINDOW
    return settings.INVALID_LINK_LIMIT, settings.INVALID_LINK_WINDOW


def throttled_response(request, window):
    if request.path.startswith("/api/"):
        response = JsonResponse(
            {"code": Throttled.code, "message": str(Throttled.message)}, status=429
        )
    else:
        response = render(request, "429.html", status=429)
        add_never_cache_headers(response)
    response["Retry-After"] = str(window)
    return response


class PublicRateLimitMiddleware:
    """Answer 429 to a network past the limit of a public form or of invalid links."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if getattr(request, "_count_invalid_link", False) and 400 <= response.status_code < 500:
            # An invalid or expired link counts; this answer stands, the next one may be refused.
            limit, window = _limits(TOKEN_PAGE)
            with contextlib.suppress(Throttled):
                count_network_request(client_ip(request), TOKEN_PAGE, limit, window)
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        kind = LIMITED_ROUTES.get(request.resolver_match.view_name)
        if kind is None:
            return None
        limit, window = _limits(kind)
        try:
            if kind == PUBLIC_FORM and request.method == "POST":
                count_network_request(client_ip(request), kind, limit, window)
            elif kind == TOKEN_PAGE:
                check_network_allowed(client_ip(request), kind, limit)
        except Throttled:
            return throttled_response(request, window)
        if kind == TOKEN_PAGE:
            request._count_invalid_link = True
        return None
