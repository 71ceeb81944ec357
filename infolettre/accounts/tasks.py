"""Messages sent for accounts; each task takes ids only, so no personal value sits in the task queue."""

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.tasks import task
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from infolettre.messaging.email import MessageKind, send_email

from .models import Invitation, User
from .tokens import make_confirmation_token, make_invitation_token


def _absolute(path):
    return f"{settings.SITE_URL}{path}"


@task()
def send_welcome_email(user_id):
    user = User.objects.filter(pk=user_id, email_confirmed_at__isnull=True).first()
    if user is None:
        return
    link = _absolute(reverse("accounts:confirm_email", args=[make_confirmation_token(user)]))
    send_email(
        kind=MessageKind.WELCOME,
        to=user.email,
        template="accounts/email/welcome",
        context={"user": user, "link": link},
        language=user.language,
    )


@task()
def send_password_reset_email(user_id):
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return
    path = reverse(
        "accounts:password_reset_confirm",
        args=[
            urlsafe_base64_encode(force_bytes(user.pk)),
            default_token_generator.make_token(user),
        ],
    )
    send_email(
        kind=MessageKind.ACCOUNT,
        to=user.email,
        template="accounts/email/password_reset",
        context={"user": user, "link": _absolute(path)},
        language=user.language,
    )


@task()
def send_invitation_email(invitation_id):
    invitation = (
        Invitation.unscoped.select_related("tenant", "invited_by")
        .filter(pk=invitation_id, accepted_at__isnull=True)
        .first()
    )
    if invitation is None:
        return
    link = _absolute(
        reverse("accounts:accept_invitation", args=[make_invitation_token(invitation)])
    )
    send_email(
        kind=MessageKind.ACCOUNT,
        to=invitation.email,
        template="accounts/email/invitation",
        context={"invitation": invitation, "link": link},
        language=invitation.invited_by.language if invitation.invited_by else "fr",
    )
