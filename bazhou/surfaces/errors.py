"""The failure pages: 400, 403, 404, 413, 500 and 503, and the CSRF failure, in Chinese and in the site's layout.

Django calls these for an error no view answered itself (``handler400`` … ``handler500`` in bazhou/surfaces/urls.py,
``CSRF_FAILURE_VIEW`` in the settings). Under ``/api/`` each answers the API's one error shape instead
(``bazhou.core.api.shape.error_body``), never an HTML page.

- 400: a malformed request (Django's SuspiciousOperation). A body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (or too many
  fields or files) reaches Django as one too; it is answered 413 and says what happened.
- 403 / 404: the reason the view gave (a PermissionDenied's message) / "not found or not in your area".
- CSRF failure: 403 "页面已过期，请刷新后重试" (a form left open past the session, or opened before signing in anew).
- 500: rendered without the request (no database, no signed-in user needed); if even that fails, a static page.
  A database that does not answer (an OperationalError or InterfaceError that reached here) is a 503 instead,
  with ``Retry-After`` (``bazhou.core.unavailable``; most are caught earlier by its middleware).

Every page shows its message in an element marked ``data-error-message``: static/js/site.js shows that text when
an htmx request gets the page as its answer.
"""

from __future__ import annotations

import logging
import sys

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils.html import escape

from bazhou.core.api.shape import error_response
from bazhou.core.pages import BadParameter
from bazhou.core.unavailable import is_database_down, unavailable_response

logger = logging.getLogger(__name__)

BAD_REQUEST = "请求的格式有误，服务器无法处理。请返回上一页重试。"
TOO_LARGE = "提交的内容太大（表单不能超过 {mb} MB），未保存。请减少内容或分几次提交。"
TOO_MANY_FIELDS = "提交的字段或文件太多，未保存。请分几次提交。"
FORBIDDEN = "您的角色不能打开这个页面，或不能执行这个操作。"
PAGE_NOT_FOUND = "您要打开的页面不存在，或者不在您的管理范围内。"
CSRF_EXPIRED = "页面已过期，请刷新后重试。"
SERVER_ERROR = "服务器出错，本次操作没有完成。请稍后重试；如果一再出现，请联系区脱贫办的系统管理员。"

# The last resort when even 500.html cannot be rendered: no template, no static file, nothing that can fail.
STATIC_500 = (
    '<!DOCTYPE html><html lang="zh-hans"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    "<title>服务器出错 · 巴州区脱贫攻坚施工图管理系统</title></head>"
    "<body><main><h1>服务器出错</h1>"
    f"<p data-error-message>{SERVER_ERROR}</p>"
    '<p><a href="/">返回首页</a></p></main></body></html>'
)


def is_api(request) -> bool:
    return request.path_info.startswith("/api/")


def _page(request, template: str, status: int, context: dict | None = None) -> HttpResponse:
    """``template`` in the site's layout (with the request: the user's menu); without the request if that fails."""
    context = context or {}
    try:
        content = render_to_string(template, context, request=request)
    except Exception:
        logger.exception("The %s page could not be rendered with the request", status)
        try:
            content = render_to_string(template, context)
        except Exception:
            logger.exception("The %s page could not be rendered", status)
            message = escape(context.get("message") or SERVER_ERROR)
            content = STATIC_500.replace(SERVER_ERROR, message)
    return HttpResponse(content, status=status)


def _upload_limit_mb() -> str:
    size = settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0
    return f"{size / (1024 * 1024):g}"


def bad_request(request, exception=None):
    if isinstance(exception, RequestDataTooBig):
        message, code, status = TOO_LARGE.format(mb=_upload_limit_mb()), "too_large", 413
    elif isinstance(exception, TooManyFieldsSent | TooManyFilesSent):
        message, code, status = TOO_MANY_FIELDS, "too_large", 413
    elif isinstance(exception, BadParameter):
        message, code, status = exception.message, "invalid", 400
    else:
        message, code, status = BAD_REQUEST, "bad_request", 400
    if is_api(request):
        errors = {exception.param: [message]} if isinstance(exception, BadParameter) else None
        return error_response(message, code, status, errors)
    title = "提交的内容太大" if status == 413 else "请求有误"
    return _page(request, "400.html", status, {"message": message, "title": title})


def permission_denied(request, exception=None):
    message = str(exception or "") or FORBIDDEN
    if is_api(request):
        return error_response(message, "permission_denied", 403)
    return _page(request, "403.html", 403, {"message": message})


def page_not_found(request, exception=None):
    if is_api(request):
        return error_response("未找到。", "not_found", 404)
    return _page(request, "404.html", 404, {"message": PAGE_NOT_FOUND})


def server_error(request):
    """500, without touching the database or the user (either may be what failed); 503 when the database is down."""
    exception = sys.exc_info()[1]
    if is_database_down(exception):
        return unavailable_response(request)
    if is_api(request):
        return error_response(SERVER_ERROR, "server_error", 500)
    try:
        content = render_to_string("500.html", {"message": SERVER_ERROR})
    except Exception:
        logger.exception("500.html could not be rendered")
        content = STATIC_500
    return HttpResponse(content, status=500)


def csrf_failure(request, reason=""):
    """Django's CSRF check refused a POST (CSRF_FAILURE_VIEW): the page was open too long, or the cookie is gone."""
    logger.warning("CSRF check failed for %s: %s", request.path, reason)
    if is_api(request):
        return error_response(CSRF_EXPIRED, "csrf_failed", 403)
    return _page(request, "403.html", 403, {"message": CSRF_EXPIRED, "title": "页面已过期", "reload": True})
