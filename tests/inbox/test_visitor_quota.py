import pytest

from customers.models import Customer
from inbox import services, visitor_quota
from inbox.buyer_identity import BuyerSession
from inbox.models import Conversation

from ..factories import ChannelFactory, CustomerFactory


def visitor(shop, n: int, address: str = "203.0.113.9") -> BuyerSession:
    return BuyerSession(shop_id=shop.pk, buyer_id=f"visitor-{n:032x}", address=address)


@pytest.fixture
def cap_of_two(settings):
    settings.CHAT_NEW_VISITORS_PER_ADDRESS_PER_HOUR = 2


def send(channel, buyer, text="在吗", client_msg_id=None):
    return services.buyer_message_send(channel=channel, customer=buyer, text=text, client_msg_id=client_msg_id)


def test_an_address_brings_at_most_the_cap_of_new_visitors(shop, web_channel, cap_of_two):
    send(web_channel, visitor(shop, 1))
    send(web_channel, visitor(shop, 2))
    with pytest.raises(visitor_quota.NewVisitorLimit):
        send(web_channel, visitor(shop, 3))
    assert Customer.objects.filter(shop=shop).count() == 2  # the refused one left no profile
    assert Conversation.objects.filter(shop=shop).count() == 2
    send(web_channel, visitor(shop, 4, address="198.51.100.7"))  # another address has its own count


def test_an_admitted_visitor_writes_on_past_the_cap(shop, web_channel, cap_of_two):
    first = visitor(shop, 1)
    opening, _ = send(web_channel, first, client_msg_id="a")
    send(web_channel, visitor(shop, 2))
    # A second tab of the first visitor holds only its session: its profile exists, no new visitor.
    message, created = send(web_channel, first, text="还在吗", client_msg_id="b")
    assert created and message.conversation_id == opening.conversation_id


def test_each_shop_counts_its_own_new_visitors(shop, web_channel, other_shop, cap_of_two):
    other_channel = ChannelFactory(shop=other_shop)
    for n in (1, 2):
        send(web_channel, visitor(shop, n))
    send(other_channel, visitor(other_shop, 3))


def test_buyers_a_shop_vouches_for_are_not_counted(shop, web_channel, cap_of_two):
    for n in range(3):
        send(web_channel, BuyerSession(shop_id=shop.pk, buyer_id=f"tb-{n}"))  # no address: shop-signed
    send(web_channel, BuyerSession.of(CustomerFactory(shop=shop)))
    assert Customer.objects.filter(shop=shop).count() == 4


def test_a_cap_of_zero_is_off(shop, web_channel, settings):
    settings.CHAT_NEW_VISITORS_PER_ADDRESS_PER_HOUR = 0
    for n in range(5):
        send(web_channel, visitor(shop, n))
    assert Customer.objects.filter(shop=shop).count() == 5
