from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts and shops")

    def ready(self) -> None:
        from . import identity_cache, login_guard

        identity_cache.connect()
        login_guard.connect()
