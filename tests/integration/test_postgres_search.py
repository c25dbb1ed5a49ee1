"""The conversation list's message search on PostgreSQL: served by the trigram index."""
import pytest
from django.db import connection
from django.utils import timezone

from inbox import selectors, services
from inbox.models import Message

from ..factories import ConversationFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db, pytest.mark.usefixtures("postgres_only")]


def test_message_search_uses_the_trigram_index(agent, shop, web_channel):
    busy = ConversationFactory(shop=shop, channel=web_channel)
    now = timezone.now()
    Message.objects.bulk_create(
        Message(conversation=busy, shop=shop, seq=seq, sender_kind="customer", text=f"在吗 {seq} 发货了吗", created_at=now)
        for seq in range(1, 3001)
    )
    asked = ConversationFactory(shop=shop, channel=web_channel)
    services.message_send(conversation=asked, sender_kind="customer", text="羽绒服钻毛了 Down")
    services.message_send(conversation=asked, sender_kind="customer", text="在吗")
    searched = selectors.conversation_list(user=agent, q="羽绒服")
    with connection.cursor() as cursor:
        # What autovacuum does on a live server: the index's pending rows merged, statistics.
        cursor.execute("SELECT gin_clean_pending_list('inbox_message_text_trgm')")
        cursor.execute("ANALYZE inbox_message")
        cursor.execute("SET LOCAL enable_seqscan = off")  # the shop's index or the text's: not a scan
        plan = searched.explain()
    assert "inbox_message_text_trgm" in plan, plan
    assert list(searched) == [asked]
    assert list(selectors.conversation_list(user=agent, q="down")) == [asked]
