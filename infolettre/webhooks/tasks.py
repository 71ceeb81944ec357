from django.tasks import task
from django.utils import timezone

from .models import WebhookDeliveryStatus
from .sending import attempt_delivery, due_delivery_ids


def enqueue_delivery(delivery_id, run_after=None):
    """Queue an attempt now, or at `run_after` on a backend that can wait (else the sweep does)."""
    if run_after is None or run_after <= timezone.now():
        deliver_webhook.enqueue(delivery_id)
    elif deliver_webhook.get_backend().supports_defer:
        deliver_webhook.using(run_after=run_after).enqueue(delivery_id)


@task()
def deliver_webhook(delivery_id):
    """Try one webhook delivery if it is due; queue its retry when it failed and may be retried."""
    delivery = attempt_delivery(delivery_id)
    if delivery is not None and delivery.status == WebhookDeliveryStatus.PENDING:
        enqueue_delivery(delivery.pk, run_after=delivery.next_attempt_at)


@task()
def retry_due_webhooks():
    """Queue every pending delivery whose time has come (retries on backends that cannot wait)."""
    for delivery_id in due_delivery_ids():
        deliver_webhook.enqueue(delivery_id)
