"""Who a request is, cached: the user behind an API token, and a user's memberships.

Every API request needs both before it reads anything; from the database that is two
queries of a list request's three. They are read through Django's cache (Redis when
``REDIS_URL`` is set, so every process sees one copy) and dropped by the signals below on
every change that could alter the answer: a token deleted, a user saved or deleted (password,
``is_active``), a membership added, changed or removed (also by cascade). As Zulip caches a
user by API key. ``IDENTITY_CACHE_SECONDS`` bounds what a change made where the cache is not
shared (the embedded per-process cache, changed from another process) can outlive.
"""
import hashlib

from django.conf import settings
from django.core.cache import cache
from django.db.models.signals import post_delete, post_save
from django.utils.translation import gettext_lazy as _
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.authtoken.models import Token

from .models import Membership, User


def _token_cache_key(key: str) -> str:
    # The cache never holds a usable token, only a digest of it.
    return "dxe:identity:token:" + hashlib.sha256(key.encode()).hexdigest()


def _memberships_cache_key(user_id: int) -> str:
    return f"dxe:identity:memberships:{user_id}"


def token_user(key: str) -> User | None:
    """The active user the API token ``key`` belongs to, or None."""
    cache_key = _token_cache_key(key)
    user = cache.get(cache_key)
    if user is None:
        token = Token.objects.select_related("user").filter(key=key).first()
        if token is None:
            return None
        user = token.user
        cache.set(cache_key, user, settings.IDENTITY_CACHE_SECONDS)
    return user if user.is_active else None


def memberships(user_id: int) -> dict[int, Membership]:
    """The user's memberships by shop id."""
    cache_key = _memberships_cache_key(user_id)
    found = cache.get(cache_key)
    if found is None:
        found = {m.shop_id: m for m in Membership.objects.filter(user_id=user_id)}
        cache.set(cache_key, found, settings.IDENTITY_CACHE_SECONDS)
    return found


class CachedTokenAuthentication(TokenAuthentication):
    """DRF's token authentication, with the token's user read through :func:`token_user`."""

    def authenticate_credentials(self, key):
        user = token_user(key)
        if user is None:
            raise AuthenticationFailed(_("Invalid token."))
        return (user, key)


def _forget_user(sender, instance, **kwargs) -> None:
    keys = [_token_cache_key(key) for key in Token.objects.filter(user_id=instance.pk).values_list("key", flat=True)]
    cache.delete_many([*keys, _memberships_cache_key(instance.pk)])


def _forget_token(sender, instance, **kwargs) -> None:
    cache.delete(_token_cache_key(instance.key))


def _forget_memberships(sender, instance, **kwargs) -> None:
    cache.delete(_memberships_cache_key(instance.user_id))


def connect() -> None:
    post_save.connect(_forget_user, sender=User, dispatch_uid="identity-user-saved")
    post_delete.connect(_forget_user, sender=User, dispatch_uid="identity-user-deleted")
    post_delete.connect(_forget_token, sender=Token, dispatch_uid="identity-token-deleted")
    post_save.connect(_forget_memberships, sender=Membership, dispatch_uid="identity-membership-saved")
    post_delete.connect(_forget_memberships, sender=Membership, dispatch_uid="identity-membership-deleted")
