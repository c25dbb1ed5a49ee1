"""Access-checked reads of buyer profiles."""
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.selectors import shop_ids_for

from .models import Customer


def customer_list(*, user: User, q: str | None = None, shop_id: int | None = None) -> QuerySet[Customer]:
    shop_ids = shop_ids_for(user)
    if shop_id is not None:
        shop_ids = [s for s in shop_ids if s == shop_id]
    qs = Customer.objects.filter(shop_id__in=shop_ids)
    if q:
        qs = qs.filter(Q(nickname__icontains=q) | Q(platform_buyer_id__icontains=q) | Q(name__icontains=q))
    return qs.order_by("-last_contact_at", "-id")


def customer_get(*, user: User, customer_id: int) -> Customer:
    try:
        return Customer.objects.prefetch_related("addresses").get(pk=customer_id, shop_id__in=shop_ids_for(user))
    except (Customer.DoesNotExist, ValueError, TypeError):
        raise Http404(_("Customer not found."))
