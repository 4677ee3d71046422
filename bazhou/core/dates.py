"""The one rule for the dates a person may enter: the bounds a saved date keeps to.

- A plan date (a row's 完成时限) lies within the plan's year − 1 … year + 3 (:func:`plan_range`): a plan of 2017
  holds dates from 2016-01-01 to 2020-12-31.
- A date something was done or happened on (a row's 完成日期, a progress report, a finding, an inspection, a
  rectification's 销号日期, a decision, …) is not after today (``bazhou.core.clock.today``: the demo's settable
  clock) and not before :data:`FLOOR` (2000-01-01) — nor, for a row's completion, before its plan's year − 1.
- Any other date (an inspection's end, a rectification's 整改时限) lies within :data:`FLOOR` … the end of the
  year ten years from today.

Each check returns the Chinese message naming the allowed range, or None; the models' ``clean`` and the services
call them, so the pages, the API and the imports all refuse the same dates (described in docs/constraints.md).
"""

from __future__ import annotations

import calendar
import datetime

from bazhou.core import clock

FLOOR = datetime.date(2000, 1, 1)
YEARS_BEFORE_PLAN = 1
YEARS_AFTER_PLAN = 3
YEARS_AHEAD = 10


def month_end(year: int, month: int) -> datetime.date:
    """The last day of ``month`` of ``year``."""
    return datetime.date(year, month, calendar.monthrange(year, month)[1])


def cn(value: datetime.date) -> str:
    return f"{value.year}年{value.month}月{value.day}日"


def plan_range(year: int) -> tuple[datetime.date, datetime.date]:
    """The dates a plan of ``year`` may name: 1 January of year − 1 to 31 December of year + 3."""
    return datetime.date(year - YEARS_BEFORE_PLAN, 1, 1), datetime.date(year + YEARS_AFTER_PLAN, 12, 31)


def _outside(value, first: datetime.date, last: datetime.date, label: str) -> str | None:
    if not isinstance(value, datetime.date) or first <= value <= last:
        return None
    return f"{label}应在{cn(first)}至{cn(last)}之间。"


def plan_date_error(value, year: int | None, label: str) -> str | None:
    """A plan date of a plan of ``year`` outside :func:`plan_range`."""
    if not year:
        return None
    return _outside(value, *plan_range(year), label)


def done_date_error(value, label: str, *, floor: datetime.date = FLOOR, today: datetime.date | None = None):
    """A date something was done on that is after today or before ``floor``."""
    if not isinstance(value, datetime.date):
        return None
    today = today or clock.today()
    if value > today:
        return f"{label}不能晚于今天。"
    return _outside(value, floor, today, label)


def plan_floor(year: int | None) -> datetime.date:
    """The earliest day a row of a plan of ``year`` can have been done on."""
    return max(FLOOR, plan_range(year)[0]) if year else FLOOR


def other_date_error(value, label: str, *, today: datetime.date | None = None) -> str | None:
    """Any other date outside :data:`FLOOR` … today + :data:`YEARS_AHEAD` years."""
    if not isinstance(value, datetime.date):
        return None
    today = today or clock.today()
    return _outside(value, FLOOR, datetime.date(today.year + YEARS_AHEAD, 12, 31), label)
