"""Shared fixtures: a shop with an agent, a supervisor and an admin, and an outsider shop."""
import pytest
from channels.layers import channel_layers

from accounts.models import Role

from .factories import ChannelFactory, ConversationFactory, MembershipFactory, ShopFactory


@pytest.fixture(autouse=True)
def _fresh_channel_layer():
    """Each test starts with an empty channel layer (in-memory or Redis)."""
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture
def shop(db):
    return ShopFactory()


@pytest.fixture
def agent(shop):
    return MembershipFactory(shop=shop, role=Role.AGENT).user


@pytest.fixture
def supervisor(shop):
    return MembershipFactory(shop=shop, role=Role.SUPERVISOR).user


@pytest.fixture
def admin_user(shop):
    return MembershipFactory(shop=shop, role=Role.ADMIN).user


@pytest.fixture
def other_shop(db):
    return ShopFactory()


@pytest.fixture
def outsider(other_shop):
    """An admin of another shop: must never see anything of ``shop``."""
    return MembershipFactory(shop=other_shop, role=Role.ADMIN).user


@pytest.fixture
def web_channel(shop):
    return ChannelFactory(shop=shop)


@pytest.fixture
def conversation(shop, web_channel):
    return ConversationFactory(shop=shop, channel=web_channel)
