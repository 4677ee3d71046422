"""The year-over-year comparison (年度对比): a year's figures beside the year before's, in the dashboard's area.

For the page ``/dashboard/compare/?year=`` (bazhou/surfaces/compare_views.py) and ``GET /api/v1/dashboard/compare/``
(bazhou/surfaces/api/compare.py). Three queries whatever the data size, none per village, plan or month:

1. villages (one aggregate): poor villages planned to exit in each year (``Village.objects.planned_to_exit``) and
   villages exited in each year (``Village.objects.exited_in``);
2. people (one aggregate): active members of households lifted out of poverty in each year
   (``households.models.exited_in_q``), the dashboard's 脱贫人数;
3. plan rows (one aggregate over both years' live rows, ``Scope.tasks``): rows, done (``tasks.models.done_q``),
   planned and invested funds (万元), and for each month 1–12 the rows done by that month's end (a done row whose
   completion date is on or before the last day of that month of its plan year), cumulative.

Rules (docs/years.md): a year's rows are the live rows of that year's plans (draft or approved); months after today's
month in the current year have no figure yet (None); the change is this year − last year, the ratio this ÷ last
(None when last year's figure is 0).
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.db.models import Count, Q, Sum

from bazhou.core.dates import month_end
from bazhou.surfaces.dashboard import HOUSEHOLD_PATHS, TASK_PATHS, VILLAGE_PATHS, Scope, percent, wan
from households.models import Member, exited_in_q
from tasks.models import Task, done_q
from villages.models import Village

MONTHS = range(1, 13)
RATIO = Decimal("0.01")

# The figures side by side, in the order the page and the API list them: (key, label, unit).
FIGURES = [
    ("villages_planned", "计划退出贫困村", "个"),
    ("villages_exited", "已退出贫困村", "个"),
    ("people_lifted", "脱贫人数", "人"),
    ("rows_total", "任务总数", "项"),
    ("rows_done", "已完成任务", "项"),
    ("done_percent", "完成率", "%"),
    ("funds_planned", "计划资金", "万元"),
    ("funds_invested", "已投入资金", "万元"),
]


def village_figures(scope: Scope, years: tuple[int, int]) -> dict[int, dict]:
    """Poor villages planned to exit and villages exited, in each of ``years`` (1 query)."""
    villages = Village.objects.filter(scope.q(VILLAGE_PATHS))
    aggregates = {}
    for year in years:
        planned = Village.objects.planned_to_exit(year).values("pk")
        exited = Village.objects.exited_in(year).values("pk")
        aggregates[f"planned_{year}"] = Count("pk", filter=Q(pk__in=planned))
        aggregates[f"exited_{year}"] = Count("pk", filter=Q(pk__in=exited))
    counts = villages.aggregate(**aggregates)
    return {
        year: {"villages_planned": counts[f"planned_{year}"], "villages_exited": counts[f"exited_{year}"]}
        for year in years
    }


def people_figures(scope: Scope, years: tuple[int, int]) -> dict[int, int]:
    """People lifted out of poverty in each of ``years``: active members of households that exited that year
    (1 query)."""
    members = Member.objects.filter(scope.q(HOUSEHOLD_PATHS.prefixed("household")), is_active=True)
    counts = members.aggregate(**{f"y{year}": Count("pk", filter=exited_in_q(year, "household__")) for year in years})
    return {year: counts[f"y{year}"] for year in years}


def row_figures(scope: Scope, years: tuple[int, int]) -> dict[int, dict]:
    """Rows, done, funds and done-by-month-end of each year's live plan rows (1 query)."""
    aggregates = {}
    for year in years:
        mine = Q(plan__year=year)
        aggregates[f"total_{year}"] = Count("pk", filter=mine)
        aggregates[f"done_{year}"] = Count("pk", filter=mine & done_q())
        aggregates[f"planned_{year}"] = Sum("planned_funds", filter=mine)
        aggregates[f"invested_{year}"] = Sum("invested_funds", filter=mine)
        for month in MONTHS:
            by_end = mine & done_q() & Q(completed_on__lte=month_end(year, month))
            aggregates[f"m{month}_{year}"] = Count("pk", filter=by_end)
    rows = Task.objects.live().filter(scope.q(TASK_PATHS), plan__year__in=years)
    counts = rows.order_by().aggregate(**aggregates)
    return {
        year: {
            "rows_total": counts[f"total_{year}"],
            "rows_done": counts[f"done_{year}"],
            "funds_planned": wan(counts[f"planned_{year}"]),
            "funds_invested": wan(counts[f"invested_{year}"]),
            "by_month": [counts[f"m{month}_{year}"] for month in MONTHS],
        }
        for year in years
    }


def change(this, last) -> dict:
    """This year − last year, and this ÷ last (to two decimals; None when last year's figure is 0 or missing)."""
    if this is None or last is None:
        return {"change": None, "ratio": None}
    ratio = (Decimal(this) / Decimal(last)).quantize(RATIO) if last else None
    return {"change": this - last, "ratio": ratio}


def compare(scope: Scope, today: datetime.date, year: int) -> dict:
    """``year`` beside ``year - 1`` in ``scope`` on ``today`` (3 queries)."""
    last = year - 1
    years = (last, year)
    villages = village_figures(scope, years)
    people = people_figures(scope, years)
    rows = row_figures(scope, years)
    per_year = {}
    for y in years:
        figures = {**villages[y], "people_lifted": people[y], **{k: v for k, v in rows[y].items() if k != "by_month"}}
        figures["done_percent"] = percent(figures["rows_done"], figures["rows_total"])
        per_year[y] = figures
    table = []
    for key, label, unit in FIGURES:
        this, before = per_year[year][key], per_year[last][key]
        table.append({"key": key, "label": label, "unit": unit, "this": this, "last": before, **change(this, before)})
    months = []
    for i, month in enumerate(MONTHS):
        entry = {"month": month}
        for y, name in ((year, "this"), (last, "last")):
            future = datetime.date(y, month, 1) > today
            done = None if future else rows[y]["by_month"][i]
            entry[name] = done
            entry[f"{name}_percent"] = None if done is None else percent(done, rows[y]["rows_total"])
        months.append(entry)
    return {
        "scope": scope,
        "year": year,
        "last_year": last,
        "today": today,
        "figures": table,
        "by_key": {row["key"]: row for row in table},
        "months": months,
        "chart": {
            "labels": [f"{m}月" for m in MONTHS],
            "this_label": f"{year}年",
            "last_label": f"{last}年",
            "this": [None if e["this_percent"] is None else float(e["this_percent"]) for e in months],
            "last": [None if e["last_percent"] is None else float(e["last_percent"]) for e in months],
        },
    }
