"""Factories for every model tests need; one place that knows how to build valid rows."""
import io

import factory
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from accounts.models import Membership, Organization, Role, Shop, Team, User
from customers.models import Customer, Tag
from inbox.models import Channel, Conversation
from orders.models import Order


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"商家{n}")


class ShopFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Shop

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"店铺{n}")
    slug = factory.Sequence(lambda n: f"shop-{n}")


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    shop = factory.SubFactory(ShopFactory)
    name = factory.Sequence(lambda n: f"售前{n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    display_name = factory.Sequence(lambda n: f"客服{n}")
    password = factory.PostGenerationMethodCall("set_password", "pw-123456")

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    shop = factory.SubFactory(ShopFactory)
    role = Role.AGENT


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag

    shop = factory.SubFactory(ShopFactory)
    name = factory.Sequence(lambda n: f"标签{n}")


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    shop = factory.SubFactory(ShopFactory)
    platform_buyer_id = factory.Sequence(lambda n: f"buyer-{n}")
    nickname = factory.Sequence(lambda n: f"买家{n}")


class ChannelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Channel

    shop = factory.SubFactory(ShopFactory)
    kind = Channel.Kind.WEB
    name = "网页聊天"


class ConversationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Conversation

    shop = factory.SubFactory(ShopFactory)
    customer = factory.SubFactory(CustomerFactory, shop=factory.SelfAttribute("..shop"))
    channel = factory.SubFactory(ChannelFactory, shop=factory.SelfAttribute("..shop"))
    last_message_at = factory.LazyFunction(timezone.now)


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    shop = factory.SubFactory(ShopFactory)
    customer = factory.SubFactory(CustomerFactory, shop=factory.SelfAttribute("..shop"))
    platform_order_id = factory.Sequence(lambda n: f"T{100000 + n}")
    total_amount = "99.00"
    placed_at = factory.LazyFunction(timezone.now)


def png_bytes(size=(8, 6), color=(255, 90, 31)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def png_upload(name: str = "pic.png", **kwargs) -> SimpleUploadedFile:
    """A real PNG upload, as a browser's multipart form sends it."""
    return SimpleUploadedFile(name, png_bytes(**kwargs), content_type="image/png")
