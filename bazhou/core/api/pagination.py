"""Keyset ("cursor") pagination over the whole ordering, 100 rows a page.

Why not page numbers: at 10× the demo a page-number list pays a COUNT over ~200k plan rows on every request
and an OFFSET that grows with the page number (page 500 ran at half the speed of page 1, FINDINGS.md). Why
not DRF's CursorPagination: it positions the cursor on the *first* ordering field only and counts ties with an
offset capped at 1,000, so ordering by deadline (thousands of rows share 2017-08-31) would break.

Here the cursor holds the values of *every* ordering field of the last (or first) row of the page, the ordering
always ends with the primary key (so it is total), and the next page is
``WHERE (f1, f2, …, id) > (v1, v2, …, vid)`` in the ordering's directions, spelled as ORs of ANDs so both
engines and every mix of ascending and descending fields work. One query per page whatever the page number;
a row inserted or deleted meanwhile does not shift the pages.

Ordering fields must be non-null columns of the model (the viewsets list them in ``ordering_fields``). The page may
be model instances or ``values()`` dicts that include every ordering field.
The response is ``{"next": url|null, "previous": url|null, "results": [...]}``; there is no total count.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
from decimal import Decimal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q
from rest_framework.exceptions import ParseError
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

BAD_CURSOR = "分页游标无效：请使用上一次响应中 next 或 previous 给出的地址。"
BAD_PAGE_SIZE = "page_size 应为 1–{max} 之间的整数。"


class KeysetPagination(BasePagination):
    cursor_query_param = "cursor"
    page_size_query_param = "page_size"
    page_size = 100
    max_page_size = 500

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.page_size = self.get_page_size(request)
        self.ordering = ordering_of(view, request, queryset)
        cursor = self.decode_cursor(request)
        queryset = queryset.order_by(*self.ordering)
        if cursor is None:
            rows = list(queryset[: self.page_size + 1])
            self.has_next, self.has_previous = len(rows) > self.page_size, False
            self.page = rows[: self.page_size]
        elif not cursor["r"]:
            rows = list(positioned(queryset, after(self.ordering, cursor["v"]))[: self.page_size + 1])
            self.has_next, self.has_previous = len(rows) > self.page_size, True
            self.page = rows[: self.page_size]
        else:
            backwards = [flip(name) for name in self.ordering]
            since = after(backwards, cursor["v"], inclusive=cursor["i"])
            rows = list(positioned(queryset.order_by(*backwards), since)[: self.page_size + 1])
            self.has_next, self.has_previous = True, len(rows) > self.page_size
            self.page = list(reversed(rows[: self.page_size]))
        self.cursor = cursor
        return self.page

    def get_page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 6) or not 1 <= int(raw) <= self.max_page_size:
            raise ParseError(BAD_PAGE_SIZE.format(max=self.max_page_size))
        return int(raw)

    # Links

    def get_next_link(self) -> str | None:
        if not self.has_next:
            return None
        if not self.page:
            # Nothing before the cursor (reached backwards): the rows from the start are the first page.
            return remove_query_param(self.request.build_absolute_uri(), self.cursor_query_param)
        return self.link(values_of(self.page[-1], self.ordering), reverse=False)

    def get_previous_link(self) -> str | None:
        if not self.has_previous:
            return None
        if not self.page:
            # Nothing after the cursor (reached forwards): the page before is the one before the cursor.
            return self.link(self.cursor["v"], reverse=True, inclusive=True)
        return self.link(values_of(self.page[0], self.ordering), reverse=True)

    def link(self, values: list, *, reverse: bool, inclusive: bool = False) -> str:
        token = encode_cursor(values, reverse=reverse, ordering=self.ordering, inclusive=inclusive)
        return replace_query_param(self.request.build_absolute_uri(), self.cursor_query_param, token)

    def get_paginated_response(self, data):
        return Response({"next": self.get_next_link(), "previous": self.get_previous_link(), "results": data})

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {
                # OpenAPI 3.1 (SPECTACULAR_SETTINGS["OAS_VERSION"]): null is a type.
                "next": {"type": ["string", "null"], "format": "uri", "description": "下一页的地址（没有时为 null）"},
                "previous": {"type": ["string", "null"], "format": "uri", "description": "上一页的地址"},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "分页游标：原样使用响应中 next / previous 的地址，不要自己拼写。",
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"每页行数，默认 {self.page_size}，最多 {self.max_page_size}。",
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
            },
        ]

    def decode_cursor(self, request) -> dict | None:
        raw = request.query_params.get(self.cursor_query_param)
        if raw is None:
            return None
        try:
            cursor = json.loads(base64.urlsafe_b64decode(raw.encode("ascii") + b"==").decode("utf-8"))
        except (ValueError, UnicodeError, binascii.Error):
            raise ParseError(BAD_CURSOR) from None
        if (
            not isinstance(cursor, dict)
            or not isinstance(cursor.get("v"), list)
            or len(cursor["v"]) != len(self.ordering)
            or cursor.get("o") != signature(self.ordering)
        ):
            raise ParseError(BAD_CURSOR)
        cursor["r"], cursor["i"] = bool(cursor.get("r")), bool(cursor.get("i"))
        return cursor


def ordering_of(view, request, queryset) -> list[str]:
    """The view's ordering for this request (its ``?ordering=``, else its default), ending with the primary key."""
    ordering = list(view.get_ordering(request, queryset)) if hasattr(view, "get_ordering") else ["pk"]
    names = [name.lstrip("-") for name in ordering]
    if "pk" not in names and "id" not in names:
        ordering.append("-pk" if ordering and ordering[0].startswith("-") else "pk")
    return ordering


def positioned(queryset, condition: Q):
    """``queryset`` from the cursor on; a cursor whose values do not fit the fields (edited by hand) is a 400."""
    try:
        return queryset.filter(condition)
    except (ValueError, TypeError, DjangoValidationError):
        raise ParseError(BAD_CURSOR) from None


def flip(name: str) -> str:
    return name[1:] if name.startswith("-") else f"-{name}"


def after(ordering: list[str], values: list, *, inclusive: bool = False) -> Q:
    """Rows after ``values`` in ``ordering``: (f1 ≻ v1) OR (f1 = v1 AND f2 ≻ v2) OR …, ≻ being > or < by direction
    (and, ``inclusive``, the row at ``values`` itself)."""
    condition = Q(pk__in=[])
    equal = Q()
    for name, value in zip(ordering, values, strict=True):
        field = name.lstrip("-")
        lookup = "lt" if name.startswith("-") else "gt"
        condition |= equal & Q(**{f"{field}__{lookup}": value})
        equal &= Q(**{field: value})
    return condition | equal if inclusive else condition


def values_of(row, ordering: list[str]) -> list:
    """The cursor's values of ``row``: a model instance, or a ``values()`` dict holding every ordering field (a
    list served from values, rows.py; ``pk`` is read as its ``id``)."""
    if isinstance(row, dict):
        return [jsonable(row[name.lstrip("-")] if name.lstrip("-") != "pk" else row["id"]) for name in ordering]
    return [jsonable(getattr(row, name.lstrip("-"))) for name in ordering]


def jsonable(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    return value


def signature(ordering: list[str]) -> str:
    return ",".join(ordering)


def encode_cursor(values: list, *, reverse: bool, ordering: list[str], inclusive: bool = False) -> str:
    payload = {"v": values, "r": int(reverse), "o": signature(ordering)}
    if inclusive:
        payload["i"] = 1
    return base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode("utf-8")).decode().rstrip("=")
