"""Platform orders, linked to the buyer profile they belong to."""
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import Shop
from customers.models import Customer


class Order(models.Model):
    class Status(models.TextChoices):
        PENDING_PAYMENT = "pending_payment", _("Awaiting payment")
        PAID = "paid", _("Paid")
        SHIPPED = "shipped", _("Shipped")
        SIGNED = "signed", _("Signed for")
        CLOSED = "closed", _("Closed")

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="orders")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="orders")
    platform_order_id = models.CharField(_("order number"), max_length=64)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.PENDING_PAYMENT)
    total_amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2, default=0)
    items = models.JSONField(_("items"), default=list, blank=True)
    placed_at = models.DateTimeField(_("placed at"))
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        constraints = [
            models.UniqueConstraint(fields=["shop", "platform_order_id"], name="order_unique_number_per_shop")
        ]
        # A buyer's orders page by (placed_at, id), newest first (the side panel's list).
        indexes = [models.Index(fields=["customer", "-placed_at", "-id"], name="order_customer_recent")]

    def __str__(self) -> str:
        return self.platform_order_id
