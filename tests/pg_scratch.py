"""Dropping the throw-away PostgreSQL databases the multi-process tests make."""


def drop_database(cursor, name: str) -> None:
    """Drop ``name`` though its sessions may still be connected (autocommit cursor).

    ``DROP DATABASE ... WITH (FORCE)`` fails outright when an autovacuum worker is in the
    database (PostgreSQL 15 checks it as another role's session). So end this role's sessions
    first; a plain drop then waits for them and makes autovacuum leave by itself.
    """
    cursor.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE datname = %s AND pid <> pg_backend_pid() AND usename = current_user",
        [name],
    )
    cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
