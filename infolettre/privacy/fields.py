"""Model fields for confidential values: encrypted at rest, and the keyed hash that finds them.

An encrypted field reads and writes clear text in Python; the column holds only the sealed form
(privacy.encryption). The database cannot compare sealed values (each is sealed with a fresh
nonce), so the only lookups allowed are "is empty" and "is null": equality goes through a
`KeyedHashField` kept beside the value.
"""

from django.core.exceptions import FieldError
from django.db import models
from django.db.models.lookups import Exact, IsNull

from . import encryption
from .pseudonymise import keyed_hash


class EncryptedExact(Exact):
    """`field=""` and `field=None` only: a sealed value never equals another sealing of it."""

    def get_prep_lookup(self):
        if self.rhs not in ("", None) and not hasattr(self.rhs, "resolve_expression"):
            raise FieldError(self.lhs.output_field.refusal("exact"))
        return super().get_prep_lookup()


class EncryptedField:
    """Seal on the way to the database, open on the way back; "" and None are stored as they are."""

    def __init__(self, *args, context="", **kwargs):
        # The authenticated data; by default the field's label. Pin it when renaming the model or
        # the field, or re-encrypt: a value sealed under one label does not open under another.
        self.context = context
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        if self.context:
            kwargs["context"] = self.context
        return name, path, args, kwargs

    @property
    def encryption_context(self):
        return self.context or f"{self.model._meta.label}.{self.name}"

    def get_internal_type(self):
        # A sealed value is longer than the clear one: the column is text whatever max_length says
        # (max_length still bounds the clear value in forms and validation).
        return "TextField"

    def from_db_value(self, value, expression, connection):
        if value in (None, ""):
            return value
        return encryption.decrypt(value, self.encryption_context)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value in (None, ""):
            return value
        return encryption.encrypt(str(value), self.encryption_context)

    def get_lookup(self, lookup_name):
        if lookup_name == "exact":
            return EncryptedExact
        if lookup_name == "isnull":
            return IsNull
        raise FieldError(self.refusal(lookup_name))

    def get_transform(self, name):
        raise FieldError(self.refusal(name))

    def refusal(self, lookup_name):
        return (
            f"{self.model._meta.label}.{self.name} is encrypted: the database cannot compare it "
            f"('{lookup_name}'). Look it up by its keyed hash, or test only that it is empty."
        )


class EncryptedCharField(EncryptedField, models.CharField):
    pass


class EncryptedTextField(EncryptedField, models.TextField):
    pass


class KeyedHashField(models.CharField):
    """The keyed hash (privacy.pseudonymise) of another field's value, "" when it is empty.

    Computed on every save and bulk_create from the source field, so the pair cannot drift; a
    queryset `update()` of the source must set it too (`hash_for`).
    """

    def __init__(self, *args, source, purpose, **kwargs):
        self.source, self.purpose = source, purpose
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["source"], kwargs["purpose"] = self.source, self.purpose
        for key, value in (
            ("max_length", 64),
            ("blank", True),
            ("default", ""),
            ("editable", False),
        ):
            if kwargs.get(key) == value:
                del kwargs[key]
        return name, path, args, kwargs

    def hash_for(self, value):
        return keyed_hash(value, self.purpose) if value else ""

    def pre_save(self, model_instance, add):
        value = self.hash_for(getattr(model_instance, self.source))
        setattr(model_instance, self.attname, value)
        return value
