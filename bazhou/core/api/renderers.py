"""The API's JSON: the bytes DRF's ``JSONRenderer`` writes (compact, Chinese as it is, U+2028/U+2029 escaped, dates,
times, decimals and lazy strings through DRF's encoder), written by orjson.

Why: on a page of 100 plan rows (about 125 KB) the standard library's encoder took 0.73 ms and orjson 0.19 ms, a
tenth of the request once the rows are read from ``values()`` (issue 19, docs/api.md, 性能).

How it stays the same: orjson writes strings, whole numbers, booleans, null, lists and dicts exactly as
``json.dumps(..., ensure_ascii=False, separators=(",", ":"))`` does; every other value (dates and times, ``Decimal``,
lazy translations, querysets, dataclasses …) goes to DRF's own ``JSONEncoder.default``, as before; and anything
orjson refuses (a whole number beyond 64 bits, nesting deeper than 254, a key that is no string, number, boolean or
null) is written by DRF's renderer instead. A request for indented JSON (``Accept: application/json; indent=4``) is
DRF's too. Two things differ, neither of which the API sends: a float below 10⁻⁴ is written without an exponent
(``0.00001``, where Python writes ``1e-05``), and NaN or infinity is ``null`` where DRF refused it.
tests/api/test_renderer.py compares the two byte for byte.
"""

from __future__ import annotations

import orjson
from rest_framework import renderers
from rest_framework.utils.encoders import JSONEncoder

OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
LINE_SEPARATOR, PARAGRAPH_SEPARATOR = "\u2028".encode(), "\u2029".encode()


class JSONRenderer(renderers.JSONRenderer):
    encoder = JSONEncoder()

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        indent = self.get_indent(accepted_media_type, renderer_context or {})
        if indent is not None or self.ensure_ascii or not self.compact:
            return super().render(data, accepted_media_type, renderer_context)
        try:
            written = orjson.dumps(data, default=self.encoder.default, option=OPTIONS)
        except orjson.JSONEncodeError:
            return super().render(data, accepted_media_type, renderer_context)
        # As DRF does, so that the JSON is also valid JavaScript.
        return written.replace(LINE_SEPARATOR, b"\\u2028").replace(PARAGRAPH_SEPARATOR, b"\\u2029")
