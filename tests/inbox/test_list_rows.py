"""The list API's value rows must stay exactly what ConversationSerializer (and live events) give."""
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from rest_framework.fields import DateTimeField

from inbox import services
from inbox.list_rows import conversation_rows, conversation_values, iso_datetime
from inbox.models import Conversation
from inbox.serializers import ConversationSerializer

from ..factories import ConversationFactory, TagFactory


def _normalized(row: dict) -> dict:
    return {**row, "customer": {**row["customer"], "tags": sorted(row["customer"]["tags"])}}


def test_rows_equal_serializer_output(shop, web_channel, agent):
    tagged = ConversationFactory(shop=shop, channel=web_channel, waiting_since=timezone.now())
    tagged.customer.tags.add(TagFactory(shop=shop, name="VIP"), TagFactory(shop=shop, name="老客户"))
    services.conversation_assign(conversation=tagged, assignee=agent, actor=agent)
    plain = ConversationFactory(shop=shop, channel=web_channel)
    services.conversation_resolve(conversation=plain, actor=agent)
    services.conversation_rate(conversation=plain, customer=plain.customer, score=4)
    snoozed = ConversationFactory(shop=shop, channel=web_channel)
    services.conversation_snooze(conversation=snoozed, until=timezone.now() + timedelta(hours=1), actor=agent)

    conversations = Conversation.objects.filter(pk__in=[tagged.pk, plain.pk, snoozed.pk]).order_by("id")
    rows = conversation_rows(list(conversation_values(conversations)))
    expected = ConversationSerializer(conversations.select_related("customer", "channel", "assignee"), many=True).data

    assert [_normalized(row) for row in rows] == [_normalized(dict(row)) for row in expected]


def test_no_rows_no_query(db, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert conversation_rows([]) == []


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "UTC", "America/New_York"])
@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 11, 24, 8, 30, 5, 123456, tzinfo=UTC),
        datetime(2026, 3, 8, 6, 59, 59, tzinfo=UTC),  # around New York's DST change
        datetime(2026, 11, 24, 16, 0, tzinfo=ZoneInfo("Asia/Shanghai")) + timedelta(microseconds=1),
    ],
)
def test_iso_datetime_writes_what_drf_writes(zone, value):
    with timezone.override(zone):
        assert iso_datetime(value) == DateTimeField().to_representation(value)
