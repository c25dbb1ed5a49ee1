"""The per-process shop hub (inbox/consumers/hub.py): who gets what, and how list rows coalesce.

Drives ``ShopHub.route`` directly with stand-in sockets that follow conversations the way
``AgentConsumer`` does, so timing is the hub's own (no channel layer, no database). The same
rules through real sockets: tests/inbox/test_consumers.py.
"""
import asyncio
import json
import time

import pytest

from inbox.consumers import hub
from inbox.consumers.agent import AgentConsumer


class StandInSocket:
    """What the hub needs of an agent socket; records each frame with the time it arrived."""

    follows = AgentConsumer.follows

    def __init__(self, user_id: int, watching=(), list_view: str = "all"):
        self.user_id = user_id
        self.watching = frozenset(watching)
        self.list_view = list_view
        self.frames: list[tuple[float, dict]] = []

    async def hub_deliver(self, text: str) -> None:
        self.frames.append((time.monotonic(), json.loads(text)))

    def types(self) -> list[str]:
        return [frame["type"] for _, frame in self.frames]


def event(
    conversation_id: int, seq: int, *, assignee_id: int | None = None, preview: str = "", kind: str = "message.created"
) -> dict:
    """A stored event's agent payload, as services publish it (trimmed to what routing reads)."""
    row = {
        "id": conversation_id,
        "last_seq": seq,
        "assignee": {"id": assignee_id} if assignee_id is not None else None,
        "last_message_preview": preview,
    }
    return {"kind": kind, "conversation_id": conversation_id, "seq": seq, "conversation": row}


async def wait_frames(socket: StandInSocket, count: int, *, timeout: float = 2) -> None:
    deadline = time.monotonic() + timeout
    while len(socket.frames) < count:
        assert time.monotonic() < deadline, f"{len(socket.frames)} frames, expected {count}: {socket.types()}"
        await asyncio.sleep(0.005)


@pytest.fixture
async def shop_hub():
    shop_hub = hub.ShopHub(layer=None, shop_id=1)  # never started: route() is fed by hand
    yield shop_hub
    await shop_hub.stop()


async def test_full_events_go_to_followers_and_rows_to_every_socket(shop_hub):
    assignee_tab, assignee_other_tab = StandInSocket(1), StandInSocket(1)
    watcher = StandInSocket(2, watching={10})
    bystander = StandInSocket(3, watching={11})
    sockets = [assignee_tab, assignee_other_tab, watcher, bystander]
    shop_hub.sockets.update(sockets)

    await shop_hub.route(event(10, 1, assignee_id=1))
    for socket in (assignee_tab, assignee_other_tab, watcher):
        assert socket.types() == ["event"]
        assert socket.frames[0][1]["event"]["seq"] == 1
    assert bystander.frames == []
    row = event(10, 1, assignee_id=1)["conversation"]
    for socket in sockets:  # followers too
        await wait_frames(socket, 2 if socket is not bystander else 1)
        assert socket.frames[-1][1] == {"type": "list.update", "conversations": [row]}

    # Typing carries no assignee: watchers only.
    typing = {"type": "typing", "conversation_id": 10, "side": "buyer", "is_typing": True, "name": "买家"}
    await shop_hub.route(typing)
    assert watcher.frames[-1][1] == typing
    # Presence: everybody but the agent's own sockets.
    presence = {"type": "presence", "user_id": 1, "online": False}
    await shop_hub.route(presence)
    for socket in (watcher, bystander):
        assert socket.frames[-1][1] == presence
    assert assignee_tab.types() == assignee_other_tab.types() == ["event", "list.update"]
    assert watcher.types() == ["event", "list.update", "typing", "presence"]
    assert bystander.types() == ["list.update", "presence"]
    # A buyer profile's change: every socket, the agent's own too (any list may show the buyer).
    for changed in (
        {"type": "customer.updated", "customer": {"id": 7, "nickname": "新昵称"}},
        {"type": "customer.orders", "customer_id": 7},
    ):
        await shop_hub.route(changed)
        for socket in sockets:
            assert socket.frames[-1][1] == changed


async def test_list_rows_leave_at_once_when_quiet_and_together_when_busy(shop_hub, monkeypatch):
    interval = 0.5
    monkeypatch.setattr(hub, "LIST_FLUSH_SECONDS", interval)
    socket = StandInSocket(3)
    shop_hub.sockets.add(socket)

    routed_at = time.monotonic()
    await shop_hub.route(event(10, 1))
    await wait_frames(socket, 1)
    assert socket.frames[0][0] - routed_at < interval  # the first change after a quiet spell
    flushed_at = shop_hub.last_flush

    # Busy: these leave together after the interval, newest row per conversation. A stale
    # row arriving late does not replace a newer one; of equal seqs (a delivery update), the later wins.
    await shop_hub.route(event(10, 2, preview="旧"))
    await shop_hub.route(event(10, 3, preview="先"))
    await shop_hub.route(event(11, 1, preview="另一个"))
    await shop_hub.route(event(10, 3, preview="新"))
    await shop_hub.route(event(10, 2, preview="过时"))
    await wait_frames(socket, 2)
    arrived_at, frame = socket.frames[1]
    assert arrived_at >= flushed_at + interval - 0.01
    assert sorted((row["id"], row["last_seq"], row["last_message_preview"]) for row in frame["conversations"]) == [
        (10, 3, "新"),
        (11, 1, "另一个"),
    ]

    # Quiet again once the interval has passed: the next change leaves at once.
    await asyncio.sleep(interval)
    routed_at = time.monotonic()
    await shop_hub.route(event(10, 4))
    await wait_frames(socket, 3)
    assert socket.frames[2][0] - routed_at < interval
    assert [row["last_seq"] for row in socket.frames[2][1]["conversations"]] == [4]
    assert len(socket.frames) == 3


async def test_list_rows_go_by_the_list_a_socket_shows(shop_hub, monkeypatch):
    monkeypatch.setattr(hub, "LIST_FLUSH_SECONDS", 0.05)
    everything = StandInSocket(1, list_view="all")
    unassigned = StandInSocket(2, list_view="unassigned")
    mine = StandInSocket(3, list_view="mine")
    shop_hub.sockets.update([everything, unassigned, mine])

    def rows(socket) -> list[tuple[int, int]]:
        return [(row["id"], row["last_seq"]) for _, frame in socket.frames for row in frame["conversations"]]

    async def settle() -> None:
        while shop_hub.pending or shop_hub.flush_timer is not None:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.02)

    await shop_hub.route(event(10, 1, kind="conversation.created"))  # new: enters every list
    await shop_hub.route(event(11, 5, assignee_id=4))  # someone else's chat
    await shop_hub.route(event(12, 2))  # unassigned chat
    await settle()
    assert sorted(rows(everything)) == [(10, 1), (11, 5), (12, 2)]
    assert sorted(rows(unassigned)) == [(10, 1), (12, 2)]
    assert rows(mine) == [(10, 1)]

    # Taken by agent 4: the row leaves the unassigned list and may enter anyone's, so every
    # list gets it, even when a later message row of the conversation is coalesced over it.
    await shop_hub.route(event(12, 3, assignee_id=4, kind="conversation.assigned"))
    await shop_hub.route(event(12, 4, assignee_id=4))
    await settle()
    for socket in (everything, unassigned, mine):
        assert rows(socket)[-1] == (12, 4)
    assert (12, 3) not in rows(mine)  # coalesced: the newest row only

    # Messages in someone else's chat again: only the socket showing all gets them.
    sent = [len(socket.frames) for socket in (unassigned, mine)]
    await shop_hub.route(event(12, 5, assignee_id=4))
    await settle()
    assert rows(everything)[-1] == (12, 5)
    assert [len(socket.frames) for socket in (unassigned, mine)] == sent
