import importlib.util
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.management.commands import seed_demo
from accounts.models import Membership, Organization, Role, Shop, Team, User
from customers.models import Address, Customer, Tag
from inbox.models import Channel, Conversation, ConversationEvent, Message
from orders.models import Order

from ..factories import UserFactory

pytestmark = pytest.mark.django_db

COUNTED = [Organization, Shop, Team, User, Membership, Channel, Customer, Tag, Address, Order, Conversation, Message, ConversationEvent]


def _counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in COUNTED}


def _seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_seed_twice_creates_once_and_prints_logins():
    first_output = _seed()
    first = _counts()
    second_output = _seed()
    assert _counts() == first
    assert "already present" in second_output
    for username, password, _nickname, _role in seed_demo.demo_logins():
        assert username in first_output and password in first_output
        assert username in second_output and password in second_output
    assert first["Organization"] == 1
    assert first["Shop"] == 2
    assert first["Team"] == 6
    assert first["Channel"] == 4
    assert first["User"] == len(seed_demo.DEMO_USERS)
    assert first["Customer"] == len(seed_demo.BUYERS)
    assert first["Conversation"] == len(seed_demo.CONVERSATIONS)


def test_seeded_shops_channels_and_staff():
    _seed()
    shops = {shop.name: shop for shop in Shop.objects.all()}
    assert shops["小二旗舰店"].platform == Shop.Platform.TAOBAO
    assert shops["小二京东店"].platform == Shop.Platform.JD
    for shop in shops.values():
        assert sorted(shop.channels.values_list("kind", flat=True)) == ["platform_api", "web"]
        assert set(shop.teams.values_list("name", flat=True)) == {"售前", "售后", "VIP"}
    for username, password, nickname, role in seed_demo.demo_logins():
        user = User.objects.get(username=username)
        assert user.check_password(password)
        assert user.nickname == nickname
        assert Membership.objects.filter(user=user, role=role).exists()
    assert User.objects.get(username="boss").is_superuser
    assert Membership.objects.filter(role=Role.AGENT, teams__name="售前").exists()


def test_seeded_buyers_have_profiles_tags_addresses_and_orders():
    _seed()
    zhang = Customer.objects.get(nickname="张先生")
    assert zhang.masked_phone == "136****5432"
    assert set(zhang.tags.values_list("name", flat=True)) == {"VIP", "老客户"}
    assert zhang.addresses.filter(is_default=True).exists()
    assert zhang.orders.filter(status=Order.Status.PENDING_PAYMENT).exists()
    assert Tag.objects.filter(name="易退款").exists()


def test_seeded_conversations_look_like_real_traffic():
    _seed()
    conversations = list(Conversation.objects.all())
    assert any(c.assignee_id for c in conversations)
    assert any(c.assignee_id is None for c in conversations)
    assert sum(c.status == Conversation.Status.RESOLVED for c in conversations) == 1
    assert sum(c.status == Conversation.Status.SNOOZED for c in conversations) == 1  # the 稍后处理 tab has one
    assert Message.objects.filter(is_private=True).exists()
    assert Message.objects.filter(sender_kind="buyer").exists()
    assert Message.objects.filter(sender_kind="agent", is_private=False).exists()
    # Replies on the platform channels are shown as delivered, not pending or failed.
    assert not Message.objects.filter(delivery_state__in=["pending", "failed"]).exists()
    for conversation in conversations:
        seqs = sorted(
            list(conversation.messages.values_list("seq", flat=True)) + list(conversation.events.values_list("seq", flat=True))
        )
        assert seqs == list(range(1, conversation.last_seq + 1)), "history must be gapless"
        assert conversation.events.filter(kind="created", seq=1).exists()
        assert conversation.last_message_preview
    waiting = Conversation.objects.filter(waiting_since__isnull=False, assignee__isnull=True)
    assert waiting.exists(), "some buyers wait for a first answer"


def test_seed_refuses_to_clobber_foreign_users():
    UserFactory(username="agent1")
    with pytest.raises(CommandError):
        _seed()
    assert not Organization.objects.exists()


def test_bootstrap_prints_the_same_logins_as_the_seed():
    path = Path(__file__).resolve().parents[2] / "dianxiaoer" / "bootstrap.py"
    spec = importlib.util.spec_from_file_location("dxe_bootstrap_under_test", path)
    bootstrap = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bootstrap)
    assert bootstrap.DEMO_LOGINS == seed_demo.demo_logins()
