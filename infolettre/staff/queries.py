"""What the staff area reads: across tenants on purpose, and a client's lists only under a grant."""

from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone

from infolettre.accounts.models import Organisation, User
from infolettre.audience.models import Contact, MailingList
from infolettre.errors import NotFound

from .models import AccessGrant, StaffTOTPDevice


def organisations():
    return Organisation.objects.annotate(user_count=Count("users")).order_by("name", "id")


def staff_members():
    """Every staff account, each with whether its authenticator app is set up."""
    set_up = StaffTOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)
    return (
        User.objects.filter(is_staff=True)
        .annotate(has_second_factor=Exists(set_up))
        .order_by("name", "id")
    )


def access_staff_member(staff_user_id):
    staff_user = User.objects.filter(pk=staff_user_id, is_staff=True).first()
    if staff_user is None:
        raise NotFound()
    return staff_user


def access_organisation(organisation_id):
    organisation = Organisation.objects.filter(pk=organisation_id).first()
    if organisation is None:
        raise NotFound()
    return organisation


def users_of(organisation):
    return User.objects.filter(tenant=organisation).order_by("name", "id")


def active_grant(organisation, staff_user, now=None):
    """The grant that lets this staff member see the organisation's lists now, or None."""
    now = now or timezone.now()
    return (
        AccessGrant.unscoped.filter(
            tenant=organisation, revoked_at__isnull=True, starts_at__lte=now, expires_at__gt=now
        )
        .filter(Q(staff_user=staff_user) | Q(staff_user__isnull=True, role=staff_user.staff_role))
        .order_by("-expires_at")
        .first()
    )


def grants_of(organisation):
    return AccessGrant.objects.filter(tenant=organisation).select_related("granted_by")


def access_grant_for_tenant(grant_id):
    return AccessGrant.objects.access(grant_id)


def lists_of(organisation):
    return MailingList.unscoped.filter(tenant=organisation).annotate(
        contact_count=Count("subscriptions")
    )


def contacts_of(organisation, limit):
    return Contact.unscoped.filter(tenant=organisation).order_by("email", "id")[:limit]


def client_object(organisation, label, object_id):
    """The organisation, one of its users, or one of its contacts, by declared label and id."""
    models = {
        "accounts.Organisation": Organisation.objects.filter(pk=organisation.pk),
        "accounts.User": User.objects.filter(tenant=organisation),
        "audience.Contact": Contact.unscoped.filter(tenant=organisation),
    }
    if label not in models:
        raise NotFound()
    found = models[label].filter(pk=object_id).first() if str(object_id).isdigit() else None
    if found is None:
        raise NotFound()
    return found
