import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from inbox import realtime
from orders.models import Order
from orders.services import order_upsert

from ..factories import CustomerFactory

PLACED = timezone.make_aware(datetime.datetime(2026, 11, 20, 10, 0))
PAID = PLACED + datetime.timedelta(minutes=5)
ITEMS = [{"title": "纯棉T恤", "sku": "TS-L", "quantity": 2, "price": "99.50"}]


@pytest.fixture
def customer(shop):
    return CustomerFactory(shop=shop)


def upsert(shop, customer, **overrides):
    kwargs = {
        "shop": shop,
        "customer": customer,
        "platform_order_id": "T1001",
        "status": "pending_payment",
        "total_amount": "199.00",
        "items": ITEMS,
        "placed_at": PLACED,
    }
    kwargs.update(overrides)
    return order_upsert(**kwargs)


def test_creates_then_updates_one_order(shop, customer):
    order, created = upsert(shop, customer)
    assert created
    assert (order.status, order.total_amount, order.paid_at) == ("pending_payment", Decimal("199.00"), None)
    assert order.items == ITEMS

    again, created_again = upsert(shop, customer, status="paid", paid_at=PAID, total_amount=Decimal("180.5"))
    assert not created_again
    assert again.pk == order.pk
    order.refresh_from_db()
    assert (order.status, order.total_amount, order.paid_at) == ("paid", Decimal("180.50"), PAID)
    assert Order.objects.count() == 1


def test_same_number_in_another_shop_is_another_order(shop, other_shop, customer):
    upsert(shop, customer)
    upsert(other_shop, CustomerFactory(shop=other_shop))
    assert Order.objects.count() == 2


@pytest.mark.parametrize(
    "current, incoming, expected",
    [
        ("pending_payment", "paid", "paid"),
        ("paid", "shipped", "shipped"),
        ("shipped", "signed", "signed"),
        ("shipped", "paid", "shipped"),
        ("signed", "pending_payment", "signed"),
        ("paid", "closed", "closed"),
        ("signed", "closed", "closed"),
        ("closed", "paid", "closed"),
        ("closed", "pending_payment", "closed"),
    ],
)
def test_status_never_moves_backwards(shop, customer, current, incoming, expected):
    upsert(shop, customer, status=current)
    order, _ = upsert(shop, customer, status=incoming)
    assert order.status == expected


def test_known_paid_at_is_kept_when_a_late_event_omits_it(shop, customer):
    upsert(shop, customer, status="paid", paid_at=PAID)
    order, _ = upsert(shop, customer, status="shipped", paid_at=None)
    assert order.paid_at == PAID


def test_naive_times_are_read_in_the_shop_time_zone(shop, customer):
    order, _ = upsert(shop, customer, placed_at=datetime.datetime(2026, 11, 20, 10, 0))
    order.refresh_from_db()
    assert order.placed_at == PLACED


def test_items_are_normalized(shop, customer):
    items = [
        {"title": " 帽子 ", "quantity": 1, "price": 30},
        {"title": "袜子", "sku": None, "quantity": 3, "price": Decimal("5.5")},
    ]
    order, _ = upsert(shop, customer, items=items)
    assert order.items == [
        {"title": "帽子", "sku": "", "quantity": 1, "price": "30.00"},
        {"title": "袜子", "sku": "", "quantity": 3, "price": "5.50"},
    ]


@pytest.mark.parametrize(
    "overrides",
    [
        {"total_amount": "-0.01"},
        {"total_amount": "1.005"},
        {"total_amount": "abc"},
        {"total_amount": 1.5},
        {"total_amount": "NaN"},
        {"total_amount": "100000000000"},
        {"status": "lost"},
        {"platform_order_id": ""},
        {"platform_order_id": "x" * 65},
        {"placed_at": None},
        {"placed_at": "2026-11-20"},
        {"paid_at": "yesterday"},
        {"items": "T恤"},
        {"items": [{"title": "", "quantity": 1, "price": "1"}]},
        {"items": [{"title": "T恤", "quantity": 0, "price": "1"}]},
        {"items": [{"title": "T恤", "quantity": True, "price": "1"}]},
        {"items": [{"title": "T恤", "quantity": 1, "price": "-1"}]},
        {"items": [{"title": "T恤", "quantity": 1}]},
        {"items": ["T恤"]},
    ],
)
def test_bad_values_are_refused_and_store_nothing(shop, customer, overrides):
    with pytest.raises(ValidationError):
        upsert(shop, customer, **overrides)
    assert not Order.objects.exists()


def test_bad_update_leaves_the_order_as_it_was(shop, customer):
    upsert(shop, customer, status="paid")
    with pytest.raises(ValidationError):
        upsert(shop, customer, status="shipped", total_amount="-1")
    order = Order.objects.get()
    assert (order.status, order.total_amount) == ("paid", Decimal("199.00"))


def test_customer_of_another_shop_is_refused(shop, other_shop):
    with pytest.raises(ValidationError):
        upsert(shop, CustomerFactory(shop=other_shop))
    assert not Order.objects.exists()


def test_order_number_of_another_buyer_is_refused(shop, customer):
    upsert(shop, customer)
    with pytest.raises(ValidationError):
        upsert(shop, CustomerFactory(shop=shop), status="paid")
    order = Order.objects.get()
    assert (order.customer, order.status) == (customer, "pending_payment")


def test_zero_amount_is_fine(shop, customer):
    order, _ = upsert(shop, customer, total_amount="0", items=[])
    assert order.total_amount == Decimal("0.00")


def test_creating_and_updating_tell_the_shops_agents_after_commit(shop, customer, django_capture_on_commit_callbacks, monkeypatch):
    sent = []
    monkeypatch.setattr("inbox.realtime._send", sent.extend)
    for published, status in enumerate(("pending_payment", "paid")):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            upsert(shop, customer, status=status)
        assert len(sent) == published  # nothing before commit
        for callback in callbacks:
            callback()
    frame = {"type": "customer.orders", "customer_id": customer.pk}
    assert sent == [(realtime.shop_agents_group(shop.pk), frame)] * 2
