import importlib

from datetime import timedelta

import pytest
from django.apps import apps
from django.db import IntegrityError, transaction
from django.utils import timezone

from inbox.models import Channel, Conversation, Message

from ..factories import ChannelFactory, ConversationFactory, MembershipFactory

conversation_previous = importlib.import_module("inbox.migrations.0006_conversation_previous")
delivery_error_code = importlib.import_module("inbox.migrations.0007_message_delivery_error_code")
conversation_snooze = importlib.import_module("inbox.migrations.0008_conversation_snooze")


def test_existing_follow_ups_are_linked_to_the_conversation_before_them(shop, web_channel, conversation):
    customer = conversation.customer
    platform = ChannelFactory(shop=shop, kind="platform_api")
    on_platform = ConversationFactory(shop=shop, customer=customer, channel=platform)
    second = ConversationFactory(shop=shop, customer=customer, channel=web_channel)
    third = ConversationFactory(shop=shop, customer=customer, channel=web_channel)
    someone_else = ConversationFactory(shop=shop, channel=web_channel)
    conversation_previous.link_follow_ups(apps, None)
    previous = dict(Conversation.objects.values_list("pk", "previous_id"))
    assert previous == {
        conversation.pk: None,
        on_platform.pk: None,
        second.pk: conversation.pk,
        third.pk: second.pk,
        someone_else.pk: None,
    }


@pytest.mark.parametrize(
    "sentence, code, detail",
    [
        ("no outbound URL configured", "no_outbound_url", ""),
        ("channel is inactive", "channel_inactive", ""),
        ("outbound URL must be http or https", "invalid_url", ""),
        ("SITE_URL is not set, so images cannot be linked for the platform.", "no_site_url", ""),
        ("HTTP 404", "http_4xx", "HTTP 404"),
        ("HTTP 503", "http_5xx", "HTTP 503"),
        ("HTTP 302", "http_redirect", "HTTP 302"),
        ("adapter.internal resolves to 10.0.0.8, which is not a public address", "blocked_address", "10.0.0.8"),
        ("timed out", "timeout", ""),
        ("[Errno 111] Connection refused", "refused", ""),
        ("[Errno -2] Name or service not known", "dns", ""),
        ("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed (_ssl.c:1006)", "tls", ""),
        ("Remote end closed connection without response", "invalid_response", "RemoteDisconnected"),
        ("[Errno 101] Network is unreachable", "connection", "[Errno 101] Network is unreachable"),
        ("unknown url type: 'x'", "other", "unknown url type: 'x'"),
    ],
)
def test_stored_sentences_map_to_codes(sentence, code, detail):
    assert delivery_error_code.code_of(sentence) == (code, detail)
    assert code in Message.DeliveryFailure.values


def test_old_rows_get_codes_and_rows_without_an_error_stay_blank(shop):
    channel = Channel.objects.create(shop=shop, kind=Channel.Kind.PLATFORM_API, name="淘宝")
    conversation = ConversationFactory(shop=shop, channel=channel)
    author = MembershipFactory(shop=shop).user
    rows = {}
    for n, sentence in enumerate(["HTTP 404", "no outbound URL configured", "something odd", ""]):
        rows[sentence] = Message.objects.create(
            conversation=conversation,
            shop=shop,
            seq=n + 1,
            sender_kind="agent",
            author=author,
            text="回复",
            delivery_state="failed" if sentence else "sent",
            delivery_error_detail=sentence,
            created_at=conversation.created_at,
        )
    delivery_error_code.sentences_to_codes(apps, None)
    stored = {
        sentence: tuple(Message.objects.filter(pk=m.pk).values_list("delivery_error_code", "delivery_error_detail").get())
        for sentence, m in rows.items()
    }
    assert stored == {
        "HTTP 404": ("http_4xx", "HTTP 404"),
        "no outbound URL configured": ("no_outbound_url", ""),
        "something odd": ("other", "something odd"),
        "": ("", ""),
    }


def test_pending_conversations_are_open_again(shop):
    """Nothing set "pending" (it meant nothing without a bot); a snoozed one from before the
    migration, which the model now refuses without a time, is reopened by the same update."""
    pending = ConversationFactory(shop=shop, status="pending")
    resolved = ConversationFactory(shop=shop, status="resolved")
    open_ = ConversationFactory(shop=shop)
    conversation_snooze.open_pending_and_snoozed(apps, None)
    statuses = dict(Conversation.objects.values_list("pk", "status"))
    assert statuses == {pending.pk: "open", resolved.pk: "resolved", open_.pk: "open"}


@pytest.mark.parametrize(
    "status, until",
    [("snoozed", None), ("open", timezone.now() + timedelta(hours=1)), ("resolved", timezone.now())],
)
def test_only_a_snoozed_conversation_has_a_time_to_wake_and_it_always_has_one(shop, status, until):
    with pytest.raises(IntegrityError), transaction.atomic():
        ConversationFactory(shop=shop, status=status, snoozed_until=until)
