"""The API's JSON parser: DRF's, with Chinese messages and three refusals of its own, each a 400 (or 413) that changes
nothing:

- a body that is not JSON: "请求体不是有效的 JSON" with the line and column (DRF's "JSON parse error - …" in English);
- a body nested too deeply for Python to read (``[[[[…]]]]`` thousands of levels down), instead of a RecursionError;
- a string holding a character no saved text may hold (``bazhou.core.text``: NUL, the other C0 controls, lone
  surrogates, U+FFFE, U+FFFF), anywhere in the body, named by its dotted path (``fund_lines.0.note``): checked once
  here for every JSON endpoint rather than per serializer;
- a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE``: 413 (DRF reads the stream itself, so Django's own limit never applies).
"""

from __future__ import annotations

import json as stdlib_json

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework import parsers
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.settings import api_settings
from rest_framework.utils import json

from bazhou.core.text import has_illegal, illegal_message

TOO_DEEP = "请求的 JSON 嵌套层数过多，无法解析。"
NOT_JSON = "请求体不是有效的 JSON（第 {line} 行第 {column} 列：{reason}），未作任何修改。"
NOT_A_NUMBER = "请求体的 JSON 含有 NaN 或 Infinity，这不是有效的数值。"
BAD_CHARSET = "不支持请求头 Content-Type 中的字符集“{encoding}”，请用 utf-8。"
NOT_TEXT = "请求体不是 {encoding} 编码的文本，无法解析为 JSON。"
REASONS = {
    "Expecting value": "此处应为一个值",
    "Expecting property name enclosed in double quotes": "属性名应加双引号",
    "Expecting ',' delimiter": "缺少逗号",
    "Expecting ':' delimiter": "缺少冒号",
    "Extra data": "JSON 之后还有多余内容",
    "Unterminated string starting at": "字符串没有结束",
    "Invalid control character at": "字符串中有未转义的控制字符",
    "Invalid \\escape": "无效的转义",
}


def illegal_strings(data, path: str = "") -> dict[str, list[str]]:
    """``{"dotted.path": [message]}`` for every key or string in ``data`` holding a character that cannot be saved."""
    found: dict[str, list[str]] = {}
    if isinstance(data, str):
        if has_illegal(data):
            found[path or api_settings.NON_FIELD_ERRORS_KEY] = [illegal_message(data)]
    elif isinstance(data, dict):
        for key, value in data.items():
            name = f"{path}.{key}" if path else str(key)
            if has_illegal(str(key)):
                found[path or api_settings.NON_FIELD_ERRORS_KEY] = ["字段名" + illegal_message(str(key))]
                continue
            found.update(illegal_strings(value, name))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found.update(illegal_strings(value, f"{path}.{index}" if path else str(index)))
    return found


def reason_of(error: stdlib_json.JSONDecodeError) -> str:
    for english, chinese in REASONS.items():
        if error.msg.startswith(english):
            return chinese
    return error.msg


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        encoding = charset_of(parser_context or {})
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = b"" if stream is None else stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(raw) > limit:
            # Imported here: bazhou.core.api.errors imports DRF's views, which import this module (a cycle when the
            # errors module is imported first, as a middleware does at start-up).
            from bazhou.core.api.errors import PayloadTooLarge, too_large_message

            raise PayloadTooLarge(too_large_message(RequestDataTooBig()))
        try:
            text = raw.decode(encoding)
        except UnicodeError:
            raise ParseError(NOT_TEXT.format(encoding=encoding)) from None
        try:
            data = json.loads(text, parse_constant=json.strict_constant if self.strict else None)
        except RecursionError as error:
            raise ParseError(TOO_DEEP) from error
        except stdlib_json.JSONDecodeError as error:
            raise ParseError(NOT_JSON.format(line=error.lineno, column=error.colno, reason=reason_of(error))) from None
        except ValueError:  # NaN / Infinity, which JSON does not have
            raise ParseError(NOT_A_NUMBER) from None
        try:
            found = illegal_strings(data)
        except RecursionError as error:
            raise ParseError(TOO_DEEP) from error
        if found:
            raise ValidationError(found)
        return data


def charset_of(parser_context: dict) -> str:
    """The request's charset, if it is a text encoding (``bz2_codec`` and the like are refused, as DRF does)."""
    encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
    try:
        "".encode(encoding)
    except (LookupError, UnicodeError):
        raise ParseError(BAD_CHARSET.format(encoding=encoding)) from None
    return encoding
