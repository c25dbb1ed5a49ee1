"""Organizations, shops, teams and the people who work in them.

A seller (Organization) runs one or more shops; every business row in the product belongs to
exactly one Shop, and a user reaches a shop's data only through a Membership with a role.
"""
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class Organization(models.Model):
    name = models.CharField(_("name"), max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("organization")
        verbose_name_plural = _("organizations")

    def __str__(self) -> str:
        return self.name


class Shop(models.Model):
    class Platform(models.TextChoices):
        TAOBAO = "taobao", _("Taobao / Tmall")
        JD = "jd", _("JD")
        PDD = "pdd", _("Pinduoduo")
        WEB = "web", _("Own website")

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="shops")
    name = models.CharField(_("name"), max_length=100)
    slug = models.SlugField(_("slug"), max_length=50, unique=True)
    platform = models.CharField(_("platform"), max_length=16, choices=Platform.choices, default=Platform.WEB)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("shop")
        verbose_name_plural = _("shops")

    def __str__(self) -> str:
        return self.name


class Team(models.Model):
    """A group of agents (售前, 售后, VIP) that conversations are routed to."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="teams")
    name = models.CharField(_("name"), max_length=50)

    class Meta:
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        constraints = [models.UniqueConstraint(fields=["shop", "name"], name="team_unique_name_per_shop")]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    display_name = models.CharField(_("display name"), max_length=50, blank=True)
    avatar = models.ImageField(_("avatar"), upload_to="avatars/", blank=True)

    @property
    def nickname(self) -> str:
        """The 客服昵称 buyers see: the display name, else the username."""
        return self.display_name or self.username


class Role(models.TextChoices):
    AGENT = "agent", _("Agent")
    SUPERVISOR = "supervisor", _("Supervisor")
    ADMIN = "admin", _("Admin")


ROLE_RANK = {Role.AGENT: 1, Role.SUPERVISOR: 2, Role.ADMIN: 3}


class Membership(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.AGENT)
    teams = models.ManyToManyField(Team, blank=True, related_name="members")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [models.UniqueConstraint(fields=["user", "shop"], name="membership_unique_user_shop")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.shop} ({self.role})"

    def has_role(self, role: str) -> bool:
        """True when this membership's role is at least ``role``."""
        return ROLE_RANK[Role(self.role)] >= ROLE_RANK[Role(role)]
