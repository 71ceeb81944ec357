"""Every change of state in the staff area, each with its audit entry."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from infolettre.accounts.models import StaffRole, User
from infolettre.privacy.audit import SYSTEM, do_record_audit
from infolettre.privacy.models import AuditAction

from .errors import ReasonRequired
from .models import AccessGrant
from .need_to_know import display_value

DEVICE_NAME = "authenticator"


@transaction.atomic
def do_create_staff_user(email, name, role, *, password=None, created_by=None):
    """Create a staff account with a role; without a password it can sign in only once it sets one."""
    user = User.objects.create_user(
        email,
        password,
        name=name,
        title=str(StaffRole(role).label),
        is_staff=True,
        staff_role=role,
        email_confirmed_at=timezone.now(),
    )
    do_record_audit(
        created_by or SYSTEM,
        AuditAction.ROLE_CHANGE,
        target=user,
        details={"from": "", "to": role},
    )
    return user


@transaction.atomic
def do_change_staff_role(administrator, staff_user, role):
    previous = staff_user.staff_role
    if previous == role:
        return staff_user
    staff_user.staff_role = role
    staff_user.save(update_fields=["staff_role"])
    do_record_audit(
        administrator,
        AuditAction.ROLE_CHANGE,
        target=staff_user,
        details={"from": previous, "to": role},
    )
    return staff_user


def enrolment_device(user):
    """The staff member's authenticator being set up (created on first need), or None once set up."""
    if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        return None
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    return device or TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)


def confirmed_device(user):
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


@transaction.atomic
def do_confirm_enrolment(device):
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TOTPDevice.objects.filter(user=device.user, confirmed=False).delete()
    return device


def do_record_staff_sign_in(user, *, enrolled):
    do_record_audit(user, AuditAction.STAFF_SIGN_IN, target=user, details={"enrolled": enrolled})


def do_record_staff_sign_in_failure(user):
    do_record_audit(user, AuditAction.STAFF_SIGN_IN_FAILED, target=user, details={"step": "code"})


def do_record_client_view(viewer, organisation):
    """The organisation page shows confidential values, masked but for their last characters."""
    do_record_audit(
        viewer,
        AuditAction.CONFIDENTIAL_READ,
        target=organisation,
        tenant=organisation,
        details={"page": "client"},
    )


def do_record_lists_view(viewer, organisation, grant):
    do_record_audit(
        viewer,
        AuditAction.CONFIDENTIAL_READ,
        target=organisation,
        tenant=organisation,
        reason=grant.case_reference,
        details={"page": "lists", "grant": grant.pk},
    )


@transaction.atomic
def do_reveal_field(viewer, obj, name, reason, *, organisation):
    """Record why the viewer reveals one confidential value, then return it."""
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired()
    do_record_audit(
        viewer,
        AuditAction.REVEAL,
        target=obj,
        tenant=organisation,
        reason=reason,
        details={"field": name},
    )
    return display_value(obj, name)


@transaction.atomic
def do_grant_access(owner, *, role, days, case_reference, now=None):
    """Let staff of `role` see the owner's lists and contacts for `days` days (at most a week)."""
    now = now or timezone.now()
    days = min(days, settings.ACCESS_GRANT_MAX_DAYS)
    grant = AccessGrant.objects.create(
        tenant=owner.tenant,
        role=role,
        case_reference=case_reference,
        granted_by=owner,
        starts_at=now,
        expires_at=now + timedelta(days=days),
    )
    do_record_audit(
        owner,
        AuditAction.ACCESS_GRANT,
        target=grant,
        tenant=owner.tenant,
        reason=case_reference,
        details={"role": role, "days": days},
    )
    return grant


@transaction.atomic
def do_revoke_access(owner, grant, now=None):
    if grant.revoked_at is not None:
        return grant
    grant.revoked_at = now or timezone.now()
    grant.revoked_by = owner
    grant.save(update_fields=["revoked_at", "revoked_by"])
    do_record_audit(
        owner,
        AuditAction.ACCESS_REVOKE,
        target=grant,
        tenant=owner.tenant,
        reason=grant.case_reference,
    )
    return grant
