"""Open agent sockets lose a shop the moment its membership goes.

Membership is read when an agent socket opens; without this, an agent removed from a shop
(or a user deactivated) kept hearing the shop's conversations until the socket reconnected.
Removals happen in the admin as well as in code, so signals catch them: after the change
commits, each affected shop's hubs are told (``realtime.publish_access_revoked``) and close
that user's sockets with 4403. A socket that still has other shops opens again and says
hello with what is left.
"""
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from accounts.models import Membership, User

from . import realtime


def _revoke(user_id: int, shop_ids: list[int]) -> None:
    for shop_id in shop_ids:
        transaction.on_commit(lambda shop_id=shop_id: realtime.publish_access_revoked(shop_id=shop_id, user_id=user_id))


def _membership_deleted(sender, instance: Membership, **kwargs) -> None:
    _revoke(instance.user_id, [instance.shop_id])


def _user_saved(sender, instance: User, created: bool, update_fields=None, **kwargs) -> None:
    if created or instance.is_active:
        return
    if update_fields is not None and "is_active" not in update_fields:
        return
    _revoke(instance.pk, list(Membership.objects.filter(user_id=instance.pk).values_list("shop_id", flat=True)))


def connect() -> None:
    post_delete.connect(_membership_deleted, sender=Membership, dispatch_uid="inbox-membership-revoked")
    post_save.connect(_user_saved, sender=User, dispatch_uid="inbox-user-deactivated")
