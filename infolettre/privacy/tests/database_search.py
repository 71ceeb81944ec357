"""Search the whole database for values, as the erasure tests do: every table, every column."""

from django.db import connection


def database_values():
    """Every non-empty value of every table, as text: (table, column, value)."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            columns = [
                c.name for c in connection.introspection.get_table_description(cursor, table)
            ]
            selected = ", ".join(f"CAST({quote(c)} AS TEXT)" for c in columns)
            cursor.execute(f"SELECT {selected} FROM {quote(table)}")  # noqa: S608
            for row in cursor.fetchall():
                for column, value in zip(columns, row, strict=True):
                    if value:
                        yield table, column, str(value)


def mentions(*needles):
    needles = [n.lower() for n in needles]
    return sorted(
        {
            (table, column)
            for table, column, value in database_values()
            if any(n in value.lower() for n in needles)
        }
    )
