import importlib

from django.apps import apps

from inbox.models import Conversation

from ..factories import ChannelFactory, ConversationFactory

conversation_previous = importlib.import_module("inbox.migrations.0006_conversation_previous")


def test_existing_follow_ups_are_linked_to_the_conversation_before_them(shop, web_channel, conversation):
    customer = conversation.customer
    platform = ChannelFactory(shop=shop, kind="platform_api")
    on_platform = ConversationFactory(shop=shop, customer=customer, channel=platform)
    second = ConversationFactory(shop=shop, customer=customer, channel=web_channel)
    third = ConversationFactory(shop=shop, customer=customer, channel=web_channel)
    someone_else = ConversationFactory(shop=shop, channel=web_channel)
    conversation_previous.link_follow_ups(apps, None)
    previous = dict(Conversation.objects.values_list("pk", "previous_id"))
    assert previous == {
        conversation.pk: None,
        on_platform.pk: None,
        second.pk: conversation.pk,
        third.pk: second.pk,
        someone_else.pk: None,
    }
