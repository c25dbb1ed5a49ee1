"""Output shapes of conversations and messages, shared by the REST API and websocket events.

One representation serves both faces, so a message reads the same whether it was fetched or
pushed live.
"""
from django.urls import reverse
from rest_framework import serializers

from customers.models import Customer

from .models import Attachment, Conversation, Message


class UserBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    nickname = serializers.CharField()


class AttachmentSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        fields = ["id", "url", "content_type", "size", "width", "height"]

    def get_url(self, attachment: Attachment) -> str:
        return reverse("inbox:attachment", args=[attachment.pk])


class MessageSerializer(serializers.ModelSerializer):
    author = UserBriefSerializer(allow_null=True)
    attachments = AttachmentSerializer(many=True)

    class Meta:
        model = Message
        fields = [
            "id",
            "conversation_id",
            "seq",
            "sender_kind",
            "author",
            "text",
            "is_private",
            "client_msg_id",
            "attachments",
            "delivery_state",
            "delivery_error_code",
            "delivery_error_detail",
            "created_at",
        ]


class CustomerBriefSerializer(serializers.ModelSerializer):
    tags = serializers.ListField(source="tag_names", child=serializers.CharField(), read_only=True)

    class Meta:
        model = Customer
        fields = ["id", "platform_buyer_id", "nickname", "vip_level", "tags"]


class ConversationSerializer(serializers.ModelSerializer):
    customer = CustomerBriefSerializer()
    assignee = UserBriefSerializer(allow_null=True)
    channel = serializers.SerializerMethodField()

    class Meta:
        model = Conversation
        fields = [
            "id",
            "shop_id",
            "customer",
            "channel",
            "status",
            "assignee",
            "team_id",
            "last_seq",
            "last_message_at",
            "last_message_preview",
            "waiting_since",
            "agent_unread_count",
            "agent_last_read_seq",
            "buyer_last_read_seq",
            "created_at",
            "resolved_at",
            "snoozed_until",
            "previous_id",
            "rating",
            "rated_at",
        ]

    def get_channel(self, conversation: Conversation) -> dict:
        channel = conversation.channel
        return {"id": channel.pk, "kind": channel.kind, "name": channel.name}
