"""Lists served from ``values()`` rows: the helpers that turn a column's value into exactly what the DRF field of the
same name would have written, without a model instance or a serializer field per value.

A list of 100 rows read through a ``ModelSerializer`` builds a model instance per row (and per related row), then
runs a field object per value: at 10× the demo that was 85 % of a plan-row page (issue 19). A list endpoint that
needs to be fast reads the page as ``values()`` dicts and writes each row with the converters here, made once per
request (the labels evaluated once, the time zone looked up once). Each converter's output is the DRF field's:

- :func:`decimal_text` — ``DecimalField(decimal_places=n)``: the value rounded half-even to ``n`` places, as text;
- :func:`datetime_text` — ``DateTimeField()``: ISO 8601 in the current time zone (``+08:00``; ``Z`` for UTC);
- :func:`date_text` — ``DateField()``: ISO 8601;
- :func:`labels` — :class:`bazhou.core.api.fields.Label`: the choice's label, or the value itself if it has none.

``None`` is ``None`` for each (DRF writes ``null`` for a missing value before any field sees it). The viewset keeps
its serializer for the schema (drf-spectacular) and for single rows; a test compares the two for rows with every
field filled, so they cannot drift apart.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from decimal import Decimal

from django.utils import timezone


def decimal_text(places: int) -> Callable[[Decimal | None], str | None]:
    """DRF's ``DecimalField(decimal_places=places)`` for a value read from the database (never more digits than its
    column holds): ``Decimal("2.5")`` → ``"2.5000"`` at 4 places."""
    spec = f".{places}f"

    def text(value):
        return None if value is None else format(value, spec)

    return text


def date_text(value: datetime.date | None) -> str | None:
    return None if value is None else value.isoformat()


def datetime_text() -> Callable[[datetime.datetime | None], str | None]:
    """DRF's ``DateTimeField()`` for aware datetimes, the current time zone looked up once (not once per value)."""
    zone = timezone.get_current_timezone()

    def text(value):
        if value is None:
            return None
        if timezone.is_naive(value):  # SQLite without USE_TZ never happens here, but write what DRF would
            value = timezone.make_aware(value, zone)
        written = value.astimezone(zone).isoformat()
        return written[:-6] + "Z" if written.endswith("+00:00") else written

    return text


def labels(choices) -> dict:
    """The choices' labels as plain strings, for ``labels.get(value, value)`` per row (each lazy label evaluated
    once per request, in the request's language)."""
    return {value: str(label) for value, label in choices}


def text(value) -> str | None:
    """DRF's ``CharField`` for a value read through a relation (``None`` when the relation is empty)."""
    return None if value is None else str(value)
