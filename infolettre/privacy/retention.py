"""Retention: destroy or anonymise what has outlived its period, as the declaration gives it.

Each declared field has a Retention (period, counted from an event); a deployment may change a
period with RETENTION_OVERRIDES ({"app.Model" or category code: days}). Once a declared model's
longest period is over, its rows get what an erasure would do to them (delete or anonymise; rows an
erasure keeps, such as a privacy request, are deleted once their own period ends). What the
periods alone cannot say, each app gives as RETENTION_RULES in its personal_data.py: unconfirmed
sign-ups and accounts, lapsed implied consents, closed accounts after their grace period.

Data of a person with an open privacy request is held until the request closes.

Password-reset links, address confirmations and unsubscribe links are signed and stateless: a
token carries its own date and signature and nothing is stored, so nothing expires in the database.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.apps import apps
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.utils import timezone

from .audit import AuditAction, do_record_audit
from .declaration import CONSENT, declared_models, retention_rules
from .erasure import _anonymise, _blank
from .models import ErasureCause, ErasureRecord, PrivacyRequest, privacy_request_email_hash

logger = logging.getLogger(__name__)

# The field a "collected" period counts from, when the declaration names none (dated_by).
COLLECTED_DATES = (
    "created_at",
    "occurred_at",
    "accepted_at",
    "received_at",
    "date_joined",
    "sent_at",
    "claimed_at",
)
# The field other events are counted from.
EVENT_DATES = {"session_end": "expire_date", "request_closed": "closed_at"}
# Closed accounts are ended as a whole by their own rule (accounts.personal_data).
HANDLED_BY_RULES = ("account_closed",)


@dataclass(frozen=True)
class ModelRetention:
    label: str
    period: timedelta
    counted_from: str
    date_field: str
    action: str
    categories: tuple[str, ...]


def period_of(entry, field):
    """A field's period, unless RETENTION_OVERRIDES gives its model or category another."""
    overrides = settings.RETENTION_OVERRIDES
    for key in (entry.model, field.category.code):
        if key in overrides:
            return timedelta(days=int(overrides[key]))
    return field.retention.period


def model_retention(entry):
    """The rows of a model expire when the longest period of their fields is over."""
    if not entry.fields:
        return None
    longest = max(entry.fields, key=lambda f: period_of(entry, f))
    counted_from = longest.retention.counted_from
    model = apps.get_model(entry.model)
    names = {f.name for f in model._meta.concrete_fields}
    if counted_from == "collected":
        # dated_by may follow a link: "delivery__sent_at". Otherwise a date every row has comes
        # first: a row whose date is empty would never end.
        dates = [n for n in COLLECTED_DATES if n in names]
        dates.sort(key=lambda n: model._meta.get_field(n).null)
        date_field = entry.dated_by or next(iter(dates), "")
    else:
        date_field = EVENT_DATES.get(counted_from, "")
        date_field = date_field if date_field in names else ""
    action = "anonymise" if entry.erasure.strategy == "anonymise" else "delete"
    return ModelRetention(
        entry.model,
        period_of(entry, longest),
        counted_from,
        date_field,
        action,
        tuple(sorted({f.category.code for f in entry.fields})),
    )


def held_hashes():
    """The keyed hashes of the people whose open request holds their data."""
    return set(
        PrivacyRequest.objects.filter(closed_at__isnull=True)
        .exclude(email_hash="")
        .values_list("email_hash", flat=True)
    )


class Hold:
    """Who open requests hold: called with an address, true when its data must stay; false as a
    whole when no request is open, so that nothing is looked up."""

    def __init__(self, hashes):
        self.hashes = hashes

    def __bool__(self):
        return bool(self.hashes)

    def __call__(self, email):
        return (
            bool(self.hashes) and bool(email) and privacy_request_email_hash(email) in self.hashes
        )


def apply_retention(now=None, *, dry_run=False):
    """Destroy or anonymise what has expired at `now`; return {label: {deleted, anonymised,
    categories}}. With dry_run, change nothing and return what would be done."""
    now = now or timezone.now()
    is_held = Hold(held_hashes())
    counts = {}
    with transaction.atomic():
        for entry in declared_models():
            rule = model_retention(entry)
            if rule is None or rule.counted_from in HANDLED_BY_RULES or not rule.date_field:
                continue
            model = apps.get_model(entry.model)
            rows = model._base_manager.filter(**{f"{rule.date_field}__lt": now - rule.period})
            if rule.action == "anonymise":
                rows = rows.filter(_not_yet_anonymised(model, entry.erasure.clear))
            if _is_consent_proof(entry, model):
                rows = _of_subjects_gone(rows)
            ids = _not_held(entry, model, rows, is_held)
            if not ids:
                continue
            if not dry_run:
                expired = model._base_manager.filter(pk__in=ids)
                if rule.action == "delete":
                    expired.delete()
                else:
                    _anonymise(model, expired, entry.erasure.clear)
            _tally(counts, entry.model, rule.action, len(ids), rule.categories)
        for app_rule in (*CORE_RULES, *retention_rules()):
            for label, action, count, categories in app_rule(now, is_held, dry_run):
                if count:
                    _tally(counts, label, action, count, categories)
        if counts and not dry_run:
            ErasureRecord.objects.create(cause=ErasureCause.RETENTION, counts=counts)
        if not dry_run:
            do_record_audit(None, AuditAction.RETENTION_RUN, details={"counts": counts})
    for label, tally in sorted(counts.items()):
        logger.info(
            "Retention%s: %s deleted %d, anonymised %d",
            " (dry run)" if dry_run else "",
            label,
            tally["deleted"],
            tally["anonymised"],
        )
    return counts


def dated_by_rules():
    """The declared models an app's retention rule dates itself (the rule's `dates`)."""
    return {label for rule in (*CORE_RULES, *retention_rules()) for label in rule_dates(rule)}


def rule_dates(rule):
    return getattr(rule, "dates", ())


def how_dated(entry):
    """How retention dates a declared model's rows: ("field", path) for a date field (dated_by may
    follow links), ("rule", name) when an app's rule ends them, ("none", "") when nothing holds
    personal data, or ("unknown", counted_from) when nothing can: a gap to close."""
    rule = model_retention(entry)
    if rule is None:
        return ("none", "")
    if rule.counted_from in HANDLED_BY_RULES:
        return ("rule", rule.counted_from)
    if entry.model in dated_by_rules():
        return ("rule", entry.model)
    if rule.date_field:
        return ("field", rule.date_field)
    return ("unknown", rule.counted_from)


def unhandled_models():
    """Declared models whose period retention cannot date; their app must give a rule or a date."""
    found = []
    for entry in declared_models():
        how, detail = how_dated(entry)
        if how == "unknown":
            found.append((entry.model, detail))
    return found


def expire_unproven_requests(now, is_held, dry_run):
    """A privacy request whose address was never proven, once its link has expired: anyone can type
    anyone's address, so it holds nothing, proves nothing, and can never be proven any more."""
    max_age = timedelta(seconds=settings.PRIVACY_REQUEST_LINK_MAX_AGE)
    rows = PrivacyRequest.objects.filter(verified_at__isnull=True, received_at__lt=now - max_age)
    count = rows.count()
    if count and not dry_run:
        rows.delete()
    return [
        (PrivacyRequest._meta.label, "delete", count, categories_of(PrivacyRequest._meta.label))
    ]


# Rules of the privacy app itself, run with the apps' RETENTION_RULES.
CORE_RULES = (expire_unproven_requests,)


def _tally(counts, label, action, count, categories):
    tally = counts.setdefault(label, {"deleted": 0, "anonymised": 0, "categories": []})
    tally["deleted" if action == "delete" else "anonymised"] += count
    tally["categories"] = sorted(set(tally["categories"]) | set(categories))


def _is_consent_proof(entry, model):
    names = {f.name for f in model._meta.concrete_fields}
    return {"subject_type", "subject_id"} <= names and all(
        f.category == CONSENT for f in entry.fields
    )


def _of_subjects_gone(rows):
    """A consent ledger row proves a consent still in force while its person is here (the latest
    answer counts); its period runs once the person is gone, never while they are."""
    for content_type_id in set(rows.values_list("subject_type_id", flat=True)):
        subject_model = ContentType.objects.get_for_id(content_type_id).model_class()
        if subject_model is None:
            continue
        live = subject_model._base_manager.filter(
            pk__in=rows.filter(subject_type_id=content_type_id).values("subject_id")
        ).values("pk")
        rows = rows.exclude(subject_type_id=content_type_id, subject_id__in=live)
    return rows


def _not_yet_anonymised(model, names):
    condition = models.Q()
    for name in names:
        field = model._meta.get_field(name)
        blank = models.Q(**{f"{field.attname}__isnull": True})
        if not field.null:
            blank = models.Q(**{field.attname: _blank(field)})
        condition |= ~blank
    return condition


def _not_held(entry, model, rows, is_held):
    """The ids of `rows` that no open request holds."""
    ids = list(rows.values_list("pk", flat=True))
    if not ids or not is_held:
        return ids
    held = set()
    for pk, email in _subject_addresses(entry, model, ids):
        if is_held(email):
            held.add(pk)
    return [pk for pk in ids if pk not in held]


def _subject_addresses(entry, model, ids):
    """(pk, address) of each row's person: by its address path or through its ledger subject."""
    rows = model._base_manager.filter(pk__in=ids)
    if entry.subject_email_path:
        yield from rows.values_list("pk", entry.subject_email_path)
        return
    names = {f.name for f in model._meta.concrete_fields}
    if not {"subject_type", "subject_id"} <= names:
        return
    declared = {e.model: e for e in declared_models()}
    for pk, content_type_id, subject_id in rows.values_list("pk", "subject_type_id", "subject_id"):
        subject_model = ContentType.objects.get_for_id(content_type_id).model_class()
        subject_entry = declared.get(subject_model._meta.label) if subject_model else None
        if subject_entry is None or not subject_entry.subject_email_path:
            continue
        for email in subject_model._base_manager.filter(pk=subject_id).values_list(
            subject_entry.subject_email_path, flat=True
        ):
            yield pk, email


def rule_period(key, default):
    """The period of an app's retention rule: RETENTION_OVERRIDES[key] days, else `default`."""
    days = settings.RETENTION_OVERRIDES.get(key)
    return timedelta(days=int(days)) if days is not None else default


def categories_of(label):
    declared = {e.model: e for e in declared_models()}
    entry = declared.get(label)
    return tuple(sorted({f.category.code for f in entry.fields})) if entry else ()


def delete_counted(queryset, dry_run):
    """Delete `queryset` with its cascade (or only count it); return [(label, "delete", count,
    categories)] for every declared model the deletion reaches."""
    from django.db.models.deletion import Collector

    collector = Collector(using=queryset.db)
    collector.collect(queryset)
    counts = {}
    for model, instances in collector.data.items():
        counts[model._meta.label] = counts.get(model._meta.label, 0) + len(instances)
    for fast in collector.fast_deletes:
        label = fast.model._meta.label
        counts[label] = counts.get(label, 0) + fast.count()
    if not dry_run:
        queryset.delete()
    declared = {e.model for e in declared_models()}
    return [
        (label, "delete", count, categories_of(label))
        for label, count in sorted(counts.items())
        if label in declared and count
    ]
