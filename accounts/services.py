"""Writes to organizations, shops, teams, users and memberships.

Plain functions with keyword-only arguments, one transaction each; they raise
``ValidationError`` for bad input. Commands (``seed_demo``), the admin and later onboarding
screens create tenants and people through these.
"""
from collections.abc import Iterable

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import transaction
from django.utils.translation import gettext as _

from .models import Membership, Organization, Role, Shop, Team, User


def _required(value: str, *, label: str, max_length: int) -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationError(_("%(label)s is required.") % {"label": label})
    if len(value) > max_length:
        raise ValidationError(_("%(label)s is at most %(max)d characters.") % {"label": label, "max": max_length})
    return value


@transaction.atomic
def organization_create(*, name: str) -> Organization:
    """A seller: the owner of one or more shops."""
    return Organization.objects.create(name=_required(name, label=_("Name"), max_length=100))


@transaction.atomic
def shop_create(*, organization: Organization, name: str, slug: str, platform: str = Shop.Platform.WEB) -> Shop:
    """A shop of ``organization``; ``slug`` is global and appears in the buyer chat URL."""
    name = _required(name, label=_("Name"), max_length=100)
    slug = _required(slug, label=_("Slug"), max_length=50).lower()
    validate_slug(slug)
    if platform not in Shop.Platform.values:
        raise ValidationError(_("Unknown platform: %(platform)s.") % {"platform": platform})
    if Shop.objects.filter(slug=slug).exists():
        raise ValidationError(_("The slug %(slug)s is taken.") % {"slug": slug})
    return Shop.objects.create(organization=organization, name=name, slug=slug, platform=platform)


@transaction.atomic
def team_create(*, shop: Shop, name: str) -> Team:
    """A group of agents of one shop (售前, 售后, VIP); names are unique per shop."""
    name = _required(name, label=_("Name"), max_length=50)
    if Team.objects.filter(shop=shop, name=name).exists():
        raise ValidationError(_("This shop already has a team named %(name)s.") % {"name": name})
    return Team.objects.create(shop=shop, name=name)


@transaction.atomic
def user_create(
    *,
    username: str,
    password: str,
    display_name: str = "",
    email: str = "",
    is_staff: bool = False,
    is_superuser: bool = False,
) -> User:
    """A person who can log in; ``display_name`` is the 客服昵称 buyers see.

    The password goes through ``AUTH_PASSWORD_VALIDATORS``.
    """
    username = _required(username, label=_("Username"), max_length=150)
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError(_("The username %(username)s is taken.") % {"username": username})
    display_name = (display_name or "").strip()
    if len(display_name) > 50:
        raise ValidationError(_("A display name is at most 50 characters."))
    user = User(
        username=username,
        display_name=display_name,
        email=(email or "").strip(),
        is_staff=is_staff or is_superuser,
        is_superuser=is_superuser,
    )
    User.username_validator(username)
    validate_password(password, user=user)
    user.set_password(password)
    user.save()
    return user


@transaction.atomic
def membership_add(
    *, user: User, shop: Shop, role: str = Role.AGENT, teams: Iterable[Team] = ()
) -> Membership:
    """Give ``user`` a role in ``shop`` (or change the role they have) and set their teams."""
    if role not in Role.values:
        raise ValidationError(_("Unknown role: %(role)s.") % {"role": role})
    teams = list(teams)
    if any(team.shop_id != shop.pk for team in teams):
        raise ValidationError(_("A team of another shop cannot be given."))
    membership, created = Membership.objects.get_or_create(user=user, shop=shop, defaults={"role": role})
    if not created and membership.role != role:
        membership.role = role
        membership.save(update_fields=["role"])
    membership.teams.set(teams)
    return membership
