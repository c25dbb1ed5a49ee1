"""Access-checked, shop-scoped reads of conversations and messages.

Views, the API and consumers fetch conversations only through these, so the tenancy rule
lives in one place: a user sees a shop's rows only through a membership of that shop.
Unknown and foreign ids give the same 404, so existence does not leak.
"""
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.selectors import shop_ids_for

from .models import Conversation, ConversationEvent, Message

VIEWS = ("mine", "unassigned", "all")


def conversation_queryset() -> QuerySet[Conversation]:
    """Conversations with what a list row or event shows, loaded in one query."""
    return Conversation.objects.select_related("customer", "channel", "assignee")


def conversation_list(
    *,
    user: User,
    view: str = "all",
    status: str | None = None,
    channel_id: int | None = None,
    tag: str | None = None,
    q: str | None = None,
    shop_id: int | None = None,
) -> QuerySet[Conversation]:
    """The conversations a user may see, filtered; ordered most recent first."""
    shop_ids = shop_ids_for(user)
    if shop_id is not None:
        shop_ids = [s for s in shop_ids if s == shop_id]
    qs = conversation_queryset().filter(shop_id__in=shop_ids)
    if view == "mine":
        qs = qs.filter(assignee=user)
    elif view == "unassigned":
        qs = qs.filter(assignee__isnull=True)
    if status:
        qs = qs.filter(status=status)
    if channel_id:
        qs = qs.filter(channel_id=channel_id)
    if tag:
        qs = qs.filter(customer__tags__name=tag)
    if q:
        # Any message of the conversation, not only the last (private notes too: agents see
        # them). On PostgreSQL the trigram index of migration inbox 0010 finds them for
        # searches of three characters or more.
        with_text = Message.objects.filter(shop_id__in=shop_ids, text__icontains=q).values("conversation_id")
        qs = qs.filter(
            Q(customer__nickname__icontains=q)
            | Q(customer__platform_buyer_id__icontains=q)
            | Q(pk__in=with_text)
        )
    return qs.order_by("-last_message_at", "-id")


def conversation_get(*, user: User, conversation_id: int) -> Conversation:
    """One conversation the user may see, or 404."""
    try:
        return conversation_queryset().get(pk=conversation_id, shop_id__in=shop_ids_for(user))
    except (Conversation.DoesNotExist, ValueError, TypeError):
        raise Http404(_("Conversation not found."))


def conversation_others(*, user: User, conversation_id: int) -> QuerySet[Conversation]:
    """The other conversations of a conversation's buyer with its shop (the side panel's
    历史会话), for the caller to order and page; 404 as :func:`conversation_get`."""
    conversation = conversation_get(user=user, conversation_id=conversation_id)
    return (
        conversation_queryset()
        .filter(shop_id=conversation.shop_id, customer_id=conversation.customer_id)
        .exclude(pk=conversation.pk)
    )


def conversation_buyers(*, user: User, conversation_ids: list[int]) -> dict[int, tuple[int, int, str]]:
    """``{conversation id: (shop id, channel id, platform buyer id)}`` of those of
    ``conversation_ids`` the user may see."""
    rows = Conversation.objects.filter(pk__in=conversation_ids, shop_id__in=shop_ids_for(user)).values_list(
        "pk", "shop_id", "channel_id", "customer__platform_buyer_id"
    )
    return {pk: (shop_id, channel_id, buyer_id) for pk, shop_id, channel_id, buyer_id in rows}


def message_get(*, user: User, message_id: int) -> Message:
    """One message of the user's shops (private notes included: agents see them), or 404."""
    try:
        return Message.objects.select_related("author").get(pk=message_id, shop_id__in=shop_ids_for(user))
    except (Message.DoesNotExist, ValueError, TypeError):
        raise Http404(_("Message not found."))


def message_list(*, conversation: Conversation, after_seq: int = 0, include_private: bool, limit: int = 200) -> list[Message]:
    """Messages after ``after_seq`` in seq order; buyers never get private notes."""
    qs = (
        Message.objects.filter(conversation=conversation, seq__gt=after_seq)
        .select_related("author")
        .prefetch_related("attachments")
        .order_by("seq")
    )
    if not include_private:
        qs = qs.filter(is_private=False)
    return list(qs[:limit])


def message_latest(*, conversation: Conversation, include_private: bool, limit: int = 50) -> list[Message]:
    """The newest ``limit`` messages, oldest first: what a thread shows when opened."""
    qs = Message.objects.filter(conversation=conversation).select_related("author").prefetch_related("attachments")
    if not include_private:
        qs = qs.filter(is_private=False)
    return list(reversed(qs.order_by("-seq")[:limit]))


def event_list(*, conversation: Conversation, after_seq: int = 0, limit: int = 200) -> list[ConversationEvent]:
    return list(conversation.events.filter(seq__gt=after_seq).select_related("actor").order_by("seq")[:limit])
