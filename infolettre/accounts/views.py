"""The account pages: each view validates what was sent, calls one action, and draws the answer."""

from functools import wraps

from django.contrib import auth, messages
from django.contrib.auth import password_validation
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from infolettre.errors import Conflict, Forbidden, InfolettreError, Invalid, NotFound
from infolettre.privacy import policy_changes
from infolettre.privacy.purposes import PURPOSES
from infolettre.privacy.queries import (
    consent_history,
    current_consents,
    current_policy,
    policy_acceptances,
)

from . import actions, queries
from .authentication import authenticate_password
from .errors import EmailTaken, InvalidCredentials, InvalidLink, SignInThrottled
from .forms import (
    CONSENT_PURPOSES,
    REQUIRED,
    Field,
    consent_answers,
    declared_fields,
    errors_by_field,
    policy_accepted,
    submitted,
)
from .models import Role
from .registration import (
    MEMBER_FIELDS,
    REGISTRATION_FIELDS,
    check_inputs,
    check_invitation_acceptance,
    check_registration,
)
from .validation import check_choice, check_email, check_password

SESSION_BACKEND = "django.contrib.auth.backends.ModelBackend"
ORGANISATION_INPUTS = tuple(f for f in REGISTRATION_FIELDS if f.model == "accounts.Organisation")
ROLE_CHOICES = tuple(Role.choices)


def _check_role(value):
    if not value:
        raise Invalid(_("Choose one of the proposed answers."))
    return check_choice(value, ROLE_CHOICES)


def client_page(view):
    """Let in only a signed-in client user; staff have no organisation and no client pages."""

    @wraps(view)
    @login_required
    def wrapper(request, *args, **kwargs):
        if request.tenant is None:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def _password_field(name="password", label=None, error="", autocomplete="new-password"):
    return Field(
        name=name,
        label=label or _("Password"),
        kind="password",
        error=error,
        help_text=" ".join(password_validation.password_validators_help_texts()),
        autocomplete=autocomplete,
    )


def _consent_boxes(post=None):
    answers = consent_answers(post) if post is not None else {}
    return [
        {"purpose": purpose, "checked": answers.get(purpose.code, False)}
        for purpose in CONSENT_PURPOSES
    ]


def _invalid_link(request, *, retry_url=None, retry_label="", can_resend=False):
    return render(
        request,
        "accounts/link_invalid.html",
        {
            "message": InvalidLink.message,
            "retry_url": retry_url,
            "retry_label": retry_label,
            "can_resend": can_resend,
        },
        status=400,
    )


def _safe_next(request, default="accounts:dashboard"):
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse(default)


# Public pages ------------------------------------------------------------------------------------


def home(request):
    try:
        policy = current_policy()
    except NotFound:
        policy = None
    return render(request, "accounts/home.html", {"policy": policy})


def _registration_page(request, data=None, errors=None, post=None, status=200):
    fields = declared_fields(REGISTRATION_FIELDS, data, errors)
    errors = errors or {}
    return render(
        request,
        "accounts/register.html",
        {
            "about_you": [
                f
                for f, s in zip(fields, REGISTRATION_FIELDS, strict=True)
                if s.required and s.model == "accounts.User"
            ],
            "company": [
                f
                for f, s in zip(fields, REGISTRATION_FIELDS, strict=True)
                if s.required and s.model != "accounts.User"
            ],
            "optional": [f for f in fields if not f.required],
            "password": _password_field(error=errors.get("password", "")),
            "policy_accepted": post is not None and policy_accepted(post),
            "policy_error": errors.get("accept_policy", ""),
            "consent_boxes": _consent_boxes(post),
            "has_errors": bool(errors),
        },
        status=status,
    )


@sensitive_post_parameters("password")
def register(request):
    if request.method != "POST":
        return _registration_page(request)
    data = submitted(REGISTRATION_FIELDS, request.POST)
    password = request.POST.get("password", "")
    problems = []
    try:
        cleaned = check_registration(data, password, accept_policy=policy_accepted(request.POST))
    except Invalid as e:
        problems = e.details
    if not problems:
        try:
            user = actions.do_register_organisation(
                cleaned,
                password,
                consents=consent_answers(request.POST),
                source="web:/inscription/",
            )
        except EmailTaken as e:
            problems = [{"field": "email", "message": str(e.message)}]
        else:
            auth.login(request, user, backend=SESSION_BACKEND)
            return redirect("accounts:registered")
    return _registration_page(request, data, errors_by_field(problems), request.POST, status=400)


def registered(request):
    return render(request, "accounts/registered.html")


def confirm_email(request, token):
    try:
        user = actions.do_confirm_email(token)
    except InvalidLink:
        if request.user.is_authenticated and request.tenant is not None:
            return _invalid_link(request, can_resend=True)
        return _invalid_link(
            request,
            retry_url=f"{reverse('accounts:login')}?next={reverse('accounts:dashboard')}",
            retry_label=_("Sign in to get a new link"),
        )
    return render(request, "accounts/email_confirmed.html", {"confirmed_user": user})


@require_POST
@client_page
def resend_confirmation(request):
    if request.user.email_confirmed:
        messages.info(request, _("Your address is already confirmed."))
    else:
        actions.do_resend_welcome(request.user)
        messages.success(
            request,
            _("A new confirmation link is on its way to %(email)s.")
            % {"email": request.user.email},
        )
    return redirect("accounts:dashboard")


@sensitive_post_parameters("password")
@never_cache
def login(request):
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    email, error, status = "", "", 200
    if request.method == "POST":
        email = request.POST.get("email", "").strip()
        try:
            user = authenticate_password(request, email, request.POST.get("password", ""))
        except SignInThrottled as e:
            error, status = str(e.message), 429
        except InvalidCredentials as e:
            error, status = str(e.message), 400
        else:
            auth.login(request, user)
            return redirect(_safe_next(request))
    elif request.user.is_authenticated:
        return redirect(_safe_next(request))
    return render(
        request,
        "accounts/login.html",
        {
            "email": Field("email", _("Email address"), "email", value=email, autocomplete="email"),
            "password": Field(
                "password", _("Password"), "password", autocomplete="current-password"
            ),
            "error": error,
            "next": next_url
            if url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()})
            else "",
        },
        status=status,
    )


@require_POST
def logout(request):
    auth.logout(request)
    messages.info(request, _("You are signed out."))
    return redirect("accounts:home")


def password_reset(request):
    field = Field("email", _("Email address"), "email", autocomplete="email")
    if request.method == "POST":
        field.value = request.POST.get("email", "").strip()
        if field.value:
            actions.do_request_password_reset(field.value)
            return render(request, "accounts/password_reset_sent.html")
        field.error = str(REQUIRED)
    return render(
        request,
        "accounts/password_reset.html",
        {"field": field},
        status=400 if field.error else 200,
    )


@sensitive_post_parameters("password", "password_again")
@never_cache
def password_reset_confirm(request, uidb64, token):
    try:
        user = queries.user_from_reset_link(uidb64, token)
    except InvalidLink:
        return _invalid_link(
            request,
            retry_url=reverse("accounts:password_reset"),
            retry_label=_("Ask for a new link"),
        )
    password = _password_field()
    again = Field(
        "password_again", _("New password again"), "password", autocomplete="new-password"
    )
    status = 200
    if request.method == "POST":
        raw = request.POST.get("password", "")
        try:
            check_password(raw, user)
        except Invalid as e:
            password.error = str(e.message)
        if not password.error and raw != request.POST.get("password_again", ""):
            again.error = _("The two passwords differ.")
        if not (password.error or again.error):
            actions.do_reset_password(user, raw)
            auth.login(request, user, backend=SESSION_BACKEND)
            messages.success(request, _("Your password is changed."))
            return redirect("accounts:dashboard" if user.tenant_id else "accounts:home")
        status = 400
    password.label = _("New password")
    return render(
        request,
        "accounts/password_reset_confirm.html",
        {"password": password, "again": again},
        status=status,
    )


# Signed-in pages ---------------------------------------------------------------------------------


@client_page
def dashboard(request):
    return render(request, "accounts/dashboard.html", {"organisation": request.tenant})


@client_page
def profile(request):
    user = request.user
    status = 200
    if request.method == "POST":
        data = submitted(MEMBER_FIELDS, request.POST)
        problems = []
        try:
            cleaned = check_inputs(MEMBER_FIELDS, data)
        except Invalid as e:
            problems = e.details
        if not problems:
            actions.do_update_profile(user, cleaned)
            messages.success(request, _("Your details are saved."))
            return redirect("accounts:profile")
        errors, status = errors_by_field(problems), 400
    else:
        data = {spec.name: getattr(user, spec.field) for spec in MEMBER_FIELDS}
        errors = {}
    email_spec = next(f for f in REGISTRATION_FIELDS if f.name == "email")
    return render(
        request,
        "accounts/profile.html",
        {
            "fields": declared_fields(MEMBER_FIELDS, data, errors),
            "email": declared_fields([email_spec], {"email": user.email})[0],
        },
        status=status,
    )


@sensitive_post_parameters("current_password", "password")
@client_page
def password_change(request):
    current = Field(
        "current_password", _("Current password"), "password", autocomplete="current-password"
    )
    password = _password_field(label=_("New password"))
    status = 200
    if request.method == "POST":
        raw = request.POST.get("password", "")
        if not request.user.check_password(request.POST.get("current_password", "")):
            current.error = _("This is not your current password.")
        try:
            check_password(raw, request.user)
        except Invalid as e:
            password.error = str(e.message)
        if not (current.error or password.error):
            actions.do_set_password(request.user, raw)
            auth.update_session_auth_hash(request, request.user)
            messages.success(request, _("Your password is changed."))
            return redirect("accounts:profile")
        status = 400
    return render(
        request,
        "accounts/password_change.html",
        {"current": current, "password": password},
        status=status,
    )


@client_page
def consents(request):
    answers = current_consents(request.user)
    if request.method == "POST":
        purpose = PURPOSES.get(request.POST.get("purpose", ""))
        given = request.POST.get("given")
        if purpose in policy_changes.published_new_uses() and given in ("yes", "no"):
            # A new use of confidential data, added by a policy version: refused or accepted.
            policy_changes.do_answer_new_use(
                request.user, purpose, refused=given == "no", source="web:/compte/consentements/"
            )
            if given == "no":
                messages.success(
                    request, _("Use refused: %(purpose)s.") % {"purpose": purpose.label}
                )
            else:
                messages.success(
                    request, _("Use accepted: %(purpose)s.") % {"purpose": purpose.label}
                )
            return redirect("accounts:consents")
        if purpose not in CONSENT_PURPOSES or given not in ("yes", "no"):
            messages.error(request, _("Unknown purpose, or one that does not rest on consent."))
            return redirect("accounts:consents")
        given = given == "yes"
        # Only a change is a new answer; a repeated click records nothing twice.
        if answers.get(purpose.code, False) != given:
            actions.do_set_consent(
                request.user, purpose, given, source="web:/compte/consentements/"
            )
        if given:
            messages.success(request, _("Consent given: %(purpose)s.") % {"purpose": purpose.label})
        else:
            messages.success(
                request, _("Consent withdrawn: %(purpose)s.") % {"purpose": purpose.label}
            )
        return redirect("accounts:consents")
    history = [
        {"event": event, "purpose": PURPOSES.get(event.purpose)}
        for event in consent_history(request.user)
    ]
    return render(
        request,
        "accounts/consents.html",
        {
            "choices": [
                {"purpose": p, "given": answers.get(p.code, False), "answered": p.code in answers}
                for p in CONSENT_PURPOSES
            ],
            "new_uses": [
                {
                    "purpose": p,
                    "refused": policy_changes.has_refused(request.user, p.code),
                    "words": policy_changes.refusal_wording(p),
                }
                for p in policy_changes.published_new_uses()
            ],
            "history": list(reversed(history)),
            "acceptances": list(policy_acceptances(request.user)),
        },
    )


def _organisation_values(organisation):
    return {spec.name: getattr(organisation, spec.field) for spec in ORGANISATION_INPUTS}


def _choice_label(spec, value):
    return dict(spec.choices).get(value, value) if spec.choices else value


@client_page
def organisation(request):
    organisation = request.tenant
    status, errors, data = 200, {}, _organisation_values(organisation)
    if request.method == "POST":
        if not request.user.is_owner:
            raise PermissionDenied
        data = submitted(ORGANISATION_INPUTS, request.POST)
        problems = []
        try:
            cleaned = check_inputs(ORGANISATION_INPUTS, data, partial=False)
        except Invalid as e:
            problems = e.details
        if not problems:
            actions.do_update_organisation(organisation, cleaned)
            messages.success(request, _("The organisation's details are saved."))
            return redirect("accounts:organisation")
        errors, status = errors_by_field(problems), 400
    stored = _organisation_values(organisation)
    fields = declared_fields(ORGANISATION_INPUTS, data, errors)
    return render(
        request,
        "accounts/organisation.html",
        {
            "organisation": organisation,
            "fields": fields,
            "details": [
                {"field": f, "value": _choice_label(spec, stored[spec.name])}
                for f, spec in zip(fields, ORGANISATION_INPUTS, strict=True)
            ],
        },
        status=status,
    )


def _invite_fields(data=None, errors=None):
    data, errors = data or {}, errors or {}
    return (
        Field(
            "email",
            _("Email address"),
            "email",
            value=data.get("email", ""),
            error=errors.get("email", ""),
        ),
        Field(
            "role",
            _("Role"),
            "select",
            value=data.get("role", Role.MEMBER),
            error=errors.get("role", ""),
            choices=ROLE_CHOICES,
        ),
    )


def _status_of(error):
    if isinstance(error, Forbidden):
        return 403
    if isinstance(error, Conflict):
        return 409
    return 400


@client_page
def team(request):
    status, invite_error = 200, ""
    email_field, role_field = _invite_fields()
    if request.method == "POST":
        data = {
            "email": request.POST.get("email", "").strip(),
            "role": request.POST.get("role", ""),
        }
        errors, cleaned = {}, {}
        for name, check in (("email", check_email), ("role", _check_role)):
            if not data[name]:
                errors[name] = str(REQUIRED)
                continue
            try:
                cleaned[name] = check(data[name])
            except Invalid as e:
                errors[name] = str(e.message)
        if not errors:
            try:
                actions.do_invite_member(request.user, cleaned["email"], cleaned["role"])
            except InfolettreError as e:
                invite_error, status = str(e.message), _status_of(e)
            else:
                messages.success(
                    request, _("Invitation sent to %(email)s.") % {"email": cleaned["email"]}
                )
                return redirect("accounts:team")
        else:
            status = 400
        email_field, role_field = _invite_fields(data, errors)
    return render(
        request,
        "accounts/team.html",
        {
            "members": list(queries.members_of_tenant()),
            "invitations": list(queries.pending_invitations().select_related("invited_by")),
            "email_field": email_field,
            "role_field": role_field,
            "invite_error": invite_error,
            "roles": ROLE_CHOICES,
        },
        status=status,
    )


def _member(member_id):
    try:
        return queries.access_member_for_tenant(member_id)
    except NotFound:
        raise Http404 from None


@require_POST
@client_page
def change_member_role(request, member_id):
    member = _member(member_id)
    try:
        actions.do_change_role(request.user, member, _check_role(request.POST.get("role", "")))
    except InfolettreError as e:
        messages.error(request, str(e.message))
    else:
        messages.success(
            request,
            _("%(name)s is now: %(role)s.")
            % {"name": member.name, "role": member.get_role_display()},
        )
    return redirect("accounts:team")


@require_POST
@client_page
def remove_member(request, member_id):
    member = _member(member_id)
    leaving = member.pk == request.user.pk
    try:
        actions.do_remove_member(request.user, member)
    except InfolettreError as e:
        messages.error(request, str(e.message))
        return redirect("accounts:team")
    if leaving:
        auth.logout(request)
        messages.info(request, _("You left the organisation; your account is closed."))
        return redirect("accounts:home")
    messages.success(
        request, _("%(name)s no longer belongs to the organisation.") % {"name": member.name}
    )
    return redirect("accounts:team")


@require_POST
@client_page
def cancel_invitation(request, invitation_id):
    try:
        invitation = queries.access_invitation_for_tenant(invitation_id)
    except NotFound:
        raise Http404 from None
    try:
        actions.do_cancel_invitation(request.user, invitation)
    except InfolettreError as e:
        messages.error(request, str(e.message))
    else:
        messages.success(
            request, _("The invitation to %(email)s is cancelled.") % {"email": invitation.email}
        )
    return redirect("accounts:team")


@client_page
def api_tokens(request):
    name = Field("name", _("Token name"), max_length=100, autocomplete="off")
    name.help_text = _("A name to recognise it by, for example the program that will use it.")
    created, secret, status = None, "", 200
    if request.method == "POST":
        name.value = request.POST.get("name", "").strip()
        if not name.value:
            name.error = str(REQUIRED)
        elif len(name.value) > 100:
            name.error = _("Use at most %(limit)d characters.") % {"limit": 100}
        if name.error:
            status = 400
        else:
            created, secret = actions.do_issue_api_token(request.user, name.value)
            name.value = ""
    response = render(
        request,
        "accounts/api_tokens.html",
        {
            "tokens": list(queries.api_tokens_of(request.user)),
            "name_field": name,
            "created": created,
            "secret": secret,
        },
        status=status,
    )
    # The page with the secret is the only copy: no cache may keep another.
    add_never_cache_headers(response)
    return response


@require_POST
@client_page
def revoke_api_token(request, token_id):
    try:
        token = queries.access_api_token_for_user(request.user, token_id)
    except NotFound:
        raise Http404 from None
    actions.do_revoke_api_token(token)
    messages.success(request, _("The token “%(name)s” is revoked.") % {"name": token.name})
    return redirect("accounts:api_tokens")


@sensitive_post_parameters("password")
def accept_invitation(request, token):
    try:
        invitation = actions.pending_invitation_from_token(token)
    except InvalidLink:
        return _invalid_link(request)
    data, errors, status = {}, {}, 200
    if request.method == "POST":
        data = submitted(MEMBER_FIELDS, request.POST)
        password = request.POST.get("password", "")
        problems = []
        try:
            cleaned = check_invitation_acceptance(
                invitation, data, password, accept_policy=policy_accepted(request.POST)
            )
        except Invalid as e:
            problems = e.details
        if not problems:
            try:
                user = actions.do_accept_invitation(
                    invitation,
                    cleaned,
                    password,
                    consents=consent_answers(request.POST),
                    source="web:/invitation/",
                )
            except InfolettreError as e:
                problems = [{"field": "__all__", "message": str(e.message)}]
            else:
                auth.login(request, user, backend=SESSION_BACKEND)
                messages.success(
                    request,
                    _("Welcome to %(organisation)s.") % {"organisation": invitation.tenant.name},
                )
                return redirect("accounts:dashboard")
        errors, status = errors_by_field(problems), 400
    return render(
        request,
        "accounts/accept_invitation.html",
        {
            "invitation": invitation,
            "fields": declared_fields(MEMBER_FIELDS, data, errors),
            "password": _password_field(error=errors.get("password", "")),
            "policy_accepted": request.method == "POST" and policy_accepted(request.POST),
            "policy_error": errors.get("accept_policy", ""),
            "consent_boxes": _consent_boxes(request.POST if request.method == "POST" else None),
            "form_error": errors.get("__all__", ""),
            "has_errors": bool(errors),
        },
        status=status,
    )
