"""REST face of the inbox: one class per operation, each one call to a selector or service.

Every view that names a conversation or channel fetches it through the selectors first, so a
foreign or unknown id is the same 404 before the request body is even looked at. Input
serializers check the request's shape only; the services decide what is allowed.
"""
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Role, User
from accounts.selectors import membership_require
from dianxiaoer.api_errors import Conflict, ErrorSerializer
from dianxiaoer.api_inputs import BodySerializer, StrictCharField, validated
from dianxiaoer.pagination import KeysetPagination

from . import channel_services, services
from .channel_selectors import channel_get, channel_list
from .list_rows import conversation_rows, conversation_values
from .models import Channel, Conversation, ConversationEvent
from .selectors import (
    VIEWS,
    conversation_get,
    conversation_list,
    conversation_others,
    event_list,
    message_get,
    message_latest,
    message_list,
)
from .serializers import ConversationSerializer, MessageSerializer, UserBriefSerializer

MAX_MESSAGES_PER_REQUEST = 200
DEFAULT_MESSAGES_PER_REQUEST = 50
MAX_EVENTS_PER_REQUEST = 200

ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid input"),
    403: OpenApiResponse(ErrorSerializer, description="Your role does not allow this"),
    404: OpenApiResponse(ErrorSerializer, description="Unknown, or not in your shops"),
    409: OpenApiResponse(ErrorSerializer, description="Changed meanwhile by someone else; nothing was changed"),
}


def _conversation(request: Request, conversation_id: int) -> Conversation:
    """A conversation for endpoints that act on it without showing its list row."""
    return conversation_get(user=request.user, conversation_id=conversation_id)


# --- Output shapes only the API uses -------------------------------------------------------
class EventSerializer(serializers.ModelSerializer):
    actor = UserBriefSerializer(allow_null=True)
    kind = serializers.CharField(help_text="created, assigned, status, read or rated")

    class Meta:
        model = ConversationEvent
        fields = ["id", "conversation_id", "seq", "kind", "actor", "data", "created_at"]


class ChannelSerializer(serializers.ModelSerializer):
    webhook_url = serializers.SerializerMethodField()

    class Meta:
        model = Channel
        fields = ["id", "shop_id", "kind", "name", "public_id", "webhook_secret", "webhook_url", "outbound_url", "is_active"]

    def get_webhook_url(self, channel: Channel) -> str:
        """Where the platform adapter posts inbound events (see ARCHITECTURE: Channels in)."""
        path = f"/api/v1/webhooks/{channel.public_id}/"
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


# --- Conversations ---------------------------------------------------------------------------
class ConversationListApi(APIView):
    """``GET conversations/``: the inbox list, most recent first, keyset-paginated."""

    pagination = KeysetPagination(field="last_message_at")

    class ConversationFilterSerializer(serializers.Serializer):
        view = serializers.ChoiceField(choices=VIEWS, default="all", help_text="mine, unassigned or all")
        status = serializers.ChoiceField(choices=Conversation.Status.choices, required=False, allow_blank=True)
        channel = serializers.IntegerField(min_value=1, required=False, help_text="Channel id")
        tag = serializers.CharField(max_length=30, required=False, allow_blank=True, help_text="Customer tag name")
        q = serializers.CharField(max_length=100, required=False, allow_blank=True, help_text="Search: buyer nickname or id, or the text of any message (notes too)")
        shop = serializers.IntegerField(min_value=1, required=False, help_text="Shop id")

    @extend_schema(
        operation_id="conversations_list",
        parameters=[ConversationFilterSerializer, *KeysetPagination.schema_parameters()],
        responses={200: KeysetPagination.response_schema("ConversationPage", ConversationSerializer(many=True)), 400: ERRORS[400]},
    )
    def get(self, request: Request) -> Response:
        filters = validated(self.ConversationFilterSerializer, request.query_params)
        conversations = conversation_list(
            user=request.user,
            view=filters["view"],
            status=filters.get("status") or None,
            channel_id=filters.get("channel"),
            tag=filters.get("tag") or None,
            q=filters.get("q") or None,
            shop_id=filters.get("shop"),
        )
        page = self.pagination.paginate(conversation_values(conversations), request)
        return self.pagination.response(page, conversation_rows(page.results))


class ConversationDetailApi(APIView):
    """``GET conversations/<id>/``: one conversation as its list row shows it."""

    @extend_schema(operation_id="conversations_retrieve", responses={200: ConversationSerializer, 404: ERRORS[404]})
    def get(self, request: Request, conversation_id: int) -> Response:
        conversation = conversation_get(user=request.user, conversation_id=conversation_id)
        return Response(ConversationSerializer(conversation).data)


class ConversationOthersApi(APIView):
    """``GET conversations/<id>/others/``: the buyer's other conversations with the shop
    (历史会话), newest first, keyset-paginated, as list rows (so a client opens one as is)."""

    pagination = KeysetPagination(field="created_at")

    @extend_schema(
        operation_id="conversations_others_list",
        parameters=KeysetPagination.schema_parameters(),
        responses={
            200: KeysetPagination.response_schema("OtherConversationPage", ConversationSerializer(many=True)),
            400: ERRORS[400],
            404: ERRORS[404],
        },
    )
    def get(self, request: Request, conversation_id: int) -> Response:
        others = conversation_others(user=request.user, conversation_id=conversation_id)
        page = self.pagination.paginate(conversation_values(others), request)
        return self.pagination.response(page, conversation_rows(page.results))


class MessagePage(serializers.Serializer):
    results = MessageSerializer(many=True)
    has_more = serializers.BooleanField(help_text="More messages exist beyond this batch (older, or after it).")
    last_seq = serializers.IntegerField(help_text="The conversation's latest seq (messages and events).")


class ConversationMessagesApi(APIView):
    """``GET`` a conversation's messages; ``POST`` sends an agent reply (text and/or images)."""

    parser_classes = [JSONParser, MultiPartParser]

    class MessageFilterSerializer(serializers.Serializer):
        after_seq = serializers.IntegerField(
            min_value=0, required=False, help_text="Messages with a seq above this, oldest first."
        )
        limit = serializers.IntegerField(
            min_value=1,
            max_value=MAX_MESSAGES_PER_REQUEST,
            default=DEFAULT_MESSAGES_PER_REQUEST,
            help_text="How many messages (without after_seq: the latest ones).",
        )

    class MessageSendSerializer(BodySerializer):
        text = StrictCharField(required=False, allow_blank=True, trim_whitespace=False, default="")
        client_msg_id = StrictCharField(required=False, allow_null=True, default=None, help_text="Retry key")
        images = serializers.ListField(child=serializers.FileField(), required=False, default=list)

    @extend_schema(
        operation_id="conversations_messages_list",
        parameters=[MessageFilterSerializer],
        responses={200: MessagePage, 400: ERRORS[400], 404: ERRORS[404]},
    )
    def get(self, request: Request, conversation_id: int) -> Response:
        conversation = _conversation(request, conversation_id)
        filters = validated(self.MessageFilterSerializer, request.query_params)
        limit = filters["limit"]
        if "after_seq" in filters:
            messages = message_list(
                conversation=conversation, after_seq=filters["after_seq"], include_private=True, limit=limit + 1
            )
            has_more = len(messages) > limit
            messages = messages[:limit]
        else:
            messages = message_latest(conversation=conversation, include_private=True, limit=limit + 1)
            has_more = len(messages) > limit
            messages = messages[-limit:]
        return Response(
            {
                "results": MessageSerializer(messages, many=True).data,
                "has_more": has_more,
                "last_seq": conversation.last_seq,
            }
        )

    @extend_schema(
        operation_id="conversations_messages_create",
        request={"application/json": MessageSendSerializer, "multipart/form-data": MessageSendSerializer},
        responses={
            201: MessageSerializer,
            200: OpenApiResponse(MessageSerializer, description="A retried client_msg_id: the stored message."),
            400: ERRORS[400],
            404: ERRORS[404],
        },
    )
    def post(self, request: Request, conversation_id: int) -> Response:
        conversation = _conversation(request, conversation_id)
        data = validated(self.MessageSendSerializer, request.data)
        message, created = services.message_send(
            conversation=conversation,
            sender_kind="agent",
            author=request.user,
            text=data["text"],
            client_msg_id=data["client_msg_id"],
            images=data["images"],
        )
        return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class ConversationNoteApi(APIView):
    """``POST conversations/<id>/notes/``: a private note, seen by the shop's agents only."""

    class NoteInputSerializer(BodySerializer):
        text = StrictCharField(trim_whitespace=False, allow_blank=True)
        client_msg_id = StrictCharField(required=False, allow_null=True, default=None)

    @extend_schema(
        operation_id="conversations_notes_create",
        request=NoteInputSerializer,
        responses={201: MessageSerializer, 200: MessageSerializer, 400: ERRORS[400], 404: ERRORS[404]},
    )
    def post(self, request: Request, conversation_id: int) -> Response:
        conversation = _conversation(request, conversation_id)
        data = validated(self.NoteInputSerializer, request.data)
        message, created = services.note_add(
            conversation=conversation, author=request.user, text=data["text"], client_msg_id=data["client_msg_id"]
        )
        return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class ConversationEventsApi(APIView):
    """``GET conversations/<id>/events/``: recorded changes (created, assigned, status, read, rated)."""

    class EventFilterSerializer(serializers.Serializer):
        after_seq = serializers.IntegerField(min_value=0, default=0)
        limit = serializers.IntegerField(min_value=1, max_value=MAX_EVENTS_PER_REQUEST, default=MAX_EVENTS_PER_REQUEST)

    @extend_schema(
        operation_id="conversations_events_list",
        parameters=[EventFilterSerializer],
        responses={
            200: inline_serializer(
                "EventPage", fields={"results": EventSerializer(many=True), "has_more": serializers.BooleanField()}
            ),
            400: ERRORS[400],
            404: ERRORS[404],
        },
    )
    def get(self, request: Request, conversation_id: int) -> Response:
        conversation = _conversation(request, conversation_id)
        filters = validated(self.EventFilterSerializer, request.query_params)
        limit = filters["limit"]
        events = event_list(conversation=conversation, after_seq=filters["after_seq"], limit=limit + 1)
        return Response({"results": EventSerializer(events[:limit], many=True).data, "has_more": len(events) > limit})


class ConversationAssignApi(APIView):
    """``POST conversations/<id>/assign/``: give it to an agent of its shop, or to nobody (null)."""

    class AssignInputSerializer(BodySerializer):
        assignee_id = serializers.IntegerField(min_value=1, allow_null=True)
        expected_assignee_id = serializers.IntegerField(
            min_value=1,
            allow_null=True,
            required=False,
            help_text="Assign only if this is still the assignee (null: still unassigned), else 409",
        )

    @extend_schema(
        operation_id="conversations_assign",
        request=AssignInputSerializer,
        responses={200: ConversationSerializer, 400: ERRORS[400], 404: ERRORS[404], 409: ERRORS[409]},
    )
    def post(self, request: Request, conversation_id: int) -> Response:
        conversation = _conversation(request, conversation_id)
        data = validated(self.AssignInputSerializer, request.data)
        assignee = None
        if data["assignee_id"] is not None:
            # Unknown and foreign users get the service's wording, so ids of other shops' staff do not leak.
            assignee = User.objects.filter(pk=data["assignee_id"], is_active=True).first()
            if assignee is None:
                raise ValidationError({"assignee_id": [_("That user is not a member of this shop.")]})
        try:
            conversation = services.conversation_assign(
                conversation=conversation,
                assignee=assignee,
                actor=request.user,
                expected_assignee_id=data.get("expected_assignee_id", services.UNCHECKED),
            )
        except services.AssigneeChanged as changed:
            raise Conflict(str(changed)) from None
        return Response(ConversationSerializer(conversation).data)


class EmptyBodySerializer(BodySerializer):
    """No fields: an empty body (or none); anything else is refused."""


class ConversationResolveApi(APIView):
    """``POST conversations/<id>/resolve/``: mark it resolved."""

    @extend_schema(operation_id="conversations_resolve", request=None, responses={200: ConversationSerializer, 404: ERRORS[404]})
    def post(self, request: Request, conversation_id: int) -> Response:
        conversation = _conversation(request, conversation_id)
        validated(EmptyBodySerializer, request.data)
        conversation = services.conversation_resolve(conversation=conversation, actor=request.user)
        return Response(ConversationSerializer(conversation).data)


class ConversationReopenApi(APIView):
    """``POST conversations/<id>/reopen/``: open it again."""

    @extend_schema(operation_id="conversations_reopen", request=None, responses={200: ConversationSerializer, 404: ERRORS[404]})
    def post(self, request: Request, conversation_id: int) -> Response:
        conversation = _conversation(request, conversation_id)
        validated(EmptyBodySerializer, request.data)
        conversation = services.conversation_reopen(conversation=conversation, actor=request.user)
        return Response(ConversationSerializer(conversation).data)


class ConversationSnoozeApi(APIView):
    """``POST conversations/<id>/snooze/``: set it aside until ``until``; it opens again then,
    or at the buyer's next message."""

    class SnoozeInputSerializer(BodySerializer):
        until = serializers.DateTimeField(
            help_text=(
                f"ISO 8601, in the future and at most {services.MAX_SNOOZE_DAYS} days ahead;"
                " without an offset, in the server's time zone"
            )
        )

    @extend_schema(
        operation_id="conversations_snooze",
        request=SnoozeInputSerializer,
        responses={200: ConversationSerializer, 400: ERRORS[400], 404: ERRORS[404]},
    )
    def post(self, request: Request, conversation_id: int) -> Response:
        conversation = _conversation(request, conversation_id)
        data = validated(self.SnoozeInputSerializer, request.data)
        conversation = services.conversation_snooze(conversation=conversation, until=data["until"], actor=request.user)
        return Response(ConversationSerializer(conversation).data)


class ConversationReadApi(APIView):
    """``POST conversations/<id>/read/``: the agents have read up to ``seq``."""

    class ReadInputSerializer(BodySerializer):
        seq = serializers.IntegerField(min_value=0)

    @extend_schema(
        operation_id="conversations_read",
        request=ReadInputSerializer,
        responses={200: ConversationSerializer, 400: ERRORS[400], 404: ERRORS[404]},
    )
    def post(self, request: Request, conversation_id: int) -> Response:
        conversation = _conversation(request, conversation_id)
        data = validated(self.ReadInputSerializer, request.data)
        conversation = services.conversation_mark_read(
            conversation=conversation, side="agent", up_to_seq=data["seq"], actor=request.user
        )
        return Response(ConversationSerializer(conversation).data)


# --- Messages --------------------------------------------------------------------------------
class MessageRetryApi(APIView):
    """``POST messages/<id>/retry/``: deliver a failed reply to a platform buyer again.

    Any member of the message's shop may; a reply already being delivered is answered as is
    (a second click changes nothing), one not failed nor pending is refused with a 400.
    """

    @extend_schema(
        operation_id="messages_retry",
        request=None,
        responses={
            200: OpenApiResponse(MessageSerializer, description="The message, pending again (or still)."),
            400: ERRORS[400],
            404: ERRORS[404],
        },
    )
    def post(self, request: Request, message_id: int) -> Response:
        message = message_get(user=request.user, message_id=message_id)
        validated(EmptyBodySerializer, request.data)
        message, _retried = services.message_delivery_retry(message=message, actor=request.user)
        return Response(MessageSerializer(message).data)


# --- Channels (shop admins only) --------------------------------------------------------------
class ChannelListApi(APIView):
    """``GET channels/`` lists the channels of the shops you administer; ``POST`` adds one."""

    class ChannelFilterSerializer(serializers.Serializer):
        shop = serializers.IntegerField(min_value=1, required=False, help_text="Shop id")

    class ChannelCreateSerializer(BodySerializer):
        shop = serializers.IntegerField(min_value=1, help_text="Shop id")
        kind = serializers.ChoiceField(choices=Channel.Kind.choices)
        name = StrictCharField(max_length=50)
        outbound_url = StrictCharField(required=False, allow_blank=True, default="", max_length=200)

    @extend_schema(
        operation_id="channels_list",
        parameters=[ChannelFilterSerializer],
        responses={
            200: inline_serializer("ChannelList", fields={"results": ChannelSerializer(many=True)}),
            403: ERRORS[403],
        },
    )
    def get(self, request: Request) -> Response:
        filters = validated(self.ChannelFilterSerializer, request.query_params)
        channels = channel_list(user=request.user, shop_id=filters.get("shop"))
        return Response({"results": ChannelSerializer(channels, many=True, context={"request": request}).data})

    @extend_schema(
        operation_id="channels_create",
        request=ChannelCreateSerializer,
        responses={201: ChannelSerializer, 400: ERRORS[400], 403: ERRORS[403]},
    )
    def post(self, request: Request) -> Response:
        channel_list(user=request.user)  # 403 before anything for users who administer no shop
        data = validated(self.ChannelCreateSerializer, request.data)
        membership = membership_require(request.user, data["shop"], role=Role.ADMIN)
        channel = channel_services.channel_create(
            shop=membership.shop, kind=data["kind"], name=data["name"], outbound_url=data["outbound_url"]
        )
        return Response(ChannelSerializer(channel, context={"request": request}).data, status=status.HTTP_201_CREATED)


class ChannelDetailApi(APIView):
    """``GET channels/<id>/`` shows a channel with its secret; ``PATCH`` edits it."""

    class ChannelUpdateSerializer(BodySerializer):
        name = StrictCharField(required=False, max_length=50)
        outbound_url = StrictCharField(required=False, allow_blank=True, max_length=200)
        is_active = serializers.BooleanField(required=False)
        rotate_secret = serializers.BooleanField(required=False, default=False, help_text="Issue a new webhook secret")

    @extend_schema(
        operation_id="channels_retrieve",
        responses={200: ChannelSerializer, 403: ERRORS[403], 404: ERRORS[404]},
    )
    def get(self, request: Request, channel_id: int) -> Response:
        channel = channel_get(user=request.user, channel_id=channel_id)
        return Response(ChannelSerializer(channel, context={"request": request}).data)

    @extend_schema(
        operation_id="channels_partial_update",
        request=ChannelUpdateSerializer,
        responses={200: ChannelSerializer, 400: ERRORS[400], 403: ERRORS[403], 404: ERRORS[404]},
    )
    def patch(self, request: Request, channel_id: int) -> Response:
        channel = channel_get(user=request.user, channel_id=channel_id)
        data = validated(self.ChannelUpdateSerializer, request.data)
        channel = channel_services.channel_update(channel=channel, **data)
        return Response(ChannelSerializer(channel, context={"request": request}).data)
