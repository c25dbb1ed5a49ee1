"""A cap on the new chat visitors one client address brings to a shop in an hour.

A chat visitor's profile, and a conversation in the shop's unassigned queue, are made by
their first message. A script that fetches the chat page afresh (a new visitor each time)
before every message could fill the queue with made-up buyers; counting new visitors per
address stops it at the address. The address is the one the chat page saw (through
``NUM_PROXIES`` trusted proxies, as the API throttles count), carried in the visitor's
session token. Buyers a shop vouches for (its signed token) are not counted.
"""
from django.conf import settings
from django.utils.translation import gettext as _

from dianxiaoer.rate_limit import window_hits

WINDOW_SECONDS = 3600


class NewVisitorLimit(Exception):
    """This address brought the shop as many new visitors this hour as it may."""

    def __init__(self):
        super().__init__(_("Too many new chats from your network; please try again later."))


def new_visitor_admit(*, shop_id: int, address: str) -> None:
    """Count a new visitor from ``address``; raise NewVisitorLimit past the hourly cap."""
    cap = settings.CHAT_NEW_VISITORS_PER_ADDRESS_PER_HOUR
    if not cap or not address:
        return
    if window_hits(f"new-visitors:{shop_id}:{address}", window_seconds=WINDOW_SECONDS) > cap:
        raise NewVisitorLimit()
