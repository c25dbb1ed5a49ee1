"""A bare echo websocket for the benchmark floor: daphne + a Channels consumer, nothing else.

No database, no channel layer, no auth: every text frame comes straight back. What
``bench/ws_latency.py`` measures here is the cost of the websocket stack itself.

    daphne -b 127.0.0.1 -p 8765 bench.echo_asgi:application
"""
import django
from django.conf import settings

if not settings.configured:
    settings.configure(CHANNEL_LAYERS={}, INSTALLED_APPS=["channels"])
    django.setup()

from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402


class EchoConsumer(AsyncWebsocketConsumer):
    async def dispatch(self, message):
        # Like the product's sockets: no per-message hop to close DB connections (there is no DB).
        await getattr(self, message["type"].replace(".", "_"))(message)

    async def receive(self, text_data=None, bytes_data=None):
        await self.send(text_data=text_data, bytes_data=bytes_data)


application = ProtocolTypeRouter({"websocket": URLRouter([path("echo/", EchoConsumer.as_asgi())])})
