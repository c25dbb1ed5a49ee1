"""Fixed-window hit counters in the cache (shared by every process when the cache is Redis),
and the client address that limits count by."""
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle


def client_address(request) -> str:
    """The client's address, ``NUM_PROXIES`` proxies back (DRF's throttle identity)."""
    return BaseThrottle().get_ident(request)


def window_hits(key: str, *, window_seconds: int) -> int:
    """Count a hit under ``key``; the hits in its window so far, this one included.

    The window starts at a key's first hit and lasts ``window_seconds``.
    """
    cache.add(key, 0, timeout=window_seconds)
    try:
        return cache.incr(key)
    except ValueError:  # the window ended between add and incr: this hit starts the next
        cache.add(key, 1, timeout=window_seconds)
        return 1
