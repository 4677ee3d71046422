"""A record's history in the API: the same entries as the pages (``bazhou.core.timeline``), newest first, a page
at a time.

A record's history is short (tens of entries) and is built whole from a fixed number of queries, so it is paged in
memory by number: ``?page=2&page_size=50``. The response has the shape of every list of the API:
``{"next": url|null, "previous": url|null, "results": [...]}``.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.exceptions import ParseError
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
BAD_PAGE = "page 应为正整数。"
BAD_PAGE_SIZE = f"page_size 应为 1–{MAX_PAGE_SIZE} 之间的整数。"

PARAMETERS = [
    OpenApiParameter("page", int, description="页码，从 1 开始"),
    OpenApiParameter("page_size", int, description=f"每页条数，默认 {PAGE_SIZE}，最多 {MAX_PAGE_SIZE}"),
]


class ChangeSerializer(serializers.Serializer):
    field = serializers.CharField()
    label = serializers.CharField()
    before = serializers.CharField()
    after = serializers.CharField()


# One entry of a record's history timeline (bazhou.core.timeline): the plan rows' history and the registry's share
# it; each endpoint's subclass says in ``kind`` which records it lists. (No docstring: it would become the schema's
# description.)
class HistoryEntrySerializer(serializers.Serializer):
    kind = serializers.CharField()
    when = serializers.DateTimeField()
    who = serializers.SerializerMethodField()
    title = serializers.CharField()
    reason = serializers.CharField()
    changes = ChangeSerializer(many=True)

    def get_who(self, entry) -> str | None:
        return str(entry.who) if entry.who else None


class RecordHistoryEntrySerializer(HistoryEntrySerializer):
    kind = serializers.CharField(help_text="记录的种类：household、member、householdincome、householdhelper 等")


class RecordHistoryPage(serializers.Serializer):
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = RecordHistoryEntrySerializer(many=True)


def _positive(raw, default: int, message: str, maximum: int | None = None) -> int:
    if raw is None:
        return default
    # ASCII digits only, and not too many: str.isdigit() accepts "²", which int() refuses.
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9) or int(raw) < 1:
        raise ParseError(message)
    if maximum is not None and int(raw) > maximum:
        raise ParseError(message)
    return int(raw)


def history_response(request, entries: list) -> Response:
    """One page of ``entries`` (already newest first) with links to the pages beside it."""
    page = _positive(request.query_params.get("page"), 1, BAD_PAGE)
    size = _positive(request.query_params.get("page_size"), PAGE_SIZE, BAD_PAGE_SIZE, MAX_PAGE_SIZE)
    start = (page - 1) * size
    rows = entries[start : start + size]
    url = request.build_absolute_uri()
    next_link = replace_query_param(url, "page", page + 1) if start + size < len(entries) else None
    if page == 1:
        previous_link = None
    elif page == 2:
        previous_link = remove_query_param(url, "page")
    else:
        previous_link = replace_query_param(url, "page", page - 1)
    data = RecordHistoryEntrySerializer(rows, many=True).data
    return Response({"next": next_link, "previous": previous_link, "results": data})
