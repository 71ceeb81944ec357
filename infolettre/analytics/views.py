"""The daily report's stop link (public, no sign-in) and the account page's switch."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from infolettre.accounts.errors import InvalidLink
from infolettre.accounts.views import client_page

from .actions import do_resume_daily_report, do_stop_daily_report
from .stop_links import read_stop_token


def _public_page(request, template, status=200, **context):
    response = render(request, f"analytics/{template}.html", context, status=status)
    add_never_cache_headers(response)
    # The token is in the address: no other site learns it from a Referer header.
    response["Referrer-Policy"] = "no-referrer"
    return response


@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def stop_daily_report(request, token):
    """GET shows one button and changes nothing (mail scanners open links); POST, the button or a
    mailbox provider's one-click request (RFC 8058), stops the daily report at once."""
    try:
        user = read_stop_token(token)
    except InvalidLink as e:
        return _public_page(request, "stop_invalid", status=400, message=e.message)
    if request.method == "POST":
        do_stop_daily_report(user)
        return _public_page(request, "stop_done", organisation=user.tenant)
    if user.daily_report_stopped_at is not None:
        return _public_page(request, "stop_done", organisation=user.tenant)
    return _public_page(request, "stop", organisation=user.tenant)


@client_page
@require_http_methods(["GET", "HEAD", "POST"])
def daily_report_settings(request):
    user = request.user
    if request.method == "POST":
        answer = request.POST.get("send")
        if answer == "yes":
            do_resume_daily_report(user)
            messages.success(request, _("You will receive the daily activity report."))
        elif answer == "no":
            do_stop_daily_report(user)
            messages.success(request, _("You will no longer receive the daily activity report."))
        return redirect("analytics:daily_report_settings")
    return render(
        request,
        "analytics/daily_report_settings.html",
        {"receives": user.daily_report_stopped_at is None},
    )
