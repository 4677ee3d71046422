"""Errors as DRF's usual JSON, with the services' own Chinese messages.

- A service's ``django.core.exceptions.ValidationError`` → 400 ``{"field": ["消息"], "non_field_errors": [...]}``
  (the same messages the pages show beside the fields);
- a stale ``If-Match`` (the services' TaskConflict, RectificationConflict, BulletinConflict) → 412 with the row as
  it now stands, who changed it and when, and its ETag; a write without ``If-Match`` → 428;
- ``Http404`` (outside the user's area, or no such row) → 404 ``{"detail": "未找到。"}``: the same answer
  whether the row exists or not;
- ``django.core.exceptions.PermissionDenied`` → 403 with its message.

In every case the request's transaction is rolled back (``ATOMIC_REQUESTS``), so nothing is half written.
"""

from __future__ import annotations

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

NOT_FOUND = "未找到。"
STALE = "该记录在您读取之后已被他人修改，本次修改未保存。请重新读取（GET）核对当前内容后再修改。"
IF_MATCH_REQUIRED = "修改须在请求头 If-Match 中给出您读取时的版本（响应头 ETag 的值）。"
IF_MATCH_INVALID = '请求头 If-Match 的值无法识别：请原样使用读取时响应头 ETag 的值，如 If-Match: "3"。'


class PreconditionRequired(exceptions.APIException):
    """428: a write to a versioned row without ``If-Match``."""

    status_code = 428
    default_detail = IF_MATCH_REQUIRED
    default_code = "precondition_required"


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


def exception_handler(exc, context):
    if isinstance(exc, StaleVersion):
        set_rollback()
        return Response(exc.body(), status=exc.status_code, headers={"ETag": exc.etag})
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(validation_detail(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(NOT_FOUND)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    return drf_exception_handler(exc, context)
