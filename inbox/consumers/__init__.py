"""Websocket consumers of the inbox (protocol: docs/ARCHITECTURE.md, "Websocket protocol").

They manage groups and frames only; every write goes through ``inbox.services`` and every
read through ``inbox.selectors`` (or, for a buyer, a filter on the buyer's own customer row).
"""
from .agent import AgentConsumer
from .base import UnknownPathSocket
from .buyer import BuyerConsumer

__all__ = ["AgentConsumer", "BuyerConsumer", "UnknownPathSocket"]
