"""One JSON error shape for every API failure: ``{"error": {"code", "message", "fields"?}}``."""
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from rest_framework import exceptions, serializers, status
from rest_framework.views import exception_handler as drf_exception_handler


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body is too large."
    default_code = "too_large"


class Conflict(exceptions.APIException):
    """The request was made against a state someone else has changed meanwhile."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "The resource was changed meanwhile."
    default_code = "conflict"


def _first_message(detail) -> str:
    if isinstance(detail, dict):
        for value in detail.values():
            return _first_message(value)
        return ""
    if isinstance(detail, list):
        return _first_message(detail[0]) if detail else ""
    return str(detail)


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or _("Not found."))
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge(_("Request body is too large."))
    elif isinstance(exc, SuspiciousOperation):
        # Too many fields or files, malformed multipart and the like: the client's fault.
        exc = exceptions.ParseError(_("Malformed request."))
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    detail = response.data
    body = {"code": getattr(exc, "default_code", "error"), "message": _first_message(detail)}
    if isinstance(exc, exceptions.ValidationError):
        body["code"] = "invalid"
        body["fields"] = detail if isinstance(detail, dict) else {"non_field_errors": detail}
        response.status_code = status.HTTP_400_BAD_REQUEST
    response.data = {"error": body}
    return response


def api_not_found(request, *args, **kwargs):
    """The JSON 404 for paths under /api/ that name no endpoint (a catch-all route's view)."""
    return JsonResponse({"error": {"code": "not_found", "message": _("No such API endpoint.")}}, status=404)


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField(required=False, help_text="Per-field messages (400 only)")


class ErrorSerializer(serializers.Serializer):
    """The documented shape of every 4xx answer of the API."""

    error = ErrorBodySerializer()
