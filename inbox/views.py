"""Server-rendered pages and access-checked file downloads of the inbox."""
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.utils.translation import gettext as _

from accounts.selectors import shop_ids_for

from .models import Attachment


@login_required
def attachment(request, attachment_id: int):
    """An uploaded image, for members of the shop it belongs to."""
    found = Attachment.objects.filter(pk=attachment_id, shop_id__in=shop_ids_for(request.user)).first()
    if found is None:
        raise Http404(_("Not found."))
    return FileResponse(found.file.open("rb"), content_type=found.content_type)
