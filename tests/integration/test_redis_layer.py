"""The Redis channel layer's ``group_send_many``: many group sends in one round trip, in order."""
import asyncio
import os

import pytest

from dianxiaoer.channel_layers import PipelinedRedisPubSubChannelLayer

pytestmark = pytest.mark.redis


@pytest.fixture
async def layer():
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        pytest.skip("needs Redis: set REDIS_URL (the cross-process channel layer)")
    layer = PipelinedRedisPubSubChannelLayer(hosts=[{"address": redis_url, "socket_timeout": None}])
    yield layer
    await layer.flush()


async def test_each_member_gets_its_groups_messages_in_order(layer):
    first, second = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("g1", first)
    await layer.group_add("g1", second)
    await layer.group_add("g2", second)

    await layer.group_send_many(
        [("g1", {"type": "x", "n": 1}), ("g2", {"type": "x", "n": 2}), ("g1", {"type": "x", "n": 3})]
    )

    async def take(channel, count):
        return [(await asyncio.wait_for(layer.receive(channel), 5))["n"] for _ in range(count)]

    assert await take(first, 2) == [1, 3]
    assert await take(second, 3) == [1, 2, 3]


async def test_the_sends_share_one_round_trip(layer, monkeypatch):
    channel = await layer.new_channel()
    await layer.group_add("g", channel)
    shard = layer._get_layer()._shards[0]
    executed = []
    pipeline = shard._redis.pipeline

    def counting_pipeline(**kwargs):
        made = pipeline(**kwargs)
        execute = made.execute

        async def counted():
            executed.append(len(made.command_stack))
            return await execute()

        made.execute = counted
        return made

    monkeypatch.setattr(shard._redis, "pipeline", counting_pipeline)
    await layer.group_send_many([("g", {"type": "x", "n": n}) for n in range(20)])
    assert executed == [20]
    assert [(await asyncio.wait_for(layer.receive(channel), 5))["n"] for _ in range(20)] == list(range(20))
