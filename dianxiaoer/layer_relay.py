"""Other processes' events for the web server's in-memory channel layer (embedded defaults).

On the embedded defaults the channel layer lives in the web server's memory, so an event a
sibling process published (the Celery worker recording a platform delivery, a management
command) reached nobody. The web server listens on a Unix socket (``CHANNEL_RELAY_SOCKET``,
in ``var/``, for its own user only) from its first websocket on; a sibling writes its group
sends there, one JSON line per call, and the server hands each line to its publisher as it
reads it (clients put events in seq order themselves, as for events of two server processes).
With Redis every process shares the layer and there is no relay.
"""
import asyncio
import contextlib
import json
import logging
import os
import socket
from collections.abc import Callable

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder

logger = logging.getLogger(__name__)

SEND_TIMEOUT_SECONDS = 2

# The listening server and the loop it serves (tests run several loops in one process).
_server: asyncio.AbstractServer | None = None
_server_loop: asyncio.AbstractEventLoop | None = None


async def listen(deliver: Callable[[list[tuple[str, dict]]], None]) -> None:
    """Serve the relay on the running loop, once: each line read goes to ``deliver``."""
    global _server, _server_loop
    path = settings.CHANNEL_RELAY_SOCKET
    loop = asyncio.get_running_loop()
    if not path or (_server is not None and _server_loop is loop):
        return

    async def take(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                try:
                    messages = [(str(group), payload) for group, payload in json.loads(line)]
                except (ValueError, TypeError):
                    logger.warning("channel relay: dropped a malformed line")
                    continue
                deliver(messages)
        finally:
            writer.close()

    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)  # left by a server that stopped
    try:
        _server = await asyncio.start_unix_server(take, sock=_private_socket(path))
    except OSError:
        logger.exception("channel relay: cannot listen on %s; other processes' events stay there", path)
        return
    _server_loop = loop


def _private_socket(path: str) -> socket.socket:
    """A Unix socket bound at ``path`` for its owner only from the start: a chmod after bind
    would leave a moment in which another local user could connect and inject events."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    previous = os.umask(0o177)
    try:
        sock.bind(path)
    except OSError:
        sock.close()
        raise
    finally:
        os.umask(previous)
    return sock


def forward(messages: list[tuple[str, dict]]) -> bool:
    """Hand group sends to the web server's layer; False when no relay is set up or listening."""
    path = settings.CHANNEL_RELAY_SOCKET
    if not path:
        return False
    line = json.dumps(messages, ensure_ascii=False, cls=DjangoJSONEncoder).encode() + b"\n"
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(SEND_TIMEOUT_SECONDS)
            sock.connect(path)
            sock.sendall(line)
    except OSError:  # no web server running: nobody to tell
        return False
    return True
