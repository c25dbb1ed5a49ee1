import pytest
from django.core.exceptions import ValidationError

from accounts import services
from accounts.models import Membership, Role, Shop

from ..factories import OrganizationFactory, ShopFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_organization_shop_and_team_are_created():
    org = services.organization_create(name=" 小二商家 ")
    shop = services.shop_create(organization=org, name="小二旗舰店", slug="Xiaoer-TB", platform=Shop.Platform.TAOBAO)
    team = services.team_create(shop=shop, name="售前")
    assert org.name == "小二商家"
    assert (shop.slug, shop.platform, shop.organization_id) == ("xiaoer-tb", "taobao", org.pk)
    assert team.shop_id == shop.pk


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": "", "slug": "ok"},
        {"name": "店", "slug": "有空格 的"},
        {"name": "店", "slug": "ok", "platform": "amazon"},
        {"name": "店", "slug": "x" * 51},
    ],
)
def test_shop_create_rejects_bad_input(kwargs):
    with pytest.raises(ValidationError):
        services.shop_create(organization=OrganizationFactory(), **kwargs)


def test_shop_slug_and_team_name_are_unique():
    shop = ShopFactory(slug="taken")
    with pytest.raises(ValidationError):
        services.shop_create(organization=OrganizationFactory(), name="店", slug="taken")
    services.team_create(shop=shop, name="售后")
    with pytest.raises(ValidationError):
        services.team_create(shop=shop, name="售后")
    services.team_create(shop=ShopFactory(), name="售后")  # another shop may reuse the name


def test_user_create_hashes_password_and_sets_nickname():
    user = services.user_create(username="xiaomei", password="demo-pass-1", display_name="小美")
    assert user.check_password("demo-pass-1")
    assert user.nickname == "小美"
    assert not user.is_staff
    boss = services.user_create(username="boss", password="demo-boss-pass", is_superuser=True)
    assert boss.is_staff and boss.is_superuser


@pytest.mark.parametrize(
    "kwargs",
    [
        {"username": "", "password": "demo-pass-1"},
        {"username": "bad name!", "password": "demo-pass-1"},
        {"username": "ok", "password": "123"},
        {"username": "ok", "password": "password"},
    ],
)
def test_user_create_rejects_bad_input(kwargs):
    with pytest.raises(ValidationError):
        services.user_create(**kwargs)


def test_user_create_refuses_taken_username_case_insensitively():
    UserFactory(username="agent1")
    with pytest.raises(ValidationError):
        services.user_create(username="Agent1", password="demo-pass-1")


def test_membership_add_sets_role_and_teams_and_updates_in_place():
    shop = ShopFactory()
    presale, aftersale = TeamFactory(shop=shop, name="售前"), TeamFactory(shop=shop, name="售后")
    user = UserFactory()
    membership = services.membership_add(user=user, shop=shop, role=Role.AGENT, teams=[presale])
    assert list(membership.teams.all()) == [presale]
    again = services.membership_add(user=user, shop=shop, role=Role.SUPERVISOR, teams=[aftersale])
    assert again.pk == membership.pk
    assert again.role == Role.SUPERVISOR
    assert list(again.teams.all()) == [aftersale]
    assert Membership.objects.filter(user=user).count() == 1


def test_membership_add_rejects_unknown_role_and_foreign_team():
    shop, user = ShopFactory(), UserFactory()
    with pytest.raises(ValidationError):
        services.membership_add(user=user, shop=shop, role="owner")
    with pytest.raises(ValidationError):
        services.membership_add(user=user, shop=shop, teams=[TeamFactory()])
    assert not Membership.objects.filter(user=user).exists()
