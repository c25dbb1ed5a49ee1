"""The embedded channel layer sweeps expired messages, at most once per interval."""
import asyncio

from dianxiaoer.channel_layers import SWEEP_INTERVAL_SECONDS, SweepingInMemoryChannelLayer


async def test_expired_messages_are_swept_once_per_interval():
    layer = SweepingInMemoryChannelLayer(expiry=0.05)
    await layer.send("first", {"type": "x"})
    await asyncio.sleep(0.1)
    layer._clean_expired()
    assert "first" not in layer.channels  # the first sweep runs at once

    await layer.send("second", {"type": "x"})
    await asyncio.sleep(0.1)
    layer._clean_expired()
    assert "second" in layer.channels  # expired, but the interval has not passed
    layer._swept_at -= SWEEP_INTERVAL_SECONDS
    layer._clean_expired()
    assert "second" not in layer.channels


async def test_messages_still_flow():
    layer = SweepingInMemoryChannelLayer()
    await layer.group_add("g", "c1")
    await layer.group_send("g", {"type": "x", "n": 1})
    assert await layer.receive("c1") == {"type": "x", "n": 1}
