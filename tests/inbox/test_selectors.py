"""Shop-scoped reads of conversations, messages and events."""
from datetime import timedelta

import pytest
from django.http import Http404
from django.utils import timezone

from accounts.models import Role
from inbox import selectors, services

from ..factories import ChannelFactory, ConversationFactory, MembershipFactory, TagFactory


def test_list_is_scoped_to_memberships_and_ordered(agent, shop, other_shop, web_channel):
    now = timezone.now()
    old = ConversationFactory(shop=shop, channel=web_channel, last_message_at=now - timedelta(hours=1))
    new = ConversationFactory(shop=shop, channel=web_channel, last_message_at=now)
    tie = ConversationFactory(shop=shop, channel=web_channel, last_message_at=now)
    ConversationFactory(shop=other_shop)
    assert list(selectors.conversation_list(user=agent)) == [tie, new, old]


def test_list_for_member_of_two_shops_and_shop_filter(agent, shop, other_shop, conversation):
    MembershipFactory(user=agent, shop=other_shop, role=Role.AGENT)
    agent.__dict__.pop("_dxe_memberships", None)
    theirs = ConversationFactory(shop=other_shop)
    assert set(selectors.conversation_list(user=agent)) == {conversation, theirs}
    assert list(selectors.conversation_list(user=agent, shop_id=other_shop.pk)) == [theirs]


def test_list_shop_filter_cannot_widen_access(agent, other_shop):
    ConversationFactory(shop=other_shop)
    assert list(selectors.conversation_list(user=agent, shop_id=other_shop.pk)) == []


def test_list_filters(agent, supervisor, shop, web_channel):
    tag = TagFactory(shop=shop, name="投诉")
    mine = ConversationFactory(shop=shop, channel=web_channel, assignee=agent)
    theirs = ConversationFactory(shop=shop, channel=web_channel, assignee=supervisor)
    nobody = ConversationFactory(
        shop=shop, channel=web_channel, status="snoozed", snoozed_until=timezone.now() + timedelta(hours=1)
    )
    other_channel = ChannelFactory(shop=shop)
    elsewhere = ConversationFactory(shop=shop, channel=other_channel)
    nobody.customer.tags.add(tag)
    mine.customer.platform_buyer_id = "tb-special"
    mine.customer.save()

    def ids(**kwargs):
        return {c.pk for c in selectors.conversation_list(user=agent, **kwargs)}

    assert ids(view="mine") == {mine.pk}
    assert ids(view="unassigned") == {nobody.pk, elsewhere.pk}
    assert ids(view="all") == {mine.pk, theirs.pk, nobody.pk, elsewhere.pk}
    assert ids(status="snoozed") == {nobody.pk}
    assert ids(status="open") == {mine.pk, theirs.pk, elsewhere.pk}
    assert ids(channel_id=other_channel.pk) == {elsewhere.pk}
    assert ids(tag="投诉") == {nobody.pk}
    assert ids(q="SPECIAL") == {mine.pk}


def test_search_finds_any_message_of_the_shops_conversations(agent, shop, other_shop, web_channel):
    earlier = ConversationFactory(shop=shop, channel=web_channel)
    services.message_send(conversation=earlier, sender_kind="customer", text="羽绒服钻毛了, Down Jacket")
    services.message_send(conversation=earlier, sender_kind="customer", text="在吗")
    noted = ConversationFactory(shop=shop, channel=web_channel)
    services.message_send(conversation=noted, sender_kind="agent", author=agent, text="钻毛换新", is_private=True)
    quiet = ConversationFactory(shop=shop, channel=web_channel)
    services.message_send(conversation=quiet, sender_kind="customer", text="发货了吗")
    elsewhere = ConversationFactory(shop=other_shop)
    services.message_send(conversation=elsewhere, sender_kind="customer", text="钻毛")

    def ids(q):
        return {c.pk for c in selectors.conversation_list(user=agent, q=q)}

    assert ids("钻毛") == {earlier.pk, noted.pk}
    assert ids("down jacket") == {earlier.pk}
    assert ids("发货") == {quiet.pk}


def test_get_foreign_and_unknown_are_404(agent, outsider, conversation):
    assert selectors.conversation_get(user=agent, conversation_id=conversation.pk) == conversation
    for user, conversation_id in ((outsider, conversation.pk), (agent, 999999), (agent, "abc"), (agent, None)):
        with pytest.raises(Http404):
            selectors.conversation_get(user=user, conversation_id=conversation_id)


def test_get_for_anonymous_is_404(conversation):
    from django.contrib.auth.models import AnonymousUser

    with pytest.raises(Http404):
        selectors.conversation_get(user=AnonymousUser(), conversation_id=conversation.pk)


def test_messages_hide_private_notes_from_buyers(conversation, agent):
    services.message_send(conversation=conversation, sender_kind="buyer", text="hi")
    services.note_add(conversation=conversation, author=agent, text="内部")
    services.message_send(conversation=conversation, sender_kind="agent", author=agent, text="您好")
    assert [m.seq for m in selectors.message_list(conversation=conversation, include_private=True)] == [1, 2, 3]
    assert [m.seq for m in selectors.message_list(conversation=conversation, include_private=False)] == [1, 3]
    assert [m.seq for m in selectors.message_list(conversation=conversation, after_seq=1, include_private=False)] == [3]
    assert [m.seq for m in selectors.message_latest(conversation=conversation, include_private=False, limit=1)] == [3]
    assert [m.seq for m in selectors.message_latest(conversation=conversation, include_private=True, limit=2)] == [2, 3]


def test_message_list_limit(conversation):
    for i in range(5):
        services.message_send(conversation=conversation, sender_kind="buyer", text=str(i))
    assert [m.seq for m in selectors.message_list(conversation=conversation, include_private=False, limit=2)] == [1, 2]
    assert [m.seq for m in selectors.message_latest(conversation=conversation, include_private=False, limit=2)] == [4, 5]


def test_messages_of_other_conversations_never_mix(conversation, shop, web_channel):
    other = ConversationFactory(shop=shop, channel=web_channel)
    services.message_send(conversation=other, sender_kind="buyer", text="other")
    services.message_send(conversation=conversation, sender_kind="buyer", text="mine")
    assert [m.text for m in selectors.message_list(conversation=conversation, include_private=True)] == ["mine"]


def test_event_list(conversation, agent):
    services.conversation_assign(conversation=conversation, assignee=agent, actor=agent)
    services.message_send(conversation=conversation, sender_kind="buyer", text="hi")
    services.conversation_resolve(conversation=conversation, actor=agent)
    assert [(e.seq, e.kind) for e in selectors.event_list(conversation=conversation)] == [(1, "assigned"), (3, "status")]
    assert [e.seq for e in selectors.event_list(conversation=conversation, after_seq=1)] == [3]
    assert [e.seq for e in selectors.event_list(conversation=conversation, limit=1)] == [1]


def test_others_are_the_buyers_other_conversations_in_the_shop(agent, shop, web_channel, conversation):
    customer = conversation.customer
    platform = ChannelFactory(shop=shop, kind="platform_api")
    earlier = ConversationFactory(shop=shop, customer=customer, channel=web_channel, status="resolved")
    elsewhere = ConversationFactory(shop=shop, customer=customer, channel=platform)
    ConversationFactory(shop=shop, channel=web_channel)  # another buyer's
    others = selectors.conversation_others(user=agent, conversation_id=conversation.pk)
    assert set(others) == {earlier, elsewhere}
    assert set(selectors.conversation_others(user=agent, conversation_id=earlier.pk)) == {conversation, elsewhere}


def test_others_of_a_foreign_or_unknown_conversation_are_404(agent, outsider, conversation):
    for user, conversation_id in ((outsider, conversation.pk), (agent, 999999), (agent, "abc")):
        with pytest.raises(Http404):
            selectors.conversation_others(user=user, conversation_id=conversation_id)
