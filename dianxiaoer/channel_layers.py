"""The embedded (in-memory) channel layer, cut to what one process needs.

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
"""
import asyncio
import time

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer

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
