"""Websocket routes; ``dianxiaoer.asgi`` wraps them in the origin check and session auth."""
from django.urls import path

from .consumers import AgentConsumer, BuyerConsumer

websocket_urlpatterns = [
    path("ws/agent/", AgentConsumer.as_asgi()),
    path("ws/chat/<slug:shop_slug>/", BuyerConsumer.as_asgi()),
]
