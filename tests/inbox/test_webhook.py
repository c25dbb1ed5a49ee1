"""The platform webhook: signature, time window, body shape, idempotency, messages and orders."""
import json
import time
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from customers.models import Customer
from inbox import inbound_services, services, webhook
from inbox.models import Channel, Conversation, ConversationEvent, InboundEvent, Message
from inbox.webhook import sign
from orders.models import Order

from ..factories import ChannelFactory, CustomerFactory, OrderFactory


@pytest.fixture
def client(client):
    """Adapters ask for English; messages are asserted in English (the UI default is Chinese)."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client

SECRET = "test-webhook-secret"


@pytest.fixture
def platform_channel(shop):
    return ChannelFactory(shop=shop, kind=Channel.Kind.PLATFORM_API, name="淘宝", webhook_secret=SECRET)


def message_event(event_id="evt-1", buyer_id="tb-buyer-1", text="这件有货吗？", nickname="小明"):
    return {"id": event_id, "type": "message", "buyer": {"id": buyer_id, "nickname": nickname}, "message": {"text": text}}


def order_event(event_id="evt-o1", order_id="T20240001", status="paid", buyer_id="tb-buyer-1", **order_fields):
    order = {
        "id": order_id,
        "status": status,
        "total_amount": "199.00",
        "items": [{"title": "纯棉T恤", "sku": "TS-白-L", "quantity": 2, "price": "99.50"}],
        "placed_at": "2026-11-20T10:00:00+08:00",
        "paid_at": "2026-11-20T10:05:00+08:00",
    }
    order.update(order_fields)
    return {"id": event_id, "type": "order", "buyer": {"id": buyer_id, "nickname": "小明"}, "order": order}


def post(client, channel, payload=None, *, raw=None, timestamp=None, secret=None, signature=None, headers=True, public_id=None):
    """POST a webhook the way a platform adapter does; every part can be spoiled for a test."""
    body = raw if raw is not None else json.dumps(payload, ensure_ascii=False).encode()
    ts = str(int(time.time())) if timestamp is None else str(timestamp)
    extra = {}
    if headers:
        extra = {
            "HTTP_X_DXE_TIMESTAMP": ts,
            "HTTP_X_DXE_SIGNATURE": signature if signature is not None else sign(secret or channel.webhook_secret, ts, body),
        }
    url = reverse("webhook", args=[public_id or channel.public_id])
    return client.post(url, data=body, content_type="application/json", **extra)


def counts():
    return {
        model.__name__: model.objects.count()
        for model in (Customer, Conversation, ConversationEvent, Message, InboundEvent, Order)
    }


NOTHING = {"Customer": 0, "Conversation": 0, "ConversationEvent": 0, "Message": 0, "InboundEvent": 0, "Order": 0}


def assert_error(response, status_code, code=None):
    assert response.status_code == status_code, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code
    return body["error"]


# --- Messages -------------------------------------------------------------------------------


def test_message_event_lands_in_conversation_as_buyer_message(client, platform_channel, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, platform_channel, message_event())
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["duplicate"] is False
    message = Message.objects.get(pk=body["message_id"])
    assert body["conversation_id"] == message.conversation_id
    assert message.sender_kind == Message.SenderKind.BUYER
    assert message.text == "这件有货吗？"
    assert message.client_msg_id == "platform:evt-1"
    conversation = message.conversation
    assert conversation.channel == platform_channel
    assert conversation.customer.platform_buyer_id == "tb-buyer-1"
    assert conversation.customer.nickname == "小明"
    assert conversation.customer.shop == platform_channel.shop
    assert conversation.agent_unread_count == 1
    inbound = InboundEvent.objects.get()
    assert (inbound.channel, inbound.external_id, inbound.kind, inbound.message) == (
        platform_channel,
        "evt-1",
        "message",
        message,
    )


@pytest.mark.django_db(transaction=True)
async def test_message_event_reaches_the_shops_agents_live(client, platform_channel):
    import asyncio

    from asgiref.sync import sync_to_async
    from channels.layers import get_channel_layer
    from django.db import connections

    from inbox.realtime import shop_agents_group

    layer = get_channel_layer()

    async def drain(name):
        frames = []
        while True:
            try:
                frames.append(await asyncio.wait_for(layer.receive(name), timeout=0.3))
            except asyncio.TimeoutError:
                return frames

    # Subscribed on this test's event loop, which the request's commit publishes to (as a
    # server's loop is); on Redis a layer's subscriptions live in the loop that made them.
    agent_socket = await layer.new_channel()
    await layer.group_add(shop_agents_group(platform_channel.shop_id), agent_socket)
    def post_once():
        try:
            return post(client, platform_channel, message_event())
        finally:
            connections.close_all()  # this thread's, so the test database can be dropped

    body = (await sync_to_async(post_once)()).json()
    frames = [frame["payload"] for frame in await drain(agent_socket)]
    created = [p for p in frames if p["kind"] == "message.created"]
    assert [p["message"]["id"] for p in created] == [body["message_id"]]
    assert created[0]["message"]["sender_kind"] == "buyer"


def test_next_message_of_same_buyer_joins_the_conversation(client, platform_channel):
    first = post(client, platform_channel, message_event("evt-1", text="在吗")).json()
    second = post(client, platform_channel, message_event("evt-2", text="还有L码吗")).json()
    assert first["conversation_id"] == second["conversation_id"]
    texts = list(Message.objects.filter(conversation_id=first["conversation_id"]).values_list("text", "sender_kind"))
    assert texts == [("在吗", "buyer"), ("还有L码吗", "buyer")]


def test_a_message_to_a_snoozed_conversation_opens_it_again(client, platform_channel, agent):
    first = post(client, platform_channel, message_event("evt-1", text="在吗")).json()
    conversation = Conversation.objects.get(pk=first["conversation_id"])
    services.conversation_snooze(conversation=conversation, until=timezone.now() + timedelta(days=1), actor=agent)
    second = post(client, platform_channel, message_event("evt-2", text="到底什么时候发货")).json()
    assert second["conversation_id"] == conversation.pk
    conversation.refresh_from_db()
    assert (conversation.status, conversation.snoozed_until) == ("open", None)
    woken = ConversationEvent.objects.filter(conversation=conversation, kind="status").order_by("seq").last()
    assert (woken.actor, woken.data) == (None, {"from": "snoozed", "to": "open", "reason": "buyer_message"})


def test_duplicate_event_id_creates_one_message(client, platform_channel):
    first = post(client, platform_channel, message_event("evt-9"))
    # A redelivery: same event id, a fresh timestamp and signature.
    again = post(client, platform_channel, message_event("evt-9", text="changed on the way"))
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json() == {
        "duplicate": True,
        "id": "evt-9",
        "type": "message",
        "message_id": first.json()["message_id"],
        "conversation_id": first.json()["conversation_id"],
    }
    assert Message.objects.count() == 1
    assert InboundEvent.objects.count() == 1


def test_replay_of_the_same_signed_request_changes_nothing(client, platform_channel):
    body = json.dumps(message_event("evt-r")).encode()
    ts = str(int(time.time()) - 30)
    signature = sign(SECRET, ts, body)
    first = post(client, platform_channel, raw=body, timestamp=ts, signature=signature)
    assert first.status_code == 201
    before = counts()
    replay = post(client, platform_channel, raw=body, timestamp=ts, signature=signature)
    assert replay.status_code == 200
    assert replay.json()["duplicate"] is True
    assert counts() == before


def test_a_delivery_signature_does_not_pass_as_an_inbound_one(client, platform_channel):
    # Our reply's body has an inbound message's shape: replayed with its headers, it is refused.
    body = json.dumps(message_event("dxe:message:7", text="您好，已发货")).encode()
    ts = str(int(time.time()))
    response = post(client, platform_channel, raw=body, timestamp=ts, signature=sign(SECRET, ts, body, outbound=True))
    assert response.status_code == 401
    assert not Message.objects.exists()


def test_event_ids_are_per_channel(client, shop, platform_channel):
    other = ChannelFactory(shop=shop, kind=Channel.Kind.PLATFORM_API, name="拼多多")
    assert post(client, platform_channel, message_event("same-id")).status_code == 201
    assert post(client, other, message_event("same-id")).status_code == 201
    assert Message.objects.count() == 2


def test_taken_event_id_is_a_duplicate_even_when_its_insert_races(platform_channel):
    """The service never reads before it inserts: a racing delivery hits the unique constraint.

    A row already present when the insert runs is exactly what the loser of a race sees, so
    this takes the IntegrityError path inside its savepoint and must leave the transaction usable.
    """
    InboundEvent.objects.create(channel=platform_channel, external_id="evt-race", kind="message")
    event = inbound_services.InboundMessage(
        event_id="evt-race", buyer=inbound_services.InboundBuyer(id="tb-1"), text="hi"
    )
    result = inbound_services.inbound_event_take(channel=platform_channel, event=event)
    assert result.duplicate is True
    assert result.message is None
    # The surrounding transaction still works after the caught IntegrityError.
    assert InboundEvent.objects.filter(channel=platform_channel).count() == 1
    assert not Message.objects.exists()
    assert not Customer.objects.exists()


def test_long_event_ids_get_a_digest_client_msg_id(client, platform_channel):
    event_id = "x" * 100
    response = post(client, platform_channel, message_event(event_id))
    assert response.status_code == 201, response.content
    message = Message.objects.get()
    assert message.client_msg_id.startswith("platform:")
    assert len(message.client_msg_id) == 64
    assert InboundEvent.objects.get().external_id == event_id


def test_refused_content_stores_nothing_not_even_the_event_id(client, platform_channel):
    response = post(client, platform_channel, order_event("evt-fix", total_amount="-5.00"))
    assert_error(response, 400, "invalid")
    assert counts() == NOTHING
    # The platform may fix the event and send it again under the same id.
    assert post(client, platform_channel, order_event("evt-fix")).status_code == 201


# --- Orders ---------------------------------------------------------------------------------


def test_order_event_creates_order_linked_to_buyer_profile(client, platform_channel):
    response = post(client, platform_channel, order_event())
    assert response.status_code == 201, response.content
    body = response.json()
    order = Order.objects.get(pk=body["order_id"])
    customer = Customer.objects.get(shop=platform_channel.shop, platform_buyer_id="tb-buyer-1")
    assert body["customer_id"] == customer.pk
    assert order.customer == customer
    assert order.shop == platform_channel.shop
    assert order.platform_order_id == "T20240001"
    assert order.status == Order.Status.PAID
    assert order.total_amount == Decimal("199.00")
    assert order.items == [{"title": "纯棉T恤", "sku": "TS-白-L", "quantity": 2, "price": "99.50"}]
    assert order.placed_at.isoformat() == "2026-11-20T02:00:00+00:00"
    assert order.paid_at is not None
    # An order is not a chat: no conversation, no message.
    assert not Conversation.objects.exists()
    assert InboundEvent.objects.get().kind == "order"


def test_order_event_uses_existing_profile_and_updates_the_order(client, platform_channel):
    customer = CustomerFactory(shop=platform_channel.shop, platform_buyer_id="tb-buyer-1")
    created = post(client, platform_channel, order_event("e1", status="pending_payment", paid_at=None)).json()
    updated = post(client, platform_channel, order_event("e2", status="shipped", total_amount=180)).json()
    assert created["order_id"] == updated["order_id"]
    order = Order.objects.get()
    assert order.customer == customer
    assert order.status == Order.Status.SHIPPED
    assert order.total_amount == Decimal("180.00")
    assert Customer.objects.count() == 1


def test_late_order_event_does_not_move_status_back(client, platform_channel):
    post(client, platform_channel, order_event("e1", status="shipped"))
    response = post(client, platform_channel, order_event("e2", status="paid"))
    assert response.status_code == 201
    assert Order.objects.get().status == Order.Status.SHIPPED


def test_order_amount_as_json_number_is_exact(client, platform_channel):
    raw = json.dumps(order_event()).replace('"199.00"', "0.30").encode()
    response = post(client, platform_channel, raw=raw)
    assert response.status_code == 201, response.content
    assert Order.objects.get().total_amount == Decimal("0.30")


def test_order_of_another_buyer_number_is_refused(client, platform_channel):
    OrderFactory(shop=platform_channel.shop, platform_order_id="T1", customer__platform_buyer_id="someone-else")
    before = counts()
    response = post(client, platform_channel, order_event(order_id="T1"))
    assert_error(response, 400, "invalid")
    assert counts() == before


@pytest.mark.parametrize(
    "order_fields",
    [
        {"total_amount": "-1.00"},
        {"total_amount": "1.001"},
        {"status": "teleported"},
        {"items": [{"title": "T恤", "sku": "", "quantity": 0, "price": "1.00"}]},
        {"items": [{"title": "T恤", "sku": "", "quantity": 1, "price": "-1"}]},
    ],
)
def test_order_with_refused_values_stores_nothing(client, platform_channel, order_fields):
    response = post(client, platform_channel, order_event(**order_fields))
    assert_error(response, 400)
    assert counts() == NOTHING


# --- Refusals: who is calling -----------------------------------------------------------------


def test_bad_signature_is_refused(client, platform_channel):
    response = post(client, platform_channel, message_event(), secret="not-the-secret")
    error = assert_error(response, 401, "bad_signature")
    assert "signature" in error["message"].lower()
    assert response.headers["WWW-Authenticate"].startswith("DXE-HMAC-SHA256")
    assert counts() == NOTHING


def test_signature_over_another_body_is_refused(client, platform_channel):
    ts = str(int(time.time()))
    signature = sign(SECRET, ts, json.dumps(message_event(text="original")).encode())
    response = post(client, platform_channel, message_event(text="tampered"), timestamp=ts, signature=signature)
    assert_error(response, 401, "bad_signature")
    assert counts() == NOTHING


def test_signature_under_another_timestamp_is_refused(client, platform_channel):
    body = json.dumps(message_event()).encode()
    now = int(time.time())
    response = post(client, platform_channel, raw=body, timestamp=now, signature=sign(SECRET, str(now - 1), body))
    assert_error(response, 401, "bad_signature")
    assert counts() == NOTHING


@pytest.mark.parametrize(
    "meta",
    [
        {},
        {"HTTP_X_DXE_TIMESTAMP": "now"},
        {"HTTP_X_DXE_SIGNATURE": "abc"},
        {"HTTP_X_DXE_TIMESTAMP": "1700000000", "HTTP_X_DXE_SIGNATURE": "not hex ü"},
        {"HTTP_X_DXE_TIMESTAMP": "-5", "HTTP_X_DXE_SIGNATURE": "00"},
    ],
)
def test_missing_or_garbled_headers_are_refused(client, platform_channel, meta):
    url = reverse("webhook", args=[platform_channel.public_id])
    response = client.post(url, data=json.dumps(message_event()), content_type="application/json", **meta)
    assert_error(response, 401, "bad_signature")
    assert counts() == NOTHING


@pytest.mark.parametrize("offset", [-310, -3600, 310, 86400])  # margin for a slow machine
def test_stale_timestamp_is_refused_past_and_future(client, platform_channel, offset):
    response = post(client, platform_channel, message_event(), timestamp=int(time.time()) + offset)
    error = assert_error(response, 401, "stale_timestamp")
    assert error["message"].startswith("stale timestamp")
    assert counts() == NOTHING


@pytest.mark.parametrize("offset", [-250, 250])
def test_timestamp_inside_the_window_is_taken(client, platform_channel, offset):
    response = post(client, platform_channel, message_event(), timestamp=int(time.time()) + offset)
    assert response.status_code == 201


def test_tolerance_comes_from_settings(client, platform_channel, settings):
    settings.WEBHOOK_TOLERANCE_SECONDS = 10
    response = post(client, platform_channel, message_event(), timestamp=int(time.time()) - 60)
    assert_error(response, 401, "stale_timestamp")


def test_unknown_channel_is_404(client, platform_channel):
    response = post(client, platform_channel, message_event(), public_id=uuid.uuid4())
    assert_error(response, 404, "not_found")
    assert counts() == NOTHING


def test_inactive_channel_is_404(client, platform_channel):
    platform_channel.is_active = False
    platform_channel.save()
    response = post(client, platform_channel, message_event())
    assert_error(response, 404, "not_found")
    assert counts() == NOTHING


def test_web_channel_is_404(client, web_channel):
    response = post(client, web_channel, message_event())
    assert_error(response, 404, "not_found")
    assert counts() == NOTHING


def test_not_a_uuid_is_404(client):
    response = client.post("/api/v1/webhooks/not-a-uuid/", data="{}", content_type="application/json")
    assert response.status_code == 404


def test_only_post_is_allowed(client, platform_channel):
    response = client.get(reverse("webhook", args=[platform_channel.public_id]))
    assert_error(response, 405)


def test_oversized_body_is_refused(client, platform_channel):
    response = post(client, platform_channel, message_event(text="字" * 100_000))
    assert_error(response, 413, "too_large")
    assert counts() == NOTHING


def test_session_and_csrf_do_not_matter(platform_channel, agent):
    """An agent's browser session neither helps nor hurts: the HMAC is the only credential."""
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(agent)
    assert post(browser, platform_channel, message_event()).status_code == 201
    assert_error(post(browser, platform_channel, message_event("evt-2"), secret="wrong"), 401)


def test_signed_requests_are_throttled_per_channel(client, shop, platform_channel, monkeypatch):
    monkeypatch.setattr(webhook, "SIGNED_PER_CHANNEL_PER_MINUTE", 2)
    other = ChannelFactory(shop=shop, kind=Channel.Kind.PLATFORM_API)
    assert post(client, platform_channel, message_event("a")).status_code == 201
    assert post(client, platform_channel, message_event("b")).status_code == 201
    assert_error(post(client, platform_channel, message_event("c")), 429, "throttled")
    assert post(client, other, message_event("c")).status_code == 201


def test_a_stranger_knowing_the_url_cannot_use_up_the_channels_budget(platform_channel, monkeypatch):
    monkeypatch.setattr(webhook, "SIGNED_PER_CHANNEL_PER_MINUTE", 2)
    monkeypatch.setattr(webhook, "REFUSED_PER_ADDRESS_PER_MINUTE", 3)
    stranger, platform = Client(REMOTE_ADDR="198.51.100.7"), Client(REMOTE_ADDR="203.0.113.9")
    codes = [post(stranger, platform_channel, message_event(f"x{n}"), secret="guess").status_code for n in range(5)]
    assert codes == [401, 401, 401, 429, 429]  # then not even checked
    assert post(platform, platform_channel, message_event("a")).status_code == 201
    assert post(platform, platform_channel, message_event("b")).status_code == 201


# --- Refusals: what is sent -----------------------------------------------------------------


def _key(part):
    return int(part) if part.isdigit() else part


def _parent(data, dotted):
    *parents, last = dotted.split(".")
    for key in parents:
        data = data[_key(key)]
    return data, _key(last)


def _without(data, dotted):
    """The payload without the field at ``dotted`` (``order.items.0.title``)."""
    target, last = _parent(data, dotted)
    del target[last]
    return data


def _with(data, dotted, value):
    """The payload with ``value`` at ``dotted``."""
    target, last = _parent(data, dotted)
    target[last] = value
    return data


@pytest.mark.parametrize(
    "raw, code, mentions",
    [
        (b"not json", "malformed", "JSON"),
        (b"", "malformed", "JSON"),
        (b"\xff\xfe{}", "malformed", "JSON"),
        (b'{"id": "e", "type": "message"', "malformed", "JSON"),
        (b"[1, 2]", "malformed", "object"),
        (b'"just a string"', "malformed", "object"),
        (b'{"id": "e", "type": "order", "buyer": {"id": "b"}, "order": {"total_amount": NaN}}', "malformed", "JSON"),
    ],
)
def test_malformed_body_is_refused(client, platform_channel, raw, code, mentions):
    error = assert_error(post(client, platform_channel, raw=raw), 400, code)
    assert mentions in error["message"]
    assert counts() == NOTHING


@pytest.mark.parametrize(
    "make, path",
    [
        (lambda: _without(message_event(), "id"), "id"),
        (lambda: _with(message_event(), "id", 42), "id"),
        (lambda: _with(message_event(), "id", ""), "id"),
        (lambda: _with(message_event(), "id", "x" * 101), "id"),
        (lambda: _without(message_event(), "type"), "type"),
        (lambda: _with(message_event(), "type", "refund"), "type"),
        (lambda: _with(message_event(), "type", ["message"]), "type"),
        (lambda: _without(message_event(), "buyer"), "buyer"),
        (lambda: _with(message_event(), "buyer", "tb-1"), "buyer"),
        (lambda: _without(message_event(), "buyer.id"), "buyer.id"),
        (lambda: _with(message_event(), "buyer.id", 12345), "buyer.id"),
        (lambda: _with(message_event(), "buyer.nickname", {"a": 1}), "buyer.nickname"),
        (lambda: _without(message_event(), "message"), "message"),
        (lambda: _without(message_event(), "message.text"), "message.text"),
        (lambda: _with(message_event(), "message.text", True), "message.text"),
        (lambda: _without(order_event(), "order"), "order"),
        (lambda: _with(order_event(), "order", []), "order"),
        (lambda: _without(order_event(), "order.id"), "order.id"),
        (lambda: _without(order_event(), "order.status"), "order.status"),
        (lambda: _with(order_event(), "order.total_amount", "lots"), "order.total_amount"),
        (lambda: _with(order_event(), "order.total_amount", True), "order.total_amount"),
        (lambda: _without(order_event(), "order.total_amount"), "order.total_amount"),
        (lambda: _with(order_event(), "order.items", "T恤"), "order.items"),
        (lambda: _without(order_event(), "order.items"), "order.items"),
        (lambda: _with(order_event(), "order.items.0", "T恤"), "order.items[0]"),
        (lambda: _with(order_event(), "order.items.0.quantity", "2"), "order.items[0].quantity"),
        (lambda: _with(order_event(), "order.items.0.quantity", 1.5), "order.items[0].quantity"),
        (lambda: _with(order_event(), "order.items.0.price", None), "order.items[0].price"),
        (lambda: _without(order_event(), "order.items.0.title"), "order.items[0].title"),
        (lambda: _without(order_event(), "order.placed_at"), "order.placed_at"),
        (lambda: _with(order_event(), "order.placed_at", "yesterday"), "order.placed_at"),
        (lambda: _with(order_event(), "order.placed_at", "2026-13-40T99:00:00"), "order.placed_at"),
        (lambda: _with(order_event(), "order.paid_at", 1700000000), "order.paid_at"),
    ],
)
def test_wrong_shape_is_refused_naming_the_field(client, platform_channel, make, path):
    response = post(client, platform_channel, make())
    error = assert_error(response, 400, "invalid_event")
    assert error["message"].startswith(f"{path}:"), error["message"]
    assert counts() == NOTHING


@pytest.mark.parametrize("bad", ["a\x00b", "a\ud800b"], ids=["nul", "lone-surrogate"])
@pytest.mark.parametrize(
    "make, dotted, path",
    [
        (message_event, "id", "id"),
        (message_event, "buyer.id", "buyer.id"),
        (message_event, "buyer.nickname", "buyer.nickname"),
        (message_event, "message.text", "message.text"),
        (order_event, "order.items.0.title", "order.items[0].title"),
    ],
)
def test_text_that_cannot_be_stored_is_refused_naming_the_field(client, platform_channel, make, dotted, path, bad):
    """JSON escapes carry NUL (which PostgreSQL refuses) and lone surrogates (no UTF-8 form)."""
    raw = json.dumps(_with(make(), dotted, bad)).encode()  # escaped: the body itself is UTF-8
    error = assert_error(post(client, platform_channel, raw=raw), 400, "invalid_event")
    assert error["message"].startswith(f"{path}:"), error["message"]
    assert counts() == NOTHING


def test_unknown_event_type_names_the_known_ones(client, platform_channel):
    error = assert_error(post(client, platform_channel, _with(message_event(), "type", "refund")), 400, "invalid_event")
    assert "refund" in error["message"]
    assert "message, order" in error["message"]


def test_unknown_extra_fields_are_ignored(client, platform_channel):
    payload = message_event()
    payload["platform"] = "taobao"
    payload["message"]["mime"] = "text/plain"
    assert post(client, platform_channel, payload).status_code == 201


# --- A real race (PostgreSQL: SQLite serializes writers, so it cannot race) -------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_racing_deliveries_of_one_event_create_one_message(shop, monkeypatch):
    import threading

    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL)")
    channel = ChannelFactory(shop=shop, kind=Channel.Kind.PLATFORM_API, webhook_secret=SECRET)
    real_receive = inbound_services.buyer_message_receive

    def slow_receive(**kwargs):
        # Hold the winner's transaction open so the other delivery's insert has to wait on it.
        time.sleep(0.3)
        return real_receive(**kwargs)

    monkeypatch.setattr(inbound_services, "buyer_message_receive", slow_receive)
    event = inbound_services.InboundMessage(
        event_id="evt-race", buyer=inbound_services.InboundBuyer(id="tb-race"), text="在吗"
    )
    barrier = threading.Barrier(2)
    results, errors = [], []

    def deliver():
        try:
            barrier.wait(timeout=5)
            results.append(inbound_services.inbound_event_take(channel=channel, event=event))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert sorted(result.duplicate for result in results) == [False, True]
    assert Message.objects.count() == 1
    assert InboundEvent.objects.count() == 1
    assert Customer.objects.count() == 1
    assert Conversation.objects.count() == 1
