"""Conversation list rows read as plain values: the list API's hot path.

Building model instances for a page (conversation, customer, channel, assignee) and running
them through DRF fields was two thirds of a list request. Reading the same columns with
``values()`` and shaping them here gives the JSON of ``ConversationSerializer`` (the schema
and the shape of live events; tests/inbox/test_list_rows.py holds the two equal) at a
fraction of the cost.
"""
from collections import defaultdict

from django.db import models
from django.db.models import QuerySet
from rest_framework.fields import DateTimeField

from customers.models import Customer

from .models import Conversation
from .serializers import ConversationSerializer

_DATETIME = DateTimeField()

_NESTED = ("customer", "channel", "assignee")
# The conversation's own columns, in the serializer's order: one list of fields, not two.
_OWN = tuple(field for field in ConversationSerializer.Meta.fields if field not in _NESTED)
_DATETIMES = tuple(
    field for field in _OWN if isinstance(Conversation._meta.get_field(field.removesuffix("_id")), models.DateTimeField)
)
_RELATED = (
    "customer_id",
    "customer__platform_buyer_id",
    "customer__nickname",
    "customer__vip_level",
    "channel_id",
    "channel__kind",
    "channel__name",
    "assignee_id",
    "assignee__username",
    "assignee__display_name",
)


def conversation_values(conversations: QuerySet[Conversation]) -> QuerySet[dict]:
    """The columns a list row shows, as dicts (filters and ordering of ``conversations`` kept)."""
    return conversations.prefetch_related(None).values(*_OWN, *_RELATED)


def _tags_by_customer(customer_ids: set[int]) -> dict[int, list[str]]:
    tags = defaultdict(list)
    links = Customer.tags.through.objects.filter(customer_id__in=customer_ids).order_by("id")
    for customer_id, name in links.values_list("customer_id", "tag__name"):
        tags[customer_id].append(name)
    return tags


def conversation_rows(values: list[dict]) -> list[dict]:
    """List rows in ``ConversationSerializer``'s shape, with one query for all customers' tags."""
    tags = _tags_by_customer({value["customer_id"] for value in values}) if values else {}
    rows = []
    for value in values:
        row = {field: value[field] for field in _OWN}
        for field in _DATETIMES:
            if row[field] is not None:
                row[field] = _DATETIME.to_representation(row[field])
        row["customer"] = {
            "id": value["customer_id"],
            "platform_buyer_id": value["customer__platform_buyer_id"],
            "nickname": value["customer__nickname"],
            "vip_level": value["customer__vip_level"],
            "tags": tags.get(value["customer_id"], []),
        }
        row["channel"] = {"id": value["channel_id"], "kind": value["channel__kind"], "name": value["channel__name"]}
        row["assignee"] = (
            {"id": value["assignee_id"], "nickname": value["assignee__display_name"] or value["assignee__username"]}
            if value["assignee_id"] is not None
            else None
        )
        rows.append(row)
    return rows
