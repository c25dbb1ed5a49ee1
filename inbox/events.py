"""The shapes of conversation events, built in one place for live pushes and for resync.

A service publishes an event right after it writes it; a socket that missed it asks for a
``resync`` and gets the same event rebuilt from the stored rows. Both go through these
functions, so a client applies a live event and a resynced one with the same code.

Each event has an agent form and, when the buyer may see it, a buyer form:

- agent form: ``{kind, conversation_id, seq, message?|data?, at?, actor?, conversation}``;
  ``at`` (ISO 8601) is when a recorded conversation event happened (a message has its
  ``created_at``), ``actor`` (``{id, nickname}`` or null) who made it; ``conversation``
  is the conversation as a list row shows it (for live events: its state right after the
  change; for resync: its current state).
- buyer form: ``{kind, conversation_id, seq, message?|data?, at?}`` with no ``conversation`` and a
  message stripped of agent-only fields (:data:`BUYER_MESSAGE_FIELDS`) or an event's data
  stripped likewise (:data:`BUYER_EVENT_DATA`). Private notes and the ``created``/``assigned``
  events have no buyer form.
"""
from django.urls import reverse

from .attachment_links import attachment_path
from .list_rows import conversation_row, iso_datetime
from .models import Conversation, ConversationEvent, Message

# Recorded events the buyer is told about, with what of their data the buyer's page needs;
# the others (created, assigned) are agent-only, and so is a status change's ``until`` (when
# an agent means to come back to a snoozed conversation) and ``reason``, and of a rating all
# but its score (whom it counts for is the shop's business).
BUYER_EVENT_DATA = {
    ConversationEvent.Kind.STATUS: ("from", "to"),
    ConversationEvent.Kind.READ: ("side", "up_to_seq"),
    ConversationEvent.Kind.RATED: ("score",),
}

# What a buyer's socket shows of a message: no delivery state, no private flag, and of the
# author only the 客服昵称.
BUYER_MESSAGE_FIELDS = ("id", "conversation_id", "seq", "sender_kind", "text", "client_msg_id", "attachments", "created_at")

MESSAGE_CREATED = "message.created"
MESSAGE_DELIVERY = "message.delivery"


def conversation_data(conversation: Conversation) -> dict:
    """The conversation as agents see it in a list row (load customer, channel, assignee first).

    Built by ``list_rows`` as the list API builds its rows; equal to ``ConversationSerializer``
    (tests/inbox/test_events.py), at a tenth of DRF's cost on every chat message.
    """
    return conversation_row(conversation)


def _attachment_data(attachment) -> dict:
    return {
        "id": attachment.pk,
        "url": reverse("inbox:attachment", args=[attachment.pk]),
        "content_type": attachment.content_type,
        "size": attachment.size,
        "width": attachment.width,
        "height": attachment.height,
    }


def message_data(message: Message) -> dict:
    """The full message, as the REST API (``MessageSerializer``, held equal by tests) and agents see it."""
    author = message.author
    return {
        "id": message.pk,
        "conversation_id": message.conversation_id,
        "seq": message.seq,
        "sender_kind": message.sender_kind,
        "author": {"id": author.pk, "nickname": author.nickname} if author is not None else None,
        "text": message.text,
        "is_private": message.is_private,
        "client_msg_id": message.client_msg_id,
        "attachments": [_attachment_data(attachment) for attachment in message.attachments.all()],
        "delivery_state": message.delivery_state,
        "delivery_error_code": message.delivery_error_code,
        "delivery_error_detail": message.delivery_error_detail,
        "created_at": iso_datetime(message.created_at),
    }


def buyer_message_data(full: dict) -> dict:
    """The buyer's view of a serialized message (``full`` is :func:`message_data` output):
    its images open by signed links (``attachment_links``), the buyer having no session."""
    data = {field: full[field] for field in BUYER_MESSAGE_FIELDS}
    if data["attachments"]:
        data["attachments"] = [{**image, "url": attachment_path(image["id"])} for image in data["attachments"]]
    author = full.get("author")
    data["author"] = {"nickname": author["nickname"]} if author else None
    return data


def message_event(
    message: Message, *, conversation: dict, kind: str = MESSAGE_CREATED, data: dict | None = None
) -> tuple[dict, dict | None]:
    """The agent and buyer forms of a message event (buyer form None for private notes).

    ``conversation`` is :func:`conversation_data` output; ``data`` a precomputed
    :func:`message_data` of ``message``, if the caller has it.
    """
    full = data if data is not None else message_data(message)
    agent = {
        "kind": kind,
        "conversation_id": message.conversation_id,
        "seq": message.seq,
        "message": full,
        "conversation": conversation,
    }
    buyer = None
    if not message.is_private and kind == MESSAGE_CREATED:
        buyer = {
            "kind": kind,
            "conversation_id": message.conversation_id,
            "seq": message.seq,
            "message": buyer_message_data(full),
        }
    return agent, buyer


def conversation_event(event: ConversationEvent, *, conversation: dict) -> tuple[dict, dict | None]:
    """The agent and buyer forms of a recorded conversation event (buyer form None if agent-only)."""
    kind = f"conversation.{event.kind}"
    actor = event.actor
    agent = {
        "kind": kind,
        "conversation_id": event.conversation_id,
        "seq": event.seq,
        "data": event.data,
        "at": iso_datetime(event.created_at),
        "actor": {"id": actor.pk, "nickname": actor.nickname} if actor is not None else None,
        "conversation": conversation,
    }
    buyer = None
    if event.kind in BUYER_EVENT_DATA:
        data = {key: event.data[key] for key in BUYER_EVENT_DATA[event.kind] if key in event.data}
        buyer = {"kind": kind, "conversation_id": event.conversation_id, "seq": event.seq, "data": data, "at": agent["at"]}
    return agent, buyer


def history_events(
    *, conversation: Conversation, messages: list[Message], events: list[ConversationEvent], for_buyer: bool
) -> list[dict]:
    """Stored messages and events merged in seq order, each in the form the reader gets live.

    Callers pass what the reader may see (no private notes for buyers); events without a
    buyer form are dropped for buyers.
    """
    snapshot = None if for_buyer else conversation_data(conversation)
    built: list[tuple[int, dict]] = []
    for message in messages:
        agent, buyer = message_event(message, conversation=snapshot)
        payload = buyer if for_buyer else agent
        if payload is not None:
            built.append((message.seq, payload))
    for event in events:
        agent, buyer = conversation_event(event, conversation=snapshot)
        payload = buyer if for_buyer else agent
        if payload is not None:
            built.append((event.seq, payload))
    built.sort(key=lambda item: item[0])
    return [payload for _, payload in built]


def typing_frame(*, conversation_id: int, side: str, is_typing: bool, name: str, user_id: int | None = None) -> dict:
    """A ready ``typing`` frame (never stored, so it has no seq and is never resynced).

    Agents are told which agent types (``user_id``): someone else answering the buyer.
    """
    frame = {"type": "typing", "conversation_id": conversation_id, "side": side, "is_typing": is_typing, "name": name}
    if user_id is not None:
        frame["user_id"] = user_id
    return frame


def viewing_frame(*, conversation_id: int, user_id: int, name: str, viewing: bool, ask: bool) -> dict:
    """A ready ``viewing`` frame: an agent opened (or left) a conversation's thread.

    ``ask``: the agent has just opened it, and those viewing it answer with their own frame,
    so each learns of the other at once (not at the next refresh).
    """
    return {
        "type": "viewing",
        "conversation_id": conversation_id,
        "user_id": user_id,
        "name": name,
        "viewing": viewing,
        "ask": ask,
    }
