"""The agent and buyer websockets, driven through the real ASGI application.

Runs on whichever channel layer the settings pick (in-memory, or Redis with REDIS_URL).

An agent socket hears full events only of the conversations it follows (watched, or assigned
to its user) and coalesced ``list.update`` rows of every conversation of its shops. Rows leave
on a timer, so the helpers below set them aside in ``communicator.rows`` (agent sockets only:
a buyer socket that gets one fails) and tests that care about them look there. Likewise a
buyer socket's ``staffed`` frames (an agent of the shop came online or the last one left) go
to ``communicator.staffing``.
"""
import asyncio
import json
import time
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.core import signing
from django.db import connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership, Role
from customers.models import Customer
from customers.services import customer_update
from dianxiaoer.asgi import application
from inbox import presence, services
from inbox.buyer_identity import SESSION_TOKEN_SALT, BuyerSession, session_token_issue
from inbox.consumers import base as consumer_base
from inbox.list_rows import iso_datetime
from inbox.models import AgentPresence, Conversation, Message

from ..factories import ChannelFactory, ConversationFactory, CustomerFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://localhost")
QUIET = 0.3  # seconds of silence that count as "nothing more arrives"


def _session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


async def open_socket(path: str, headers=None) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, path, headers=headers if headers is not None else [ORIGIN])
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def agent_socket(user, *, hello: bool = True, watch: list[int] | None = None) -> WebsocketCommunicator:
    """An agent's socket; with ``watch``, it follows those conversations (all must be accepted)."""
    cookie = await database_sync_to_async(_session_cookie)(user)
    headers = [ORIGIN, (b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode())]
    communicator = await open_socket("/ws/agent/", headers)
    communicator.rows = []  # list.update frames, in arrival order
    if hello:
        frame = await communicator.receive_json_from()
        assert frame["type"] == "hello"
        communicator.hello = frame
    if watch is not None:
        assert await send_watch(communicator, watch) == sorted(set(watch))
    return communicator


async def already_online(*users) -> None:
    """Count a socket of each user elsewhere: opening theirs here then broadcasts no presence.

    For tests about other things with several agent sockets: a socket's "came online" frame
    is sent after its hello, so whether a socket opened right after it hears it is a race.
    """
    for user in users:
        await database_sync_to_async(presence.presence_connect)(user_id=user.pk)


async def buyer_socket(shop, customer, *, hello: bool = True) -> WebsocketCommunicator:
    token = session_token_issue(BuyerSession.of(customer))
    communicator = await open_socket(f"/ws/chat/{shop.slug}/?t={token}")
    if hello:
        frame = await communicator.receive_json_from()
        assert frame["type"] == "hello"
        communicator.hello = frame
    communicator.staffing = []
    return communicator


async def expect_closed(communicator: WebsocketCommunicator, code: int) -> None:
    output = await communicator.receive_output(timeout=2)
    assert output == {"type": "websocket.close", "code": code}


def _set_aside(communicator, frame: dict) -> list | None:
    """Where a frame a socket sets aside goes (see the module docstring), or None."""
    if frame["type"] == "list.update":
        return getattr(communicator, "rows", None)
    if frame["type"] == "staffed":
        return getattr(communicator, "staffing", None)
    return None


async def receive(communicator, *, timeout: float = 2) -> dict:
    """The next frame other than those set aside (list rows, staffed)."""
    deadline = time.monotonic() + timeout
    while True:
        frame = await communicator.receive_json_from(timeout=max(0.01, deadline - time.monotonic()))
        aside = _set_aside(communicator, frame)
        if aside is None:
            return frame
        aside.append(frame)


async def receive_type(communicator, frame_type: str, *, timeout: float = 2) -> dict:
    """The next frame, which must be of ``frame_type``."""
    frame = await receive(communicator, timeout=timeout)
    assert frame["type"] == frame_type, frame
    return frame


async def assert_quiet(*communicators) -> None:
    """Nothing but frames set aside arrives for QUIET seconds."""
    for communicator in communicators:
        while not await communicator.receive_nothing(timeout=QUIET):
            frame = await communicator.receive_json_from()
            aside = _set_aside(communicator, frame)
            assert aside is not None, frame
            aside.append(frame)


def rows_of(communicator, conversation_id: int) -> list[dict]:
    """The list rows of one conversation the socket got, in arrival order."""
    return [row for frame in communicator.rows for row in frame["conversations"] if row["id"] == conversation_id]


async def wait_row(communicator, conversation_id: int, last_seq: int, *, timeout: float = 2) -> dict:
    """Wait for the conversation's list row at ``last_seq``; any frame but a row meanwhile fails."""
    deadline = time.monotonic() + timeout
    while True:
        held = [row for row in rows_of(communicator, conversation_id) if row["last_seq"] == last_seq]
        if held:
            return held[-1]
        remaining = deadline - time.monotonic()
        seen = [row["last_seq"] for row in rows_of(communicator, conversation_id)]
        assert remaining > 0 and not await communicator.receive_nothing(timeout=remaining), (
            f"no row of conversation {conversation_id} at last_seq {last_seq}; rows seen at {seen}"
        )
        frame = await communicator.receive_json_from()
        assert frame["type"] == "list.update", frame
        communicator.rows.append(frame)


async def send_watch(communicator, conversation_ids) -> list[int]:
    """Send a watch frame; returns the ids the server accepted."""
    await communicator.send_json_to({"type": "watch", "conversation_ids": conversation_ids})
    return (await receive_type(communicator, "watching"))["conversation_ids"]


async def ping_ok(communicator) -> None:
    await communicator.send_json_to({"type": "ping"})
    assert (await receive(communicator))["type"] == "pong"


async def buyer_send(communicator, client_msg_id: str, text: str) -> dict:
    """Send as the buyer; returns the ack (the sending socket gets no event of its own send)."""
    await communicator.send_json_to({"type": "send", "client_msg_id": client_msg_id, "text": text})
    return await receive_type(communicator, "ack")


async def close_all(*communicators) -> None:
    for communicator in communicators:
        await communicator.disconnect()


@pytest.fixture(autouse=True)
async def _close_socket_thread_connections():
    """Consumers query from the sockets' DB threads; close their connections so the test DB can be dropped."""
    yield
    await consumer_base.close_socket_db_connections()


@pytest.fixture
def customer(conversation):
    return conversation.customer


# --- Authentication ----------------------------------------------------------------------


async def test_anonymous_agent_is_closed_with_4401():
    communicator = await open_socket("/ws/agent/")
    await expect_closed(communicator, 4401)


async def test_user_without_shop_is_closed_with_4403(db):
    user = await database_sync_to_async(UserFactory)()
    communicator = await agent_socket(user, hello=False)
    await expect_closed(communicator, 4403)


async def test_socket_without_origin_is_refused(agent):
    communicator = WebsocketCommunicator(application, "/ws/agent/")
    connected, _ = await communicator.connect()
    assert not connected


async def test_buyer_with_bad_token_is_closed(shop, web_channel, customer, other_shop):
    for token in ("", "garbage", "a:b:c"):
        communicator = await open_socket(f"/ws/chat/{shop.slug}/?t={token}")
        await expect_closed(communicator, 4403)
    communicator = await open_socket(f"/ws/chat/{shop.slug}/")
    await expect_closed(communicator, 4403)
    # A valid token of another shop's buyer does not open this shop's chat.
    await database_sync_to_async(ChannelFactory)(shop=other_shop)
    stranger = await database_sync_to_async(CustomerFactory)(shop=other_shop)
    communicator = await open_socket(f"/ws/chat/{shop.slug}/?t={session_token_issue(BuyerSession.of(stranger))}")
    await expect_closed(communicator, 4403)
    communicator = await open_socket(f"/ws/chat/no-such-shop/?t={session_token_issue(BuyerSession.of(customer))}")
    await expect_closed(communicator, 4404)
    # A session token of the earlier form (a profile's id, no buyer id): the page reloads.
    earlier = signing.dumps({"c": customer.pk, "s": shop.pk}, salt=SESSION_TOKEN_SALT)
    communicator = await open_socket(f"/ws/chat/{shop.slug}/?t={earlier}")
    await expect_closed(communicator, 4403)


async def test_an_unknown_websocket_path_is_closed_with_4404_not_a_server_error(db):
    for path in ("/ws/chat/", "/ws/nothing/", "/elsewhere"):
        communicator = await open_socket(path)
        await expect_closed(communicator, 4404)


async def test_hello_frames(agent, shop, conversation, customer):
    agent_ws = await agent_socket(agent)
    assert agent_ws.hello["user"]["id"] == agent.pk
    assert agent_ws.hello["user"]["nickname"] == agent.nickname
    [shop_info] = agent_ws.hello["shops"]
    assert (shop_info["id"], shop_info["slug"], shop_info["role"]) == (shop.pk, shop.slug, Role.AGENT)
    assert shop_info["online_user_ids"] == [agent.pk]
    buyer_ws = await buyer_socket(shop, customer)
    assert buyer_ws.hello == {
        "type": "hello",
        "conversation_id": conversation.pk,
        "previous_id": None,
        "last_seq": 0,
        "staffed": True,  # the agent's socket above is open
        "customer": {"id": customer.pk, "nickname": customer.nickname},
    }
    await close_all(agent_ws, buyer_ws)


# --- Messages both ways --------------------------------------------------------------------


async def test_buyer_and_agent_exchange_messages(agent, shop, conversation, customer):
    agent_ws = await agent_socket(agent, watch=[conversation.pk])
    buyer_ws = await buyer_socket(shop, customer)

    ack = await buyer_send(buyer_ws, "b1", "在吗？")
    assert (ack["client_msg_id"], ack["created"], ack["message"]["text"]) == ("b1", True, "在吗？")
    event = (await receive_type(agent_ws, "event"))["event"]
    assert event["kind"] == "message.created"
    assert event["message"]["id"] == ack["message"]["id"]
    assert event["conversation"]["agent_unread_count"] == 1

    await agent_ws.send_json_to({"type": "send", "conversation_id": conversation.pk, "client_msg_id": "a1", "text": "您好"})
    ack = await receive_type(agent_ws, "ack")
    assert ack["created"] and ack["message"]["author"]["id"] == agent.pk
    own = (await receive_type(agent_ws, "event"))["event"]  # other tabs of the agent see it too
    assert own["seq"] == ack["message"]["seq"]
    # Answering an unassigned buyer takes the conversation (agents only: the buyer is not told).
    taken = (await receive_type(agent_ws, "event"))["event"]
    assert (taken["kind"], taken["data"]) == ("conversation.assigned", {"from": None, "to": agent.pk, "by_reply": True})
    live = (await receive_type(buyer_ws, "event"))["event"]
    assert live["message"]["text"] == "您好"
    assert live["message"]["author"] == {"nickname": agent.nickname}
    await assert_quiet(agent_ws, buyer_ws)
    await close_all(agent_ws, buyer_ws)


async def test_a_buyer_send_reaches_the_buyers_other_tabs_not_the_sending_one(shop, conversation, customer):
    sending, other_tab = await buyer_socket(shop, customer), await buyer_socket(shop, customer)
    ack = await buyer_send(sending, "tab-1", "这条从第一个标签页发")
    event = (await receive_type(other_tab, "event"))["event"]
    assert (event["kind"], event["message"]) == ("message.created", ack["message"])
    await assert_quiet(sending)
    # The other tab's send comes back to the first one.
    ack = await buyer_send(other_tab, "tab-2", "这条从第二个")
    assert (await receive_type(sending, "event"))["event"]["message"] == ack["message"]
    await assert_quiet(sending, other_tab)
    await close_all(sending, other_tab)


async def test_a_tab_moves_to_the_conversation_another_tab_started_after_a_resolve(
    agent, shop, conversation, customer, resolve_for_good
):
    first, second = await buyer_socket(shop, customer), await buyer_socket(shop, customer)
    agent_ws = await agent_socket(agent)
    await database_sync_to_async(resolve_for_good)(conversation, agent)
    for tab in (first, second):
        assert (await receive_type(tab, "event"))["event"]["data"]["to"] == "resolved"

    ack = await buyer_send(first, "again", "又来问一下")
    newer = ack["message"]["conversation_id"]
    assert newer != conversation.pk
    event = (await receive_type(second, "event"))["event"]
    assert (event["conversation_id"], event["message"]["text"]) == (newer, "又来问一下")
    # The second tab now is in the new conversation: its typing and reads go there.
    await second.send_json_to({"type": "typing", "is_typing": True})
    await agent_ws.send_json_to({"type": "watch", "conversation_ids": [newer]})
    await receive_type(agent_ws, "watching")
    await second.send_json_to({"type": "typing", "is_typing": True})
    typing = await receive_type(agent_ws, "typing")
    assert (typing["conversation_id"], typing["side"]) == (newer, "buyer")
    await second.send_json_to({"type": "read", "seq": ack["message"]["seq"]})
    read = (await receive_type(first, "event"))["event"]
    assert (read["kind"], read["conversation_id"]) == ("conversation.read", newer)
    await close_all(first, second, agent_ws)


async def test_a_socket_moves_to_a_conversation_an_image_upload_started(agent, shop, web_channel):
    customer = await database_sync_to_async(CustomerFactory)(shop=shop)
    buyer_ws = await buyer_socket(shop, customer)
    assert buyer_ws.hello["conversation_id"] is None
    # What the chat page's upload does over HTTP: no conversation named, none current.
    message, _ = await database_sync_to_async(services.buyer_message_send)(
        channel=web_channel, customer=customer, text="看这张图"
    )
    event = (await receive_type(buyer_ws, "event"))["event"]
    assert event["conversation_id"] == message.conversation_id
    conversation = await database_sync_to_async(Conversation.objects.get)(pk=message.conversation_id)
    await database_sync_to_async(services.message_send)(
        conversation=conversation, sender_kind="agent", author=agent, text="收到图片了"
    )
    assert (await receive_type(buyer_ws, "event"))["event"]["message"]["text"] == "收到图片了"
    ack = await buyer_send(buyer_ws, "after-image", "就是这个问题")
    assert ack["message"]["conversation_id"] == message.conversation_id
    await close_all(buyer_ws)


async def test_first_buyer_send_creates_conversation_and_follows_it(agent, shop, web_channel):
    customer = await database_sync_to_async(CustomerFactory)(shop=shop)
    buyer_ws = await buyer_socket(shop, customer)
    assert buyer_ws.hello["conversation_id"] is None
    agent_ws = await agent_socket(agent)

    ack = await buyer_send(buyer_ws, "first", "你好")
    conversation_id = ack["message"]["conversation_id"]
    assert ack["message"]["seq"] == 2  # seq 1 is the conversation.created event
    # Nobody follows a conversation that did not exist: the agent sees it appear in its list.
    row = await wait_row(agent_ws, conversation_id, 2)
    assert (row["shop_id"], row["assignee"], row["agent_unread_count"]) == (shop.pk, None, 1)
    await assert_quiet(agent_ws)  # rows only, no event frames
    assert {r["id"] for frame in agent_ws.rows for r in frame["conversations"]} == {conversation_id}
    assert rows_of(agent_ws, conversation_id)[-1]["last_seq"] == 2
    # Opening it follows it from then on.
    assert await send_watch(agent_ws, [conversation_id]) == [conversation_id]

    conversation = await database_sync_to_async(Conversation.objects.get)(pk=conversation_id)
    await database_sync_to_async(services.message_send)(
        conversation=conversation, sender_kind="agent", author=agent, text="请讲"
    )
    live = (await receive_type(buyer_ws, "event"))["event"]
    assert (live["conversation_id"], live["seq"], live["message"]["text"]) == (conversation_id, 3, "请讲")
    assert (await receive_type(agent_ws, "event"))["event"]["seq"] == 3
    await close_all(agent_ws, buyer_ws)


async def test_service_send_from_api_reaches_sockets_live(agent, supervisor, shop, conversation, customer):
    agent_ws = await agent_socket(agent, watch=[conversation.pk])
    buyer_ws = await buyer_socket(shop, customer)
    await database_sync_to_async(services.message_send)(
        conversation=conversation, sender_kind="agent", author=supervisor, text="来自接口"
    )
    for ws in (agent_ws, buyer_ws):
        event = (await receive_type(ws, "event"))["event"]
        assert (event["kind"], event["message"]["text"]) == ("message.created", "来自接口")
    # The reply took the conversation; an assignment is for agents only.
    event = (await receive_type(agent_ws, "event"))["event"]
    assert (event["kind"], event["conversation"]["assignee"]["id"]) == ("conversation.assigned", supervisor.pk)
    await database_sync_to_async(services.conversation_assign)(conversation=conversation, assignee=agent, actor=supervisor)
    event = (await receive_type(agent_ws, "event"))["event"]
    assert event["kind"] == "conversation.assigned"
    assert event["conversation"]["assignee"]["id"] == agent.pk
    await assert_quiet(buyer_ws)
    await close_all(agent_ws, buyer_ws)


async def test_retried_send_returns_same_message_once(agent, shop, conversation, customer):
    agent_ws = await agent_socket(agent, watch=[conversation.pk])
    buyer_ws = await buyer_socket(shop, customer)
    frame = {"type": "send", "conversation_id": conversation.pk, "client_msg_id": "retry-1", "text": "稍等"}
    await agent_ws.send_json_to(frame)
    first = await receive_type(agent_ws, "ack")
    await receive_type(agent_ws, "event")
    assert (await receive_type(agent_ws, "event"))["event"]["kind"] == "conversation.assigned"
    await agent_ws.send_json_to(frame)
    second = await receive_type(agent_ws, "ack")
    assert (first["created"], second["created"]) == (True, False)
    assert first["message"] == second["message"]
    await receive_type(buyer_ws, "event")
    await assert_quiet(agent_ws, buyer_ws)  # the retry broadcast nothing

    acks = [await buyer_send(buyer_ws, "b-retry", "好"), await buyer_send(buyer_ws, "b-retry", "好")]
    assert [a["created"] for a in acks] == [True, False]
    await assert_quiet(buyer_ws)
    assert acks[0]["message"]["id"] == acks[1]["message"]["id"]
    assert (await database_sync_to_async(Message.objects.filter(conversation=conversation).count)()) == 2
    await close_all(agent_ws, buyer_ws)


# --- Tenancy ---------------------------------------------------------------------------


async def test_agent_of_other_shop_can_neither_touch_nor_hear_a_conversation(
    agent, outsider, shop, conversation, customer
):
    outsider_ws = await agent_socket(outsider)
    agent_ws = await agent_socket(agent, watch=[conversation.pk])
    # Watching a foreign conversation is refused exactly like watching one that does not exist.
    assert await send_watch(outsider_ws, [conversation.pk]) == []
    assert await send_watch(outsider_ws, [999999]) == []
    frames = [
        {"type": "send", "conversation_id": conversation.pk, "client_msg_id": "x1", "text": "hi"},
        {"type": "note", "conversation_id": conversation.pk, "client_msg_id": "x2", "text": "hi"},
        {"type": "read", "conversation_id": conversation.pk, "seq": 1},
        {"type": "typing", "conversation_id": conversation.pk, "is_typing": True},
        {"type": "viewing", "conversation_id": conversation.pk, "viewing": True, "ask": True},
    ]
    for frame in frames:
        await outsider_ws.send_json_to(frame)
        error = await receive_type(outsider_ws, "error")
        assert error["code"] == "not_found"
        assert error["ref"] == frame.get("client_msg_id", frame["type"])
    # An unknown id answers exactly like a foreign one.
    await outsider_ws.send_json_to({"type": "read", "conversation_id": 999999, "seq": 1})
    unknown = await receive_type(outsider_ws, "error")
    await outsider_ws.send_json_to({"type": "read", "conversation_id": conversation.pk, "seq": 1})
    foreign = await receive_type(outsider_ws, "error")
    assert unknown == foreign
    await outsider_ws.send_json_to({"type": "resync", "conversations": {str(conversation.pk): 0}})
    error = await receive_type(outsider_ws, "error")
    assert (error["code"], error["ref"], error["conversation_id"]) == ("not_found", "resync", conversation.pk)
    assert (await database_sync_to_async(Message.objects.count)()) == 0

    # Even a watch naming it (refused above, tried again here) lets nothing through.
    assert await send_watch(outsider_ws, [conversation.pk]) == []
    buyer_ws = await buyer_socket(shop, customer)
    await buyer_send(buyer_ws, "b1", "秘密")
    await buyer_ws.send_json_to({"type": "typing", "is_typing": True})
    assert (await receive_type(agent_ws, "event"))["event"]["message"]["text"] == "秘密"
    assert (await receive_type(agent_ws, "typing"))["side"] == "buyer"
    await wait_row(agent_ws, conversation.pk, 1)  # the shop's rows have left
    await agent_ws.send_json_to({"type": "typing", "conversation_id": conversation.pk, "is_typing": True})
    await agent_ws.send_json_to({"type": "viewing", "conversation_id": conversation.pk, "viewing": True, "ask": True})
    assert (await receive_type(buyer_ws, "typing"))["side"] == "agent"
    await assert_quiet(outsider_ws)
    assert outsider_ws.rows == []  # neither events, nor typing, nor viewing, nor list rows
    await close_all(outsider_ws, agent_ws, buyer_ws)


# --- Private notes and buyer-side shapes ------------------------------------------------------

AGENT_ONLY_MESSAGE_FIELDS = {"is_private", "delivery_state", "delivery_error_code", "delivery_error_detail"}


async def test_buyer_never_sees_notes_or_agent_fields(agent, supervisor, shop, conversation, customer):
    agent_ws = await agent_socket(agent, watch=[conversation.pk])
    buyer_ws = await buyer_socket(shop, customer)
    await agent_ws.send_json_to({"type": "note", "conversation_id": conversation.pk, "client_msg_id": "n1", "text": "老客户，优先"})
    ack = await receive_type(agent_ws, "ack")
    assert ack["message"]["is_private"] is True
    assert (await receive_type(agent_ws, "event"))["event"]["message"]["is_private"] is True
    await database_sync_to_async(services.note_add)(conversation=conversation, author=supervisor, text="接口备注")
    await receive_type(agent_ws, "event")
    await database_sync_to_async(services.conversation_assign)(conversation=conversation, assignee=agent, actor=supervisor)
    await receive_type(agent_ws, "event")
    await assert_quiet(buyer_ws)

    await agent_ws.send_json_to({"type": "send", "conversation_id": conversation.pk, "client_msg_id": "a1", "text": "您好"})
    live = (await receive_type(buyer_ws, "event"))["event"]
    assert "conversation" not in live
    assert not AGENT_ONLY_MESSAGE_FIELDS & set(live["message"])
    assert live["message"]["author"] == {"nickname": agent.nickname}

    await buyer_ws.send_json_to({"type": "resync", "last_seq": 0})
    frames = []
    while (frame := await receive(buyer_ws))["type"] != "resync.done":
        frames.append(frame["event"])
    assert [e["kind"] for e in frames] == ["message.created"]
    assert frames[0] == live
    assert frame == {"type": "resync.done", "conversation_id": conversation.pk, "previous_id": None, "last_seq": 4, "more": False}
    assert "老客户" not in json.dumps(frames, ensure_ascii=False)
    await close_all(agent_ws, buyer_ws)


# --- Resync ------------------------------------------------------------------------------------


async def drain_resync(communicator) -> tuple[list[dict], dict]:
    events = []
    while (frame := await receive(communicator))["type"] == "event":
        events.append(frame["event"])
    assert frame["type"] == "resync.done", frame
    return events, frame


async def test_agent_resync_after_gap_gets_missed_events_once_in_order(agent, shop, conversation, customer):
    agent_ws = await agent_socket(agent, watch=[conversation.pk])
    buyer_ws = await buyer_socket(shop, customer)
    await buyer_send(buyer_ws, "b0", "第一条")
    held = (await receive_type(agent_ws, "event"))["event"]
    await agent_ws.disconnect()

    texts = ["漏掉的一", "漏掉的二"]
    for n, text in enumerate(texts):
        await buyer_send(buyer_ws, f"gap-{n}", text)

    agent_ws = await agent_socket(agent, watch=[conversation.pk])
    await agent_ws.send_json_to({"type": "resync", "conversations": {str(conversation.pk): held["seq"]}})
    events, done = await drain_resync(agent_ws)
    assert [e["message"]["text"] for e in events] == texts
    assert [e["seq"] for e in events] == [held["seq"] + 1, held["seq"] + 2]
    assert done == {"type": "resync.done", "conversation_id": conversation.pk, "last_seq": held["seq"] + 2, "more": False}
    await assert_quiet(agent_ws)

    # Live events after the resync still arrive.
    await buyer_ws.send_json_to({"type": "send", "client_msg_id": "after", "text": "之后"})
    assert (await receive_type(agent_ws, "event"))["event"]["seq"] == held["seq"] + 3
    await close_all(agent_ws, buyer_ws)


async def test_resync_events_have_the_live_shape(agent, supervisor, shop, conversation, customer):
    agent_ws = await agent_socket(agent, watch=[conversation.pk])
    live = []
    await database_sync_to_async(services.message_send)(conversation=conversation, sender_kind="buyer", text="a")
    await database_sync_to_async(services.note_add)(conversation=conversation, author=agent, text="n")
    await database_sync_to_async(services.conversation_assign)(conversation=conversation, assignee=agent, actor=supervisor)
    await database_sync_to_async(services.conversation_mark_read)(
        conversation=conversation, side="agent", up_to_seq=3, actor=agent
    )
    await database_sync_to_async(services.conversation_resolve)(conversation=conversation, actor=agent)
    for _ in range(5):
        live.append((await receive_type(agent_ws, "event"))["event"])
    await agent_ws.send_json_to({"type": "resync", "conversations": {str(conversation.pk): 0}})
    resynced, done = await drain_resync(agent_ws)
    assert done["last_seq"] == 5
    assert [e["kind"] for e in resynced] == [
        "message.created",
        "message.created",
        "conversation.assigned",
        "conversation.read",
        "conversation.status",
    ]
    for a, b in zip(live, resynced, strict=True):
        assert set(a) == set(b)
        # The conversation snapshot is the state after the event live, the current one on resync.
        assert {k: v for k, v in a.items() if k != "conversation"} == {k: v for k, v in b.items() if k != "conversation"}
        assert set(a["conversation"]) == set(b["conversation"])
    await close_all(agent_ws)


async def test_resync_pages_through_long_histories(agent, shop, conversation, monkeypatch):
    from inbox.consumers import history

    monkeypatch.setattr(history, "PAGE", 3)
    monkeypatch.setattr(history, "MAX_EVENTS_PER_CONVERSATION", 7)

    def fill():
        for n in range(6):
            services.message_send(conversation=conversation, sender_kind="buyer", text=f"m{n}")
            services.conversation_mark_read(conversation=conversation, side="agent", up_to_seq=2 * n + 1, actor=agent)

    await database_sync_to_async(fill)()
    agent_ws = await agent_socket(agent)
    await agent_ws.send_json_to({"type": "resync", "conversations": {str(conversation.pk): 0}})
    events, done = await drain_resync(agent_ws)
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) >= 7
    assert done["more"] is True and done["last_seq"] == seqs[-1]
    await agent_ws.send_json_to({"type": "resync", "conversations": {str(conversation.pk): done["last_seq"]}})
    rest, done = await drain_resync(agent_ws)
    assert [e["seq"] for e in rest] == list(range(seqs[-1] + 1, 13))
    assert (done["last_seq"], done["more"]) == (12, False)
    await close_all(agent_ws)


async def test_buyer_resync_without_conversation(shop, web_channel):
    customer = await database_sync_to_async(CustomerFactory)(shop=shop)
    buyer_ws = await buyer_socket(shop, customer)
    await buyer_ws.send_json_to({"type": "resync", "last_seq": 0})
    assert await receive(buyer_ws) == {"type": "resync.done", "conversation_id": None, "previous_id": None, "last_seq": 0, "more": False}
    await close_all(buyer_ws)


async def test_a_buyer_page_opened_after_a_resolve_shows_that_chat_and_offers_the_older_ones(
    agent, shop, web_channel, conversation, customer, resolve_for_good
):
    await database_sync_to_async(services.message_send)(conversation=conversation, sender_kind="buyer", text="第一次的问题")
    await database_sync_to_async(resolve_for_good)(conversation, agent)
    follow_up, _ = await database_sync_to_async(services.buyer_message_send)(
        channel=web_channel, customer=customer, text="第二次的问题"
    )
    await database_sync_to_async(services.conversation_resolve)(conversation=follow_up.conversation, actor=agent)

    buyer_ws = await buyer_socket(shop, customer)
    assert (buyer_ws.hello["conversation_id"], buyer_ws.hello["previous_id"]) == (follow_up.conversation_id, conversation.pk)
    await buyer_ws.send_json_to({"type": "resync", "conversation_id": follow_up.conversation_id, "last_seq": 0})
    shown = []
    while (frame := await receive(buyer_ws))["type"] != "resync.done":
        shown.append(frame["event"])
    assert [e["kind"] for e in shown] == ["message.created", "conversation.status"]
    assert (shown[0]["message"]["text"], shown[1]["data"]["to"]) == ("第二次的问题", "resolved")
    assert (frame["conversation_id"], frame["previous_id"]) == (follow_up.conversation_id, conversation.pk)

    # The page asks for the conversation before, which names none before it.
    await buyer_ws.send_json_to({"type": "resync", "conversation_id": conversation.pk, "last_seq": 0})
    older = []
    while (frame := await receive(buyer_ws))["type"] != "resync.done":
        older.append(frame["event"])
    assert [e["message"]["text"] for e in older if e["kind"] == "message.created"] == ["第一次的问题"]
    assert (frame["conversation_id"], frame["previous_id"]) == (conversation.pk, None)

    # Writing again now continues the conversation shown.
    ack = await buyer_send(buyer_ws, "back", "忘了问运费")
    assert ack["message"]["conversation_id"] == follow_up.conversation_id
    assert (await receive_type(buyer_ws, "event"))["event"]["data"] == {"from": "resolved", "to": "open"}
    await close_all(buyer_ws)


async def test_visitor_profile_is_made_by_the_first_message(agent, shop, web_channel):
    visitor = BuyerSession(shop_id=shop.pk, buyer_id="visitor-0123456789abcdef0123456789abcdef")
    agent_ws = await agent_socket(agent)
    buyer_ws = await open_socket(f"/ws/chat/{shop.slug}/?t={session_token_issue(visitor)}")
    hello = await receive_type(buyer_ws, "hello")
    assert (hello["conversation_id"], hello["customer"]["id"]) == (None, None)
    await buyer_ws.send_json_to({"type": "resync", "last_seq": 0})
    assert (await receive_type(buyer_ws, "resync.done"))["conversation_id"] is None
    await buyer_ws.send_json_to({"type": "send", "client_msg_id": "v0", "text": "   "})
    assert (await receive_type(buyer_ws, "error"))["code"] == "invalid"
    assert not await database_sync_to_async(Customer.objects.filter(shop=shop).exists)()

    ack = await buyer_send(buyer_ws, "v1", "有人吗？")
    customer = await database_sync_to_async(Customer.objects.get)(shop=shop)
    assert customer.platform_buyer_id == visitor.buyer_id
    conversation = await database_sync_to_async(Conversation.objects.get)(customer=customer)
    assert ack["message"]["conversation_id"] == conversation.pk
    row = await wait_row(agent_ws, conversation.pk, 2)  # the new conversation shows in the list
    assert row["customer"]["id"] == customer.pk
    # The socket now follows the new conversation and knows its buyer: a second message joins it.
    ack = await buyer_send(buyer_ws, "v2", "在吗")
    assert (ack["message"]["conversation_id"], ack["message"]["seq"]) == (conversation.pk, 3)
    assert await database_sync_to_async(Customer.objects.filter(shop=shop).count)() == 1
    await close_all(agent_ws, buyer_ws)


async def test_a_tab_opened_before_the_first_message_learns_the_buyer_from_another_tabs(agent, shop, web_channel):
    token = session_token_issue(BuyerSession(shop_id=shop.pk, buyer_id="visitor-0123456789abcdef0123456789abcdef"))
    first, second = [await open_socket(f"/ws/chat/{shop.slug}/?t={token}") for _ in range(2)]
    for tab in (first, second):
        assert (await receive_type(tab, "hello"))["customer"]["id"] is None
        tab.staffing = []
    agent_ws = await agent_socket(agent)
    ack = await buyer_send(first, "v1", "有人吗？")
    conversation_id = ack["message"]["conversation_id"]
    assert (await receive_type(second, "event"))["event"]["conversation_id"] == conversation_id
    assert await send_watch(agent_ws, [conversation_id]) == [conversation_id]
    # The second tab types and reads in that conversation, as its buyer.
    await second.send_json_to({"type": "typing", "is_typing": True})
    typing = await receive_type(agent_ws, "typing")
    assert (typing["conversation_id"], typing["side"], typing["is_typing"]) == (conversation_id, "buyer", True)
    await second.send_json_to({"type": "read", "seq": ack["message"]["seq"]})
    read = (await receive_type(first, "event"))["event"]
    assert (read["kind"], read["conversation_id"], read["data"]) == (
        "conversation.read", conversation_id, {"side": "buyer", "up_to_seq": ack["message"]["seq"]}
    )
    await close_all(first, second, agent_ws)


async def test_a_first_message_past_the_address_cap_gets_an_error_frame(shop, web_channel, settings):
    settings.CHAT_NEW_VISITORS_PER_ADDRESS_PER_HOUR = 1
    sockets = []
    for n in range(2):
        visitor = BuyerSession(shop_id=shop.pk, buyer_id=f"visitor-{n:032x}", address="203.0.113.9")
        sockets.append(await open_socket(f"/ws/chat/{shop.slug}/?t={session_token_issue(visitor)}"))
        await receive_type(sockets[-1], "hello")
    await buyer_send(sockets[0], "v1", "在吗")
    await sockets[1].send_json_to({"type": "send", "client_msg_id": "v2", "text": "在吗"})
    error = await receive_type(sockets[1], "error")
    assert (error["code"], error["ref"]) == ("throttled", "v2")
    assert await database_sync_to_async(Customer.objects.filter(shop=shop).count)() == 1
    # The socket stays up and serves the next frame.
    await sockets[1].send_json_to({"type": "resync", "last_seq": 0})
    assert (await receive_type(sockets[1], "resync.done"))["conversation_id"] is None
    await close_all(*sockets)


async def test_the_buyer_hears_each_status_change_live_and_on_resync(agent, shop, conversation, customer):
    """The chat page shows an "ended" line only while the last resolve stands: it needs the
    reopens as well as the resolves, live and in history alike."""
    buyer_ws = await buyer_socket(shop, customer)
    for status in ("resolved", "open", "resolved"):
        await database_sync_to_async(services.conversation_set_status)(conversation=conversation, status=status, actor=agent)
    live = [(await receive_type(buyer_ws, "event"))["event"] for _ in range(3)]
    await buyer_ws.send_json_to({"type": "resync", "last_seq": 0, "conversation_id": conversation.pk})
    resynced, done = await drain_resync(buyer_ws)
    assert resynced == live
    assert [(e["kind"], e["seq"], e["data"]["to"]) for e in live] == [
        ("conversation.status", 1, "resolved"),
        ("conversation.status", 2, "open"),
        ("conversation.status", 3, "resolved"),
    ]
    assert done["last_seq"] == 3
    await close_all(buyer_ws)


async def test_buyer_cannot_resync_someone_elses_conversation(shop, conversation, web_channel):
    customer = await database_sync_to_async(CustomerFactory)(shop=shop)
    buyer_ws = await buyer_socket(shop, customer)
    await buyer_ws.send_json_to({"type": "resync", "last_seq": 0, "conversation_id": conversation.pk})
    assert (await receive_type(buyer_ws, "error"))["code"] == "not_found"
    await close_all(buyer_ws)


# --- The buyer's rating (满意度) ----------------------------------------------------------------


async def test_the_buyer_rates_the_ended_chat_and_every_tab_and_the_agent_hear_it(agent, shop, conversation, customer):
    await database_sync_to_async(services.conversation_assign)(conversation=conversation, assignee=agent, actor=agent)
    rating, other_tab = await buyer_socket(shop, customer), await buyer_socket(shop, customer)
    agent_ws = await agent_socket(agent)  # the assignee follows it without watching
    await database_sync_to_async(services.conversation_resolve)(conversation=conversation, actor=agent)
    for ws in (rating, other_tab, agent_ws):
        assert (await receive_type(ws, "event"))["event"]["kind"] == "conversation.status"

    await rating.send_json_to({"type": "rate", "conversation_id": conversation.pk, "score": 4, "comment": "很耐心"})
    assert await receive_type(rating, "rated") == {"type": "rated", "conversation_id": conversation.pk, "seq": 3, "score": 4}
    rated_at = await database_sync_to_async(lambda: Conversation.objects.get(pk=conversation.pk).rated_at)()
    told = {"kind": "conversation.rated", "conversation_id": conversation.pk, "seq": 3, "data": {"score": 4}}
    told["at"] = iso_datetime(rated_at)
    for tab in (rating, other_tab):  # the other tab hides its survey; the rating one holds the seq
        assert (await receive_type(tab, "event"))["event"] == told
    event = (await receive_type(agent_ws, "event"))["event"]
    assert (event["kind"], event["seq"], event["actor"]) == ("conversation.rated", 3, None)
    assert event["data"] == {"score": 4, "comment": "很耐心", "assignee_id": agent.pk, "team_id": None}
    assert (event["conversation"]["rating"], event["conversation"]["status"]) == (4, "resolved")

    # A page loaded later finds it in the history, in seq order.
    await other_tab.send_json_to({"type": "resync", "conversation_id": conversation.pk, "last_seq": 0})
    history, done = await drain_resync(other_tab)
    assert [(e["kind"], e["seq"]) for e in history] == [("conversation.status", 2), ("conversation.rated", 3)]
    assert (history[-1], done["last_seq"]) == (told, 3)
    # Once per session: the second try is refused, and the socket stays.
    await other_tab.send_json_to({"type": "rate", "conversation_id": conversation.pk, "score": 5})
    error = await receive_type(other_tab, "error")
    assert (error["code"], error["ref"], error["message"]) == ("invalid", "rate", "您已评价过本次会话。")
    await ping_ok(other_tab)
    await assert_quiet(rating, other_tab, agent_ws)
    await close_all(rating, other_tab, agent_ws)


@pytest.mark.parametrize(
    "frame, message",
    [
        ('{"score": 5}', "conversation_id"),
        ('{"conversation_id": "{conv}", "score": 5}', "conversation_id"),
        ('{"conversation_id": {conv}}', "score"),
        ('{"conversation_id": {conv}, "score": "5"}', "score"),
        ('{"conversation_id": {conv}, "score": 0}', "score"),
        ('{"conversation_id": {conv}, "score": 4.5}', "score"),
        ('{"conversation_id": {conv}, "score": 6}', "1 到 5"),
        ('{"conversation_id": {conv}, "score": true}', "score"),
        ('{"conversation_id": {conv}, "score": 5, "comment": 7}', "comment"),
        ('{"conversation_id": {conv}, "score": 5, "comment": "' + "好" * 201 + '"}', "最多 200 个字"),
    ],
)
async def test_bad_rate_frames_get_an_error_and_the_socket_stays(agent, shop, conversation, customer, frame, message):
    await database_sync_to_async(services.conversation_resolve)(conversation=conversation, actor=agent)
    buyer_ws = await buyer_socket(shop, customer)
    await buyer_ws.send_json_to({"type": "rate", **json.loads(frame.replace("{conv}", str(conversation.pk)))})
    error = await receive_type(buyer_ws, "error")
    assert (error["code"], error["ref"]) == ("invalid", "rate")
    assert message in error["message"]
    await ping_ok(buyer_ws)
    assert await database_sync_to_async(lambda: Conversation.objects.get(pk=conversation.pk).rating)() is None
    await close_all(buyer_ws)


async def test_an_open_chat_is_not_rated_and_another_buyers_is_not_found(agent, shop, conversation, customer):
    buyer_ws = await buyer_socket(shop, customer)
    await buyer_ws.send_json_to({"type": "rate", "conversation_id": conversation.pk, "score": 5})
    assert (await receive_type(buyer_ws, "error"))["code"] == "invalid"  # not resolved yet
    await database_sync_to_async(services.conversation_resolve)(conversation=conversation, actor=agent)
    await receive_type(buyer_ws, "event")
    stranger = await database_sync_to_async(CustomerFactory)(shop=shop)
    stranger_ws = await buyer_socket(shop, stranger)
    for conversation_id in (conversation.pk, conversation.pk + 1000):  # someone else's, and unknown: alike
        await stranger_ws.send_json_to({"type": "rate", "conversation_id": conversation_id, "score": 1})
        error = await receive_type(stranger_ws, "error")
        assert (error["code"], error["ref"]) == ("not_found", "rate")
    await ping_ok(stranger_ws)
    await assert_quiet(buyer_ws)
    assert await database_sync_to_async(lambda: Conversation.objects.get(pk=conversation.pk).rating)() is None
    await close_all(buyer_ws, stranger_ws)


async def test_a_rating_after_its_window_gets_an_error_and_the_socket_stays(agent, shop, conversation, customer):
    buyer_ws = await buyer_socket(shop, customer)
    await database_sync_to_async(services.conversation_resolve)(conversation=conversation, actor=agent)
    resolve = (await receive_type(buyer_ws, "event"))["event"]
    resolved_at = await database_sync_to_async(lambda: Conversation.objects.get(pk=conversation.pk).resolved_at)()
    assert resolve["at"] == iso_datetime(resolved_at)  # what the page counts the window from
    late = resolved_at - services.RATING_WINDOW - timedelta(seconds=1)
    await database_sync_to_async(Conversation.objects.filter(pk=conversation.pk).update)(resolved_at=late)
    await buyer_ws.send_json_to({"type": "rate", "conversation_id": conversation.pk, "score": 5})
    error = await receive_type(buyer_ws, "error")
    assert (error["code"], error["ref"], error["message"]) == ("invalid", "rate", "本次会话的评价时间已过。")
    await ping_ok(buyer_ws)
    await assert_quiet(buyer_ws)
    assert await database_sync_to_async(lambda: Conversation.objects.get(pk=conversation.pk).rating)() is None
    await close_all(buyer_ws)


# --- Read receipts and typing -----------------------------------------------------------------


async def test_read_receipts_reach_both_sides(agent, shop, conversation, customer):
    agent_ws = await agent_socket(agent, watch=[conversation.pk])
    buyer_ws = await buyer_socket(shop, customer)
    await buyer_send(buyer_ws, "b1", "?")
    await receive_type(agent_ws, "event")

    await agent_ws.send_json_to({"type": "read", "conversation_id": conversation.pk, "seq": 1})
    for ws in (agent_ws, buyer_ws):
        event = (await receive_type(ws, "event"))["event"]
        assert (event["kind"], event["data"]) == ("conversation.read", {"side": "agent", "up_to_seq": 1})
    await agent_ws.send_json_to({"type": "send", "conversation_id": conversation.pk, "client_msg_id": "a1", "text": "!"})
    await receive_type(agent_ws, "ack")
    await receive_type(agent_ws, "event")
    assert (await receive_type(agent_ws, "event"))["event"]["kind"] == "conversation.assigned"
    await receive_type(buyer_ws, "event")
    await buyer_ws.send_json_to({"type": "read", "seq": 3})
    for ws in (agent_ws, buyer_ws):
        event = (await receive_type(ws, "event"))["event"]
        assert event["data"] == {"side": "buyer", "up_to_seq": 3}
    await assert_quiet(agent_ws, buyer_ws)
    await close_all(agent_ws, buyer_ws)


async def test_typing_goes_to_the_other_side_only(agent, shop, conversation, customer):
    agent_ws = await agent_socket(agent, watch=[conversation.pk])
    buyer_ws = await buyer_socket(shop, customer)
    await agent_ws.send_json_to({"type": "typing", "conversation_id": conversation.pk, "is_typing": True})
    assert await receive(buyer_ws) == {
        "type": "typing",
        "conversation_id": conversation.pk,
        "side": "agent",
        "is_typing": True,
        "name": agent.nickname,
    }
    await buyer_ws.send_json_to({"type": "typing", "is_typing": False})
    assert await receive(agent_ws) == {
        "type": "typing",
        "conversation_id": conversation.pk,
        "side": "buyer",
        "is_typing": False,
        "name": customer.nickname,
    }
    await assert_quiet(agent_ws, buyer_ws)
    await close_all(agent_ws, buyer_ws)


async def test_agents_following_a_conversation_see_which_other_agent_types_and_views(
    agent, supervisor, shop, conversation, customer
):
    third = await database_sync_to_async(lambda: MembershipFactory(shop=shop, role=Role.AGENT).user)()
    await already_online(agent, supervisor, third)
    mine = await agent_socket(agent, watch=[conversation.pk])
    other = await agent_socket(supervisor, watch=[conversation.pk])
    elsewhere = await agent_socket(third)  # not following it: hears none of this
    buyer_ws = await buyer_socket(shop, customer)

    await mine.send_json_to({"type": "typing", "conversation_id": conversation.pk, "is_typing": True})
    typing = {"type": "typing", "conversation_id": conversation.pk, "side": "agent", "is_typing": True, "name": agent.nickname}
    assert await receive(other) == {**typing, "user_id": agent.pk}
    assert await receive(buyer_ws) == typing  # the buyer is not told which agent

    await mine.send_json_to({"type": "viewing", "conversation_id": conversation.pk, "viewing": True, "ask": True})
    viewing = {"type": "viewing", "conversation_id": conversation.pk, "viewing": True}
    assert await receive(other) == {**viewing, "user_id": agent.pk, "name": agent.nickname, "ask": True}
    # The other agent answers (no ask: nobody answers an answer).
    await other.send_json_to({"type": "viewing", "conversation_id": conversation.pk, "viewing": True})
    assert await receive(mine) == {**viewing, "user_id": supervisor.pk, "name": supervisor.nickname, "ask": False}
    await mine.send_json_to({"type": "viewing", "conversation_id": conversation.pk, "viewing": False, "ask": True})
    assert await receive(other) == {**viewing, "viewing": False, "user_id": agent.pk, "name": agent.nickname, "ask": False}

    await assert_quiet(mine, other, elsewhere, buyer_ws)  # nothing comes back to its agent
    await close_all(mine, other, elsewhere, buyer_ws)


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "viewing", "conversation_id": 1},
        {"type": "viewing", "conversation_id": 1, "viewing": "yes"},
        {"type": "viewing", "conversation_id": 1, "viewing": True, "ask": 1},
        {"type": "viewing", "viewing": True},
    ],
)
async def test_bad_viewing_frames_get_an_error_and_the_socket_stays(agent, conversation, frame):
    socket = await agent_socket(agent)
    await socket.send_json_to({**frame, "conversation_id": conversation.pk} if "conversation_id" in frame else frame)
    assert (await receive_type(socket, "error"))["code"] == "invalid"
    await socket.send_json_to({"type": "ping"})
    assert (await receive(socket))["type"] == "pong"
    await close_all(socket)


async def test_the_buyer_sees_typing_in_the_conversation_shown_only(agent, shop, web_channel, conversation, customer):
    older = await database_sync_to_async(ConversationFactory)(
        shop=shop, channel=web_channel, customer=customer, status=Conversation.Status.RESOLVED
    )
    agent_ws = await agent_socket(agent, watch=[older.pk, conversation.pk])
    buyer_ws = await buyer_socket(shop, customer)
    assert buyer_ws.hello["conversation_id"] == conversation.pk
    await agent_ws.send_json_to({"type": "typing", "conversation_id": older.pk, "is_typing": True})
    await agent_ws.send_json_to({"type": "typing", "conversation_id": conversation.pk, "is_typing": True})
    assert (await receive(buyer_ws))["conversation_id"] == conversation.pk
    await assert_quiet(agent_ws, buyer_ws)
    await close_all(agent_ws, buyer_ws)


# --- Bad frames, limits, failures ----------------------------------------------------------------

BAD_FRAMES = [
    ("not json", "bad_json", None),
    ("[1, 2]", "bad_frame", None),
    ('"send"', "bad_frame", None),
    ("{}", "unknown_type", None),
    ('{"type": "explode"}', "unknown_type", "explode"),
    ('{"type": 7}', "unknown_type", None),
    ('{"type": "send", "client_msg_id": "c1", "text": "hi"}', "invalid", "c1"),  # no conversation_id
    ('{"type": "send", "conversation_id": "1", "client_msg_id": "c1", "text": "hi"}', "invalid", "c1"),
    ('{"type": "send", "conversation_id": {conv}, "client_msg_id": "c1"}', "invalid", "c1"),  # no text
    ('{"type": "send", "conversation_id": {conv}, "text": "hi"}', "invalid", "send"),  # no client_msg_id
    ('{"type": "send", "conversation_id": {conv}, "client_msg_id": "c1", "text": "   "}', "invalid", "c1"),
    ('{"type": "read", "conversation_id": {conv}, "seq": -1}', "invalid", "read"),
    ('{"type": "typing", "conversation_id": {conv}, "is_typing": "yes"}', "invalid", "typing"),
    ('{"type": "resync", "conversations": [1]}', "invalid", "resync"),
    ('{"type": "resync", "conversations": {"abc": 1}}', "invalid", "resync"),
]


@pytest.mark.parametrize("raw,code,ref", BAD_FRAMES)
async def test_bad_frames_get_error_and_socket_stays_up(agent, conversation, raw, code, ref):
    agent_ws = await agent_socket(agent)
    await agent_ws.send_to(text_data=raw.replace("{conv}", str(conversation.pk)))
    error = await receive_type(agent_ws, "error")
    assert (error["code"], error["ref"]) == (code, ref)
    assert error["message"]
    await ping_ok(agent_ws)
    await close_all(agent_ws)


async def test_service_validation_message_reaches_the_client(agent, conversation):
    agent_ws = await agent_socket(agent)
    await agent_ws.send_json_to({"type": "send", "conversation_id": conversation.pk, "client_msg_id": "x" * 65, "text": "hi"})
    error = await receive_type(agent_ws, "error")
    assert error["code"] == "invalid" and "client_msg_id" in error["message"]
    await close_all(agent_ws)


async def test_buyer_bad_frames_and_agent_only_types(shop, conversation, customer):
    buyer_ws = await buyer_socket(shop, customer)
    for raw, code in [
        ('{"type": "note", "client_msg_id": "n", "text": "x"}', "unknown_type"),
        ('{"type": "send", "text": "x"}', "invalid"),
        ('{"type": "read"}', "invalid"),
        ("{{", "bad_json"),
    ]:
        await buyer_ws.send_to(text_data=raw)
        assert (await receive_type(buyer_ws, "error"))["code"] == code
    await ping_ok(buyer_ws)
    await close_all(buyer_ws)


@pytest.mark.parametrize("bad", ["a\x00b", "a\ud800b"], ids=["nul", "lone-surrogate"])
async def test_text_with_nul_or_a_lone_surrogate_is_refused_and_stores_nothing(agent, shop, conversation, customer, bad):
    """JSON carries both. PostgreSQL refuses NUL in text, and a lone surrogate has no UTF-8:
    a rating comment holding one broke every later resync and API answer of its conversation."""
    await database_sync_to_async(services.conversation_resolve)(conversation=conversation, actor=agent)
    agent_ws, buyer_ws = await agent_socket(agent), await buyer_socket(shop, customer)
    refused = [
        (agent_ws, {"type": "send", "conversation_id": conversation.pk, "client_msg_id": "a1", "text": bad}, "a1"),
        (agent_ws, {"type": "note", "conversation_id": conversation.pk, "client_msg_id": "n1", "text": bad}, "n1"),
        (buyer_ws, {"type": "send", "client_msg_id": "b1", "text": bad}, "b1"),
        (buyer_ws, {"type": "rate", "conversation_id": conversation.pk, "score": 2, "comment": bad}, "rate"),
        # A bad id is not echoed back as the error's ref: the error frame itself must encode.
        (buyer_ws, {"type": "send", "client_msg_id": bad, "text": "好"}, "send"),
    ]
    for ws, frame, ref in refused:
        await ws.send_json_to(frame)
        error = await receive_type(ws, "error")
        assert (error["code"], error["ref"]) == ("invalid", ref)
        json.dumps(error, ensure_ascii=False).encode()  # as the server puts it on the wire
    await buyer_ws.send_json_to({"type": bad})
    error = await receive_type(buyer_ws, "error")
    assert (error["code"], error["ref"]) == ("unknown_type", None)
    await ping_ok(agent_ws)
    await ping_ok(buyer_ws)
    assert not await database_sync_to_async(Message.objects.exists)()
    assert await database_sync_to_async(lambda: Conversation.objects.get(pk=conversation.pk).rating)() is None
    await close_all(agent_ws, buyer_ws)


async def test_oversize_and_binary_frames_are_refused(agent, conversation):
    agent_ws = await agent_socket(agent)
    huge = json.dumps({"type": "send", "conversation_id": conversation.pk, "client_msg_id": "big", "text": "x" * 70000})
    await agent_ws.send_to(text_data=huge)
    assert (await receive_type(agent_ws, "error"))["code"] == "too_large"
    # 64 KiB of bytes is fewer characters in Chinese: counted in UTF-8.
    await agent_ws.send_to(text_data=json.dumps({"type": "ping", "pad": "字" * 22000}, ensure_ascii=False))
    assert (await receive_type(agent_ws, "error"))["code"] == "too_large"
    await agent_ws.send_to(bytes_data=b"\x00\x01")
    assert (await receive_type(agent_ws, "error"))["code"] == "bad_frame"
    await ping_ok(agent_ws)
    assert (await database_sync_to_async(Message.objects.count)()) == 0
    await close_all(agent_ws)


async def test_flood_is_rate_limited_without_dropping_the_socket(agent):
    agent_ws = await agent_socket(agent)
    for _ in range(consumer_base.RATE_BURST + 30):
        await agent_ws.send_json_to({"type": "ping"})
    frames = []
    while not await agent_ws.receive_nothing(timeout=QUIET):
        frames.append(await receive(agent_ws))
    pongs = [f for f in frames if f["type"] == "pong"]
    errors = [f for f in frames if f["type"] == "error"]
    assert consumer_base.RATE_BURST <= len(pongs) < consumer_base.RATE_BURST + 30
    assert [e["code"] for e in errors] == ["rate_limited"]  # one error per second at most
    await asyncio.sleep(0.3)  # the bucket refills
    await ping_ok(agent_ws)
    await close_all(agent_ws)


async def test_handler_crash_answers_internal_and_keeps_socket(agent, conversation, monkeypatch, caplog):
    def boom(**kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr(services, "message_send", boom)
    agent_ws = await agent_socket(agent)
    await agent_ws.send_json_to({"type": "send", "conversation_id": conversation.pk, "client_msg_id": "c", "text": "x"})
    error = await receive_type(agent_ws, "error")
    assert (error["code"], error["ref"]) == ("internal", "c")
    assert "bug" not in error["message"]
    assert "websocket handler send failed" in caplog.text
    await ping_ok(agent_ws)
    await close_all(agent_ws)


# --- Presence -----------------------------------------------------------------------------------


async def test_presence_counts_tabs_and_broadcasts_changes(agent, supervisor, shop, outsider):
    await already_online(supervisor)  # only the agent's presence is under test here
    watcher = await agent_socket(supervisor)
    outsider_ws = await agent_socket(outsider)
    tab1 = await agent_socket(agent)
    assert await receive(watcher) == {"type": "presence", "user_id": agent.pk, "online": True}
    await assert_quiet(tab1)  # a socket is not told about its own user
    online = await database_sync_to_async(lambda: list(presence.agents_online(shop_id=shop.pk)))()
    assert online == sorted([agent, supervisor], key=lambda u: u.pk)

    tab2 = await agent_socket(agent)
    assert sorted(tab2.hello["shops"][0]["online_user_ids"]) == sorted([agent.pk, supervisor.pk])
    await tab1.disconnect()
    await assert_quiet(watcher, tab2)  # still online through the second tab

    await tab2.disconnect()
    assert await receive(watcher) == {"type": "presence", "user_id": agent.pk, "online": False}
    online = await database_sync_to_async(lambda: list(presence.agents_online(shop_id=shop.pk)))()
    assert online == [supervisor]
    await assert_quiet(outsider_ws)  # other shops hear nothing
    await close_all(watcher, outsider_ws)


async def test_buyers_hear_whether_any_agent_of_the_shop_is_online(agent, supervisor, outsider, shop, customer):
    buyer_ws = await buyer_socket(shop, customer)
    assert buyer_ws.hello["staffed"] is False
    first = await agent_socket(agent)
    await assert_quiet(buyer_ws)
    assert buyer_ws.staffing == [{"type": "staffed", "staffed": True}]
    second = await agent_socket(supervisor)
    outsider_ws = await agent_socket(outsider)  # another shop's agent: this shop's buyers hear nothing of it
    await first.disconnect()  # the supervisor is still there
    await assert_quiet(buyer_ws)
    assert [frame["staffed"] for frame in buyer_ws.staffing] == [True, True, True]
    await second.disconnect()
    await assert_quiet(buyer_ws)
    assert buyer_ws.staffing[-1] == {"type": "staffed", "staffed": False}
    assert len(buyer_ws.staffing) == 4
    late = await buyer_socket(shop, customer)
    assert late.hello["staffed"] is False
    await close_all(buyer_ws, late, outsider_ws)


async def test_agents_of_a_dead_process_go_offline_by_the_sweep_and_a_live_socket_beats_back(
    agent, shop, customer, monkeypatch
):
    monkeypatch.setattr(presence, "HEARTBEAT_SECONDS", 1.0)
    buyer_ws = await buyer_socket(shop, customer)
    agent_ws = await agent_socket(agent)

    def stall_then_sweep() -> list[int]:
        # As if the agent's process had not beaten for the whole TTL: the sweep counts them out.
        stale_since = timezone.now() - presence.PRESENCE_TTL - timedelta(seconds=1)
        AgentPresence.objects.filter(user=agent).update(last_seen_at=stale_since)
        return presence.presence_expire_stale()

    assert await database_sync_to_async(stall_then_sweep)() == [agent.pk]  # well before the first beat
    await assert_quiet(buyer_ws)
    assert buyer_ws.staffing == [{"type": "staffed", "staffed": True}, {"type": "staffed", "staffed": False}]
    await asyncio.sleep(presence.HEARTBEAT_SECONDS)  # the socket is alive: its next beat counts it back in
    await assert_quiet(buyer_ws)
    assert buyer_ws.staffing[2:] == [{"type": "staffed", "staffed": True}]
    await close_all(buyer_ws, agent_ws)


async def test_membership_of_two_shops_joins_both(agent, shop, other_shop, conversation):
    await database_sync_to_async(MembershipFactory)(user=agent, shop=other_shop)
    elsewhere = await database_sync_to_async(ConversationFactory)(shop=other_shop)
    agent_ws = await agent_socket(agent, watch=[conversation.pk, elsewhere.pk])
    assert [s["id"] for s in agent_ws.hello["shops"]] == sorted([shop.pk, other_shop.pk])
    for followed in (conversation, elsewhere):
        await database_sync_to_async(services.message_send)(conversation=followed, sender_kind="buyer", text="hi")
        event = (await receive_type(agent_ws, "event"))["event"]
        assert (event["conversation_id"], event["conversation"]["shop_id"]) == (followed.pk, followed.shop_id)
        assert (await wait_row(agent_ws, followed.pk, 1))["shop_id"] == followed.shop_id
    await close_all(agent_ws)


async def receive_close(communicator, *, timeout: float = 2) -> int:
    """The close code the socket gets next, skipping frames sent before it."""
    deadline = time.monotonic() + timeout
    while True:
        output = await communicator.receive_output(timeout=max(0.01, deadline - time.monotonic()))
        if output["type"] == "websocket.close":
            return output["code"]


async def test_losing_a_shop_closes_the_users_open_sockets_at_once(agent, supervisor, shop, conversation):
    await already_online(agent, supervisor)
    agent_ws, supervisor_ws = await agent_socket(agent), await agent_socket(supervisor)

    await database_sync_to_async(Membership.objects.filter(user=agent, shop=shop).delete)()
    assert await receive_close(agent_ws) == 4403
    await ping_ok(supervisor_ws)  # the shop's other agents keep theirs

    supervisor.display_name = "新名字"
    await database_sync_to_async(supervisor.save)(update_fields=["display_name"])
    await ping_ok(supervisor_ws)  # a save that takes nothing away closes nothing
    supervisor.is_active = False
    await database_sync_to_async(supervisor.save)()
    assert await receive_close(supervisor_ws) == 4403
    # Nor can they open a new one: no shop left, or no active user.
    await expect_closed(await agent_socket(agent, hello=False), 4403)
    await expect_closed(await agent_socket(supervisor, hello=False), 4401)


async def test_gaining_a_shop_or_a_role_reopens_the_users_sockets(agent, supervisor, shop, other_shop):
    await already_online(agent, supervisor)
    agent_ws, supervisor_ws = await agent_socket(agent), await agent_socket(supervisor)
    membership = await database_sync_to_async(Membership.objects.create)(user=agent, shop=other_shop, role=Role.AGENT)
    assert await receive_close(agent_ws) == 4403
    reopened = await agent_socket(agent)
    assert sorted(s["id"] for s in reopened.hello["shops"]) == sorted([shop.pk, other_shop.pk])

    membership.role = Role.SUPERVISOR
    await database_sync_to_async(membership.save)()
    assert await receive_close(reopened) == 4403
    reopened = await agent_socket(agent)
    assert {s["id"]: s["role"] for s in reopened.hello["shops"]}[other_shop.pk] == Role.SUPERVISOR
    await database_sync_to_async(membership.save)()  # saved unchanged: nothing to reopen
    await ping_ok(reopened)
    await ping_ok(supervisor_ws)  # the shop's other agents keep theirs
    await close_all(reopened, supervisor_ws)


async def test_signing_out_closes_that_sessions_sockets_only(agent, shop):
    await already_online(agent)
    signed_in = [Client(), Client()]
    sockets = []
    for client in signed_in:
        await database_sync_to_async(client.force_login)(agent)
        cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
        sockets.append(await open_socket("/ws/agent/", [ORIGIN, (b"cookie", cookie.encode())]))
        assert (await sockets[-1].receive_json_from())["type"] == "hello"
    await database_sync_to_async(signed_in[0].post)(reverse("accounts:logout"))
    assert await receive_close(sockets[0]) == 4403
    await ping_ok(sockets[1])  # the agent's other login (another browser) keeps its socket
    await close_all(sockets[1])


async def test_a_password_change_closes_the_users_sockets_and_old_sessions_stay_out(agent, shop):
    await already_online(agent)
    client = Client()
    await database_sync_to_async(client.force_login)(agent)
    cookie = (b"cookie", f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode())
    agent_ws = await open_socket("/ws/agent/", [ORIGIN, cookie])
    assert (await agent_ws.receive_json_from())["type"] == "hello"
    agent.set_password("a-new-password-0987")
    await database_sync_to_async(agent.save)()
    assert await receive_close(agent_ws) == 4403
    await expect_closed(await open_socket("/ws/agent/", [ORIGIN, cookie]), 4401)  # the old session is over


# --- The per-process shop hub ----------------------------------------------------------------


async def test_agents_of_a_shop_share_one_layer_member_per_process(agent, supervisor, shop, conversation):
    from channels.layers import get_channel_layer

    from inbox.consumers import hub

    await already_online(agent, supervisor)
    first = await agent_socket(agent, watch=[conversation.pk])
    second = await agent_socket(supervisor, watch=[conversation.pk])
    layer = get_channel_layer()
    assert list(hub._registry(layer)) == [shop.pk]
    assert len(hub._registry(layer)[shop.pk].sockets) == 2
    await database_sync_to_async(services.message_send)(conversation=conversation, sender_kind="buyer", text="一次")
    for ws in (first, second):
        assert (await receive_type(ws, "event"))["event"]["message"]["text"] == "一次"
    await close_all(first, second)
    assert hub._registry(layer) == {}


async def test_live_event_during_resync_comes_after_resync_done(agent, conversation, monkeypatch):
    from inbox.consumers import agent as agent_module

    original = agent_module.history_after

    def history_while_a_message_arrives(**kwargs):
        result = original(**kwargs)
        services.message_send(conversation=conversation, sender_kind="buyer", text="插队")
        return result

    await database_sync_to_async(services.message_send)(conversation=conversation, sender_kind="buyer", text="旧")
    agent_ws = await agent_socket(agent, watch=[conversation.pk])
    monkeypatch.setattr(agent_module, "history_after", history_while_a_message_arrives)
    await agent_ws.send_json_to({"type": "resync", "conversations": {str(conversation.pk): 0}})
    events, done = await drain_resync(agent_ws)
    assert [e["message"]["text"] for e in events] == ["旧"]
    assert done["last_seq"] == 1
    live = (await receive_type(agent_ws, "event"))["event"]
    assert (live["seq"], live["message"]["text"]) == (2, "插队")
    await close_all(agent_ws)


# --- Who hears what: followed conversations in full, every conversation as a list row ---------


async def test_unfollowed_conversation_reaches_agent_only_as_list_rows_until_watched(agent, conversation):
    agent_ws = await agent_socket(agent)
    send = database_sync_to_async(services.message_send)

    await send(conversation=conversation, sender_kind="buyer", text="一")
    row = await wait_row(agent_ws, conversation.pk, 1)
    assert (row["last_message_preview"], row["agent_unread_count"]) == ("一", 1)
    await assert_quiet(agent_ws)  # no event frame

    assert await send_watch(agent_ws, [conversation.pk]) == [conversation.pk]
    await send(conversation=conversation, sender_kind="buyer", text="二")
    event = (await receive_type(agent_ws, "event"))["event"]
    assert (event["kind"], event["seq"], event["message"]["text"]) == ("message.created", 2, "二")
    assert (await wait_row(agent_ws, conversation.pk, 2))["last_message_preview"] == "二"  # and its row too

    # A watch frame replaces the watched set: an empty one follows nothing again.
    assert await send_watch(agent_ws, []) == []
    await send(conversation=conversation, sender_kind="buyer", text="三")
    await wait_row(agent_ws, conversation.pk, 3)
    await assert_quiet(agent_ws)
    await close_all(agent_ws)


async def test_assignee_follows_its_conversation_without_watching(agent, supervisor, conversation):
    await already_online(agent, supervisor)
    agent_ws = await agent_socket(agent)
    supervisor_ws = await agent_socket(supervisor)
    assign = database_sync_to_async(services.conversation_assign)
    send = database_sync_to_async(services.message_send)

    await assign(conversation=conversation, assignee=agent, actor=supervisor)
    event = (await receive_type(agent_ws, "event"))["event"]
    assert (event["kind"], event["conversation"]["assignee"]["id"]) == ("conversation.assigned", agent.pk)
    await send(conversation=conversation, sender_kind="buyer", text="找你")
    assert (await receive_type(agent_ws, "event"))["event"]["seq"] == 2
    for ws in (agent_ws, supervisor_ws):
        await wait_row(ws, conversation.pk, 2)
    await assert_quiet(agent_ws, supervisor_ws)  # the supervisor, neither assignee nor watcher: rows only

    # Reassigned: the new assignee's sockets follow it, the former assignee's get rows only.
    await assign(conversation=conversation, assignee=supervisor, actor=supervisor)
    await send(conversation=conversation, sender_kind="buyer", text="还在吗")
    followed = [(await receive_type(supervisor_ws, "event"))["event"] for _ in range(2)]
    assert [(e["kind"], e["seq"]) for e in followed] == [("conversation.assigned", 3), ("message.created", 4)]
    for ws in (agent_ws, supervisor_ws):
        assert (await wait_row(ws, conversation.pk, 4))["assignee"]["id"] == supervisor.pk
    await assert_quiet(agent_ws, supervisor_ws)
    await close_all(agent_ws, supervisor_ws)


async def show_list(communicator, view) -> dict:
    await communicator.send_json_to({"type": "list", "view": view})
    return await receive(communicator)


async def test_list_frame_chooses_which_rows_come(agent, supervisor, conversation):
    await already_online(agent, supervisor)
    mine_ws, unassigned_ws = await agent_socket(agent), await agent_socket(supervisor)
    assert await show_list(mine_ws, "mine") == {"type": "listing", "view": "mine"}
    assert await show_list(unassigned_ws, "unassigned") == {"type": "listing", "view": "unassigned"}
    for bad in ("everything", None, ["mine"]):
        error = await show_list(mine_ws, bad)
        assert (error["type"], error["code"], error["ref"]) == ("error", "invalid", "list")
    send = database_sync_to_async(services.message_send)
    assign = database_sync_to_async(services.conversation_assign)

    await send(conversation=conversation, sender_kind="buyer", text="有人吗")  # unassigned
    await wait_row(unassigned_ws, conversation.pk, 1)
    await assert_quiet(mine_ws)
    assert mine_ws.rows == []

    # Taken by the supervisor: every list hears it (it leaves "unassigned"); after that its
    # messages are the supervisor's own (full events) and no row reaches "mine" or "unassigned".
    await assign(conversation=conversation, assignee=supervisor, actor=supervisor)
    assert (await receive_type(unassigned_ws, "event"))["event"]["kind"] == "conversation.assigned"
    for ws in (mine_ws, unassigned_ws):
        assert (await wait_row(ws, conversation.pk, 2))["assignee"]["id"] == supervisor.pk
    await send(conversation=conversation, sender_kind="buyer", text="在吗")
    assert (await receive_type(unassigned_ws, "event"))["event"]["seq"] == 3
    await assert_quiet(mine_ws, unassigned_ws)
    assert [rows_of(ws, conversation.pk)[-1]["last_seq"] for ws in (mine_ws, unassigned_ws)] == [2, 2]

    # Back to "all": rows of every conversation again.
    assert await show_list(mine_ws, "all") == {"type": "listing", "view": "all"}
    await send(conversation=conversation, sender_kind="buyer", text="人呢")
    await wait_row(mine_ws, conversation.pk, 4)
    await close_all(mine_ws, unassigned_ws)


async def test_burst_of_messages_coalesces_list_rows_newest_last(agent, supervisor, conversation):
    from inbox.consumers import hub

    burst = 30
    await already_online(agent, supervisor)
    bystander = await agent_socket(agent)
    watcher = await agent_socket(supervisor, watch=[conversation.pk])

    def send_burst():
        for n in range(1, burst + 1):
            services.message_send(conversation=conversation, sender_kind="buyer", text=f"第{n}条")

    started = time.monotonic()
    await database_sync_to_async(send_burst)()
    # Full events are never coalesced: the watcher gets each one, in order.
    events = [(await receive_type(watcher, "event"))["event"] for _ in range(burst)]
    assert [e["seq"] for e in events] == list(range(1, burst + 1))
    for ws in (bystander, watcher):
        await wait_row(ws, conversation.pk, burst)
    elapsed = time.monotonic() - started
    await assert_quiet(bystander, watcher)

    for ws in (bystander, watcher):
        frames = ws.rows
        assert 1 <= len(frames) < burst
        # At most one list frame per LIST_FLUSH_SECONDS (the first one leaves at once).
        assert len(frames) <= elapsed / hub.LIST_FLUSH_SECONDS + 1
        for frame in frames:
            ids = [row["id"] for row in frame["conversations"]]
            assert len(ids) == len(set(ids)), frame  # one row per conversation and frame
        seqs = [row["last_seq"] for row in rows_of(ws, conversation.pk)]
        assert seqs == sorted(set(seqs)), seqs  # never a stale row after a newer one
        assert seqs[-1] == burst
        assert rows_of(ws, conversation.pk)[-1]["last_message_preview"] == f"第{burst}条"
    await close_all(bystander, watcher)


WATCH_BAD_IDS = [
    None,  # no conversation_ids at all
    5,
    "1,2",
    {"1": True},
    [True],
    ["1"],
    [0],
    [-1],
    [1.5],
    [None],
    [[1]],
]


async def test_watch_accepts_own_conversations_only_and_refuses_bad_frames(agent, shop, other_shop, conversation):
    from inbox.consumers.agent import MAX_WATCHED_CONVERSATIONS

    second = await database_sync_to_async(ConversationFactory)(shop=shop)
    foreign = await database_sync_to_async(ConversationFactory)(shop=other_shop)
    unknown = max(conversation.pk, second.pk, foreign.pk) + 1000
    agent_ws = await agent_socket(agent)

    assert await send_watch(agent_ws, [second.pk, conversation.pk, second.pk]) == sorted([conversation.pk, second.pk])
    # A foreign id and one that does not exist are left out alike: existence does not leak.
    answers = []
    for ids in ([conversation.pk, foreign.pk], [conversation.pk, unknown]):
        await agent_ws.send_json_to({"type": "watch", "conversation_ids": ids})
        answers.append(await receive_type(agent_ws, "watching"))
    assert answers[0] == answers[1] == {"type": "watching", "conversation_ids": [conversation.pk]}
    # At most MAX_WATCHED_CONVERSATIONS ids.
    fillers = [unknown + n for n in range(1, MAX_WATCHED_CONVERSATIONS)]
    assert await send_watch(agent_ws, [conversation.pk, *fillers]) == [conversation.pk]
    await agent_ws.send_json_to({"type": "watch", "conversation_ids": [conversation.pk, *fillers, unknown]})
    error = await receive_type(agent_ws, "error")
    assert (error["code"], error["ref"]) == ("invalid", "watch")

    for ids in WATCH_BAD_IDS:
        frame = {"type": "watch"} if ids is None else {"type": "watch", "conversation_ids": ids}
        await agent_ws.send_json_to(frame)
        error = await receive_type(agent_ws, "error")
        assert (error["code"], error["ref"]) == ("invalid", "watch"), ids
        assert error["message"]
    await ping_ok(agent_ws)
    # A refused watch frame changes nothing: the socket still follows what it watched last.
    await database_sync_to_async(services.message_send)(conversation=conversation, sender_kind="buyer", text="仍在关注")
    assert (await receive_type(agent_ws, "event"))["event"]["message"]["text"] == "仍在关注"
    await close_all(agent_ws)


async def test_buyer_typing_reaches_watchers_only(agent, supervisor, shop, conversation, customer):
    await already_online(agent, supervisor)
    watcher = await agent_socket(agent, watch=[conversation.pk])
    bystander = await agent_socket(supervisor)
    buyer_ws = await buyer_socket(shop, customer)
    await buyer_ws.send_json_to({"type": "typing", "is_typing": True})
    assert await receive(watcher) == {
        "type": "typing",
        "conversation_id": conversation.pk,
        "side": "buyer",
        "is_typing": True,
        "name": customer.nickname,
    }
    await assert_quiet(bystander, watcher, buyer_ws)
    assert bystander.rows == watcher.rows == []  # typing changes no list row
    await close_all(watcher, bystander, buyer_ws)


@pytest.mark.postgres
def test_socket_db_thread_keeps_healthy_connections_past_conn_max_age(agent):
    """CONN_MAX_AGE=0 must not cost socket frames a reconnect each (see consumers/base.py).

    On PostgreSQL: Django never closes SQLite's in-memory test database, so only there does
    closing show.
    """
    import time

    from django.db import connection

    from inbox.consumers import base

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL): Django never closes SQLite's in-memory test database")
    connection.ensure_connection()
    connection.close_at = time.monotonic() - 1  # what CONN_MAX_AGE=0 leaves: obsolete at once
    base._tidy_connections()
    assert connection.connection is not None
    assert connection.close_at is not None  # the setting's deadline is kept for the age limit
    connection.close_at = time.monotonic() - base.SOCKET_DB_MAX_AGE - 1
    base._tidy_connections()
    assert connection.connection is not None  # checked a moment ago: not checked again yet
    connection.dxe_checked_at -= base.SOCKET_DB_CHECK_SECONDS
    base._tidy_connections()
    assert connection.connection is None  # past the age limit at the next check
    connection.ensure_connection()
    connection.close_at = time.monotonic() - 1
    connection.errors_occurred = True
    connection.is_usable = lambda: False  # a broken connection is dropped whatever its age
    base._tidy_connections()
    assert connection.connection is None
    del connection.is_usable


async def test_sockets_spread_over_the_db_threads_and_keep_theirs(monkeypatch):
    import threading

    from django.test import override_settings

    def thread_name() -> str:
        return threading.current_thread().name

    created = []
    monkeypatch.setattr(consumer_base, "_threads", created)
    try:
        with override_settings(SOCKET_DB_THREADS=3):
            callers = [consumer_base.socket_db_caller() for _ in range(4)]
            names = [await caller(thread_name)() for caller in callers]
            assert len(set(names[:3])) == 3 and names[3] == names[0]  # round robin
            assert [await callers[1](thread_name)() for _ in range(3)] == [names[1]] * 3  # a socket keeps its thread

            closed = []
            monkeypatch.setattr(connections, "close_all", lambda: closed.append(thread_name()))
            await consumer_base.close_socket_db_connections()
            assert sorted(closed) == sorted(names[:3])
    finally:
        monkeypatch.undo()  # the suite's own threads again, before its fixtures close them
        for thread in created:
            thread.shutdown()


async def test_a_profile_change_reaches_the_shops_agents_only(agent, outsider, shop, customer):
    agent_ws, outsider_ws = await agent_socket(agent), await agent_socket(outsider)
    await database_sync_to_async(customer_update)(customer=customer, nickname="改过的昵称", tags=["回头客"])
    frame = await receive_type(agent_ws, "customer.updated")
    assert (frame["customer"]["id"], frame["customer"]["nickname"], frame["customer"]["tags"]) == (
        customer.pk,
        "改过的昵称",
        ["回头客"],
    )
    await assert_quiet(outsider_ws)
    await close_all(agent_ws, outsider_ws)
