"""REST face of accounts: API tokens, who am I, and the people of a shop."""
from django.contrib.auth import authenticate
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import Throttled, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from dianxiaoer.api_errors import ErrorSerializer
from dianxiaoer.api_inputs import BodySerializer, StrictCharField, validated

from . import login_guard
from .models import Membership, User
from .selectors import membership_require


class TokenThrottle(AnonRateThrottle):
    """Password guessing through the token endpoint is slowed per client address."""

    scope = "auth-token"
    rate = "20/minute"


class ShopRoleSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="shop.id")
    name = serializers.CharField(source="shop.name")
    slug = serializers.CharField(source="shop.slug")
    platform = serializers.CharField(source="shop.platform")
    role = serializers.CharField()


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    nickname = serializers.CharField()
    display_name = serializers.CharField()
    avatar_url = serializers.SerializerMethodField()
    shops = serializers.SerializerMethodField()

    def get_avatar_url(self, user: User) -> str | None:
        return user.avatar.url if user.avatar else None

    @extend_schema_field(ShopRoleSerializer(many=True))
    def get_shops(self, user: User) -> list[dict]:
        return ShopRoleSerializer(self.context["memberships"], many=True).data


class MemberSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="user.id")
    username = serializers.CharField(source="user.username")
    nickname = serializers.CharField(source="user.nickname")
    role = serializers.CharField()
    teams = serializers.SerializerMethodField()

    def get_teams(self, membership: Membership) -> list[dict]:
        return [{"id": team.pk, "name": team.name} for team in membership.teams.all()]


class TokenCreateApi(APIView):
    """``POST auth/token/``: username and password for an API token (``Authorization: Token <key>``)."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [TokenThrottle]

    class TokenInputSerializer(BodySerializer):
        username = StrictCharField(max_length=150)
        password = StrictCharField(max_length=128, trim_whitespace=False)

    @extend_schema(
        operation_id="auth_token_create",
        request=TokenInputSerializer,
        responses={
            200: inline_serializer("TokenResponse", fields={"token": serializers.CharField()}),
            400: OpenApiResponse(ErrorSerializer, description="Missing fields or wrong username or password"),
        },
    )
    def post(self, request: Request) -> Response:
        data = validated(self.TokenInputSerializer, request.data)
        if login_guard.locked(request._request, data["username"]):
            raise Throttled(detail=login_guard.locked_message())
        user = authenticate(request._request, username=data["username"], password=data["password"])
        if user is None:
            raise ValidationError(_("Wrong username or password."))
        token, _created = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})


class MeApi(APIView):
    """``GET me/``: the signed-in user, their 客服昵称, and their shops with roles."""

    @extend_schema(operation_id="me_retrieve", responses={200: MeSerializer})
    def get(self, request: Request) -> Response:
        memberships = Membership.objects.filter(user=request.user).select_related("shop").order_by("shop__name", "shop_id")
        return Response(MeSerializer(request.user, context={"memberships": memberships}).data)


class ShopMemberListApi(APIView):
    """``GET shops/<id>/members/``: the active people of a shop you belong to (for assigning)."""

    @extend_schema(
        operation_id="shops_members_list",
        responses={
            200: inline_serializer("MemberList", fields={"results": MemberSerializer(many=True)}),
            404: OpenApiResponse(ErrorSerializer, description="Not a shop of yours"),
        },
    )
    def get(self, request: Request, shop_id: int) -> Response:
        membership_require(request.user, shop_id)
        members = (
            Membership.objects.filter(shop_id=shop_id, user__is_active=True)
            .select_related("user")
            .prefetch_related("teams")
            .order_by("user__display_name", "user__username")
        )
        return Response({"results": MemberSerializer(members, many=True).data})
