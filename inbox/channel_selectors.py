"""Access-checked reads of channels: the shop's admins only (channels hold webhook secrets)."""
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from accounts.models import Role, User
from accounts.selectors import membership_require, shop_ids_for

from .models import Channel


def channel_list(*, user: User, shop_id: int | None = None) -> QuerySet[Channel]:
    """Channels of the shops the user administers (403 if none; 404/403 for a given shop)."""
    if shop_id is not None:
        membership_require(user, shop_id, role=Role.ADMIN)
        shop_ids = [shop_id]
    else:
        shop_ids = shop_ids_for(user, role=Role.ADMIN)
        if not shop_ids:
            raise PermissionDenied(_("Only shop admins manage channels."))
    return Channel.objects.filter(shop_id__in=shop_ids).order_by("shop_id", "id")


def channel_get(*, user: User, channel_id: int) -> Channel:
    """One channel of a shop the user administers: 404 outside their shops, 403 below admin."""
    channel = Channel.objects.filter(pk=channel_id, shop_id__in=shop_ids_for(user)).first()
    if channel is None:
        raise Http404(_("Channel not found."))
    membership_require(user, channel.shop_id, role=Role.ADMIN)
    return channel
