from django.contrib import admin

from .models import Channel, Conversation, Message


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "shop", "is_active", "public_id")
    list_select_related = ("shop",)


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    """Read-mostly: conversations change through the inbox services, not here."""

    list_display = ("id", "customer", "shop", "status", "assignee", "last_message_at")
    list_select_related = ("customer", "shop", "assignee")
    list_filter = ("status", "shop")
    readonly_fields = [f.name for f in Conversation._meta.fields]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("conversation", "seq", "sender_kind", "text", "created_at")
    list_select_related = ("conversation",)
    readonly_fields = [f.name for f in Message._meta.fields]
