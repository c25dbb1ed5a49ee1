"""Small building blocks for the input serializers of the API views.

Input serializers only check the *shape* of a request (types, presence, lengths the wire
format imposes); what a value means is the service's business.
"""
from collections.abc import Mapping

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers


class StrictCharField(serializers.CharField):
    """A text field that refuses numbers, booleans and other non-strings instead of coercing."""

    default_error_messages = {"invalid": _("Must be text.")}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class BodySerializer(serializers.Serializer):
    """A request body's shape: unknown fields are refused, so a typo never passes silently."""

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            unknown = sorted(str(key) for key in data if key not in self.fields)
            if unknown:
                raise serializers.ValidationError({key: [_("Unknown field.")] for key in unknown})
        return super().to_internal_value(data)


def validated(serializer_class: type[serializers.Serializer], data, **kwargs) -> dict:
    """The validated data of ``data``, or a 400 naming what is wrong."""
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
