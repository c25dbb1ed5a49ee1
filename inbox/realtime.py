"""Publishing conversation events to websocket groups, after the write commits.

A service calls :func:`publish_on_commit` inside its transaction; nothing is sent unless the
transaction commits, so a client never sees an event the database does not hold. Each event
costs at most two ``group_send`` calls: one to the shop's agents, one to the buyer's
conversation group (skipped for agent-only events such as private notes).
"""
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction


def shop_agents_group(shop_id: int) -> str:
    return f"shop-{shop_id}-agents"


def conversation_group(conversation_id: int) -> str:
    return f"conv-{conversation_id}"


async def _send_all(messages: list[tuple[str, dict]]) -> None:
    layer = get_channel_layer()
    for group, payload in messages:
        await layer.group_send(group, {"type": "conv.event", "payload": payload})


def _send(messages: list[tuple[str, dict]]) -> None:
    """Send to groups in order, in one hop to the event loop (each hop costs a thread switch)."""
    async_to_sync(_send_all)(messages)


def _targets(*, shop_id: int, conversation_id: int, agent_payload: dict | None, buyer_payload: dict | None) -> list:
    targets = []
    if agent_payload is not None:
        targets.append((shop_agents_group(shop_id), agent_payload))
    if buyer_payload is not None:
        targets.append((conversation_group(conversation_id), buyer_payload))
    return targets


def publish_on_commit(*, shop_id: int, conversation_id: int, agent_payload: dict, buyer_payload: dict | None) -> None:
    """Queue one event for agents of the shop and, unless None, its buyer-side form."""
    targets = _targets(shop_id=shop_id, conversation_id=conversation_id, agent_payload=agent_payload, buyer_payload=buyer_payload)
    transaction.on_commit(lambda: _send(targets))


def publish_ephemeral(*, shop_id: int, conversation_id: int, payload: dict, to_agents: bool, to_buyer: bool) -> None:
    """Send a state-less signal (typing) right away: it is never stored, so never resynced."""
    _send(
        _targets(
            shop_id=shop_id,
            conversation_id=conversation_id,
            agent_payload=payload if to_agents else None,
            buyer_payload=payload if to_buyer else None,
        )
    )
