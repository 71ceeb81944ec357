"""Reads scoped to the active organisation: another tenant's id is simply not found."""

from .models import WebhookDelivery, WebhookEndpoint


def endpoints():
    return WebhookEndpoint.objects.all()


def access_endpoint_for_tenant(webhook_id):
    return WebhookEndpoint.objects.access(webhook_id)


def deliveries_of(endpoint, limit=50):
    return list(WebhookDelivery.objects.filter(endpoint=endpoint)[:limit])


def recent_deliveries(limit=20):
    return list(WebhookDelivery.objects.select_related("endpoint")[:limit])
