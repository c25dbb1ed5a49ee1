from django.urls import include, path

from . import api

urlpatterns = [
    path("", include("accounts.api_urls")),
    path("conversations/", api.ConversationListApi.as_view(), name="conversation-list"),
    path("conversations/<int:conversation_id>/", api.ConversationDetailApi.as_view(), name="conversation-detail"),
    path("conversations/<int:conversation_id>/others/", api.ConversationOthersApi.as_view(), name="conversation-others"),
    path(
        "conversations/<int:conversation_id>/messages/",
        api.ConversationMessagesApi.as_view(),
        name="conversation-messages",
    ),
    path("conversations/<int:conversation_id>/notes/", api.ConversationNoteApi.as_view(), name="conversation-notes"),
    path("conversations/<int:conversation_id>/events/", api.ConversationEventsApi.as_view(), name="conversation-events"),
    path("conversations/<int:conversation_id>/assign/", api.ConversationAssignApi.as_view(), name="conversation-assign"),
    path("conversations/<int:conversation_id>/resolve/", api.ConversationResolveApi.as_view(), name="conversation-resolve"),
    path("conversations/<int:conversation_id>/reopen/", api.ConversationReopenApi.as_view(), name="conversation-reopen"),
    path("conversations/<int:conversation_id>/snooze/", api.ConversationSnoozeApi.as_view(), name="conversation-snooze"),
    path("conversations/<int:conversation_id>/read/", api.ConversationReadApi.as_view(), name="conversation-read"),
    path("messages/<int:message_id>/retry/", api.MessageRetryApi.as_view(), name="message-retry"),
    path("channels/", api.ChannelListApi.as_view(), name="channel-list"),
    path("channels/<int:channel_id>/", api.ChannelDetailApi.as_view(), name="channel-detail"),
]
