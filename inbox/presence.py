"""Which agents are online: counted per user over their open agent sockets.

The agent socket calls :func:`presence_connect` when it opens, :func:`presence_heartbeat`
every ``HEARTBEAT_SECONDS`` while open and :func:`presence_disconnect` when it closes; two tabs
count as two connections, and the agent goes offline when the last one closes. A server
process that dies without running its disconnects leaves a count behind: an agent only
counts as online while some socket has beaten within ``PRESENCE_TTL``, and the next connect
after a stale period starts the count afresh. Nobody would hear that the agent went offline,
so a beat sweep (:func:`presence_expire_stale`) clears stale counts and broadcasts them; a
socket still alive in a process that had merely stalled that long counts itself back in with
its next heartbeat.

Changes between online and offline are broadcast as ``{"type": "presence", "user_id",
"online"}`` frames to every agents group of the user's shops, and as ``{"type": "staffed",
"staffed"}`` (is any agent of the shop online?) to the shop's buyer sockets, whose chat page
says whether someone will answer now. Routing asks :func:`agents_online` for the agents it
may give a conversation to.
"""
from datetime import timedelta

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import Membership, User

from . import realtime
from .models import AgentPresence

HEARTBEAT_SECONDS = 30
PRESENCE_TTL = timedelta(seconds=3 * HEARTBEAT_SECONDS)


def _fresh_since():
    return timezone.now() - PRESENCE_TTL


@transaction.atomic
def presence_connect(*, user_id: int) -> bool:
    """Count one more socket of the agent; True when the agent thereby came online."""
    now = timezone.now()
    row, _ = AgentPresence.objects.select_for_update().get_or_create(user_id=user_id, defaults={"last_seen_at": now})
    was_online = row.connections > 0 and row.last_seen_at >= now - PRESENCE_TTL
    row.connections = row.connections + 1 if was_online else 1
    row.last_seen_at = now
    row.save(update_fields=["connections", "last_seen_at"])
    return not was_online


@transaction.atomic
def presence_disconnect(*, user_id: int) -> bool:
    """Count one socket less; True when that was the agent's last one (now offline)."""
    row = AgentPresence.objects.select_for_update().filter(user_id=user_id).first()
    if row is None or row.connections == 0:
        return False
    row.connections -= 1
    row.save(update_fields=["connections"])
    return row.connections == 0


@transaction.atomic
def presence_heartbeat(*, user_id: int) -> bool:
    """Mark the agent as still there (one of their sockets is alive); True when that brings
    them back online after the sweep had counted them out."""
    row = AgentPresence.objects.select_for_update().filter(user_id=user_id).first()
    if row is None:
        return False
    came_back = row.connections == 0
    row.connections = max(row.connections, 1)
    row.last_seen_at = timezone.now()
    row.save(update_fields=["connections", "last_seen_at"])
    return came_back


@transaction.atomic
def presence_expire_stale() -> list[int]:
    """Count out the agents whose sockets all went silent (their server process died), and
    tell their shops after the commit; returns their ids. Idempotent: a counted-out agent is
    not stale any more, and rows another sweep holds are skipped."""
    stale = list(
        AgentPresence.objects.select_for_update(skip_locked=True)
        .filter(connections__gt=0, last_seen_at__lt=_fresh_since())
        .values_list("user_id", flat=True)
    )
    if not stale:
        return []
    AgentPresence.objects.filter(user_id__in=stale).update(connections=0)
    shops_of: dict[int, list[int]] = {user_id: [] for user_id in stale}
    for user_id, shop_id in Membership.objects.filter(user_id__in=stale).order_by("shop_id").values_list("user_id", "shop_id"):
        shops_of[user_id].append(shop_id)
    staffed = shops_staffed(shop_ids=sorted({shop_id for shop_ids in shops_of.values() for shop_id in shop_ids}))
    messages = []
    for user_id, shop_ids in shops_of.items():
        messages += presence_messages(user_id=user_id, shop_ids=shop_ids, online=False, staffed=staffed)
    realtime.publish_frames_on_commit(messages)
    return stale


def agents_online(*, shop_id: int) -> QuerySet[User]:
    """The shop's members with at least one live agent socket."""
    return User.objects.filter(
        memberships__shop_id=shop_id,
        presence__connections__gt=0,
        presence__last_seen_at__gte=_fresh_since(),
        is_active=True,
    ).order_by("id")


def online_user_ids(*, shop_ids: list[int]) -> dict[int, list[int]]:
    """For each shop, the ids of its online members (for an agent socket's hello)."""
    result: dict[int, list[int]] = {shop_id: [] for shop_id in shop_ids}
    rows = (
        Membership.objects.filter(
            shop_id__in=shop_ids,
            user__presence__connections__gt=0,
            user__presence__last_seen_at__gte=_fresh_since(),
            user__is_active=True,
        )
        .order_by("user_id")
        .values_list("shop_id", "user_id")
    )
    for shop_id, user_id in rows:
        result[shop_id].append(user_id)
    return result


def shops_staffed(*, shop_ids: list[int]) -> dict[int, bool]:
    """For each shop, whether any of its agents is online."""
    return {shop_id: bool(user_ids) for shop_id, user_ids in online_user_ids(shop_ids=shop_ids).items()}


def presence_frame(*, user_id: int, online: bool) -> dict:
    return {"type": "presence", "user_id": user_id, "online": online}


def staffed_frame(*, staffed: bool) -> dict:
    return {"type": "staffed", "staffed": staffed}


def presence_messages(*, user_id: int, shop_ids: list[int], online: bool, staffed: dict[int, bool]) -> list[tuple[str, dict]]:
    """What to tell when ``user_id`` came online or went offline: the agents of each shop,
    and its buyers whether the shop is ``staffed`` now."""
    messages = []
    for shop_id in shop_ids:
        messages.append((realtime.shop_agents_group(shop_id), presence_frame(user_id=user_id, online=online)))
        messages.append((realtime.shop_buyers_group(shop_id), staffed_frame(staffed=staffed[shop_id])))
    return messages


async def presence_broadcast(*, user_id: int, shop_ids: list[int], online: bool, staffed: dict[int, bool]) -> None:
    """Send :func:`presence_messages` now (from an agent socket opening or closing)."""
    await realtime.send_frames(presence_messages(user_id=user_id, shop_ids=shop_ids, online=online, staffed=staffed))
