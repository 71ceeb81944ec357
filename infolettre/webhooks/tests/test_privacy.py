"""The delivery log names contacts: erasure finds it through the declaration, retention ends it."""

from datetime import timedelta

from django.utils import timezone

from infolettre.accounts.tenancy import tenant_scope
from infolettre.privacy.audit import SYSTEM
from infolettre.privacy.erasure import do_erase_person
from infolettre.privacy.retention import apply_retention
from infolettre.webhooks.actions import do_create_endpoint, do_emit_event
from infolettre.webhooks.models import WebhookDelivery


def log_two_events(owner):
    with tenant_scope(owner.tenant):
        do_create_endpoint(owner.tenant, url="https://hooks.example.com/", events=["bounce"])
    for email in ("lea@example.com", "marc@example.com"):
        do_emit_event(owner.tenant_id, "bounce", {"contact_id": 1, "email": email, "kind": "hard"})


def logged_addresses():
    return sorted(WebhookDelivery.unscoped.values_list("payload__data__email", flat=True))


def test_erasing_a_person_removes_the_deliveries_that_name_them(owner):
    """do_erase_person finds the log rows by the address in their payload; others stay."""
    log_two_events(owner)
    do_erase_person("lea@example.com", by=SYSTEM)
    assert logged_addresses() == ["marc@example.com"]


def test_the_log_is_destroyed_after_30_days(owner):
    """The retention task deletes deliveries older than the declared 30 days, and only those."""
    log_two_events(owner)
    WebhookDelivery.unscoped.filter(payload__data__email="lea@example.com").update(
        created_at=timezone.now() - timedelta(days=31)
    )
    apply_retention()
    assert logged_addresses() == ["marc@example.com"]
