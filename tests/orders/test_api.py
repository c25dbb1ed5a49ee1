import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from ..factories import CustomerFactory, OrderFactory

URL = reverse("order-list")


@pytest.fixture
def customer(shop):
    return CustomerFactory(shop=shop)


def test_lists_a_buyers_orders_newest_first(client, agent, customer):
    now = timezone.now()
    old = OrderFactory(shop=customer.shop, customer=customer, placed_at=now - datetime.timedelta(days=3))
    new = OrderFactory(
        shop=customer.shop,
        customer=customer,
        placed_at=now,
        paid_at=now,
        status="paid",
        total_amount="199.00",
        items=[{"title": "纯棉T恤", "sku": "TS-L", "quantity": 2, "price": "99.50"}],
    )
    OrderFactory(shop=customer.shop)  # another buyer's
    client.force_login(agent)
    response = client.get(URL, {"customer": customer.pk})
    assert response.status_code == 200
    results = response.json()["results"]
    assert [row["id"] for row in results] == [new.pk, old.pk]
    row = results[0]
    assert row["platform_order_id"] == new.platform_order_id
    assert row["customer_id"] == customer.pk
    assert row["status"] == "paid"
    assert row["status_display"]
    assert row["total_amount"] == "199.00"
    assert row["items"] == [{"title": "纯棉T恤", "sku": "TS-L", "quantity": 2, "price": "99.50"}]
    assert row["placed_at"] and row["paid_at"]
    assert results[1]["paid_at"] is None


def test_buyer_without_orders_gets_an_empty_list(client, agent, customer):
    client.force_login(agent)
    assert client.get(URL, {"customer": customer.pk}).json() == {"results": [], "next": None}


def test_pages_follow_the_next_link_without_skipping_or_repeating(client, agent, customer):
    now = timezone.now()
    # Two orders placed in the same instant: the id orders them, and a page may end between them.
    placed = [now, now - datetime.timedelta(hours=1), now - datetime.timedelta(hours=1), now - datetime.timedelta(days=2)]
    orders = [OrderFactory(shop=customer.shop, customer=customer, placed_at=at) for at in placed]
    expected = [orders[0].pk, orders[2].pk, orders[1].pk, orders[3].pk]
    client.force_login(agent)
    seen, url, params = [], URL, {"customer": customer.pk, "page_size": 2}
    while url:
        body = client.get(url, params).json()
        seen += [row["id"] for row in body["results"]]
        url, params = body["next"], None
    assert seen == expected


def test_a_bad_cursor_is_a_400_naming_it(client, agent, customer):
    client.force_login(agent)
    response = client.get(URL, {"customer": customer.pk, "cursor": "not-a-cursor"})
    assert response.status_code == 400
    assert "cursor" in response.json()["error"]["fields"]


def test_query_count_does_not_grow_with_orders(client, agent, customer, django_assert_max_num_queries):
    for _ in range(30):
        OrderFactory(shop=customer.shop, customer=customer)
    client.force_login(agent)
    with django_assert_max_num_queries(6):
        first = client.get(URL, {"customer": customer.pk}).json()
    with django_assert_max_num_queries(6):
        second = client.get(first["next"]).json()
    assert len(first["results"]) == 25 and len(second["results"]) == 5 and second["next"] is None


@pytest.mark.parametrize("params", [{}, {"customer": ""}, {"customer": "abc"}, {"customer": "0"}])
def test_customer_is_required(client, agent, params):
    client.force_login(agent)
    response = client.get(URL, params)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert "customer" in error["fields"]


def test_foreign_and_unknown_customers_are_the_same_404(client, outsider, customer):
    OrderFactory(shop=customer.shop, customer=customer)
    client.force_login(outsider)
    foreign = client.get(URL, {"customer": customer.pk})
    unknown = client.get(URL, {"customer": customer.pk + 1000})
    assert foreign.status_code == unknown.status_code == 404
    assert foreign.json() == unknown.json()
    assert foreign.json()["error"]["code"] == "not_found"


def test_anonymous_is_refused(client, customer):
    response = client.get(URL, {"customer": customer.pk})
    assert response.status_code in (401, 403)
    assert "error" in response.json()


def test_items_stored_without_sku_still_list(client, agent, shop):
    order = OrderFactory(shop=shop, items=[{"title": "卫衣", "quantity": 1, "price": "9.90"}])
    client.force_login(agent)
    response = client.get(f"/api/v1/orders/?customer={order.customer_id}")
    assert response.status_code == 200
    assert response.json()["results"][0]["items"][0]["sku"] == ""
