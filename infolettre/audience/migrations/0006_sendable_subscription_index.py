"""The index of sendable subscriptions, on PostgreSQL only (SQLite keeps its plain scans).

A partial index of subscribed subscriptions by list and contact, holding each one's consent lapse
date: whether a contact has a sendable subscription on a campaign's lists (a draft's recipient
estimate, the queue written at launch) is answered from it alone, without reading the rows, one
contact at a time for a narrow segment or every subscription of a list at once for a whole list.

Built CONCURRENTLY, outside a transaction, so that imports and sign-ups go on while it is built.
"""

from django.db import migrations

INDEXES = {
    "audience_subscription_sendable": (
        "audience_subscription (mailing_list_id, contact_id) INCLUDE (consent_expires_at) "
        "WHERE status = 'subscribed'"
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

    dependencies = [("audience", "0005_search_and_count_indexes")]

    operations = [migrations.RunPython(create_indexes, drop_indexes, elidable=False)]
