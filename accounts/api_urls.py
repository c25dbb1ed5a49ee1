from django.urls import path

from . import api

urlpatterns = [
    path("auth/token/", api.TokenCreateApi.as_view(), name="auth-token"),
    path("me/", api.MeApi.as_view(), name="me"),
    path("shops/<int:shop_id>/members/", api.ShopMemberListApi.as_view(), name="shop-members"),
]
