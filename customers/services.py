"""Writes to buyer profiles."""
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Shop
from dianxiaoer.text import require_storable
from inbox import realtime

from . import events
from .models import Customer, Tag

EDITABLE_FIELDS = ("nickname", "name", "phone", "notes", "vip_level")
MAX_TAG_LENGTH = 30
MAX_TAGS = 20
MAX_VIP_LEVEL = 10


def customer_get_or_create(*, shop: Shop, platform_buyer_id: str, nickname: str = "") -> Customer:
    """Find the shop's profile for a platform buyer id, creating it on first contact."""
    platform_buyer_id = (platform_buyer_id or "").strip()
    if not platform_buyer_id or len(platform_buyer_id) > 100:
        raise ValidationError(_("A buyer id of 1 to 100 characters is required."))
    nickname = (nickname or "")[:100]
    require_storable(platform_buyer_id, nickname)
    customer = Customer.objects.filter(shop=shop, platform_buyer_id=platform_buyer_id).first()
    if customer is None:
        now = timezone.now()
        try:
            with transaction.atomic():
                customer = Customer.objects.create(
                    shop=shop,
                    platform_buyer_id=platform_buyer_id,
                    nickname=nickname,
                    first_contact_at=now,
                    last_contact_at=now,
                )
        except IntegrityError:
            # Another request created the same buyer between our read and write.
            customer = Customer.objects.get(shop=shop, platform_buyer_id=platform_buyer_id)
    elif nickname and customer.nickname != nickname:
        customer.nickname = nickname
        customer.save(update_fields=["nickname"])
    return customer


def _clean_tags(names: Iterable[str]) -> list[str]:
    cleaned = []
    for name in names:
        if not isinstance(name, str) or not name.strip():
            raise ValidationError(_("Tags must be non-empty text."))
        name = name.strip()
        if len(name) > MAX_TAG_LENGTH:
            raise ValidationError(_("A tag is at most %(max)d characters.") % {"max": MAX_TAG_LENGTH})
        if name not in cleaned:
            cleaned.append(name)
    return cleaned


def _locked(customer: Customer) -> Customer:
    """The profile read afresh under its row lock (call inside a transaction): edits of one
    buyer queue behind each other, so none writes back tags or fields read before another's."""
    return Customer.objects.select_for_update().get(pk=customer.pk)


def _shop_tags(shop_id: int, names: list[str]) -> QuerySet[Tag]:
    """The shop's tags of these names, the missing ones created."""
    existing = set(Tag.objects.filter(shop_id=shop_id, name__in=names).values_list("name", flat=True))
    Tag.objects.bulk_create([Tag(shop_id=shop_id, name=name) for name in names if name not in existing], ignore_conflicts=True)
    return Tag.objects.filter(shop_id=shop_id, name__in=names)


def _published(customer: Customer) -> Customer:
    """Every agent of the shop sees the change live: side panels and list rows show profiles."""
    realtime.publish_on_commit(shop_id=customer.shop_id, agent_payload=events.customer_updated_frame(customer))
    return customer


@transaction.atomic
def customer_update(*, customer: Customer, tags: Iterable[str] | None = None, **fields) -> Customer:
    """Change a profile's editable fields and, when given, replace its tags by name.

    Only the given fields are written. To add or take off one tag while others may be tagging
    the same buyer, use :func:`customer_tag_add` / :func:`customer_tag_remove`."""
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError(_("Not editable: %(fields)s.") % {"fields": ", ".join(sorted(unknown))})
    if "vip_level" in fields and not (0 <= int(fields["vip_level"]) <= MAX_VIP_LEVEL):
        raise ValidationError(_("VIP level is from 0 to %(max)d.") % {"max": MAX_VIP_LEVEL})
    names = _clean_tags(tags) if tags is not None else None
    customer = _locked(customer)
    for name, value in fields.items():
        setattr(customer, name, value)
    customer.full_clean(exclude=["shop", "tags"], validate_unique=False, validate_constraints=False)
    customer.save(update_fields=list(fields))
    if names is not None:
        customer.tags.set(_shop_tags(customer.shop_id, names))
        customer.refresh_from_db(fields=["tag_names"])  # kept by customers/signals.py
    return _published(customer)


@transaction.atomic
def customer_tag_add(*, customer: Customer, name: str) -> Customer:
    """Tag the buyer (a tag they have already is left as it is). One tag at a time under the
    profile's row lock: agents tagging one buyer at once never undo each other's tags."""
    [name] = _clean_tags([name])
    customer = _locked(customer)
    if name in customer.tag_names:
        return customer
    if len(customer.tag_names) >= MAX_TAGS:
        raise ValidationError(_("A buyer has at most %(max)d tags.") % {"max": MAX_TAGS})
    customer.tags.add(*_shop_tags(customer.shop_id, [name]))
    customer.refresh_from_db(fields=["tag_names"])
    return _published(customer)


@transaction.atomic
def customer_tag_remove(*, customer: Customer, name: str) -> Customer:
    """Take a tag off the buyer (one they do not have is no change), leaving their other tags."""
    [name] = _clean_tags([name])
    customer = _locked(customer)
    if name not in customer.tag_names:
        return customer
    customer.tags.remove(*customer.tags.filter(name=name))
    customer.refresh_from_db(fields=["tag_names"])
    return _published(customer)
