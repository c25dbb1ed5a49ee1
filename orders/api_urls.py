from django.urls import path

from .api import OrderListApi

urlpatterns = [
    path("orders/", OrderListApi.as_view(), name="order-list"),
]
