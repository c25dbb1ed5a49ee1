"""Keyset ("cursor") pagination for lists ordered newest first.

A page is the rows strictly after the last row of the previous page in the order
``(-<field>, -id)``. The cursor names that last row by its two sort values, so a page costs
one indexed range scan however deep the client has scrolled, and rows that arrive or move
while a client pages never make it skip or repeat a row it has not yet reached.

The cursor is opaque to clients: URL-safe base64 of ``[<field value>, <id>]`` in JSON. The
response is ``{"results": [...], "next": "<url of the next page>" | null}``.
"""
import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime

from django.db.models import F, Q, QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

CURSOR_PARAM = "cursor"
PAGE_SIZE_PARAM = "page_size"


def _encode(value, pk: int) -> str:
    if isinstance(value, datetime):
        value = value.isoformat()
    raw = json.dumps([value, pk], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _bad_cursor() -> ValidationError:
    return ValidationError({CURSOR_PARAM: [_("Invalid cursor; use the next link of the previous page.")]})


def _decode(cursor: str) -> tuple[datetime | None, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value, pk = json.loads(raw)
    except (binascii.Error, ValueError, TypeError):
        raise _bad_cursor()
    if not isinstance(pk, int) or isinstance(pk, bool) or pk < 0:
        raise _bad_cursor()
    if value is None:
        return None, pk
    if not isinstance(value, str):
        raise _bad_cursor()
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _bad_cursor()
    if moment.tzinfo is None:
        raise _bad_cursor()
    return moment, pk


@dataclass
class Page:
    results: list
    next_url: str | None


class KeysetPagination:
    """Pages of a queryset ordered by ``(-field, -id)``, ``field`` a (possibly null) datetime.

    Null values sort after all others (``NULLS LAST``) on every database, so SQLite and
    PostgreSQL page the same way.
    """

    default_page_size = 25
    max_page_size = 100

    def __init__(self, *, field: str, nullable: bool = False):
        self.field = field
        self.nullable = nullable

    # --- Documentation -------------------------------------------------------------------
    @classmethod
    def schema_parameters(cls) -> list[OpenApiParameter]:
        return [
            OpenApiParameter(
                CURSOR_PARAM, OpenApiTypes.STR, description=_("Opaque cursor from the previous page's next link.")
            ),
            OpenApiParameter(
                PAGE_SIZE_PARAM,
                OpenApiTypes.INT,
                description=f"Rows per page (default {cls.default_page_size}, at most {cls.max_page_size}).",
            ),
        ]

    @staticmethod
    def response_schema(name: str, item: serializers.Serializer):
        return inline_serializer(
            name=name,
            fields={"results": item, "next": serializers.URLField(allow_null=True)},
        )

    # --- Paging --------------------------------------------------------------------------
    def page_size(self, request: Request) -> int:
        raw = request.query_params.get(PAGE_SIZE_PARAM)
        if raw in (None, ""):
            return self.default_page_size
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if size < 1:
            raise ValidationError({PAGE_SIZE_PARAM: [_("page_size must be a whole number of at least 1.")]})
        return min(size, self.max_page_size)

    def _after(self, value: datetime | None, pk: int) -> Q:
        field = self.field
        if value is None:
            return Q(**{f"{field}__isnull": True, "id__lt": pk})
        # "(field, id) before (value, pk)", with the bound field <= value said on its own: the
        # OR alone is only a filter to PostgreSQL, which then reads the index from the top and
        # drops every row of the pages before (1,300 rows on page 51); the bound starts the
        # index scan at the cursor, so every page costs the same.
        after = Q(**{f"{field}__lte": value}) & (Q(**{f"{field}__lt": value}) | Q(id__lt=pk))
        if self.nullable:
            after |= Q(**{f"{field}__isnull": True})
        return after

    def paginate(self, queryset: QuerySet, request: Request) -> Page:
        size = self.page_size(request)
        # NULLS LAST only where the column can be null: on a NOT NULL column it would stop
        # PostgreSQL from reading the (..., field DESC, id DESC) index in order.
        order = F(self.field).desc(nulls_last=True) if self.nullable else F(self.field).desc()
        queryset = queryset.order_by(order, "-id")
        cursor = request.query_params.get(CURSOR_PARAM)
        if cursor:
            queryset = queryset.filter(self._after(*_decode(cursor)))
        rows = list(queryset[: size + 1])
        next_url = None
        if len(rows) > size:
            rows = rows[:size]
            last = rows[-1]
            url = request.build_absolute_uri()
            if isinstance(last, dict):  # a values() page
                position = _encode(last[self.field], last["id"])
            else:
                position = _encode(getattr(last, self.field), last.pk)
            next_url = replace_query_param(url, CURSOR_PARAM, position)
        return Page(results=rows, next_url=next_url)

    @staticmethod
    def response(page: Page, data: list) -> Response:
        return Response({"results": data, "next": page.next_url})

