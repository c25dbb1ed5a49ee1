"""Celery tasks of the inbox: thin shells that call services.

``deliver_message`` sends an agent (or bot) reply on a platform channel to the channel's
``outbound_url``. Delivery is at least once: a worker lost mid-request or two racing runs may
POST the same message twice, so the body carries a stable ``id`` (``dxe:message:<pk>``) for
the adapter to deduplicate on. Outcomes are recorded through
:func:`inbox.services.message_delivery_update`, which never leaves "sent" once reached.
A pending delivery whose task was lost is queued again by ``requeue_overdue_deliveries``.
"""
import json
import random
import time
import urllib.error
import urllib.parse
import urllib.request
from http.client import HTTPException

from celery import shared_task
from django.core.exceptions import ImproperlyConfigured

from dianxiaoer import safe_http

from . import events
from .attachment_links import attachment_link
from .models import Message
from .services import delivery_requeue_overdue, message_delivery_update
from .webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

DELIVERY_TIMEOUT_SECONDS = 10
MAX_DELIVERY_RETRIES = 6  # 7 attempts over roughly 5 minutes
BACKOFF_BASE_SECONDS = 5
BACKOFF_MAX_SECONDS = 600
# Client errors that a later attempt may get past; any other 4xx fails at once.
RETRYABLE_CLIENT_ERRORS = frozenset({408, 409, 425, 429})
USER_AGENT = "dianxiaoer-delivery/1"


class DeliveryError(Exception):
    """The platform did not take the message. ``permanent`` ones are not retried."""

    def __init__(self, reason: str, *, permanent: bool = False):
        super().__init__(reason)
        self.permanent = permanent


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is a failure: following it would turn the POST into a GET and report success."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


# Public addresses only (dianxiaoer/safe_http.py): the URL is a shop admin's to choose.
_opener = safe_http.build_opener(_RefuseRedirects)


def retry_countdown(retries: int) -> float:
    """Seconds before retry number ``retries + 1``: exponential, capped, with a little jitter."""
    delay = min(BACKOFF_BASE_SECONDS * 2**retries, BACKOFF_MAX_SECONDS)
    return delay + random.uniform(0, delay / 10)


def delivery_body(message: Message) -> bytes:
    """The JSON POSTed to the platform: the inbound event's shape, with the message as buyers
    see it and its images as links the platform can open (``attachment_links``)."""
    payload = {
        "id": f"dxe:message:{message.pk}",
        "type": "message",
        "buyer": {"id": message.conversation.customer.platform_buyer_id},
        "message": events.buyer_message_data(events.message_data(message)),
    }
    for attachment in payload["message"]["attachments"]:
        attachment["url"] = attachment_link(attachment["id"])
    return json.dumps(payload, ensure_ascii=False, default=str).encode()


def post_signed(url: str, secret: str, body: bytes, *, delivery_id: str = "") -> None:
    """POST ``body`` signed as a delivery (``sign(..., outbound=True)``); raises ``DeliveryError``
    unless answered 2xx."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise DeliveryError("outbound URL must be http or https", permanent=True)
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(secret, timestamp, body, outbound=True),
    }
    if delivery_id:
        headers["X-Dxe-Delivery"] = delivery_id
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with _opener.open(request, timeout=DELIVERY_TIMEOUT_SECONDS) as response:
            if not 200 <= response.status < 300:
                raise DeliveryError(f"HTTP {response.status}")
    except safe_http.ForbiddenAddress as exc:
        raise DeliveryError(str(exc), permanent=True) from exc
    except urllib.error.HTTPError as exc:
        exc.close()
        permanent = 300 <= exc.code < 500 and exc.code not in RETRYABLE_CLIENT_ERRORS
        raise DeliveryError(f"HTTP {exc.code}", permanent=permanent) from exc
    except (urllib.error.URLError, HTTPException, TimeoutError, OSError) as exc:
        raise DeliveryError(str(getattr(exc, "reason", exc)) or type(exc).__name__) from exc
    except ValueError as exc:  # a URL urllib cannot even parse
        raise DeliveryError(str(exc), permanent=True) from exc


@shared_task(bind=True, acks_late=True, max_retries=MAX_DELIVERY_RETRIES)
def deliver_message(self, message_id: int) -> None:
    """POST an agent reply to its channel's outbound URL; retries with backoff, then "failed".

    Does nothing for a message already sent or one that is not for the platform (buyer
    messages, private notes). A "failed" message may be queued again to retry by hand.
    """
    message = (
        Message.objects.select_related("conversation__channel", "conversation__customer", "author")
        .prefetch_related("attachments")
        .filter(pk=message_id)
        .first()
    )
    if message is None or message.is_private:
        return
    if message.delivery_state not in (Message.Delivery.PENDING, Message.Delivery.FAILED):
        return
    channel = message.conversation.channel
    if not channel.is_active:
        message_delivery_update(message_id=message_id, state=Message.Delivery.FAILED, error="channel is inactive")
        return
    if not channel.outbound_url:
        message_delivery_update(message_id=message_id, state=Message.Delivery.FAILED, error="no outbound URL configured")
        return
    try:
        body = delivery_body(message)
    except ImproperlyConfigured as exc:
        message_delivery_update(message_id=message_id, state=Message.Delivery.FAILED, error=str(exc))
        return
    try:
        post_signed(channel.outbound_url, channel.webhook_secret, body, delivery_id=f"dxe:message:{message.pk}")
    except DeliveryError as exc:
        if exc.permanent or self.request.retries >= self.max_retries:
            message_delivery_update(message_id=message_id, state=Message.Delivery.FAILED, error=str(exc))
            return
        countdown = retry_countdown(self.request.retries)
        message_delivery_update(message_id=message_id, state=Message.Delivery.PENDING, error=str(exc), retry_in=countdown)
        raise self.retry(exc=exc, countdown=countdown)
    message_delivery_update(message_id=message_id, state=Message.Delivery.SENT)


@shared_task(acks_late=True)
def requeue_overdue_deliveries() -> int:
    """Beat, every minute: queue again the deliveries whose task was lost; returns how many."""
    return len(delivery_requeue_overdue())
