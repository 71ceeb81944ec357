from django.utils.translation import gettext as _
from ninja import Router, Status

from infolettre.errors import Invalid
from infolettre.privacy.purposes import PURPOSES
from infolettre.privacy.queries import consent_history, current_consents
from infolettre.schemas import ErrorOut

from . import actions, queries
from .api_auth import CLIENT_AUTH
from .errors import InvalidCredentials
from .registration import (
    MEMBER_FIELDS,
    REGISTRATION_FIELDS,
    check_inputs,
    check_invitation_acceptance,
    check_registration,
)
from .schemas import (
    ApiTokenIn,
    ApiTokenOut,
    ConsentEventOut,
    ConsentIn,
    ConsentOut,
    EmailIn,
    InvitationAcceptIn,
    InvitationIn,
    InvitationOut,
    MeOut,
    MessageOut,
    NewApiTokenOut,
    OrganisationIn,
    OrganisationOut,
    PasswordChangeIn,
    PasswordResetConfirmIn,
    ProfileIn,
    RegistrationIn,
    RoleIn,
    TokenIn,
    UserOut,
)
from .validation import check_email, check_password

router = Router(auth=CLIENT_AUTH, tags=["accounts"])
ERRORS = {
    400: ErrorOut,
    401: ErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    409: ErrorOut,
    422: ErrorOut,
    429: ErrorOut,
}
ORGANISATION_INPUTS = [f for f in REGISTRATION_FIELDS if f.model == "accounts.Organisation"]


def _consents(payload):
    return {"newsletter": payload.newsletter, "special_offers": payload.special_offers}


@router.post("/auth/register", auth=None, response={201: MeOut, **ERRORS})
def register(request, payload: RegistrationIn):
    """Register an organisation and its first owner; a welcome message confirms the address."""
    data = payload.model_dump()
    cleaned = check_registration(data, data.pop("password"), accept_policy=payload.accept_policy)
    user = actions.do_register_organisation(
        cleaned, payload.password, consents=_consents(payload), source="api:/api/v1/auth/register"
    )
    return Status(201, user)


@router.post("/auth/confirm", auth=None, response={200: MessageOut, **ERRORS})
def confirm_email(request, payload: TokenIn):
    """Confirm an address with the token of the welcome message's link."""
    actions.do_confirm_email(payload.token)
    return {"code": "email_confirmed", "message": _("Your address is confirmed.")}


@router.post("/auth/confirm/resend", response={202: MessageOut, **ERRORS})
def resend_confirmation(request):
    actions.do_resend_welcome(request.user)
    return Status(
        202,
        {
            "code": "confirmation_sent",
            "message": _("If your address is not confirmed yet, a new link is on its way."),
        },
    )


@router.post("/auth/password-reset", auth=None, response={202: MessageOut, **ERRORS})
def request_password_reset(request, payload: EmailIn):
    """Email a reset link if an account has this address; the answer is the same either way."""
    actions.do_request_password_reset(payload.email)
    return Status(
        202,
        {
            "code": "reset_sent",
            "message": _("If an account has this address, a reset link is on its way."),
        },
    )


@router.post("/auth/password-reset/confirm", auth=None, response={200: MessageOut, **ERRORS})
def confirm_password_reset(request, payload: PasswordResetConfirmIn):
    user = queries.user_from_reset_link(payload.uid, payload.token)
    actions.do_reset_password(user, check_password(payload.password, user))
    return {"code": "password_changed", "message": _("Your password is changed.")}


@router.post("/auth/password", response={200: MessageOut, **ERRORS})
def change_password(request, payload: PasswordChangeIn):
    if not request.user.check_password(payload.current_password):
        raise InvalidCredentials()
    actions.do_set_password(request.user, check_password(payload.password, request.user))
    return {"code": "password_changed", "message": _("Your password is changed.")}


@router.get("/auth/tokens", response=list[ApiTokenOut])
def list_api_tokens(request):
    return list(queries.api_tokens_of(request.user))


@router.post("/auth/tokens", response={201: NewApiTokenOut, **ERRORS})
def create_api_token(request, payload: ApiTokenIn):
    """Create a personal API token; its secret is in this answer only."""
    token, raw = actions.do_issue_api_token(request.user, payload.name)
    token.token = raw
    return Status(201, token)


@router.get("/auth/tokens/{token_id}", response={200: ApiTokenOut, **ERRORS})
def get_api_token(request, token_id: int):
    return queries.access_api_token_for_user(request.user, token_id)


@router.delete("/auth/tokens/{token_id}", response={204: None, **ERRORS})
def revoke_api_token(request, token_id: int):
    actions.do_revoke_api_token(queries.access_api_token_for_user(request.user, token_id))
    return Status(204, None)


@router.get("/me", response=MeOut)
def me(request):
    return request.user


@router.patch("/me", response={200: MeOut, **ERRORS})
def update_me(request, payload: ProfileIn):
    """Correct your own data at any time."""
    data = payload.model_dump(exclude_unset=True)
    return actions.do_update_profile(request.user, check_inputs(MEMBER_FIELDS, data, partial=True))


@router.get("/organisation", response=OrganisationOut)
def organisation(request):
    return request.tenant


@router.patch("/organisation", response={200: OrganisationOut, **ERRORS})
def update_organisation(request, payload: OrganisationIn):
    actions.check_owner(request.user)
    data = payload.model_dump(exclude_unset=True)
    return actions.do_update_organisation(
        request.tenant, check_inputs(ORGANISATION_INPUTS, data, partial=True)
    )


@router.get("/members", response=list[UserOut])
def list_members(request):
    return list(queries.members_of_tenant())


@router.get("/members/{member_id}", response={200: UserOut, **ERRORS})
def get_member(request, member_id: int):
    return queries.access_member_for_tenant(member_id)


@router.patch("/members/{member_id}", response={200: UserOut, **ERRORS})
def change_member_role(request, member_id: int, payload: RoleIn):
    return actions.do_change_role(
        request.user, queries.access_member_for_tenant(member_id), payload.role
    )


@router.delete("/members/{member_id}", response={204: None, **ERRORS})
def remove_member(request, member_id: int):
    actions.do_remove_member(request.user, queries.access_member_for_tenant(member_id))
    return Status(204, None)


@router.get("/invitations", response=list[InvitationOut])
def list_invitations(request):
    return list(queries.pending_invitations())


@router.post("/invitations", response={201: InvitationOut, **ERRORS})
def invite_member(request, payload: InvitationIn):
    """Invite a person to join the organisation with a role (owners only, once the address is confirmed)."""
    email = check_email(payload.email)
    return Status(201, actions.do_invite_member(request.user, email, payload.role))


@router.post("/invitations/accept", auth=None, response={201: MeOut, **ERRORS})
def accept_invitation(request, payload: InvitationAcceptIn):
    """Create the invited person's account from the invitation link's token."""
    invitation = actions.pending_invitation_from_token(payload.token)
    cleaned = check_invitation_acceptance(
        invitation, payload.model_dump(), payload.password, accept_policy=payload.accept_policy
    )
    user = actions.do_accept_invitation(
        invitation,
        cleaned,
        payload.password,
        consents=_consents(payload),
        source="api:/api/v1/invitations/accept",
    )
    return Status(201, user)


@router.delete("/invitations/{invitation_id}", response={204: None, **ERRORS})
def cancel_invitation(request, invitation_id: int):
    actions.do_cancel_invitation(request.user, queries.access_invitation_for_tenant(invitation_id))
    return Status(204, None)


@router.get("/me/consents", response=list[ConsentOut])
def my_consents(request):
    """Your answer for each purpose that rests on consent; never answered means no."""
    answers = current_consents(request.user)
    return [
        {"purpose": code, "given": answers.get(code, False)}
        for code, p in PURPOSES.items()
        if p.needs_consent
    ]


@router.get("/me/consents/history", response=list[ConsentEventOut])
def my_consent_history(request):
    return [
        {
            "purpose": e.purpose,
            "given": e.given,
            "occurred_at": e.occurred_at,
            "source": e.source,
            "wording": e.wording,
            "policy_version": e.policy_version.version,
        }
        for e in consent_history(request.user)
    ]


@router.post("/me/consents", response={200: list[ConsentOut], 422: ErrorOut})
def set_consent(request, payload: ConsentIn):
    """Give or withdraw consent for one purpose; it applies to everything sent afterwards."""
    purpose = PURPOSES.get(payload.purpose)
    if purpose is None or not purpose.needs_consent:
        raise Invalid(
            _("Unknown purpose, or one that does not rest on consent."),
            details=[{"field": "purpose", "message": _("Choose newsletter or special_offers.")}],
        )
    actions.do_set_consent(request.user, purpose, payload.given, source="api:/api/v1/me/consents")
    return my_consents(request)
