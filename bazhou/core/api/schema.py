"""Pieces of the OpenAPI schema the viewsets share: the If-Match header, the error bodies of a write, and the
``extend_schema`` of each kind of endpoint (a viewset's reads, a create, a write with If-Match, a download)."""

from __future__ import annotations

from drf_spectacular import openapi
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers

IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=True,
    description='读取时响应头 ETag 的值（如 "3"）。缺少：428；已过期：412（未作任何修改）。',
)

DETAIL = inline_serializer("ErrorDetail", {"detail": serializers.CharField()})
STALE = inline_serializer(
    "StaleVersion",
    {
        "detail": serializers.CharField(),
        "code": serializers.CharField(),
        "current": serializers.JSONField(help_text="该记录现在的内容（与读取时的格式相同）"),
        "changed_by": serializers.CharField(allow_null=True, help_text="最后修改人"),
        "changed_at": serializers.DateTimeField(allow_null=True, help_text="最后修改时间"),
    },
)
FIELD_ERRORS = {
    "type": "object",
    "description": "字段 → 中文消息列表；与某个字段无关的在 non_field_errors 中",
    "additionalProperties": {"type": "array", "items": {"type": "string"}},
}

ERRORS = {
    400: OpenApiResponse(FIELD_ERRORS, description="校验未通过"),
    403: OpenApiResponse(DETAIL, description="角色不能进行此操作"),
    404: OpenApiResponse(DETAIL, description="不存在，或不在您的范围内"),
    412: OpenApiResponse(STALE, description="版本已过期：未作任何修改"),
    428: OpenApiResponse(DETAIL, description="缺少 If-Match"),
}


def errors(*codes: int) -> dict:
    """The error responses ``codes`` of a write, for ``extend_schema(responses=...)``."""
    return {code: ERRORS[code] for code in codes}


WRITE_ERRORS = errors(400, 403, 404, 412, 428)
CREATE_ERRORS = errors(400, 403)
NOT_FOUND = errors(404)


def documented(tag: str, *, list: str, retrieve: str):
    """A viewset's tag, and the summaries of its list and its retrieve (the writes carry theirs)."""

    def decorate(viewset):
        viewset = extend_schema(tags=[tag])(viewset)
        return extend_schema_view(list=extend_schema(summary=list), retrieve=extend_schema(summary=retrieve))(viewset)

    return decorate


def creates(summary: str, *, request, response):
    """A create: the new row (201), or 400, 403."""
    return extend_schema(summary=summary, request=request, responses={201: response, **CREATE_ERRORS})


def changes(summary: str, *, request, response, status: int = 200):
    """A write to a row read with its ETag: ``If-Match`` required; the row as it now stands, or 400, 403, 404, 412,
    428."""
    return extend_schema(
        summary=summary, parameters=[IF_MATCH], request=request, responses={status: response, **WRITE_ERRORS}
    )


def download(summary: str, media_type: str = "application/octet-stream"):
    """A file (200), or 404."""
    return extend_schema(summary=summary, responses={(200, media_type): OpenApiTypes.BINARY, **NOT_FOUND})


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's schema without the viewsets' docstrings as operation descriptions: those are notes for
    developers, in English; what a caller reads is the Chinese ``summary`` and ``description`` of ``extend_schema``
    (which still override this)."""

    def get_description(self):
        return ""
