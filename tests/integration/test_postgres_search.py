"""The conversation list's message search on PostgreSQL, and the trigram index that serves it."""
import pytest
from django.db import connection

from inbox import selectors, services
from inbox.models import Message

from ..factories import ConversationFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db, pytest.mark.usefixtures("postgres_only")]


def test_the_trigram_index_serves_the_search_lookup():
    """The index's expression must be what Django writes for ``icontains`` (``UPPER(text)``),
    else it serves nothing. With scans and plain index scans off, only an index matching the
    condition can be used (which one the planner picks on a big table is its call)."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        plan = Message.objects.filter(text__icontains="羽绒服").explain()
    assert "inbox_message_text_trgm" in plan, plan


def test_message_search_on_postgresql(agent, shop, web_channel):
    asked = ConversationFactory(shop=shop, channel=web_channel)
    services.message_send(conversation=asked, sender_kind="customer", text="羽绒服钻毛了 Down")
    services.message_send(conversation=asked, sender_kind="customer", text="在吗")
    services.message_send(conversation=ConversationFactory(shop=shop, channel=web_channel), sender_kind="customer", text="在吗")
    assert list(selectors.conversation_list(user=agent, q="羽绒服")) == [asked]
    assert list(selectors.conversation_list(user=agent, q="down")) == [asked]
