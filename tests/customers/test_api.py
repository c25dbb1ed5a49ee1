"""Buyer profiles over the API: lists, masked details and edits."""
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from customers.models import Address, Customer, Tag

from ..factories import ChannelFactory, ConversationFactory, CustomerFactory, MembershipFactory, TagFactory

API = "/api/v1"
RAW_PHONE = "13812345678"


@pytest.fixture
def api(agent) -> APIClient:
    client = APIClient()
    client.force_login(agent)
    return client


@pytest.fixture
def customer(shop):
    customer = CustomerFactory(
        shop=shop, name="张三", phone=RAW_PHONE, notes="喜欢蓝色", vip_level=2, last_contact_at=timezone.now()
    )
    customer.tags.add(TagFactory(shop=shop, name="老客户"))
    Address.objects.create(
        customer=customer, recipient="张三", phone="13987654321", region="浙江省杭州市西湖区", detail="文三路 1 号", is_default=True
    )
    return customer


def assert_error(response, status_code: int, *, field: str | None = None) -> dict:
    assert response.status_code == status_code, response.content
    error = response.json()["error"]
    assert error["code"] and error["message"]
    if field is not None:
        assert field in error["fields"], error
    return error


def test_list_and_filters(api, shop, customer, other_shop):
    older = CustomerFactory(shop=shop, nickname="小红", last_contact_at=timezone.now() - timedelta(days=1))
    CustomerFactory(shop=other_shop, nickname="外人")
    body = api.get(f"{API}/customers/").json()
    assert [row["id"] for row in body["results"]] == [customer.pk, older.pk]
    assert body["next"] is None
    assert body["results"][0]["masked_phone"] == "138****5678"
    assert body["results"][0]["tags"] == ["老客户"]
    assert [row["id"] for row in api.get(f"{API}/customers/?q=小红").json()["results"]] == [older.pk]
    assert [row["id"] for row in api.get(f"{API}/customers/?q=张三").json()["results"]] == [customer.pk]
    assert api.get(f"{API}/customers/?shop={other_shop.pk}").json()["results"] == []
    assert_error(api.get(f"{API}/customers/?shop=abc"), 400, field="shop")
    assert_error(api.get(f"{API}/customers/?cursor=zzz"), 400, field="cursor")


def test_list_pages_through_null_contact_times(api, shop):
    now = timezone.now()
    for i in range(7):
        CustomerFactory(shop=shop, last_contact_at=now - timedelta(minutes=i // 2))
    for _ in range(5):
        CustomerFactory(shop=shop, last_contact_at=None)
    contacted = list(Customer.objects.filter(last_contact_at__isnull=False).order_by("-last_contact_at", "-id").values_list("id", flat=True))
    never = list(Customer.objects.filter(last_contact_at__isnull=True).order_by("-id").values_list("id", flat=True))
    seen, link = [], f"{API}/customers/?page_size=3"
    while link:
        body = api.get(link).json()
        seen += [row["id"] for row in body["results"]]
        link = body["next"]
    assert seen == contacted + never


def test_detail_never_contains_a_raw_phone(api, customer, shop):
    channel = ChannelFactory(shop=shop)
    conversations = [ConversationFactory(shop=shop, customer=customer, channel=channel) for _ in range(6)]
    response = api.get(f"{API}/customers/{customer.pk}/")
    assert response.status_code == 200
    assert RAW_PHONE.encode() not in response.content
    assert b"13987654321" not in response.content
    body = response.json()
    assert "phone" not in body
    assert body["masked_phone"] == "138****5678"
    assert body["addresses"] == [
        {
            "id": customer.addresses.get().pk,
            "recipient": "张三",
            "masked_phone": "139****4321",
            "region": "浙江省杭州市西湖区",
            "detail": "文三路 1 号",
            "is_default": True,
        }
    ]
    assert body["notes"] == "喜欢蓝色"
    assert body["vip_level"] == 2
    assert body["tags"] == ["老客户"]
    assert body["first_contact_at"] is None and body["last_contact_at"]
    recent = [row["id"] for row in body["recent_conversations"]]
    assert len(recent) == 5
    assert set(recent) <= {c.pk for c in conversations}


def test_patch_edits_profile_and_replaces_tags(api, customer, shop):
    response = api.patch(
        f"{API}/customers/{customer.pk}/",
        {"name": "李四", "phone": "+86 139-0000-1111", "notes": "要发票", "vip_level": 5, "tags": ["VIP", " 老客户 ", "VIP"]},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["name"] == "李四"
    assert body["notes"] == "要发票"
    assert body["vip_level"] == 5
    assert sorted(body["tags"]) == ["VIP", "老客户"]
    assert "139-0000-1111" not in response.content.decode()
    customer.refresh_from_db()
    assert customer.phone == "+86 139-0000-1111"
    assert Tag.objects.filter(shop=shop).count() == 2

    cleared = api.patch(f"{API}/customers/{customer.pk}/", {"tags": []}, format="json")
    assert cleared.json()["tags"] == []
    untouched = api.patch(f"{API}/customers/{customer.pk}/", {"notes": ""}, format="json").json()
    assert untouched["name"] == "李四" and untouched["notes"] == ""


@pytest.mark.parametrize(
    "data, field",
    [
        ({"vip_level": 11}, None),
        ({"vip_level": -1}, None),
        ({"vip_level": "gold"}, "vip_level"),
        ({"phone": "call me"}, "phone"),
        ({"phone": "1" * 33}, "phone"),
        ({"name": "x" * 101}, "name"),
        ({"name": 5}, "name"),
        ({"tags": "VIP"}, "tags"),
        ({"tags": [""]}, None),
        ({"tags": ["x" * 31]}, None),
        ({"tags": [1]}, "tags"),
        ({"tags": ["t"] * 21}, "tags"),
        ({"nickname": "改名"}, "nickname"),
        ({"platform_buyer_id": "hijack"}, "platform_buyer_id"),
        ({"shop": 2}, "shop"),
    ],
)
def test_patch_bad_input_changes_nothing(api, customer, data, field):
    before = Customer.objects.values().get(pk=customer.pk)
    tags_before = list(customer.tags.values_list("name", flat=True))
    assert_error(api.patch(f"{API}/customers/{customer.pk}/", data, format="json"), 400, field=field)
    assert Customer.objects.values().get(pk=customer.pk) == before
    assert list(customer.tags.values_list("name", flat=True)) == tags_before


def test_patch_bad_json_is_400(api, customer):
    assert_error(api.patch(f"{API}/customers/{customer.pk}/", "{", content_type="application/json"), 400)


def test_foreign_customer_is_404_for_read_and_write(outsider, customer):
    client = APIClient()
    client.force_login(outsider)
    foreign = assert_error(client.get(f"{API}/customers/{customer.pk}/"), 404)
    assert foreign == assert_error(client.get(f"{API}/customers/999999/"), 404)
    assert_error(client.patch(f"{API}/customers/{customer.pk}/", {"name": "黑客"}, format="json"), 404)
    customer.refresh_from_db()
    assert customer.name == "张三"
    assert client.get(f"{API}/customers/").json()["results"] == []


def test_methods_not_allowed(api, customer):
    assert_error(api.post(f"{API}/customers/", {}, format="json"), 405)
    assert_error(api.delete(f"{API}/customers/{customer.pk}/"), 405)
    assert_error(api.put(f"{API}/customers/{customer.pk}/", {}, format="json"), 405)


def test_tags_are_added_and_taken_off_one_at_a_time(api, customer):
    tags = f"{API}/customers/{customer.pk}/tags/"
    added = api.post(tags, {"name": " VIP "}, format="json")
    assert added.status_code == 200, added.content
    assert added.json()["tags"] == ["老客户", "VIP"]
    assert added.json()["notes"] == "喜欢蓝色"  # the whole profile, as GET shows it
    assert api.post(tags, {"name": "VIP"}, format="json").json()["tags"] == ["老客户", "VIP"]
    removed = api.delete(f"{tags}?name=老客户")
    assert removed.status_code == 200, removed.content
    assert removed.json()["tags"] == ["VIP"]
    assert api.delete(f"{tags}?name=老客户").json()["tags"] == ["VIP"]
    assert list(customer.tags.values_list("name", flat=True)) == ["VIP"]


def test_two_agents_adding_tags_from_the_same_old_profile_keep_both(api, customer, shop):
    colleague = APIClient()
    colleague.force_login(MembershipFactory(shop=shop).user)
    seen = api.get(f"{API}/customers/{customer.pk}/").json()["tags"]
    assert colleague.get(f"{API}/customers/{customer.pk}/").json()["tags"] == seen
    api.post(f"{API}/customers/{customer.pk}/tags/", {"name": "小美加的"}, format="json")
    body = colleague.post(f"{API}/customers/{customer.pk}/tags/", {"name": "阿强加的"}, format="json").json()
    assert body["tags"] == ["老客户", "小美加的", "阿强加的"]


@pytest.mark.parametrize(
    "data, field",
    [({}, "name"), ({"name": 5}, "name"), ({"name": ""}, None), ({"name": "x" * 31}, None), ({"name": "a", "tags": []}, "tags")],
)
def test_tag_add_bad_input_changes_nothing(api, customer, data, field):
    assert_error(api.post(f"{API}/customers/{customer.pk}/tags/", data, format="json"), 400, field=field)
    assert list(customer.tags.values_list("name", flat=True)) == ["老客户"]


def test_tag_remove_needs_a_name(api, customer):
    assert_error(api.delete(f"{API}/customers/{customer.pk}/tags/"), 400, field="name")
    assert_error(api.delete(f"{API}/customers/{customer.pk}/tags/?name="), 400)
    assert list(customer.tags.values_list("name", flat=True)) == ["老客户"]


def test_another_shops_customer_tags_are_404(outsider, customer):
    client = APIClient()
    client.force_login(outsider)
    tags = f"{API}/customers/{customer.pk}/tags/"
    unknown = assert_error(client.post(f"{API}/customers/999999/tags/", {"name": "VIP"}, format="json"), 404)
    assert assert_error(client.post(tags, {"name": "VIP"}, format="json"), 404) == unknown
    assert_error(client.delete(f"{tags}?name=老客户"), 404)
    assert list(customer.tags.values_list("name", flat=True)) == ["老客户"]
    assert not Tag.objects.filter(name="VIP").exists()
