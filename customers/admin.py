from django.contrib import admin

from .models import Address, Customer, Tag


class AddressInline(admin.TabularInline):
    model = Address
    extra = 0


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("nickname", "platform_buyer_id", "shop", "vip_level", "last_contact_at")
    list_select_related = ("shop",)
    search_fields = ("nickname", "platform_buyer_id", "name")
    list_filter = ("shop",)
    inlines = [AddressInline]


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ("name", "shop")
