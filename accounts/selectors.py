"""Which shops a user may reach, and with what role."""
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _

from .identity_cache import memberships
from .models import Membership, User


def memberships_of(user: User) -> dict[int, Membership]:
    """The user's memberships by shop id, read once per request object (through the cache)."""
    cached = getattr(user, "_dxe_memberships", None)
    if cached is None:
        cached = memberships(user.pk) if user.is_authenticated else {}
        user._dxe_memberships = cached
    return cached


def shop_ids_for(user: User, *, role: str | None = None) -> list[int]:
    return [shop_id for shop_id, m in memberships_of(user).items() if role is None or m.has_role(role)]


def membership_require(user: User, shop_id: int, *, role: str | None = None) -> Membership:
    """The user's membership of a shop, or 404 (not a member) / 403 (role too low)."""
    membership = memberships_of(user).get(shop_id)
    if membership is None:
        raise Http404(_("Not found."))
    if role is not None and not membership.has_role(role):
        raise PermissionDenied(_("Your role does not allow this."))
    return membership
