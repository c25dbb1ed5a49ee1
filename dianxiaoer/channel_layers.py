"""The embedded (in-memory) channel layer, with its expiry sweep run at most once a second.

Channels' ``InMemoryChannelLayer`` scans every channel's queue and every group's members on
each ``receive`` and ``group_send``: with 500 chat sockets that scan was a tenth of the
server's CPU at a few hundred messages a second. Messages and memberships expire after
minutes (``expiry``, ``group_expiry``), so sweeping once a second changes no outcome.
"""
import time

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
