"""Chat visitors' buyer ids become a keyed hash of shop and visitor id (inbox/buyer_identity.py).

They were ``visitor-<visitor id>``: the cookie's bearer secret, shown to agents and the same in
every shop. Each such profile is renamed to the id its visitor now gets, so returning visitors
keep their profile and history.
"""
import re

from django.db import migrations
from django.utils.crypto import salted_hmac

OLD_VISITOR_ID = re.compile(r"^visitor-([0-9a-f]{32})$")
# Frozen copy of inbox.buyer_identity.visitor_buyer_id as of this migration.
SALT = "dxe.visitor-buyer-id"


def hashed(shop_id: int, visitor_id: str) -> str:
    return "visitor-" + salted_hmac(SALT, f"{shop_id}:{visitor_id}", algorithm="sha256").hexdigest()[:32]


def rename_visitors(apps, schema_editor):
    Customer = apps.get_model("customers", "Customer")
    for customer in Customer.objects.filter(platform_buyer_id__startswith="visitor-").only("shop_id", "platform_buyer_id"):
        match = OLD_VISITOR_ID.match(customer.platform_buyer_id)
        if match:
            customer.platform_buyer_id = hashed(customer.shop_id, match.group(1))
            customer.save(update_fields=["platform_buyer_id"])


class Migration(migrations.Migration):
    dependencies = [("customers", "0002_customer_tag_names")]

    operations = [migrations.RunPython(rename_visitors, migrations.RunPython.noop)]
