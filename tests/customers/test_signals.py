"""Customer.tag_names follows every change of a customer's tags, however it is made."""
from customers.models import Customer
from customers.services import customer_update

from ..factories import CustomerFactory, TagFactory


def names(customer) -> list[str]:
    return Customer.objects.get(pk=customer.pk).tag_names


def test_tag_names_follow_links_from_either_side(shop):
    buyer, other = CustomerFactory(shop=shop), CustomerFactory(shop=shop)
    vip, old = TagFactory(shop=shop, name="VIP"), TagFactory(shop=shop, name="老客户")
    buyer.tags.add(vip, old)
    assert names(buyer) == ["VIP", "老客户"]
    buyer.tags.remove(vip)
    assert names(buyer) == ["老客户"]
    old.customers.add(other)  # from the tag's side
    assert names(other) == ["老客户"]
    old.customers.remove(buyer)
    assert names(buyer) == []
    vip.customers.add(buyer, other)
    old.customers.clear()
    assert (names(buyer), names(other)) == (["VIP"], ["VIP"])
    buyer.tags.clear()
    assert (names(buyer), names(other)) == ([], ["VIP"])


def test_tag_names_follow_renames_deletes_and_the_service(shop):
    buyer = CustomerFactory(shop=shop)
    customer_update(customer=buyer, tags=["VIP", "易退款"])
    assert names(buyer) == ["VIP", "易退款"]
    tag = buyer.tags.get(name="VIP")
    tag.name = "大客户"
    tag.save()
    assert names(buyer) == ["大客户", "易退款"]
    tag.delete()
    assert names(buyer) == ["易退款"]
    customer_update(customer=buyer, tags=[])
    assert names(buyer) == []
