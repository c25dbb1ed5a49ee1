"""The platform webhook: ``POST /api/v1/webhooks/<channel public_id>/``.

A platform adapter posts buyer messages and order updates here, signed with the channel's
``webhook_secret`` (see docs/ARCHITECTURE.md, "Channels in"). This module only checks who is
calling and the body's shape; :func:`inbox.inbound_services.inbound_event_take` does the rest.
Checks run cheapest and least revealing first: the caller's address, channel, size, signature
and timestamp, the channel's rate, JSON, shape. Every refusal is a 4xx ``{"error": {"code",
"message"}}`` and writes nothing.

Two budgets, so that a stranger who knows a channel's URL cannot use up its platform's: each
client address may be refused ``REFUSED_PER_ADDRESS_PER_MINUTE`` times (unknown channel, too
large, bad signature) before its requests are not even checked, and only requests that pass
the signature count against the channel's ``SIGNED_PER_CHANNEL_PER_MINUTE``.
"""
import hashlib
import hmac
import json
import logging
import re
import time
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.cache import cache
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import APIException, NotFound, Throttled
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dianxiaoer.rate_limit import client_address, window_hits
from dianxiaoer.text import storable

from .inbound_services import (
    MAX_EVENT_ID_LENGTH,
    InboundBuyer,
    InboundMessage,
    InboundOrder,
    InboundResult,
    inbound_event_take,
)
from .models import Channel
from .services import MAX_TEXT_LENGTH

logger = logging.getLogger(__name__)

TIMESTAMP_HEADER = "X-Dxe-Timestamp"
SIGNATURE_HEADER = "X-Dxe-Signature"
OUTBOUND_PREFIX = b"outbound."
MAX_BODY_BYTES = 256 * 1024
SIGNED_PER_CHANNEL_PER_MINUTE = 600
REFUSED_PER_ADDRESS_PER_MINUTE = 60
EVENT_TYPES = ("message", "order")
_TIMESTAMP_RE = re.compile(r"\d{1,12}")


def sign(secret: str, timestamp: str, body: bytes, *, outbound: bool = False) -> str:
    """Hex HMAC-SHA256 under ``secret`` of ``b"<timestamp>." + body`` for a platform's request
    to us, or of ``b"outbound.<timestamp>." + body`` for our deliveries to it.

    A delivery's body has the shape of an inbound message event; bound to its direction, its
    signature cannot pass as an inbound one (timestamps are digits), so a captured reply
    cannot be posted back as the buyer's message.
    """
    signed = (OUTBOUND_PREFIX if outbound else b"") + timestamp.encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


class WebhookUnauthorized(APIException):
    status_code = status.HTTP_401_UNAUTHORIZED
    default_code = "bad_signature"
    default_detail = gettext_lazy("Missing or invalid signature.")
    auth_header = 'DXE-HMAC-SHA256 realm="webhook"'


class StaleTimestamp(WebhookUnauthorized):
    default_code = "stale_timestamp"
    default_detail = gettext_lazy("stale timestamp")


class BodyTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"
    default_detail = gettext_lazy("The body is too large.")


class MalformedBody(APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "malformed"
    default_detail = gettext_lazy("The body is not a JSON object.")


class InvalidEvent(APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid_event"
    default_detail = gettext_lazy("The event is not valid.")


# --- Shape checks: each names the offending path, e.g. ``order.items[0].price`` -------------


def _invalid(path: str, problem: str) -> InvalidEvent:
    return InvalidEvent(f"{path}: {problem}")


def _object(container: dict, key: str, path: str) -> dict:
    value = container.get(key)
    if value is None:
        raise _invalid(path, _("required"))
    if not isinstance(value, dict):
        raise _invalid(path, _("must be an object"))
    return value


def _text(container: dict, key: str, path: str, *, max_length: int, required: bool = True) -> str:
    value = container.get(key)
    if value is None:
        if required:
            raise _invalid(path, _("required"))
        return ""
    if not isinstance(value, str):
        raise _invalid(path, _("must be a string"))
    if required and not value.strip():
        raise _invalid(path, _("must not be empty"))
    if len(value) > max_length:
        raise _invalid(path, _("at most %(max)d characters") % {"max": max_length})
    if not storable(value):
        raise _invalid(path, _("must not contain NUL or unpaired surrogate characters"))
    return value


def _amount(container: dict, key: str, path: str) -> Decimal:
    value = container.get(key)
    if value is None:
        raise _invalid(path, _("required"))
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise _invalid(path, _("must be a decimal string such as \"199.00\""))
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise _invalid(path, _("must be a decimal string such as \"199.00\""))
    if not amount.is_finite():
        raise _invalid(path, _("must be a decimal string such as \"199.00\""))
    return amount


def _moment(container: dict, key: str, path: str, *, nullable: bool):
    value = container.get(key)
    if value is None:
        if nullable:
            return None
        raise _invalid(path, _("required"))
    if not isinstance(value, str):
        raise _invalid(path, _("must be an ISO 8601 date-time string"))
    try:
        moment = parse_datetime(value)
    except ValueError:
        moment = None
    if moment is None:
        raise _invalid(path, _("must be an ISO 8601 date-time string"))
    return moment


def _items(order: dict) -> list[dict]:
    items = order.get("items")
    if items is None:
        raise _invalid("order.items", _("required"))
    if not isinstance(items, list):
        raise _invalid("order.items", _("must be a list"))
    cleaned = []
    for index, item in enumerate(items):
        path = f"order.items[{index}]"
        if not isinstance(item, dict):
            raise _invalid(path, _("must be an object"))
        quantity = item.get("quantity")
        if quantity is None:
            raise _invalid(f"{path}.quantity", _("required"))
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            raise _invalid(f"{path}.quantity", _("must be an integer"))
        cleaned.append(
            {
                "title": _text(item, "title", f"{path}.title", max_length=200),
                "sku": _text(item, "sku", f"{path}.sku", max_length=100, required=False),
                "quantity": quantity,
                "price": _amount(item, "price", f"{path}.price"),
            }
        )
    return cleaned


def _reject_constant(name: str):
    raise ValueError(f"{name} is not allowed")


def parse_event(body: bytes) -> InboundMessage | InboundOrder:
    """The event a webhook body describes; raises ``MalformedBody`` or ``InvalidEvent``."""
    try:
        # Decimals keep amounts exact; NaN and Infinity are not JSON.
        data = json.loads(body.decode("utf-8"), parse_float=Decimal, parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError):
        raise MalformedBody(_("The body is not valid UTF-8 JSON."))
    if not isinstance(data, dict):
        raise MalformedBody(_("The body must be a JSON object."))

    event_id = _text(data, "id", "id", max_length=MAX_EVENT_ID_LENGTH)
    event_type = data.get("type")
    if event_type is None:
        raise _invalid("type", _("required"))
    if event_type not in EVENT_TYPES:
        raise InvalidEvent(
            _("type: unknown event type %(type)s (expected one of: %(choices)s)")
            % {"type": json.dumps(event_type, ensure_ascii=False, default=str)[:50], "choices": ", ".join(EVENT_TYPES)}
        )
    buyer_data = _object(data, "buyer", "buyer")
    buyer = InboundBuyer(
        id=_text(buyer_data, "id", "buyer.id", max_length=100),
        nickname=_text(buyer_data, "nickname", "buyer.nickname", max_length=100, required=False),
    )

    if event_type == "message":
        message = _object(data, "message", "message")
        text = _text(message, "text", "message.text", max_length=MAX_TEXT_LENGTH)
        return InboundMessage(event_id=event_id, buyer=buyer, text=text)

    order = _object(data, "order", "order")
    order_status = _text(order, "status", "order.status", max_length=20)
    return InboundOrder(
        event_id=event_id,
        buyer=buyer,
        platform_order_id=_text(order, "id", "order.id", max_length=64),
        status=order_status,
        total_amount=_amount(order, "total_amount", "order.total_amount"),
        items=_items(order),
        placed_at=_moment(order, "placed_at", "order.placed_at", nullable=False),
        paid_at=_moment(order, "paid_at", "order.paid_at", nullable=True),
    )


# --- Caller checks ---------------------------------------------------------------------------


def _verify(channel: Channel, request: Request, body: bytes) -> None:
    """Refuse (401) a request not signed with the channel's secret or outside the time window."""
    timestamp = request.headers.get(TIMESTAMP_HEADER, "").strip()
    signature = request.headers.get(SIGNATURE_HEADER, "").strip().lower()
    if not timestamp or not signature:
        raise WebhookUnauthorized(
            _("Missing %(ts)s or %(sig)s header.") % {"ts": TIMESTAMP_HEADER, "sig": SIGNATURE_HEADER}
        )
    if not _TIMESTAMP_RE.fullmatch(timestamp):
        raise WebhookUnauthorized(_("%(ts)s must be unix seconds.") % {"ts": TIMESTAMP_HEADER})
    expected = sign(channel.webhook_secret, timestamp, body)
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        raise WebhookUnauthorized(_("Invalid signature."))
    tolerance = settings.WEBHOOK_TOLERANCE_SECONDS
    if abs(time.time() - int(timestamp)) > tolerance:
        raise StaleTimestamp(
            _("stale timestamp: more than %(seconds)d seconds away from the server clock") % {"seconds": tolerance}
        )


def _signed_request(request: Request, public_id) -> tuple[Channel, bytes]:
    """The channel and body of a request signed with the channel's secret, or a refusal."""
    channel = _active_platform_channel(public_id)
    try:
        declared_length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared_length = 0
    if declared_length > MAX_BODY_BYTES:
        raise BodyTooLarge()
    body = request.body
    if len(body) > MAX_BODY_BYTES:
        raise BodyTooLarge()
    try:
        _verify(channel, request, body)
    except WebhookUnauthorized as exc:
        logger.info("webhook refused for channel %s: %s", channel.pk, exc.detail)
        raise
    return channel, body


def _active_platform_channel(public_id) -> Channel:
    channel = (
        Channel.objects.select_related("shop")
        .filter(public_id=public_id, is_active=True, kind=Channel.Kind.PLATFORM_API)
        .first()
    )
    if channel is None:
        raise NotFound(_("No active platform channel with this id."))
    return channel


def _result_body(event: InboundMessage | InboundOrder, result: InboundResult) -> dict:
    body = {"duplicate": result.duplicate, "id": event.event_id, "type": result.kind}
    if result.message is not None:
        body.update(message_id=result.message.pk, conversation_id=result.message.conversation_id)
    if result.order is not None:
        body.update(order_id=result.order.pk, customer_id=result.order.customer_id)
    return body


class WebhookApi(APIView):
    """Inbound platform events. Not session or token authenticated: the HMAC is the credential."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="webhook_receive",
        auth=[],
        parameters=[
            OpenApiParameter(TIMESTAMP_HEADER, OpenApiTypes.STR, OpenApiParameter.HEADER, required=True),
            OpenApiParameter(SIGNATURE_HEADER, OpenApiTypes.STR, OpenApiParameter.HEADER, required=True),
        ],
        request=OpenApiTypes.OBJECT,
        responses={201: OpenApiTypes.OBJECT, 200: OpenApiTypes.OBJECT},
        description="Platform adapter events, HMAC-signed; see docs/ARCHITECTURE.md.",
    )
    def post(self, request: Request, public_id) -> Response:
        refused_key = f"webhook-refused:{client_address(request)}"
        if cache.get(refused_key, 0) >= REFUSED_PER_ADDRESS_PER_MINUTE:
            raise Throttled(wait=60)
        try:
            channel, body = _signed_request(request, public_id)
        except (NotFound, BodyTooLarge, WebhookUnauthorized):
            window_hits(refused_key, window_seconds=60)
            raise
        if window_hits(f"webhook-signed:{channel.pk}", window_seconds=60) > SIGNED_PER_CHANNEL_PER_MINUTE:
            raise Throttled(wait=60)
        event = parse_event(body)
        result = inbound_event_take(channel=channel, event=event)
        return Response(
            _result_body(event, result), status=status.HTTP_200_OK if result.duplicate else status.HTTP_201_CREATED
        )
