"""Writes to buyer profiles: first contact, edits, tags."""
import pytest
from django.core.exceptions import ValidationError

from customers import events
from customers.models import Customer, Tag
from customers.services import MAX_TAGS, customer_get_or_create, customer_tag_add, customer_tag_remove, customer_update
from inbox import realtime

from ..factories import CustomerFactory, TagFactory


def test_first_contact_creates_profile_once(shop):
    first = customer_get_or_create(shop=shop, platform_buyer_id=" tb-42 ", nickname="小明")
    assert (first.platform_buyer_id, first.nickname) == ("tb-42", "小明")
    assert first.first_contact_at is not None and first.last_contact_at == first.first_contact_at
    again = customer_get_or_create(shop=shop, platform_buyer_id="tb-42")
    assert again.pk == first.pk
    assert again.nickname == "小明"  # an empty nickname never erases the known one


def test_new_nickname_is_remembered(shop):
    customer = customer_get_or_create(shop=shop, platform_buyer_id="tb-1", nickname="旧名")
    customer_get_or_create(shop=shop, platform_buyer_id="tb-1", nickname="新名")
    customer.refresh_from_db()
    assert customer.nickname == "新名"


def test_same_buyer_id_in_two_shops_is_two_profiles(shop, other_shop):
    a = customer_get_or_create(shop=shop, platform_buyer_id="tb-1")
    b = customer_get_or_create(shop=other_shop, platform_buyer_id="tb-1")
    assert a.pk != b.pk


def test_long_nickname_is_cut(shop):
    assert len(customer_get_or_create(shop=shop, platform_buyer_id="tb-1", nickname="名" * 150).nickname) == 100


@pytest.mark.parametrize("buyer_id", ["", "   ", None, "x" * 101, "tb\x00", "tb\ud800"])
def test_bad_buyer_id_is_refused(shop, buyer_id):
    with pytest.raises(ValidationError):
        customer_get_or_create(shop=shop, platform_buyer_id=buyer_id)
    assert not Customer.objects.exists()


@pytest.mark.parametrize("nickname", ["小\x00明", "小\udc00明"])
def test_a_nickname_that_cannot_be_stored_is_refused(shop, nickname):
    with pytest.raises(ValidationError):
        customer_get_or_create(shop=shop, platform_buyer_id="tb-1", nickname=nickname)
    assert not Customer.objects.exists()


def test_update_fields(shop):
    customer = CustomerFactory(shop=shop)
    customer_update(customer=customer, name="王五", phone="13800000000", notes="备注", vip_level=10)
    customer.refresh_from_db()
    assert (customer.name, customer.phone, customer.notes, customer.vip_level) == ("王五", "13800000000", "备注", 10)
    assert customer.masked_phone == "138****0000"


@pytest.mark.parametrize(
    "fields",
    [{"vip_level": 11}, {"vip_level": -1}, {"platform_buyer_id": "x"}, {"shop_id": 2}, {"name": "x" * 101}, {"phone": "1" * 33}],
)
def test_update_refuses_bad_fields(shop, fields):
    customer = CustomerFactory(shop=shop, name="原名")
    with pytest.raises(ValidationError):
        customer_update(customer=customer, **fields)
    customer.refresh_from_db()
    assert customer.name == "原名"


def test_tags_are_replaced_by_name_within_the_shop(shop, other_shop):
    foreign_tag = TagFactory(shop=other_shop, name="VIP")
    customer = CustomerFactory(shop=shop)
    customer_update(customer=customer, tags=[" VIP ", "VIP", "售后"])
    assert sorted(customer.tags.values_list("name", flat=True)) == ["VIP", "售后"]
    assert foreign_tag not in customer.tags.all()
    assert all(tag.shop_id == shop.pk for tag in customer.tags.all())
    customer_update(customer=customer, tags=["售后"])
    assert list(customer.tags.values_list("name", flat=True)) == ["售后"]
    assert Tag.objects.filter(shop=shop).count() == 2  # unused tags stay for reuse
    customer_update(customer=customer, name="x")  # tags=None leaves tags alone
    assert list(customer.tags.values_list("name", flat=True)) == ["售后"]


@pytest.mark.parametrize("tags", [[""], ["  "], ["x" * 31], [None], [3]])
def test_bad_tags_are_refused(shop, tags):
    customer = CustomerFactory(shop=shop)
    with pytest.raises(ValidationError):
        customer_update(customer=customer, tags=tags)
    assert not Tag.objects.exists()


@pytest.mark.parametrize("phone, masked", [("", ""), ("12345", "*****"), ("13812345678", "138****5678")])
def test_masked_phone(phone, masked):
    assert Customer(phone=phone).masked_phone == masked


def test_update_is_published_to_the_shops_agents_after_commit(shop, django_capture_on_commit_callbacks, monkeypatch):
    sent = []
    monkeypatch.setattr("inbox.realtime._send", sent.extend)
    customer = CustomerFactory(shop=shop, nickname="小明")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        customer_update(customer=customer, vip_level=2, tags=["老客"])
    assert sent == []
    for callback in callbacks:
        callback()
    [(group, frame)] = sent
    assert group == realtime.shop_agents_group(shop.pk)
    assert frame == events.customer_updated_frame(Customer.objects.get(pk=customer.pk))
    assert (frame["customer"]["vip_level"], frame["customer"]["tags"]) == (2, ["老客"])


def test_tags_are_added_and_taken_off_one_at_a_time(shop):
    customer = CustomerFactory(shop=shop)
    customer_tag_add(customer=customer, name=" 老客户 ")
    customer_tag_add(customer=customer, name="老客户")  # had it already: no change
    assert customer_tag_add(customer=customer, name="易退款").tag_names == ["老客户", "易退款"]
    assert customer_tag_remove(customer=customer, name="老客户").tag_names == ["易退款"]
    assert customer_tag_remove(customer=customer, name="不存在").tag_names == ["易退款"]
    assert list(customer.tags.values_list("name", flat=True)) == ["易退款"]
    assert Tag.objects.filter(shop=shop).count() == 2  # unused tags stay for reuse


def test_an_add_keeps_tags_added_since_the_profile_was_read(shop):
    """Two agents' panels hold the same profile; each adds a tag: both stay (a PATCH of the
    whole list from either panel would have dropped the other's)."""
    seen_by_one = CustomerFactory(shop=shop)
    seen_by_two = Customer.objects.get(pk=seen_by_one.pk)
    customer_tag_add(customer=seen_by_one, name="小美加的")
    customer_tag_add(customer=seen_by_two, name="阿强加的")
    customer_update(customer=seen_by_one, notes="只发顺丰")  # a later edit of another field keeps them too
    assert Customer.objects.get(pk=seen_by_one.pk).tag_names == ["小美加的", "阿强加的"]


@pytest.mark.parametrize("name", ["", "  ", "x" * 31, None, 3])
def test_bad_tag_names_are_refused_one_at_a_time(shop, name):
    customer = CustomerFactory(shop=shop)
    with pytest.raises(ValidationError):
        customer_tag_add(customer=customer, name=name)
    with pytest.raises(ValidationError):
        customer_tag_remove(customer=customer, name=name)
    assert not Tag.objects.exists()


def test_a_buyer_has_at_most_max_tags(shop):
    customer = CustomerFactory(shop=shop)
    customer_update(customer=customer, tags=[f"t{n}" for n in range(MAX_TAGS)])
    customer_tag_add(customer=customer, name="t0")  # one they have: still fine
    with pytest.raises(ValidationError):
        customer_tag_add(customer=customer, name="one too many")
    assert len(Customer.objects.get(pk=customer.pk).tag_names) == MAX_TAGS


@pytest.mark.parametrize("edit", ["add", "remove"])
def test_a_tag_edit_is_published_to_the_shops_agents_after_commit(shop, edit, django_capture_on_commit_callbacks, monkeypatch):
    sent = []
    monkeypatch.setattr("inbox.realtime._send", sent.extend)
    customer = CustomerFactory(shop=shop)
    customer.tags.add(TagFactory(shop=shop, name="老客"))
    with django_capture_on_commit_callbacks(execute=True):
        if edit == "add":
            customer_tag_add(customer=customer, name="VIP")
        else:
            customer_tag_remove(customer=customer, name="老客")
    [(group, frame)] = sent
    assert group == realtime.shop_agents_group(shop.pk)
    assert frame == events.customer_updated_frame(Customer.objects.get(pk=customer.pk))
    assert frame["customer"]["tags"] == (["老客", "VIP"] if edit == "add" else [])
