"""Checks on uploaded chat images: real image data, an allowed format, a bounded size."""
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

ALLOWED_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}
MAX_PIXELS = 40_000_000


@dataclass(frozen=True)
class CheckedImage:
    file: UploadedFile
    content_type: str
    width: int
    height: int


def check_image(upload: UploadedFile) -> CheckedImage:
    """Return the image's facts, or raise ValidationError saying what is wrong with it."""
    if upload.size > settings.ATTACHMENT_MAX_BYTES:
        raise ValidationError(
            _("Image is too large: %(size)d bytes, the limit is %(limit)d.")
            % {"size": upload.size, "limit": settings.ATTACHMENT_MAX_BYTES}
        )
    try:
        upload.seek(0)
        with Image.open(upload) as image:
            image_format, (width, height) = image.format, image.size
            if width * height > MAX_PIXELS:
                raise ValidationError(_("Image has too many pixels."))
            image.verify()
    except Image.DecompressionBombError:  # PIL refuses to even open one far past MAX_PIXELS
        raise ValidationError(_("Image has too many pixels."))
    except (UnidentifiedImageError, OSError, SyntaxError):
        raise ValidationError(_("File is not a valid image."))
    finally:
        upload.seek(0)
    if image_format not in ALLOWED_FORMATS:
        raise ValidationError(_("Unsupported image type; use JPEG, PNG, GIF or WebP."))
    return CheckedImage(file=upload, content_type=ALLOWED_FORMATS[image_format], width=width, height=height)
