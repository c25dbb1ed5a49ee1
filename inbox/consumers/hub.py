"""Per-process fan-out of a shop's agent events: one channel-layer member per shop and process.

Each server process joins ``shop-<id>-agents`` once per shop it has agent sockets for; the
hub receives each event once, encodes the frame once, and hands the text to the local sockets
that follow the conversation. The fan-out is narrowed so its cost does not grow with
"messages x agents":

- a stored event in full (``{"type": "event"}``) goes only to the sockets that *follow* its
  conversation: the assignee's sockets and those watching it (``watch`` frames: the threads a
  workspace holds); typing and viewing go to the watchers, never back to the agent they name;
- list rows go by the list a socket shows (its ``list`` frame: ``all``, ``unassigned`` or
  ``mine``), coalesced: rows changed within ``LIST_FLUSH_SECONDS`` leave together in one
  ``list.update`` frame (newest row per conversation), encoded once per list. The first
  change after a quiet spell leaves at once; only a busy shop waits for the next flush.
  ``all`` gets every row; ``unassigned`` the rows of unassigned conversations; ``mine`` none
  but those every list gets: rows of conversations just created or (re)assigned, which may
  enter or leave any list. A socket's own conversations reach it as full events anyway, so
  an agent working in ``mine`` is not sent the shop's churn;
- presence goes to every socket but the agent's own; a buyer profile's or orders' change
  (``customer.updated``, ``customer.orders``) to every socket;
- ``access.changed`` (the user's shops or roles changed) is not forwarded: the user's
  sockets are closed, and open again with what the user has now.

Order per socket stays what a per-socket channel gives: a socket busy with a frame of its
own (an ack, a resync) holds hub frames until it is done (see ``AgentConsumer``), so a live
event never cuts into a resync and follows the ack of the send that caused it.
"""
import asyncio
import json
import logging
import time

from channels.layers import get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder

from .. import realtime

logger = logging.getLogger(__name__)

# Channels' in-memory layer forgets group members after its group_expiry (a day by default).
REJOIN_SECONDS = 3600
# List rows of a busy shop leave together at most this often.
LIST_FLUSH_SECONDS = 0.25
# What a socket may show in its list (``list`` frame), ``all`` until it says.
LIST_VIEWS = ("all", "unassigned", "mine")
# A buyer's profile or orders changed: any socket may show the buyer (changes are rare).
SHOP_WIDE_FRAMES = frozenset({"customer.updated", "customer.orders"})
# Events whose conversation may enter or leave any list: their rows go to every socket.
EVERY_LIST_KINDS = frozenset({"conversation.created", "conversation.assigned"})


def encode_frame(frame: dict) -> str:
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"), cls=DjangoJSONEncoder)


def frame_for(payload: dict) -> dict:
    """The frame a ``conv.event`` payload becomes: ready ephemeral frames pass as they are."""
    return payload if "type" in payload else {"type": "event", "event": payload}


class ShopHub:
    """The process's member of one shop's agents group, and the local sockets it feeds."""

    def __init__(self, layer, shop_id: int):
        self.layer = layer
        self.shop_id = shop_id
        self.group = realtime.shop_agents_group(shop_id)
        self.sockets: set = set()
        self.channel: str | None = None
        self.task: asyncio.Task | None = None
        self.ready = asyncio.Event()
        self.failed = False
        # List rows waiting for the next flush, newest per conversation, and whether every
        # list must get it (the conversation was created or assigned meanwhile).
        self.pending: dict[int, tuple[dict, bool]] = {}
        self.flush_timer: asyncio.TimerHandle | None = None
        self.flushing: asyncio.Task | None = None
        self.last_flush = 0.0

    async def start(self) -> None:
        self.channel = await self.layer.new_channel()
        await self.layer.group_add(self.group, self.channel)
        self.joined_at = time.monotonic()
        self.task = asyncio.create_task(self._run())
        self.ready.set()

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
        if self.flush_timer is not None:
            self.flush_timer.cancel()
        if self.channel is not None:
            await self.layer.group_discard(self.group, self.channel)

    async def _run(self) -> None:
        while True:
            try:
                message = await self.layer.receive(self.channel)
                if time.monotonic() - self.joined_at > REJOIN_SECONDS:
                    await self.layer.group_add(self.group, self.channel)
                    self.joined_at = time.monotonic()
            except asyncio.CancelledError:
                raise
            except Exception:
                # The layer failed (Redis restarted?): wait, then make sure we are a member again.
                logger.exception("agent hub of shop %s lost its channel layer; retrying", self.shop_id)
                await asyncio.sleep(1)
                try:
                    await self.layer.group_add(self.group, self.channel)
                    self.joined_at = time.monotonic()
                except Exception:
                    pass  # still down: the next receive fails and brings us back here
                continue
            try:
                if message.get("type") == "conv.event":
                    await self.route(message["payload"])
            except Exception:  # one bad event must not stop the shop's feed
                logger.exception("agent hub of shop %s could not route an event", self.shop_id)

    async def route(self, payload: dict) -> None:
        """Hand one layer payload to the sockets it is for (see the module docstring)."""
        if payload.get("type") == "access.changed":
            session = payload.get("session")
            for socket in [
                s for s in self.sockets if s.user_id == payload.get("user_id") and session in (None, s.session_tag)
            ]:
                await socket.access_changed()
            return
        if payload.get("type") == "presence":
            text = encode_frame(payload)
            await self._deliver(text, [s for s in self.sockets if s.user_id != payload.get("user_id")])
            return
        if payload.get("type") in SHOP_WIDE_FRAMES:
            await self._deliver(encode_frame(payload), list(self.sockets))
            return
        conversation_id = payload.get("conversation_id")
        row = payload.get("conversation")
        assignee_id = (row.get("assignee") or {}).get("id") if row else None
        # An agent's own typing and viewing frames (ready frames naming them) are not echoed.
        author_id = payload.get("user_id") if "type" in payload else None
        followers = [
            s for s in self.sockets if s.follows(conversation_id, assignee_id) and (author_id is None or s.user_id != author_id)
        ]
        if followers:
            await self._deliver(encode_frame(frame_for(payload)), followers)
        if row is not None:
            self._queue_row(row, to_every_list=payload.get("kind") in EVERY_LIST_KINDS)

    def _queue_row(self, row: dict, *, to_every_list: bool) -> None:
        queued = self.pending.get(row["id"])
        if queued is None:
            self.pending[row["id"]] = (row, to_every_list)
        else:
            newest = row if queued[0]["last_seq"] <= row["last_seq"] else queued[0]
            self.pending[row["id"]] = (newest, to_every_list or queued[1])
        if self.flush_timer is None:
            wait = max(0.0, self.last_flush + LIST_FLUSH_SECONDS - time.monotonic())
            self.flush_timer = asyncio.get_running_loop().call_later(wait, self._start_flush)

    def _start_flush(self) -> None:
        self.flushing = asyncio.create_task(self.flush())

    async def flush(self) -> None:
        """Send the queued list rows, one frame per list, to the sockets showing that list."""
        self.flush_timer = None
        self.last_flush = time.monotonic()
        queued, self.pending = list(self.pending.values()), {}
        rows = {
            "all": [row for row, _ in queued],
            "unassigned": [row for row, every in queued if every or row["assignee"] is None],
            "mine": [row for row, every in queued if every],
        }
        for view, view_rows in rows.items():
            showing = [socket for socket in self.sockets if socket.list_view == view]
            if view_rows and showing:
                await self._deliver(encode_frame({"type": "list.update", "conversations": view_rows}), showing)

    async def _deliver(self, text: str, sockets: list) -> None:
        for socket in sockets:
            try:
                await socket.hub_deliver(text)
            except Exception:  # one socket must not stop the others
                logger.exception("agent hub of shop %s could not deliver to a socket", self.shop_id)


def _registry(layer) -> dict[int, ShopHub]:
    # Kept on the layer object: a fresh layer (as in tests) starts with no hubs.
    hubs = getattr(layer, "_dxe_agent_hubs", None)
    if hubs is None:
        hubs = layer._dxe_agent_hubs = {}
    return hubs


async def subscribe(socket, shop_ids: list[int]) -> None:
    layer = get_channel_layer()
    hubs = _registry(layer)
    for shop_id in shop_ids:
        hub = hubs.get(shop_id)
        if hub is None:
            hub = hubs[shop_id] = ShopHub(layer, shop_id)
            try:
                await hub.start()
            except BaseException:
                del hubs[shop_id]
                hub.failed = True
                hub.ready.set()
                raise
        else:
            await hub.ready.wait()
            if hub.failed:
                raise RuntimeError(f"agent hub of shop {shop_id} could not join its group")
        hub.sockets.add(socket)


async def unsubscribe(socket, shop_ids: list[int]) -> None:
    layer = get_channel_layer()
    hubs = _registry(layer)
    for shop_id in shop_ids:
        hub = hubs.get(shop_id)
        if hub is None:
            continue
        hub.sockets.discard(socket)
        if not hub.sockets:
            del hubs[shop_id]
            await hub.stop()
