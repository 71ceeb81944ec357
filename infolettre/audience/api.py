from django.conf import settings
from django.db import transaction
from django.db.models import Prefetch
from django.urls import reverse
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from ninja.pagination import paginate

from infolettre.accounts.api_auth import CLIENT_AUTH
from infolettre.accounts.validation import check_email, check_phone
from infolettre.errors import Forbidden, Invalid
from infolettre.schemas import ErrorOut

from . import actions, queries
from .api_paging import KeysetPagination
from .consent import check_consent
from .models import Contact, Subscription, SubscriptionStatus, SuppressionReason
from .schemas import (
    ContactIn,
    ContactOut,
    ContactPatch,
    ListIn,
    ListOut,
    ListPatch,
    SubscribeIn,
    SubscriptionOut,
    SubscriptionPatch,
    SuppressionIn,
    SuppressionOut,
)

router = Router(auth=CLIENT_AUTH, tags=["audience"])
ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


class ContactFilter(Schema):
    q: str = ""
    list_id: int | None = None


class SubscriptionFilter(Schema):
    status: SubscriptionStatus | None = None


def _field_error(field, error):
    """Name the input that carried a value refused by a shared check."""
    return Invalid(error.message, details=[{"field": field, "message": str(error.message)}])


def _checked(field, check, value):
    try:
        return check(value)
    except Invalid as e:
        raise _field_error(field, e) from None


def _list_out(mailing_list):
    if mailing_list.public_signup:
        path = reverse("audience:public_signup", args=[mailing_list.public_key])
        mailing_list.signup_url = f"{settings.SITE_URL}{path}"
    return mailing_list


def _with_subscriptions(contacts):
    subscriptions = Subscription.objects.select_related("contact").order_by("mailing_list_id")
    return contacts.prefetch_related(
        Prefetch("subscriptions", subscriptions, to_attr="subscription_list")
    )


def _contact_out(contact_id):
    return _with_subscriptions(Contact.objects.filter(pk=contact_id)).get()


# Lists -------------------------------------------------------------------------------------------


@router.get("/lists", response=list[ListOut])
def list_lists(request):
    return [_list_out(m) for m in queries.lists_with_counts()]


@router.post("/lists", response={201: ListOut, **ERRORS})
def create_list(request, payload: ListIn):
    mailing_list = actions.do_create_list(request.tenant, **payload.model_dump())
    return Status(201, _list_out(queries.lists_with_counts().get(pk=mailing_list.pk)))


@router.get("/lists/{list_id}", response={200: ListOut, **ERRORS})
def get_list(request, list_id: int):
    queries.access_list_for_tenant(list_id)
    return _list_out(queries.lists_with_counts().get(pk=list_id))


@router.patch("/lists/{list_id}", response={200: ListOut, **ERRORS})
def update_list(request, list_id: int, payload: ListPatch):
    actions.do_update_list(
        queries.access_list_for_tenant(list_id), **payload.model_dump(exclude_unset=True)
    )
    return _list_out(queries.lists_with_counts().get(pk=list_id))


@router.delete("/lists/{list_id}", response={204: None, **ERRORS})
def delete_list(request, list_id: int):
    """Delete a list and its subscriptions; the contacts stay."""
    actions.do_delete_list(queries.access_list_for_tenant(list_id))
    return Status(204, None)


@router.get("/lists/{list_id}/subscriptions", response={200: list[SubscriptionOut], **ERRORS})
@paginate(KeysetPagination, order=("contact__email", "id"), through="contact")
def list_subscriptions(request, list_id: int, filters: Query[SubscriptionFilter]):
    """The list's subscriptions by address, 50 a page: follow `next_cursor` (see `cursor`)."""
    mailing_list = queries.access_list_for_tenant(list_id)
    subscriptions = queries.list_subscriptions(mailing_list).select_related("contact")
    if filters.status:
        subscriptions = subscriptions.filter(status=filters.status)
    return subscriptions


@router.post("/lists/{list_id}/subscriptions", response={201: SubscriptionOut, **ERRORS})
@transaction.atomic
def subscribe(request, list_id: int, payload: SubscribeIn):
    """Put a contact on the list with the proof of consent (by contact id, or by address)."""
    mailing_list = queries.access_list_for_tenant(list_id)
    consent_at, _expires = check_consent(
        payload.consent_basis, payload.consent_at, payload.consent_source
    )
    if payload.contact_id is not None:
        contact = queries.access_contact_for_tenant(payload.contact_id)
    elif payload.email:
        email = _checked("email", check_email, payload.email)
        contact = Contact.objects.filter(email=email).first() or actions.do_create_contact(
            request.tenant, email=email, name=payload.name
        )
    else:
        raise Invalid(
            _("Name the contact by its id or its address."),
            details=[{"field": "contact_id", "message": _("Give contact_id or email.")}],
        )
    subscription = actions.do_subscribe(
        contact,
        mailing_list,
        basis=payload.consent_basis,
        consent_at=consent_at,
        source=payload.consent_source,
        wording=payload.consent_wording,
        confirmed=payload.confirmed,
    )
    return Status(201, Subscription.objects.select_related("contact").get(pk=subscription.pk))


@router.patch("/subscriptions/{subscription_id}", response={200: SubscriptionOut, **ERRORS})
def update_subscription(request, subscription_id: int, payload: SubscriptionPatch):
    subscription = queries.access_subscription_for_tenant(subscription_id)
    if payload.status != SubscriptionStatus.UNSUBSCRIBED:
        raise Invalid(
            _("Only unsubscribing is done here; subscribing again needs new consent."),
            details=[
                {
                    "field": "status",
                    "message": _("Use POST /lists/{list_id}/subscriptions with the consent."),
                }
            ],
        )
    actions.do_unsubscribe_from_list(subscription)
    return Subscription.objects.select_related("contact").get(pk=subscription.pk)


# Contacts ----------------------------------------------------------------------------------------


@router.get("/contacts", response={200: list[ContactOut], **ERRORS})
@paginate(KeysetPagination, order=("email", "id"))
def list_contacts(request, filters: Query[ContactFilter]):
    """Search by address or name, optionally within one list; by address, 50 a page: follow
    `next_cursor` (see `cursor`)."""
    mailing_list = queries.access_list_for_tenant(filters.list_id) if filters.list_id else None
    return _with_subscriptions(queries.search_contacts(filters.q.strip(), mailing_list))


@router.post("/contacts", response={201: ContactOut, **ERRORS})
@transaction.atomic
def create_contact(request, payload: ContactIn):
    """Create a contact, and put it on lists with the proof of consent for each."""
    email = _checked("email", check_email, payload.email)
    phone = _checked("phone", check_phone, payload.phone) if payload.phone.strip() else ""
    actions.check_not_suppressed(request.tenant.pk, email)
    subscriptions = [
        (
            queries.access_list_for_tenant(s.list_id),
            s,
            check_consent(s.consent_basis, s.consent_at, s.consent_source),
        )
        for s in payload.subscriptions
    ]
    contact = actions.do_create_contact(
        request.tenant,
        email=email,
        name=payload.name.strip(),
        phone=phone,
        attributes=payload.attributes,
    )
    for mailing_list, s, (consent_at, _expires) in subscriptions:
        actions.do_subscribe(
            contact,
            mailing_list,
            basis=s.consent_basis,
            consent_at=consent_at,
            source=s.consent_source,
            wording=s.consent_wording,
        )
    return Status(201, _contact_out(contact.pk))


@router.get("/contacts/{contact_id}", response={200: ContactOut, **ERRORS})
def get_contact(request, contact_id: int):
    return _contact_out(queries.access_contact_for_tenant(contact_id).pk)


@router.patch("/contacts/{contact_id}", response={200: ContactOut, **ERRORS})
def update_contact(request, contact_id: int, payload: ContactPatch):
    """Correct a contact's data."""
    contact = queries.access_contact_for_tenant(contact_id)
    fields = payload.model_dump(exclude_unset=True)
    if fields.get("email") is not None:
        fields["email"] = _checked("email", check_email, fields["email"])
        if fields["email"] != contact.email:
            actions.check_not_suppressed(contact.tenant_id, fields["email"])
    if fields.get("phone"):
        fields["phone"] = _checked("phone", check_phone, fields["phone"])
    fields = {k: ("" if v is None and k in ("name", "phone") else v) for k, v in fields.items()}
    fields = {k: v for k, v in fields.items() if v is not None}
    actions.do_update_contact(contact, **fields)
    return _contact_out(contact.pk)


@router.delete("/contacts/{contact_id}", response={204: None, **ERRORS})
def delete_contact(request, contact_id: int):
    actions.do_delete_contact(queries.access_contact_for_tenant(contact_id))
    return Status(204, None)


class ErasureOut(Schema):
    erased: dict


@router.post("/contacts/{contact_id}/erase", response={200: ErasureOut, **ERRORS})
def erase_contact(request, contact_id: int):
    """Erase everything this organisation holds about the contact (subscriptions, send records,
    consents); only a keyed hash stays in the suppression list, so no import can mail them again.
    Answer what was erased, by table and count."""
    record = actions.do_erase_contact(
        queries.access_contact_for_tenant(contact_id), by=request.user
    )
    return {"erased": record.counts}


# Suppression list --------------------------------------------------------------------------------


@router.get("/suppressions", response={200: list[SuppressionOut], **ERRORS})
@paginate(KeysetPagination, order=("-created_at", "-id"))
def list_suppressions(request, q: str = ""):
    """The suppression list, newest first, 50 a page: follow `next_cursor` (see `cursor`)."""
    suppressions = queries.suppressions()
    return suppressions.filter(email__icontains=q.strip()) if q.strip() else suppressions


@router.post("/suppressions", response={201: SuppressionOut, **ERRORS})
def suppress(request, payload: SuppressionIn):
    """Add an address by hand: it is never mailed again, even when imported again."""
    email = _checked("email", check_email, payload.email)
    return Status(201, actions.do_suppress(request.tenant, email, SuppressionReason.MANUAL))


@router.delete("/suppressions/{suppression_id}", response={204: None, **ERRORS})
def unsuppress(request, suppression_id: int):
    """Lift a suppression added by hand; an unsubscribe, bounce or complaint stays."""
    suppression = queries.access_suppression_for_tenant(suppression_id)
    if suppression.reason != SuppressionReason.MANUAL:
        raise Forbidden(
            _("Only an address added by hand can be removed: the others record a person's choice.")
        )
    actions.do_unsuppress(suppression)
    return Status(204, None)
