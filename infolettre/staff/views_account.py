"""A client owner's page to let the operator's support see their lists for a support case."""

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from infolettre.accounts.models import StaffRole
from infolettre.accounts.views import client_page
from infolettre.errors import NotFound

from . import actions, queries

GRANTABLE_ROLES = (StaffRole.SUPPORT, StaffRole.BILLING, StaffRole.ADMINISTRATOR)


def owner_page(view):
    """A client page for owners only: members see their organisation's grants nowhere."""

    @wraps(view)
    @client_page
    def wrapper(request, *args, **kwargs):
        if not request.user.is_owner:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def _check_grant(post):
    errors, values = {}, {}
    values["role"] = post.get("role", StaffRole.SUPPORT)
    if values["role"] not in GRANTABLE_ROLES:
        errors["role"] = _("Choose one of the proposed answers.")
    raw_days = post.get("days", "").strip()
    limit = settings.ACCESS_GRANT_MAX_DAYS
    values["days"] = raw_days
    if not raw_days.isdigit() or not 1 <= int(raw_days) <= limit:
        errors["days"] = _("Enter a number of days from 1 to %(limit)d.") % {"limit": limit}
    values["case_reference"] = post.get("case_reference", "").strip()
    if not values["case_reference"]:
        errors["case_reference"] = _("Give the reference of the support case.")
    elif len(values["case_reference"]) > 100:
        errors["case_reference"] = _("Use at most %(limit)d characters.") % {"limit": 100}
    return values, errors


@owner_page
def support_access(request):
    values, errors, status = {"role": StaffRole.SUPPORT, "days": "3"}, {}, 200
    if request.method == "POST":
        values, errors = _check_grant(request.POST)
        if errors:
            status = 400
        else:
            actions.do_grant_access(
                request.user,
                role=values["role"],
                days=int(values["days"]),
                case_reference=values["case_reference"],
            )
            messages.success(request, _("Access granted."))
            return redirect("staff:support_access")
    now = timezone.now()
    grants = [(g, g.is_active(now)) for g in queries.grants_of(request.tenant)]
    return render(
        request,
        "staff/support_access.html",
        {
            "grants": grants,
            "values": values,
            "errors": errors,
            "roles": [(r.value, r.label) for r in GRANTABLE_ROLES],
            "max_days": settings.ACCESS_GRANT_MAX_DAYS,
        },
        status=status,
    )


@require_POST
@owner_page
def revoke_support_access(request, grant_id):
    try:
        grant = queries.access_grant_for_tenant(grant_id)
    except NotFound:
        raise Http404 from None
    actions.do_revoke_access(request.user, grant)
    messages.success(request, _("Access revoked."))
    return redirect("staff:support_access")
