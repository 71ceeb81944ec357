"""The personal-data declaration covers every model and field, and tells each field's purpose."""

from django.core import checks
from django.db import models
from django.test.utils import isolate_apps

from infolettre.privacy import checks as checks_module
from infolettre.privacy import declaration
from infolettre.privacy.declaration import (
    check_declaration_complete,
    declared_model,
    personal_field,
)
from infolettre.privacy.purposes import PURPOSES


def test_every_model_and_field_is_declared():
    """The declaration names every field of every model, or gives a reason the model holds none."""
    assert check_declaration_complete() == []


@isolate_apps("infolettre.accounts")
def test_an_undeclared_personal_field_fails_the_check():
    """A field added to a declared model without a declaration is named, with where to declare it."""

    class Organisation(models.Model):
        name = models.CharField(max_length=10)
        vat_number = models.CharField(max_length=20)

        class Meta:
            app_label = "accounts"

    problems = [p for p in check_declaration_complete([Organisation]) if "vat_number" in p]
    assert problems == [
        "accounts.Organisation.vat_number is not declared: add it to the fields (with purpose and "
        "retention) or to other_fields of accounts.Organisation in infolettre.accounts.personal_data."
    ]


@isolate_apps("infolettre.accounts")
def test_an_undeclared_model_fails_the_system_check(monkeypatch):
    """A model in neither the declaration nor NO_PERSONAL_DATA stops the system check."""

    class Shoe(models.Model):
        owner_name = models.CharField(max_length=10)

        class Meta:
            app_label = "accounts"

    monkeypatch.setattr(
        checks_module, "check_declaration_complete", lambda: check_declaration_complete([Shoe])
    )
    errors = checks_module.personal_data_declaration(None)
    assert [(e.id, e.msg) for e in errors] == [
        (
            "privacy.E001",
            "accounts.Shoe is in neither the personal-data declaration nor NO_PERSONAL_DATA: "
            "declare it in infolettre.accounts.personal_data.",
        )
    ]
    assert checks_module.personal_data_declaration in checks.registry.registry.get_checks()


def test_every_declared_field_has_known_purposes_and_a_retention():
    """Each personal field serves at least one known purpose and has a retention period."""
    for entry in declaration.declared_models():
        for f in entry.fields:
            assert f.purposes, f"{entry.model}.{f.name}"
            assert set(f.purposes) <= set(PURPOSES), f"{entry.model}.{f.name}"
            assert f.retention.period.days > 0, f"{entry.model}.{f.name}"


def test_confidential_fields_are_declared_as_such():
    """Phone and fax of a client organisation, passwords and token digests are confidential."""
    assert personal_field("accounts.Organisation", "phone").confidential is True
    assert personal_field("accounts.Organisation", "fax").confidential is True
    assert personal_field("accounts.User", "password").confidential is True
    assert personal_field("accounts.ApiToken", "digest").confidential is True
    assert personal_field("accounts.User", "name").confidential is False


def test_optional_profile_fields_serve_only_the_client_profile():
    """Gender and marketing answers are used only to know clients better, as the policy says."""
    for label, name in [
        ("accounts.User", "gender"),
        ("accounts.User", "heard_about"),
        ("accounts.Organisation", "company_size"),
        ("accounts.Organisation", "industry"),
    ]:
        assert personal_field(label, name).purposes == ("client_profile",)


def test_the_subject_of_each_declared_model_can_be_found_by_address():
    """Each declared model says how to reach the person it is about (for access requests later)."""
    assert declared_model("accounts.User").subject_email_path == "email"
    assert declared_model("accounts.Organisation").subject_email_path == "users__email"
    assert declared_model("accounts.ApiToken").subject_email_path == "user__email"
