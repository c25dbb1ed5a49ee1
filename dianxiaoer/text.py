"""Text that can be stored and sent back out: no NUL, no lone UTF-16 surrogate.

JSON can carry both (``"\\u0000"``, ``"\\ud800"``) and Python decodes them into a ``str``.
PostgreSQL refuses NUL in text; a lone surrogate has no UTF-8 form, so once stored (SQLite
keeps it escaped in JSON) every frame and API answer that encodes it fails. Every way text
comes in refuses them: socket frames (``inbox.consumers.base.str_field``), the webhook's shape
checks, and the services that store buyers' and agents' words.
"""
import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(value: str) -> bool:
    """Whether ``value`` holds neither NUL nor a lone surrogate."""
    return _UNSTORABLE.search(value) is None


def require_storable(*values: str) -> None:
    """Raise ``ValidationError`` (a service's refusal) if any of ``values`` is not storable."""
    if not all(storable(value) for value in values):
        raise ValidationError(_("Text must not contain NUL or unpaired surrogate characters."))
