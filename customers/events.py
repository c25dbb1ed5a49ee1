"""A buyer profile as live frames carry it to the shop's agent sockets.

The fields of the profile list API (``CustomerListSerializer``) plus the notes: what the
workspace's side panel and list rows show. Built without DRF, like ``inbox/events.py``;
tests/customers/test_events.py holds it equal to the serializer.
"""
from inbox.list_rows import iso_datetime

from .models import Customer


def customer_data(customer: Customer) -> dict:
    def moment(value):
        return iso_datetime(value) if value is not None else None

    return {
        "id": customer.pk,
        "shop_id": customer.shop_id,
        "platform_buyer_id": customer.platform_buyer_id,
        "nickname": customer.nickname,
        "name": customer.name,
        "masked_phone": customer.masked_phone,
        "vip_level": customer.vip_level,
        "tags": list(customer.tag_names),
        "first_contact_at": moment(customer.first_contact_at),
        "last_contact_at": moment(customer.last_contact_at),
        "notes": customer.notes,
    }


def customer_updated_frame(customer: Customer) -> dict:
    return {"type": "customer.updated", "customer": customer_data(customer)}
