from datetime import datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone, translation

from inbox import realtime, services
from inbox.list_rows import iso_datetime
from inbox.models import Conversation, ConversationEvent, Message

from ..factories import ChannelFactory, ConversationFactory, CustomerFactory, MembershipFactory, UserFactory


@pytest.fixture
def captured(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


def test_buyer_message_opens_conversation_and_counts_unread(web_channel, captured):
    with captured(execute=True):
        message, created = services.buyer_message_receive(
            channel=web_channel, platform_buyer_id="tb-1", nickname="小明", text="在吗？", client_msg_id="c1"
        )
    conversation = message.conversation
    assert created
    assert message.seq == 2  # seq 1 is the "created" event
    assert conversation.agent_unread_count == 1
    assert conversation.waiting_since is not None
    assert conversation.last_message_preview == "在吗？"
    assert ConversationEvent.objects.filter(conversation=conversation, kind="created", seq=1).exists()


def test_known_buyer_appends_to_named_current_conversation_in_fewer_queries(
    conversation, django_assert_num_queries
):
    channel, customer = conversation.channel, conversation.customer
    send = {"channel": channel, "customer": customer, "conversation_id": conversation.pk}
    # Savepoint (the test's transaction holds the outer one), lock, insert (a retried
    # client_msg_id skips it), conversation update, release; and the buyer's last-contact
    # stamp the first time. No profile lookup or lock.
    with django_assert_num_queries(6):
        first, _ = services.buyer_message_send(**send, text="一", client_msg_id="c1")
    with django_assert_num_queries(5):
        second, _ = services.buyer_message_send(**send, text="二", client_msg_id="c2")
    assert [first.conversation_id, second.conversation_id] == [conversation.pk, conversation.pk]
    assert [first.seq, second.seq] == [1, 2]
    retried, created = services.buyer_message_send(**send, text="二", client_msg_id="c2")
    assert (retried.pk, created) == (second.pk, False)


def test_known_buyer_with_a_stale_or_foreign_conversation_id_gets_their_own(conversation, agent, web_channel, resolve_for_good):
    customer = conversation.customer
    resolve_for_good(conversation, agent)
    fresh, _ = services.buyer_message_send(
        channel=web_channel, customer=customer, text="又来了", conversation_id=conversation.pk
    )
    assert fresh.conversation_id != conversation.pk
    assert fresh.conversation.customer_id == customer.pk
    other = CustomerFactory(shop=customer.shop)
    theirs, _ = services.buyer_message_send(channel=web_channel, customer=other, text="我的", conversation_id=fresh.conversation_id)
    assert theirs.conversation_id != fresh.conversation_id
    assert theirs.conversation.customer_id == other.pk
    assert Message.objects.filter(conversation_id=fresh.conversation_id).count() == 1


def test_a_follow_up_after_a_resolve_links_the_conversation_it_follows(conversation, agent, shop, web_channel, resolve_for_good):
    customer = conversation.customer
    platform = ChannelFactory(shop=shop, kind="platform_api")
    first_on_platform = services.conversation_open(channel=platform, customer=customer)
    assert first_on_platform.previous_id is None  # the buyer's first on that channel
    assert services.conversation_open(channel=web_channel, customer=customer) == conversation  # still open: no follow-up
    resolve_for_good(conversation, agent)
    follow_up, _ = services.buyer_message_send(
        channel=web_channel, customer=customer, text="上次的问题还没解决", conversation_id=conversation.pk
    )
    assert follow_up.conversation_id != conversation.pk
    assert follow_up.conversation.previous_id == conversation.pk
    resolve_for_good(follow_up.conversation, agent)
    third = services.conversation_open(channel=web_channel, customer=customer)
    assert third.previous_id == follow_up.conversation_id


def test_a_buyer_back_soon_after_a_resolve_continues_the_conversation(conversation, agent, web_channel, resolve_for_good):
    customer = conversation.customer
    services.conversation_resolve(conversation=conversation, actor=agent)
    # From the chat socket, which names the conversation it shows...
    thanks, _ = services.buyer_message_send(channel=web_channel, customer=customer, text="好的谢谢", conversation_id=conversation.pk)
    assert thanks.conversation_id == conversation.pk
    conversation.refresh_from_db()
    assert (conversation.status, conversation.resolved_at) == (Conversation.Status.OPEN, None)
    reopened = conversation.events.get(seq=thanks.seq - 1)
    assert (reopened.kind, reopened.actor, reopened.data) == (
        "status", None, {"from": "resolved", "to": "open", "reason": "buyer_returned"}
    )
    # ... and from a platform or an upload, which name none.
    services.conversation_resolve(conversation=conversation, actor=agent)
    again, _ = services.buyer_message_receive(
        channel=web_channel, platform_buyer_id=customer.platform_buyer_id, nickname="", text="还有一个问题"
    )
    assert again.conversation_id == conversation.pk
    assert conversation.events.filter(kind="status", data__reason="buyer_returned").count() == 2
    # Later than CONTINUE_AFTER_RESOLVE, it is a new conversation that follows this one.
    resolve_for_good(conversation, agent)
    later, _ = services.buyer_message_send(channel=web_channel, customer=customer, text="又是我", conversation_id=conversation.pk)
    assert later.conversation.previous_id == conversation.pk
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.RESOLVED


@pytest.mark.parametrize("names_it", [True, False], ids=["socket", "upload"])
def test_a_send_resent_after_a_resolve_returns_the_stored_message_and_changes_nothing(
    conversation, agent, web_channel, resolve_for_good, names_it
):
    """The chat page resends unacknowledged sends on reconnect, and the ack may have been lost
    before the resolve: the resend neither continues the chat nor starts one with a copy."""
    customer = conversation.customer
    send = {
        "channel": web_channel,
        "customer": customer,
        "text": "问一下尺码",
        "client_msg_id": "x-1",
        "conversation_id": conversation.pk if names_it else None,
    }
    first, _ = services.buyer_message_send(**send)

    def resend_changes_nothing() -> None:
        conversation.refresh_from_db()
        last_seq = conversation.last_seq
        again, created = services.buyer_message_send(**send)
        assert (again.pk, created) == (first.pk, False)
        conversation.refresh_from_db()
        assert (conversation.status, conversation.last_seq) == (Conversation.Status.RESOLVED, last_seq)

    services.conversation_resolve(conversation=conversation, actor=agent)
    resend_changes_nothing()  # within CONTINUE_AFTER_RESOLVE: a new message would continue it
    resolve_for_good(conversation, agent)
    resend_changes_nothing()  # later: a new message would start a conversation
    assert Conversation.objects.filter(customer=customer).count() == 1
    assert Message.objects.filter(client_msg_id="x-1").count() == 1


def test_a_resent_send_is_told_across_conversations_only_when_it_would_reopen_or_start_one(
    conversation, agent, web_channel, resolve_for_good, django_assert_num_queries
):
    """The hot path (an open conversation named) stays as it was; the resolved one costs one
    query more: the buyer's stored message looked up across their conversations."""
    customer = conversation.customer
    send = {"channel": web_channel, "customer": customer, "conversation_id": conversation.pk}
    services.buyer_message_send(**send, text="一", client_msg_id="c1")
    with django_assert_num_queries(5):  # savepoint, lock, insert, update, release
        services.buyer_message_send(**send, text="二", client_msg_id="c2")
    services.conversation_resolve(conversation=conversation, actor=agent)
    with django_assert_num_queries(4):  # savepoint, lock, the stored message, release
        assert not services.buyer_message_send(**send, text="二", client_msg_id="c2")[1]


def test_a_send_naming_a_conversation_the_buyer_has_moved_on_from_goes_to_the_current_one(
    conversation, agent, web_channel, resolve_for_good
):
    customer = conversation.customer
    resolve_for_good(conversation, agent)
    current, _ = services.buyer_message_send(channel=web_channel, customer=customer, text="新问题")
    services.conversation_reopen(conversation=conversation, actor=agent)
    services.conversation_resolve(conversation=conversation, actor=agent)  # just now, but not the latest
    stale, _ = services.buyer_message_send(channel=web_channel, customer=customer, text="补充", conversation_id=conversation.pk)
    assert stale.conversation_id == current.conversation_id
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.RESOLVED


def test_retry_with_same_client_msg_id_returns_stored_message(conversation):
    first, created_first = services.message_send(
        conversation=conversation, sender_kind=Message.SenderKind.BUYER, text="hi", client_msg_id="abc"
    )
    again, created_again = services.message_send(
        conversation=conversation, sender_kind=Message.SenderKind.BUYER, text="hi", client_msg_id="abc"
    )
    assert (created_first, created_again) == (True, False)
    assert first.pk == again.pk
    assert Message.objects.filter(conversation=conversation).count() == 1


def test_a_client_msg_id_of_another_sender_is_refused_not_returned(conversation, agent, shop):
    services.note_add(conversation=conversation, author=agent, text="退款别超过50", client_msg_id="note-1")
    services.message_send(conversation=conversation, sender_kind="agent", author=agent, text="您好", client_msg_id="r-1")
    colleague = MembershipFactory(shop=shop).user
    attempts = [
        dict(sender_kind="buyer", text="?", client_msg_id="note-1"),  # a buyer guessing a note's id
        dict(sender_kind="agent", author=colleague, text="?", client_msg_id="r-1"),  # another agent
        dict(sender_kind="agent", author=agent, text="?", client_msg_id="note-1"),  # a reply naming a note
    ]
    for attempt in attempts:
        with pytest.raises(ValidationError):
            services.message_send(conversation=conversation, **attempt)
    assert Message.objects.filter(conversation=conversation).count() == 2


def test_agent_reply_clears_wait_and_notes_stay_private(conversation, agent):
    services.message_send(conversation=conversation, sender_kind="buyer", text="问一下")
    services.note_add(conversation=conversation, author=agent, text="老客户")
    conversation.refresh_from_db()
    assert conversation.waiting_since is not None
    assert conversation.last_message_preview == "问一下"
    services.message_send(conversation=conversation, sender_kind="agent", author=agent, text="您好")
    conversation.refresh_from_db()
    assert conversation.waiting_since is None
    assert list(conversation.messages.values_list("seq", "is_private")) == [(1, False), (2, True), (3, False)]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"text": "  "},
        {"text": "x" * 5001},
        {"text": "ok", "client_msg_id": "x" * 65},
        {"text": "ok", "sender_kind": "buyer", "is_private": True},
        # PostgreSQL refuses NUL; a lone surrogate cannot be encoded by any later answer.
        {"text": "a\x00b"},
        {"text": "a\ud800b"},
        {"text": "ok", "client_msg_id": "c\x00"},
    ],
)
def test_bad_message_input_is_refused_and_stores_nothing(conversation, kwargs):
    kwargs.setdefault("sender_kind", "buyer")
    with pytest.raises(ValidationError):
        services.message_send(conversation=conversation, **kwargs)
    assert not Message.objects.exists()
    conversation.refresh_from_db()
    assert conversation.last_seq == 0


def test_assign_records_event_and_refuses_outsiders(conversation, agent, supervisor):
    services.conversation_assign(conversation=conversation, assignee=agent, actor=supervisor)
    event = ConversationEvent.objects.get(conversation=conversation, kind="assigned")
    assert event.data == {"from": None, "to": agent.pk}
    assert event.actor == supervisor
    with pytest.raises(ValidationError):
        services.conversation_assign(conversation=conversation, assignee=UserFactory(), actor=supervisor)
    conversation.refresh_from_db()
    assert conversation.assignee == agent


def _assignments(conversation) -> list[tuple[int, dict, int | None]]:
    return list(
        ConversationEvent.objects.filter(conversation=conversation, kind="assigned")
        .order_by("seq")
        .values_list("seq", "data", "actor_id")
    )


def test_an_agent_reply_takes_an_unassigned_conversation_once(conversation, agent, supervisor):
    services.message_send(conversation=conversation, sender_kind="buyer", text="在吗")
    services.note_add(conversation=conversation, author=supervisor, text="先看看订单")
    assert _assignments(conversation) == []  # buyer messages and notes take nothing
    reply, _ = services.message_send(conversation=conversation, sender_kind="agent", author=agent, text="在的", client_msg_id="r1")
    conversation.refresh_from_db()
    assert conversation.assignee == agent
    assert _assignments(conversation) == [(reply.seq + 1, {"from": None, "to": agent.pk, "by_reply": True}, agent.pk)]

    # Unassigned again: a retried send stores nothing and takes nothing.
    services.conversation_assign(conversation=conversation, assignee=None, actor=supervisor)
    services.message_send(conversation=conversation, sender_kind="agent", author=agent, text="在的", client_msg_id="r1")
    conversation.refresh_from_db()
    assert conversation.assignee is None and len(_assignments(conversation)) == 2


def test_a_reply_leaves_another_agents_conversation_with_them(conversation, agent, supervisor):
    services.conversation_assign(conversation=conversation, assignee=agent, actor=agent)
    services.message_send(conversation=conversation, sender_kind="agent", author=supervisor, text="我来补充一下")
    conversation.refresh_from_db()
    assert conversation.assignee == agent and len(_assignments(conversation)) == 1


def test_assign_with_the_assignee_seen_refuses_when_someone_took_it_meanwhile(conversation, agent, supervisor):
    # Both saw the conversation unassigned and clicked "assign to me"; the agent was first.
    services.conversation_assign(conversation=conversation, assignee=agent, actor=agent, expected_assignee_id=None)
    with pytest.raises(services.AssigneeChanged) as refused:
        services.conversation_assign(
            conversation=conversation, assignee=supervisor, actor=supervisor, expected_assignee_id=None
        )
    assert agent.nickname in str(refused.value)
    conversation.refresh_from_db()
    assert conversation.assignee == agent and len(_assignments(conversation)) == 1
    # A second click of the winner changes nothing and is no conflict; the seen assignee passes.
    services.conversation_assign(conversation=conversation, assignee=agent, actor=agent, expected_assignee_id=None)
    services.conversation_assign(
        conversation=conversation, assignee=supervisor, actor=supervisor, expected_assignee_id=agent.pk
    )
    conversation.refresh_from_db()
    assert conversation.assignee == supervisor


def test_resolve_reopen_and_buyer_message_reopens(conversation, agent):
    services.conversation_resolve(conversation=conversation, actor=agent)
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.RESOLVED and conversation.resolved_at
    services.conversation_reopen(conversation=conversation, actor=agent)
    services.conversation_resolve(conversation=conversation, actor=agent)
    # Sent into the resolved conversation itself (the chat's paths pick the conversation
    # first, see the CONTINUE_AFTER_RESOLVE tests): opened, with an event saying why after it.
    message, _ = services.message_send(conversation=conversation, sender_kind="buyer", text="还有个问题")
    conversation.refresh_from_db()
    assert (conversation.status, conversation.resolved_at) == (Conversation.Status.OPEN, None)
    events = list(conversation.events.order_by("seq").values_list("kind", "seq", "data"))
    assert [kind for kind, _, _ in events] == ["status"] * 4
    assert events[-1][1:] == (message.seq + 1, {"from": "resolved", "to": "open", "reason": "buyer_returned"})


def test_mark_read_only_moves_forward(conversation, agent):
    for text in ("a", "b"):
        services.message_send(conversation=conversation, sender_kind="buyer", text=text)
    services.conversation_mark_read(conversation=conversation, side="agent", up_to_seq=99, actor=agent)
    conversation.refresh_from_db()
    assert (conversation.agent_last_read_seq, conversation.agent_unread_count) == (2, 0)
    services.conversation_mark_read(conversation=conversation, side="agent", up_to_seq=1, actor=agent)
    assert conversation.events.filter(kind="read").count() == 1


def test_a_receipt_past_the_last_message_stops_there_and_records_once(conversation, agent):
    for text in ("a", "b"):
        last, _ = services.message_send(conversation=conversation, sender_kind="agent", author=agent, text=text)
    for _ in range(3):  # each read event raises last_seq: it must not let the next receipt move
        services.conversation_mark_read(conversation=conversation, side="buyer", up_to_seq=999999, actor=None)
    conversation.refresh_from_db()
    reads = list(conversation.events.filter(kind="read").values_list("data", flat=True))
    assert reads == [{"side": "buyer", "up_to_seq": last.seq}]
    assert conversation.buyer_last_read_seq == last.seq


def test_a_receipt_in_a_conversation_without_messages_records_nothing(conversation, agent):
    services.conversation_assign(conversation=conversation, assignee=agent, actor=agent)
    services.conversation_mark_read(conversation=conversation, side="buyer", up_to_seq=1, actor=None)
    assert not conversation.events.filter(kind="read").exists()


def test_conversation_open_reuses_unresolved_and_refuses_cross_shop(web_channel, shop, other_shop):
    customer = CustomerFactory(shop=shop)
    first = services.conversation_open(channel=web_channel, customer=customer)
    assert services.conversation_open(channel=web_channel, customer=customer).pk == first.pk
    with pytest.raises(ValidationError):
        services.conversation_open(channel=web_channel, customer=CustomerFactory(shop=other_shop))


def test_events_are_published_only_after_commit(conversation, captured, monkeypatch):
    sent = []
    monkeypatch.setattr("inbox.realtime._send", lambda targets: sent.extend((group, payload["kind"]) for group, payload in targets))
    with captured(execute=False) as callbacks:
        services.message_send(conversation=conversation, sender_kind="buyer", text="hi")
    assert sent == []
    for callback in callbacks:
        callback()
    assert sent == [
        (f"shop-{conversation.shop_id}-agents", "message.created"),
        (realtime.buyer_group(conversation.channel_id, conversation.customer.platform_buyer_id), "message.created"),
    ]


def test_private_note_is_not_published_to_buyer(conversation, agent, captured, monkeypatch):
    sent = []
    monkeypatch.setattr("inbox.realtime._send", lambda targets: sent.extend(group for group, _ in targets))
    with captured(execute=True):
        services.note_add(conversation=conversation, author=agent, text="内部备注")
    assert sent == [f"shop-{conversation.shop_id}-agents"]


def test_member_of_other_shop_cannot_be_assigned(conversation, other_shop):
    stranger = MembershipFactory(shop=other_shop).user
    with pytest.raises(ValidationError):
        services.conversation_assign(conversation=conversation, assignee=stranger, actor=None)


# --- Retrying a failed platform delivery -------------------------------------------------------


@pytest.fixture
def published(monkeypatch):
    sent = []
    monkeypatch.setattr("inbox.realtime._send", lambda targets: sent.extend(targets))
    return sent


def test_retry_makes_a_failed_reply_pending_tells_agents_and_queues_it_after_commit(
    failed_reply, supervisor, captured, queued, published
):
    message = failed_reply
    published.clear()
    before = timezone.now()
    with captured(execute=False) as callbacks:
        retried, changed = services.message_delivery_retry(message=message, actor=supervisor)
    assert changed
    assert (queued, published) == ([], [])  # nothing leaves before the commit
    for callback in callbacks:
        callback()

    assert queued == [message.pk]
    stored = Message.objects.get(pk=message.pk)
    assert (stored.delivery_state, stored.delivery_error_code, stored.delivery_error_detail) == ("pending", "", "")
    assert stored.delivery_attempts == 1  # attempts are counted by the task, not by asking
    window = timedelta(seconds=services.DELIVERY_OVERDUE_SECONDS)
    assert before + window <= stored.delivery_due_at <= timezone.now() + window  # the sweep's safety net
    # Every agent of the shop sees it, as any delivery state change: the message's own seq.
    [(group, payload)] = published
    assert group == f"shop-{message.shop_id}-agents"
    assert (payload["kind"], payload["seq"]) == ("message.delivery", message.seq)
    assert payload["message"]["delivery_state"] == "pending"
    assert payload["message"]["delivery_error_code"] == ""
    assert retried.delivery_state == "pending"


def test_retry_twice_queues_one_delivery(failed_reply, agent, captured, queued, published):
    message = failed_reply
    with captured(execute=True):
        services.message_delivery_retry(message=message, actor=agent)
    published.clear()
    with captured(execute=True) as callbacks:
        again, changed = services.message_delivery_retry(message=message, actor=agent)
    assert not changed
    assert again.delivery_state == "pending"
    assert (queued, published, callbacks) == ([message.pk], [], [])


def test_a_delivered_reply_is_not_retried(failed_reply, agent, queued):
    message = failed_reply
    services.message_delivery_update(message_id=message.pk, state=Message.Delivery.SENT)
    with translation.override("en"), pytest.raises(ValidationError, match="already delivered"):
        services.message_delivery_retry(message=message, actor=agent)
    assert queued == []


def test_only_replies_to_a_platform_buyer_are_retried(platform_conversation, conversation, agent, queued):
    buyer_message, _ = services.message_send(conversation=platform_conversation, sender_kind="buyer", text="在吗")
    note, _ = services.note_add(conversation=platform_conversation, author=agent, text="老客户")
    web_reply, _ = services.message_send(conversation=conversation, sender_kind="agent", author=agent, text="您好")
    for message in (buyer_message, note, web_reply):
        # Even one somehow marked failed: what decides is what the message is.
        Message.objects.filter(pk=message.pk).update(delivery_state=Message.Delivery.FAILED)
        with translation.override("en"), pytest.raises(ValidationError, match="only they can be retried"):
            services.message_delivery_retry(message=message, actor=agent)
        assert Message.objects.get(pk=message.pk).delivery_state == Message.Delivery.FAILED
    assert queued == []


def test_a_member_of_another_shop_cannot_retry(failed_reply, outsider, queued):
    message = failed_reply
    with pytest.raises(ValidationError):
        services.message_delivery_retry(message=message, actor=outsider)
    assert Message.objects.get(pk=message.pk).delivery_state == Message.Delivery.FAILED
    assert queued == []


# --- Snoozing ----------------------------------------------------------------------------------


def later(**delta) -> datetime:
    return (timezone.now() + timedelta(**delta)).replace(microsecond=0)


def status_events(conversation) -> list[tuple]:
    return list(
        ConversationEvent.objects.filter(conversation=conversation, kind="status")
        .order_by("seq")
        .values_list("seq", "actor_id", "data")
    )


def test_snooze_sets_the_time_records_it_and_tells_agents_after_commit(conversation, agent, captured, published):
    until = later(hours=2)
    with captured(execute=False) as callbacks:
        services.conversation_snooze(conversation=conversation, until=until, actor=agent)
    assert published == []
    for callback in callbacks:
        callback()

    conversation.refresh_from_db()
    assert (conversation.status, conversation.snoozed_until, conversation.resolved_at) == ("snoozed", until, None)
    [(seq, actor_id, data)] = status_events(conversation)
    assert (seq, actor_id) == (conversation.last_seq, agent.pk)
    assert data == {"from": "open", "to": "snoozed", "until": iso_datetime(until)}
    assert datetime.fromisoformat(data["until"]) == until
    payloads = dict(published)
    agent_payload = payloads[f"shop-{conversation.shop_id}-agents"]
    assert agent_payload["data"] == data
    assert (agent_payload["conversation"]["status"], agent_payload["conversation"]["snoozed_until"]) == (
        "snoozed",
        iso_datetime(until),
    )
    # The buyer's page is told the status only: when the shop means to come back is its own.
    buyer_payload = payloads[realtime.buyer_group(conversation.channel_id, conversation.customer.platform_buyer_id)]
    assert buyer_payload["data"] == {"from": "open", "to": "snoozed"}


def test_snoozing_again_moves_the_time_and_the_same_time_changes_nothing(conversation, agent):
    first, second = later(hours=1), later(days=1)
    services.conversation_snooze(conversation=conversation, until=first, actor=agent)
    services.conversation_snooze(conversation=conversation, until=second, actor=agent)
    services.conversation_snooze(conversation=conversation, until=second, actor=agent)
    conversation.refresh_from_db()
    assert conversation.snoozed_until == second
    assert [data for _, _, data in status_events(conversation)] == [
        {"from": "open", "to": "snoozed", "until": iso_datetime(first)},
        {"from": "snoozed", "to": "snoozed", "until": iso_datetime(second)},
    ]


@pytest.mark.parametrize(
    "delta, message",
    [
        (timedelta(minutes=-1), "in the future"),
        (timedelta(0), "in the future"),
        (timedelta(days=services.MAX_SNOOZE_DAYS, minutes=1), "at most 30 days"),
    ],
)
def test_snooze_refuses_a_past_or_far_time_and_changes_nothing(conversation, agent, delta, message):
    with translation.override("en"), pytest.raises(ValidationError, match=message):
        services.conversation_snooze(conversation=conversation, until=timezone.now() + delta, actor=agent)
    conversation.refresh_from_db()
    assert (conversation.status, conversation.snoozed_until, conversation.last_seq) == ("open", None, 0)


def test_snooze_takes_up_to_the_longest_time(conversation, agent):
    until = later(days=services.MAX_SNOOZE_DAYS, minutes=-1)
    assert services.conversation_snooze(conversation=conversation, until=until, actor=agent).snoozed_until == until


def test_a_resolved_conversation_is_not_snoozed(conversation, agent):
    services.conversation_resolve(conversation=conversation, actor=agent)
    with translation.override("en"), pytest.raises(ValidationError, match="reopen it before snoozing"):
        services.conversation_snooze(conversation=conversation, until=later(hours=1), actor=agent)
    conversation.refresh_from_db()
    assert (conversation.status, conversation.snoozed_until) == ("resolved", None)
    assert len(status_events(conversation)) == 1


def test_snoozing_needs_its_time_so_set_status_refuses_it(conversation, agent):
    with pytest.raises(ValidationError):
        services.conversation_set_status(conversation=conversation, status="snoozed", actor=agent)
    with pytest.raises(ValidationError):
        services.conversation_set_status(conversation=conversation, status="pending", actor=agent)
    assert status_events(conversation) == []


def test_reopening_or_resolving_ends_a_snooze(conversation, agent):
    services.conversation_snooze(conversation=conversation, until=later(hours=1), actor=agent)
    reopened = services.conversation_reopen(conversation=conversation, actor=agent)
    assert (reopened.status, reopened.snoozed_until) == ("open", None)
    services.conversation_snooze(conversation=conversation, until=later(hours=1), actor=agent)
    resolved = services.conversation_resolve(conversation=conversation, actor=agent)
    conversation.refresh_from_db()
    assert (conversation.status, conversation.snoozed_until) == ("resolved", None)
    assert conversation.resolved_at == resolved.resolved_at is not None
    assert [data for _, _, data in status_events(conversation)][1::2] == [
        {"from": "snoozed", "to": "open"},
        {"from": "snoozed", "to": "resolved"},
    ]


def test_a_buyer_message_wakes_a_snoozed_conversation_with_one_event_after_it(conversation, agent, captured, published):
    services.conversation_snooze(conversation=conversation, until=later(hours=3), actor=agent)
    send = {"channel": conversation.channel, "customer": conversation.customer, "conversation_id": conversation.pk}
    published.clear()
    with captured(execute=True):
        message, _ = services.buyer_message_send(**send, text="怎么还没发货")
    services.buyer_message_send(**send, text="在吗")

    conversation.refresh_from_db()
    assert (conversation.status, conversation.snoozed_until) == ("open", None)
    assert message.conversation_id == conversation.pk
    [_, (seq, actor_id, data)] = status_events(conversation)
    assert (seq, actor_id) == (message.seq + 1, None)
    assert data == {"from": "snoozed", "to": "open", "reason": "buyer_message"}
    agents = [payload for group, payload in published if group == f"shop-{conversation.shop_id}-agents"]
    assert [(p["kind"], p["seq"], p["conversation"]["status"]) for p in agents] == [
        ("message.created", message.seq, "open"),
        ("conversation.status", message.seq + 1, "open"),
    ]
    assert agents[1]["conversation"]["snoozed_until"] is None


def test_only_the_buyer_wakes_it_not_a_reply_a_note_or_a_retried_message(conversation, agent):
    until = later(hours=3)
    services.message_send(conversation=conversation, sender_kind="buyer", text="在吗", client_msg_id="b1")
    services.conversation_snooze(conversation=conversation, until=until, actor=agent)
    services.message_send(conversation=conversation, sender_kind="agent", author=agent, text="明天给您答复")
    services.note_add(conversation=conversation, author=agent, text="等仓库回复")
    services.message_send(conversation=conversation, sender_kind="buyer", text="在吗", client_msg_id="b1")
    conversation.refresh_from_db()
    assert (conversation.status, conversation.snoozed_until) == ("snoozed", until)
    assert len(status_events(conversation)) == 1


def test_a_platform_buyer_message_wakes_the_snoozed_conversation_it_joins(platform_conversation, agent):
    conversation = platform_conversation
    services.conversation_snooze(conversation=conversation, until=later(hours=3), actor=agent)
    message, _ = services.buyer_message_receive(
        channel=conversation.channel, platform_buyer_id=conversation.customer.platform_buyer_id, text="退款呢"
    )
    assert message.conversation_id == conversation.pk
    conversation.refresh_from_db()
    assert (conversation.status, conversation.snoozed_until) == ("open", None)
    assert status_events(conversation)[-1][2] == {"from": "snoozed", "to": "open", "reason": "buyer_message"}


def test_the_wake_sweep_opens_the_due_ones_once(conversation, agent, shop, web_channel, captured, published):
    due = ConversationFactory(shop=shop, channel=web_channel)
    not_yet = ConversationFactory(shop=shop, channel=web_channel)
    not_yet_until = later(minutes=30)
    services.conversation_snooze(conversation=due, until=later(minutes=5), actor=agent)
    services.conversation_snooze(conversation=not_yet, until=not_yet_until, actor=agent)
    published.clear()

    with captured(execute=False) as callbacks:
        assert services.conversation_wake_due(now=timezone.now() + timedelta(minutes=10)) == [due.pk]
    assert published == []
    for callback in callbacks:
        callback()
    assert services.conversation_wake_due(now=timezone.now() + timedelta(minutes=10)) == []

    due.refresh_from_db()
    not_yet.refresh_from_db()
    assert (due.status, due.snoozed_until) == ("open", None)
    assert (not_yet.status, not_yet.snoozed_until) == ("snoozed", not_yet_until)
    [_, (seq, actor_id, data)] = status_events(due)
    assert (seq, actor_id, data) == (due.last_seq, None, {"from": "snoozed", "to": "open", "reason": "snooze_ended"})
    agents = [payload for group, payload in published if group == f"shop-{shop.pk}-agents"]
    assert [(p["kind"], p["conversation_id"], p["conversation"]["status"]) for p in agents] == [
        ("conversation.status", due.pk, "open")
    ]
    assert conversation.status == "open"  # an open one is no business of the sweep


def test_the_wake_sweep_takes_the_longest_due_first_and_at_most_its_limit(agent, shop, web_channel):
    snoozed = []
    for minutes in (3, 1, 2):
        one = ConversationFactory(shop=shop, channel=web_channel)
        services.conversation_snooze(conversation=one, until=later(minutes=minutes), actor=agent)
        snoozed.append(one.pk)
    soon = timezone.now() + timedelta(minutes=5)
    assert services.conversation_wake_due(now=soon, limit=2) == [snoozed[1], snoozed[2]]
    assert services.conversation_wake_due(now=soon, limit=2) == [snoozed[0]]


# --- The buyer's rating (满意度) --------------------------------------------------------------


def rated_events(conversation) -> list[tuple]:
    return list(
        ConversationEvent.objects.filter(conversation=conversation, kind="rated").order_by("seq").values_list("seq", "actor_id", "data")
    )


def test_the_buyer_rates_a_resolved_conversation_for_its_assignee_told_after_commit(
    conversation, agent, captured, published
):
    services.conversation_assign(conversation=conversation, assignee=agent, actor=agent)
    services.conversation_resolve(conversation=conversation, actor=agent)
    with captured(execute=False) as callbacks:
        rated = services.conversation_rate(
            conversation=conversation, customer=conversation.customer, score=4, comment="  回复很快，谢谢  "
        )
    assert published == []
    for callback in callbacks:
        callback()

    conversation.refresh_from_db()
    assert (conversation.rating, conversation.status) == (4, "resolved")
    [(seq, actor_id, data)] = rated_events(conversation)
    assert (seq, actor_id, rated.last_seq) == (conversation.last_seq, None, seq)
    assert data == {"score": 4, "comment": "回复很快，谢谢", "assignee_id": agent.pk, "team_id": None}
    assert conversation.rated_at == ConversationEvent.objects.get(conversation=conversation, seq=seq).created_at
    payloads = dict(published)
    agent_payload = payloads[f"shop-{conversation.shop_id}-agents"]
    assert (agent_payload["kind"], agent_payload["data"]) == ("conversation.rated", data)
    assert (agent_payload["conversation"]["rating"], agent_payload["conversation"]["rated_at"]) == (
        4,
        iso_datetime(conversation.rated_at),
    )
    # The buyer's other tabs learn the score only: whom it counts for is the shop's.
    buyer_payload = payloads[realtime.buyer_group(conversation.channel_id, conversation.customer.platform_buyer_id)]
    assert buyer_payload == {
        "kind": "conversation.rated",
        "conversation_id": conversation.pk,
        "seq": seq,
        "data": {"score": 4},
        "at": iso_datetime(conversation.rated_at),
    }


def test_an_unassigned_conversation_is_rated_for_nobody_and_without_a_comment(conversation, agent):
    services.conversation_resolve(conversation=conversation, actor=agent)
    services.conversation_rate(conversation=conversation, customer=conversation.customer, score=1)
    [(_, _, data)] = rated_events(conversation)
    assert data == {"score": 1, "comment": "", "assignee_id": None, "team_id": None}


@pytest.mark.parametrize("status", ["open", "snoozed"])
def test_a_conversation_not_resolved_is_not_rated(conversation, agent, status):
    if status == "snoozed":
        services.conversation_snooze(conversation=conversation, until=later(hours=1), actor=agent)
    with translation.override("en"), pytest.raises(ValidationError, match="not ended"):
        services.conversation_rate(conversation=conversation, customer=conversation.customer, score=5)
    conversation.refresh_from_db()
    assert (conversation.rating, conversation.rated_at, rated_events(conversation)) == (None, None, [])


def test_another_buyer_cannot_rate_it(conversation, agent, shop):
    services.conversation_resolve(conversation=conversation, actor=agent)
    stranger = CustomerFactory(shop=shop)
    with translation.override("en"), pytest.raises(ValidationError, match="Only the buyer"):
        services.conversation_rate(conversation=conversation, customer=stranger, score=5)
    assert rated_events(conversation) == []


def test_a_session_is_rated_once_and_again_after_a_reopen_and_resolve(conversation, agent, web_channel):
    customer = conversation.customer
    services.conversation_resolve(conversation=conversation, actor=agent)
    services.conversation_rate(conversation=conversation, customer=customer, score=2, comment="太慢")
    with translation.override("en"), pytest.raises(ValidationError, match="already rated"):
        services.conversation_rate(conversation=conversation, customer=customer, score=5)
    # The buyer wrote again soon after: the same conversation, a new session once resolved.
    services.buyer_message_send(channel=web_channel, customer=customer, text="好的", conversation_id=conversation.pk)
    conversation.refresh_from_db()
    assert (conversation.status, conversation.rating) == ("open", 2)  # the latest rating stays
    with translation.override("en"), pytest.raises(ValidationError, match="not ended"):
        services.conversation_rate(conversation=conversation, customer=customer, score=5)
    services.conversation_resolve(conversation=conversation, actor=agent)
    services.conversation_rate(conversation=conversation, customer=customer, score=5)
    conversation.refresh_from_db()
    assert conversation.rating == 5
    assert [data["score"] for _, _, data in rated_events(conversation)] == [2, 5]
    with translation.override("en"), pytest.raises(ValidationError, match="already rated"):
        services.conversation_rate(conversation=conversation, customer=customer, score=4)
    # An agent's reopen and resolve is a new session too.
    services.conversation_reopen(conversation=conversation, actor=agent)
    services.conversation_resolve(conversation=conversation, actor=agent)
    services.conversation_rate(conversation=conversation, customer=customer, score=3)
    assert [data["score"] for _, _, data in rated_events(conversation)] == [2, 5, 3]


@pytest.mark.parametrize(
    "score, comment, message",
    [
        (0, "", "1 to 5"),
        (6, "", "1 to 5"),
        (-1, "", "1 to 5"),
        (True, "", "1 to 5"),
        ("5", "", "1 to 5"),
        (4.0, "", "1 to 5"),
        (None, "", "1 to 5"),
        (4, "好" * 201, "too long"),
        (2, "差\x00", "NUL"),
        (2, "差\ud800劲", "surrogate"),
    ],
)
def test_a_rating_out_of_bounds_is_refused_and_stores_nothing(conversation, agent, score, comment, message):
    services.conversation_resolve(conversation=conversation, actor=agent)
    with translation.override("en"), pytest.raises(ValidationError, match=message):
        services.conversation_rate(conversation=conversation, customer=conversation.customer, score=score, comment=comment)
    conversation.refresh_from_db()
    assert (conversation.rating, rated_events(conversation)) == (None, [])


def test_the_bounds_themselves_are_taken(conversation, agent):
    customer = conversation.customer
    services.conversation_resolve(conversation=conversation, actor=agent)
    services.conversation_rate(conversation=conversation, customer=customer, score=1, comment="差" * 200)
    services.conversation_reopen(conversation=conversation, actor=agent)
    services.conversation_resolve(conversation=conversation, actor=agent)
    services.conversation_rate(conversation=conversation, customer=customer, score=5)
    assert [data["score"] for _, _, data in rated_events(conversation)] == [1, 5]


def resolved_ago(conversation, ago: timedelta) -> None:
    """Date the conversation's last resolve ``ago`` back."""
    Conversation.objects.filter(pk=conversation.pk).update(resolved_at=timezone.now() - ago)


def test_a_resolve_is_rated_within_the_window_and_not_after(conversation, agent, shop):
    services.conversation_resolve(conversation=conversation, actor=agent)
    resolved_ago(conversation, services.RATING_WINDOW + timedelta(seconds=1))
    with translation.override("en"), pytest.raises(ValidationError, match="time to rate this conversation has passed"):
        services.conversation_rate(conversation=conversation, customer=conversation.customer, score=5)
    conversation.refresh_from_db()
    assert (conversation.rating, conversation.rated_at, rated_events(conversation)) == (None, None, [])

    other = ConversationFactory(shop=shop)
    services.conversation_resolve(conversation=other, actor=agent)
    resolved_ago(other, services.RATING_WINDOW - timedelta(minutes=1))
    services.conversation_rate(conversation=other, customer=other.customer, score=5)
    assert [data["score"] for _, _, data in rated_events(other)] == [5]


def test_the_window_counts_from_the_latest_resolve(conversation, agent):
    customer = conversation.customer
    services.conversation_resolve(conversation=conversation, actor=agent)
    resolved_ago(conversation, services.RATING_WINDOW + timedelta(hours=1))
    with pytest.raises(ValidationError):
        services.conversation_rate(conversation=conversation, customer=customer, score=2)
    services.conversation_reopen(conversation=conversation, actor=agent)
    services.conversation_resolve(conversation=conversation, actor=agent)
    conversation.refresh_from_db()
    # The time the buyer's page counts from: the resolve's event carries it.
    resolve = ConversationEvent.objects.filter(conversation=conversation, kind="status").latest("seq")
    assert (resolve.data["to"], resolve.created_at) == ("resolved", conversation.resolved_at)
    services.conversation_rate(conversation=conversation, customer=customer, score=4)
    assert [data["score"] for _, _, data in rated_events(conversation)] == [4]


@pytest.mark.parametrize("rating, rated_at", [(6, timezone.now()), (0, timezone.now()), (4, None), (None, timezone.now())])
def test_the_database_keeps_a_rating_to_the_five_levels_with_its_time(conversation, rating, rated_at):
    with pytest.raises(IntegrityError), transaction.atomic():
        Conversation.objects.filter(pk=conversation.pk).update(rating=rating, rated_at=rated_at)
