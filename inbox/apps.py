from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InboxConfig(AppConfig):
    name = "inbox"
    verbose_name = _("Inbox")

    def ready(self) -> None:
        from . import access_signals, checks  # noqa: F401  (checks register themselves)

        access_signals.connect()
