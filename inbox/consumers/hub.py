"""Per-process fan-out of a shop's agent events: one channel-layer member per shop and process.

Every event of a shop goes to all of its agent sockets. With one channel-layer member per
socket, each event costs, per socket, a layer message (a copy on the in-memory layer; queue
work and a wake-up on Redis), a dispatch and its own JSON encoding; with 50 agents that
per-socket work is what bounds throughput. Instead, each server process joins
``shop-<id>-agents`` once per shop it has agent sockets for; the hub receives each event
once, encodes the frame once, and hands the text to its local sockets.

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

# channels-redis forgets group members after its group_expiry (a day by default).
REJOIN_SECONDS = 3600


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

    async def start(self) -> None:
        self.channel = await self.layer.new_channel()
        await self.layer.group_add(self.group, self.channel)
        self.joined_at = time.monotonic()
        self.task = asyncio.create_task(self._run())
        self.ready.set()

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
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
                if message.get("type") != "conv.event":
                    continue
                payload = message["payload"]
                text = encode_frame(frame_for(payload))
            except Exception:  # one bad event must not stop the shop's feed
                logger.exception("agent hub of shop %s could not read an event", self.shop_id)
                continue
            for socket in list(self.sockets):
                try:
                    await socket.hub_deliver(payload, text)
                except Exception:  # nor one socket the others
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
