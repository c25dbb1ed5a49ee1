"""Server-rendered pages and access-checked file downloads of the inbox.

Pages only render and identify: every write goes through ``inbox.services`` (the buyer's
image upload here, everything else over the websocket and the REST API).
"""
import json

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, JsonResponse
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import get_object_or_404, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt, ensure_csrf_cookie
from django.views.decorators.http import require_GET, require_POST

from accounts.models import Membership, Shop
from accounts.selectors import shop_ids_for
from customers.services import customer_get_or_create
from dianxiaoer.rate_limit import client_address, window_hits

from . import buyer_identity, events, services, visitor_cookie, visitor_quota
from .attachment_links import attachment_link_opens
from .buyer_identity import BuyerSession
from .models import Attachment, Channel, Conversation, Message

# The buyer's session token travels in this header (or the ``token`` form field) on uploads,
# and as ``?t=`` on image URLs (an <img> cannot send headers).
SESSION_TOKEN_HEADER = "HTTP_X_DXE_SESSION"
# Uploads per buyer per minute; a buyer sending faster than this is not a person typing.
BUYER_UPLOADS_PER_MINUTE = 20


def _web_channel(shop: Shop) -> Channel:
    """The shop's active web-chat channel; the buyer page does not exist without one."""
    channel = Channel.objects.filter(shop=shop, kind=Channel.Kind.WEB, is_active=True).order_by("id").first()
    if channel is None:
        raise Http404(_("This shop has no web chat."))
    return channel


def _error(status: int, code: str, message: str) -> JsonResponse:
    """The API's error shape, so one client helper reads both."""
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


def _rating_labels() -> dict[int, str]:
    """The words of each 满意度 level by its score (1 to 5, 5 best)."""
    return {score: str(label) for score, label in Conversation.Rating.choices}


# --- Agent workspace -------------------------------------------------------------------


def _workspace_strings() -> dict[str, str]:
    """Strings the workspace script shows, translated on the server (no JS catalog needed)."""
    return {
        "connected": _("Connected"),
        "connecting": _("Connecting…"),
        "offline": _("Offline, reconnecting…"),
        "noConversations": _("No conversations here."),
        "loading": _("Loading…"),
        "loadFailed": _("Could not load. Retrying soon."),
        "waiting": _("Waiting"),
        "typing": _("typing…"),
        "buyerTyping": _("%(name)s is typing…"),
        "note": _("Private note"),
        "bot": _("Bot"),
        "pending": _("Sending…"),
        "failed": _("Not sent"),
        "retry": _("Retry"),
        "remove": _("Remove"),
        "read": _("Read"),
        "unread": _("Unread"),
        "deliveryPending": _("Delivering to platform…"),
        "deliverySent": _("Delivered to platform"),
        "deliveryFailedLine": _("Not delivered to the platform: %(reason)s"),
        "deliveryReasonDetail": _("%(reason)s (%(detail)s)"),
        "deliveryRetrying": _("Retrying…"),
        "image": _("[Image]"),
        "unassigned": _("Unassigned"),
        "assignTo": _("Assign to…"),
        "assignedTo": _("%(actor)s assigned this conversation to %(name)s"),
        "unassignedBy": _("%(actor)s unassigned this conversation"),
        "took": _("%(actor)s took this conversation"),
        "tookByReply": _("%(actor)s replied and took this conversation"),
        "peersTyping": _("%(names)s is replying to this buyer…"),
        "peersViewing": _("%(names)s also has this conversation open"),
        # Joins names in a list: "A, B" in English, "A、B" in Chinese.
        "listSeparator": pgettext("list of names", ", "),
        "statusChanged": _("%(actor)s changed the status to %(status)s"),
        "created": _("Conversation started"),
        "assignedToLine": _("Assigned to %(name)s"),
        "unassignedLine": _("Unassigned"),
        "statusChangedLine": _("Status changed to %(status)s"),
        "buyerReturned": _("The buyer wrote again soon after the resolve: the conversation goes on"),
        # A ``rated`` event's line; the levels' words are ``ratingLabels``.
        "rated": _("Buyer's rating: %(rating)s"),
        "ratedWithComment": _("Buyer's rating: %(rating)s (“%(comment)s”)"),
        "me": _("me"),
        "visitor": _("Visitor %(id)s"),
        "status_open": _("Open"),
        "status_snoozed": _("Snoozed"),
        "status_resolved": _("Resolved"),
        # Snoozing: the action and its choices, a snoozed row, and the thread's status lines
        # (``data.until`` of the event; ``data.reason`` when it opened again by itself).
        "snooze": _("Snooze"),
        "snoozeOneHour": _("For 1 hour"),
        "snoozeTomorrow": _("Until tomorrow 09:00"),
        "snoozeNextWeek": _("Until next Monday 09:00"),
        "snoozeCustom": _("Pick a time…"),
        "snoozedRow": _("Snoozed · until %(time)s"),
        "snoozedBy": _("%(actor)s snoozed this conversation until %(time)s"),
        "snoozedLine": _("Snoozed until %(time)s"),
        "wokeByBuyer": _("The buyer wrote again, so the conversation is open again"),
        "snoozeEnded": _("The snooze time has come, so the conversation is open again"),
        "channel_web": _("Web chat"),
        "channel_platform_api": _("Platform"),
        "vip": _("VIP %(level)s"),
        "noOrders": _("No orders."),
        "ordersUnavailable": _("Orders are not available."),
        "moreOrders": _("More orders"),
        "noHistory": _("No other conversations."),
        "historyUnavailable": _("Past conversations are not available."),
        "moreHistory": _("More conversations"),
        "previousConversation": _("Previous session · %(date)s"),
        "saved": _("Saved"),
        "saveFailed": _("Could not save: %(message)s"),
        "offlineError": _("Cannot reach the server; check the connection and retry."),
        "sendFailed": _("Could not send: %(message)s"),
        "uploadFailed": _("Could not upload: %(message)s"),
        "error": _("Something went wrong."),
        "justNow": _("just now"),
        "noNotes": _("Click to add notes"),
        "tagPlaceholder": _("Add tag"),
        "replyPlaceholder": _("Reply to the buyer…"),
        "notePlaceholder": _("Private note, only agents see it…"),
        "noteImagesUnsupported": _("Notes cannot carry images."),
        "newMessages": _("New messages ↓"),
        "lastContact": _("Last contact"),
        "openImage": _("Open image"),
        "resolved": _("Resolved"),
        "sendShort": _("Send"),
        "addNote": _("Add note"),
        "loadOlder": _("Load earlier messages"),
        "alertNewConversation": _("New conversation: %(name)s"),
        "notificationsBlocked": _("Desktop notifications are blocked for this site; allow them in the browser's site settings."),
        "notificationsUnsupported": _("This browser cannot show desktop notifications."),
    }


@login_required
@ensure_csrf_cookie
@never_cache
def workspace(request):
    """The agent workbench; the data comes from the REST API and ``/ws/agent/``."""
    memberships = list(Membership.objects.filter(user=request.user).select_related("shop").order_by("shop__name"))
    if not memberships:
        return render(request, "inbox/no_membership.html", status=403)
    config = {
        "user": {"id": request.user.pk, "nickname": request.user.nickname},
        "shops": [{"id": m.shop_id, "name": m.shop.name, "slug": m.shop.slug, "role": m.role} for m in memberships],
        "api": "/api/v1/",
        "ws": "/ws/agent/",
        "strings": _workspace_strings(),
        # What agents read for each code of a failed platform delivery (``delivery_error_code``).
        "deliveryReasons": {code: str(label) for code, label in Message.DeliveryFailure.choices},
        "ratingLabels": _rating_labels(),
        # Alerts are for conversations and messages newer than the page (server clock).
        "serverTime": timezone.now(),
    }
    return render(
        request,
        "inbox/workspace.html",
        {"config": config, "memberships": memberships, "max_text_length": services.MAX_TEXT_LENGTH},
    )


# --- Buyer chat page -------------------------------------------------------------------


def _chat_strings() -> dict[str, str]:
    return {
        "connected": _("Connected"),
        "connecting": _("Connecting…"),
        # Whether any agent of the shop is online now (``staffed`` frames).
        "staffed": _("Customer service is online"),
        "unstaffed": _("No one is online right now; leave a message and we will reply soon"),
        "leaveMessage": _("Leave a message…"),
        "offline": _("Offline, reconnecting…"),
        "agentTyping": _("%(name)s is typing…"),
        "agent": _("Customer service"),
        "pending": _("Sending…"),
        "failed": _("Not sent, tap to retry"),
        # A send refused for good (not an image, too large): it can only be removed.
        "notSent": _("Not sent"),
        "remove": _("Remove"),
        "read": _("Read"),
        "unread": _("Unread"),
        "uploadFailed": _("Could not send the image: %(message)s"),
        "tooLarge": _("Image is %(size)s MB; the limit is %(max)s MB."),
        "sendFailed": _("Could not send: %(message)s"),
        "error": _("Something went wrong."),
        "resolved": _("This conversation was closed. Write again any time."),
        "image": _("[Image]"),
        # The 满意度 survey after the ended line; the levels' words are ``ratingLabels``.
        "ratingPrompt": _("How satisfied are you with our service?"),
        "ratingComment": _("Anything else to tell us? (optional)"),
        "ratingSubmit": _("Submit"),
        "ratingChoose": _("Choose one of the five answers first."),
        "ratingThanks": _("Thanks for your rating: %(rating)s"),
    }


def _chat_buyer(request, shop: Shop, channel: Channel) -> tuple[BuyerSession | None, str | None]:
    """The buyer this request is, and a new visitor id to set as cookies (or None).

    A buyer the shop vouches for gets their profile (and nickname) now; a visitor's profile
    waits for their first message, so page views alone (crawlers) leave no rows. A shop token
    that is forged, expired, another shop's or names a buyer no profile can hold gives no
    buyer (None): the buyer is refused, never silently made an anonymous visitor.
    """
    token = request.GET.get("token")
    if token:
        vouched = buyer_identity.shop_token_read(channel=channel, token=token)
        if vouched is None:
            return None, None
        buyer_id, nickname = vouched
        try:
            customer = customer_get_or_create(shop=shop, platform_buyer_id=buyer_id, nickname=nickname)
        except ValidationError:
            return None, None
        return BuyerSession.of(customer), None
    visitor_id = visitor_cookie.visitor_id_of(request)
    new_visitor = None if visitor_id else buyer_identity.new_visitor_id()
    buyer = BuyerSession(
        shop_id=shop.pk,
        buyer_id=buyer_identity.visitor_buyer_id(shop_id=shop.pk, visitor_id=visitor_id or new_visitor),
        address=client_address(request),
    )
    return buyer, new_visitor


@require_GET
@never_cache
@xframe_options_exempt  # the page is meant to be embedded by the shop's site (widget.js)
def chat_page(request, shop_slug: str):
    """The buyer's chat: identifies the buyer and hands the page a session token."""
    shop = get_object_or_404(Shop, slug=shop_slug)
    channel = _web_channel(shop)
    buyer, new_visitor = _chat_buyer(request, shop, channel)
    if buyer is None:
        context = {"shop": shop, "embedded": request.GET.get("embed") == "1"}
        return render(request, "chat/refused.html", context, status=403)
    config = {
        "shop": {"name": shop.name, "slug": shop.slug},
        "token": buyer_identity.session_token_issue(buyer),
        "ws": f"/ws/chat/{shop.slug}/",
        "upload": reverse("inbox:chat_upload", args=[shop.slug]),
        "maxImageBytes": settings.ATTACHMENT_MAX_BYTES,
        "strings": _chat_strings(),
        "ratingLabels": _rating_labels(),
        "maxRatingComment": services.MAX_RATING_COMMENT_LENGTH,
        "ratingWindowSeconds": int(services.RATING_WINDOW.total_seconds()),
    }
    response = render(
        request,
        "chat/buyer.html",
        {
            "shop": shop,
            "config": config,
            "embedded": request.GET.get("embed") == "1",
            "max_text_length": services.MAX_TEXT_LENGTH,
        },
    )
    if new_visitor:
        visitor_cookie.remember_visitor(response, new_visitor, secure=request.is_secure())
    return response


# Authentication here is the signed buyer session token (header or field), not a cookie: a
# cross-site form cannot produce a valid token for a victim, so CSRF protection would add
# nothing, and the page may run inside a third-party iframe where CSRF cookies are not sent.
@csrf_exempt
@require_POST
def chat_upload(request, shop_slug: str):
    """A buyer's image message: ``image`` (one or more), ``client_msg_id``, optional ``text``."""
    shop = get_object_or_404(Shop, slug=shop_slug)
    channel = _web_channel(shop)
    # Refuse an oversize body before parsing it (Django would spool it to disk first).
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > settings.ATTACHMENT_MAX_BYTES * services.MAX_IMAGES_PER_MESSAGE + 64 * 1024:
        return _error(413, "too_large", _("The upload is too large."))
    token = request.META.get(SESSION_TOKEN_HEADER) or request.POST.get("token")
    buyer = buyer_identity.session_token_read(token, shop_id=shop.pk)
    if buyer is None:
        return _error(403, "forbidden", _("Your chat session has expired; reload the page."))
    images = request.FILES.getlist("image")
    if not images:
        return _error(400, "invalid", _("Choose an image to send."))
    if window_hits(f"buyer-upload:{shop.pk}:{buyer.buyer_id}", window_seconds=60) > BUYER_UPLOADS_PER_MINUTE:
        return _error(429, "throttled", _("Too many images; wait a minute."))
    client_msg_id = request.POST.get("client_msg_id") or None
    try:
        message, created = services.buyer_message_send(
            channel=channel,
            customer=buyer,
            text=request.POST.get("text", ""),
            client_msg_id=client_msg_id,
            images=images,
        )
    except ValidationError as exc:
        return _error(400, "invalid", " ".join(exc.messages))
    except visitor_quota.NewVisitorLimit as exc:
        return _error(429, "throttled", str(exc))
    return JsonResponse(events.buyer_message_data(events.message_data(message)), status=201 if created else 200)


@require_GET
def chat_widget(request, shop_slug: str):
    """The script a shop puts on its own site: a floating button that opens the chat."""
    shop = get_object_or_404(Shop, slug=shop_slug)
    _web_channel(shop)
    # Inserted into the script as JSON literals: safe in JS whatever the shop's name holds.
    values = {
        "chat_url": request.build_absolute_uri(reverse("inbox:chat", args=[shop.slug])),
        "label": _("Chat with us"),
        "close_label": _("Close chat"),
        "title": _("%(shop)s customer service") % {"shop": shop.name},
        "icon_url": request.build_absolute_uri(static("img/chat.svg")),
    }
    context = {key: json.dumps(value) for key, value in values.items()}
    response = render(request, "chat/widget.js", context, content_type="application/javascript; charset=utf-8")
    response["Cache-Control"] = "public, max-age=300"
    return response


# --- Files -------------------------------------------------------------------------------


def _file_response(found: Attachment) -> FileResponse:
    response = FileResponse(found.file.open("rb"), content_type=found.content_type)
    response["Cache-Control"] = "private, max-age=86400"
    response["Content-Disposition"] = "inline"
    return response


@require_GET
def attachment(request, attachment_id: int):
    """An uploaded image: for members of its shop, or for whoever holds a signed link to it
    (``attachment_links``: what the buyer's page and a platform are given; never a private
    note's image)."""
    link = request.GET.get("s")
    if link:
        found = attachment_link_opens(link, attachment_id) and (
            Attachment.objects.filter(pk=attachment_id, message__is_private=False).first()
        )
        if not found:
            raise Http404(_("Not found."))
        return _file_response(found)
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    found = Attachment.objects.filter(pk=attachment_id, shop_id__in=shop_ids_for(request.user)).first()
    if found is None:
        raise Http404(_("Not found."))
    return _file_response(found)
