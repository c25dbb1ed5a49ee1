"""The channel layers: the embedded one cut to what one process needs, and several group
sends in one round trip on Redis.

The embedded (in-memory) layer, :class:`SweepingInMemoryChannelLayer`:

Channels' ``InMemoryChannelLayer`` does three things per message that cost a chat server at
a few hundred messages a second, and none changes an outcome here:

- it scans every channel's queue and every group's members on each ``receive`` and
  ``group_send`` to drop expired ones (with 500 chat sockets, a tenth of the server's CPU).
  Messages and memberships expire after minutes (``expiry``, ``group_expiry``), so sweeping
  once a second is as good;
- it deep-copies every message it queues, to mimic a layer that serializes. Senders here
  build a fresh dict for every send and receivers never change what they get, so the queued
  message is the sent one (every member of a group gets the same dict);
- its ``group_send`` starts a task per member and waits on them all, for what is a
  ``put_nowait`` on each member's queue.

On Redis, :class:`PipelinedRedisPubSubChannelLayer` is channels-redis's pub/sub layer with
``group_send_many``: the PUBLISHes of many group sends go in one pipeline per Redis shard, so
one round trip carries them all, in order. Channels-redis sends one PUBLISH at a time under
a lock per shard: a process's events then leave one round trip after another, each waiting
for its turn of a busy event loop, and the moment the loop is held up (a GC pass, a burst of
frames) events arrive faster than they leave. A queue that drains into one pipeline is never
left behind: the longer it got, the more the next round trip carries.
"""
import asyncio
import time
from collections.abc import Iterable

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer

SWEEP_INTERVAL_SECONDS = 1.0


class SweepingInMemoryChannelLayer(InMemoryChannelLayer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._swept_at = float("-inf")

    def _clean_expired(self):
        now = time.monotonic()
        if now - self._swept_at < SWEEP_INTERVAL_SECONDS:
            return
        self._swept_at = now
        super()._clean_expired()

    def _put(self, channel: str, message: dict) -> None:
        queue = self.channels.get(channel)
        if queue is None:
            queue = self.channels[channel] = asyncio.Queue(maxsize=self.get_capacity(channel))
        try:
            queue.put_nowait((time.time() + self.expiry, message))
        except asyncio.QueueFull:
            raise ChannelFull(channel) from None

    async def send(self, channel, message):
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_channel_name(channel)
        assert "__asgi_channel__" not in message
        self._put(channel, message)

    async def group_send(self, group, message):
        assert isinstance(message, dict), "Message is not a dict"
        self.require_valid_group_name(group)
        self._clean_expired()
        for channel in list(self.groups.get(group, ())):
            try:
                self._put(channel, message)
            except ChannelFull:
                pass  # as Channels' layers do: a full member misses the message


class PipelinedRedisPubSubChannelLayer(RedisPubSubChannelLayer):
    """Channels-redis's pub/sub layer with ``group_send_many`` (see the module docstring)."""

    async def group_send_many(self, messages: Iterable[tuple[str, dict]]) -> None:
        """Send each ``(group, message)`` as ``group_send`` would, one round trip per shard.

        A group's messages keep their order: a group always maps to one shard, and a shard
        runs its pipeline in order. Uses the shard's connection and lock as its own
        ``publish`` does (channels-redis 4.x internals: requirements.txt keeps it below 5, and
        tests/integration sends through this on Redis).
        """
        loop_layer = self._get_layer()
        by_shard: dict = {}
        for group, message in messages:
            name = loop_layer._get_group_channel_name(group)
            by_shard.setdefault(loop_layer._get_shard(name), []).append((name, self.serialize(message)))
        for shard, publishes in by_shard.items():
            async with shard._lock:
                shard._ensure_redis()
                pipeline = shard._redis.pipeline(transaction=False)
                for name, data in publishes:
                    pipeline.publish(name, data)
                await pipeline.execute()


async def group_send_many(layer, messages: list[tuple[str, dict]]) -> None:
    """Group sends in order: in one round trip where the layer can, else one after another."""
    send_many = getattr(layer, "group_send_many", None)
    if send_many is not None:
        await send_many(messages)
        return
    for group, message in messages:
        await layer.group_send(group, message)
