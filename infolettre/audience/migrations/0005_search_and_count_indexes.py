"""Indexes for big organisations, on PostgreSQL only (SQLite keeps its plain scans).

- Trigram indexes (pg_trgm) on the upper-cased address and name of contacts: a search by a part
  of an address or a name (`icontains`, which Django writes `UPPER(email::text) LIKE UPPER(...)`)
  reads them instead of every contact of the table.
- A partial index of subscribed subscriptions by list and lapse date: the lists page counts the
  implied consents lapsing within 30 days from it alone.

Built CONCURRENTLY, outside a transaction, so that imports and sign-ups go on while they are built;
the contacts are analysed after, for the planner to know the upper-cased addresses and names.
"""

from django.db import migrations

INDEXES = {
    "audience_contact_email_trgm": "audience_contact USING gin (UPPER(email::text) gin_trgm_ops)",
    "audience_contact_name_trgm": "audience_contact USING gin (UPPER(name::text) gin_trgm_ops)",
    "audience_subscription_lapsing": (
        "audience_subscription (mailing_list_id, consent_expires_at) "
        "WHERE status = 'subscribed' AND consent_expires_at IS NOT NULL"
    ),
}


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, definition in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {definition}")
    # Statistics of the indexed expressions come only from ANALYZE, which autovacuum may not run
    # for a long time on a big table that changes little.
    schema_editor.execute("ANALYZE audience_contact")


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("audience", "0004_encrypt_contact_phone")]

    operations = [migrations.RunPython(create_indexes, drop_indexes, elidable=False)]
