"""ASGI entry point: HTTP through Django, websockets through Channels."""
import gc
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dianxiaoer.settings")
django.setup(set_prefix=False)

from django.conf import settings  # noqa: E402

from dianxiaoer import sqlite_checkpoint  # noqa: E402
from dianxiaoer.asgi_handler import SyncChainASGIHandler  # noqa: E402  (apps must be loaded first)

sqlite_checkpoint.start_for(settings.DATABASES["default"])

django_asgi_app = SyncChainASGIHandler()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (apps must be loaded first)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from inbox.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)

# What is loaded by now lives as long as the process. Out of the collector's full passes it
# goes: each pass walked all of it (130,000 objects) and held the event loop up to 180 ms,
# every socket's frames waiting (the p99 of bench/ws_latency.py); now a pass takes ~20 ms.
gc.freeze()
