"""Channels, conversations, messages and the event log that metrics are computed from.

Every change to a conversation takes the next number of its ``last_seq`` counter: a message
stores it as ``Message.seq``, any other change as ``ConversationEvent.seq``. Together they
form one gapless, ordered history per conversation that live clients resync from.
"""
import secrets
import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import Shop, Team
from customers.models import Customer


def _new_webhook_secret() -> str:
    return secrets.token_urlsafe(32)


class Channel(models.Model):
    class Kind(models.TextChoices):
        WEB = "web", _("Web chat")
        PLATFORM_API = "platform_api", _("Platform API")

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="channels")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=50)
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    webhook_secret = models.CharField(max_length=64, default=_new_webhook_secret)
    outbound_url = models.URLField(_("outbound URL"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("channel")
        verbose_name_plural = _("channels")

    def __str__(self) -> str:
        return self.name


class Conversation(models.Model):
    class Rating(models.IntegerChoices):
        """The buyer's 满意度 of a session, 5 best; 满意率 counts 4 and 5 (see ARCHITECTURE)."""

        VERY_SATISFIED = 5, _("Very satisfied")
        SATISFIED = 4, _("Satisfied")
        NEUTRAL = 3, _("Neutral")
        DISSATISFIED = 2, _("Dissatisfied")
        VERY_DISSATISFIED = 1, _("Very dissatisfied")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        # Set aside by an agent until ``snoozed_until``; open again then, or at the buyer's next message.
        SNOOZED = "snoozed", _("Snoozed")
        RESOLVED = "resolved", _("Resolved")

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="conversations")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="conversations")
    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="conversations")
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.OPEN)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_conversations"
    )
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations")
    last_seq = models.PositiveBigIntegerField(default=0)
    last_message_at = models.DateTimeField(_("last message"))
    last_message_preview = models.CharField(max_length=120, blank=True)
    # The first buyer message not yet answered by a human: the wait shown to agents.
    waiting_since = models.DateTimeField(null=True, blank=True)
    agent_unread_count = models.PositiveIntegerField(default=0)
    buyer_unread_count = models.PositiveIntegerField(default=0)
    agent_last_read_seq = models.PositiveBigIntegerField(default=0)
    buyer_last_read_seq = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # When a snoozed conversation opens again (``inbox.tasks.wake_snoozed``); null unless snoozed.
    snoozed_until = models.DateTimeField(_("snoozed until"), null=True, blank=True)
    # The buyer's conversation on this channel that this one follows: the latest one when the
    # buyer wrote again after it was resolved. The thread links back to it.
    previous = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("previous conversation")
    )
    # The buyer's latest rating (``conversation_rate``) and when it was given: what lists show.
    # Each rating is also a ``rated`` event, which reports count; a reopen keeps these.
    rating = models.PositiveSmallIntegerField(_("rating"), choices=Rating.choices, null=True, blank=True)
    rated_at = models.DateTimeField(_("rated at"), null=True, blank=True)

    class Meta:
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        indexes = [
            # An agent of several shops filters shop_id IN (...): read this one in order.
            models.Index(fields=["-last_message_at", "-id"], name="conv_recent"),
            # The 未分配 tab: the few unassigned conversations, in list order.
            models.Index(
                fields=["status", "-last_message_at", "-id"],
                condition=models.Q(assignee__isnull=True),
                name="conv_unassigned_recent",
            ),
            models.Index(fields=["shop", "-last_message_at", "-id"], name="conv_shop_recent"),
            models.Index(fields=["shop", "status", "-last_message_at", "-id"], name="conv_shop_status_recent"),
            models.Index(fields=["assignee", "-last_message_at", "-id"], name="conv_assignee_recent"),
            models.Index(fields=["customer", "channel", "status"], name="conv_customer_channel"),
            # A buyer's conversations with the shop, newest first (the side panel's 历史会话).
            models.Index(fields=["customer", "-created_at", "-id"], name="conv_customer_recent"),
            # The snoozed ones due to open again: what the wake-up sweep reads every few seconds.
            models.Index(fields=["snoozed_until"], name="conv_snoozed_due", condition=models.Q(status="snoozed")),
        ]
        constraints = [
            # A snoozed conversation has its time to wake, and no other one has such a time.
            models.CheckConstraint(
                condition=models.Q(status="snoozed", snoozed_until__isnull=False)
                | models.Q(~models.Q(status="snoozed"), snoozed_until__isnull=True),
                name="conv_snoozed_until_iff_snoozed",
            ),
            # A rating is one of the five levels and has its time; an unrated one has neither.
            models.CheckConstraint(
                condition=models.Q(rating__isnull=True, rated_at__isnull=True)
                | models.Q(rating__isnull=False, rating__gte=1, rating__lte=5, rated_at__isnull=False),
                name="conv_rating_level_with_time",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.customer}"


class Message(models.Model):
    class SenderKind(models.TextChoices):
        BUYER = "buyer", _("Buyer")
        AGENT = "agent", _("Agent")
        BOT = "bot", _("Bot")
        SYSTEM = "system", _("System")

    class Delivery(models.TextChoices):
        NONE = "", _("Not applicable")
        PENDING = "pending", _("Pending")
        SENT = "sent", _("Delivered to platform")
        FAILED = "failed", _("Delivery failed")

    class DeliveryFailure(models.TextChoices):
        """Why a platform delivery failed: stable codes that clients map to words; the label
        is what agents read ("发送到平台失败：<label>"), ``delivery_error_detail`` the specifics."""

        CHANNEL_INACTIVE = "channel_inactive", _("the channel is turned off")
        NO_OUTBOUND_URL = "no_outbound_url", _("the channel has no outbound URL; ask an admin to set it")
        INVALID_URL = "invalid_url", _("the channel's outbound URL is not a valid http(s) address")
        NO_SITE_URL = "no_site_url", _("images cannot be linked because SITE_URL is not set")
        BLOCKED_ADDRESS = "blocked_address", _("the outbound URL points to a non-public address, so it was blocked")
        DNS = "dns", _("the platform's server name could not be resolved")
        TIMEOUT = "timeout", _("the platform did not answer in time")
        REFUSED = "refused", _("the platform's server refused the connection")
        TLS = "tls", _("the secure (HTTPS) connection to the platform failed")
        CONNECTION = "connection", _("the network connection to the platform failed")
        INVALID_RESPONSE = "invalid_response", _("the platform's answer was not valid HTTP")
        HTTP_REDIRECT = "http_redirect", _("the platform answered with a redirect, which is not followed")
        HTTP_4XX = "http_4xx", _("the platform refused the message")
        HTTP_5XX = "http_5xx", _("the platform's server had an error")
        OTHER = "other", _("another error")

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    seq = models.PositiveBigIntegerField()
    sender_kind = models.CharField(max_length=8, choices=SenderKind.choices)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    text = models.TextField(blank=True)
    is_private = models.BooleanField(_("private note"), default=False)
    client_msg_id = models.CharField(max_length=64, null=True, blank=True)
    delivery_state = models.CharField(max_length=8, choices=Delivery.choices, default=Delivery.NONE, blank=True)
    delivery_attempts = models.PositiveSmallIntegerField(default=0)
    # The last failed attempt's reason (kept while a retryable one waits; cleared once sent).
    delivery_error_code = models.CharField(max_length=32, choices=DeliveryFailure.choices, blank=True)
    delivery_error_detail = models.CharField(max_length=200, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    # A pending delivery's next attempt is overdue after this: its task was lost (the broker
    # was down when the reply committed, or forgot a retry's countdown), and the sweep
    # (``inbox.tasks.requeue_overdue_deliveries``) queues it again. Null unless pending.
    delivery_due_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["seq"]
        indexes = [
            models.Index(
                fields=["delivery_due_at"], name="message_delivery_due", condition=models.Q(delivery_state="pending")
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "seq"], name="message_unique_seq"),
            models.UniqueConstraint(fields=["conversation", "client_msg_id"], name="message_unique_client_id"),
        ]

    def __str__(self) -> str:
        return f"{self.conversation_id}#{self.seq}"


def _attachment_path(instance: "Attachment", filename: str) -> str:
    return f"attachments/{instance.shop_id}/{uuid.uuid4().hex}/{filename}"


class Attachment(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    file = models.FileField(upload_to=_attachment_path)
    content_type = models.CharField(max_length=50)
    size = models.PositiveIntegerField()
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")


class ConversationEvent(models.Model):
    """A recorded change to a conversation other than a message: the history metrics use."""

    class Kind(models.TextChoices):
        CREATED = "created", _("Created")
        ASSIGNED = "assigned", _("Assigned")
        STATUS = "status", _("Status changed")
        READ = "read", _("Read")
        # The buyer's 满意度 of the session the last resolve ended (``conversation_rate``).
        RATED = "rated", _("Rated")

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="events")
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    seq = models.PositiveBigIntegerField()
    kind = models.CharField(max_length=16, choices=Kind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["seq"]
        constraints = [models.UniqueConstraint(fields=["conversation", "seq"], name="event_unique_seq")]


class InboundEvent(models.Model):
    """A platform webhook event already taken: makes redelivery and replay harmless."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="inbound_events")
    external_id = models.CharField(max_length=100)
    kind = models.CharField(max_length=16)
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["channel", "external_id"], name="inbound_unique_external_id")
        ]


class AgentPresence(models.Model):
    """How many sockets an agent holds open, and when one of them last showed life.

    Written only by ``inbox.presence``. An agent is online while ``connections > 0`` and the
    heartbeat is fresh (a crashed server process leaves its count behind; the stale heartbeat
    makes it harmless and the next connect resets it).
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="presence")
    connections = models.PositiveIntegerField(default=0)
    last_seen_at = models.DateTimeField()

    class Meta:
        verbose_name = _("agent presence")
        verbose_name_plural = _("agent presences")

    def __str__(self) -> str:
        return f"{self.user_id}: {self.connections}"
