"""Pieces of the OpenAPI schema the viewsets share: the If-Match header, the error bodies of a write, and the
``extend_schema`` of each kind of endpoint (a viewset's reads, a create, a write with If-Match, a download).

Every error the API answers has one shape, the ``Error`` component (``bazhou.core.api.shape.error_body``);
:func:`document_errors` (a postprocessing hook) gives every operation the error statuses it can answer, each with
that body: 400, 401, 403, 405, 406 and 503 everywhere, 404 where the path names a row, 413 and 415 where a body is
sent, besides what an operation documents itself (409, 412, 428, 429)."""

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

ERROR_FIELDS = {
    "detail": serializers.CharField(help_text="一句话说明（中文）"),
    "code": serializers.CharField(help_text="机器可读的错误码，如 invalid、not_found、permission_denied"),
    "errors": serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="字段路径（嵌套用点号，如 fund_lines.0.amount；与字段无关的为 non_field_errors）→ 中文消息列表；"
        "没有字段错误时为 {}",
    ),
}
ERROR = inline_serializer("Error", ERROR_FIELDS)
STALE = inline_serializer(
    "StaleVersion",
    {
        **ERROR_FIELDS,
        "current": serializers.JSONField(help_text="该记录现在的内容（与读取时的格式相同）"),
        "changed_by": serializers.CharField(allow_null=True, help_text="最后修改人"),
        "changed_at": serializers.DateTimeField(allow_null=True, help_text="最后修改时间"),
    },
)
ERRORS = {
    400: OpenApiResponse(ERROR, description="校验未通过"),
    403: OpenApiResponse(ERROR, description="角色不能进行此操作"),
    404: OpenApiResponse(ERROR, description="不存在，或不在您的范围内"),
    412: OpenApiResponse(STALE, description="版本已过期：未作任何修改"),
    428: OpenApiResponse(ERROR, description="缺少 If-Match"),
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


ERROR_REF = {"$ref": "#/components/schemas/Error"}
COMMON_ERRORS = {
    "400": "请求参数或请求体无效（各参数、字段的错误见 errors）",
    "401": "未登录，或令牌无效、已撤销",
    "403": "角色不能进行此操作",
    "405": "此地址不支持该请求方法",
    "406": "无法按请求头 Accept 所要的格式回答",
    "503": "数据库暂时不可用，请稍后重试（响应头 Retry-After）",
}
BODY_ERRORS = {
    "413": "请求体太大（超过 5 MB）",
    "415": "请求体的格式不受支持（用 application/json 或 multipart/form-data）",
}
NOT_FOUND_ERROR = {"404": "不存在，或不在您的范围内"}
METHODS = ("get", "put", "patch", "post", "delete")


def document_errors(result, generator, request, public):
    """Every operation's error responses, each with the ``Error`` body (``StaleVersion`` for 412)."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    if "Error" not in schemas:  # no operation names it itself (it always exists in this API)
        schemas["Error"] = {
            "type": "object",
            "properties": {
                "detail": {"type": "string"},
                "code": {"type": "string"},
                "errors": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
            },
            "required": ["detail", "code", "errors"],
        }
    for path, item in result.get("paths", {}).items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            wanted = dict(COMMON_ERRORS)
            if "{" in path:
                wanted.update(NOT_FOUND_ERROR)
            if "requestBody" in operation:
                wanted.update(BODY_ERRORS)
            for status, description in wanted.items():
                responses.setdefault(status, {"description": description})
            for status, response in responses.items():
                if status.startswith(("4", "5")):
                    body = {"$ref": "#/components/schemas/StaleVersion"} if status == "412" else ERROR_REF
                    response["content"] = {"application/json": {"schema": body}}
    return result
