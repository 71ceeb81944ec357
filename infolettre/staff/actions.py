"""Every change of state in the staff area, each with its audit entry."""

import secrets
from dataclasses import dataclass
from datetime import timedelta
from importlib import import_module

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction
from django.utils import timezone

from infolettre.accounts.models import StaffRole, User
from infolettre.privacy.audit import SYSTEM, do_record_audit
from infolettre.privacy.models import AuditAction

from .errors import OwnSecondFactorReset, ReasonRequired, ResetReasonRequired, WrongCode
from .models import AccessGrant, StaffRecoveryCode, StaffTOTPDevice
from .need_to_know import display_value

DEVICE_NAME = "authenticator"
RECOVERY_CODE_COUNT = 10
# Lower case letters and digits that cannot be taken for one another (no 0/o, 1/l/i).
RECOVERY_CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
RECOVERY_CODE_LENGTH = 10  # about 50 bits each
TOTP = "totp"
RECOVERY_CODE = "recovery_code"


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
    if StaffTOTPDevice.objects.filter(user=user, confirmed=True).exists():
        return None
    device = StaffTOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    return device or StaffTOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)


def confirmed_device(user):
    return StaffTOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def new_recovery_code():
    code = "".join(secrets.choice(RECOVERY_CODE_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))
    return f"{code[:5]}-{code[5:]}"


def normalise_recovery_code(typed):
    """A recovery code as kept: lower case, without the spaces and dashes people type."""
    return "".join(c for c in (typed or "").lower() if c not in " -\t")


def _replace_recovery_codes(user):
    StaffRecoveryCode.objects.filter(user=user).delete()
    codes = [new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    now = timezone.now()
    StaffRecoveryCode.objects.bulk_create(
        StaffRecoveryCode(
            user=user, code_hash=make_password(normalise_recovery_code(code)), created_at=now
        )
        for code in codes
    )
    return codes


def _use_recovery_code(user, typed):
    """Spend the unused recovery code that matches, if any; return whether one did."""
    typed = normalise_recovery_code(typed)
    if len(typed) != RECOVERY_CODE_LENGTH:
        return False
    # Locked, so that two requests cannot both spend the same code.
    unused = StaffRecoveryCode.objects.select_for_update().filter(user=user, used_at=None)
    for code in unused:
        if check_password(typed, code.code_hash):
            code.used_at = timezone.now()
            code.save(update_fields=["used_at"])
            return True
    return False


def unused_recovery_codes(user):
    return StaffRecoveryCode.objects.filter(user=user, used_at=None).count()


@dataclass(frozen=True)
class SecondFactorPassed:
    device: StaffTOTPDevice
    method: str  # TOTP or RECOVERY_CODE
    enrolled: bool
    # Made at enrolment, to be shown once; never kept in clear.
    recovery_codes: tuple[str, ...] = ()


def do_pass_second_factor(user, *, code="", recovery_code=""):
    """Check the authenticator's code, or spend a recovery code, and record the sign-in.

    At enrolment (the device not yet confirmed) only the app's code will do: it confirms the
    device and makes the first recovery codes. A wrong code is audited and raises WrongCode; the
    device's own back-off counts it too.
    """
    with transaction.atomic():
        device = (
            StaffTOTPDevice.objects.select_for_update()
            .filter(user=user)
            .order_by("-confirmed", "pk")
            .first()
        )
        passed = None
        if device is not None and code:
            passed = TOTP if device.verify_token(code) else None
        elif device is not None and device.confirmed and recovery_code:
            passed = RECOVERY_CODE if _use_recovery_code(user, recovery_code) else None
        if passed:
            return _record_pass(user, device, passed)
    do_record_staff_sign_in_failure(user, step=RECOVERY_CODE if recovery_code else "code")
    raise WrongCode()


def _record_pass(user, device, method):
    enrolling = not device.confirmed
    codes = ()
    details = {"enrolled": enrolling, "method": method}
    if enrolling:
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        StaffTOTPDevice.objects.filter(user=user, confirmed=False).delete()
        codes = tuple(_replace_recovery_codes(user))
        details["recovery_codes_made"] = len(codes)
    if method == RECOVERY_CODE:
        details["recovery_codes_left"] = unused_recovery_codes(user)
    do_record_audit(user, AuditAction.STAFF_SIGN_IN, target=user, details=details)
    return SecondFactorPassed(device, method, enrolling, codes)


@transaction.atomic
def do_regenerate_recovery_codes(user):
    """Replace the staff member's recovery codes with new ones; return them, to show once."""
    replaced = StaffRecoveryCode.objects.filter(user=user, used_at=None).count()
    codes = _replace_recovery_codes(user)
    do_record_audit(
        user,
        AuditAction.RECOVERY_CODES_REGENERATED,
        target=user,
        details={"made": len(codes), "unused_replaced": replaced},
    )
    return codes


def _end_sessions(user):
    """Delete every live session signed in as `user`; return how many there were.

    Sessions are kept in the database (Django's default engine) and their content is encoded, so
    each live one is read: a rare act of an administrator, not a page anyone opens often.
    """
    store = import_module(settings.SESSION_ENGINE).SessionStore
    user_id = str(user.pk)
    live = (
        store.get_model_class()
        .objects.filter(expire_date__gt=timezone.now())
        .values_list("session_key", "session_data")
    )
    keys = [
        key for key, data in live.iterator() if store().decode(data).get(SESSION_KEY) == user_id
    ]
    for key in keys:
        # Through the store, so that an engine that also caches sessions forgets them too.
        store().delete(key)
    return len(keys)


@transaction.atomic
def do_reset_second_factor(actor, staff_user, reason):
    """Delete a staff member's authenticator and recovery codes and sign them out everywhere.

    Their next sign-in sets up a new app, as a first one does. `actor` is an administrator, who
    may not reset their own (another administrator must), or SYSTEM (the command, for when no
    other administrator can).
    """
    reason = (reason or "").strip()
    if not reason:
        raise ResetReasonRequired()
    if getattr(actor, "pk", None) == staff_user.pk:
        raise OwnSecondFactorReset()
    devices = StaffTOTPDevice.objects.filter(user=staff_user).delete()[0]
    codes = StaffRecoveryCode.objects.filter(user=staff_user).delete()[0]
    sessions = _end_sessions(staff_user)
    do_record_audit(
        actor,
        AuditAction.SECOND_FACTOR_RESET,
        target=staff_user,
        reason=reason,
        details={
            "devices_deleted": devices,
            "recovery_codes_deleted": codes,
            "sessions_ended": sessions,
        },
    )


def do_record_staff_sign_in_failure(user, *, step="code"):
    do_record_audit(user, AuditAction.STAFF_SIGN_IN_FAILED, target=user, details={"step": step})


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
