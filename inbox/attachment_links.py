"""Links to chat images for whoever has neither a session nor a buyer token: the platforms.

An agent's reply to a platform buyer (``inbox.tasks.deliver_message``) carries its images as
links that the platform fetches and shows itself. Such a link must be absolute (``SITE_URL``)
and must open the image without a login. It carries a signed token that names the attachment
and expires; ``views.attachment`` accepts it as ``?s=``.
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


def attachment_link(attachment_id: int) -> str:
    """The absolute, signed URL of an image; ImproperlyConfigured without ``SITE_URL``."""
    if not settings.SITE_URL:
        raise ImproperlyConfigured("SITE_URL is not set, so images cannot be linked for the platform.")
    token = signing.TimestampSigner(salt=LINK_SALT).sign(str(attachment_id))
    return f"{settings.SITE_URL}{reverse('inbox:attachment', args=[attachment_id])}?{urlencode({'s': token})}"


def attachment_link_opens(token: str, attachment_id: int) -> bool:
    """Whether ``token`` is an unexpired link token for this attachment."""
    try:
        return signing.TimestampSigner(salt=LINK_SALT).unsign(token, max_age=LINK_MAX_AGE_SECONDS) == str(attachment_id)
    except signing.BadSignature:
        return False
