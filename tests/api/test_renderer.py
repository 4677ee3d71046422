"""The API's JSON is written by orjson (bazhou/core/api/renderers.py) and must be, byte for byte, what DRF's own
JSONRenderer writes: for every kind of value the API sends, for what orjson refuses (it falls back), and for indented
JSON on request."""

import dataclasses
import datetime
import uuid
from decimal import Decimal

import pytest
from django.utils.translation import gettext_lazy
from rest_framework import renderers
from rest_framework.utils.serializer_helpers import ReturnDict, ReturnList

from bazhou.core.api.renderers import JSONRenderer
from tasks.models import Task

SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))


@dataclasses.dataclass
class Point:
    x: int
    y: str


VALUES = {
    "text": '一村一案、一户一策 “引号” \\ / " \n\t\x00 \x1f émoji 🐼',
    "line and paragraph separators": "a\u2028b\u2029c",
    "numbers": [0, -1, 2**63 - 1, -(2**63), 2**64 - 1, 1.5, 0.1, 1e16, 100.0, -0.0, 0.0001],
    "constants": [True, False, None],
    "nested": {"a": [{"b": {"c": []}}, {}], "空": ""},
    "whole-number keys": {1: "a", 2: "b"},
    "key kinds": {True: 1, None: 2, 1.5: 3},
    "decimal": Decimal("12.3400"),
    "datetimes": [
        datetime.datetime(2017, 9, 15, 10, 3, 4, 567890, tzinfo=SHANGHAI),
        datetime.datetime(2017, 9, 15, 2, 0, tzinfo=datetime.UTC),
        datetime.datetime(2017, 9, 15, 2, 0),  # noqa: DTZ001 (a naive one too, as DRF would meet it)
    ],
    "date and time": [datetime.date(2017, 9, 15), datetime.time(8, 30, 1, 250)],
    "timedelta": datetime.timedelta(days=1, seconds=5),
    "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "lazy translation": gettext_lazy("已逾期"),
    "choices": [Task.Status.DONE, Task.Status.choices[0]],
    "tuple": (1, "二"),
    "return containers": ReturnDict({"a": ReturnList([1, 2], serializer=None)}, serializer=None),
    "set": {1},
}


def nested(depth: int) -> list:
    """A list holding a list … ``depth`` deep."""
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


def drf(data, media_type=None) -> bytes:
    return renderers.JSONRenderer().render(data, media_type)


@pytest.mark.parametrize("name", list(VALUES))
def test_each_kind_of_value_is_written_as_drf_writes_it(name):
    assert JSONRenderer().render({name: VALUES[name]}) == drf({name: VALUES[name]})


def test_an_iterator_is_written_as_drf_writes_it():
    # Not in VALUES: an iterator is used up by the first writer, so each writer gets its own.
    assert JSONRenderer().render({"v": iter([1, 2])}) == drf({"v": iter([1, 2])})


def test_a_whole_response_of_every_kind_at_once_is_the_same_bytes():
    data = dict(VALUES)
    written = JSONRenderer().render(data)
    assert written == drf(data)
    assert "一村一案".encode() in written and b"\\u2028" in written and "\u2028".encode() not in written


@pytest.mark.parametrize(
    "data",
    [
        {"beyond 64 bits": 2**64},
        {"negative beyond 64 bits": -(2**63) - 1},
        {"deeper than orjson goes": nested(300)},
    ],
    ids=["int > 64 bits", "int < -2**63", "deeper than 254"],
)
def test_what_orjson_refuses_is_written_by_drf(data):
    assert JSONRenderer().render(data) == drf(data)


@pytest.mark.parametrize(
    "data", [{"a dataclass": Point(1, "二")}, {"an object": object()}, {"a lazy key": {gettext_lazy("已完成"): 1}}]
)
def test_what_neither_can_write_is_still_an_error(data):
    with pytest.raises(TypeError):
        drf(data)
    with pytest.raises(TypeError):
        JSONRenderer().render(data)


def test_an_aware_time_is_refused_as_drf_refuses_it():
    with pytest.raises(ValueError, match="timezone-aware times"):
        JSONRenderer().render({"time": datetime.time(8, 30, tzinfo=SHANGHAI)})


def test_indented_json_on_request_and_nothing_for_none():
    data = {"a": [1, {"b": "二"}]}
    media_type = "application/json; indent=4"
    assert JSONRenderer().render(data, media_type) == drf(data, media_type)
    assert b"\n    " in JSONRenderer().render(data, media_type)
    assert JSONRenderer().render(None) == b""


def test_the_api_answers_with_this_renderer(api, personas):
    response = api(personas.district_admin).get("/api/v1/tasks/")
    assert isinstance(response.accepted_renderer, JSONRenderer)
    assert response.content == drf(response.data)
