"""Pages of open and click counting: the public pixel and click redirect, the switches, the report.

The pixel and the redirect need no sign-in and set no cookie; their answers are never cached and
send no Referer onwards. A token that was altered or names something unknown gets a 400 page,
never a redirect.
"""

import base64
from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.cache import add_never_cache_headers
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from infolettre.accounts.errors import InvalidLink
from infolettre.accounts.views import client_page

from . import charts
from .campaign_queries import access_campaign_for_tenant
from .campaign_stats import campaign_stats
from .footer import NO_TRACKING, PER_RECIPIENT_TRACKING
from .tracking import tracking_settings
from .tracking_actions import (
    do_record_click,
    do_record_open,
    do_set_tracking,
    is_machine,
    read_click,
    read_open,
)
from .views_campaigns import _found

# The smallest transparent GIF: 1×1, one colour.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NEVER_CACHED = "max-age=0, no-cache, no-store, must-revalidate, private"
# Hours drawn one by one; a longer span is drawn by day.
MAX_HOURLY_BUCKETS = 72


def _private(response):
    # What add_never_cache_headers writes, without parsing the header it has not yet got.
    response["Cache-Control"] = NEVER_CACHED
    response["Referrer-Policy"] = "no-referrer"
    # These answers skip XFrameOptionsMiddleware (infolettre/hot_routes.py).
    response["X-Frame-Options"] = "DENY"
    return response


def _invalid(request, error):
    # No LocaleMiddleware on the hot routes: the page speaks the browser's language itself.
    with translation.override(translation.get_language_from_request(request)):
        page = render(
            request, "campaigns/tracking_invalid.html", {"message": error.message}, status=400
        )
    return _private(page)


@require_http_methods(["GET", "HEAD"])
def track_click(request, token):
    """Count a click and lead to the link's stored address; an altered token leads nowhere."""
    try:
        link, recipient = read_click(token)
    except InvalidLink as error:
        return _invalid(request, error)
    if link.tracking != NO_TRACKING:
        do_record_click(link, recipient, machine=is_machine(request, recipient, click=True))
    return _private(HttpResponseRedirect(link.url))


@require_http_methods(["GET", "HEAD"])
def track_open(request, token):
    """Count an open and answer a transparent 1×1 image."""
    try:
        campaign, recipient = read_open(token)
    except InvalidLink as error:
        return _invalid(request, error)
    if campaign.tracking != NO_TRACKING:
        do_record_open(campaign, recipient, machine=is_machine(request, recipient))
    return _private(HttpResponse(PIXEL, content_type="image/gif"))


# The switches --------------------------------------------------------------------------------


@client_page
def tracking(request):
    """The organisation's two switches, explained; only an owner may change them."""
    switches = tracking_settings(request.tenant)
    status = 200
    if request.method == "POST":
        if not request.user.is_owner:
            raise PermissionDenied
        count = request.POST.get("count_opens_and_clicks") == "on"
        per_recipient = request.POST.get("per_recipient") == "on"
        if per_recipient and not count:
            messages.error(
                request,
                _("Per-recipient counting needs the counting of opens and clicks: turn both on."),
            )
            status = 400
        else:
            do_set_tracking(request.user, count_opens_and_clicks=count, per_recipient=per_recipient)
            messages.success(
                request,
                _(
                    "Saved. Campaigns launched from now on count as you chose; those already launched keep their setting."
                ),
            )
            return redirect("campaigns:tracking")
    return render(request, "campaigns/tracking.html", {"switches": switches}, status=status)


# The report ----------------------------------------------------------------------------------


def _buckets(hourly):
    """(labels, rows, by_day) over time: each hour from the first activity, or each day past 72."""
    if not hourly:
        return [], [], False
    first, last = hourly[0]["hour"], hourly[-1]["hour"]
    by_hour = {row["hour"]: row for row in hourly}
    keys = ("sent", "opens_people", "opens_machines", "clicks_people", "clicks_machines")
    span = int((last - first).total_seconds() // 3600) + 1
    if span <= MAX_HOURLY_BUCKETS:
        labels, rows = [], []
        for n in range(span):
            hour = first + timedelta(hours=n)
            local = timezone.localtime(hour)
            labels.append(f"{local:%d/%m %H} h")
            rows.append(by_hour.get(hour, dict.fromkeys(keys, 0)))
        return labels, rows, False
    days = {}
    for row in hourly:
        day = timezone.localtime(row["hour"]).date()
        total = days.setdefault(day, dict.fromkeys(keys, 0))
        for key in keys:
            total[key] += row[key]
    start, end = min(days), max(days)
    labels, rows = [], []
    for n in range((end - start).days + 1):
        day = start + timedelta(days=n)
        labels.append(f"{day:%d/%m}")
        rows.append(days.get(day, dict.fromkeys(keys, 0)))
    return labels, rows, True


def _percent(rate):
    return None if rate is None else f"{number_format(rate * 100, 1)} %"


@client_page
def campaign_report(request, campaign_id):
    """A campaign's figures and charts: sent, delivered, bounced, opens, clicks, over time, per link."""
    campaign = _found(access_campaign_for_tenant, campaign_id)
    stats = campaign_stats(campaign, counting=True)
    labels, rows, by_day = _buckets(stats["hourly"])
    unit = _("day") if by_day else _("hour")
    context = {
        "campaign": campaign,
        "stats": stats,
        "per_recipient": campaign.tracking == PER_RECIPIENT_TRACKING,
        "rates": {key: _percent(value) for key, value in stats["rates"].items()},
        "timeline": list(zip(labels, rows, strict=True)),
        "by_day": by_day,
    }
    if rows:
        context["sent_chart"] = charts.time_chart(
            _("Messages sent per %(unit)s") % {"unit": unit},
            _("Columns: how many messages left in each %(unit)s, local time.") % {"unit": unit},
            labels,
            (_("Messages sent"), [r["sent"] for r in rows], charts.SENT_COLOUR),
            [],
        )
        if stats["counted"]:
            context["activity_chart"] = charts.time_chart(
                _("Opens and clicks per %(unit)s") % {"unit": unit},
                _(
                    "Solid lines: opens and clicks by people. Dashed lines: by machines "
                    "(mail-privacy proxies and security scanners)."
                ),
                labels,
                None,
                [
                    (
                        _("Opens by people"),
                        [r["opens_people"] for r in rows],
                        charts.OPEN_COLOUR,
                        False,
                    ),
                    (
                        _("Clicks by people"),
                        [r["clicks_people"] for r in rows],
                        charts.CLICK_COLOUR,
                        False,
                    ),
                    (
                        _("Opens by machines"),
                        [r["opens_machines"] for r in rows],
                        charts.OPEN_COLOUR,
                        True,
                    ),
                    (
                        _("Clicks by machines"),
                        [r["clicks_machines"] for r in rows],
                        charts.MACHINE_COLOUR,
                        True,
                    ),
                ],
            )
    if stats["links"]:
        context["links_chart"] = charts.bar_list(
            _("Clicks per link"),
            _("One bar per link of the message: clicks by people, then, paler, by machines."),
            [(row["url"], row["clicks_people"], row["clicks_machines"]) for row in stats["links"]],
            _("Clicks by people"),
            _("Clicks by machines"),
        )
    response = render(request, "campaigns/campaign_report.html", context)
    add_never_cache_headers(response)
    return response
