"""Erasure: delete or anonymise everything held about a person, across every app, from the declaration.

Each declared model says how its rows are found (`subject_email_path`, or subject_type/subject_id
for ledgers) and what erasure does to them (`erasure`: delete, anonymise, keep). A new app's model is
covered by declaring it; nothing here names an app. What remains afterwards: the keyed hash of the
address in each client's suppression list (so an import cannot bring the person back), anonymous
counts and send records that no longer point to anyone, and an ErasureRecord saying what was
destroyed by model, category and count.
"""

import logging
import re

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.utils import timezone

from .audit import AuditAction, do_record_audit
from .declaration import CONTACT, THIRD_PARTY, declared_models, erasure_steps
from .disclosures import subject_hash
from .models import (
    Disclosure,
    ErasureCause,
    ErasureRecord,
    PrivacyRequest,
    PrivacyRequestKind,
    PrivacyRequestStatus,
    privacy_request_email_hash,
)

logger = logging.getLogger(__name__)

ERASED_DOMAIN = "erased.invalid"


def do_erase_person(email, *, by, scope=None, cause=ErasureCause.REQUEST):
    """Erase the person at `email` everywhere, or only among one client's contacts (`scope`).

    Return the ErasureRecord of what was deleted and anonymised; the audit trail records the
    counts and who erased (`by`: the user who acted, or SYSTEM for the platform itself), never the
    address. A client's erasure is always some user's act: it must name them.
    """
    if scope is not None and not getattr(by, "is_authenticated", False):
        raise ValueError("A client's erasure names the user who erases.")
    email = email.strip().lower()
    values = identifying_values(email, scope)
    # A client erasing its contact erases the person entirely when they are nowhere else: their
    # requests are then forgotten too, and an erasure request addressed to this client is answered
    # first, while there is still an address to answer to.
    whole = scope is None or not _held_elsewhere(email, scope)
    answered = _answer_client_erasure_requests(email, scope) if whole and scope is not None else []
    with transaction.atomic():
        found = _rows_about(email, scope)
        tenant_ids = sorted(
            {
                tenant_id
                for entry, model, ids in found
                if entry.subject == THIRD_PARTY and _has_tenant(model)
                for tenant_id in model._base_manager.filter(pk__in=ids)
                .values_list("tenant_id", flat=True)
                .distinct()
            }
        )
        for step in erasure_steps():
            step(email, tenant_ids, scope)
        counts = {}
        subjects = {model: ids for _entry, model, ids in found}
        # Anonymise first: a row reached through another (a bounce through its delivery) was found
        # before anything changed, and a delete's cascade must not take an anonymised row with it.
        for entry, model, ids in sorted(found, key=lambda f: f[0].erasure.strategy != "anonymise"):
            _apply(entry, model, ids, counts)
        for entry, model, ids in _ledger_rows(subjects, scope):
            _apply(entry, model, ids, counts)
        _unlink_disclosures(email, scope, counts)
        if whole:
            _forget_requests(email, values, counts, answered, close_open=scope is None)
        record = ErasureRecord.objects.create(
            cause=cause, tenant_id=scope.pk if scope is not None else None, counts=counts
        )
        do_record_audit(
            by,
            AuditAction.ERASURE,
            target=record,
            tenant=record.tenant_id,
            details={"cause": cause, "counts": counts},
        )
    logger.info(
        "Erasure %s: %s",
        record.pk,
        ", ".join(
            f"{label} {sum(v for k, v in c.items() if k != 'categories')}"
            for label, c in counts.items()
        ),
    )
    return record


def _has_tenant(model):
    return any(f.name == "tenant" for f in model._meta.concrete_fields)


def _in_scope(entry, model, scope):
    # A client erases one of its contacts: its own third-party rows only, never a user account.
    return scope is None or (entry.subject == THIRD_PARTY and _has_tenant(model))


def _rows_about(email, scope):
    """(entry, model, ids) for every declared model whose rows name the person by address."""
    found = []
    for entry in declared_models():
        if not entry.subject_email_path or entry.erasure.strategy == "keep":
            continue
        model = apps.get_model(entry.model)
        if not _in_scope(entry, model, scope):
            continue
        rows = model._base_manager.filter(**{entry.subject_email_path: email})
        if scope is not None:
            rows = rows.filter(tenant_id=scope.pk)
        ids = sorted(set(rows.values_list("pk", flat=True)))
        if _through_many(model, entry.subject_email_path):
            ids = [pk for pk in ids if _only_theirs(model, entry.subject_email_path, pk, email)]
        if ids:
            found.append((entry, model, ids))
    found += _files_naming(email, scope)
    return found


def _through_many(model, path):
    for part in path.split("__")[:-1]:
        field = model._meta.get_field(part)
        if field.many_to_many or field.one_to_many:
            return True
        if field.related_model is None:  # a key inside a JSON value
            return False
        model = field.related_model
    return False


def _only_theirs(model, path, pk, email):
    # A row reached through several people (an organisation through its users) is the person's
    # only when they alone are behind it; otherwise it is someone else's too and stays.
    addresses = set(model._base_manager.filter(pk=pk).values_list(path, flat=True))
    return addresses == {email}


def _files_naming(email, scope):
    """Rows of declared models found by no address whose personal files quote the person."""
    found = []
    needle = email.encode()
    for entry in declared_models():
        if entry.subject_email_path or entry.erasure.strategy == "keep":
            continue
        model = apps.get_model(entry.model)
        files = [
            f.name
            for f in model._meta.concrete_fields
            if isinstance(f, models.FileField) and f.name in {p.name for p in entry.fields}
        ]
        if not files or not _in_scope(entry, model, scope):
            continue
        rows = model._base_manager.all()
        if scope is not None:
            rows = rows.filter(tenant_id=scope.pk)
        ids = []
        for row in rows.exclude(**{name: "" for name in files}).iterator():
            for name in files:
                stored = getattr(row, name)
                if stored and _file_contains(stored, needle):
                    ids.append(row.pk)
                    break
        if ids:
            found.append((_FileErasure(entry, tuple(files)), model, ids))
    return found


def _file_contains(stored, needle):
    try:
        with stored.open("rb") as handle:
            return needle in handle.read().lower()
    except OSError:
        return False


class _FileErasure:
    """A declared model whose personal files name the person: the files go, the row stays."""

    def __init__(self, entry, files):
        self.entry, self.files = entry, files
        self.model, self.subject, self.fields = entry.model, entry.subject, entry.fields
        self.erasure = type(entry.erasure)("anonymise", files, "the file quoted the person")


def _ledger_rows(subjects, scope):
    """Ledger rows naming a person by (subject_type, subject_id), for the rows found about them."""
    by_type = {ContentType.objects.get_for_model(model): ids for model, ids in subjects.items()}
    user_model = apps.get_model("accounts", "User")
    for entry in declared_models():
        if entry.subject_email_path or entry.erasure.strategy == "keep":
            continue
        model = apps.get_model(entry.model)
        names = {f.name for f in model._meta.concrete_fields}
        if {"subject_type", "subject_id"} <= names:
            ids = []
            for content_type, subject_ids in by_type.items():
                ids += model._base_manager.filter(
                    subject_type=content_type, subject_id__in=subject_ids
                ).values_list("pk", flat=True)
            if ids:
                yield entry, model, sorted(ids)
        elif entry.model == "sessions.Session" and scope is None:
            user_ids = {str(pk) for pk in subjects.get(user_model, ())}
            keys = [
                session.pk
                for session in model._base_manager.filter(expire_date__gt=timezone.now())
                if user_ids and session.get_decoded().get("_auth_user_id") in user_ids
            ]
            if keys:
                yield entry, model, keys


def _apply(entry, model, ids, counts):
    strategy = entry.erasure.strategy
    rows = model._base_manager.filter(pk__in=ids)
    if strategy == "delete":
        rows.delete()
    elif strategy == "anonymise":
        _anonymise(model, rows, entry.erasure.clear)
    else:
        return
    done = "deleted" if strategy == "delete" else "anonymised"
    tally = counts.setdefault(entry.model, {"deleted": 0, "anonymised": 0, "categories": []})
    tally[done] += len(ids)
    categories = {f.category.code for f in entry.fields} if strategy == "delete" else set()
    categories |= {f.category.code for f in entry.fields if f.name in entry.erasure.clear}
    tally["categories"] = sorted(set(tally["categories"]) | categories)


def _anonymise(model, rows, names):
    fields = [model._meta.get_field(name) for name in names]
    unique = {name for c in model._meta.constraints for name in getattr(c, "fields", ())}
    per_row = [f for f in fields if not f.null and (f.unique or f.name in unique)]
    files = [f for f in fields if isinstance(f, models.FileField)]
    for row in rows.iterator() if files else ():
        for f in files:
            stored = getattr(row, f.name)
            if stored:
                # Once the change is committed: a rolled-back erasure must not lose the file.
                transaction.on_commit(
                    lambda storage=stored.storage, name=stored.name: storage.delete(name)
                )
    plain = {f.attname: _blank(f) for f in fields if f not in per_row}
    if plain:
        # The ledger's append-only rule keeps what happened from being rewritten; erasure changes
        # only who it happened to, which the law requires. The base queryset bypasses the rule.
        models.QuerySet(model).filter(pk__in=rows.values("pk")).update(**plain)
    for pk in rows.values_list("pk", flat=True) if per_row else ():
        models.QuerySet(model).filter(pk=pk).update(
            **{f.attname: _placeholder(f, pk) for f in per_row}
        )


def _blank(field):
    if field.null:
        return None
    if isinstance(field, models.JSONField):
        return {}
    if isinstance(field, (models.CharField, models.TextField, models.FileField)):
        return ""
    if isinstance(field, (models.IntegerField, models.FloatField, models.DecimalField)):
        return 0
    raise TypeError(f"{field.model._meta.label}.{field.name} cannot be blanked by an erasure.")


def _placeholder(field, pk):
    # A unique field cannot take the same blank twice: an address nobody can receive, by row.
    if isinstance(field, models.EmailField):
        return f"erased-{pk}@{ERASED_DOMAIN}"
    return f"erased-{pk}"


def _unlink_disclosures(email, scope, counts):
    """Cut the keyed-hash link of the person's disclosure rows; what processors received stays."""
    rows = models.QuerySet(Disclosure).filter(subject_hash=subject_hash(email))
    if scope is not None:
        rows = rows.filter(tenant_id=scope.pk)
    changed = rows.update(subject_hash="")
    if changed:
        tally = counts.setdefault(
            Disclosure._meta.label, {"deleted": 0, "anonymised": 0, "categories": ["technical"]}
        )
        tally["anonymised"] += changed


# The person's privacy requests -------------------------------------------------------------------

# Free text kept as proof (what the person asked, what was answered) may quote the person.
REQUEST_TEXTS = ("message", "answer", "correction_done", "extension_reason")
ERASED_TEXT = "[…]"
PHONE = re.compile(r"^\+?[\d\s().-]{7,}$")


def identifying_values(email, scope=None):
    """The address and every other contact value (name, phone...) held about the person now, longest
    first: what an erasure also scrubs from the free text of the requests it keeps."""
    email = email.strip().lower()
    values = {email}
    for entry, model, ids in _rows_about(email, scope):
        names = [f.name for f in entry.fields if f.category == CONTACT]
        names = [n for n in names if not model._meta.get_field(n).is_relation]
        for row in model._base_manager.filter(pk__in=ids).values_list(*names) if names else ():
            values.update(v.strip() for v in row if isinstance(v, str) and len(v.strip()) >= 3)
    for value in list(values):
        if PHONE.match(value):
            digits = re.sub(r"\D", "", value)
            values.update({digits, digits[-10:]})
    return sorted(values, key=lambda v: (-len(v), v))


def scrub(text, values):
    """`text` with every one of `values` (in any case) replaced by an ellipsis."""
    for value in values:
        if value:
            text = re.sub(re.escape(value), ERASED_TEXT, text, flags=re.IGNORECASE)
    return text


def _held_elsewhere(email, scope):
    """True when something about the person stays after erasing them among `scope`'s contacts."""
    inside = {(model, pk) for _e, model, ids in _rows_about(email, scope) for pk in ids}
    return any(
        (model, pk) not in inside for _e, model, ids in _rows_about(email, None) for pk in ids
    )


def _answer_client_erasure_requests(email, scope):
    """The person's open erasure requests addressed to the client that erases them: mailed their
    answer now, before the address is gone; closed with the erasure."""
    from django.utils.translation import override

    from .requests import _mail, client_erasure_answer

    answered = []
    for privacy_request in PrivacyRequest.objects.filter(
        email=email,
        kind=PrivacyRequestKind.ERASURE,
        tenant_id=scope.pk,
        verified_at__isnull=False,
        closed_at__isnull=True,
    ):
        with override(privacy_request.language):
            answer = client_erasure_answer(scope)
        _mail(privacy_request, "answer", answer=answer)
        answered.append((privacy_request.pk, answer))
    return answered


def _forget_requests(email, values, counts, answered, *, close_open):
    """The person's requests stay as proof of how their rights were honoured, without their address
    (the keyed hash remains) or any value naming them; requests never proven go.

    A request still open is closed by an erasure the person asked for (what it was about is gone).
    After a client's erasure, one still open (a question, a complaint) keeps its address: the
    privacy officer has yet to answer it.
    """
    from django.utils.translation import override

    from .requests import erasure_closing_note

    now = timezone.now()
    requests = models.QuerySet(PrivacyRequest).filter(email__iexact=email)
    unproven, _by_model = requests.filter(verified_at__isnull=True).delete()
    answers = dict(answered)
    kept = 0
    for privacy_request in requests.filter(verified_at__isnull=False):
        if privacy_request.pk in answers:
            privacy_request.answer = answers[privacy_request.pk]
        elif privacy_request.closed_at is None:
            if not close_open:
                continue
            with override(privacy_request.language):
                privacy_request.answer = erasure_closing_note()
        if privacy_request.closed_at is None:
            privacy_request.status = PrivacyRequestStatus.ANSWERED
            privacy_request.answered_at = privacy_request.closed_at = now
        privacy_request.email_hash = privacy_request.email_hash or privacy_request_email_hash(email)
        privacy_request.email = ""
        for name in REQUEST_TEXTS:
            setattr(privacy_request, name, scrub(getattr(privacy_request, name), values))
        privacy_request.save()
        kept += 1
    if unproven or kept:
        tally = counts.setdefault(
            PrivacyRequest._meta.label, {"deleted": 0, "anonymised": 0, "categories": []}
        )
        tally["deleted"] += unproven
        tally["anonymised"] += kept
        tally["categories"] = sorted(
            set(tally["categories"]) | {CONTACT.code} | ({"content"} if kept else set())
        )
