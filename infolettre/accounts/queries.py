"""Reads scoped to the active organisation: another tenant's id is simply not found."""

from django.contrib.auth.tokens import default_token_generator
from django.utils.encoding import force_str
from django.utils.http import urlsafe_base64_decode

from infolettre.errors import NotFound

from .errors import InvalidLink
from .models import ApiToken, Invitation, User


def user_from_reset_link(uidb64, token):
    """The active user a password-reset link names, while the link is valid."""
    try:
        user = User.objects.get(pk=force_str(urlsafe_base64_decode(uidb64)), is_active=True)
    except (ValueError, TypeError, OverflowError, User.DoesNotExist):
        raise InvalidLink() from None
    if not default_token_generator.check_token(user, token):
        raise InvalidLink()
    return user


def access_member_for_tenant(member_id):
    member = User.members.filter(pk=member_id).first()
    if member is None:
        raise NotFound()
    return member


def access_api_token_for_user(user, token_id):
    token = ApiToken.objects.filter(pk=token_id, user=user).first()
    if token is None:
        raise NotFound()
    return token


def access_invitation_for_tenant(invitation_id):
    invitation = Invitation.objects.filter(pk=invitation_id, accepted_at__isnull=True).first()
    if invitation is None:
        raise NotFound()
    return invitation


def members_of_tenant():
    return User.members.filter(is_active=True).order_by("name", "id")


def pending_invitations():
    return Invitation.objects.filter(accepted_at__isnull=True)


def api_tokens_of(user):
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True)
