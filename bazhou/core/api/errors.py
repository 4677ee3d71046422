"""The API's one error shape, for every 4xx (and 5xx): ``{"detail": "中文一句话", "code": "机器码", "errors": {…}}``.

``errors`` maps a field's dotted path (``fund_lines.0.amount``; ``non_field_errors`` for the rest) to its Chinese
messages, ``{}`` when nothing is field-specific. DRF's own English sentences (method, media type, CSRF, sign-in …)
are answered in Chinese here, once.

- A serializer's or a service's ``ValidationError`` → 400 ``invalid`` with the messages per field
  (the same messages the pages show beside the fields);
- a stale ``If-Match`` (the services' TaskConflict, RectificationConflict, BulletinConflict) → 412 with the row as
  it now stands, who changed it and when, and its ETag; a write without ``If-Match`` → 428;
- ``Http404`` (outside the user's area, or no such row) → 404 ``{"detail": "未找到。"}``: the same answer
  whether the row exists or not;
- ``django.core.exceptions.PermissionDenied`` → 403 with its message.

In every case the request's transaction is rolled back (``ATOMIC_REQUESTS``), so nothing is half written.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import (
    NON_FIELD_ERRORS,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import set_rollback

from bazhou.core.api.shape import error_body, error_response  # noqa: F401  (re-exported: the one shape)
from bazhou.core.pages import BadParameter
from bazhou.core.text import ILLEGAL_MESSAGE

NOT_FOUND = "未找到。"
FORBIDDEN = "您的角色不能进行此操作。"
NO_DATA = "请求体为空：请提交一个 JSON 对象。"
INVALID = "提交的内容有 {n} 处错误，未作任何修改；各字段的错误见 errors。"
BAD_REQUEST = "请求的格式有误，服务器无法处理。"
METHOD_NOT_ALLOWED = "此地址不支持 {method} 请求。"
NOT_ACCEPTABLE = "无法按请求头 Accept 所要的格式回答：此地址只回答 JSON（application/json）或所述的文件格式。"
UNSUPPORTED_MEDIA_TYPE = "不支持请求体的格式“{media_type}”：请用 application/json（上传文件用 multipart/form-data）。"
NOT_AUTHENTICATED = "请先登录，或在请求头 Authorization 中给出令牌：Token <令牌>。"
THROTTLED = "请求过于频繁，请 {wait} 秒后再试。"
CSRF_FAILED = "CSRF 校验未通过（页面已过期或缺少 X-CSRFToken 请求头），未作任何修改。请刷新页面重试；程序请用令牌。"
TOO_LARGE = "请求体太大（不能超过 {mb} MB），未作任何修改。"
TOO_MANY_FIELDS = "提交的字段或文件太多，未作任何修改。请分几次提交。"
STALE = "该记录在您读取之后已被他人修改，本次修改未保存。请重新读取（GET）核对当前内容后再修改。"
IF_MATCH_REQUIRED = "修改须在请求头 If-Match 中给出您读取时的版本（响应头 ETag 的值）。"
IF_MATCH_INVALID = '请求头 If-Match 的值无法识别：请原样使用读取时响应头 ETag 的值，如 If-Match: "3"。'


class PreconditionRequired(exceptions.APIException):
    """428: a write to a versioned row without ``If-Match``."""

    status_code = 428
    default_detail = IF_MATCH_REQUIRED
    default_code = "precondition_required"


class PayloadTooLarge(exceptions.APIException):
    """413: a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (or with too many fields or files)."""

    status_code = 413
    default_detail = TOO_LARGE
    default_code = "payload_too_large"


class StaleVersion(exceptions.APIException):
    """412: the row changed since the client read it; nothing was written. Carries the row as it now stands."""

    status_code = 412
    default_detail = STALE
    default_code = "stale_version"

    def __init__(self, *, current: dict, etag: str, changed_by=None, changed_at=None):
        super().__init__(STALE)
        self.current = current
        self.etag = etag
        self.changed_by = changed_by
        self.changed_at = changed_at

    def body(self) -> dict:
        return {
            "detail": str(self.detail),
            "code": self.default_code,
            "errors": {},
            "current": self.current,
            "changed_by": str(self.changed_by) if self.changed_by else None,
            "changed_at": timezone.localtime(self.changed_at).isoformat() if self.changed_at else None,
        }


def validation_detail(error: DjangoValidationError) -> dict[str, list[str]]:
    """A service's ValidationError as DRF's error shape: field → messages (``non_field_errors`` for the rest)."""
    key = api_settings.NON_FIELD_ERRORS_KEY
    if hasattr(error, "error_dict"):
        return {
            (key if field == NON_FIELD_ERRORS else field): messages for field, messages in error.message_dict.items()
        }
    return {key: error.messages}


def flatten(detail, path: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as ``{"dotted.path": ["消息", …]}``: ``{"fund_lines": {"0": {"amount": [m]}}}`` and
    ``{"fund_lines": [{}, {"amount": [m]}]}`` both become ``{"fund_lines.0.amount": [m]}``; a bare message or list
    of messages goes under ``path`` (``non_field_errors`` at the top)."""
    here = path or api_settings.NON_FIELD_ERRORS_KEY
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            for name, messages in flatten(value, f"{path}.{key}" if path else str(key)).items():
                out.setdefault(name, []).extend(messages)
    elif isinstance(detail, list | tuple):
        if all(not isinstance(item, dict | list | tuple) for item in detail):
            if detail:
                out[here] = [chinese(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                if isinstance(item, dict | list | tuple):
                    for name, messages in flatten(item, f"{path}.{index}" if path else str(index)).items():
                        out.setdefault(name, []).extend(messages)
                else:
                    out.setdefault(here, []).append(chinese(item))
    else:
        out[here] = [chinese(detail)]
    return out


def chinese(message) -> str:
    """DRF's few messages that come in English or mistranslated (by their code), in Chinese; the rest as they are."""
    code = getattr(message, "code", None)
    if code == "null_characters_not_allowed":
        return ILLEGAL_MESSAGE
    if code == "null" and str(message) == "No data provided":
        return NO_DATA
    return str(message)


def summary(errors: dict[str, list[str]]) -> str:
    """The one sentence of a 400: the message itself when there is one, naming its field; else a count."""
    messages = [(name, message) for name, items in errors.items() for message in items]
    if len(messages) == 1:
        name, message = messages[0]
        return message if name == api_settings.NON_FIELD_ERRORS_KEY else f"{name}：{message}"
    return INVALID.format(n=len(messages))


def code_of(exc: exceptions.APIException) -> str:
    codes = exc.get_codes()
    return codes if isinstance(codes, str) else exc.default_code


def message_of(exc: exceptions.APIException, request) -> str:
    """DRF's own English (or mistranslated) sentences in Chinese; the product's own messages as they are."""
    if isinstance(exc, exceptions.MethodNotAllowed):
        return METHOD_NOT_ALLOWED.format(method=getattr(request, "method", ""))
    if isinstance(exc, exceptions.NotAcceptable):
        return NOT_ACCEPTABLE
    if isinstance(exc, exceptions.UnsupportedMediaType):
        return UNSUPPORTED_MEDIA_TYPE.format(media_type=getattr(request, "content_type", "") or "（未给出）")
    if isinstance(exc, exceptions.NotAuthenticated):
        return NOT_AUTHENTICATED
    if isinstance(exc, exceptions.Throttled):
        return THROTTLED.format(wait=int(exc.wait or 1))
    if isinstance(exc, exceptions.NotFound):
        return NOT_FOUND
    detail = str(exc.detail)
    if isinstance(exc, exceptions.PermissionDenied) and (detail.startswith("CSRF") or not detail):
        return CSRF_FAILED if detail.startswith("CSRF") else FORBIDDEN
    return detail


def exception_handler(exc, context):
    """Every exception a view raises as the one error shape (``error_body``); None (a 500) for the rest."""
    request = context.get("request")
    if isinstance(exc, StaleVersion):
        set_rollback()
        return Response(exc.body(), status=exc.status_code, headers={"ETag": exc.etag})
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(validation_detail(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(NOT_FOUND)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or FORBIDDEN)
    elif isinstance(exc, RequestDataTooBig | TooManyFieldsSent | TooManyFilesSent):
        exc = PayloadTooLarge(too_large_message(exc))
    elif isinstance(exc, BadParameter):
        exc = exceptions.ValidationError({exc.param: [exc.message]})
    elif isinstance(exc, SuspiciousOperation):
        exc = exceptions.ParseError(BAD_REQUEST)
    if not isinstance(exc, exceptions.APIException):
        return None
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))
    if isinstance(exc, exceptions.ValidationError):
        errors = flatten(exc.detail)
        body = error_body(summary(errors), "invalid", errors)
    else:
        message = message_of(exc, request)
        body = error_body(message, "csrf_failed" if message == CSRF_FAILED else code_of(exc))
    set_rollback()
    return Response(body, status=exc.status_code, headers=headers)


def too_large_message(exc) -> str:
    if isinstance(exc, RequestDataTooBig):
        size = settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0
        return TOO_LARGE.format(mb=f"{size / (1024 * 1024):g}")
    return TOO_MANY_FIELDS
