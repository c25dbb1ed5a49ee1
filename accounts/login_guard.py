"""Failed sign-ins slow password guessing on every way in: the sign-in page, the admin's and
the API token endpoint all go through ``authenticate``.

Each failure counts for its (username, client address) pair and for the address. Past
``FAILURES_PER_PAIR`` for a pair, or ``FAILURES_PER_ADDRESS`` for an address, within
``WINDOW_SECONDS`` of the first, a sign-in from there is refused, even with the right
password, until the window ends. The pair, not the username alone, is what locks: a stranger
cannot lock an agent out of their account from elsewhere. A success clears its pair.
"""
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from dianxiaoer.rate_limit import client_address, window_hits

WINDOW_SECONDS = 15 * 60
FAILURES_PER_PAIR = 10
FAILURES_PER_ADDRESS = 50


def _keys(request, username: str | None) -> tuple[str, str]:
    address = client_address(request)
    return f"sign-in-failures:{address}:{(username or '').casefold()}", f"sign-in-failures:{address}"


def locked(request, username: str | None) -> bool:
    """Whether sign-ins for ``username`` from this request's address are refused for now."""
    pair, address = _keys(request, username)
    counts = cache.get_many([pair, address])
    return counts.get(pair, 0) >= FAILURES_PER_PAIR or counts.get(address, 0) >= FAILURES_PER_ADDRESS


def locked_message() -> str:
    return _("Too many failed sign-ins from here; try again in %(minutes)d minutes.") % {"minutes": WINDOW_SECONDS // 60}


class LoginGuardBackend:
    """First of ``AUTHENTICATION_BACKENDS``: authenticates nobody, and stops ``authenticate``
    (``PermissionDenied``) for a locked pair or address before any password is checked.

    It has no ``get_user``: sessions name the backend that signed the user in (ModelBackend).
    """

    def authenticate(self, request, username=None, **credentials):
        if request is not None and locked(request, username):
            raise PermissionDenied(locked_message())
        return None


def _failed(sender, credentials: dict, request=None, **kwargs) -> None:
    if request is None:
        return
    for key in _keys(request, credentials.get("username")):
        window_hits(key, window_seconds=WINDOW_SECONDS)


def _succeeded(sender, request, user, **kwargs) -> None:
    if request is not None:
        cache.delete(_keys(request, user.get_username())[0])


def connect() -> None:
    user_login_failed.connect(_failed, dispatch_uid="accounts-sign-in-failed")
    user_logged_in.connect(_succeeded, dispatch_uid="accounts-sign-in-succeeded")
