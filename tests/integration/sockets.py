"""Websocket clients of the integration tests: open agent and buyer sockets, read frames."""
import asyncio
import json
import time

from websockets.asyncio.client import connect

BUYER_PROCESS, AGENT_PROCESS = 0, 1


async def open_agent(product, process: int = AGENT_PROCESS, agent: int = 0):
    ws = await connect(
        product.url(process, "/ws/agent/"),
        origin=product.origin(process),
        additional_headers={"Cookie": f"sessionid={product.agents[agent]['session']}"},
        ping_interval=None,  # truly idle: no client keep-alive traffic
    )
    hello = await next_frame(ws, "hello")
    assert hello["user"]["id"] == product.agents[agent]["id"]
    return ws


async def open_buyer(product, token_index: int, process: int = BUYER_PROCESS):
    ws = await connect(
        product.url(process, f"/ws/chat/{product.slug}/?t={product.buyer_tokens[token_index]}"),
        origin=product.origin(process),
        ping_interval=None,
    )
    await next_frame(ws, "hello")
    return ws


async def next_frame(
    ws, frame_type: str, *, timeout: float = 10, seen: list | None = None, skip=("presence", "list.update")
) -> dict:
    """The next frame of ``frame_type``, skipping those of the types in ``skip`` (by default
    presence news and list rows), which are appended to ``seen`` when given."""
    deadline = time.monotonic() + timeout
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), max(0.01, deadline - time.monotonic())))
        if frame["type"] != frame_type and frame["type"] in skip:
            if seen is not None:
                seen.append(frame)
            continue
        assert frame["type"] == frame_type, frame
        return frame


async def next_row(ws, conversation_id: int, last_seq: int, *, seen: list | None = None) -> dict:
    """Wait for the conversation's list row at ``last_seq``; only rows and presence may come
    meanwhile (appended to ``seen`` when given)."""
    while True:
        frame = await next_frame(ws, "list.update", seen=seen)
        if seen is not None:
            seen.append(frame)
        for row in frame["conversations"]:
            if (row["id"], row["last_seq"]) == (conversation_id, last_seq):
                return row


async def watch(ws, conversation_ids: list[int]) -> None:
    await ws.send(json.dumps({"type": "watch", "conversation_ids": conversation_ids}))
    assert (await next_frame(ws, "watching"))["conversation_ids"] == sorted(conversation_ids)


async def next_event(ws, kind: str) -> dict:
    while True:
        event = (await next_frame(ws, "event"))["event"]
        if event["kind"] == kind:
            return event
