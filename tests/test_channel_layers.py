"""The embedded channel layer: expiry swept at most once per interval, messages handed over as
sent; group sends in order where a layer cannot pipeline them."""
import asyncio

import pytest

from dianxiaoer.channel_layers import SWEEP_INTERVAL_SECONDS, SweepingInMemoryChannelLayer, group_send_many


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


async def test_a_group_send_reaches_every_member_and_skips_a_full_one():
    layer = SweepingInMemoryChannelLayer(capacity=1)
    for channel in ("c1", "c2", "c3"):
        await layer.group_add("g", channel)
    await layer.send("c2", {"type": "x", "n": 0})  # c2 is full now
    message = {"type": "x", "n": 1}
    await layer.group_send("g", message)
    assert await layer.receive("c1") is message  # handed over, not copied
    assert await layer.receive("c2") == {"type": "x", "n": 0}
    assert await layer.receive("c3") is message
    await layer.group_send("g", {"type": "x", "n": 2})
    assert [(await layer.receive(c))["n"] for c in ("c1", "c2", "c3")] == [2, 2, 2]


async def test_a_full_channel_refuses_a_direct_send():
    from channels.exceptions import ChannelFull

    layer = SweepingInMemoryChannelLayer(capacity=1)
    await layer.send("c1", {"type": "x"})
    with pytest.raises(ChannelFull):
        await layer.send("c1", {"type": "x"})


async def test_group_send_many_sends_one_after_another_on_a_layer_without_it():
    layer = SweepingInMemoryChannelLayer()
    await layer.group_add("g1", "c1")
    await layer.group_add("g2", "c2")
    await group_send_many(layer, [("g1", {"type": "x", "n": 1}), ("g2", {"type": "x", "n": 2}), ("g1", {"type": "x", "n": 3})])
    assert [(await layer.receive("c1"))["n"] for _ in range(2)] == [1, 3]
    assert (await layer.receive("c2"))["n"] == 2
