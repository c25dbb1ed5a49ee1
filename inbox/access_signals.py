"""Open agent sockets follow a user's shops and roles the moment they change.

Membership and role are read when an agent socket opens; without this, an agent removed
from a shop (or a user deactivated) kept hearing the shop's conversations, and one added to
a shop or given another role did not see it, until the socket reconnected. Changes happen in
the admin as well as in code, so signals catch them: after the change commits, the hubs of
each shop the user's sockets are in are told (``realtime.publish_access_changed``) and close
that user's sockets with 4403. The workspace then reloads with what the user has now (a
socket with no shop left is refused).

A socket's user is also read once, from its session: signing out closes the sockets of that
session, and a password change (which ends the user's other sessions) closes all of the
user's sockets, so neither a signed-out tab nor a session from before a reset keeps hearing
and acting for the shops.
"""
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_save

from accounts.models import Membership, User

from . import realtime


def _changed(user_id: int, shop_ids, *, session: str | None = None) -> None:
    for shop_id in set(shop_ids):
        transaction.on_commit(
            lambda shop_id=shop_id: realtime.publish_access_changed(shop_id=shop_id, user_id=user_id, session=session)
        )


def _shops_of(user_id: int) -> list[int]:
    return list(Membership.objects.filter(user_id=user_id).values_list("shop_id", flat=True))


def _membership_deleted(sender, instance: Membership, **kwargs) -> None:
    _changed(instance.user_id, [instance.shop_id])


def _membership_saving(sender, instance: Membership, **kwargs) -> None:
    if not instance._state.adding:  # a new membership has no role before
        instance._role_before = Membership.objects.filter(pk=instance.pk).values_list("role", flat=True).first()


def _membership_saved(sender, instance: Membership, created: bool, **kwargs) -> None:
    if created or instance.role != getattr(instance, "_role_before", instance.role):
        _changed(instance.user_id, _shops_of(instance.user_id))  # its sockets are in the others' hubs


def _user_saving(sender, instance: User, update_fields=None, **kwargs) -> None:
    if not instance._state.adding and (update_fields is None or "password" in update_fields):
        instance._password_before = User.objects.filter(pk=instance.pk).values_list("password", flat=True).first()


def _user_saved(sender, instance: User, created: bool, update_fields=None, **kwargs) -> None:
    password_before = instance.__dict__.pop("_password_before", None)
    if created:
        return
    deactivated = not instance.is_active and (update_fields is None or "is_active" in update_fields)
    if deactivated or (password_before is not None and password_before != instance.password):
        _changed(instance.pk, _shops_of(instance.pk))


def _logged_out(sender, request, user, **kwargs) -> None:
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if user is not None and session_key:
        _changed(user.pk, _shops_of(user.pk), session=realtime.session_tag(session_key))


def connect() -> None:
    post_delete.connect(_membership_deleted, sender=Membership, dispatch_uid="inbox-membership-deleted")
    pre_save.connect(_membership_saving, sender=Membership, dispatch_uid="inbox-membership-saving")
    post_save.connect(_membership_saved, sender=Membership, dispatch_uid="inbox-membership-saved")
    pre_save.connect(_user_saving, sender=User, dispatch_uid="inbox-user-saving")
    post_save.connect(_user_saved, sender=User, dispatch_uid="inbox-user-saved")
    user_logged_out.connect(_logged_out, dispatch_uid="inbox-user-logged-out")
