"""Test settings: production settings with a fixed key, plain HTTP and eager Celery."""
import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("HTTPS", "0")
os.environ.setdefault("DXE_VAR_DIR", os.path.join(os.path.dirname(os.path.dirname(__file__)), "var", "test"))

from dianxiaoer.settings import *  # noqa: E402,F403

CELERY_TASK_ALWAYS_EAGER = True
# Tests publish in process; tests/integration/test_embedded_relay.py sets one for its server.
CHANNEL_RELAY_SOCKET = os.environ.get("CHANNEL_RELAY_SOCKET", "")
# Delivery tests post to stub platforms on loopback; tests/test_safe_http.py turns it off.
OUTBOUND_ALLOW_PRIVATE = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
MEDIA_ROOT = VAR_DIR / "media"  # noqa: F405
# WhiteNoise warns on every request when STATIC_ROOT is missing; tests serve no static files.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405
