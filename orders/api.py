"""REST face of orders: one class per operation, no business logic."""
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dianxiaoer.pagination import KeysetPagination

from .models import Order
from .selectors import order_list


class OrderItemSerializer(serializers.Serializer):
    title = serializers.CharField()
    sku = serializers.CharField(allow_blank=True, default="")
    quantity = serializers.IntegerField()
    price = serializers.CharField(help_text="Unit price, a decimal string such as \"99.00\".")


class OrderSerializer(serializers.ModelSerializer):
    items = OrderItemSerializer(many=True)
    status_display = serializers.CharField(source="get_status_display")

    class Meta:
        model = Order
        fields = [
            "id",
            "shop_id",
            "customer_id",
            "platform_order_id",
            "status",
            "status_display",
            "total_amount",
            "items",
            "placed_at",
            "paid_at",
            "updated_at",
        ]


class OrderListApi(APIView):
    """``GET /api/v1/orders/?customer=<id>``: a buyer's orders, newest first, keyset-paginated."""

    pagination = KeysetPagination(field="placed_at")

    class FilterSerializer(serializers.Serializer):
        customer = serializers.IntegerField(min_value=1)

    @extend_schema(
        operation_id="orders_list",
        parameters=[
            OpenApiParameter("customer", OpenApiTypes.INT, required=True, description="Customer id"),
            *KeysetPagination.schema_parameters(),
        ],
        responses=KeysetPagination.response_schema("OrderPage", OrderSerializer(many=True)),
    )
    def get(self, request: Request) -> Response:
        if "customer" not in request.query_params:
            raise ValidationError({"customer": [_("The customer parameter is required.")]})
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        orders = order_list(user=request.user, customer_id=filters.validated_data["customer"])
        page = self.pagination.paginate(orders, request)
        return self.pagination.response(page, OrderSerializer(page.results, many=True).data)
