"""Celery tasks of the inbox: thin shells that call services."""
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request

from celery import shared_task

from .models import Message
from .serializers import MessageSerializer
from .services import message_delivery_update

DELIVERY_TIMEOUT_SECONDS = 10


class DeliveryError(Exception):
    """The platform did not take the message; the task retries with backoff."""


def _post_signed(url: str, secret: str, body: bytes) -> None:
    timestamp = str(int(time.time()))
    signature = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "X-Dxe-Timestamp": timestamp, "X-Dxe-Signature": signature},
    )
    try:
        with urllib.request.urlopen(request, timeout=DELIVERY_TIMEOUT_SECONDS) as response:
            if not 200 <= response.status < 300:
                raise DeliveryError(f"HTTP {response.status}")
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"HTTP {exc.code}") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise DeliveryError(str(getattr(exc, "reason", exc))) from exc


@shared_task(bind=True, acks_late=True, max_retries=6)
def deliver_message(self, message_id: int) -> None:
    """POST an agent reply to its channel's outbound URL; idempotent once delivered."""
    message = (
        Message.objects.select_related("conversation__channel", "conversation__customer", "author")
        .prefetch_related("attachments")
        .filter(pk=message_id)
        .first()
    )
    if message is None or message.delivery_state == Message.Delivery.SENT:
        return
    channel = message.conversation.channel
    if not channel.outbound_url:
        message_delivery_update(message_id=message_id, state=Message.Delivery.FAILED, error="no outbound URL configured")
        return
    body = json.dumps(
        {
            "type": "message",
            "buyer_id": message.conversation.customer.platform_buyer_id,
            "message": MessageSerializer(message).data,
        },
        ensure_ascii=False,
        default=str,
    ).encode()
    try:
        _post_signed(channel.outbound_url, channel.webhook_secret, body)
    except DeliveryError as exc:
        final = self.request.retries >= self.max_retries
        message_delivery_update(
            message_id=message_id, state=Message.Delivery.FAILED if final else Message.Delivery.PENDING, error=str(exc)
        )
        if not final:
            raise self.retry(exc=exc, countdown=min(2 ** self.request.retries * 5, 600))
        return
    message_delivery_update(message_id=message_id, state=Message.Delivery.SENT)
