"""Checkpoints of SQLite's write-ahead log on a thread of their own (the embedded database).

In WAL mode SQLite copies the log back into the database file once the log holds 1000 pages,
on whichever connection commits at that moment, and fsyncs the file. On the sockets' DB
thread that commit, and every chat message queued behind it, waited for the disk: with the
database on disk the latency tail of ``bench/ws_latency.py`` at 250 messages/s was those
fsyncs (p99 60-380 ms; 17-22 ms with the same database on tmpfs). So connections raise the
automatic checkpoint to a backstop (``BACKSTOP_PAGES``, in the settings' ``init_command``) and
each server process runs a PASSIVE checkpoint every ``INTERVAL_SECONDS`` on a thread with its
own connection. A passive checkpoint waits for neither readers nor writers, and its fsync
holds no lock a commit needs. The backstop still bounds the log where no server runs
(management commands, a worker alone).
"""
import logging
import sqlite3
import threading

logger = logging.getLogger(__name__)

INTERVAL_SECONDS = 1.0
# Pages of log (4 KiB each) after which a committing connection checkpoints after all.
BACKSTOP_PAGES = 10_000
CONNECTION_PRAGMAS = f"PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint={BACKSTOP_PAGES};"


class Checkpointer:
    """A daemon thread checkpointing one database file until stopped."""

    def __init__(self, path: str, *, interval: float = INTERVAL_SECONDS):
        self.path = path
        self.interval = interval
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)

    def start(self) -> "Checkpointer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join()

    def _run(self) -> None:
        connection = sqlite3.connect(self.path, timeout=self.interval, isolation_level=None)
        try:
            while not self.stopping.wait(self.interval):
                try:
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error:
                    logger.exception("checkpointing %s failed; retrying", self.path)
        finally:
            connection.close()


_started: dict[str, Checkpointer] = {}


def start_for(database: dict) -> Checkpointer | None:
    """Checkpoint this Django database from this process, if it is an SQLite file (once)."""
    if database["ENGINE"] != "django.db.backends.sqlite3":
        return None
    path = str(database["NAME"])
    if path == ":memory:" or path.startswith("file:"):
        return None
    if path not in _started:
        _started[path] = Checkpointer(path).start()
    return _started[path]
