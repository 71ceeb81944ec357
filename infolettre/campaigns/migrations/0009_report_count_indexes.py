"""Partial indexes that let a campaign's pages count its rarer events without reading every
delivery, on PostgreSQL only (SQLite keeps its plain scans): the recipients who unsubscribed
through it, its complaints, in per-recipient mode who opened and who clicked, and its queued
deliveries by due time (the campaign page's next retry of a late campaign; a delivery leaves this
index when it is sent, so it stays as small as the queue).

Built CONCURRENTLY, outside a transaction, so that sending goes on while they are built.
"""

from django.db import migrations

INDEXES = {
    "campaigns_delivery_unsubscribed": (
        "campaigns_delivery (campaign_id) WHERE unsubscribed_at IS NOT NULL"
    ),
    "campaigns_bounce_complaints": (
        "campaigns_bounce (tenant_id, delivery_id) WHERE kind = 'complaint'"
    ),
    "campaigns_engagement_opened": (
        "campaigns_deliveryengagement (campaign_id) WHERE first_opened_at IS NOT NULL"
    ),
    "campaigns_delivery_queued_due": (
        "campaigns_delivery (campaign_id, next_attempt_at) WHERE status = 'queued'"
    ),
    "campaigns_engagement_clicked": (
        "campaigns_deliveryengagement (campaign_id) WHERE first_clicked_at IS NOT NULL"
    ),
}


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, definition in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {definition}")


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("campaigns", "0008_campaign_lanes")]

    operations = [migrations.RunPython(create_indexes, drop_indexes, elidable=False)]
