"""Characters refused at the door: a request whose query string or form fields hold a character no text may be
saved with (``bazhou.core.text``: NUL, the other C0 controls, lone surrogates, U+FFFE, U+FFFF) is answered 400
before any view runs, with a Chinese message naming the parameter, and nothing changes.

Checked here, once, for every page and the API: the query string's keys and values, and the fields of a form post
(urlencoded or multipart; the contents of uploaded files are the imports' business, which name the cell). A JSON
body is checked by the API's own parser. Reading ``request.POST`` here parses the body once, as Django always does
(the views read the parsed fields); a body over ``DATA_UPLOAD_MAX_*`` raises Django's own error, left to its
handler. Under ``/api/`` the answer is the API's one error shape (code ``illegal_character``); a page answers the
site's 400 page (``templates/400.html``, with ``message``), htmx requests too.
"""

from __future__ import annotations

from django.http import HttpResponse
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string
from django.utils.html import escape

from bazhou.core.api.shape import error_response
from bazhou.core.text import has_illegal, illegal_message

CODE = "illegal_character"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def illegal_parameter(request) -> tuple[str, str] | None:
    """The first parameter of ``request`` (query string, then form fields) whose name or value holds a character
    that cannot be saved, with the Chinese message naming it; None when there is none."""
    sources = [request.GET]
    if request.method == "POST" and request.content_type in FORM_TYPES:
        sources.append(request.POST)
    for source in sources:
        for key, values in source.lists():
            if has_illegal(key):
                return _printable(key), f"参数名{illegal_message(key)}"
            for value in values:
                if isinstance(value, str) and has_illegal(value):
                    return key, f"“{key}”{illegal_message(value)}"
    return None


def _printable(name: str) -> str:
    """A parameter name fit to show: its illegal characters written as U+XXXX."""
    return "".join(f"U+{ord(ch):04X}" if has_illegal(ch) else ch for ch in name)


def refusal(request, param: str, message: str) -> HttpResponse:
    if request.path.startswith("/api/"):
        return error_response(message, CODE, 400, {param: [message]})
    try:
        content = render_to_string("400.html", {"message": message}, request=request)
    except TemplateDoesNotExist:
        content = (
            '<!doctype html><html lang="zh-hans"><head><meta charset="utf-8"><title>请求有误</title></head>'
            f"<body><h1>请求有误（400）</h1><p>{escape(message)}</p></body></html>"
        )
    return HttpResponse(content, status=400)


class IllegalCharacterMiddleware:
    """Refuse (400) a request whose query string or form fields hold a character no saved text may hold."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        found = illegal_parameter(request)
        if found is not None:
            return refusal(request, *found)
        return self.get_response(request)
