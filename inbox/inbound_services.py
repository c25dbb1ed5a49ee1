"""Taking platform events (the webhook) into the inbox, each exactly once.

The webhook view checks the signature and the body's shape, builds an :class:`InboundMessage`
or :class:`InboundOrder`, and calls :func:`inbound_event_take`. That service claims the event
id by inserting an ``InboundEvent`` row (unique per channel) in the same transaction as the
write it causes, so a redelivered or replayed event, even one racing the first delivery,
finds the row taken and changes nothing.
"""
import datetime
import hashlib
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from customers.services import customer_get_or_create
from orders.models import Order
from orders.services import order_upsert

from .models import Channel, InboundEvent, Message
from .services import MAX_CLIENT_MSG_ID_LENGTH, buyer_message_receive

MAX_EVENT_ID_LENGTH = 100  # InboundEvent.external_id
CLIENT_MSG_ID_PREFIX = "platform:"


@dataclass(frozen=True)
class InboundBuyer:
    id: str
    nickname: str = ""


@dataclass(frozen=True)
class InboundMessage:
    """A buyer's chat message on the platform."""

    event_id: str
    buyer: InboundBuyer
    text: str

    kind = "message"


@dataclass(frozen=True)
class InboundOrder:
    """A buyer's order as the platform reports it now (created, paid, shipped...)."""

    event_id: str
    buyer: InboundBuyer
    platform_order_id: str
    status: str
    total_amount: Decimal | str | int
    items: list[dict] = field(default_factory=list)
    placed_at: datetime.datetime | None = None
    paid_at: datetime.datetime | None = None

    kind = "order"


@dataclass(frozen=True)
class InboundResult:
    """What taking an event did. ``duplicate`` events changed nothing."""

    duplicate: bool
    kind: str
    message: Message | None = None
    order: Order | None = None


def platform_client_msg_id(event_id: str) -> str:
    """The message's ``client_msg_id`` for a platform event id: ``platform:<id>``.

    Ids too long for the column are replaced by a digest, which is just as unique.
    """
    candidate = f"{CLIENT_MSG_ID_PREFIX}{event_id}"
    if len(candidate) <= MAX_CLIENT_MSG_ID_LENGTH:
        return candidate
    digest = hashlib.sha256(event_id.encode()).hexdigest()
    return f"{CLIENT_MSG_ID_PREFIX}{digest[: MAX_CLIENT_MSG_ID_LENGTH - len(CLIENT_MSG_ID_PREFIX)]}"


def _claim(channel: Channel, event_id: str, kind: str) -> InboundEvent | None:
    """Insert the event's row; None when the id was already taken (now or by a racing request)."""
    try:
        with transaction.atomic():
            return InboundEvent.objects.create(channel=channel, external_id=event_id, kind=kind)
    except IntegrityError:
        return None


@transaction.atomic
def inbound_event_take(*, channel: Channel, event: InboundMessage | InboundOrder) -> InboundResult:
    """Store one platform event: a buyer message or an order update, once per event id.

    Raises ``ValidationError`` (and stores nothing, not even the event id) when the event's
    content is refused, e.g. an empty message or a negative amount.
    """
    if channel.kind != Channel.Kind.PLATFORM_API or not channel.is_active:
        raise ValidationError(_("This channel does not take platform events."))
    event_id = event.event_id
    if not isinstance(event_id, str) or not event_id or len(event_id) > MAX_EVENT_ID_LENGTH:
        raise ValidationError(_("An event id of 1 to %(max)d characters is required.") % {"max": MAX_EVENT_ID_LENGTH})

    record = _claim(channel, event_id, event.kind)
    if record is None:
        taken = InboundEvent.objects.select_related("message").get(channel=channel, external_id=event_id)
        return InboundResult(duplicate=True, kind=taken.kind, message=taken.message)

    if isinstance(event, InboundMessage):
        message, created = buyer_message_receive(
            channel=channel,
            platform_buyer_id=event.buyer.id,
            nickname=event.buyer.nickname,
            text=event.text,
            client_msg_id=platform_client_msg_id(event_id),
        )
        record.message = message
        record.save(update_fields=["message"])
        return InboundResult(duplicate=not created, kind=event.kind, message=message)

    customer = customer_get_or_create(shop=channel.shop, platform_buyer_id=event.buyer.id, nickname=event.buyer.nickname)
    order, _created = order_upsert(
        shop=channel.shop,
        customer=customer,
        platform_order_id=event.platform_order_id,
        status=event.status,
        total_amount=event.total_amount,
        items=event.items,
        placed_at=event.placed_at,
        paid_at=event.paid_at,
    )
    return InboundResult(duplicate=False, kind=event.kind, order=order)
