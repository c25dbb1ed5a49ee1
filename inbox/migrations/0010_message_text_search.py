"""A trigram index for the conversation list's search in message texts (PostgreSQL only).

``text__icontains`` is ``UPPER(text) LIKE UPPER('%…%')`` on PostgreSQL; this GIN index on
``UPPER(text)`` serves it for searches of three characters or more (CJK included) instead
of a scan of every message. SQLite has no such index and scans, which suits its size.
Built concurrently, so a live table keeps taking messages while it builds.
"""
from django.db import migrations

INDEX = "inbox_message_text_trgm"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} ON inbox_message USING gin (UPPER(text) gin_trgm_ops)"
    )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("inbox", "0009_conversation_rating"),
    ]

    operations = [migrations.RunPython(create, drop, elidable=False)]
