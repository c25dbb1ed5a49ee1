"""The embedded database's log is checkpointed by a thread, not by the commit that fills it."""
import os
import sqlite3
import time

from dianxiaoer import sqlite_checkpoint
from dianxiaoer.sqlite_checkpoint import CONNECTION_PRAGMAS, Checkpointer


def _write(path, rows: int) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.executescript(CONNECTION_PRAGMAS)
    connection.execute("CREATE TABLE IF NOT EXISTS t (payload TEXT)")
    for _ in range(rows):
        connection.execute("INSERT INTO t VALUES (?)", ("x" * 4000,))
    return connection


def test_commits_leave_the_log_to_the_checkpointer(tmp_path):
    path = str(tmp_path / "db.sqlite3")
    writer = _write(path, 1500)  # past SQLite's default 1000 pages: no checkpoint at commit
    assert os.path.getsize(path) < 100_000
    assert os.path.getsize(path + "-wal") > 1500 * 4000

    checkpointer = Checkpointer(path, interval=0.05).start()
    try:
        deadline = time.monotonic() + 5
        while os.path.getsize(path) < 1500 * 4000:
            assert time.monotonic() < deadline, "the log was not checkpointed"
            time.sleep(0.05)
    finally:
        checkpointer.stop()
    assert writer.execute("SELECT count(*) FROM t").fetchone() == (1500,)
    writer.close()


def test_a_server_checkpoints_sqlite_files_only_once_each(tmp_path, monkeypatch):
    monkeypatch.setattr(sqlite_checkpoint, "_started", {})
    sqlite = {"ENGINE": "django.db.backends.sqlite3", "NAME": tmp_path / "db.sqlite3"}
    first = sqlite_checkpoint.start_for(sqlite)
    try:
        assert first is not None and first.thread.is_alive()
        assert sqlite_checkpoint.start_for(dict(sqlite)) is first
        assert sqlite_checkpoint.start_for({"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}) is None
        assert sqlite_checkpoint.start_for({"ENGINE": "django.db.backends.postgresql", "NAME": "dxe"}) is None
    finally:
        first.stop()
