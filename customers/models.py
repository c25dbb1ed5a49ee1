"""Buyer profiles, one per shop and platform buyer id."""
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import Shop


class Tag(models.Model):
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="customer_tags")
    name = models.CharField(_("name"), max_length=30)

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        constraints = [models.UniqueConstraint(fields=["shop", "name"], name="tag_unique_name_per_shop")]

    def __str__(self) -> str:
        return self.name


class Customer(models.Model):
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="customers")
    platform_buyer_id = models.CharField(_("platform buyer id"), max_length=100)
    nickname = models.CharField(_("nickname"), max_length=100, blank=True)
    name = models.CharField(_("name"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="customers")
    # The tags' names in tag order, kept by customers.signals on every change of the tags, so
    # list rows and live events show them without a query per page or message.
    tag_names = models.JSONField(default=list, blank=True, editable=False)
    notes = models.TextField(_("notes"), blank=True)
    vip_level = models.PositiveSmallIntegerField(_("VIP level"), default=0)
    first_contact_at = models.DateTimeField(_("first contact"), null=True, blank=True)
    last_contact_at = models.DateTimeField(_("last contact"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        constraints = [
            models.UniqueConstraint(fields=["shop", "platform_buyer_id"], name="customer_unique_buyer_per_shop")
        ]

    def __str__(self) -> str:
        return self.nickname or self.platform_buyer_id

    @property
    def masked_phone(self) -> str:
        """The phone as agents see it: 138****5678."""
        digits = self.phone
        if len(digits) < 7:
            return "*" * len(digits)
        return f"{digits[:3]}****{digits[-4:]}"


class Address(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="addresses")
    recipient = models.CharField(_("recipient"), max_length=50)
    phone = models.CharField(_("phone"), max_length=32)
    region = models.CharField(_("region"), max_length=100, help_text=_("Province, city, district"))
    detail = models.CharField(_("street address"), max_length=200)
    is_default = models.BooleanField(_("default"), default=False)

    class Meta:
        verbose_name = _("address")
        verbose_name_plural = _("addresses")

    def __str__(self) -> str:
        return f"{self.recipient} {self.region} {self.detail}"
