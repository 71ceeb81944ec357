"""The public page of every message's unsubscribe link.

GET shows one button and changes nothing (mail scanners open links on their own); POST, the button
or a mailbox provider's one-click request (RFC 8058: `List-Unsubscribe=One-Click`, no cookie, no
form token), unsubscribes at once. Neither needs a sign-in, and the page sets no cookie.
"""

from django.shortcuts import render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from infolettre.accounts.errors import InvalidLink

from .unsubscribe import (
    ONE_CLICK,
    PAGE,
    do_unsubscribe_recipient,
    page_facts,
    read_page,
    read_token_to_unsubscribe,
)


def _page(request, template, status=200, **context):
    response = render(
        request,
        f"campaigns/{template}.html",
        context,
        status=status,
    )
    add_never_cache_headers(response)
    # The token is in the address: no other site learns it from a Referer header.
    response["Referrer-Policy"] = "no-referrer"
    return response


@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request, token):
    """GET: the button, from the cache when it can; POST: unsubscribe at once, in the tables."""
    try:
        if request.method == "POST":
            delivery = read_token_to_unsubscribe(token)
            one_click = request.POST.get("List-Unsubscribe") == "One-Click"
            do_unsubscribe_recipient(delivery, source=ONE_CLICK if one_click else PAGE)
            facts = page_facts(delivery)
        else:
            facts = read_page(token)
    except InvalidLink as e:
        return _page(request, "unsubscribe_invalid", status=400, message=e.message)
    return _page(
        request,
        "unsubscribe_done" if facts.unsubscribed else "unsubscribe",
        organisation=facts.organisation,
        masked_email=facts.masked_email,
    )
