"""Prepared queries and writes give what the ORM gives, on both SQLite and PostgreSQL."""
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F
from django.db.transaction import TransactionManagementError
from django.utils import timezone

from customers.models import Customer, Tag
from dianxiaoer import prepared
from dianxiaoer.prepared import PreparedQuery
from inbox.models import Conversation, Message
from tests.factories import ConversationFactory

with_related = PreparedQuery(lambda pk: Conversation.objects.select_related("customer", "channel", "assignee").filter(pk=pk))


def _fields(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields}


def test_a_prepared_query_loads_what_its_queryset_loads(conversation, agent, django_assert_num_queries):
    Customer.objects.filter(pk=conversation.customer_id).update(tag_names=["老客", "VIP"], vip_level=2)
    Conversation.objects.filter(pk=conversation.pk).update(assignee=agent, waiting_since=timezone.now())
    expected = Conversation.objects.select_related("customer", "channel", "assignee").get(pk=conversation.pk)
    with django_assert_num_queries(1):
        loaded = with_related.first(conversation.pk)
        assert _fields(loaded) == _fields(expected)
        assert _fields(loaded.customer) == _fields(expected.customer)
        assert _fields(loaded.channel) == _fields(expected.channel)
        assert _fields(loaded.assignee) == _fields(expected.assignee)
    assert loaded.customer.tag_names == ["老客", "VIP"]  # JSON converted, not text
    assert loaded.waiting_since.tzinfo is not None
    assert loaded._state.adding is False and loaded._state.db == "default"


def test_each_call_runs_with_its_own_id(shop, web_channel):
    first, second = ConversationFactory(shop=shop, channel=web_channel), ConversationFactory(shop=shop, channel=web_channel)
    assert with_related.first(second.pk).pk == second.pk
    assert with_related.first(first.pk).pk == first.pk
    assert with_related.first(second.pk + 1000) is None
    assert with_related(first.pk) != []


def test_an_empty_outer_join_leaves_the_relation_none(conversation):
    assert conversation.assignee_id is None
    assert with_related.first(conversation.pk).assignee is None


def test_only_integer_ids_are_taken(conversation):
    with pytest.raises(TypeError):
        with_related.first(str(conversation.pk))


def test_a_builder_whose_parameters_are_not_its_ids_is_refused(conversation):
    query = PreparedQuery(lambda pk: Conversation.objects.filter(pk=pk, status="open"))
    with pytest.raises(ImproperlyConfigured):
        query.first(conversation.pk)


@pytest.mark.django_db(transaction=True)
def test_a_locking_query_needs_a_transaction_as_its_queryset_does(shop, web_channel):
    conversation = ConversationFactory(shop=shop, channel=web_channel)
    locking = PreparedQuery(lambda pk: Conversation.objects.select_for_update().filter(pk=pk))
    try:
        list(Conversation.objects.select_for_update().filter(pk=conversation.pk))
        expected = None
    except TransactionManagementError as exc:
        expected = type(exc)
    try:
        locking.first(conversation.pk)
        got = None
    except TransactionManagementError as exc:
        got = type(exc)
    assert got == expected
    with transaction.atomic():
        assert locking.first(conversation.pk).pk == conversation.pk


def _message(conversation, seq: int, client_msg_id: str | None) -> Message:
    return Message(
        conversation=conversation,
        shop_id=conversation.shop_id,
        seq=seq,
        sender_kind="buyer",
        text="在吗",
        client_msg_id=client_msg_id,
        created_at=timezone.now(),
    )


def test_insert_stores_the_row_and_sets_the_pk(conversation):
    message = _message(conversation, 1, "c1")
    assert prepared.insert(message) is True
    assert message.pk is not None and message._state.adding is False
    stored = Message.objects.get(pk=message.pk)
    assert _fields(stored) == _fields(message)


def test_insert_skipping_a_conflict_writes_nothing_and_keeps_the_transaction_usable(conversation):
    prepared.insert(_message(conversation, 1, "c1"))
    with transaction.atomic():
        assert prepared.insert(_message(conversation, 2, "c1"), skip_conflict=True) is False
        assert prepared.insert(_message(conversation, 2, "c2"), skip_conflict=True) is True
    assert list(Message.objects.filter(conversation=conversation).values_list("seq", "client_msg_id")) == [
        (1, "c1"),
        (2, "c2"),
    ]


def test_insert_without_skipping_raises_on_a_conflict(conversation):
    prepared.insert(_message(conversation, 1, "c1"))
    with pytest.raises(IntegrityError), transaction.atomic():
        prepared.insert(_message(conversation, 1, "c2"))


def test_update_writes_only_the_named_columns(conversation):
    now = timezone.now()
    Conversation.objects.filter(pk=conversation.pk).update(last_message_preview="别人写的")
    conversation.last_seq = 7
    conversation.last_message_at = now
    conversation.last_message_preview = "不写"
    prepared.update(conversation, ["last_seq", "last_message_at"])
    stored = Conversation.objects.get(pk=conversation.pk)
    assert (stored.last_seq, stored.last_message_at, stored.last_message_preview) == (7, now, "别人写的")


def test_update_of_a_missing_row_raises(conversation):
    Conversation.objects.filter(pk=conversation.pk).delete()
    conversation.last_seq = 3
    with pytest.raises(DatabaseError):
        prepared.update(conversation, ["last_seq"])


def test_expressions_and_models_with_save_receivers_are_refused(conversation, shop):
    conversation.last_seq = F("last_seq") + 1
    with pytest.raises(TypeError):
        prepared.update(conversation, ["last_seq"])
    with pytest.raises(ImproperlyConfigured):
        prepared.insert(Tag(shop=shop, name="新客"))
    stored = _message(conversation, 1, None)
    prepared.insert(stored)
    with pytest.raises(ImproperlyConfigured):
        prepared.insert(stored)  # has its pk already
