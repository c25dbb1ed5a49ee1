"""Writes to platform orders.

Orders arrive from the platform (the webhook, later a sync job); ``order_upsert`` is the one
way they are stored. Webhooks arrive out of order and more than once, so an upsert never moves
an order's status backwards: a late "paid" after "shipped" updates amounts and items but keeps
"shipped", and a closed order stays closed.
"""
import datetime
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Shop
from customers.models import Customer
from inbox import realtime

from .models import Order

MAX_AMOUNT = Decimal("9999999999.99")  # Order.total_amount: 12 digits, 2 decimal places
MAX_ITEMS = 200
MAX_ITEM_TITLE_LENGTH = 200
MAX_SKU_LENGTH = 100
MAX_QUANTITY = 1_000_000

# The normal life of an order; "closed" ends it from any state (unpaid timeout or refund).
_STATUS_RANK = {
    Order.Status.PENDING_PAYMENT: 0,
    Order.Status.PAID: 1,
    Order.Status.SHIPPED: 2,
    Order.Status.SIGNED: 3,
    Order.Status.CLOSED: 4,
}


def _money(value, *, label: str) -> Decimal:
    """A non-negative amount with at most two decimal places, as a Decimal."""
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise ValidationError(_("%(label)s must be a decimal number such as \"199.00\".") % {"label": label})
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValidationError(_("%(label)s must be a decimal number such as \"199.00\".") % {"label": label})
    if not amount.is_finite():
        raise ValidationError(_("%(label)s must be a decimal number such as \"199.00\".") % {"label": label})
    if amount < 0:
        raise ValidationError(_("%(label)s must not be negative.") % {"label": label})
    if amount > MAX_AMOUNT:
        raise ValidationError(_("%(label)s is too large.") % {"label": label})
    if amount != amount.quantize(Decimal("0.01")):
        raise ValidationError(_("%(label)s has at most two decimal places.") % {"label": label})
    return amount.quantize(Decimal("0.01"))


def _clean_items(items: Iterable[Mapping]) -> list[dict]:
    """Order lines as stored: title, sku, quantity (int >= 1) and unit price ("12.50")."""
    if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, Iterable):
        raise ValidationError(_("Order items must be a list."))
    cleaned = []
    for index, item in enumerate(items):
        if len(cleaned) >= MAX_ITEMS:
            raise ValidationError(_("An order has at most %(max)d items.") % {"max": MAX_ITEMS})
        label = _("Item %(n)d") % {"n": index + 1}
        if not isinstance(item, Mapping):
            raise ValidationError(_("%(label)s must be an object.") % {"label": label})
        title = item.get("title")
        if not isinstance(title, str) or not title.strip() or len(title) > MAX_ITEM_TITLE_LENGTH:
            raise ValidationError(
                _("%(label)s needs a title of 1 to %(max)d characters.") % {"label": label, "max": MAX_ITEM_TITLE_LENGTH}
            )
        sku = item.get("sku", "")
        if sku is None:
            sku = ""
        if not isinstance(sku, str) or len(sku) > MAX_SKU_LENGTH:
            raise ValidationError(
                _("%(label)s: the SKU is text of at most %(max)d characters.") % {"label": label, "max": MAX_SKU_LENGTH}
            )
        quantity = item.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= MAX_QUANTITY:
            raise ValidationError(_("%(label)s: the quantity must be a whole number of at least 1.") % {"label": label})
        price = _money(item.get("price"), label=_("%(label)s: the price") % {"label": label})
        cleaned.append({"title": title.strip(), "sku": sku.strip(), "quantity": quantity, "price": str(price)})
    return cleaned


def _check_moment(value, *, label: str, required: bool) -> datetime.datetime | None:
    if value is None and not required:
        return None
    if not isinstance(value, datetime.datetime):
        raise ValidationError(_("%(label)s must be a date and time.") % {"label": label})
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


def _merge_status(current: str, incoming: str) -> str:
    """The status after an update: forward moves win, backward ones (late events) are ignored."""
    if current == Order.Status.CLOSED:
        return current
    return incoming if _STATUS_RANK[incoming] >= _STATUS_RANK[current] else current


@transaction.atomic
def order_upsert(
    *,
    shop: Shop,
    customer: Customer,
    platform_order_id: str,
    status: str,
    total_amount,
    items: Iterable[Mapping],
    placed_at: datetime.datetime,
    paid_at: datetime.datetime | None = None,
) -> tuple[Order, bool]:
    """Create the shop's order with this platform number, or update it; returns ``(order, created)``.

    An update never moves the status backwards (see the module docstring) and never clears a
    known ``paid_at``. An order number already stored for another buyer is refused.
    """
    platform_order_id = (platform_order_id or "").strip() if isinstance(platform_order_id, str) else ""
    if not platform_order_id or len(platform_order_id) > 64:
        raise ValidationError(_("An order number of 1 to 64 characters is required."))
    if status not in Order.Status.values:
        raise ValidationError(
            _("Unknown order status: %(status)s (expected one of %(choices)s).")
            % {"status": status, "choices": ", ".join(Order.Status.values)}
        )
    if customer.shop_id != shop.pk:
        raise ValidationError(_("Customer and order belong to different shops."))
    amount = _money(total_amount, label=_("The order amount"))
    cleaned_items = _clean_items(items)
    placed_at = _check_moment(placed_at, label=_("The order time"), required=True)
    paid_at = _check_moment(paid_at, label=_("The payment time"), required=False)

    order = Order.objects.select_for_update().filter(shop=shop, platform_order_id=platform_order_id).first()
    if order is None:
        try:
            with transaction.atomic():
                order = Order.objects.create(
                    shop=shop,
                    customer=customer,
                    platform_order_id=platform_order_id,
                    status=status,
                    total_amount=amount,
                    items=cleaned_items,
                    placed_at=placed_at,
                    paid_at=paid_at,
                )
            _publish_orders_changed(order)
            return order, True
        except IntegrityError:
            # Another event for the same order was stored between our read and our insert.
            order = Order.objects.select_for_update().get(shop=shop, platform_order_id=platform_order_id)

    if order.customer_id != customer.pk:
        raise ValidationError(_("Order %(number)s belongs to another buyer.") % {"number": platform_order_id})
    order.status = _merge_status(order.status, status)
    order.total_amount = amount
    order.items = cleaned_items
    order.placed_at = placed_at
    order.paid_at = paid_at or order.paid_at
    order.save()
    _publish_orders_changed(order)
    return order, False


def _publish_orders_changed(order: Order) -> None:
    """Tell the shop's agents after commit: a side panel showing the buyer reloads its orders
    (an agent chasing a payment sees it arrive)."""
    realtime.publish_on_commit(
        shop_id=order.shop_id, agent_payload={"type": "customer.orders", "customer_id": order.customer_id}
    )
