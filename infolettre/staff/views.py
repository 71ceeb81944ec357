"""The operator's staff area (/equipe/...): office networks only, a second factor, need-to-know."""

from base64 import b32encode

import segno
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from django_otp import login as otp_login

from infolettre.accounts.errors import SignInThrottled
from infolettre.accounts.models import StaffRole, User
from infolettre.accounts.throttling import (
    check_sign_in_allowed,
    clear_sign_in_failures,
    record_sign_in_failure,
)
from infolettre.errors import NotFound

from . import actions, queries
from .access import is_verified, office_only, staff_page
from .errors import OwnSecondFactorReset, ReasonRequired, ResetReasonRequired, WrongCode
from .need_to_know import field_view, field_views, revealable
from .networks import client_ip

SUPPORT = StaffRole.SUPPORT
BILLING = StaffRole.BILLING
PRIVACY_OFFICER = StaffRole.PRIVACY_OFFICER
ADMINISTRATOR = StaffRole.ADMINISTRATOR
# Who may open a client's page (its organisation and users); its lists need a grant on top.
CLIENT_ROLES = (SUPPORT, BILLING, ADMINISTRATOR)
CONTACTS_SHOWN = 200


def _next(request):
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("staff:dashboard")


def _qr_svg(device):
    # Inline SVG markup: no image request, nothing a Content-Security-Policy has to allow.
    return mark_safe(segno.make(device.config_url, error="m").svg_inline(scale=4))


def _grouped_secret(device):
    secret = b32encode(device.bin_key).decode()
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


@sensitive_post_parameters("code", "recovery_code")
@office_only
def second_factor(request):
    """Second step of a staff sign-in: the authenticator's code (set up on the first sign-in), or
    one of the recovery codes when the app is lost."""
    user = request.user
    if not user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not user.is_staff:
        raise Http404
    if is_verified(user):
        return redirect(_next(request))
    enrolling = actions.enrolment_device(user)
    error, status = "", 200
    if request.method == "POST":
        ip = client_ip(request)
        try:
            check_sign_in_allowed(user.email, ip)
            passed = actions.do_pass_second_factor(
                user,
                code=request.POST.get("code", "").replace(" ", ""),
                recovery_code=request.POST.get("recovery_code", ""),
            )
        except SignInThrottled as e:
            error, status = str(e.message), 429
        except WrongCode as e:
            record_sign_in_failure(user.email, ip)
            error, status = str(e.message), 400
        else:
            clear_sign_in_failures(user.email)
            # A new session key for the signed-in staff member: the one before the code is dropped.
            request.session.cycle_key()
            otp_login(request, passed.device)
            if passed.recovery_codes:
                return _show_recovery_codes(request, passed.recovery_codes, _next(request))
            if passed.method == actions.RECOVERY_CODE:
                messages.info(request, _recovery_code_notice(user))
            return redirect(_next(request))
    return render(
        request,
        "staff/second_factor.html",
        {
            "enrolling": enrolling is not None,
            "qr_svg": _qr_svg(enrolling) if enrolling else "",
            "secret": _grouped_secret(enrolling) if enrolling else "",
            "error": error,
            "next": _next(request),
        },
        status=status,
    )


def _recovery_code_notice(user):
    left = actions.unused_recovery_codes(user)
    return _(
        "You signed in with a recovery code; you have %(count)d left. Make new ones from the "
        "page of your second factor."
    ) % {"count": left}


def _show_recovery_codes(request, codes, continue_to):
    """Show new recovery codes, this once: they are kept only as hashes."""
    return render(
        request,
        "staff/recovery_codes.html",
        {"codes": codes, "continue_to": continue_to},
    )


@staff_page()
def account(request):
    """The staff member's own second factor: the app, and how many recovery codes are left."""
    user = request.user
    return render(
        request,
        "staff/account.html",
        {
            "device": actions.confirmed_device(user),
            "recovery_codes_left": actions.unused_recovery_codes(user),
            "recovery_code_count": actions.RECOVERY_CODE_COUNT,
        },
    )


@staff_page()
@require_POST
def regenerate_recovery_codes(request):
    codes = actions.do_regenerate_recovery_codes(request.user)
    return _show_recovery_codes(request, codes, reverse("staff:account"))


@staff_page()
def dashboard(request):
    role = request.user.staff_role
    return render(
        request,
        "staff/dashboard.html",
        {
            "role_label": StaffRole(role).label if role in StaffRole.values else "",
            "sees_clients": role in CLIENT_ROLES,
            "sees_privacy_desk": role == PRIVACY_OFFICER,
            "manages_staff": role == ADMINISTRATOR,
            "recovery_codes_left": actions.unused_recovery_codes(request.user),
        },
    )


@staff_page(*CLIENT_ROLES)
def clients(request):
    role = request.user.staff_role
    rows = [(o, field_view(o, "name", role)) for o in queries.organisations()]
    return render(request, "staff/clients.html", {"rows": rows})


def _organisation(organisation_id):
    try:
        return queries.access_organisation(organisation_id)
    except NotFound:
        raise Http404 from None


@staff_page(*CLIENT_ROLES)
def client_detail(request, organisation_id):
    organisation = _organisation(organisation_id)
    role = request.user.staff_role
    actions.do_record_client_view(request.user, organisation)
    return render(
        request,
        "staff/client_detail.html",
        {
            "organisation": organisation,
            "organisation_fields": field_views(organisation, role),
            "users": [(u, field_views(u, role)) for u in queries.users_of(organisation)],
            "grant": queries.active_grant(organisation, request.user),
        },
    )


@staff_page(*CLIENT_ROLES)
def client_lists(request, organisation_id):
    organisation = _organisation(organisation_id)
    grant = queries.active_grant(organisation, request.user)
    if grant is None:
        return render(
            request, "staff/client_lists_closed.html", {"organisation": organisation}, status=403
        )
    actions.do_record_lists_view(request.user, organisation, grant)
    role = request.user.staff_role
    contacts = queries.contacts_of(organisation, CONTACTS_SHOWN)
    return render(
        request,
        "staff/client_lists.html",
        {
            "organisation": organisation,
            "grant": grant,
            "lists": queries.lists_of(organisation),
            "contacts": [(c, field_views(c, role, granted=True)) for c in contacts],
            "limit": CONTACTS_SHOWN,
        },
    )


@sensitive_post_parameters("reason")
@staff_page(*CLIENT_ROLES)
def reveal(request, organisation_id):
    """Ask why, record it, then show one confidential value once (never cached)."""
    organisation = _organisation(organisation_id)
    data = request.POST if request.method == "POST" else request.GET
    label, object_id, name = data.get("model", ""), data.get("object", ""), data.get("field", "")
    try:
        obj = queries.client_object(organisation, label, object_id)
    except NotFound:
        raise Http404 from None
    granted = label != "audience.Contact" or (
        queries.active_grant(organisation, request.user) is not None
    )
    if not revealable(obj, name, request.user.staff_role, granted=granted):
        raise Http404
    context = {
        "organisation": organisation,
        "model": label,
        "object_id": obj.pk,
        "field": name,
        "label": obj._meta.get_field(name).verbose_name,
        "subject": str(obj),
        "value": None,
        "error": "",
        "reason": "",
    }
    status = 200
    if request.method == "POST":
        context["reason"] = request.POST.get("reason", "")
        try:
            context["value"] = actions.do_reveal_field(
                request.user, obj, name, context["reason"], organisation=organisation
            )
        except ReasonRequired as e:
            context["error"], status = str(e.message), 400
    return render(request, "staff/reveal.html", context, status=status)


@staff_page(ADMINISTRATOR)
def personnel(request):
    return render(
        request,
        "staff/personnel.html",
        {"staff": queries.staff_members(), "roles": StaffRole.choices},
    )


@staff_page(ADMINISTRATOR)
@require_POST
def change_staff_role(request, staff_user_id):
    staff_user = User.objects.filter(pk=staff_user_id, is_staff=True).first()
    if staff_user is None:
        raise Http404
    role = request.POST.get("role", "")
    if role not in StaffRole.values:
        messages.error(request, _("Choose one of the proposed answers."))
        return redirect("staff:personnel")
    actions.do_change_staff_role(request.user, staff_user, role)
    messages.success(
        request,
        _("%(name)s is now %(role)s.") % {"name": staff_user.name, "role": StaffRole(role).label},
    )
    return redirect("staff:personnel")


@staff_page(ADMINISTRATOR)
def reset_second_factor(request, staff_user_id):
    """Ask why, then delete another staff member's second factor and sign them out everywhere."""
    try:
        staff_user = queries.access_staff_member(staff_user_id)
    except NotFound:
        raise Http404 from None
    error, status, reason = "", 200, ""
    if request.method == "POST":
        reason = request.POST.get("reason", "")
        try:
            actions.do_reset_second_factor(request.user, staff_user, reason)
        except ResetReasonRequired as e:
            error, status = str(e.message), 400
        except OwnSecondFactorReset as e:
            error, status = str(e.message), 403
        else:
            messages.success(
                request,
                _(
                    "The second factor of %(name)s is reset and they are signed out; they set up "
                    "their app again at their next sign-in."
                )
                % {"name": staff_user.name},
            )
            return redirect("staff:personnel")
    elif staff_user.pk == request.user.pk:
        error, status = str(OwnSecondFactorReset.message), 403
    return render(
        request,
        "staff/reset_second_factor.html",
        {
            "member": staff_user,
            "own": staff_user.pk == request.user.pk,
            "device": actions.confirmed_device(staff_user),
            "recovery_codes_left": actions.unused_recovery_codes(staff_user),
            "error": error,
            "reason": reason,
        },
        status=status,
    )
