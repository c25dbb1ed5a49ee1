"""Writes to channels: how a shop's chat and platform connections are set up.

Callers check that the user is an admin of the shop (``membership_require(role="admin")``);
these functions check the values.
"""
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import Shop

from .models import Channel, _new_webhook_secret

MAX_NAME_LENGTH = 50
MAX_URL_LENGTH = 200


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": [_("A channel needs a name.")]})
    if len(name) > MAX_NAME_LENGTH:
        raise ValidationError({"name": [_("A channel name is at most %(max)d characters.") % {"max": MAX_NAME_LENGTH}]})
    return name


def _clean_outbound_url(url: str) -> str:
    url = (url or "").strip()
    if not url:
        return ""
    if len(url) > MAX_URL_LENGTH:
        raise ValidationError({"outbound_url": [_("A URL is at most %(max)d characters.") % {"max": MAX_URL_LENGTH}]})
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        raise ValidationError({"outbound_url": [_("Enter an http or https URL.")]})
    return url


@transaction.atomic
def channel_create(*, shop: Shop, kind: str, name: str, outbound_url: str = "") -> Channel:
    """A new channel of ``shop`` with a fresh public id and webhook secret."""
    if kind not in Channel.Kind.values:
        raise ValidationError({"kind": [_("Unknown channel kind: %(kind)s.") % {"kind": kind}]})
    return Channel.objects.create(
        shop=shop, kind=kind, name=_clean_name(name), outbound_url=_clean_outbound_url(outbound_url)
    )


@transaction.atomic
def channel_update(
    *,
    channel: Channel,
    name: str | None = None,
    outbound_url: str | None = None,
    is_active: bool | None = None,
    rotate_secret: bool = False,
) -> Channel:
    """Change the given fields; ``rotate_secret`` issues a new webhook secret (the old one stops working)."""
    channel = Channel.objects.select_for_update().get(pk=channel.pk)
    if name is not None:
        channel.name = _clean_name(name)
    if outbound_url is not None:
        channel.outbound_url = _clean_outbound_url(outbound_url)
    if is_active is not None:
        channel.is_active = bool(is_active)
    if rotate_secret:
        channel.webhook_secret = _new_webhook_secret()
    channel.save()
    return channel
