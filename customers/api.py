"""REST face of buyer profiles: list, detail and edit. Phones leave the server masked only."""
import re

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dianxiaoer.api_errors import ErrorSerializer
from dianxiaoer.api_inputs import BodySerializer, StrictCharField, validated
from dianxiaoer.pagination import KeysetPagination
from inbox.selectors import conversation_list

from .models import Address, Customer
from .selectors import customer_get, customer_list
from .services import MAX_TAGS, customer_tag_add, customer_tag_remove, customer_update

RECENT_CONVERSATIONS = 5
MAX_NOTES_LENGTH = 5000
PHONE_SHAPE = re.compile(r"^[0-9+\-() ]*$")


def mask_phone(phone: str) -> str:
    """138****5678, the way agents see every phone number (same rule as ``Customer.masked_phone``)."""
    if len(phone) < 7:
        return "*" * len(phone)
    return f"{phone[:3]}****{phone[-4:]}"


# --- Output ----------------------------------------------------------------------------------
class CustomerListSerializer(serializers.ModelSerializer):
    tags = serializers.ListField(source="tag_names", child=serializers.CharField(), read_only=True)

    class Meta:
        model = Customer
        fields = [
            "id",
            "shop_id",
            "platform_buyer_id",
            "nickname",
            "name",
            "masked_phone",
            "vip_level",
            "tags",
            "first_contact_at",
            "last_contact_at",
        ]


class AddressSerializer(serializers.ModelSerializer):
    masked_phone = serializers.SerializerMethodField()

    class Meta:
        model = Address
        fields = ["id", "recipient", "masked_phone", "region", "detail", "is_default"]

    def get_masked_phone(self, address: Address) -> str:
        return mask_phone(address.phone)


class RecentConversationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    channel_id = serializers.IntegerField()
    last_message_at = serializers.DateTimeField()
    last_message_preview = serializers.CharField()


class CustomerDetailSerializer(CustomerListSerializer):
    addresses = AddressSerializer(many=True)
    recent_conversations = serializers.SerializerMethodField()

    class Meta(CustomerListSerializer.Meta):
        fields = [*CustomerListSerializer.Meta.fields, "notes", "created_at", "addresses", "recent_conversations"]

    @extend_schema_field(RecentConversationSerializer(many=True))
    def get_recent_conversations(self, customer: Customer) -> list[dict]:
        return RecentConversationSerializer(self.context["recent_conversations"], many=True).data


def _detail(request: Request, customer: Customer) -> Response:
    recent = (
        conversation_list(user=request.user, shop_id=customer.shop_id)
        .select_related(None)
        .prefetch_related(None)
        .filter(customer_id=customer.pk)[:RECENT_CONVERSATIONS]
    )
    return Response(CustomerDetailSerializer(customer, context={"recent_conversations": recent}).data)


# --- Views -----------------------------------------------------------------------------------
class CustomerListApi(APIView):
    """``GET customers/``: buyer profiles of your shops, most recent contact first."""

    pagination = KeysetPagination(field="last_contact_at", nullable=True)

    class CustomerFilterSerializer(serializers.Serializer):
        q = serializers.CharField(max_length=100, required=False, allow_blank=True, help_text="Nickname, buyer id or name")
        shop = serializers.IntegerField(min_value=1, required=False, help_text="Shop id")

    @extend_schema(
        operation_id="customers_list",
        parameters=[CustomerFilterSerializer, *KeysetPagination.schema_parameters()],
        responses={200: KeysetPagination.response_schema("CustomerPage", CustomerListSerializer(many=True))},
    )
    def get(self, request: Request) -> Response:
        filters = validated(self.CustomerFilterSerializer, request.query_params)
        customers = customer_list(user=request.user, q=filters.get("q") or None, shop_id=filters.get("shop"))
        page = self.pagination.paginate(customers, request)
        return self.pagination.response(page, CustomerListSerializer(page.results, many=True).data)


class CustomerDetailApi(APIView):
    """``GET customers/<id>/`` shows a profile; ``PATCH`` edits name, phone, notes, VIP level,
    and replaces the tags (``customers/<id>/tags/`` adds or takes off one)."""

    class CustomerUpdateSerializer(BodySerializer):
        name = StrictCharField(required=False, allow_blank=True, max_length=100)
        phone = StrictCharField(required=False, allow_blank=True, max_length=32)
        notes = StrictCharField(required=False, allow_blank=True, max_length=MAX_NOTES_LENGTH, trim_whitespace=False)
        vip_level = serializers.IntegerField(required=False)
        tags = serializers.ListField(
            child=StrictCharField(allow_blank=True, trim_whitespace=False), required=False, max_length=MAX_TAGS
        )

        def validate_phone(self, phone: str) -> str:
            if not PHONE_SHAPE.match(phone):
                raise serializers.ValidationError(_("A phone number holds digits, spaces, +, - and brackets only."))
            return phone

    @extend_schema(operation_id="customers_retrieve", responses={200: CustomerDetailSerializer, 404: OpenApiResponse(ErrorSerializer, description="Not found")})
    def get(self, request: Request, customer_id: int) -> Response:
        return _detail(request, customer_get(user=request.user, customer_id=customer_id))

    @extend_schema(
        operation_id="customers_partial_update",
        request=CustomerUpdateSerializer,
        responses={
            200: CustomerDetailSerializer,
            400: OpenApiResponse(ErrorSerializer, description="Invalid input"),
            404: OpenApiResponse(ErrorSerializer, description="Not found"),
        },
    )
    def patch(self, request: Request, customer_id: int) -> Response:
        customer = customer_get(user=request.user, customer_id=customer_id)
        data = dict(validated(self.CustomerUpdateSerializer, request.data))
        tags = data.pop("tags", None)
        customer_update(customer=customer, tags=tags, **data)
        return _detail(request, customer_get(user=request.user, customer_id=customer_id))


class CustomerTagsApi(APIView):
    """``POST customers/<id>/tags/`` tags the buyer, ``DELETE customers/<id>/tags/?name=`` takes
    a tag off: one tag at a time, so agents tagging one buyer at once keep each other's tags."""

    class CustomerTagAddSerializer(BodySerializer):
        name = StrictCharField(allow_blank=True, trim_whitespace=False, help_text="Tag name (trimmed; at most 30 characters)")

    class CustomerTagRemoveSerializer(serializers.Serializer):
        name = serializers.CharField(allow_blank=True, trim_whitespace=False, help_text="Tag name")

    responses = {
        200: CustomerDetailSerializer,
        400: OpenApiResponse(ErrorSerializer, description="Invalid input"),
        404: OpenApiResponse(ErrorSerializer, description="Not found"),
    }

    @extend_schema(operation_id="customers_tags_add", request=CustomerTagAddSerializer, responses=responses)
    def post(self, request: Request, customer_id: int) -> Response:
        customer = customer_get(user=request.user, customer_id=customer_id)
        customer_tag_add(customer=customer, name=validated(self.CustomerTagAddSerializer, request.data)["name"])
        return _detail(request, customer_get(user=request.user, customer_id=customer_id))

    @extend_schema(operation_id="customers_tags_remove", parameters=[CustomerTagRemoveSerializer], responses=responses)
    def delete(self, request: Request, customer_id: int) -> Response:
        customer = customer_get(user=request.user, customer_id=customer_id)
        customer_tag_remove(customer=customer, name=validated(self.CustomerTagRemoveSerializer, request.query_params)["name"])
        return _detail(request, customer_get(user=request.user, customer_id=customer_id))
