"""503 when the database does not answer: a Chinese page (or the API's error shape) with ``Retry-After``.

A view that meets ``django.db.OperationalError`` or ``InterfaceError`` (the server is down or restarting, the
connection was cut, SQLite is locked past its timeout) is answered here instead of with a 500: the request's
transaction was rolled back (``ATOMIC_REQUESTS``), so nothing was saved, and trying again shortly is the right
advice. The page is rendered without the request: the menu would need the database (the session, the user, the
counts beside 我的待办). The same answer comes from ``handler500`` for such an error raised outside a view.
"""

from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from django.utils.html import escape

from bazhou.core.api.shape import error_response

logger = logging.getLogger(__name__)

UNAVAILABLE = (
    "数据库暂时无法连接，本次操作没有保存。请稍等片刻后刷新页面重试；如果一再出现，请联系区脱贫办的系统管理员。"
)
RETRY_AFTER_SECONDS = 30

STATIC_503 = (
    '<!DOCTYPE html><html lang="zh-hans"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    "<title>系统暂时无法使用 · 巴州区脱贫攻坚施工图管理系统</title></head>"
    "<body><main><h1>系统暂时无法使用</h1>"
    f"<p data-error-message>{escape(UNAVAILABLE)}</p>"
    '<p><a href="/">返回首页</a></p></main></body></html>'
)


def is_database_down(exception) -> bool:
    return isinstance(exception, OperationalError | InterfaceError)


def unavailable_response(request) -> HttpResponse:
    if request.path_info.startswith("/api/"):
        response = error_response(UNAVAILABLE, "service_unavailable", 503)
    else:
        from django.template.loader import render_to_string

        try:
            content = render_to_string("503.html", {"message": UNAVAILABLE})
        except Exception:
            logger.exception("503.html could not be rendered")
            content = STATIC_503
        response = HttpResponse(content, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class DatabaseUnavailableMiddleware:
    """A view's database error that means "the database is not answering" becomes a 503 page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not is_database_down(exception):
            return None
        logger.error("Database unavailable during %s %s: %s", request.method, request.path, exception)
        return unavailable_response(request)
