"""Every change of state of accounts, tenants, tokens and invitations."""

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import get_language

from infolettre.privacy.actions import do_record_consent, do_record_policy_acceptance
from infolettre.privacy.audit import SYSTEM, AuditAction, do_record_audit
from infolettre.privacy.disclosures import do_pass_on_correction
from infolettre.privacy.purposes import NEWSLETTER, SPECIAL_OFFERS

from .errors import (
    AccountNotConfirmed,
    AlreadyMember,
    EmailTaken,
    InvalidLink,
    InvitationPending,
    LastOwner,
    OwnerRequired,
)
from .models import ApiToken, Invitation, Organisation, Role, User
from .throttling import clear_sign_in_failures
from .tokens import address_digest, new_api_token, read_confirmation_token, read_invitation_token

ORGANISATION_FIELDS = (
    "company_name",
    "address",
    "phone",
    "fax",
    "website",
    "company_size",
    "industry",
)
PERSON_FIELDS = ("name", "title", "gender", "heard_about")


def consent_wording(purpose):
    """The exact words of a consent box, kept as proof of what the person agreed to."""
    return f"{purpose.label}: {purpose.description}"


def _record_signup_consents(user, consents, source):
    do_record_policy_acceptance(user, source=source)
    for purpose in (NEWSLETTER, SPECIAL_OFFERS):
        if consents.get(purpose.code):
            do_record_consent(
                user, purpose, given=True, wording=consent_wording(purpose), source=source
            )


def _send_after_commit(task, *args):
    transaction.on_commit(lambda: task.enqueue(*args))


@transaction.atomic
def do_register_organisation(cleaned, password, *, consents, source):
    """Create an organisation and its first owner, record what they accepted, send the welcome."""
    from .tasks import send_welcome_email

    organisation = Organisation.objects.create(
        name=cleaned["company_name"],
        **{f: cleaned.get(f, "") for f in ORGANISATION_FIELDS if f != "company_name"},
    )
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                cleaned["email"],
                password,
                tenant=organisation,
                role=Role.OWNER,
                language=(get_language() or "fr")[:2],
                **{f: cleaned.get(f, "") for f in PERSON_FIELDS},
            )
    except IntegrityError:
        raise EmailTaken() from None
    _record_signup_consents(user, consents, source)
    _send_after_commit(send_welcome_email, user.pk)
    return user


def do_confirm_email(token):
    user_id, digest = read_confirmation_token(token)
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or address_digest(user.email) != digest:
        raise InvalidLink()
    if user.email_confirmed_at is None:
        user.email_confirmed_at = timezone.now()
        user.save(update_fields=["email_confirmed_at"])
    return user


def do_resend_welcome(user):
    from .tasks import send_welcome_email

    if not user.email_confirmed:
        _send_after_commit(send_welcome_email, user.pk)


def check_account_can_send(user):
    """Nothing leaves on behalf of an account whose address is not confirmed."""
    if not user.email_confirmed:
        raise AccountNotConfirmed()


def check_owner(user):
    if not user.is_owner:
        raise OwnerRequired()


def do_update_profile(user, cleaned):
    before, corrected = user.email, [k for k, v in cleaned.items() if getattr(user, k) != v]
    for name, value in cleaned.items():
        setattr(user, name, value)
    user.save(update_fields=list(cleaned))
    do_pass_on_correction(before, "accounts.User", corrected)
    return user


def do_update_organisation(organisation, cleaned):
    fields = {("name" if k == "company_name" else k): v for k, v in cleaned.items()}
    for name, value in fields.items():
        setattr(organisation, name, value)
    organisation.save(update_fields=list(fields))
    return organisation


def do_set_password(user, password):
    user.set_password(password)
    user.save(update_fields=["password"])


def do_reset_password(user, password):
    """Set a new password from a reset link; it also lifts the sign-in lock on the address."""
    do_set_password(user, password)
    clear_sign_in_failures(user.email)


def do_request_password_reset(email):
    """Send a reset link if an active account has this address; say nothing either way."""
    from .tasks import send_password_reset_email

    user = User.objects.filter(email=email.strip().lower(), is_active=True).first()
    if user is not None:
        _send_after_commit(send_password_reset_email, user.pk)


def do_set_consent(user, purpose, given, *, source):
    return do_record_consent(
        user, purpose, given=given, wording=consent_wording(purpose), source=source
    )


def do_issue_api_token(user, name):
    """Create a token and return it with the only copy of its secret."""
    raw, prefix, digest = new_api_token()
    token = ApiToken.objects.create(
        tenant=user.tenant, user=user, name=name, prefix=prefix, digest=digest
    )
    return token, raw


def do_revoke_api_token(token):
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


@transaction.atomic
def do_invite_member(inviter, email, role):
    from .tasks import send_invitation_email

    check_owner(inviter)
    check_account_can_send(inviter)
    if User.objects.filter(email=email).exists():
        raise AlreadyMember()
    try:
        with transaction.atomic():
            invitation = Invitation.objects.create(
                tenant=inviter.tenant, email=email, role=role, invited_by=inviter
            )
    except IntegrityError:
        raise InvitationPending() from None
    _send_after_commit(send_invitation_email, invitation.pk)
    return invitation


def do_cancel_invitation(actor, invitation):
    check_owner(actor)
    invitation.delete()


def pending_invitation_from_token(token):
    invitation_id, digest = read_invitation_token(token)
    invitation = (
        Invitation.unscoped.select_related("tenant")
        .filter(pk=invitation_id, accepted_at__isnull=True)
        .first()
    )
    if invitation is None or address_digest(invitation.email) != digest:
        raise InvalidLink()
    return invitation


@transaction.atomic
def do_accept_invitation(invitation, cleaned, password, *, consents, source):
    """Create the invited person's account; following the emailed link confirmed the address."""
    if User.objects.filter(email=invitation.email).exists():
        raise AlreadyMember()
    user = User.objects.create_user(
        invitation.email,
        password,
        tenant=invitation.tenant,
        role=invitation.role,
        email_confirmed_at=timezone.now(),
        language=(get_language() or "fr")[:2],
        **{f: cleaned.get(f, "") for f in PERSON_FIELDS},
    )
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["accepted_at"])
    # The role is the inviter's grant; it takes effect now, as a staff account's at its creation.
    do_record_audit(
        invitation.invited_by or SYSTEM,
        AuditAction.ROLE_CHANGE,
        target=user,
        tenant=invitation.tenant_id,
        details={"from": "", "to": invitation.role, "invitation": invitation.pk},
    )
    _record_signup_consents(user, consents, source)
    return user


def _owners_left_without(member):
    return User.members.filter(role=Role.OWNER, is_active=True).exclude(pk=member.pk).exists()


@transaction.atomic
def do_change_role(actor, member, role):
    check_owner(actor)
    if member.role == Role.OWNER and role != Role.OWNER and not _owners_left_without(member):
        raise LastOwner()
    previous_role, member.role = member.role, role
    member.save(update_fields=["role"])
    do_record_audit(
        actor,
        AuditAction.ROLE_CHANGE,
        target=member,
        tenant=member.tenant_id,
        details={"from": previous_role, "to": role},
    )
    return member


@transaction.atomic
def do_remove_member(actor, member):
    check_owner(actor)
    if member.role == Role.OWNER and not _owners_left_without(member):
        raise LastOwner()
    target, role = f"accounts.User:{member.pk}", member.role
    member.delete()
    do_record_audit(
        actor,
        AuditAction.MEMBER_REMOVAL,
        target=target,
        tenant=actor.tenant_id,
        details={"role": role},
    )
