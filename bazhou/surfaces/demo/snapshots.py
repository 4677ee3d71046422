"""The demo's monthly snapshots (月度快照, docs/snapshots.md): the 12 months up to the demo's today (2017-09-15),
2016-10 … 2017-09, so the dashboard's trend draws 12 points, and one correction (2017-08, a township's late report).

A real snapshot is taken on its day and never recomputed; the demo has no past, so it backfills them (kind
``backfill``, 演示数据补录) with **the figures as of each month's snapshot day** (``BAZHOU_SNAPSHOT_DAY``, and today for
the current month) counted from the rows' deadlines and completion dates (``tasks.models.overdue_on_q``, the rule of
the dashboard's weekly chart) and the findings' dates. This "as of a past day" variant lives here only: the real
take (``supervision.snapshots.take``) counts the data as it stands. The invested funds of a past day are not stored
anywhere: the demo counts the invested funds of the rows completed by that day, plus the open rows' invested funds
in proportion to the part of their year gone by (an estimate, for the chart only). Households' and villages'
readiness are counted as they stand today.

About 14 grouped reads of the district and 14 inserts in all (a few seconds at 1×). Called once from
``DemoBuilder.build``, after everything else.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, Q, Sum

from supervision import snapshots
from supervision.models import MonthlySnapshot, Rectification
from tasks.models import Task, live_q, overdue_on_q

MONTHS = 12
CORRECTED_MONTH = datetime.date(2017, 8, 1)
CORRECTION_REASON = "白庙乡8月完工的任务逾期补报，更正8月快照（演示）"


def _completed_by(day: datetime.date) -> Q:
    return Q(completed_on__isnull=False, completed_on__lte=day)


def tasks_as_of(district, year: int, day: datetime.date) -> dict[int, dict]:
    """The plan rows of ``year`` by village as of a past ``day`` (demo only): done = completed by then, overdue =
    ``overdue_on_q(day)``, due soon = open then and due within the window (1 query)."""
    window = day + datetime.timedelta(days=settings.BAZHOU_DUE_SOON_DAYS)
    open_then = ~_completed_by(day)
    rows = (
        Task.objects.filter(live_q(), plan__village__township__district=district, plan__year=year)
        .order_by()
        .values("plan__village")
        .annotate(
            rows_total=Count("pk"),
            rows_done=Count("pk", filter=_completed_by(day)),
            rows_in_progress=Count("pk", filter=open_then & Q(progress__gt=0)),
            rows_overdue=Count("pk", filter=overdue_on_q(day)),
            rows_due_soon=Count("pk", filter=open_then & Q(deadline__gte=day, deadline__lte=window)),
            funds_planned=Sum("planned_funds"),
            invested_done=Sum("invested_funds", filter=_completed_by(day)),
            invested_open=Sum("invested_funds", filter=open_then),
        )
    )
    start, end = datetime.date(year, 1, 1), datetime.date(year, 12, 31)
    share = Decimal(max(0, min((day - start).days, 365))) / Decimal((end - start).days + 1)
    result = {}
    for row in rows:
        done, still_open = row.pop("invested_done") or Decimal(0), row.pop("invested_open") or Decimal(0)
        row["funds_invested"] = done + (still_open * share).quantize(snapshots.CENT)
        result[row.pop("plan__village")] = row
    return result


def findings_as_of(district, month: datetime.date, day: datetime.date) -> dict[tuple[str, str], dict]:
    """Findings found by ``day``: open then, closed within the month by then, rectification overdue then (1 query)."""
    found = Q(found_on__lte=day)
    closed_by = Q(rectification__closed_on__isnull=False, rectification__closed_on__lte=day)
    rows = snapshots.findings_by_area(district).annotate(
        findings_open=Count("pk", filter=found & ~closed_by),
        findings_closed_in_month=Count(
            "pk",
            filter=found
            & Q(
                rectification__status=Rectification.Status.CLOSED,
                rectification__closed_on__gte=month,
                rectification__closed_on__lte=day,
            ),
        ),
        rectifications_overdue=Count("pk", filter=found & ~closed_by & Q(rectification__deadline__lt=day)),
    )
    return {(row.pop("township_key"), row.pop("village_key")): row for row in rows}


def build_snapshots(builder) -> None:
    """12 months of backfilled snapshots of the demo district, and the correction of August."""
    district, today = builder.district, builder.today
    day_of_month = snapshots.snapshot_day()
    last = snapshots.month_of(today)
    taken = 0
    for back in range(MONTHS - 1, -1, -1):
        month = snapshots.months_back(last, back)
        day = min(month.replace(day=day_of_month), today)

        def figures(d, m, day=day):
            return snapshots.area_figures(d, m, day, tasks=tasks_as_of, findings=findings_as_of)

        taken += len(
            snapshots.take(district, month, kind=MonthlySnapshot.Kind.BACKFILL, today=today, figures_of=figures)
        )
    # A correction of August as the district office made it (a township reported late): the same figures as of the
    # correction's day in September, so the trend shows August "已更正" with its reason.
    corrections = snapshots.take(
        district,
        CORRECTED_MONTH,
        user=builder.admin,
        kind=MonthlySnapshot.Kind.ON_DEMAND,
        correct=True,
        reason=CORRECTION_REASON,
        today=today,
        figures_of=lambda d, m: snapshots.area_figures(
            d, m, datetime.date(2017, 8, 31), tasks=tasks_as_of, findings=findings_as_of
        ),
    )
    builder.counts[MonthlySnapshot._meta.label] += taken + len(corrections)
    builder.log(f"月度快照：{MONTHS} 个月、{taken + len(corrections)} 条（含 8 月的更正）")
