"""The write path under real concurrency, on PostgreSQL.

Threads each hold their own database connection and start together behind a barrier, so
their transactions truly overlap; the conversation row lock must serialise them. SQLite
serialises every writer anyway, so these run only against PostgreSQL (CI's second pass).
"""
import threading

import pytest

from accounts.models import Role
from customers.services import customer_tag_add
from inbox import services
from inbox.models import Conversation, ConversationEvent, Message

from ..factories import ChannelFactory, CustomerFactory, MembershipFactory, ShopFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("postgres_only")]

THREADS = 8
SENDS_PER_THREAD = 10


def run_concurrently(workers):
    """Run each callable in its own thread, released together; return their results in order.

    Each thread closes its database connection when done. Exceptions are re-raised here.
    """
    barrier = threading.Barrier(len(workers))
    results = [None] * len(workers)
    errors = []

    def target(index, work):
        from django.db import connection as thread_connection

        try:
            barrier.wait(timeout=30)
            results[index] = work()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
            errors.append(exc)
        finally:
            thread_connection.close()

    threads = [threading.Thread(target=target, args=(i, work)) for i, work in enumerate(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a worker thread hung (deadlock?)"
    if errors:
        raise errors[0]
    return results


@pytest.fixture
def setup():
    shop = ShopFactory()
    channel = ChannelFactory(shop=shop)
    customer = CustomerFactory(shop=shop)
    agent = MembershipFactory(shop=shop, role=Role.AGENT).user
    conversation = services.conversation_open(channel=channel, customer=customer)
    return conversation, agent


def history_seqs(conversation: Conversation) -> list[int]:
    message_seqs = list(Message.objects.filter(conversation=conversation).values_list("seq", flat=True))
    event_seqs = list(ConversationEvent.objects.filter(conversation=conversation).values_list("seq", flat=True))
    return sorted(message_seqs + event_seqs)


def test_two_concurrent_sends_with_one_client_msg_id_store_one_message(setup):
    conversation, _agent = setup

    def send():
        message, created = services.message_send(
            conversation=Conversation.objects.get(pk=conversation.pk),
            sender_kind=Message.SenderKind.BUYER,
            text="在吗？",
            client_msg_id="retry-1",
        )
        return message.pk, created

    results = run_concurrently([send, send])
    assert sorted(created for _pk, created in results) == [False, True]
    assert results[0][0] == results[1][0]
    assert Message.objects.filter(conversation=conversation).count() == 1
    conversation.refresh_from_db()
    assert conversation.last_seq == 2  # created event, then the one message
    assert conversation.agent_unread_count == 1


def test_many_concurrent_sends_get_gapless_unique_seqs(setup):
    conversation, agent = setup

    def worker(index):
        def work():
            stored = []
            for n in range(SENDS_PER_THREAD):
                kwargs = (
                    {"sender_kind": Message.SenderKind.AGENT, "author": agent}
                    if index % 2
                    else {"sender_kind": Message.SenderKind.BUYER}
                )
                message, created = services.message_send(
                    conversation=Conversation.objects.get(pk=conversation.pk),
                    text=f"thread {index} message {n}",
                    client_msg_id=f"t{index}-{n}",
                    **kwargs,
                )
                assert created
                stored.append(message.seq)
            # A recorded event between the messages: it draws from the same counter.
            services.conversation_mark_read(
                conversation=Conversation.objects.get(pk=conversation.pk), side="agent", up_to_seq=10**9, actor=agent
            )
            return stored

        return work

    results = run_concurrently([worker(i) for i in range(THREADS)])

    for seqs in results:
        assert seqs == sorted(seqs), "one client's sends keep their order"
    conversation.refresh_from_db()
    assert Message.objects.filter(conversation=conversation).count() == THREADS * SENDS_PER_THREAD
    seqs = history_seqs(conversation)
    assert seqs == list(range(1, conversation.last_seq + 1)), "seqs are 1..N with no gap or duplicate"
    assert ConversationEvent.objects.get(conversation=conversation, seq=1).kind == ConversationEvent.Kind.CREATED
    assert conversation.agent_unread_count + conversation.buyer_unread_count <= THREADS * SENDS_PER_THREAD


def test_concurrent_sends_to_different_conversations_do_not_block_each_other(setup):
    """Row locks are per conversation: parallel chats each get their own 1..N."""
    conversation, _agent = setup
    others = [
        services.conversation_open(channel=conversation.channel, customer=CustomerFactory(shop=conversation.shop))
        for _ in range(3)
    ]
    targets = [conversation, *others]

    def worker(target):
        def work():
            for n in range(SENDS_PER_THREAD):
                services.message_send(
                    conversation=Conversation.objects.get(pk=target.pk),
                    sender_kind=Message.SenderKind.BUYER,
                    text=f"#{n}",
                    client_msg_id=f"c{target.pk}-{n}",
                )

        return work

    run_concurrently([worker(t) for t in targets for _ in range(2)])
    for target in targets:
        target.refresh_from_db()
        assert target.last_seq == 1 + SENDS_PER_THREAD
        assert history_seqs(target) == list(range(1, target.last_seq + 1))


def test_concurrent_sweeps_queue_each_overdue_delivery_once(monkeypatch):
    from django.utils import timezone

    from inbox import tasks
    from inbox.models import Channel

    shop = ShopFactory()
    channel = ChannelFactory(shop=shop, kind=Channel.Kind.PLATFORM_API, outbound_url="https://platform.example/out")
    agent = MembershipFactory(shop=shop, role=Role.AGENT).user
    conversation = services.conversation_open(channel=channel, customer=CustomerFactory(shop=shop))
    queued = []
    monkeypatch.setattr(tasks.deliver_message, "delay", queued.append)  # list.append is thread-safe
    ids = [
        services.message_send(conversation=conversation, sender_kind="agent", author=agent, text=f"回复{n}")[0].pk
        for n in range(40)
    ]
    queued.clear()
    Message.objects.filter(pk__in=ids).update(delivery_due_at=timezone.now())

    swept = run_concurrently([lambda: services.delivery_requeue_overdue(limit=10)] * THREADS)

    # Each one claimed by exactly one sweep: the others skipped its lock or saw its new due time.
    claimed = [pk for batch in swept for pk in batch]
    assert sorted(claimed) == sorted(ids)
    assert sorted(queued) == sorted(ids)


def snoozed_and_due(shop, channel, agent, count: int) -> list[Conversation]:
    """``count`` conversations of ``shop`` snoozed by ``agent`` and due now."""
    from datetime import timedelta

    from django.utils import timezone

    conversations = [services.conversation_open(channel=channel, customer=CustomerFactory(shop=shop)) for _ in range(count)]
    for conversation in conversations:
        services.conversation_snooze(conversation=conversation, until=timezone.now() + timedelta(hours=1), actor=agent)
    Conversation.objects.filter(pk__in=[c.pk for c in conversations]).update(snoozed_until=timezone.now())
    return conversations


def wake_events(conversation: Conversation) -> list[str]:
    """The reasons of the conversation's status events that opened it."""
    return [
        data.get("reason")
        for data in ConversationEvent.objects.filter(conversation=conversation, kind="status", data__to="open").values_list(
            "data", flat=True
        )
    ]


def test_concurrent_wake_sweeps_and_buyer_messages_open_each_snoozed_conversation_once(setup):
    """Sweeps skip each other's rows; a buyer's message waits for a sweep's lock, then finds the
    conversation open (or wakes it first, and the sweeps no longer find it due)."""
    conversation, agent = setup
    due = snoozed_and_due(conversation.shop, conversation.channel, agent, 24)

    def sweep():
        return services.conversation_wake_due(limit=5)

    def buyer(targets):
        def work():
            for target in targets:
                services.buyer_message_send(
                    channel=target.channel, customer=target.customer, text="在吗", conversation_id=target.pk
                )

        return work

    results = run_concurrently([sweep] * 4 + [buyer(due[i::4]) for i in range(4)])

    swept = [pk for batch in results[:4] for pk in batch]
    assert len(swept) == len(set(swept))
    for target in due:
        target.refresh_from_db()
        assert (target.status, target.snoozed_until) == ("open", None)
        reasons = wake_events(target)
        assert len(reasons) == 1 and reasons[0] in ("buyer_message", "snooze_ended")
        assert (reasons[0] == "snooze_ended") == (target.pk in swept)
        assert history_seqs(target) == list(range(1, target.last_seq + 1))


def test_the_wake_sweep_skips_a_conversation_another_transaction_holds(setup):
    """Held (a buyer's message being stored): the sweep goes on without it instead of waiting,
    and wakes it on a later run."""
    from django.db import transaction

    conversation, agent = setup
    [held] = snoozed_and_due(conversation.shop, conversation.channel, agent, 1)
    locked, release = threading.Event(), threading.Event()

    def hold():
        with transaction.atomic():
            Conversation.objects.select_for_update().filter(pk=held.pk).values_list("pk", flat=True).get()
            locked.set()
            release.wait(timeout=10)

    def sweep():
        assert locked.wait(timeout=10)
        try:
            return services.conversation_wake_due()
        finally:
            release.set()

    _, while_held = run_concurrently([hold, sweep])
    assert while_held == []
    assert services.conversation_wake_due() == [held.pk]
    assert wake_events(held) == ["snooze_ended"]


def test_concurrent_tag_adds_to_one_buyer_keep_every_tag(setup):
    """Agents tagging one buyer at once: each add holds the profile's row, so the tag names
    kept on it (``Customer.tag_names``) list every tag, none read before another's commit."""
    conversation, _ = setup
    customer = conversation.customer
    names = [f"标签{n}" for n in range(THREADS)]
    run_concurrently([lambda name=name: customer_tag_add(customer=customer, name=name) for name in names])
    customer.refresh_from_db()
    assert sorted(customer.tag_names) == sorted(names)
    assert sorted(customer.tags.values_list("name", flat=True)) == sorted(names)
