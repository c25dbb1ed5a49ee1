"""Keep ``Customer.tag_names`` equal to the names of the customer's tags.

Every way tags change goes through here: a customer's tags set, added, removed or cleared
(services and the admin alike), a tag renamed, a tag deleted (its links go by cascade, which
sends no m2m signal).
"""
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete
from django.dispatch import receiver

from .models import Customer, Tag


def tag_names_refresh(customer_ids) -> None:
    """Recompute ``tag_names`` of these customers from their tags."""
    names: dict[int, list[str]] = {customer_id: [] for customer_id in customer_ids}
    if not names:
        return
    links = Customer.tags.through.objects.filter(customer_id__in=names).order_by("tag_id")
    for customer_id, name in links.values_list("customer_id", "tag__name"):
        names[customer_id].append(name)
    customers = Customer.objects.filter(pk__in=names).only("pk", "tag_names")
    changed = [c for c in customers if c.tag_names != names[c.pk]]
    for customer in changed:
        customer.tag_names = names[customer.pk]
    Customer.objects.bulk_update(changed, ["tag_names"])


@receiver(m2m_changed, sender=Customer.tags.through)
def _links_changed(sender, instance, action, reverse, pk_set, **kwargs) -> None:
    if action == "pre_clear" and reverse:
        instance._tag_customer_ids = list(instance.customers.values_list("pk", flat=True))
    elif action in ("post_add", "post_remove", "post_clear"):
        if not reverse:
            tag_names_refresh([instance.pk])
        elif action == "post_clear":
            tag_names_refresh(getattr(instance, "_tag_customer_ids", []))
        else:
            tag_names_refresh(pk_set or [])


@receiver(post_save, sender=Tag)
def _tag_saved(sender, instance, created, **kwargs) -> None:
    if not created:
        tag_names_refresh(instance.customers.values_list("pk", flat=True))


@receiver(pre_delete, sender=Tag)
def _tag_deleting(sender, instance, **kwargs) -> None:
    instance._tag_customer_ids = list(instance.customers.values_list("pk", flat=True))


@receiver(post_delete, sender=Tag)
def _tag_deleted(sender, instance, **kwargs) -> None:
    tag_names_refresh(getattr(instance, "_tag_customer_ids", []))
