import importlib

from django.apps import apps

from customers.models import Customer
from inbox.buyer_identity import visitor_buyer_id

from ..factories import CustomerFactory

visitor_ids_per_shop = importlib.import_module("customers.migrations.0003_visitor_buyer_ids_per_shop")


def test_old_visitor_ids_become_the_ids_their_visitors_now_get(shop):
    visitor_id = "0123456789abcdef0123456789abcdef"
    visitor = CustomerFactory(shop=shop, platform_buyer_id=f"visitor-{visitor_id}")
    platform_buyer = CustomerFactory(shop=shop, platform_buyer_id="tb-visitor-fan")
    odd = CustomerFactory(shop=shop, platform_buyer_id="visitor-not-a-visitor-id")
    visitor_ids_per_shop.rename_visitors(apps, None)
    assert Customer.objects.get(pk=visitor.pk).platform_buyer_id == visitor_buyer_id(shop_id=shop.pk, visitor_id=visitor_id)
    assert Customer.objects.get(pk=platform_buyer.pk).platform_buyer_id == "tb-visitor-fan"
    assert Customer.objects.get(pk=odd.pk).platform_buyer_id == "visitor-not-a-visitor-id"
