"""Access-checked reads of orders."""
from django.db.models import QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.selectors import shop_ids_for
from customers.models import Customer

from .models import Order


def order_list(*, user: User, customer_id: int) -> QuerySet[Order]:
    """A buyer's orders (the caller pages them newest first); 404 when the buyer is unknown or in a shop the user cannot reach."""
    shop_ids = shop_ids_for(user)
    try:
        visible = Customer.objects.filter(pk=customer_id, shop_id__in=shop_ids).exists()
    except (ValueError, TypeError):
        visible = False
    if not visible:
        raise Http404(_("Customer not found."))
    return Order.objects.filter(customer_id=customer_id, shop_id__in=shop_ids)
