"""Publishing conversation events to websocket groups, after the write commits.

A service calls :func:`publish_on_commit` inside its transaction; nothing is sent unless the
transaction commits, so a client never sees an event the database does not hold. Each event
costs at most two ``group_send`` calls: one to the shop's agents, one to the buyer's group
(skipped for agent-only events such as private notes).

The buyer's group holds every socket of one buyer on one channel (their tabs), whichever
conversation each shows: a conversation started elsewhere (another tab, an image upload over
HTTP, after a resolve) reaches them all, and the sockets move to it (``BuyerConsumer``). It is
named by the platform buyer id, not a profile row, so a visitor's socket joins it before their
first message makes the profile.

Inside a server process the write runs on a worker thread of the event loop that serves the
sockets (asgiref's ``sync_to_async``). Its events are handed to that loop's publisher, one
task that sends them in commit order, and the thread goes on at once: waiting for the loop,
busy with hundreds of sockets, was a fifth of each chat message's time on the socket's one DB
thread. The publisher takes everything queued at once and sends it in one round trip
(``group_send_many``, see ``dianxiaoer/channel_layers.py``), so a held-up loop never leaves it
behind. Elsewhere (Celery, commands) the send is waited for; on the embedded layer it is
relayed to the web server, whose memory holds the layer (``dianxiaoer/layer_relay.py``).
"""
import asyncio
import hashlib
import logging
import os
import weakref

from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.utils.crypto import salted_hmac

from dianxiaoer import layer_relay
from dianxiaoer.channel_layers import group_send_many

logger = logging.getLogger(__name__)


def shop_agents_group(shop_id: int) -> str:
    return f"shop-{shop_id}-agents"


def shop_buyers_group(shop_id: int) -> str:
    """Every buyer socket of the shop: told whether any agent is online (``staffed``)."""
    return f"shop-{shop_id}-buyers"


def buyer_group(channel_id: int, buyer_id: str) -> str:
    # Buyer ids are free text; group names are short ASCII: a digest names the buyer.
    return f"buyer-{channel_id}-{hashlib.sha256(buyer_id.encode()).hexdigest()[:32]}"


async def send_frames(messages: list[tuple[str, dict]]) -> None:
    """Send each ``(group, frame)`` now, as a ``conv.event`` that sockets forward unchanged."""
    wrapped = [(group, {"type": "conv.event", "payload": payload}) for group, payload in messages]
    await group_send_many(get_channel_layer(), wrapped)


# A send that fails (a pooled Redis connection found dead after a Redis restart) is tried
# again once: the retry reconnects. A group that got the first try gets the event twice, which
# clients drop by seq.
PUBLISH_ATTEMPTS = 2
PUBLISH_RETRY_SECONDS = 0.05


class _Publisher:
    """One event loop's queue of group sends, sent by one task in the order they were queued:
    whatever is queued when the task gets to it leaves together."""

    def __init__(self):
        self.queue: asyncio.Queue = asyncio.Queue()
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            messages = list(await self.queue.get())
            while not self.queue.empty():
                messages.extend(self.queue.get_nowait())
            for attempt in range(1, PUBLISH_ATTEMPTS + 1):
                try:
                    await send_frames(messages)
                    break
                except Exception:  # stored anyway: clients fill the hole by resync
                    if attempt == PUBLISH_ATTEMPTS:
                        logger.exception("publishing an event failed")
                    else:
                        await asyncio.sleep(PUBLISH_RETRY_SECONDS)


_publishers: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Publisher]" = weakref.WeakKeyDictionary()


def _enqueue(loop: asyncio.AbstractEventLoop, messages: list[tuple[str, dict]]) -> None:
    publisher = _publishers.get(loop)
    if publisher is None:
        publisher = _publishers[loop] = _Publisher()
    publisher.queue.put_nowait(messages)


def _serving_loop() -> asyncio.AbstractEventLoop | None:
    """The running event loop whose worker thread this is (set by asgiref), if any."""
    local = SyncToAsync.threadlocal
    if getattr(local, "main_event_loop_pid", None) != os.getpid():
        return None
    loop = getattr(local, "main_event_loop", None)
    return loop if loop is not None and loop.is_running() else None


def _send(messages: list[tuple[str, dict]]) -> None:
    """Send to groups in order: queued to the serving loop's publisher; from another process
    on the embedded layer, relayed to the web server's; else waited for."""
    loop = _serving_loop()
    if loop is not None:
        loop.call_soon_threadsafe(_enqueue, loop, messages)
    elif not layer_relay.forward(messages):
        async_to_sync(send_frames)(messages)


async def relay_sibling_events() -> None:
    """Take other processes' events into this loop's publisher (embedded layer only, see
    ``dianxiaoer/layer_relay.py``); sockets call it as they connect."""
    loop = asyncio.get_running_loop()
    await layer_relay.listen(lambda messages: _enqueue(loop, messages))


def _targets(*, shop_id: int | None, agent_payload: dict | None, buyer: str | None, buyer_payload: dict | None) -> list:
    targets = []
    if agent_payload is not None:
        targets.append((shop_agents_group(shop_id), agent_payload))
    if buyer_payload is not None:
        targets.append((buyer, buyer_payload))
    return targets


def publish_on_commit(
    *, shop_id: int, agent_payload: dict, buyer: str | None = None, buyer_payload: dict | None = None
) -> None:
    """Queue one event for agents of the shop and, unless None, its buyer-side form for the
    ``buyer`` group (:func:`buyer_group`)."""
    publish_frames_on_commit(_targets(shop_id=shop_id, agent_payload=agent_payload, buyer=buyer, buyer_payload=buyer_payload))


def publish_frames_on_commit(messages: list[tuple[str, dict]]) -> None:
    """Queue ``(group, frame)`` sends for when the transaction commits."""
    transaction.on_commit(lambda: _send(messages))


def publish_access_changed(*, shop_id: int, user_id: int, session: str | None = None) -> None:
    """Tell the shop's hubs to close the user's agent sockets (see ``inbox/access_signals.py``):
    all of them, or with ``session`` (a ``session_tag``) those of that login session only."""
    _send([(shop_agents_group(shop_id), {"type": "access.changed", "user_id": user_id, "session": session})])


def session_tag(session_key: str) -> str:
    """How the realtime layer names a login session: a keyed hash, never the key itself."""
    return salted_hmac("dxe.socket-session", session_key).hexdigest()[:32]


def publish_ephemeral(
    *, shop_id: int | None = None, agent_payload: dict | None = None, buyer: str | None = None, buyer_payload: dict | None = None
) -> None:
    """Send a state-less signal (typing, viewing) right away: it is never stored, so never
    resynced. ``agent_payload`` goes to the agents of ``shop_id``, ``buyer_payload`` to the
    ``buyer`` group, each unless None."""
    _send(_targets(shop_id=shop_id, agent_payload=agent_payload, buyer=buyer, buyer_payload=buyer_payload))
