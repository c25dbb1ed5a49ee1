"""What both inbox sockets share: frame parsing, limits, error frames, event forwarding.

A socket never dies of a bad frame: invalid JSON, a frame that is not an object, an unknown
type, bad fields, a refused write, a foreign conversation, an oversize frame, a flood and
even a bug in a handler each answer with an ``error`` frame and the socket stays open.
"""
import itertools
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import SyncToAsync
from channels.consumer import get_handler_name
from channels.db import DatabaseSyncToAsync
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connections
from django.http import Http404
from django.utils.translation import gettext as _

from dianxiaoer.text import storable

from .. import realtime

logger = logging.getLogger(__name__)

MAX_FRAME_BYTES = 64 * 1024
# Token bucket per socket: a burst of RATE_BURST frames, then RATE_PER_SECOND frames a second.
RATE_BURST = 30
RATE_PER_SECOND = 10.0
# A flooding client gets at most one ``rate_limited`` error per this many seconds.
RATE_ERROR_INTERVAL = 1.0

# Close codes sent after accept, so a browser can tell "log in again" from "retry later".
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404


# --- The sockets' database threads -------------------------------------------------------
#
# The sockets of a process run their queries on a few long-lived threads (see
# socket_db_caller below), so each of them holds at most one connection per database.
# database_sync_to_async closes it after each call when CONN_MAX_AGE is 0, which costs a new
# connection per frame: a PostgreSQL connect, or for SQLite a WAL checkpoint and fsync when the
# last connection closes. Socket calls keep it for up to SOCKET_DB_MAX_AGE seconds instead;
# broken connections are still dropped (Django's own checks) and CONN_MAX_AGE=None still means
# "forever". HTTP requests, which get a thread each under ASGI, keep the setting as it is.
SOCKET_DB_MAX_AGE = 300
# Checking a connection (and, with CONN_HEALTH_CHECKS, a ``SELECT 1`` before its next query)
# around every frame cost a round trip per chat message on PostgreSQL: a connection that had
# no error is checked at most this often.
SOCKET_DB_CHECK_SECONDS = 5.0


def _tidy_connections() -> None:
    now = time.monotonic()
    for connection in connections.all(initialized_only=True):
        if not connection.errors_occurred and now - getattr(connection, "dxe_checked_at", -SOCKET_DB_CHECK_SECONDS) < SOCKET_DB_CHECK_SECONDS:
            continue
        connection.dxe_checked_at = now
        close_at = connection.close_at
        if close_at is not None and now < close_at + SOCKET_DB_MAX_AGE:
            connection.close_at = None  # judge by health only, not by CONN_MAX_AGE
            try:
                connection.close_if_unusable_or_obsolete()
            finally:
                if connection.connection is not None:
                    connection.close_at = close_at
        else:
            connection.close_if_unusable_or_obsolete()


class SocketDatabaseSyncToAsync(DatabaseSyncToAsync):
    """``database_sync_to_async`` for socket frames: same thread, connection kept (see above)."""

    def thread_handler(self, loop, *args, **kwargs):
        _tidy_connections()
        try:
            return SyncToAsync.thread_handler(self, loop, *args, **kwargs)
        finally:
            _tidy_connections()


# PostgreSQL serves many transactions at once, and a chat message's write is mostly waiting
# for its five round trips (more so with the database across a network): there the sockets
# are spread over SOCKET_DB_THREADS threads, each with its own pooled connection, so one
# frame's waits do not queue every other socket's. A socket keeps to one thread, so its
# frames' queries still run one after another. SQLite takes one writer at a time: all sockets
# share asgiref's one thread-sensitive thread.
_threads: list[ThreadPoolExecutor] = []
_next_thread = itertools.count()


def _socket_db_threads() -> list[ThreadPoolExecutor]:
    if settings.SOCKET_DB_THREADS > 1 and not _threads:
        _threads.extend(
            ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"socket-db-{n}") for n in range(settings.SOCKET_DB_THREADS)
        )
    return _threads


def socket_db_caller():
    """A new socket's ``db_call``: ``db_call(func)`` is ``func`` run on the socket's DB thread."""
    threads = _socket_db_threads()
    if not threads:
        return SocketDatabaseSyncToAsync
    thread = threads[next(_next_thread) % len(threads)]
    return lambda func: SocketDatabaseSyncToAsync(func, thread_sensitive=False, executor=thread)


async def close_socket_db_connections() -> None:
    """Close the connections of every socket DB thread (tests, before dropping their database)."""
    threads = _socket_db_threads()
    if not threads:
        await SyncToAsync(connections.close_all)()
    for thread in threads:
        await SyncToAsync(connections.close_all, thread_sensitive=False, executor=thread)()


class UnknownPathSocket(AsyncWebsocketConsumer):
    """Any other websocket path: accepted and closed with 4404, as an unknown shop is.

    Without it Channels' router raises "No route found" and the server answers the
    handshake with a 500 and a logged traceback.
    """

    async def connect(self):
        await self.accept()
        await self.close(code=CLOSE_NOT_FOUND)


class FrameError(Exception):
    """A frame the server refuses; becomes an ``error`` frame with this code and message."""

    def __init__(self, code: str, message: str, **extra):
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra


def not_found() -> FrameError:
    # Unknown and foreign conversations answer alike, so existence does not leak.
    return FrameError("not_found", _("Conversation not found."))


class TokenBucket:
    def __init__(self, *, burst: int, per_second: float):
        self.burst = burst
        self.per_second = per_second
        self.tokens = float(burst)
        self.stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.per_second)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


# --- Field readers: raise FrameError("invalid") with a message naming the field ------------


def int_field(frame: dict, name: str, *, minimum: int = 0) -> int:
    value = frame.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise FrameError("invalid", _("`%(name)s` must be an integer of at least %(min)d.") % {"name": name, "min": minimum})
    return value


def str_field(frame: dict, name: str) -> str:
    value = frame.get(name)
    if not isinstance(value, str):
        raise FrameError("invalid", _("`%(name)s` must be a string.") % {"name": name})
    if not storable(value):
        raise FrameError("invalid", _("`%(name)s` must not contain NUL or unpaired surrogate characters.") % {"name": name})
    return value


def bool_field(frame: dict, name: str) -> bool:
    value = frame.get(name)
    if not isinstance(value, bool):
        raise FrameError("invalid", _("`%(name)s` must be true or false.") % {"name": name})
    return value


class JsonSocket(AsyncWebsocketConsumer):
    """Parses text frames into JSON objects and dispatches them by ``type``.

    Subclasses map frame types to coroutine methods in ``frame_handlers``; a handler gets the
    frame dict and answers by sending frames or by raising :class:`FrameError`,
    ``ValidationError`` or ``Http404``.
    """

    frame_handlers: dict[str, str] = {}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.bucket = TokenBucket(burst=RATE_BURST, per_second=RATE_PER_SECOND)
        self.db_call = socket_db_caller()
        self.last_rate_error = 0.0

    async def websocket_connect(self, message):
        await realtime.relay_sibling_events()
        await super().websocket_connect(message)

    async def dispatch(self, message):
        # Channels closes stale DB connections before *every* message (a thread hop even for
        # a forwarded event). Every DB call here goes through db_call, which
        # does that itself, so events are forwarded without touching the DB thread.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    # --- Sending -----------------------------------------------------------------------

    async def send_frame(self, frame: dict) -> None:
        await self.send(text_data=json.dumps(frame, ensure_ascii=False, separators=(",", ":"), cls=DjangoJSONEncoder))

    async def send_error(self, code: str, message: str, ref: str | None = None, **extra) -> None:
        await self.send_frame({"type": "error", "code": code, "message": message, "ref": ref, **extra})

    async def conv_event(self, message: dict) -> None:
        """A message from the realtime layer: a stored event, or a ready ephemeral frame."""
        payload = message["payload"]
        if "type" in payload:  # typing, presence: already a frame
            await self.send_frame(payload)
        else:
            await self.send_frame({"type": "event", "event": payload})

    # --- Receiving ---------------------------------------------------------------------

    async def receive(self, text_data=None, bytes_data=None):
        if not self.bucket.take():
            now = time.monotonic()
            if now - self.last_rate_error >= RATE_ERROR_INTERVAL:
                self.last_rate_error = now
                await self.send_error("rate_limited", _("Too many frames; this one was dropped. Slow down and retry."))
            return
        if text_data is None:
            await self.send_error("bad_frame", _("Frames must be JSON text."))
            return
        if len(text_data) > MAX_FRAME_BYTES or (
            len(text_data) > MAX_FRAME_BYTES // 4 and len(text_data.encode()) > MAX_FRAME_BYTES
        ):
            await self.send_error("too_large", _("Frame is larger than 64 KiB."))
            return
        try:
            frame = json.loads(text_data)
        except ValueError:
            await self.send_error("bad_json", _("Frame is not valid JSON."))
            return
        if not isinstance(frame, dict):
            await self.send_error("bad_frame", _("A frame must be a JSON object."))
            return
        frame_type = frame.get("type")
        method = self.frame_handlers.get(frame_type) if isinstance(frame_type, str) else None
        if method is None:
            # Echoed back only if it can be: a lone surrogate would make the error unsendable.
            echoed = frame_type if isinstance(frame_type, str) and storable(frame_type) else None
            await self.send_error("unknown_type", _("Unknown frame type."), echoed)
            return
        client_msg_id = frame.get("client_msg_id")
        ref = client_msg_id if isinstance(client_msg_id, str) and storable(client_msg_id) else frame_type
        try:
            await getattr(self, method)(frame)
        except FrameError as exc:
            await self.send_error(exc.code, exc.message, ref, **exc.extra)
        except ValidationError as exc:
            await self.send_error("invalid", " ".join(exc.messages), ref)
        except (Http404, ObjectDoesNotExist):
            await self.send_error("not_found", _("Conversation not found."), ref)
        except Exception:
            logger.exception("websocket handler %s failed", frame_type)
            await self.send_error("internal", _("Something went wrong on our side; please retry."), ref)

    async def on_ping(self, frame: dict) -> None:
        await self.send_frame({"type": "pong"})
