"""Event payloads: the REST API's shapes, built fast, and the buyer's reduced forms."""
import json
from datetime import timedelta

from django.utils import timezone

from inbox import events, services
from inbox.list_rows import iso_datetime
from inbox.models import ConversationEvent, Message
from inbox.selectors import conversation_queryset
from inbox.serializers import ConversationSerializer, MessageSerializer

from ..factories import TagFactory, png_upload


def test_shared_serializers_give_the_api_shapes(conversation, agent, shop):
    conversation.customer.tags.add(TagFactory(shop=shop, name="VIP"))
    services.conversation_assign(conversation=conversation, assignee=agent, actor=agent)
    services.message_send(conversation=conversation, sender_kind="buyer", text="hi", images=[png_upload()])
    services.message_send(conversation=conversation, sender_kind="agent", author=agent, text="好", client_msg_id="c")
    services.conversation_resolve(conversation=conversation, actor=agent)
    loaded = conversation_queryset().get(pk=conversation.pk)
    assert events.conversation_data(loaded) == ConversationSerializer(loaded).data
    # As the write path has it: no prefetched tags, so they are read.
    locked = conversation_queryset().prefetch_related(None).get(pk=conversation.pk)
    assert events.conversation_data(locked) == ConversationSerializer(loaded).data
    for message in Message.objects.select_related("author").prefetch_related("attachments"):
        assert events.message_data(message) == MessageSerializer(message).data


def test_buyer_forms_hide_agent_only_things(conversation, agent):
    note, _ = services.note_add(conversation=conversation, author=agent, text="内部")
    reply, _ = services.message_send(conversation=conversation, sender_kind="agent", author=agent, text="您好")
    snapshot = events.conversation_data(conversation_queryset().get(pk=conversation.pk))
    assert events.message_event(note, conversation=snapshot)[1] is None
    agent_form, buyer_form = events.message_event(reply, conversation=snapshot)
    assert set(agent_form) == {"kind", "conversation_id", "seq", "message", "conversation"}
    assert set(buyer_form) == {"kind", "conversation_id", "seq", "message"}
    assert buyer_form["message"]["author"] == {"nickname": agent.nickname}
    assert not {"is_private", "delivery_state", "delivery_error_code", "delivery_error_detail"} & set(buyer_form["message"])
    for kind, shown in [("created", False), ("assigned", False), ("status", True), ("read", True), ("rated", True)]:
        event = ConversationEvent(conversation=conversation, seq=9, kind=kind, data={}, created_at=timezone.now())
        assert (events.conversation_event(event, conversation=snapshot)[1] is not None) is shown
    # Payloads travel through channel layers and JSON: they must survive a round trip.
    assert json.loads(json.dumps(agent_form)) == agent_form


def test_conversation_events_name_their_actor_to_agents_only(conversation, agent, supervisor):
    services.conversation_assign(conversation=conversation, assignee=agent, actor=supervisor)
    services.conversation_resolve(conversation=conversation, actor=None)
    snapshot = events.conversation_data(conversation_queryset().get(pk=conversation.pk))
    assigned, resolved = ConversationEvent.objects.filter(conversation=conversation).order_by("seq")
    agent_form, _ = events.conversation_event(assigned, conversation=snapshot)
    assert agent_form["actor"] == {"id": supervisor.pk, "nickname": supervisor.nickname}
    agent_form, buyer_form = events.conversation_event(resolved, conversation=snapshot)
    assert agent_form["actor"] is None
    assert "actor" not in buyer_form


def test_a_snooze_shows_its_time_to_agents_and_only_the_status_to_the_buyer(conversation, agent):
    until = timezone.now() + timedelta(hours=1)
    services.conversation_snooze(conversation=conversation, until=until, actor=agent)
    message, _ = services.message_send(conversation=conversation, sender_kind="buyer", text="在吗")
    services.conversation_mark_read(conversation=conversation, side="buyer", up_to_seq=message.seq, actor=None)
    loaded = conversation_queryset().get(pk=conversation.pk)
    snapshot = events.conversation_data(loaded)
    snoozed, woken, read = ConversationEvent.objects.filter(conversation=conversation).order_by("seq")
    forms = [events.conversation_event(event, conversation=snapshot) for event in (snoozed, woken, read)]
    assert [agent_form["data"] for agent_form, _ in forms] == [snoozed.data, woken.data, read.data]
    assert set(snoozed.data) == {"from", "to", "until"} and set(woken.data) == {"from", "to", "reason"}
    assert [buyer_form["data"] for _, buyer_form in forms] == [
        {"from": "open", "to": "snoozed"},
        {"from": "snoozed", "to": "open"},
        {"side": "buyer", "up_to_seq": message.seq},
    ]


def test_a_snoozed_conversation_reads_as_the_api_shows_it(conversation, agent):
    services.conversation_snooze(conversation=conversation, until=timezone.now() + timedelta(hours=1), actor=agent)
    loaded = conversation_queryset().get(pk=conversation.pk)
    data = events.conversation_data(loaded)
    assert data == ConversationSerializer(loaded).data
    assert (data["status"], data["snoozed_until"]) == ("snoozed", iso_datetime(loaded.snoozed_until))


def test_a_rating_reads_as_the_api_shows_it_and_the_buyer_gets_its_score_only(conversation, agent):
    services.conversation_assign(conversation=conversation, assignee=agent, actor=agent)
    services.conversation_resolve(conversation=conversation, actor=agent)
    services.conversation_rate(conversation=conversation, customer=conversation.customer, score=5, comment="很专业")
    loaded = conversation_queryset().get(pk=conversation.pk)
    data = events.conversation_data(loaded)
    assert data == ConversationSerializer(loaded).data
    assert (data["rating"], data["rated_at"]) == (5, iso_datetime(loaded.rated_at))
    rated = ConversationEvent.objects.get(conversation=conversation, kind="rated")
    agent_form, buyer_form = events.conversation_event(rated, conversation=data)
    assert agent_form["data"] == {"score": 5, "comment": "很专业", "assignee_id": agent.pk, "team_id": None}
    assert buyer_form["data"] == {"score": 5}
