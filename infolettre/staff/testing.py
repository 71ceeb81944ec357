"""Helpers for tests that act as a member of the operator's staff."""

from django_otp import DEVICE_ID_SESSION_KEY

from infolettre.accounts.models import User

from .models import StaffTOTPDevice

STAFF_PASSWORD = "a long enough staff passphrase 7"  # noqa: S105


def make_staff(role, email=None, **fields):
    return User.objects.create_user(
        email or f"{role}@infolettre.example",
        STAFF_PASSWORD,
        name=fields.pop("name", f"Staff {role}"),
        title="Staff",
        is_staff=True,
        staff_role=role,
        **fields,
    )


def confirmed_device(user):
    return StaffTOTPDevice.objects.get_or_create(
        user=user, confirmed=True, defaults={"name": "test"}
    )[0]


def current_code(device):
    """The code the staff member's app shows now (from the seed, as the app holds it)."""
    return f"{device.totp().token():0{device.digits}d}"


def sign_in_staff(client, user):
    """Sign a staff member in with both factors passed, as the second-factor page would."""
    device = confirmed_device(user)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return device
