"""Privacy requests: received, proven by a signed link, answered within 30 days (one extension).

The law counts the 30 days from receipt; no answer by then counts as a refusal, so the desk shows
overdue requests in red. An extension of up to 30 days needs a written notice sent before day 30.
"""

import logging
from datetime import timedelta

from django.apps import apps
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from infolettre.accounts.errors import InvalidLink
from infolettre.accounts.tokens import address_digest, make_address_token, read_address_token
from infolettre.errors import Conflict, NotFound, Throttled
from infolettre.messaging.email import MessageKind, send_email

from .audit import SUBJECT, AuditAction, do_record_audit
from .declaration import THIRD_PARTY, declared_models
from .disclosures import do_pass_on_correction
from .models import (
    ErasureCause,
    PrivacyRequest,
    PrivacyRequestKind,
    PrivacyRequestStatus,
    privacy_request_email_hash,
)
from .pseudonymise import keyed_hash, truncate_ip

logger = logging.getLogger(__name__)

ANSWER_DAYS = 30
EXTENSION_DAYS = 30
PROOF_SALT = "infolettre.privacy.request-proof"
REQUEST_NETWORK_LIMIT = 10
REQUEST_NETWORK_WINDOW = 60 * 60


class AlreadyExtended(Conflict):
    code = "already_extended"
    message = _("This request was already extended once; it cannot be extended again.")


class ExtensionTooLate(Conflict):
    code = "extension_too_late"
    message = _("An extension must be announced before the 30th day; it is too late.")


class RequestClosed(Conflict):
    code = "request_closed"
    message = _("This request is closed.")


class NotAnErasure(Conflict):
    code = "not_an_erasure"
    message = _("Only an erasure request is answered by erasing the person.")


class NotProven(Conflict):
    code = "not_proven"
    message = _("The address of this request is not proven yet.")


# Throttling ---------------------------------------------------------------------------------------


def check_request_rate(ip):
    """Count one request from this network; refuse past the hourly allowance.

    Like the sign-up form: only a keyed hash of the truncated address, only for the window.
    """
    key = f"privacy-request:n:{keyed_hash(truncate_ip(ip or ''), 'privacy-request-throttle')}"
    if cache.add(key, 1, REQUEST_NETWORK_WINDOW):
        return
    try:
        count = cache.incr(key)
    except ValueError:
        cache.set(key, 1, REQUEST_NETWORK_WINDOW)
        return
    if count > REQUEST_NETWORK_LIMIT:
        raise Throttled()


# Proof of address ---------------------------------------------------------------------------------


def make_proof_token(privacy_request):
    return make_address_token(privacy_request.pk, privacy_request.email, PROOF_SALT)


def read_proof_token(token):
    """Return the request a valid, unexpired proof link names; InvalidLink otherwise."""
    request_id, digest = read_address_token(
        token, PROOF_SALT, settings.PRIVACY_REQUEST_LINK_MAX_AGE
    )
    privacy_request = PrivacyRequest.objects.filter(pk=request_id).first()
    if privacy_request is None or address_digest(privacy_request.email) != digest:
        raise InvalidLink()
    return privacy_request


def proof_link(privacy_request):
    path = reverse("privacy:request_confirm", args=[make_proof_token(privacy_request)])
    return settings.SITE_URL.rstrip("/") + path


def _mail(privacy_request, template, **context):
    send_email(
        kind=MessageKind.ACCOUNT,
        to=privacy_request.email,
        template=f"privacy/requests/email/{template}",
        context={"privacy_request": privacy_request, **context},
        language=privacy_request.language,
    )


def _mail_on_commit(privacy_request, template, **context):
    transaction.on_commit(lambda: _mail(privacy_request, template, **context))


# Actions ------------------------------------------------------------------------------------------


def _client_of_contact(email):
    """The one client whose lists hold this address, or None when none or several do."""
    contact = apps.get_model("audience.Contact")
    tenants = set(contact.unscoped.filter(email__iexact=email).values_list("tenant_id", flat=True))
    return tenants.pop() if len(tenants) == 1 else None


def _mark_proven(privacy_request, now):
    privacy_request.verified_at = now
    privacy_request.email_hash = privacy_request_email_hash(privacy_request.email)
    privacy_request.tenant_id = _client_of_contact(privacy_request.email)
    if privacy_request.kind == PrivacyRequestKind.ACCESS:
        # The file is compiled from what is held when it is read; delivering it answers the request.
        privacy_request.status = PrivacyRequestStatus.ANSWERED
        privacy_request.answer = str(_("Your access file was delivered online."))
        privacy_request.answered_at = privacy_request.closed_at = now
    else:
        privacy_request.status = PrivacyRequestStatus.OPEN


@transaction.atomic
def do_receive_request(*, kind, email, message="", language="fr", user=None, now=None):
    """Record a request; mail the proof link, or take it as proven from its signed-in owner.

    The same message goes to the address whether or not anything is held about it, and the caller
    answers the same way in every case: the form reveals nothing of who we know.
    """
    now = now or timezone.now()
    privacy_request = PrivacyRequest(
        kind=kind,
        email=email.strip().lower(),
        message=message,
        language=language if language in ("fr", "en") else "fr",
        user=user,
        received_at=now,
        due_at=now + timedelta(days=ANSWER_DAYS),
    )
    # A signed-in user whose address is confirmed has already proven it.
    proven = (
        user is not None
        and user.email_confirmed_at is not None
        and user.email.lower() == privacy_request.email
    )
    if proven:
        _mark_proven(privacy_request, now)
    privacy_request.save()
    if proven:
        _audit(user, AuditAction.PRIVACY_REQUEST_VERIFIED, privacy_request)
    else:
        _mail_on_commit(privacy_request, "proof", link=proof_link(privacy_request))
    logger.info("privacy request %s received (%s)", privacy_request.pk, kind)
    return privacy_request


@transaction.atomic
def do_prove_request(privacy_request, *, now=None):
    """The person opened the signed link: the address is theirs. Running it twice changes nothing."""
    privacy_request = PrivacyRequest.objects.select_for_update().get(pk=privacy_request.pk)
    if privacy_request.verified_at is None:
        _mark_proven(privacy_request, now or timezone.now())
        privacy_request.save()
        _audit(SUBJECT, AuditAction.PRIVACY_REQUEST_VERIFIED, privacy_request)
        logger.info("privacy request %s proven", privacy_request.pk)
    return privacy_request


def _audit(actor, action, privacy_request):
    """Record a step of a request in the audit trail: its kind and status, never its words."""
    do_record_audit(
        actor,
        action,
        target=privacy_request,
        tenant=privacy_request.tenant_id,
        details={
            "kind": privacy_request.kind,
            "status": privacy_request.status,
            "closed": privacy_request.closed_at is not None,
        },
    )


def _open(privacy_request):
    privacy_request = PrivacyRequest.objects.select_for_update().get(pk=privacy_request.pk)
    if privacy_request.closed_at is not None:
        raise RequestClosed()
    if privacy_request.verified_at is None:
        raise NotProven()
    return privacy_request


@transaction.atomic
def do_assign_request(privacy_request, owner):
    privacy_request = PrivacyRequest.objects.select_for_update().get(pk=privacy_request.pk)
    privacy_request.owner = owner
    privacy_request.save(update_fields=["owner"])
    return privacy_request


@transaction.atomic
def do_extend_request(privacy_request, *, notice, by, now=None):
    """Extend once by 30 days; the written notice is mailed to the person before day 30."""
    now = now or timezone.now()
    privacy_request = _open(privacy_request)
    if privacy_request.extended_at is not None:
        raise AlreadyExtended()
    if now >= privacy_request.due_at:
        raise ExtensionTooLate()
    privacy_request.extended_at = now
    privacy_request.extension_reason = notice
    privacy_request.due_at = privacy_request.due_at + timedelta(days=EXTENSION_DAYS)
    if privacy_request.owner_id is None:
        privacy_request.owner = by
    privacy_request.save()
    _audit(by, AuditAction.PRIVACY_REQUEST_EXTENDED, privacy_request)
    _mail_on_commit(privacy_request, "extended", notice=notice)
    logger.info("privacy request %s extended", privacy_request.pk)
    return privacy_request


@transaction.atomic
def do_answer_request(
    privacy_request,
    *,
    answer,
    by,
    correction_done="",
    corrected_categories=(),
    refused=False,
    now=None,
):
    """Write the answer (or the refusal with its reasons), mail it and close the request.

    For a correction, `corrected_categories` (category codes) are passed on to every processor that
    received the person's data (privacy.disclosures), each logged.
    """
    now = now or timezone.now()
    privacy_request = _open(privacy_request)
    if (
        privacy_request.kind == PrivacyRequestKind.CORRECTION
        and corrected_categories
        and not refused
    ):
        pass_on_correction(privacy_request.email, corrected_categories)
    privacy_request.answer = answer
    privacy_request.correction_done = correction_done or privacy_request.correction_done
    privacy_request.status = (
        PrivacyRequestStatus.REFUSED if refused else PrivacyRequestStatus.ANSWERED
    )
    privacy_request.answered_at = privacy_request.closed_at = now
    privacy_request.answered_by = by
    if privacy_request.owner_id is None:
        privacy_request.owner = by
    privacy_request.save()
    _audit(
        by,
        AuditAction.PRIVACY_REQUEST_REFUSED if refused else AuditAction.PRIVACY_REQUEST_ANSWERED,
        privacy_request,
    )
    _mail_on_commit(privacy_request, "answer", answer=answer)
    logger.info("privacy request %s %s", privacy_request.pk, privacy_request.status)
    return privacy_request


def _own_records(email):
    """(label, field names by category code, tenant ids) of the person's own records: the declared
    models that name them by their own address field and that an erasure deletes (an account, a
    contact, a sign-up); send records and logs say what happened and are not corrected."""
    for entry in declared_models():
        if entry.subject_email_path != "email" or entry.erasure.strategy != "delete":
            continue
        model = apps.get_model(entry.model)
        rows = model._base_manager.filter(email__iexact=email)
        # A client's contact: each client's share of the log is its own; anyone else's is whole.
        if entry.subject == THIRD_PARTY and any(
            f.name == "tenant" for f in model._meta.concrete_fields
        ):
            tenant_ids = sorted(set(rows.values_list("tenant_id", flat=True)))
        else:
            tenant_ids = [None] if rows.exists() else []
        by_category = {}
        for f in entry.fields:
            by_category.setdefault(f.category.code, []).append(f.name)
        if tenant_ids:
            yield entry.model, by_category, tenant_ids


# A consent is withdrawn or given, never corrected; credentials are changed by their owner.
NOT_CORRECTED = ("consent", "credentials")


def correctable_categories():
    """(code, label) of the categories a person's own records hold, for the desk's form."""
    seen = {}
    for entry in declared_models():
        if entry.subject_email_path == "email" and entry.erasure.strategy == "delete":
            for f in entry.fields:
                if f.category.code not in NOT_CORRECTED:
                    seen.setdefault(f.category.code, f.category.label)
    return sorted(seen.items())


def pass_on_correction(email, categories):
    """Pass the correction of `categories` of the person's records on to the processors that received
    them (do_pass_on_correction, once per record kind and client); return the log rows written."""
    rows = []
    for label, by_category, tenant_ids in list(_own_records(email)):
        fields = [name for code in sorted(categories) for name in by_category.get(code, ())]
        for tenant_id in tenant_ids if fields else ():
            rows += do_pass_on_correction(email, label, fields, tenant_id=tenant_id)
    return rows


def client_erasure_answer(tenant):
    return gettext(
        "%(client)s erased the information it held about you. Only a keyed fingerprint of your "
        "address remains in its suppression list, so that it never writes to you again."
    ) % {"client": tenant.name}


def erasure_closing_note():
    return gettext("Closed: your information was erased at your request.")


def do_erase_for_request(privacy_request, *, answer, by, now=None):
    """Answer an erasure request by erasing the person everywhere.

    The written answer is mailed first, while there is still an address to send it to; then
    everything about the person is erased (privacy.erasure) and the request stays closed with its
    answer as proof, keeping only the keyed hash of the address. Return (request, ErasureRecord).
    """
    from .erasure import do_erase_person

    now = now or timezone.now()
    with transaction.atomic():
        privacy_request = _open(privacy_request)
        if privacy_request.kind != PrivacyRequestKind.ERASURE:
            raise NotAnErasure()
        email = privacy_request.email
        _mail(privacy_request, "answer", answer=answer)
        privacy_request.answer = answer
        privacy_request.status = PrivacyRequestStatus.ANSWERED
        privacy_request.answered_at = privacy_request.closed_at = now
        privacy_request.answered_by = by
        if privacy_request.owner_id is None:
            privacy_request.owner = by
        privacy_request.save()
        _audit(by, AuditAction.PRIVACY_REQUEST_ANSWERED, privacy_request)
        record = do_erase_person(email, cause=ErasureCause.REQUEST, by=by)
    logger.info("privacy request %s answered by erasure %s", privacy_request.pk, record.pk)
    privacy_request.refresh_from_db()
    return privacy_request, record


# Reads --------------------------------------------------------------------------------------------


def _is_requester(privacy_request, user, token):
    if token:
        try:
            return read_proof_token(token).pk == privacy_request.pk
        except InvalidLink:
            return False
    if user is None or not user.is_authenticated:
        return False
    return privacy_request.user_id == user.pk or (
        privacy_request.email == user.email.lower()
        and privacy_request.verified_at is not None
        and user.email_confirmed_at is not None
    )


def access_own_request(request_id, *, user=None, token=""):
    """The request, for its own requester only: the signed-in user who made it or whose address it
    is, or the holder of its proof link. Anyone else gets NotFound, as for an id that does not exist.
    """
    privacy_request = PrivacyRequest.objects.filter(pk=request_id).first()
    if privacy_request is not None and _is_requester(privacy_request, user, token):
        return privacy_request
    raise NotFound()


def requests_about_contacts(tenant):
    """Proven requests about a contact of the client's lists (the lists are theirs)."""
    from django.db.models import Q

    contact = apps.get_model("audience.Contact")
    emails = contact.unscoped.filter(tenant=tenant).values("email")
    # A request addressed to this client alone stays listed once its person is erased.
    return PrivacyRequest.objects.filter(
        Q(email__in=emails) | Q(tenant=tenant), verified_at__isnull=False
    ).order_by("due_at", "id")


def access_request_for_tenant(tenant, request_id):
    privacy_request = requests_about_contacts(tenant).filter(pk=request_id).first()
    if privacy_request is None:
        raise NotFound()
    return privacy_request
