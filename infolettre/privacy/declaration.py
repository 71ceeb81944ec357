"""The personal-data declaration: every personal field the system holds, declared once.

Each app lists its models in its `personal_data.py` (`DECLARATION`, and `NO_PERSONAL_DATA` for the
models that hold none, each with a reason). Forms, exports, access requests, retention and encryption
read this registry instead of repeating it; `check_declaration_complete` proves it covers every model.
"""

from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache
from importlib import import_module

from django.apps import apps
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from .purposes import PURPOSES


@dataclass(frozen=True)
class Category:
    code: str
    label: str


CONTACT = Category("contact", _("Contact information"))
DEMOGRAPHIC = Category("demographic", _("Demographic information"))
MARKETING = Category("marketing", _("Marketing information"))
CREDENTIALS = Category("credentials", _("Credentials"))
BILLING = Category("billing", _("Billing information"))
TECHNICAL = Category("technical", _("Technical information"))
CONSENT = Category("consent", _("Consents and policy acceptance"))
CONTENT = Category("content", _("Content you wrote"))


@dataclass(frozen=True)
class Retention:
    """How long a value is kept, counted from an event of the record's life."""

    period: timedelta
    counted_from: str
    label: str


def while_account_open(grace_days=90):
    return Retention(
        timedelta(days=grace_days),
        "account_closed",
        format_lazy(_("while the account is open, then {days} days"), days=grace_days),
    )


def for_days(days, counted_from="collected"):
    return Retention(
        timedelta(days=days),
        counted_from,
        format_lazy(ngettext_lazy("{days} day", "{days} days", days), days=days),
    )


# The operator's staff roles; what each may see is said field by field.
SUPPORT = "support"
BILLING_STAFF = "billing"
PRIVACY_OFFICER = "privacy_officer"
ADMINISTRATOR = "administrator"
STAFF_ROLES = (SUPPORT, BILLING_STAFF, PRIVACY_OFFICER, ADMINISTRATOR)


@dataclass(frozen=True)
class PersonalField:
    name: str
    category: Category
    purposes: tuple[str, ...]
    retention: Retention
    confidential: bool = False
    visible_to: frozenset[str] = frozenset({PRIVACY_OFFICER})
    # A confidential value kept only as a one-way hash (a password, a token digest): never read
    # back, so not encrypted (privacy.encryption checks that every other confidential one is).
    hashed: bool = False

    @property
    def purpose_objects(self):
        return [PURPOSES[code] for code in self.purposes]


@dataclass(frozen=True)
class Erasure:
    """What an erasure does to a declared model's rows about the person.

    "delete" removes the rows; "anonymise" blanks the fields named in `clear` (links included) and
    keeps the rest, for statistics or proof that names no one; "keep" leaves the rows, for the
    reason given in `why` (a legal duty to keep them).
    """

    strategy: str
    clear: tuple[str, ...] = ()
    why: str = ""


DELETE = Erasure("delete")


def anonymise(*fields, why):
    return Erasure("anonymise", tuple(fields), why)


def keep(why):
    return Erasure("keep", why=why)


@dataclass(frozen=True)
class PersonalDataModel:
    """A model that holds personal data about one kind of person (client, user or third party)."""

    model: str
    subject: str
    # ORM path from a row to the address of the person it is about (used to find what we hold).
    subject_email_path: str
    fields: tuple[PersonalField, ...]
    # Every other field, named so that a new field cannot slip in undeclared.
    other_fields: tuple[str, ...] = field(default=())
    # What an erasure of the person does to these rows (privacy.erasure); deleting them by default.
    # Retention does the same once the rows' period is over (privacy.retention).
    erasure: Erasure = DELETE
    # The date a "collected" retention counts from, when the model has no created_at.
    dated_by: str = ""

    def get(self, name):
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.model}.{name} is not declared as personal data")


CLIENT = "client"
USER = "user"
THIRD_PARTY = "third_party"


@cache
def _registry():
    declared, exempt = {}, {}
    for app in apps.get_app_configs():
        try:
            module = import_module(f"{app.name}.personal_data")
        except ModuleNotFoundError as e:
            if e.name != f"{app.name}.personal_data":
                raise
            continue
        for entry in getattr(module, "DECLARATION", ()):
            declared[entry.model] = entry
        exempt.update(getattr(module, "NO_PERSONAL_DATA", {}))
    return declared, exempt


@cache
def erasure_steps():
    """Each app's ERASURE_STEPS: functions(email, tenant_ids, scope) run before an erasure."""
    steps = []
    for app in apps.get_app_configs():
        try:
            module = import_module(f"{app.name}.personal_data")
        except ModuleNotFoundError as e:
            if e.name != f"{app.name}.personal_data":
                raise
            continue
        steps.extend(getattr(module, "ERASURE_STEPS", ()))
    return steps


@cache
def retention_rules():
    """Each app's RETENTION_RULES: functions(now, is_held, dry_run) -> [(label, action, count,
    categories)] for what the declaration's periods alone cannot say (unconfirmed sign-ups...)."""
    rules = []
    for app in apps.get_app_configs():
        try:
            module = import_module(f"{app.name}.personal_data")
        except ModuleNotFoundError as e:
            if e.name != f"{app.name}.personal_data":
                raise
            continue
        rules.extend(getattr(module, "RETENTION_RULES", ()))
    return rules


def declared_models():
    return list(_registry()[0].values())


def declared_model(label):
    return _registry()[0][label]


def personal_field(label, name):
    return declared_model(label).get(name)


def check_declaration_complete(models=None):
    """List what breaks the declaration: undeclared models or fields, unknown purposes or fields."""
    declared, exempt = _registry()
    problems = []
    for model in models if models is not None else apps.get_models(include_auto_created=True):
        label = model._meta.label
        app_name = model._meta.app_config.name
        home = (
            f"{app_name}.personal_data"
            if app_name.startswith("infolettre.")
            else __package__ + ".personal_data"
        )
        if label in exempt:
            continue
        if label not in declared:
            problems.append(
                f"{label} is in neither the personal-data declaration nor NO_PERSONAL_DATA: "
                f"declare it in {home}."
            )
            continue
        entry = declared[label]
        names = {f.name for f in model._meta.concrete_fields}
        personal = {f.name for f in entry.fields}
        for name in sorted(names - personal - set(entry.other_fields)):
            problems.append(
                f"{label}.{name} is not declared: add it to the fields (with purpose and retention) "
                f"or to other_fields of {label} in {home}."
            )
        for name in sorted((personal | set(entry.other_fields)) - names):
            problems.append(f"{label}.{name} is declared but the model has no such field.")
        if entry.erasure.strategy not in ("delete", "anonymise", "keep"):
            problems.append(f"{label} has an unknown erasure strategy '{entry.erasure.strategy}'.")
        if entry.dated_by and entry.dated_by.split("__")[0] not in names:
            problems.append(f"{label} is dated by '{entry.dated_by}', which it does not have.")
        for name in sorted(set(entry.erasure.clear) - names):
            problems.append(f"{label}: erasure clears '{name}', which the model does not have.")
        for f in entry.fields:
            problems.extend(
                f"{label}.{f.name} names an unknown purpose '{code}'."
                for code in f.purposes
                if code not in PURPOSES
            )
            if not f.purposes:
                problems.append(
                    f"{label}.{f.name} has no purpose: a field without one cannot be collected."
                )
    for label in sorted(set(declared) & set(exempt)):
        problems.append(f"{label} is both declared and exempt.")
    return problems
