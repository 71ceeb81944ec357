"""Sender addresses, and the emailed link by which a client proves they receive an address's mail.

The link carries the sender's id and a keyed digest of the address, never the address itself (it
ends up in browser histories and proxy logs), and stops working once it expires.
"""

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.tasks import task
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from infolettre.accounts.errors import InvalidLink
from infolettre.accounts.models import User
from infolettre.accounts.tokens import address_digest, make_address_token, read_address_token
from infolettre.errors import Conflict, Throttled
from infolettre.messaging.email import MessageKind, send_email

from .actions import check_tenant_can_send
from .models import Campaign, SenderAddress

SALT = "infolettre.campaigns.sender-verification"


class SenderTaken(Conflict):
    code = "sender_taken"
    message = _("This sender address is already confirmed.")


class SenderInUse(Conflict):
    code = "sender_in_use"
    message = _(
        "Campaigns use this sender address: a sent or scheduled campaign keeps its sender, and a "
        "draft must first be given another one."
    )


class SenderLinkThrottled(Throttled):
    code = "sender_link_throttled"
    message = _(
        "A link was sent to this address a few minutes ago; wait before asking for another."
    )


def verification_max_age():
    return getattr(settings, "SENDER_VERIFICATION_MAX_AGE", settings.EMAIL_CONFIRMATION_MAX_AGE)


def make_sender_token(sender):
    return make_address_token(sender.pk, sender.email, SALT)


def read_sender_token(token):
    return read_address_token(token, SALT, verification_max_age())


def verification_link(sender):
    return settings.SITE_URL + reverse("campaigns:sender_confirm", args=[make_sender_token(sender)])


@task()
def send_sender_verification(sender_id, user_id):
    """Mail the verification link to a sender address that is still unconfirmed."""
    sender = (
        SenderAddress.unscoped.select_related("tenant")
        .filter(pk=sender_id, verified_at__isnull=True)
        .first()
    )
    if sender is None:
        return
    requested_by = User.objects.filter(pk=user_id, tenant_id=sender.tenant_id).first()
    send_email(
        kind=MessageKind.ACCOUNT,
        to=sender.email,
        template="campaigns/email/sender_verification",
        context={
            "sender": sender,
            "organisation": sender.tenant,
            "requested_by": requested_by,
            "link": verification_link(sender),
            "days": verification_max_age() // 86400,
        },
        language=requested_by.language if requested_by else "fr",
    )


def _known_to_belong(tenant, email):
    """An address a member of the organisation has already confirmed needs no second proof."""
    return User.objects.filter(
        tenant=tenant, email=email, is_active=True, email_confirmed_at__isnull=False
    ).exists()


@transaction.atomic
def do_add_sender(user, *, email, name):
    """Add a sender address and mail it a verification link; asking again sends a new link.

    The address of a confirmed member of the organisation is verified at once.
    """
    tenant = user.tenant
    check_tenant_can_send(tenant)
    sender = SenderAddress.objects.select_for_update().filter(email=email).first()
    if sender is not None and sender.verified_at is not None:
        raise SenderTaken()
    if sender is None:
        sender = SenderAddress(tenant=tenant, email=email, name=name)
        try:
            with transaction.atomic():
                sender.save()
        except IntegrityError:
            raise SenderTaken() from None
    elif sender.name != name:
        sender.name = name
        sender.save(update_fields=["name"])
    if _known_to_belong(tenant, email):
        sender.verified_at = timezone.now()
        sender.save(update_fields=["verified_at"])
    else:
        # One link per address every few minutes: the form cannot be used to flood a mailbox.
        interval = getattr(settings, "SENDER_LINK_INTERVAL", 300)
        if not cache.add(f"campaigns:sender-link:{sender.pk}", True, interval):
            raise SenderLinkThrottled()
        transaction.on_commit(lambda: send_sender_verification.enqueue(sender.pk, user.pk))
    return sender


def sender_from_link(token):
    """The sender address a valid, unexpired link names, whichever organisation it belongs to."""
    sender_id, digest = read_sender_token(token)
    sender = SenderAddress.unscoped.select_related("tenant").filter(pk=sender_id).first()
    if sender is None or address_digest(sender.email) != digest:
        raise InvalidLink()
    return sender


def do_confirm_sender(token):
    """Mark the sender of a valid link verified; opening the link again changes nothing."""
    sender = sender_from_link(token)
    if sender.verified_at is None:
        sender.verified_at = timezone.now()
        SenderAddress.unscoped.filter(pk=sender.pk, verified_at__isnull=True).update(
            verified_at=sender.verified_at
        )
    return sender


@transaction.atomic
def do_delete_sender(sender):
    """Delete a sender address that no campaign names."""
    if Campaign.unscoped.filter(tenant_id=sender.tenant_id, sender=sender).exists():
        raise SenderInUse()
    sender.delete()
