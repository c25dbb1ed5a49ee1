"""Buyer and agent on two different daphne processes, joined by the Redis channel layer.

An agent socket gets full events of the conversations it follows (``watch`` frames, or
assigned to its user) and coalesced ``list.update`` rows of all its shop's conversations.
"""
import asyncio
import json

import pytest

from .sockets import AGENT_PROCESS, BUYER_PROCESS, next_event, next_frame, next_row, open_agent, open_buyer, watch

pytestmark = pytest.mark.redis


async def test_messages_cross_between_processes(product):
    agent = await open_agent(product)
    # A colleague on the buyer's process who follows nothing: list rows only.
    colleague = await open_agent(product, BUYER_PROCESS, agent=1)
    buyer = await open_buyer(product, 0)
    colleague_frames: list[dict] = []
    try:
        await buyer.send(json.dumps({"type": "send", "client_msg_id": "x-1", "text": "跨进程你好"}))
        ack = await next_frame(buyer, "ack")
        conversation_id = ack["message"]["conversation_id"]
        # A new conversation is nobody's yet: the agent sees it appear as a list row, opens it.
        row = await next_row(agent, conversation_id, ack["message"]["seq"])
        assert row["last_message_preview"] == "跨进程你好"
        await watch(agent, [conversation_id])

        await buyer.send(json.dumps({"type": "send", "client_msg_id": "x-2", "text": "在吗"}))
        await next_frame(buyer, "ack")  # no echo of the buyer's own messages on its socket
        event = await next_event(agent, "message.created")
        assert (event["conversation_id"], event["message"]["text"]) == (conversation_id, "在吗")

        await agent.send(
            json.dumps({"type": "send", "conversation_id": conversation_id, "client_msg_id": "y-1", "text": "收到"})
        )
        assert (await next_frame(agent, "ack"))["created"] is True
        reply = await next_event(buyer, "message.created")
        assert (reply["message"]["text"], reply["message"]["author"]) == ("收到", {"nickname": "小美"})

        await buyer.send(json.dumps({"type": "typing", "is_typing": True}))
        while (frame := json.loads(await asyncio.wait_for(agent.recv(), 10)))["type"] != "typing":
            assert frame["type"] in ("event", "list.update", "presence"), frame
        assert (frame["side"], frame["conversation_id"]) == ("buyer", conversation_id)

        await agent.send(json.dumps({"type": "read", "conversation_id": conversation_id, "seq": reply["seq"]}))
        read = await next_event(buyer, "conversation.read")
        assert read["data"] == {"side": "agent", "up_to_seq": reply["seq"]}

        # The colleague got each change as a row (the read is the last), never an event or typing.
        await next_row(colleague, conversation_id, read["seq"], seen=colleague_frames)
        assert {frame["type"] for frame in colleague_frames} <= {"list.update", "presence"}
    finally:
        await agent.close()
        await colleague.close()
        await buyer.close()


async def test_idle_agent_socket_on_redis_stays_up(product):
    agent = await open_agent(product)
    buyer = await open_buyer(product, 1)
    try:
        await buyer.send(json.dumps({"type": "send", "client_msg_id": "idle-0", "text": "你好"}))
        ack = await next_frame(buyer, "ack")
        conversation_id = ack["message"]["conversation_id"]
        await next_row(agent, conversation_id, ack["message"]["seq"])
        await watch(agent, [conversation_id])
        await asyncio.sleep(15)  # redis-py 8 kills idle subscribers after ~5 s unless configured
        await buyer.send(json.dumps({"type": "send", "client_msg_id": "idle-1", "text": "还在吗"}))
        await next_frame(buyer, "ack", skip=("event",))
        event = await next_event(agent, "message.created")
        assert event["message"]["text"] == "还在吗"
        await agent.send(json.dumps({"type": "ping"}))
        await next_frame(agent, "pong")
    finally:
        await agent.close()
        await buyer.close()


async def test_presence_crosses_processes(product):
    watcher = await open_agent(product, BUYER_PROCESS, agent=0)
    try:
        other = product.agents[1]["id"]
        colleague = await open_agent(product, AGENT_PROCESS, agent=1)
        frame = json.loads(await asyncio.wait_for(watcher.recv(), 10))
        assert frame == {"type": "presence", "user_id": other, "online": True}
        await colleague.close()
        frame = json.loads(await asyncio.wait_for(watcher.recv(), 10))
        assert frame == {"type": "presence", "user_id": other, "online": False}
    finally:
        await watcher.close()
