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


def _send(group: str, payload: dict) -> None:
    layer = get_channel_layer()
    async_to_sync(layer.group_send)(group, {"type": "conv.event", "payload": payload})


def publish_on_commit(*, shop_id: int, conversation_id: int, agent_payload: dict, buyer_payload: dict | None) -> None:
    """Queue one event for agents of the shop and, unless None, its buyer-side form."""

    def publish() -> None:
        _send(shop_agents_group(shop_id), agent_payload)
        if buyer_payload is not None:
            _send(conversation_group(conversation_id), buyer_payload)

    transaction.on_commit(publish)


def publish_ephemeral(*, shop_id: int, conversation_id: int, payload: dict, to_agents: bool, to_buyer: bool) -> None:
    """Send a state-less signal (typing) right away: it is never stored, so never resynced."""
    if to_agents:
        _send(shop_agents_group(shop_id), payload)
    if to_buyer:
        _send(conversation_group(conversation_id), payload)
