"""Fixtures shared by the inbox tests: a platform buyer's conversation with a failed reply,
and resolves whose buyer comes back too late to continue them."""
import pytest
from django.utils import timezone

from inbox import services
from inbox.models import Channel, Conversation, Message

from ..factories import ChannelFactory, ConversationFactory


@pytest.fixture
def platform_conversation(shop):
    channel = ChannelFactory(shop=shop, kind=Channel.Kind.PLATFORM_API, outbound_url="https://adapter.example/out")
    return ConversationFactory(shop=shop, channel=channel)


@pytest.fixture
def failed_reply(platform_conversation, agent) -> Message:
    """An agent reply whose delivery failed: the platform answered 404 (its on-commit delivery
    never runs here)."""
    message, _ = services.message_send(conversation=platform_conversation, sender_kind="agent", author=agent, text="亲，已发货")
    return services.message_delivery_update(
        message_id=message.pk, state=Message.Delivery.FAILED, error_code="http_4xx", error_detail="HTTP 404"
    )


@pytest.fixture
def queued(monkeypatch):
    """Ids of the deliveries queued (instead of sent to the broker)."""
    from inbox import tasks

    ids = []
    monkeypatch.setattr(tasks.deliver_message, "delay", ids.append)
    return ids


@pytest.fixture
def resolve_for_good():
    """Resolve a conversation as if long ago: the buyer's next message starts a new one
    (within ``services.CONTINUE_AFTER_RESOLVE`` it would continue this one)."""

    def resolve(conversation: Conversation, actor) -> None:
        services.conversation_resolve(conversation=conversation, actor=actor)
        earlier = timezone.now() - services.CONTINUE_AFTER_RESOLVE
        Conversation.objects.filter(pk=conversation.pk).update(resolved_at=earlier)

    return resolve
