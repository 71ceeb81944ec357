"""A GIN index on contacts' attributes (jsonb_path_ops), on PostgreSQL only.

Segment conditions "attribute equals a value" compile to `attributes @> '{"key": value}'` on
PostgreSQL, which this index answers. Django declares a GinIndex in Meta.indexes only for
PostgreSQL, and the project also runs on SQLite, hence this guarded statement.
"""

from django.db import migrations

INDEX = "audience_contact_attributes_gin"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON audience_contact "
            "USING gin (attributes jsonb_path_ops)"
        )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("audience", "0001_initial")]

    operations = [migrations.RunPython(create_index, drop_index, elidable=False)]
