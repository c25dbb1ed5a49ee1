"""The buyer socket, ``/ws/chat/<shop_slug>/?t=<session token>``: one buyer, one conversation.

The buyer is the one a session token names (``inbox.buyer_identity``), on the shop's web
channel (its first active channel of kind ``web``). The socket follows the buyer's current
conversation there: the unresolved one, else the latest. Before the first message there is
none, and the first ``send`` creates it (and, for a new visitor, their customer profile).
After a conversation is resolved, the next ``send`` reopens it within
``services.CONTINUE_AFTER_RESOLVE``, or else starts a new one and the socket moves to it (the
ack's ``message.conversation_id`` names it). ``hello`` and ``resync.done`` carry the
conversation's ``previous_id``: the page offers the older conversations one by one.

Every socket of the buyer on the channel is in the buyer's group (``realtime.buyer_group``),
so each hears what happens in any of the buyer's conversations there. A socket moves on to a
newer conversation when a message arrives in it: one another tab started, or an image sent
over HTTP, or the first message after a resolve. Every buyer socket of the shop is also in
``realtime.shop_buyers_group``, which is told when the shop's agents are all gone or one is
back (``staffed`` frames; ``hello.staffed`` has it at connect).

The socket is not sent the ``message.created`` of a message it sent itself: its ack carried
the message already. The buyer's other sockets (tabs) get it.

A ``rate`` frame is the buyer's 满意度 of one of their resolved conversations
(``services.conversation_rate``), answered with ``rated``; its ``conversation.rated`` event
reaches every socket of the buyer, this one included, so other tabs drop their survey.

Closed after accept with 4404 for an unknown shop (or one without a web channel) and 4403
for a missing, forged, expired or other-shop token.
"""
from collections import deque
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async

from customers.models import Customer

from .. import events, presence, realtime, services, visitor_quota
from ..buyer_identity import BuyerSession, session_token_read
from ..models import Channel, Conversation
from .base import (
    CLOSE_FORBIDDEN,
    CLOSE_NOT_FOUND,
    FrameError,
    JsonSocket,
    bool_field,
    int_field,
    not_found,
    str_field,
)
from .history import history_after


def _web_channel(slug: str) -> Channel | None:
    return (
        Channel.objects.filter(shop__slug=slug, kind=Channel.Kind.WEB, is_active=True)
        .select_related("shop")
        .order_by("id")
        .first()
    )


def _current_conversation(customer: Customer, channel: Channel) -> Conversation | None:
    """The conversation the buyer's page shows: their unresolved one on the channel (what
    ``conversation_open`` reuses), else their latest, so a page loaded after a resolve still
    shows the chat that ended. The buyer's next message then continues or follows it."""
    theirs = Conversation.objects.filter(customer=customer, channel=channel)
    return theirs.exclude(status=Conversation.Status.RESOLVED).order_by("-id").first() or theirs.order_by("-id").first()


def _own_conversation(customer: Customer, channel: Channel, conversation_id: int) -> Conversation:
    """One of the buyer's own conversations on the channel; any other id is not found."""
    conversation = Conversation.objects.filter(pk=conversation_id, customer=customer, channel=channel).first()
    if conversation is None:
        raise not_found()
    return conversation


# A send's event follows its ack within moments; a client has at most a few sends in flight.
OWN_SENDS_REMEMBERED = 32


class BuyerConsumer(JsonSocket):
    frame_handlers = {
        "send": "on_send",
        "resync": "on_resync",
        "read": "on_read",
        "typing": "on_typing",
        "rate": "on_rate",
        "ping": "on_ping",
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.web_channel: Channel | None = None
        self.buyer: BuyerSession | None = None
        self.customer: Customer | None = None  # None until the buyer's first message makes it
        self.group: str | None = None
        self.conversation_id: int | None = None
        # The client_msg_ids of this socket's latest sends: their events are not echoed back.
        self.own_sends: deque[str] = deque(maxlen=OWN_SENDS_REMEMBERED)

    # --- Lifecycle -----------------------------------------------------------------------

    async def connect(self):
        slug = self.scope["url_route"]["kwargs"]["shop_slug"]
        token = parse_qs(self.scope.get("query_string", b"").decode("latin-1")).get("t", [None])[0]
        opened = await self.db_call(self._open)(slug, token)
        if isinstance(opened, int):
            await self.accept()
            await self.close(code=opened)
            return
        self.group = realtime.buyer_group(self.web_channel.pk, self.buyer.buyer_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        shop_id = self.web_channel.shop_id
        await self.channel_layer.group_add(realtime.shop_buyers_group(shop_id), self.channel_name)
        # Read after joining: an agent coming online meanwhile is then told, not missed.
        staffed = (await self.db_call(presence.shops_staffed)(shop_ids=[shop_id]))[shop_id]
        self.conversation_id = opened.pk if opened else None
        await self.accept()
        await self.send_frame(
            {
                "type": "hello",
                "conversation_id": self.conversation_id,
                "previous_id": opened.previous_id if opened else None,
                "last_seq": opened.last_seq if opened else 0,
                "staffed": staffed,
                "customer": {
                    "id": self.customer.pk if self.customer else None,
                    "nickname": self.customer.nickname if self.customer else self.buyer.nickname,
                },
            }
        )

    def _open(self, slug: str, token: str | None) -> Conversation | None | int:
        channel = _web_channel(slug)
        if channel is None:
            return CLOSE_NOT_FOUND
        buyer = session_token_read(token, shop_id=channel.shop_id)
        if buyer is None:
            return CLOSE_FORBIDDEN
        self.web_channel, self.buyer, self.customer = channel, buyer, buyer.customer()
        return _current_conversation(self.customer, channel) if self.customer else None

    async def disconnect(self, code):
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            await self.channel_layer.group_discard(realtime.shop_buyers_group(self.web_channel.shop_id), self.channel_name)

    async def conv_event(self, message: dict) -> None:
        # Defence in depth: the buyer group only ever gets buyer forms; never forward a note
        # or an agent-only shape should a publisher get that wrong.
        payload = message["payload"]
        if payload.get("type") == "typing" and payload.get("conversation_id") != self.conversation_id:
            return  # an agent typing in another of the buyer's conversations (an older one)
        if "type" not in payload:
            shown = payload.get("message")
            if shown is not None and payload.get("conversation_id", 0) > (self.conversation_id or 0):
                self.conversation_id = payload["conversation_id"]  # the buyer moved on elsewhere
                if self.customer is None:  # another tab's first message made the buyer's profile
                    self.customer = await self.db_call(self.buyer.customer)()
            if shown is not None and shown.get("sender_kind") == "buyer" and shown.get("client_msg_id") in self.own_sends:
                return  # our own send: the ack carried it
            if "conversation" in payload or (shown is not None and "is_private" in shown):
                if shown is not None and shown.get("is_private"):
                    return
                payload = {key: value for key, value in payload.items() if key != "conversation"}
                if shown is not None:
                    payload["message"] = events.buyer_message_data(shown)
        await super().conv_event({"payload": payload})

    # --- Frames --------------------------------------------------------------------------

    def _send(self, text: str, client_msg_id: str) -> dict:
        try:
            message, created = services.buyer_message_send(
                channel=self.web_channel,
                customer=self.customer or self.buyer,
                text=text,
                client_msg_id=client_msg_id,
                conversation_id=self.conversation_id,
            )
        except visitor_quota.NewVisitorLimit as exc:
            raise FrameError("throttled", str(exc))
        if self.customer is None:  # the first message made the profile
            self.customer = message.conversation.customer
        full = events.message_data(message)
        return {"type": "ack", "client_msg_id": client_msg_id, "message": events.buyer_message_data(full), "created": created}

    async def on_send(self, frame: dict) -> None:
        client_msg_id = str_field(frame, "client_msg_id")
        text = str_field(frame, "text")
        ack = await self.db_call(self._send)(text, client_msg_id)
        self.own_sends.append(client_msg_id)
        self.conversation_id = ack["message"]["conversation_id"]
        await self.send_frame(ack)

    def _history(self, conversation_id: int | None, after_seq: int):
        if self.customer is None:
            self.customer = self.buyer.customer()  # another tab may have sent the first message
        if self.customer is None:
            if conversation_id is not None:
                raise not_found()
            return None, None, ([], 0, False)
        if conversation_id is not None:
            conversation = _own_conversation(self.customer, self.web_channel, conversation_id)
            current = None
        else:
            conversation = current = _current_conversation(self.customer, self.web_channel)
        if conversation is None:
            return None, None, ([], 0, False)
        return conversation, current, history_after(conversation=conversation, after_seq=after_seq, for_buyer=True)

    async def on_resync(self, frame: dict) -> None:
        after_seq = int_field(frame, "last_seq")
        conversation_id = None
        if frame.get("conversation_id") is not None:
            conversation_id = int_field(frame, "conversation_id", minimum=1)
        conversation, current, (payloads, last_seq, more) = await self.db_call(self._history)(conversation_id, after_seq)
        if current is not None:  # another tab may have started a conversation since we opened
            self.conversation_id = current.pk
        for payload in payloads:
            await self.send_frame({"type": "event", "event": payload})
        await self.send_frame(
            {
                "type": "resync.done",
                "conversation_id": conversation.pk if conversation else None,
                "previous_id": conversation.previous_id if conversation else None,
                "last_seq": last_seq,
                "more": more,
            }
        )

    def _mark_read(self, seq: int) -> None:
        if self.conversation_id is None:
            raise not_found()
        conversation = _own_conversation(self.customer, self.web_channel, self.conversation_id)
        services.conversation_mark_read(conversation=conversation, side="buyer", up_to_seq=seq, actor=None)

    async def on_read(self, frame: dict) -> None:
        seq = int_field(frame, "seq")
        await self.db_call(self._mark_read)(seq)

    def _rate(self, conversation_id: int, score: int, comment: str) -> dict:
        if self.customer is None:
            self.customer = self.buyer.customer()  # another tab may have sent the first message
        if self.customer is None:
            raise not_found()
        conversation = _own_conversation(self.customer, self.web_channel, conversation_id)
        rated = services.conversation_rate(conversation=conversation, customer=self.customer, score=score, comment=comment)
        return {"type": "rated", "conversation_id": rated.pk, "seq": rated.last_seq, "score": rated.rating}

    async def on_rate(self, frame: dict) -> None:
        conversation_id = int_field(frame, "conversation_id", minimum=1)
        score = int_field(frame, "score", minimum=1)
        comment = str_field(frame, "comment") if frame.get("comment") is not None else ""
        await self.send_frame(await self.db_call(self._rate)(conversation_id, score, comment))

    async def on_typing(self, frame: dict) -> None:
        is_typing = bool_field(frame, "is_typing")
        if self.conversation_id is None:
            return  # no conversation yet: no agent to tell
        payload = events.typing_frame(
            conversation_id=self.conversation_id, side="buyer", is_typing=is_typing, name=self.customer.nickname
        )
        await sync_to_async(realtime.publish_ephemeral, thread_sensitive=False)(
            shop_id=self.web_channel.shop_id, agent_payload=payload
        )

