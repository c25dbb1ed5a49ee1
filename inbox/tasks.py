"""Celery tasks of the inbox: thin shells that call services.

``deliver_message`` sends an agent (or bot) reply on a platform channel to the channel's
``outbound_url``. Delivery is at least once: a worker lost mid-request or two racing runs may
POST the same message twice, so the body carries a stable ``id`` (``dxe:message:<pk>``) for
the adapter to deduplicate on. Outcomes are recorded through
:func:`inbox.services.message_delivery_update`, which never leaves "sent" once reached.
A pending delivery whose task was lost is queued again by ``requeue_overdue_deliveries``.
``wake_snoozed`` opens again the snoozed conversations whose time has come;
``expire_presence`` counts out agents whose server process died with their sockets.
"""
import json
import random
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from http.client import HTTPException

from celery import shared_task
from django.core.exceptions import ImproperlyConfigured

from dianxiaoer import safe_http

from . import events, presence
from .attachment_links import attachment_link
from .models import Message
from .services import conversation_wake_due, delivery_requeue_overdue, message_delivery_update
from .webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

DELIVERY_TIMEOUT_SECONDS = 10
MAX_DELIVERY_RETRIES = 6  # 7 attempts over roughly 5 minutes
BACKOFF_BASE_SECONDS = 5
BACKOFF_MAX_SECONDS = 600
# Client errors that a later attempt may get past; any other 4xx fails at once.
RETRYABLE_CLIENT_ERRORS = frozenset({408, 409, 425, 429})
USER_AGENT = "dianxiaoer-delivery/1"


Failure = Message.DeliveryFailure


class DeliveryError(Exception):
    """The platform did not take the message, for a reason ``code`` (``Message.DeliveryFailure``)
    with ``detail`` ("HTTP 404"; never the outbound URL, which only admins may see).
    ``permanent`` ones are not retried."""

    def __init__(self, code: str, detail: str = "", *, permanent: bool = False):
        super().__init__(code, detail)
        self.code = code
        self.detail = detail
        self.permanent = permanent

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}" if self.detail else self.code


def http_failure(status: int) -> DeliveryError:
    """A non-2xx answer. Redirects and client errors are final, but for the retryable few."""
    detail = f"HTTP {status}"
    if 300 <= status < 400:
        return DeliveryError(Failure.HTTP_REDIRECT, detail, permanent=True)
    if 400 <= status < 500:
        return DeliveryError(Failure.HTTP_4XX, detail, permanent=status not in RETRYABLE_CLIENT_ERRORS)
    if 500 <= status < 600:
        return DeliveryError(Failure.HTTP_5XX, detail)
    return DeliveryError(Failure.INVALID_RESPONSE, detail)


def network_failure(error: BaseException | str) -> DeliveryError:
    """A connection that failed before an answer (``error``: an ``OSError`` or urllib's reason)."""
    if isinstance(error, str):  # urllib's own complaint about the URL ("no host given")
        return DeliveryError(Failure.INVALID_URL, permanent=True)
    if isinstance(error, socket.gaierror):
        return DeliveryError(Failure.DNS)
    if isinstance(error, TimeoutError):
        return DeliveryError(Failure.TIMEOUT)
    if isinstance(error, ConnectionRefusedError):
        return DeliveryError(Failure.REFUSED)
    if isinstance(error, ssl.SSLError):  # its text may name the host: the reason alone
        return DeliveryError(Failure.TLS, error.reason or type(error).__name__)
    return DeliveryError(Failure.CONNECTION, str(error) or type(error).__name__)


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
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in ("http", "https"):
        raise DeliveryError(Failure.INVALID_URL, scheme, permanent=True)
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
                raise http_failure(response.status)
    except safe_http.ForbiddenAddress as exc:
        raise DeliveryError(Failure.BLOCKED_ADDRESS, exc.address, permanent=True) from exc
    except urllib.error.HTTPError as exc:
        exc.close()
        raise http_failure(exc.code) from exc
    except urllib.error.URLError as exc:
        raise network_failure(exc.reason) from exc
    except HTTPException as exc:  # an answer that is not HTTP, or none at all
        raise DeliveryError(Failure.INVALID_RESPONSE, type(exc).__name__) from exc
    except OSError as exc:  # while reading the answer: a timeout, a reset
        raise network_failure(exc) from exc
    except ValueError as exc:  # a URL urllib cannot even parse
        raise DeliveryError(Failure.INVALID_URL, permanent=True) from exc


@shared_task(bind=True, acks_late=True, max_retries=MAX_DELIVERY_RETRIES)
def deliver_message(self, message_id: int) -> None:
    """POST an agent reply to its channel's outbound URL; retries with backoff, then "failed".

    Does nothing for a message already sent or one that is not for the platform (buyer
    messages, private notes). Agents retry a "failed" one through
    :func:`inbox.services.message_delivery_retry`. Each failure is recorded with its reason's
    code (``Message.DeliveryFailure``).
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
        _fail(message_id, DeliveryError(Failure.CHANNEL_INACTIVE))
        return
    if not channel.outbound_url:
        _fail(message_id, DeliveryError(Failure.NO_OUTBOUND_URL))
        return
    try:
        body = delivery_body(message)
    except ImproperlyConfigured:
        _fail(message_id, DeliveryError(Failure.NO_SITE_URL))
        return
    try:
        post_signed(channel.outbound_url, channel.webhook_secret, body, delivery_id=f"dxe:message:{message.pk}")
    except DeliveryError as exc:
        if exc.permanent or self.request.retries >= self.max_retries:
            _fail(message_id, exc)
            return
        countdown = retry_countdown(self.request.retries)
        message_delivery_update(
            message_id=message_id,
            state=Message.Delivery.PENDING,
            error_code=exc.code,
            error_detail=exc.detail,
            retry_in=countdown,
        )
        raise self.retry(exc=exc, countdown=countdown)
    message_delivery_update(message_id=message_id, state=Message.Delivery.SENT)


def _fail(message_id: int, error: DeliveryError) -> None:
    message_delivery_update(
        message_id=message_id, state=Message.Delivery.FAILED, error_code=error.code, error_detail=error.detail
    )


@shared_task(acks_late=True)
def requeue_overdue_deliveries() -> int:
    """Beat, every minute: queue again the deliveries whose task was lost; returns how many."""
    return len(delivery_requeue_overdue())


@shared_task(acks_late=True)
def wake_snoozed() -> int:
    """Beat, every 15 s: open again the snoozed conversations now due; returns how many.

    Idempotent: a woken one is open, so a redelivered or overlapping run finds nothing more.
    """
    return len(conversation_wake_due())


@shared_task(acks_late=True)
def expire_presence() -> int:
    """Beat, every 30 s: count out the agents whose sockets all went silent and tell their
    shops (buyers stop reading 客服在线); returns how many. Idempotent, as the sweep is."""
    return len(presence.presence_expire_stale())
