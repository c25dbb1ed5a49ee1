"""The inbox's settings, checked by ``manage.py check``; what production needs, by ``check --deploy``."""
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register(Tags.compatibility)
def site_url_is_an_address(app_configs, **kwargs):
    parts = urlsplit(settings.SITE_URL)
    if settings.SITE_URL and (parts.scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query):
        return [
            Error(
                f"SITE_URL must be the product's public origin, such as https://kefu.example.com; got {settings.SITE_URL!r}.",
                id="inbox.E001",
            )
        ]
    return []


@register(Tags.compatibility, deploy=True)
def site_url_is_set(app_configs, **kwargs):
    if not settings.SITE_URL:
        return [
            Warning(
                "SITE_URL is not set: agents' replies with images to platform channels cannot be delivered.",
                hint="Set SITE_URL to the address buyers and platforms reach the product at, e.g. https://kefu.example.com.",
                id="inbox.W001",
            )
        ]
    return []
