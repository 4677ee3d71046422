"""The API's JSON parser: DRF's, except that a body nested too deeply for Python to read (``[[[[…]]]]`` thousands of
levels down) is a 400 with a Chinese message instead of a RecursionError (a 500)."""

from __future__ import annotations

from rest_framework import parsers
from rest_framework.exceptions import ParseError

TOO_DEEP = "请求的 JSON 嵌套层数过多，无法解析。"


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as error:
            raise ParseError(TOO_DEEP) from error
