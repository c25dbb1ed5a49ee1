"""The cookie that keeps a chat visitor's random id, first-party and in a shop's iframe.

A shop embeds the chat (``widget.js``) in an iframe of its own site, so there the chat is a
third party: browsers do not send it a ``SameSite=Lax`` cookie, and when they block
third-party cookies (Safari, Chrome's incognito, Firefox per site) they drop ordinary
``SameSite=None`` ones as well. A *partitioned* cookie (CHIPS: ``Partitioned``, which must be
``Secure`` and ``SameSite=None``) is kept per top-level site and sent back to the iframe, so
a visitor to the shop's site is known again there, and nowhere else.

Two cookies hold the same id: the partitioned one for the iframe, and a ``Lax`` one for the
chat page opened directly, which also works over plain HTTP where a ``Secure`` cookie is
refused. Python 3.11's cookie library has no ``Partitioned`` attribute: a morsel adds it.
"""
from http.cookies import Morsel

from .buyer_identity import valid_visitor_id

VISITOR_COOKIE = "dxe_visitor"
EMBEDDED_VISITOR_COOKIE = "dxe_visitor_embed"
MAX_AGE = 365 * 24 * 3600


class _PartitionedMorsel(Morsel):
    def OutputString(self, attrs=None) -> str:
        return f"{super().OutputString(attrs)}; Partitioned"


def visitor_id_of(request) -> str | None:
    """The visitor id the request's cookies carry, if a well-formed one."""
    for name in (VISITOR_COOKIE, EMBEDDED_VISITOR_COOKIE):
        value = request.COOKIES.get(name)
        if valid_visitor_id(value):
            return value
    return None


def remember_visitor(response, visitor_id: str, *, secure: bool) -> None:
    """Set both cookies to ``visitor_id`` for a year."""
    response.set_cookie(VISITOR_COOKIE, visitor_id, max_age=MAX_AGE, httponly=True, samesite="Lax", secure=secure)
    response.set_cookie(EMBEDDED_VISITOR_COOKIE, visitor_id, max_age=MAX_AGE, httponly=True, samesite="None", secure=True)
    partitioned = _PartitionedMorsel()
    partitioned.set(EMBEDDED_VISITOR_COOKIE, visitor_id, response.cookies[EMBEDDED_VISITOR_COOKIE].coded_value)
    partitioned.update(response.cookies[EMBEDDED_VISITOR_COOKIE])
    response.cookies[EMBEDDED_VISITOR_COOKIE] = partitioned
