"""The benchmark's floors: daphne + Channels consumers, no database, no auth.

- ``echo/``: every text frame comes straight back. What ``bench/ws_latency.py`` measures here
  is the cost of the websocket stack itself.
- ``relay/<name>/``: a socket joins the group ``relay-<name>``; each frame it sends names
  another socket (``{"to": "<name>", ...}``) and goes to that socket's group through the
  channel layer, as it is. This is a buyer-to-agent delivery with nothing but the layer in
  between: the websocket stack plus one group send, on the in-memory layer or, with
  ``REDIS_URL``, on the product's Redis layer across processes.

    daphne -b 127.0.0.1 -p 8765 bench.echo_asgi:application
"""
import json
import os

import django
from django.conf import settings

if not settings.configured:
    redis_url = os.environ.get("REDIS_URL")
    settings.configure(
        CHANNEL_LAYERS={
            "default": (
                {
                    # As the product's settings: pub/sub, no socket timeout (shared/TOOLCHAIN.md).
                    "BACKEND": "dianxiaoer.channel_layers.PipelinedRedisPubSubChannelLayer",
                    "CONFIG": {"hosts": [{"address": redis_url, "socket_timeout": None}]},
                }
                if redis_url
                else {"BACKEND": "dianxiaoer.channel_layers.SweepingInMemoryChannelLayer"}
            )
        },
        INSTALLED_APPS=["channels"],
    )
    django.setup()

from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402


class BareConsumer(AsyncWebsocketConsumer):
    async def dispatch(self, message):
        # Like the product's sockets: no per-message hop to close DB connections (there is no DB).
        await getattr(self, message["type"].replace(".", "_"))(message)


class EchoConsumer(BareConsumer):
    async def receive(self, text_data=None, bytes_data=None):
        await self.send(text_data=text_data, bytes_data=bytes_data)


class RelayConsumer(BareConsumer):
    async def connect(self):
        self.group = f"relay-{self.scope['url_route']['kwargs']['name']}"
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        await self.channel_layer.group_send(f"relay-{json.loads(text_data)['to']}", {"type": "relay.frame", "text": text_data})

    async def relay_frame(self, message):
        await self.send(text_data=message["text"])


application = ProtocolTypeRouter(
    {
        "websocket": URLRouter(
            [path("echo/", EchoConsumer.as_asgi()), path("relay/<slug:name>/", RelayConsumer.as_asgi())]
        )
    }
)
