"""The inbox REST API: conversations, messages, notes, events, assignment, status, channels."""
import base64
import json
from datetime import datetime, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Role
from inbox import services
from inbox.models import Channel, Conversation, ConversationEvent, Message

from ..factories import (
    ChannelFactory,
    ConversationFactory,
    CustomerFactory,
    MembershipFactory,
    TagFactory,
    UserFactory,
    png_upload,
)

API = "/api/v1"


@pytest.fixture
def client_for():
    def make(user=None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_login(user)
        return client

    return make


@pytest.fixture
def api(client_for, agent):
    return client_for(agent)


def assert_error(response, status_code: int, *, field: str | None = None) -> dict:
    """Every 4xx is ``{"error": {"code", "message", "fields"?}}`` with a non-empty message."""
    assert response.status_code == status_code, response.content
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert error["code"] and isinstance(error["code"], str)
    assert error["message"] and isinstance(error["message"], str)
    if field is not None:
        assert field in error["fields"], error
    return error


def url(conversation, suffix: str = "") -> str:
    return f"{API}/conversations/{conversation.pk}/{suffix}"


# --- Conversation list --------------------------------------------------------------------
def test_list_shows_own_shop_only(api, conversation, other_shop):
    ConversationFactory(shop=other_shop)
    response = api.get(f"{API}/conversations/")
    assert response.status_code == 200
    body = response.json()
    assert [row["id"] for row in body["results"]] == [conversation.pk]
    assert body["next"] is None
    row = body["results"][0]
    assert row["customer"]["nickname"] == conversation.customer.nickname
    assert row["channel"] == {"id": conversation.channel_id, "kind": "web", "name": conversation.channel.name}


def test_list_filters(api, agent, shop, web_channel):
    now = timezone.now()
    tag = TagFactory(shop=shop, name="VIP")
    mine = ConversationFactory(shop=shop, channel=web_channel, assignee=agent, last_message_at=now)
    unassigned = ConversationFactory(shop=shop, channel=web_channel, last_message_at=now - timedelta(minutes=1))
    resolved = ConversationFactory(
        shop=shop, channel=web_channel, status=Conversation.Status.RESOLVED, last_message_at=now - timedelta(minutes=2)
    )
    other_channel = ChannelFactory(shop=shop, kind=Channel.Kind.PLATFORM_API, name="淘宝")
    on_other_channel = ConversationFactory(shop=shop, channel=other_channel, last_message_at=now - timedelta(minutes=3))
    unassigned.customer.tags.add(tag)
    for seq, text in enumerate(("退货地址是哪里", "谢谢"), start=1):  # stored as they were, not re-sent
        Message.objects.create(conversation=resolved, shop=shop, seq=seq, sender_kind="customer", text=text, created_at=now)

    def ids(query: str) -> list[int]:
        response = api.get(f"{API}/conversations/?{query}")
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    assert ids("") == [mine.pk, unassigned.pk, resolved.pk, on_other_channel.pk]
    assert ids("view=all") == ids("")
    assert ids("view=mine") == [mine.pk]
    assert ids("view=unassigned") == [unassigned.pk, resolved.pk, on_other_channel.pk]
    assert ids("status=resolved") == [resolved.pk]
    assert ids("status=") == ids("")
    assert ids(f"channel={other_channel.pk}") == [on_other_channel.pk]
    assert ids("tag=VIP") == [unassigned.pk]
    assert ids("q=退货") == [resolved.pk]
    assert ids(f"q={mine.customer.nickname}") == [mine.pk]
    assert ids(f"shop={shop.pk}") == ids("")
    assert ids("view=unassigned&status=open") == [unassigned.pk, on_other_channel.pk]
    services.conversation_snooze(conversation=unassigned, until=now + timedelta(hours=1), actor=agent)
    assert ids("status=snoozed") == [unassigned.pk]
    assert ids("status=open") == [mine.pk, on_other_channel.pk]


def test_list_filter_by_foreign_shop_is_empty(api, conversation, other_shop):
    ConversationFactory(shop=other_shop)
    response = api.get(f"{API}/conversations/?shop={other_shop.pk}")
    assert response.status_code == 200
    assert response.json()["results"] == []


@pytest.mark.parametrize(
    "query, field",
    [
        ("view=everything", "view"),
        ("status=closed", "status"),
        ("status=pending", "status"),  # gone: there is no bot to wait for
        ("channel=abc", "channel"),
        ("channel=0", "channel"),
        ("shop=x", "shop"),
        ("q=" + "x" * 101, "q"),
        ("page_size=0", "page_size"),
        ("page_size=ten", "page_size"),
        ("cursor=not-a-cursor!!", "cursor"),
    ],
)
def test_list_bad_filters_are_400_with_message(api, conversation, query, field):
    assert_error(api.get(f"{API}/conversations/?{query}"), 400, field=field)


def _cursor(payload) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        _cursor({"a": 1}),
        _cursor(["2024-01-01T00:00:00+00:00"]),
        _cursor(["2024-01-01T00:00:00+00:00", "7"]),
        _cursor(["2024-01-01T00:00:00", 7]),  # naive datetime
        _cursor(["yesterday", 7]),
        _cursor([12, 7]),
        _cursor(["2024-01-01T00:00:00+00:00", -1]),
        _cursor(["2024-01-01T00:00:00+00:00", True]),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        "%%%",
    ],
)
def test_tampered_cursors_are_400(api, conversation, cursor):
    response = api.get(f"{API}/conversations/", {"cursor": cursor})
    assert_error(response, 400, field="cursor")


def test_keyset_pages_cover_every_row_once_in_order_even_with_equal_timestamps(api, shop, web_channel):
    base = timezone.now()
    # Groups of four share a timestamp, so the id tie-break decides order inside a group.
    for i in range(30):
        ConversationFactory(shop=shop, channel=web_channel, last_message_at=base - timedelta(seconds=i // 4))
    expected = list(Conversation.objects.order_by("-last_message_at", "-id").values_list("id", flat=True))

    seen, link, pages = [], f"{API}/conversations/?page_size=7&view=all", 0
    while link:
        response = api.get(link)
        assert response.status_code == 200
        body = response.json()
        seen += [row["id"] for row in body["results"]]
        assert len(body["results"]) <= 7
        link, pages = body["next"], pages + 1
        if link:
            assert "view=all" in link and "page_size=7" in link
    assert seen == expected
    assert pages == 5


def test_keyset_paging_does_not_repeat_rows_when_new_activity_arrives(api, shop, web_channel):
    base = timezone.now() - timedelta(hours=1)
    convs = [ConversationFactory(shop=shop, channel=web_channel, last_message_at=base - timedelta(minutes=i)) for i in range(6)]
    first = api.get(f"{API}/conversations/?page_size=3").json()
    assert [row["id"] for row in first["results"]] == [c.pk for c in convs[:3]]
    # A new conversation and fresh activity on an already-seen one move to the top.
    ConversationFactory(shop=shop, channel=web_channel)
    Conversation.objects.filter(pk=convs[0].pk).update(last_message_at=timezone.now())
    second = api.get(first["next"]).json()
    assert [row["id"] for row in second["results"]] == [c.pk for c in convs[3:]]
    assert second["next"] is None


def test_page_size_is_capped_at_100(api, shop, web_channel):
    for _ in range(105):
        ConversationFactory(shop=shop, channel=web_channel)
    body = api.get(f"{API}/conversations/?page_size=1000").json()
    assert len(body["results"]) == 100
    assert body["next"]
    default = api.get(f"{API}/conversations/").json()
    assert len(default["results"]) == 25


def _count_queries(client, path: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries)


def test_conversation_list_runs_a_constant_number_of_queries(api, shop, web_channel, agent):
    tags = [TagFactory(shop=shop) for _ in range(3)]

    def add(n):
        for _ in range(n):
            conv = ConversationFactory(shop=shop, channel=web_channel, assignee=agent)
            conv.customer.tags.set(tags)

    add(5)
    _count_queries(api, f"{API}/conversations/")  # the first request caches the agent's memberships
    small = {size: _count_queries(api, f"{API}/conversations/?page_size={size}") for size in (5, 25, 100)}
    add(45)
    large = {size: _count_queries(api, f"{API}/conversations/?page_size={size}") for size in (5, 25, 100)}
    filtered = _count_queries(api, f"{API}/conversations/?view=mine&status=open&tag={tags[0].name}&q=买家")
    counts = set(small.values()) | set(large.values()) | {filtered}
    assert len(counts) == 1, (small, large, filtered)
    assert counts.pop() <= 6  # session, user, conversations


def test_message_list_runs_a_constant_number_of_queries(api, conversation, agent):
    def add(n):
        for i in range(n):
            message, _ = services.message_send(
                conversation=conversation, sender_kind="agent", author=agent, text="图", images=[png_upload()]
            )

    add(5)
    _count_queries(api, url(conversation, "messages/"))  # the first request caches the agent's memberships
    small = [_count_queries(api, url(conversation, f"messages/?limit={n}")) for n in (5, 50, 200)]
    small.append(_count_queries(api, url(conversation, "messages/?after_seq=0&limit=200")))
    add(45)
    large = [_count_queries(api, url(conversation, f"messages/?limit={n}")) for n in (5, 50, 200)]
    large.append(_count_queries(api, url(conversation, "messages/?after_seq=0&limit=200")))
    assert len(set(small + large)) == 1, (small, large)
    assert small[0] <= 6  # session, user, conversation, messages, attachments


# --- A buyer's other conversations (历史会话) -----------------------------------------------
def _buyer_history(shop, channel, customer, count: int) -> list[Conversation]:
    """``count`` resolved conversations of the buyer, a day apart, the newest first."""
    now = timezone.now()
    made = []
    for n in range(count):
        past = ConversationFactory(shop=shop, channel=channel, customer=customer, status="resolved", assignee=None)
        Conversation.objects.filter(pk=past.pk).update(created_at=now - timedelta(days=n + 1))
        made.append(past)
    return made


def test_others_are_the_buyers_other_conversations_newest_first_as_list_rows(api, shop, web_channel, conversation, agent):
    customer = conversation.customer
    older, oldest = _buyer_history(shop, web_channel, customer, 2)
    Conversation.objects.filter(pk=older.pk).update(assignee=agent, last_message_preview="上次的尺码问题")
    ConversationFactory(shop=shop, channel=web_channel)  # another buyer's
    body = api.get(url(conversation, "others/")).json()
    assert [row["id"] for row in body["results"]] == [older.pk, oldest.pk]
    assert body["next"] is None
    # Each row is the conversation's list row, so the workspace opens it as it is.
    assert body["results"][0] == api.get(url(older)).json()
    assert body["results"][0]["assignee"]["id"] == agent.pk
    assert body["results"][0]["last_message_preview"] == "上次的尺码问题"
    # From an older conversation, the current one is among the others.
    assert [row["id"] for row in api.get(url(oldest, "others/")).json()["results"]] == [conversation.pk, older.pk]


def test_others_page_by_cursor_without_skipping_or_repeating(api, shop, web_channel, conversation):
    history = _buyer_history(shop, web_channel, conversation.customer, 7)
    first = api.get(url(conversation, "others/?page_size=3")).json()
    # A conversation the buyer starts meanwhile does not shift the pages.
    ConversationFactory(shop=shop, channel=web_channel, customer=conversation.customer)
    seen, next_url = [row["id"] for row in first["results"]], first["next"]
    while next_url:
        page = api.get(next_url).json()
        seen += [row["id"] for row in page["results"]]
        next_url = page["next"]
    assert seen == [c.pk for c in history]
    assert_error(api.get(url(conversation, "others/?cursor=bogus")), 400, field="cursor")
    assert_error(api.get(url(conversation, "others/?page_size=0")), 400, field="page_size")


def test_others_run_a_constant_number_of_queries(api, shop, web_channel, conversation, agent):
    _buyer_history(shop, web_channel, conversation.customer, 3)
    _count_queries(api, url(conversation, "others/"))  # the first request caches the agent's memberships
    small = _count_queries(api, url(conversation, "others/"))
    history = _buyer_history(shop, web_channel, conversation.customer, 40)
    Conversation.objects.filter(pk__in=[c.pk for c in history]).update(assignee=agent)
    large = [_count_queries(api, url(conversation, f"others/?page_size={size}")) for size in (5, 25, 100)]
    assert set(large) == {small}, (small, large)
    assert small <= 4, small  # session, user, the conversation, the page


# --- Conversation detail, auth and error shape ---------------------------------------------
def test_detail_and_foreign_or_unknown_is_the_same_404(api, conversation, other_shop):
    response = api.get(url(conversation))
    assert response.status_code == 200
    assert response.json()["id"] == conversation.pk
    foreign = ConversationFactory(shop=other_shop)
    foreign_error = assert_error(api.get(url(foreign)), 404)
    unknown_error = assert_error(api.get(f"{API}/conversations/999999/"), 404)
    assert foreign_error == unknown_error


def test_unauthenticated_requests_are_refused_in_json(client_for, conversation):
    anonymous = client_for()
    for path in (f"{API}/conversations/", url(conversation), url(conversation, "messages/")):
        error = assert_error(anonymous.get(path), 403)
        assert error["code"] == "not_authenticated"


def test_token_authentication_works(client_for, agent, conversation):
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=agent)
    client = client_for()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get(f"{API}/conversations/").status_code == 200
    client.credentials(HTTP_AUTHORIZATION="Token wrong")
    # Session authentication comes first, so DRF answers 403 rather than 401 with a challenge.
    assert assert_error(client.get(f"{API}/conversations/"), 403)["code"] == "authentication_failed"


def test_wrong_method_and_media_type_use_the_error_shape(api, conversation):
    assert assert_error(api.put(url(conversation), {}, format="json"), 405)["code"] == "method_not_allowed"
    assert_error(api.delete(url(conversation)), 405)
    assert_error(api.get(url(conversation, "assign/")), 405)
    assert_error(api.post(f"{API}/conversations/", {}, format="json"), 405)
    error = assert_error(api.post(url(conversation, "messages/"), "hello", content_type="text/plain"), 415)
    assert error["code"] == "unsupported_media_type"
    assert_error(api.post(url(conversation, "messages/"), "{bad json", content_type="application/json"), 400)


# --- Messages ------------------------------------------------------------------------------
def _fill(conversation, agent, n: int) -> list[Message]:
    out = []
    for i in range(n):
        kind = "buyer" if i % 2 == 0 else "agent"
        message, _ = services.message_send(
            conversation=conversation, sender_kind=kind, author=agent if kind == "agent" else None, text=f"m{i}"
        )
        out.append(message)
    return out


def test_messages_latest_limit_oldest_first_and_after_seq(api, conversation, agent):
    # Assigned already: the replies do not take it (which would be an event with a seq).
    Conversation.objects.filter(pk=conversation.pk).update(assignee=agent)
    _fill(conversation, agent, 8)
    services.note_add(conversation=conversation, author=agent, text="内部备注")
    body = api.get(url(conversation, "messages/")).json()
    assert [m["seq"] for m in body["results"]] == list(range(1, 10))
    assert body["results"][-1]["is_private"] is True  # agents see private notes
    assert body["has_more"] is False
    assert body["last_seq"] == 9

    latest = api.get(url(conversation, "messages/?limit=3")).json()
    assert [m["seq"] for m in latest["results"]] == [7, 8, 9]
    assert latest["has_more"] is True

    after = api.get(url(conversation, "messages/?after_seq=4&limit=2")).json()
    assert [m["seq"] for m in after["results"]] == [5, 6]
    assert after["has_more"] is True
    tail = api.get(url(conversation, "messages/?after_seq=6")).json()
    assert [m["seq"] for m in tail["results"]] == [7, 8, 9]
    assert tail["has_more"] is False
    assert api.get(url(conversation, "messages/?after_seq=9")).json()["results"] == []


@pytest.mark.parametrize("query, field", [("limit=0", "limit"), ("limit=201", "limit"), ("limit=x", "limit"), ("after_seq=-1", "after_seq"), ("after_seq=abc", "after_seq")])
def test_messages_bad_params(api, conversation, query, field):
    assert_error(api.get(url(conversation, f"messages/?{query}")), 400, field=field)


def test_send_json_creates_then_retry_returns_stored(api, conversation, agent):
    first = api.post(url(conversation, "messages/"), {"text": "您好", "client_msg_id": "c-1"}, format="json")
    assert first.status_code == 201, first.content
    body = first.json()
    assert body["text"] == "您好"
    assert body["sender_kind"] == "agent"
    assert body["author"]["id"] == agent.pk
    again = api.post(url(conversation, "messages/"), {"text": "您好", "client_msg_id": "c-1"}, format="json")
    assert again.status_code == 200
    assert again.json()["id"] == body["id"]
    assert Message.objects.filter(conversation=conversation).count() == 1
    without_id = api.post(url(conversation, "messages/"), {"text": "再来"}, format="json")
    assert without_id.status_code == 201
    assert without_id.json()["client_msg_id"] is None


def test_send_multipart_with_images(api, conversation):
    response = api.post(
        url(conversation, "messages/"),
        {"text": "看图", "client_msg_id": "img-1", "images": [png_upload("a.png"), png_upload("b.png", size=(10, 20))]},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    attachments = response.json()["attachments"]
    assert [(a["width"], a["height"], a["content_type"]) for a in attachments] == [(8, 6, "image/png"), (10, 20, "image/png")]
    assert all(a["url"].startswith("/attachments/") for a in attachments)
    image_only = api.post(url(conversation, "messages/"), {"images": [png_upload()]}, format="multipart")
    assert image_only.status_code == 201
    conversation.refresh_from_db()
    assert conversation.last_message_preview  # "[Image]" in the active language


@pytest.mark.parametrize(
    "data, fmt, field",
    [
        ({"text": ""}, "json", None),
        ({}, "json", None),
        ({"text": "   "}, "json", None),
        ({"text": "x" * 5001}, "json", None),
        ({"text": 12}, "json", "text"),
        ({"text": ["a"]}, "json", "text"),
        ({"text": None}, "json", "text"),
        ({"text": "ok", "client_msg_id": 5}, "json", "client_msg_id"),
        ({"text": "ok", "client_msg_id": "x" * 65}, "json", None),
        ({"text": "ok", "client_msg_id": ""}, "json", None),
        ({"text": "ok", "colour": "red"}, "json", "colour"),
        ({"text": "ok", "images": ["not a file"]}, "json", "images"),
        ({"text": "ok", "is_private": True}, "json", "is_private"),
    ],
)
def test_send_bad_input_is_400_and_stores_nothing(api, conversation, data, fmt, field):
    assert_error(api.post(url(conversation, "messages/"), data, format=fmt), 400, field=field)
    assert not Message.objects.exists()


def test_send_bad_images_is_400(api, conversation):
    fake = SimpleUploadedFile("x.png", b"not an image", content_type="image/png")
    assert_error(api.post(url(conversation, "messages/"), {"images": [fake]}, format="multipart"), 400)
    too_many = [png_upload(f"{i}.png") for i in range(10)]
    assert_error(api.post(url(conversation, "messages/"), {"images": too_many}, format="multipart"), 400)
    assert not Message.objects.exists()


def test_send_body_that_is_not_an_object(api, conversation):
    assert_error(api.post(url(conversation, "messages/"), ["hi"], format="json"), 400)
    assert_error(api.post(url(conversation, "messages/"), "null", content_type="application/json"), 400)


# --- Notes and events ----------------------------------------------------------------------
def test_note_is_private_and_retry_safe(api, conversation, agent):
    response = api.post(url(conversation, "notes/"), {"text": "老客户，优先处理", "client_msg_id": "n1"}, format="json")
    assert response.status_code == 201
    note = response.json()
    assert note["is_private"] is True
    assert api.post(url(conversation, "notes/"), {"text": "老客户，优先处理", "client_msg_id": "n1"}, format="json").status_code == 200
    conversation.refresh_from_db()
    assert conversation.last_message_preview == ""  # notes never become the preview
    assert conversation.buyer_unread_count == 0


@pytest.mark.parametrize("data, field", [({}, "text"), ({"text": ""}, None), ({"text": 5}, "text"), ({"text": "x" * 5001}, None), ({"text": "a", "images": []}, "images")])
def test_note_bad_input(api, conversation, data, field):
    assert_error(api.post(url(conversation, "notes/"), data, format="json"), 400, field=field)
    assert not Message.objects.exists()


def test_events_after_seq(api, conversation, agent, supervisor):
    services.conversation_assign(conversation=conversation, assignee=agent, actor=supervisor)
    services.message_send(conversation=conversation, sender_kind="buyer", text="hi")
    services.conversation_resolve(conversation=conversation, actor=agent)
    body = api.get(url(conversation, "events/")).json()
    assert [(e["seq"], e["kind"]) for e in body["results"]] == [(1, "assigned"), (3, "status")]
    assert body["results"][0]["actor"] == {"id": supervisor.pk, "nickname": supervisor.nickname}
    assert body["results"][1]["data"] == {"from": "open", "to": "resolved"}
    assert [e["seq"] for e in api.get(url(conversation, "events/?after_seq=1")).json()["results"]] == [3]
    limited = api.get(url(conversation, "events/?limit=1")).json()
    assert len(limited["results"]) == 1 and limited["has_more"] is True
    assert_error(api.get(url(conversation, "events/?after_seq=x")), 400, field="after_seq")
    assert_error(api.get(url(conversation, "events/?limit=201")), 400, field="limit")


def test_a_rating_shows_on_the_conversation_and_in_its_events(api, conversation, agent):
    body = api.get(url(conversation)).json()
    assert (body["rating"], body["rated_at"]) == (None, None)
    services.conversation_assign(conversation=conversation, assignee=agent, actor=agent)
    services.conversation_resolve(conversation=conversation, actor=agent)
    services.conversation_rate(conversation=conversation, customer=conversation.customer, score=2, comment="发货太慢")
    body = api.get(url(conversation)).json()
    conversation.refresh_from_db()
    assert body["rating"] == 2
    assert datetime.fromisoformat(body["rated_at"]) == conversation.rated_at
    [row] = api.get(f"{API}/conversations/?status=resolved").json()["results"]
    assert (row["rating"], row["rated_at"]) == (2, body["rated_at"])
    rated = api.get(url(conversation, "events/?after_seq=2")).json()["results"]
    assert [(e["seq"], e["kind"], e["actor"]) for e in rated] == [(3, "rated", None)]
    assert rated[0]["data"] == {"score": 2, "comment": "发货太慢", "assignee_id": agent.pk, "team_id": None}


def test_agents_have_no_way_to_rate(api, conversation, agent):
    services.conversation_resolve(conversation=conversation, actor=agent)
    for path in ("rate/", "rating/"):
        assert_error(api.post(url(conversation, path), {"score": 5}, format="json"), 404)
    assert_error(api.patch(url(conversation), {"rating": 5}, format="json"), 405)
    conversation.refresh_from_db()
    assert conversation.rating is None


# --- Assign, resolve, reopen, read ---------------------------------------------------------
def test_assign_and_unassign(api, conversation, agent, supervisor):
    response = api.post(url(conversation, "assign/"), {"assignee_id": supervisor.pk}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["assignee"] == {"id": supervisor.pk, "nickname": supervisor.nickname}
    event = ConversationEvent.objects.get(conversation=conversation, kind="assigned")
    assert event.actor == agent
    response = api.post(url(conversation, "assign/"), {"assignee_id": None}, format="json")
    assert response.status_code == 200
    assert response.json()["assignee"] is None
    conversation.refresh_from_db()
    assert conversation.assignee_id is None


def test_assign_unknown_and_foreign_users_give_the_same_400(api, conversation, outsider):
    unknown = assert_error(api.post(url(conversation, "assign/"), {"assignee_id": 999999}, format="json"), 400, field="assignee_id")
    foreign = assert_error(api.post(url(conversation, "assign/"), {"assignee_id": outsider.pk}, format="json"), 400)
    assert unknown["message"] == foreign["message"]
    inactive = MembershipFactory(shop=conversation.shop, user=UserFactory(is_active=False)).user
    assert_error(api.post(url(conversation, "assign/"), {"assignee_id": inactive.pk}, format="json"), 400)
    conversation.refresh_from_db()
    assert conversation.assignee_id is None
    assert not ConversationEvent.objects.filter(kind="assigned").exists()


def test_assign_with_the_assignee_seen_is_409_when_it_changed(api, conversation, agent, supervisor):
    services.conversation_assign(conversation=conversation, assignee=supervisor, actor=supervisor)
    mine = {"assignee_id": agent.pk, "expected_assignee_id": None}  # "assign to me" on what looked unassigned
    error = assert_error(api.post(url(conversation, "assign/"), mine, format="json"), 409)
    assert error["code"] == "conflict" and supervisor.nickname in error["message"]
    conversation.refresh_from_db()
    assert conversation.assignee == supervisor
    mine["expected_assignee_id"] = supervisor.pk
    assert api.post(url(conversation, "assign/"), mine, format="json").json()["assignee"]["id"] == agent.pk
    assert_error(api.post(url(conversation, "assign/"), {"assignee_id": None, "expected_assignee_id": "x"}, format="json"), 400)


@pytest.mark.parametrize("data", [{}, {"assignee_id": "abc"}, {"assignee_id": 0}, {"assignee_id": [1]}, {"assignee_id": True}, {"assignee": 1}])
def test_assign_bad_shapes(api, conversation, data):
    assert_error(api.post(url(conversation, "assign/"), data, format="json"), 400)


def test_resolve_and_reopen(api, conversation):
    response = api.post(url(conversation, "resolve/"))
    assert response.status_code == 200
    assert response.json()["status"] == "resolved"
    assert response.json()["resolved_at"]
    assert api.post(url(conversation, "resolve/")).status_code == 200  # idempotent, no new event
    assert ConversationEvent.objects.filter(conversation=conversation, kind="status").count() == 1
    response = api.post(url(conversation, "reopen/"), {}, format="json")
    assert response.json()["status"] == "open"
    assert response.json()["resolved_at"] is None
    assert_error(api.post(url(conversation, "resolve/"), {"status": "open"}, format="json"), 400, field="status")


def in_hours(hours: float) -> str:
    return (timezone.now() + timedelta(hours=hours)).isoformat()


def test_snooze_answers_the_conversation_and_reopen_ends_it(api, conversation, agent):
    until = (timezone.now() + timedelta(hours=2)).replace(microsecond=0)
    response = api.post(url(conversation, "snooze/"), {"until": until.isoformat()}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["id"], body["status"]) == (conversation.pk, "snoozed")
    assert datetime.fromisoformat(body["snoozed_until"]) == until
    [event] = ConversationEvent.objects.filter(conversation=conversation, kind="status")
    assert (event.actor, event.data["to"], datetime.fromisoformat(event.data["until"])) == (agent, "snoozed", until)
    assert api.get(url(conversation)).json()["snoozed_until"] == body["snoozed_until"]

    reopened = api.post(url(conversation, "reopen/")).json()
    assert (reopened["status"], reopened["snoozed_until"]) == ("open", None)


def test_snooze_takes_a_time_without_offset_in_the_servers_time_zone(api, conversation):
    until = (timezone.localtime() + timedelta(hours=1)).replace(microsecond=0)
    response = api.post(url(conversation, "snooze/"), {"until": until.replace(tzinfo=None).isoformat()}, format="json")
    assert response.status_code == 200, response.content
    assert datetime.fromisoformat(response.json()["snoozed_until"]) == until


@pytest.mark.parametrize(
    "data, message",
    [
        ({}, "required"),
        ({"until": None}, "null"),
        ({"until": "tomorrow morning"}, "format"),
        ({"until": 1764032400}, "format"),
        ({"until": in_hours(1), "note": "x"}, "Unknown field"),
    ],
)
def test_snooze_bad_shapes_are_400(api, conversation, data, message):
    error = assert_error(api.post(url(conversation, "snooze/"), data, format="json", HTTP_ACCEPT_LANGUAGE="en"), 400)
    assert message in error["message"]
    conversation.refresh_from_db()
    assert conversation.status == "open"


@pytest.mark.parametrize(
    "hours, message",
    [(-1, "in the future"), (24 * services.MAX_SNOOZE_DAYS + 1, "at most 30 days")],
)
def test_snooze_to_the_past_or_too_far_is_400_with_its_reason(api, conversation, hours, message):
    response = api.post(url(conversation, "snooze/"), {"until": in_hours(hours)}, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert message in assert_error(response, 400)["message"]
    assert not ConversationEvent.objects.exists()


def test_snoozing_a_resolved_conversation_is_400(api, conversation, agent):
    services.conversation_resolve(conversation=conversation, actor=agent)
    response = api.post(url(conversation, "snooze/"), {"until": in_hours(1)}, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert "reopen it" in assert_error(response, 400)["message"]
    conversation.refresh_from_db()
    assert conversation.status == "resolved"


def test_read_moves_forward_only(api, conversation):
    for i in range(3):
        services.message_send(conversation=conversation, sender_kind="buyer", text=f"q{i}")
    response = api.post(url(conversation, "read/"), {"seq": 2}, format="json")
    assert response.status_code == 200
    assert response.json()["agent_last_read_seq"] == 2
    assert response.json()["agent_unread_count"] == 0
    assert api.post(url(conversation, "read/"), {"seq": 1}, format="json").json()["agent_last_read_seq"] == 2
    # A receipt past the end stops at the last message (3), not at the read events after it.
    for _ in range(2):
        assert api.post(url(conversation, "read/"), {"seq": 99}, format="json").json()["agent_last_read_seq"] == 3
    assert conversation.events.filter(kind="read").count() == 2


@pytest.mark.parametrize("data", [{}, {"seq": -1}, {"seq": "x"}, {"seq": None}, {"seq": 1, "side": "buyer"}])
def test_read_bad_input(api, conversation, data):
    assert_error(api.post(url(conversation, "read/"), data, format="json"), 400)


@pytest.mark.parametrize("suffix", ["", "messages/", "events/", "others/"])
def test_foreign_conversation_reads_are_404(client_for, outsider, conversation, suffix):
    assert_error(client_for(outsider).get(url(conversation, suffix)), 404)


@pytest.mark.parametrize(
    "suffix, data",
    [
        ("messages/", {"text": "x"}),
        ("notes/", {"text": "x"}),
        ("assign/", {"assignee_id": None}),
        ("resolve/", {}),
        ("reopen/", {}),
        ("snooze/", {"until": in_hours(24)}),
        ("read/", {"seq": 1}),
        ("messages/", {"bogus": 1}),  # access is checked before the body
    ],
)
def test_foreign_conversation_writes_are_404_and_change_nothing(client_for, outsider, conversation, suffix, data):
    assert_error(client_for(outsider).post(url(conversation, suffix), data, format="json"), 404)
    assert not Message.objects.exists()
    assert not ConversationEvent.objects.exists()


# --- Retrying a failed platform delivery -------------------------------------------------------
def retry_url(message) -> str:
    return f"{API}/messages/{message.pk}/retry/"


def test_messages_carry_the_failure_code_and_detail(api, failed_reply):
    body = api.get(url(failed_reply.conversation, "messages/")).json()
    [message] = body["results"]
    assert (message["delivery_state"], message["delivery_error_code"], message["delivery_error_detail"]) == (
        "failed",
        "http_4xx",
        "HTTP 404",
    )


def test_retry_makes_it_pending_and_queues_it_once(api, failed_reply, queued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(retry_url(failed_reply))
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["id"], body["delivery_state"], body["delivery_error_code"]) == (failed_reply.pk, "pending", "")
    # A second click while it is under way answers the same and queues nothing more.
    with django_capture_on_commit_callbacks(execute=True):
        again = api.post(retry_url(failed_reply), {}, format="json")
    assert again.status_code == 200
    assert again.json()["delivery_state"] == "pending"
    assert queued == [failed_reply.pk]


def test_retry_of_a_delivered_or_non_platform_message_is_a_clear_400(api, failed_reply, conversation, agent, queued):
    services.message_delivery_update(message_id=failed_reply.pk, state=Message.Delivery.SENT)
    error = assert_error(api.post(retry_url(failed_reply)), 400)
    assert error["message"] == "这条消息已送达平台，无需重试。"
    buyer_message, _ = services.message_send(conversation=conversation, sender_kind="buyer", text="在吗")
    note, _ = services.note_add(conversation=conversation, author=agent, text="备注")
    for message in (buyer_message, note):
        assert "重试" in assert_error(api.post(retry_url(message)), 400)["message"]
    assert_error(api.post(retry_url(failed_reply), {"text": "x"}, format="json"), 400)
    assert queued == []


def test_retry_of_another_shops_message_is_the_same_404_as_an_unknown_one(client_for, outsider, failed_reply, queued):
    client = client_for(outsider)
    foreign = assert_error(client.post(retry_url(failed_reply)), 404)
    unknown = assert_error(client.post(f"{API}/messages/999999/retry/"), 404)
    assert foreign == unknown
    assert Message.objects.get(pk=failed_reply.pk).delivery_state == Message.Delivery.FAILED
    assert queued == []
    assert_error(client_for().post(retry_url(failed_reply)), 403)  # signed out


# --- Channels --------------------------------------------------------------------------------
def test_channels_list_for_admins_shows_secret(client_for, admin_user, web_channel, other_shop):
    ChannelFactory(shop=other_shop)
    body = client_for(admin_user).get(f"{API}/channels/").json()
    assert [c["id"] for c in body["results"]] == [web_channel.pk]
    row = body["results"][0]
    assert row["webhook_secret"] == web_channel.webhook_secret
    assert row["public_id"] == str(web_channel.public_id)
    assert row["webhook_url"].endswith(f"/api/v1/webhooks/{web_channel.public_id}/")
    assert row["outbound_url"] == ""


def test_channels_refused_below_admin(client_for, agent, supervisor, web_channel, shop):
    for user in (agent, supervisor):
        client = client_for(user)
        assert assert_error(client.get(f"{API}/channels/"), 403)["code"] == "permission_denied"
        assert_error(client.get(f"{API}/channels/?shop={shop.pk}"), 403)
        assert_error(client.get(f"{API}/channels/{web_channel.pk}/"), 403)
        assert_error(client.patch(f"{API}/channels/{web_channel.pk}/", {"name": "x"}, format="json"), 403)
        assert_error(
            client.post(f"{API}/channels/", {"shop": shop.pk, "kind": "web", "name": "x"}, format="json"), 403
        )
    web_channel.refresh_from_db()
    assert web_channel.name != "x"
    assert Channel.objects.count() == 1


def test_channels_of_other_shops_are_404_even_for_their_admins(client_for, outsider, web_channel, shop):
    client = client_for(outsider)
    assert client.get(f"{API}/channels/").json()["results"] == []
    assert_error(client.get(f"{API}/channels/?shop={shop.pk}"), 404)
    assert_error(client.get(f"{API}/channels/{web_channel.pk}/"), 404)
    assert_error(client.patch(f"{API}/channels/{web_channel.pk}/", {"name": "x"}, format="json"), 404)
    assert_error(client.post(f"{API}/channels/", {"shop": shop.pk, "kind": "web", "name": "x"}, format="json"), 404)
    assert Channel.objects.count() == 1


def test_channel_create_and_update(client_for, admin_user, shop):
    client = client_for(admin_user)
    response = client.post(
        f"{API}/channels/",
        {"shop": shop.pk, "kind": "platform_api", "name": " 淘宝 ", "outbound_url": "https://adapter.example.com/out"},
        format="json",
    )
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["name"] == "淘宝"
    assert created["kind"] == "platform_api"
    assert len(created["webhook_secret"]) >= 32
    channel = Channel.objects.get(pk=created["id"])
    assert channel.shop == shop

    response = client.patch(
        f"{API}/channels/{channel.pk}/", {"name": "天猫", "outbound_url": "", "is_active": False}, format="json"
    )
    assert response.status_code == 200, response.content
    assert (response.json()["name"], response.json()["outbound_url"], response.json()["is_active"]) == ("天猫", "", False)
    assert response.json()["webhook_secret"] == created["webhook_secret"]

    rotated = client.patch(f"{API}/channels/{channel.pk}/", {"rotate_secret": True}, format="json").json()
    assert rotated["webhook_secret"] != created["webhook_secret"]
    channel.refresh_from_db()
    assert channel.webhook_secret == rotated["webhook_secret"]
    assert client.get(f"{API}/channels/{channel.pk}/").json()["webhook_secret"] == rotated["webhook_secret"]


@pytest.mark.parametrize(
    "data, field",
    [
        ({"kind": "web", "name": "x"}, "shop"),
        ({"shop": "SHOP", "name": "x"}, "kind"),
        ({"shop": "SHOP", "kind": "email", "name": "x"}, "kind"),
        ({"shop": "SHOP", "kind": "web"}, "name"),
        ({"shop": "SHOP", "kind": "web", "name": "   "}, "name"),
        ({"shop": "SHOP", "kind": "web", "name": "x" * 51}, "name"),
        ({"shop": "SHOP", "kind": "web", "name": 7}, "name"),
        ({"shop": "SHOP", "kind": "web", "name": "x", "outbound_url": "ftp://example.com/"}, "outbound_url"),
        ({"shop": "SHOP", "kind": "web", "name": "x", "outbound_url": "javascript:alert(1)"}, "outbound_url"),
        ({"shop": "SHOP", "kind": "web", "name": "x", "outbound_url": "not a url"}, "outbound_url"),
        ({"shop": "SHOP", "kind": "web", "name": "x", "webhook_secret": "mine"}, "webhook_secret"),
        ({"shop": "abc", "kind": "web", "name": "x"}, "shop"),
    ],
)
def test_channel_create_bad_input(client_for, admin_user, shop, data, field):
    data = {key: (shop.pk if value == "SHOP" else value) for key, value in data.items()}
    assert_error(client_for(admin_user).post(f"{API}/channels/", data, format="json"), 400, field=field)
    assert not Channel.objects.exists()


@pytest.mark.parametrize(
    "data, field",
    [
        ({"name": ""}, "name"),
        ({"name": None}, "name"),
        ({"outbound_url": "file:///etc/passwd"}, "outbound_url"),
        ({"is_active": "maybe"}, "is_active"),
        ({"public_id": "00000000-0000-0000-0000-000000000000"}, "public_id"),
        ({"shop": 1}, "shop"),
    ],
)
def test_channel_update_bad_input(client_for, admin_user, web_channel, data, field):
    before = Channel.objects.values().get(pk=web_channel.pk)
    assert_error(client_for(admin_user).patch(f"{API}/channels/{web_channel.pk}/", data, format="json"), 400, field=field)
    assert Channel.objects.values().get(pk=web_channel.pk) == before


def test_admin_of_two_shops_filters_by_shop(client_for, admin_user, shop, other_shop, web_channel):
    MembershipFactory(user=admin_user, shop=other_shop, role=Role.ADMIN)
    theirs = ChannelFactory(shop=other_shop)
    client = client_for(admin_user)
    assert {c["id"] for c in client.get(f"{API}/channels/").json()["results"]} == {web_channel.pk, theirs.pk}
    assert [c["id"] for c in client.get(f"{API}/channels/?shop={other_shop.pk}").json()["results"]] == [theirs.pk]
    assert_error(client.get(f"{API}/channels/?shop=abc"), 400, field="shop")


# --- Schema ---------------------------------------------------------------------------------
def test_openapi_schema_and_docs_are_served(client_for):
    client = client_for()
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    text = schema.content.decode()
    for path in (
        "/api/v1/conversations/",
        "/api/v1/conversations/{conversation_id}/messages/",
        "/api/v1/conversations/{conversation_id}/assign/",
        "/api/v1/customers/{customer_id}/",
        "/api/v1/channels/",
        "/api/v1/auth/token/",
        "/api/v1/me/",
        "/api/v1/shops/{shop_id}/members/",
    ):
        assert path in text, path
    for component in ("MessageSend", "AssignInput", "ConversationPage", "PatchedCustomerUpdate", "ChannelCreate", "Error"):
        assert component in text, component
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()


def test_other_customers_are_untouched_by_sends(api, conversation, shop):
    other = ConversationFactory(shop=shop, channel=conversation.channel, customer=CustomerFactory(shop=shop))
    api.post(url(conversation, "messages/"), {"text": "hi"}, format="json")
    other.refresh_from_db()
    assert other.last_seq == 0


def test_unknown_api_path_is_a_json_404(client, agent):
    client.force_login(agent)
    response = client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
