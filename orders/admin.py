from django.contrib import admin

from .models import Order


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ("platform_order_id", "shop", "customer", "status", "total_amount", "placed_at")
    list_select_related = ("shop", "customer")
    search_fields = ("platform_order_id",)
