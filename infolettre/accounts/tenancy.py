"""The one mechanism that keeps each client organisation's rows invisible to every other.

A request activates its user's organisation for its whole duration; every tenant-owned model's
default manager then returns that organisation's rows only, and refuses to answer at all when no
organisation is active. Code that must see across tenants (sign-in, the operator's tasks) says so
with `Model.unscoped`.
"""

from contextlib import contextmanager
from contextvars import ContextVar

from django.db import models

from infolettre.errors import NotFound

_active_tenant_id = ContextVar("active_tenant_id", default=None)


class TenantNotActive(RuntimeError):
    pass


@contextmanager
def tenant_scope(tenant):
    token = _active_tenant_id.set(tenant.pk if tenant is not None else None)
    try:
        yield
    finally:
        _active_tenant_id.reset(token)


def active_tenant_id():
    return _active_tenant_id.get()


class TenantScopedManager(models.Manager):
    def get_queryset(self):
        tenant_id = _active_tenant_id.get()
        if tenant_id is None:
            raise TenantNotActive(
                f"{self.model.__name__}.objects needs an active tenant (tenant_scope); "
                f"use {self.model.__name__}.unscoped to read across tenants on purpose."
            )
        return super().get_queryset().filter(tenant_id=tenant_id)

    def access(self, pk):
        """The active tenant's row with this id; another tenant's id is simply not found."""
        found = self.filter(pk=pk).first()
        if found is None:
            raise NotFound()
        return found

    def create(self, **fields):
        """Create a row for the tenant it names, which must be the active one when one is active."""
        tenant_id = fields["tenant"].pk if "tenant" in fields else fields.get("tenant_id")
        active = _active_tenant_id.get()
        if tenant_id is None or (active is not None and tenant_id != active):
            raise TenantNotActive(f"A {self.model.__name__} is created for the active tenant only.")
        return self.model.unscoped.create(**fields)


class TenantOwned(models.Model):
    """A row that belongs to one client organisation."""

    tenant = models.ForeignKey("accounts.Organisation", on_delete=models.CASCADE, related_name="+")

    objects = TenantScopedManager()
    unscoped = models.Manager()  # noqa: DJ012

    class Meta:
        abstract = True
