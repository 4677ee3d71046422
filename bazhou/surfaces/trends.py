"""The dashboard's monthly trend (月度趋势): read from the monthly snapshots (supervision.snapshots), never computed.

:func:`trend` reads the latest 12 months of snapshots of the dashboard's area in one query, whatever the number of
months, areas or corrections: a correction (更正) replaces its original and is marked (已更正, with its reason). The
chart draws the completion % and the invested % (资金投入率, on the right axis; the 万元 in the tooltip) and the
overdue rows (left axis) month by month; "较上月" is the change from the
previous month's snapshot to the latest.

A 挂包 leader's charge (several townships and villages) is no single area and has no snapshot of its own: its
dashboard shows no trend (a line says so); the leader opens a township or village of the charge to see its trend.
"""

from __future__ import annotations

import datetime

from supervision.models import MonthlySnapshot
from supervision.snapshots import area_key, change, effective_by_month, month_label, month_of, months_back

MONTHS = 12


def trend(scope, today: datetime.date, year: int | None = None) -> dict:
    """The latest :data:`MONTHS` months of snapshots of ``scope``'s area up to ``today``'s month (for a past ``year``:
    up to its December), oldest first (1 query; none for a 挂包 leader's charge)."""
    end = month_of(today) if year is None or year >= today.year else datetime.date(year, 12, 1)
    result = {"points": [], "change": None, "latest": None, "previous": None, "charge": scope.is_charge}
    result["chart"] = {
        "labels": [],
        "done_percent": [],
        "overdue": [],
        "invested": [],
        "invested_percent": [],
        "corrected": [],
        "reasons": [],
    }
    if scope.is_charge:
        return result
    key = area_key(district=scope.district, township=scope.township, village=scope.village)
    rows = MonthlySnapshot.objects.filter(area_key=key, month__gt=months_back(end, MONTHS), month__lte=end).order_by(
        "month", "pk"
    )
    months = effective_by_month(rows.only("pk", "month", "figures", "corrects", "correction_reason"))
    points = []
    for month in sorted(months):
        entry = months[month]
        f = entry["figures"]
        points.append(
            {
                "month": f"{month:%Y-%m}",
                "label": month_label(month),
                "as_of": f.get("as_of"),
                "figures": f,
                "corrected": entry["corrected"],
                "reason": entry["reason"],
            }
        )
    chart = result["chart"]
    for p in points:
        f = p["figures"]
        chart["labels"].append(p["month"])
        chart["done_percent"].append(_number(f.get("done_percent")))
        chart["overdue"].append(f.get("rows_overdue"))
        chart["invested"].append(_number(f.get("funds_invested")))
        chart["invested_percent"].append(_number(f.get("invested_percent")))
        chart["corrected"].append(p["corrected"])
        chart["reasons"].append(p["reason"])
    result["points"] = points
    if points:
        result["latest"] = points[-1]
    if len(points) > 1:
        result["previous"] = points[-2]
        result["change"] = change(points[-1]["figures"], points[-2]["figures"])
    return result


def _number(value) -> float | None:
    """A stored figure (a decimal string) as a number for the chart; None stays a gap."""
    return float(value) if value is not None else None
