"""Live profile frames carry what the profile API shows, plus the notes."""
import datetime

from customers.api import CustomerListSerializer
from customers.events import customer_data

from ..factories import CustomerFactory


def test_customer_data_equals_the_list_serializer_plus_notes(shop, settings):
    settings.TIME_ZONE = "Asia/Shanghai"
    customer = CustomerFactory(
        shop=shop,
        nickname="爱吃鱼的猫",
        name="王五",
        phone="13812345678",
        notes="只收顺丰",
        vip_level=3,
        tag_names=["VIP", "售后"],
        first_contact_at=datetime.datetime(2026, 11, 1, 8, 30, tzinfo=datetime.UTC),
        last_contact_at=None,
    )
    expected = {**CustomerListSerializer(customer).data, "notes": "只收顺丰"}
    assert customer_data(customer) == expected
    assert expected["masked_phone"] == "138****5678" and expected["last_contact_at"] is None
