"""Websocket routes; ``dianxiaoer.asgi`` wraps them in the origin check and session auth."""
from django.urls import path, re_path

from .consumers import AgentConsumer, BuyerConsumer, UnknownPathSocket

websocket_urlpatterns = [
    path("ws/agent/", AgentConsumer.as_asgi()),
    path("ws/chat/<slug:shop_slug>/", BuyerConsumer.as_asgi()),
    re_path(r"", UnknownPathSocket.as_asgi()),  # anything else: closed with 4404, not a server error
]
