"""The write path for conversations and messages.

Every function here is the only way its change happens: views, API, consumers, tasks and
commands call these. Each runs in one transaction, takes the conversation's row lock before
it draws the next ``seq``, and publishes its event only after commit.
"""
import functools
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet, prefetch_related_objects
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Membership, User
from dianxiaoer import prepared
from dianxiaoer.text import require_storable
from customers.models import Customer
from customers.services import customer_get_or_create

from . import events, list_rows, realtime, visitor_quota
from .attachments import check_image
from .buyer_identity import BuyerSession
from .models import Attachment, Channel, Conversation, ConversationEvent, Message

MAX_TEXT_LENGTH = 5000
MAX_IMAGES_PER_MESSAGE = 9
MAX_CLIENT_MSG_ID_LENGTH = 64
PREVIEW_LENGTH = 120
# A snooze is a reminder for days, not a way to park a buyer for good: longer is a mistake.
MAX_SNOOZE_DAYS = 30

# Why a snoozed conversation opened again by itself: the ``reason`` of its status event.
WAKE_BUYER_MESSAGE = "buyer_message"
WAKE_SNOOZE_ENDED = "snooze_ended"
# Why a resolved one did: its buyer wrote in it again (the chat page continues one only
# within ``CONTINUE_AFTER_RESOLVE``, else opens a new conversation).
REOPEN_BUYER_RETURNED = "buyer_returned"


# The whole conversation, and of its customer, channel and assignee what events show and
# messages update: a user's password and avatar, a profile's notes stay unread.
_LOCKED_COLUMNS = (
    *(field.name for field in Conversation._meta.concrete_fields),
    *list_rows.RELATED_COLUMNS,
    "customer__last_contact_at",
)


def _locking(*, skip_locked: bool = False):
    """Conversations to lock, with what events show (customer, channel, assignee).

    ``skip_locked``: for sweeps, which leave a row another transaction holds to its holder.
    """
    # of=("self",): PostgreSQL cannot lock the nullable side of the assignee outer join.
    return (
        Conversation.objects.select_for_update(of=("self",), skip_locked=skip_locked)
        .select_related("customer", "channel", "assignee")
        .only(*_LOCKED_COLUMNS)
    )


# The lock of every chat message: built once, then only run (see dianxiaoer.prepared).
_locked_by_id = prepared.PreparedQuery(lambda pk: _locking().filter(pk=pk))


def _lock_id(conversation_id: int) -> Conversation | None:
    """The conversation under a row lock, or None; callers must be inside a transaction."""
    return _locked_by_id.first(conversation_id)


def _lock(conversation: Conversation) -> Conversation:
    """Re-read the conversation under a row lock; callers must be inside a transaction."""
    locked = _lock_id(conversation.pk)
    if locked is None:
        raise Conversation.DoesNotExist(f"Conversation {conversation.pk} does not exist.")
    return locked


def _next_seq(conversation: Conversation) -> int:
    """Draw the next seq of a locked conversation (saved with the caller's other changes)."""
    conversation.last_seq += 1
    return conversation.last_seq


def _buyer_group(conversation: Conversation) -> str:
    """The realtime group of the conversation's buyer on its channel (a locked conversation
    has its customer loaded)."""
    return realtime.buyer_group(conversation.channel_id, conversation.customer.platform_buyer_id)


def _publish_event(conversation: Conversation, event: ConversationEvent) -> None:
    agent_payload, buyer_payload = events.conversation_event(event, conversation=events.conversation_data(conversation))
    realtime.publish_on_commit(
        shop_id=conversation.shop_id,
        agent_payload=agent_payload,
        buyer=_buyer_group(conversation),
        buyer_payload=buyer_payload,
    )


def _record_event(
    conversation: Conversation, *, kind: str, actor: User | None, data: dict, at: datetime | None = None
) -> ConversationEvent:
    """Append an event to a locked conversation's history, save it, and publish on commit.

    Whether the buyer is told, and what, is decided by the kind (``events.BUYER_EVENT_DATA``).
    ``at``: the event's time when the conversation stores it too (default now).
    """
    event = ConversationEvent.objects.create(
        conversation=conversation,
        shop_id=conversation.shop_id,
        seq=_next_seq(conversation),
        kind=kind,
        actor=actor,
        data=data,
        created_at=at or timezone.now(),
    )
    conversation.save()
    _publish_event(conversation, event)
    return event


def _check_member(conversation: Conversation, user: User) -> None:
    if not Membership.objects.filter(shop_id=conversation.shop_id, user=user).exists():
        raise ValidationError(_("That user is not a member of this shop."))


# A buyer who writes again this soon after a resolve continues that conversation (as the
# marketplaces' workbenches do): a "thanks" after the goodbye is not a new session to answer.
CONTINUE_AFTER_RESOLVE = timedelta(minutes=10)


def _continues(conversation: Conversation) -> bool:
    """Whether the buyer's next message continues this resolved conversation."""
    return conversation.resolved_at is not None and conversation.resolved_at > timezone.now() - CONTINUE_AFTER_RESOLVE


def _followed(conversation: Conversation) -> bool:
    """Whether the buyer has a newer conversation on the channel than this one."""
    return Conversation.objects.filter(
        customer_id=conversation.customer_id, channel_id=conversation.channel_id, pk__gt=conversation.pk
    ).exists()


def _open_locked(*, channel: Channel, customer: Customer) -> Conversation:
    """The buyer's unresolved conversation on this channel, locked, or a new one.

    A buyer's latest conversation resolved less than ``CONTINUE_AFTER_RESOLVE`` ago is
    reopened instead (a status event with ``reason: REOPEN_BUYER_RETURNED``). Otherwise a new one
    follows up that latest conversation, if any: ``previous`` links the two. Locks the
    customer row first, so two first messages of one buyer open one conversation. Callers
    must be inside a transaction.
    """
    if customer.shop_id != channel.shop_id:
        raise ValidationError(_("Customer and channel belong to different shops."))
    Customer.objects.select_for_update().filter(pk=customer.pk).values_list("pk", flat=True).first()
    existing = (
        _locking()
        .filter(customer=customer, channel=channel)
        .exclude(status=Conversation.Status.RESOLVED)
        .order_by("-id")
        .first()
    )
    if existing is not None:
        return existing
    latest = Conversation.objects.filter(customer=customer, channel=channel).order_by("-id").values_list("pk", flat=True).first()
    if latest is not None:
        conversation = _lock_id(latest)
        if conversation.status != Conversation.Status.RESOLVED:  # a send of another tab continued it meanwhile
            return conversation
        if _continues(conversation):
            _change_status(conversation, status=Conversation.Status.OPEN, actor=None, reason=REOPEN_BUYER_RETURNED)
            return conversation
    conversation = Conversation.objects.create(
        shop_id=channel.shop_id, customer=customer, channel=channel, previous_id=latest, last_message_at=timezone.now()
    )
    conversation = _lock(conversation)
    _record_event(conversation, kind=ConversationEvent.Kind.CREATED, actor=None, data={})
    return conversation


@transaction.atomic
def conversation_open(*, channel: Channel, customer: Customer) -> Conversation:
    """The buyer's unresolved conversation on this channel, the one just resolved (continued),
    or a new one."""
    return _open_locked(channel=channel, customer=customer)


def _validate_message_input(*, text: str, images: Sequence[UploadedFile], client_msg_id: str | None) -> str:
    text = (text or "").strip()
    if not text and not images:
        raise ValidationError(_("A message needs text or an image."))
    if len(text) > MAX_TEXT_LENGTH:
        raise ValidationError(_("Message is too long (at most %(max)d characters).") % {"max": MAX_TEXT_LENGTH})
    if len(images) > MAX_IMAGES_PER_MESSAGE:
        raise ValidationError(_("At most %(max)d images per message.") % {"max": MAX_IMAGES_PER_MESSAGE})
    if client_msg_id is not None and not (0 < len(client_msg_id) <= MAX_CLIENT_MSG_ID_LENGTH):
        raise ValidationError(_("client_msg_id must be 1 to %(max)d characters.") % {"max": MAX_CLIENT_MSG_ID_LENGTH})
    require_storable(text, client_msg_id or "")
    return text


def _preview(message: Message, image_count: int) -> str:
    if message.text:
        return message.text[:PREVIEW_LENGTH]
    return _("[Image]") if image_count else ""


def _check_message(
    *, sender_kind: str, text: str, author: User | None, client_msg_id: str | None, images: Sequence[UploadedFile], is_private: bool
) -> tuple[str, list]:
    text = _validate_message_input(text=text, images=images, client_msg_id=client_msg_id)
    checked_images = [check_image(upload) for upload in images]
    if sender_kind == Message.SenderKind.AGENT and author is None:
        raise ValidationError(_("An agent message needs its author."))
    if is_private and sender_kind != Message.SenderKind.AGENT:
        raise ValidationError(_("Only agents write private notes."))
    return text, checked_images


@functools.cache
def _no_attachments() -> QuerySet:
    """An evaluated empty queryset for every text message: iterating it builds no SQL."""
    queryset = Attachment.objects.none()
    len(queryset)  # evaluates it once; ``all()`` on the prefetched manager hands out this one
    return queryset


# A pending platform delivery whose attempt has not run this long after it was due is taken
# for lost and queued again (``delivery_requeue_overdue``). Attempts time out after 10 s.
DELIVERY_OVERDUE_SECONDS = 120


def _delivery_due(now: datetime, retry_in: float = 0) -> datetime:
    return now + timedelta(seconds=retry_in + DELIVERY_OVERDUE_SECONDS)


def _delivers_to_platform(*, sender_kind: str, is_private: bool, channel: Channel) -> bool:
    """Whether a message goes out to the platform behind its channel: the shop's replies
    (agent or bot, not private notes) on a ``platform_api`` channel."""
    return (
        sender_kind in (Message.SenderKind.AGENT, Message.SenderKind.BOT)
        and not is_private
        and channel.kind == Channel.Kind.PLATFORM_API
    )


# A buyer's last contact is a day-level fact: rewrite it at most this often.
LAST_CONTACT_RESOLUTION_SECONDS = 60


def _append_message(
    conversation: Conversation,
    *,
    sender_kind: str,
    text: str,
    author: User | None,
    client_msg_id: str | None,
    checked_images: list,
    is_private: bool,
) -> tuple[Message, bool]:
    """Store a checked message in a locked conversation and publish it on commit.

    A retried ``client_msg_id`` is told by the unique constraint, not by a query first: the
    insert skips a conflicting row, and only then is the stored message read (a query after
    the lock, so on PostgreSQL it sees what a concurrent send of the id committed). It is
    returned only to its own sender: another sender's id is refused.
    """
    now = timezone.now()
    delivers_to_platform = _delivers_to_platform(sender_kind=sender_kind, is_private=is_private, channel=conversation.channel)
    message = Message(
        conversation=conversation,
        shop_id=conversation.shop_id,
        seq=_next_seq(conversation),
        sender_kind=sender_kind,
        author=author,
        text=text,
        is_private=is_private,
        client_msg_id=client_msg_id,
        delivery_state=Message.Delivery.PENDING if delivers_to_platform else Message.Delivery.NONE,
        delivery_due_at=_delivery_due(now) if delivers_to_platform else None,
        created_at=now,
    )
    if not prepared.insert(message, skip_conflict=client_msg_id is not None):
        conversation.last_seq -= 1
        existing = Message.objects.filter(conversation=conversation, client_msg_id=client_msg_id).first()
        if existing is None:
            raise IntegrityError(f"Message {conversation.pk}#{message.seq} conflicts with a stored one.")
        # A retry is the same sender's; anyone else naming the id must not get that message
        # back (a buyer guessing a private note's id) nor stand in for it.
        sender = (sender_kind, author.pk if author else None, is_private)
        if (existing.sender_kind, existing.author_id, existing.is_private) != sender:
            raise ValidationError(_("This client_msg_id belongs to another message; use a new one."))
        return existing, False
    attachments = [
        Attachment.objects.create(
            message=message,
            shop_id=conversation.shop_id,
            file=checked.file,
            content_type=checked.content_type,
            size=checked.file.size,
            width=checked.width,
            height=checked.height,
        )
        for checked in checked_images
    ]
    # The payload below reads message.attachments; a text message has none, so spare the query.
    if attachments:
        prefetch_related_objects([message], "attachments")
    else:
        message._prefetched_objects_cache = {"attachments": _no_attachments()}

    changed = ["last_seq"]
    reopened_from = None
    if not is_private:
        conversation.last_message_at = now
        conversation.last_message_preview = _preview(message, len(attachments))
        changed += ["last_message_at", "last_message_preview"]
        if sender_kind == Message.SenderKind.BUYER:
            conversation.agent_unread_count += 1
            conversation.waiting_since = conversation.waiting_since or now
            changed += ["agent_unread_count", "waiting_since"]
            if conversation.status in (Conversation.Status.RESOLVED, Conversation.Status.SNOOZED):
                # Open again at once: the buyer is waiting now. The status event follows the message.
                reopened_from = conversation.status
                conversation.status = Conversation.Status.OPEN
                conversation.resolved_at = conversation.snoozed_until = None
                changed += ["status", "resolved_at", "snoozed_until"]
            customer = conversation.customer
            if customer.last_contact_at is None or (now - customer.last_contact_at).total_seconds() > LAST_CONTACT_RESOLUTION_SECONDS:
                customer.last_contact_at = now
                Customer.objects.filter(pk=customer.pk).update(last_contact_at=now)
        else:
            conversation.buyer_unread_count += 1
            changed.append("buyer_unread_count")
            if sender_kind == Message.SenderKind.AGENT:
                conversation.waiting_since = None
                changed.append("waiting_since")
    prepared.update(conversation, changed)

    agent_payload, buyer_payload = events.message_event(message, conversation=events.conversation_data(conversation))
    realtime.publish_on_commit(
        shop_id=conversation.shop_id,
        agent_payload=agent_payload,
        buyer=_buyer_group(conversation),
        buyer_payload=buyer_payload,
    )
    if reopened_from is not None:
        reason = WAKE_BUYER_MESSAGE if reopened_from == Conversation.Status.SNOOZED else REOPEN_BUYER_RETURNED
        _record_event(
            conversation,
            kind=ConversationEvent.Kind.STATUS,
            actor=None,
            data={"from": reopened_from, "to": Conversation.Status.OPEN, "reason": reason},
        )
    if delivers_to_platform:
        from .tasks import deliver_message

        transaction.on_commit(lambda: deliver_message.delay(message.pk))
    return message, True


@transaction.atomic
def message_send(
    *,
    conversation: Conversation,
    sender_kind: str,
    text: str = "",
    author: User | None = None,
    client_msg_id: str | None = None,
    images: Sequence[UploadedFile] = (),
    is_private: bool = False,
) -> tuple[Message, bool]:
    """Store a message and publish it; returns ``(message, created)``.

    A repeated ``client_msg_id`` in the same conversation returns the stored message with
    ``created=False`` and changes nothing, so clients may retry a send safely.
    """
    text, checked_images = _check_message(
        sender_kind=sender_kind, text=text, author=author, client_msg_id=client_msg_id, images=images, is_private=is_private
    )
    conversation = _lock(conversation)
    message, created = _append_message(
        conversation,
        sender_kind=sender_kind,
        text=text,
        author=author,
        client_msg_id=client_msg_id,
        checked_images=checked_images,
        is_private=is_private,
    )
    if created and sender_kind == Message.SenderKind.AGENT and not is_private and conversation.assignee_id is None:
        # The agent who answers an unassigned buyer takes the conversation, so a second agent
        # sees it leave the queue instead of answering the same buyer too.
        _check_member(conversation, author)
        _assign_locked(conversation, assignee=author, actor=author, by_reply=True)
    return message, created


def note_add(*, conversation: Conversation, author: User, text: str, client_msg_id: str | None = None) -> tuple[Message, bool]:
    """A private note: visible to the shop's agents, never sent to the buyer."""
    return message_send(
        conversation=conversation,
        sender_kind=Message.SenderKind.AGENT,
        author=author,
        text=text,
        client_msg_id=client_msg_id,
        is_private=True,
    )


@transaction.atomic
def buyer_message_receive(
    *,
    channel: Channel,
    platform_buyer_id: str,
    nickname: str = "",
    text: str = "",
    client_msg_id: str | None = None,
    images: Sequence[UploadedFile] = (),
) -> tuple[Message, bool]:
    """A buyer's message from a platform: finds or creates the profile and conversation."""
    text, checked_images = _check_buyer_message(text=text, client_msg_id=client_msg_id, images=images)
    customer = customer_get_or_create(shop=channel.shop, platform_buyer_id=platform_buyer_id, nickname=nickname)
    conversation = _open_locked(channel=channel, customer=customer)
    return _append_buyer_message(conversation, text=text, client_msg_id=client_msg_id, checked_images=checked_images)


@transaction.atomic
def buyer_message_send(
    *,
    channel: Channel,
    customer: Customer | BuyerSession,
    text: str = "",
    client_msg_id: str | None = None,
    images: Sequence[UploadedFile] = (),
    conversation_id: int | None = None,
) -> tuple[Message, bool]:
    """A known buyer's message (chat socket, chat page): appended to the buyer's open conversation.

    ``customer`` is the buyer's profile, or the session of a chat visitor who may have none
    yet: a valid first message makes it, in the same transaction, unless the visitor's
    address brought the shop too many new visitors this hour (``NewVisitorLimit``).

    ``conversation_id`` is the conversation the caller believes current. When it still is,
    it is locked directly: the hot path of every chat message, one lock and no profile
    lookup. Otherwise the buyer's current conversation is found or opened under the
    buyer's lock, as for a first message.

    A retried ``client_msg_id`` returns the stored message with ``created=False`` and changes
    nothing. In an unresolved conversation the insert's conflict tells it (no query); before
    reopening a resolved one or finding or starting one, one query looks in all the buyer's
    conversations on the channel, so a send resent after a resolve neither reopens the chat
    nor is stored twice.
    """
    text, checked_images = _check_buyer_message(text=text, client_msg_id=client_msg_id, images=images)
    if isinstance(customer, BuyerSession):
        if customer.shop_id != channel.shop_id:
            raise ValidationError(_("Customer and channel belong to different shops."))
        if customer.address and customer.customer() is None:
            visitor_quota.new_visitor_admit(shop_id=channel.shop_id, address=customer.address)
        customer = customer_get_or_create(
            shop=channel.shop, platform_buyer_id=customer.buyer_id, nickname=customer.nickname
        )
    conversation = None
    if conversation_id is not None:
        # Locked by id alone and checked here: one prepared query on every message.
        conversation = _lock_id(conversation_id)
        if conversation is not None and (conversation.customer_id != customer.pk or conversation.channel_id != channel.pk):
            conversation = None
    if client_msg_id is not None and (conversation is None or conversation.status == Conversation.Status.RESOLVED):
        # About to reopen a conversation or find or start one: a retried send (its ack lost
        # before a resolve) must change nothing, wherever its message is stored.
        stored = _stored_buyer_message(channel=channel, customer=customer, client_msg_id=client_msg_id)
        if stored is not None:
            return stored, False
    if conversation is not None and conversation.status == Conversation.Status.RESOLVED:
        # Continued right here, without the buyer's lock: taking it while holding this
        # conversation's would invert _open_locked's order (buyer, then conversation).
        if _continues(conversation) and not _followed(conversation):
            _change_status(conversation, status=Conversation.Status.OPEN, actor=None, reason=REOPEN_BUYER_RETURNED)
        else:
            conversation = None
    if conversation is None:
        conversation = _open_locked(channel=channel, customer=customer)
    return _append_buyer_message(conversation, text=text, client_msg_id=client_msg_id, checked_images=checked_images)


def _stored_buyer_message(*, channel: Channel, customer: Customer, client_msg_id: str) -> Message | None:
    """The buyer's message with this ``client_msg_id`` in any of their conversations on the
    channel (one query: the unique index per conversation), or None."""
    return (
        Message.objects.filter(
            conversation__customer=customer,
            conversation__channel=channel,
            client_msg_id=client_msg_id,
            sender_kind=Message.SenderKind.BUYER,
        )
        .order_by("-pk")
        .first()
    )


def _check_buyer_message(*, text: str, client_msg_id: str | None, images: Sequence[UploadedFile]) -> tuple[str, list]:
    return _check_message(
        sender_kind=Message.SenderKind.BUYER, text=text, author=None, client_msg_id=client_msg_id, images=images, is_private=False
    )


def _append_buyer_message(
    conversation: Conversation, *, text: str, client_msg_id: str | None, checked_images: list
) -> tuple[Message, bool]:
    return _append_message(
        conversation,
        sender_kind=Message.SenderKind.BUYER,
        text=text,
        author=None,
        client_msg_id=client_msg_id,
        checked_images=checked_images,
        is_private=False,
    )


class AssigneeChanged(Exception):
    """The conversation's assignee is no longer the one the caller saw: nothing was changed."""

    def __init__(self, conversation: Conversation):
        self.conversation = conversation
        assignee = conversation.assignee
        if assignee is None:
            message = _("Someone has just unassigned this conversation; nothing was changed.")
        else:
            message = _("%(name)s has just taken this conversation; nothing was changed.") % {"name": assignee.nickname}
        super().__init__(message)


# ``expected_assignee_id`` left out: the caller assigns whoever has the conversation now.
UNCHECKED = object()


def _assign_locked(conversation: Conversation, *, assignee: User | None, actor: User | None, by_reply: bool = False) -> None:
    data = {"from": conversation.assignee_id, "to": assignee.pk if assignee else None}
    if by_reply:
        data["by_reply"] = True
    conversation.assignee = assignee
    _record_event(conversation, kind=ConversationEvent.Kind.ASSIGNED, actor=actor, data=data)


@transaction.atomic
def conversation_assign(
    *, conversation: Conversation, assignee: User | None, actor: User | None, expected_assignee_id=UNCHECKED
) -> Conversation:
    """Give the conversation to an agent of its shop (or to nobody); recorded as an event.

    With ``expected_assignee_id`` (a user id, or None for "unassigned") the change is made
    only if that is still the assignee, else :class:`AssigneeChanged` is raised: two agents
    clicking "assign to me" at once end with one owner and the other told, not overruled.
    """
    conversation = _lock(conversation)
    if assignee is not None:
        _check_member(conversation, assignee)
    if conversation.assignee_id == (assignee.pk if assignee else None):
        return conversation
    if expected_assignee_id is not UNCHECKED and conversation.assignee_id != expected_assignee_id:
        raise AssigneeChanged(conversation)
    _assign_locked(conversation, assignee=assignee, actor=actor)
    return conversation


def _change_status(
    conversation: Conversation, *, status: str, actor: User | None, until: datetime | None = None, reason: str = ""
) -> None:
    """Move a locked conversation to ``status`` and record it.

    Resolving stamps ``resolved_at``; ``until`` is a snooze's wake-up time (``data.until``), any
    other status clears it. ``reason`` says why it changed with no one acting (``data.reason``).
    """
    data = {"from": conversation.status, "to": status}
    if until is not None:
        data["until"] = list_rows.iso_datetime(until)
    if reason:
        data["reason"] = reason
    now = timezone.now()
    conversation.status = status
    conversation.resolved_at = now if status == Conversation.Status.RESOLVED else None
    conversation.snoozed_until = until
    _record_event(conversation, kind=ConversationEvent.Kind.STATUS, actor=actor, data=data, at=now)


@transaction.atomic
def conversation_set_status(*, conversation: Conversation, status: str, actor: User | None) -> Conversation:
    """Move the conversation to open or resolved; resolving stamps ``resolved_at``, and either
    ends a snooze. Snoozing needs its time: :func:`conversation_snooze`."""
    if status not in Conversation.Status.values:
        raise ValidationError(_("Unknown status: %(status)s.") % {"status": status})
    if status == Conversation.Status.SNOOZED:
        raise ValidationError(_("Snoozing needs a time to open the conversation again."))
    conversation = _lock(conversation)
    if conversation.status == status:
        return conversation
    _change_status(conversation, status=status, actor=actor)
    return conversation


def conversation_resolve(*, conversation: Conversation, actor: User | None) -> Conversation:
    return conversation_set_status(conversation=conversation, status=Conversation.Status.RESOLVED, actor=actor)


def conversation_reopen(*, conversation: Conversation, actor: User | None) -> Conversation:
    return conversation_set_status(conversation=conversation, status=Conversation.Status.OPEN, actor=actor)


@transaction.atomic
def conversation_snooze(*, conversation: Conversation, until: datetime, actor: User | None) -> Conversation:
    """Set the conversation aside until ``until`` (an aware datetime): it opens again then
    (:func:`conversation_wake_due`) or at the buyer's next message, whichever comes first.

    Snoozing a snoozed one moves its time; a resolved one is refused (reopen it first).
    """
    if timezone.is_naive(until):
        raise ValueError("until must be an aware datetime")
    now = timezone.now()
    if until <= now:
        raise ValidationError(_("Choose a snooze time in the future."))
    if until > now + timedelta(days=MAX_SNOOZE_DAYS):
        raise ValidationError(_("Snooze for at most %(days)d days.") % {"days": MAX_SNOOZE_DAYS})
    conversation = _lock(conversation)
    if conversation.status == Conversation.Status.RESOLVED:
        raise ValidationError(_("This conversation is resolved; reopen it before snoozing it."))
    if conversation.status == Conversation.Status.SNOOZED and conversation.snoozed_until == until:
        return conversation
    _change_status(conversation, status=Conversation.Status.SNOOZED, actor=actor, until=until)
    return conversation


@transaction.atomic
def conversation_wake_due(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Open again the snoozed conversations whose time has come; returns their ids.

    Each is claimed under its row lock, which concurrent sweeps skip: none is woken twice,
    and a run after this one finds nothing due. A buyer's message waking one meanwhile waits
    for the lock and then finds it open. Each gets a status event (no actor, ``reason``
    "snooze_ended"), published after commit.
    """
    now = now or timezone.now()
    due = list(
        _locking(skip_locked=True)
        .filter(status=Conversation.Status.SNOOZED, snoozed_until__lte=now)
        .order_by("snoozed_until")[:limit]
    )
    for conversation in due:
        _change_status(conversation, status=Conversation.Status.OPEN, actor=None, reason=WAKE_SNOOZE_ENDED)
    return [conversation.pk for conversation in due]


# A rating's optional comment: a sentence or two, as the marketplaces' surveys take.
MAX_RATING_COMMENT_LENGTH = 200
# As on the marketplaces, a survey is for right after the chat: a late one skews another day's KPIs.
RATING_WINDOW = timedelta(hours=24)


def _rated_this_session(conversation: Conversation) -> bool:
    """Whether a resolved conversation was rated since its last resolve.

    A resolved conversation's latest status event is the resolve that ended its session, so
    the session is rated when a ``rated`` event comes after it (by seq, not by clock).
    """
    latest = (
        conversation.events.filter(kind__in=(ConversationEvent.Kind.STATUS, ConversationEvent.Kind.RATED))
        .order_by("-seq")
        .values_list("kind", flat=True)
        .first()
    )
    return latest == ConversationEvent.Kind.RATED


@transaction.atomic
def conversation_rate(*, conversation: Conversation, customer: Customer, score: int, comment: str = "") -> Conversation:
    """The buyer's 满意度 of the session that the conversation's last resolve ended.

    Only its own buyer rates it, only while it is resolved (the survey is offered at the
    resolve) and within ``RATING_WINDOW`` of that resolve, and once per session: a
    conversation continued or reopened and resolved again is a new session, rated anew.
    Recorded as a ``rated`` event with the assignee and team of the moment (what reports
    count by), kept on the conversation as its latest rating, and published to the shop's
    agents and the buyer's sockets (other tabs hide the survey).
    """
    if isinstance(score, bool) or not isinstance(score, int) or score not in Conversation.Rating.values:
        raise ValidationError(_("Choose a rating from 1 to 5."))
    comment = (comment or "").strip()
    if len(comment) > MAX_RATING_COMMENT_LENGTH:
        raise ValidationError(
            _("The comment is too long (at most %(max)d characters).") % {"max": MAX_RATING_COMMENT_LENGTH}
        )
    require_storable(comment)
    conversation = _lock(conversation)
    if conversation.customer_id != customer.pk:
        raise ValidationError(_("Only the buyer of a conversation rates it."))
    if conversation.status != Conversation.Status.RESOLVED:
        raise ValidationError(_("This conversation has not ended yet; rate it once it is resolved."))
    if _rated_this_session(conversation):
        raise ValidationError(_("You have already rated this conversation."))
    if conversation.resolved_at < timezone.now() - RATING_WINDOW:
        raise ValidationError(_("The time to rate this conversation has passed."))
    conversation.rating = score
    conversation.rated_at = timezone.now()
    data = {"score": score, "comment": comment, "assignee_id": conversation.assignee_id, "team_id": conversation.team_id}
    _record_event(conversation, kind=ConversationEvent.Kind.RATED, actor=None, data=data, at=conversation.rated_at)
    return conversation


@transaction.atomic
def conversation_mark_read(*, conversation: Conversation, side: str, up_to_seq: int, actor: User | None) -> Conversation:
    """Record that ``side`` ("agent" or "buyer") has read up to ``up_to_seq``.

    Read receipts only move forward and stop at the last message: what lies past it is
    events, the read events themselves among them, so clamping to ``last_seq`` would let a
    receipt for a seq far ahead move (and record) again each time. A receipt that moves
    nothing records nothing.
    """
    if side not in ("agent", "buyer"):
        raise ValidationError(_("side must be agent or buyer."))
    conversation = _lock(conversation)
    field = f"{side}_last_read_seq"
    up_to_seq = int(up_to_seq)
    if up_to_seq > getattr(conversation, field):  # else nothing moves: spare the query
        last_message_seq = conversation.messages.order_by("-seq").values_list("seq", flat=True).first() or 0
        up_to_seq = min(up_to_seq, last_message_seq)
    if up_to_seq <= getattr(conversation, field):
        return conversation
    setattr(conversation, field, up_to_seq)
    setattr(conversation, f"{side}_unread_count", 0)
    _record_event(
        conversation,
        kind=ConversationEvent.Kind.READ,
        actor=actor,
        data={"side": side, "up_to_seq": up_to_seq},
    )
    return conversation


def _publish_delivery(message: Message) -> None:
    """Tell the shop's agents a reply's delivery state changed: a ``message.delivery`` event
    carrying the message's own seq, so every tab applies it whatever it holds."""
    conversation = Conversation.objects.select_related("customer", "channel", "assignee").get(pk=message.conversation_id)
    agent_payload, _ = events.message_event(
        message, conversation=events.conversation_data(conversation), kind=events.MESSAGE_DELIVERY
    )
    realtime.publish_on_commit(shop_id=message.shop_id, agent_payload=agent_payload, buyer=_buyer_group(conversation), buyer_payload=None)


@transaction.atomic
def message_delivery_update(
    *, message_id: int, state: str, error_code: str = "", error_detail: str = "", retry_in: float = 0
) -> Message:
    """Record the outcome of one attempt to deliver an agent reply to its platform.

    ``error_code`` (``Message.DeliveryFailure``) and ``error_detail``: why the attempt failed.
    ``retry_in``: a pending one's next attempt is queued that many seconds from now; it is
    overdue (taken for lost) ``DELIVERY_OVERDUE_SECONDS`` after that.
    """
    message = Message.objects.select_for_update().get(pk=message_id)
    if message.delivery_state == Message.Delivery.SENT:
        return message
    now = timezone.now()
    message.delivery_state = state
    message.delivery_attempts = F("delivery_attempts") + 1
    message.delivery_error_code = error_code
    message.delivery_error_detail = error_detail[:200]
    message.delivered_at = now if state == Message.Delivery.SENT else None
    message.delivery_due_at = _delivery_due(now, retry_in) if state == Message.Delivery.PENDING else None
    message.save(
        update_fields=[
            "delivery_state",
            "delivery_attempts",
            "delivery_error_code",
            "delivery_error_detail",
            "delivered_at",
            "delivery_due_at",
        ]
    )
    message.refresh_from_db()
    _publish_delivery(message)
    return message


@transaction.atomic
def message_delivery_retry(*, message: Message, actor: User) -> tuple[Message, bool]:
    """Deliver a failed platform reply again, at an agent's request; returns ``(message, retried)``.

    Only a reply of the shop's side (agent or bot, not a private note) in a platform
    conversation of a shop the actor belongs to. A failed one becomes pending, due as a new
    reply is, with its old reason cleared; every agent sees that live, and the delivery task is
    queued after commit. One already pending (a second click, or an attempt under way) is
    returned unchanged with ``retried=False``; a delivered one is refused.
    """
    message = (
        Message.objects.select_for_update(of=("self",))
        .select_related("author", "conversation__channel")
        .get(pk=message.pk)
    )
    if not Membership.objects.filter(shop_id=message.shop_id, user=actor).exists():
        raise ValidationError(_("That message is not in your shops."))
    platform_reply = _delivers_to_platform(
        sender_kind=message.sender_kind, is_private=message.is_private, channel=message.conversation.channel
    )
    if not platform_reply or message.delivery_state == Message.Delivery.NONE:
        raise ValidationError(_("Only replies to a platform buyer are delivered, so only they can be retried."))
    if message.delivery_state == Message.Delivery.SENT:
        raise ValidationError(_("This message was already delivered to the platform."))
    if message.delivery_state == Message.Delivery.PENDING:
        return message, False
    message.delivery_state = Message.Delivery.PENDING
    message.delivery_error_code = ""
    message.delivery_error_detail = ""
    message.delivery_due_at = _delivery_due(timezone.now())
    message.save(update_fields=["delivery_state", "delivery_error_code", "delivery_error_detail", "delivery_due_at"])
    _publish_delivery(message)
    from .tasks import deliver_message

    transaction.on_commit(lambda: deliver_message.delay(message.pk))
    return message, True


@transaction.atomic
def delivery_requeue_overdue(*, limit: int = 500) -> list[int]:
    """Queue again the platform deliveries whose attempt is overdue; returns their message ids.

    A delivery's task can vanish: the broker was down when the reply committed, or lost a
    retry's countdown in a restart. Each overdue one is claimed under a row lock that
    concurrent sweeps skip, and given a new due time, so no two sweeps queue it at once. A
    task that was only late runs twice; delivery is at least once anyway (``inbox.tasks``).
    """
    from .tasks import deliver_message

    now = timezone.now()
    ids = list(
        Message.objects.select_for_update(skip_locked=True)
        .filter(delivery_state=Message.Delivery.PENDING, delivery_due_at__lte=now)
        .order_by("delivery_due_at")
        .values_list("pk", flat=True)[:limit]
    )
    if ids:
        Message.objects.filter(pk__in=ids).update(delivery_due_at=_delivery_due(now))

        def queue() -> None:
            for pk in ids:
                deliver_message.delay(pk)

        transaction.on_commit(queue)
    return ids
