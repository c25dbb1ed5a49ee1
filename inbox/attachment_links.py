"""Links to chat images for whoever has no agent session: buyers and platforms.

A link carries a signed token that names one attachment and expires; ``views.attachment``
accepts it as ``?s=``. The buyer's page gets such links in its messages, so an image address
copied out of the chat opens that image for a while, not the buyer's whole chat (as their
session token in the URL did). An agent's reply to a platform buyer
(``inbox.tasks.deliver_message``) carries absolute ones (``SITE_URL``), which the platform
fetches and shows itself.
"""
from urllib.parse import urlencode

from django.conf import settings
from django.core import signing
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

LINK_SALT = "inbox.attachment-link"
# Long enough for a platform that fetches late or re-fetches, short enough that a leaked
# link does not open the image for good.
LINK_MAX_AGE_SECONDS = 7 * 24 * 3600


def attachment_path(attachment_id: int) -> str:
    """The signed path of an image (for the buyer's page)."""
    token = signing.TimestampSigner(salt=LINK_SALT).sign(str(attachment_id))
    return f"{reverse('inbox:attachment', args=[attachment_id])}?{urlencode({'s': token})}"


def attachment_link(attachment_id: int) -> str:
    """The absolute, signed URL of an image; ImproperlyConfigured without ``SITE_URL``."""
    if not settings.SITE_URL:
        raise ImproperlyConfigured("SITE_URL is not set, so images cannot be linked for the platform.")
    return f"{settings.SITE_URL}{attachment_path(attachment_id)}"


def attachment_link_opens(token: str, attachment_id: int) -> bool:
    """Whether ``token`` is an unexpired link token for this attachment."""
    try:
        return signing.TimestampSigner(salt=LINK_SALT).unsign(token, max_age=LINK_MAX_AGE_SECONDS) == str(attachment_id)
    except signing.BadSignature:
        return False
