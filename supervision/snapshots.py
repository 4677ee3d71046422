"""月度快照 (monthly snapshots): every area's figures frozen once a month, never recomputed.

On the configured day of each month (``settings.BAZHOU_SNAPSHOT_DAY``, :func:`snapshot_day`) the daily run
(``manage.py supervision_daily``) calls :func:`take` for every district, and the district office may take one on
demand (the snapshots page, a background job; ``manage.py take_snapshot``). :func:`take` reads the district, every
township and every village in a fixed number of queries — grouped aggregates by village, added up here into the
townships and the district, never a query per area — and inserts one :class:`~supervision.models.MonthlySnapshot`
per area in one transaction. The month's figures are those of the plan rows of the month's year, as they stand on
the day taken, counted by the same rules as the dashboard (the Q factories of ``tasks.models``,
``households.readiness``, ``villages.exit_criteria``, ``supervision.models``).

A month is taken once. A later take of the same month is refused, unless it is a correction (更正) by the district
office with a reason: new rows, each pointing at the row it replaces (``corrects``); the replaced rows stay as they
were, and every reader (the trend, the API, the bulletin) shows the correction as such (已更正, with the reason).

Queries of :func:`take`: the district locked (1), whether the month exists (1), townships (1), villages (1), plan
rows by village (1), households targeted and ready by village (2: the poverty line, the counts), villages planned to
exit judged (``exit_criteria.judge``: at most 5), findings by area (1), the chain ends to correct (correction only,
1), the insert (1).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.db.models import CharField, Count, F, Q, Sum, Value
from django.db.models.functions import Cast, Coalesce
from django.urls import reverse

from bazhou.core import access, clock, jobs
from bazhou.core.text import is_blank
from households.models import Household
from households.readiness import READY, readiness_filter
from supervision.models import (
    Finding,
    MonthlySnapshot,
    Rectification,
    rectification_open_q,
    rectification_overdue_q,
)
from tasks.models import Task, done_q, due_within_q, live_q, overdue_q
from villages import exit_criteria
from villages.models import District, Township, Village

ZERO = Decimal(0)
CENT = Decimal("0.0001")

# The figures of one area (MonthlySnapshot.figures): name → what it counts. Counts are integers, amounts (万元)
# strings with four decimals, percentages strings with one decimal (or None when there is nothing to divide by).
FIGURES = {
    "rows_total": "任务总数",
    "rows_done": "已完成",
    "rows_in_progress": "进行中",
    "rows_overdue": "已逾期",
    "rows_due_soon": "临期",
    "done_percent": "完成率（%）",
    "funds_planned": "计划资金（万元）",
    "funds_invested": "已投入资金（万元）",
    "invested_percent": "资金投入率（%）",
    "villages_planned_exit": "计划退出贫困村",
    "villages_ready": "退出指标全部达标的村",
    "households_targeted": "计划脱贫户",
    "households_ready": "脱贫条件全部达标的户",
    "findings_open": "未销号问题",
    "findings_closed_in_month": "当月销号问题",
    "rectifications_overdue": "逾期整改",
}
COUNTS = (
    "rows_total",
    "rows_done",
    "rows_in_progress",
    "rows_overdue",
    "rows_due_soon",
    "villages_planned_exit",
    "villages_ready",
    "households_targeted",
    "households_ready",
    "findings_open",
    "findings_closed_in_month",
    "rectifications_overdue",
)
AMOUNTS = ("funds_planned", "funds_invested")

ALREADY_TAKEN = "{month}的月度快照已于{day}生成，不再重新计算；如数字有误，请由区脱贫办生成更正快照并写明原因。"
NOTHING_TO_CORRECT = "{month}还没有月度快照，无可更正：请直接生成。"
REASON_NEEDED = "更正快照须写明更正原因。"
NOT_ALLOWED = "只有区脱贫办（区级管理员）可以临时生成或更正本区县的月度快照。"
FUTURE_MONTH = "不能生成尚未到来的月份（{month}）的快照。"
BAD_DAY = "BAZHOU_SNAPSHOT_DAY 应为 1 到 28 之间的整数（每月都有这一天），现为“{value}”。"


class SnapshotRefused(Exception):
    """A take the rules refuse, with the reason for people (Chinese); nothing was written."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def snapshot_day() -> int:
    """The day of the month of the scheduled snapshot (``settings.BAZHOU_SNAPSHOT_DAY``, 1–28)."""
    value = getattr(settings, "BAZHOU_SNAPSHOT_DAY", 25)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 28:
        raise ImproperlyConfigured(BAD_DAY.format(value=value))
    return value


def month_of(day: datetime.date) -> datetime.date:
    """The first day of ``day``'s month (a snapshot's ``month``)."""
    return day.replace(day=1)


def previous_month(month: datetime.date) -> datetime.date:
    return (month - datetime.timedelta(days=1)).replace(day=1)


def months_back(month: datetime.date, count: int) -> datetime.date:
    """The month ``count`` months before ``month``."""
    index = month.year * 12 + month.month - 1 - count
    return datetime.date(index // 12, index % 12 + 1, 1)


def month_label(month: datetime.date) -> str:
    return f"{month.year}年{month.month}月"


def area_key(*, district=None, township=None, village=None) -> str:
    """The key of an area among snapshots: "v:<village id>", "t:<township code>" or "d:<district code>"."""
    if village is not None:
        return f"v:{getattr(village, 'pk', village)}"
    if township is not None:
        return f"t:{getattr(township, 'pk', township)}"
    return f"d:{getattr(district, 'pk', district)}"


# ---------------------------------------------------------------------------------------------
# The figures: grouped by village in a fixed number of queries, added up into townships and the district
# ---------------------------------------------------------------------------------------------


def _blank() -> dict:
    return {**dict.fromkeys(COUNTS, 0), **dict.fromkeys(AMOUNTS, ZERO)}


def _add(into: dict, values: dict) -> None:
    for name, value in values.items():
        if name in into and value is not None:
            into[name] += value


def percent(part, whole) -> str | None:
    if not whole:
        return None
    return str((Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1")))


def _finish(raw: dict, *, year: int, as_of: datetime.date) -> dict:
    """The stored form of an area's figures (JSON: amounts and percentages as strings)."""
    figures = {name: raw[name] for name in COUNTS}
    for name in AMOUNTS:
        figures[name] = str(Decimal(raw[name]).quantize(CENT))
    figures["done_percent"] = percent(raw["rows_done"], raw["rows_total"])
    figures["invested_percent"] = percent(raw["funds_invested"], raw["funds_planned"])
    figures["year"] = year
    figures["as_of"] = as_of.isoformat()
    figures["due_soon_days"] = settings.BAZHOU_DUE_SOON_DAYS
    return figures


def task_figures(district, year: int, as_of: datetime.date) -> dict[int, dict]:
    """The live plan rows of ``year`` by village: totals, done, in progress, overdue and due soon on ``as_of``,
    planned and invested funds (1 query; the dashboard's rules, ``tasks.models``)."""
    rows = (
        Task.objects.filter(live_q(), plan__village__township__district=district, plan__year=year)
        .order_by()
        .values(key=F("plan__village"))
        .annotate(
            rows_total=Count("pk"),
            rows_done=Count("pk", filter=done_q()),
            rows_in_progress=Count("pk", filter=Q(status=Task.Status.IN_PROGRESS)),
            rows_overdue=Count("pk", filter=overdue_q(as_of)),
            rows_due_soon=Count("pk", filter=due_within_q(as_of, settings.BAZHOU_DUE_SOON_DAYS)),
            funds_planned=Sum("planned_funds"),
            funds_invested=Sum("invested_funds"),
        )
    )
    return {row.pop("key"): row for row in rows}


def household_figures(district, year: int) -> dict[int, dict]:
    """Households targeted to exit in ``year`` and those meeting all of 一超六有, by village (2 queries:
    ``households.readiness``, the rule of the dashboard and the household list)."""
    targeted = Household.objects.filter(village__township__district=district, planned_exit_year=year)
    ready = readiness_filter(targeted, year, READY).values("pk")
    rows = (
        targeted.order_by()
        .values(key=F("village"))
        .annotate(households_targeted=Count("pk"), households_ready=Count("pk", filter=Q(pk__in=ready)))
    )
    return {row.pop("key"): row for row in rows}


def village_figures(district, year: int) -> dict[int, dict]:
    """Villages planned to exit in ``year`` and whether each meets every exit indicator of the year
    (``villages.exit_criteria.judge``: at most 5 queries)."""
    judged = exit_criteria.judge(Village.objects.filter(township__district=district).planned_to_exit(year), year)
    return {
        pk: {"villages_planned_exit": 1, "villages_ready": int(bool(j) and all(x.met for x in j.values()))}
        for pk, j in judged.items()
    }


def findings_by_area(district):
    """The findings of ``district`` grouped by (``township_key``: code, ``village_key``: id as text, or "" for a
    township's own findings), to annotate with counts (a finding sits where its target sits: its kept area)."""
    return (
        Finding.objects.filter(area_district=district.pk)
        .order_by()
        .values(
            township_key=F("area_township"),
            village_key=Coalesce(Cast("area_village", CharField()), Value(""), output_field=CharField()),
        )
    )


def finding_figures(district, month: datetime.date, as_of: datetime.date) -> dict[tuple[str, str], dict]:
    """Open findings, findings closed (销号) in the month up to ``as_of`` and overdue rectifications on ``as_of``, by
    (township code, village id or "" for a township's own findings) (1 query; ``supervision.models``' rules)."""
    closed = Q(
        rectification__status=Rectification.Status.CLOSED,
        rectification__closed_on__gte=month,
        rectification__closed_on__lte=as_of,
    )
    rows = findings_by_area(district).annotate(
        findings_open=Count("pk", filter=rectification_open_q("rectification__")),
        findings_closed_in_month=Count("pk", filter=closed),
        rectifications_overdue=Count("pk", filter=rectification_overdue_q(as_of, "rectification__")),
    )
    return {(row.pop("township_key"), row.pop("village_key")): row for row in rows}


def area_figures(district, month: datetime.date, as_of: datetime.date, *, tasks=None, findings=None) -> list[dict]:
    """The figures of ``district``, each of its townships and each of its villages for ``month`` as they stand on
    ``as_of``: a list of ``{"township", "village", "figures"}`` (district first), in a fixed number of queries.
    ``tasks`` and ``findings`` replace :func:`task_figures` and :func:`finding_figures` (the demo's backfill of past
    months, which counts them as of a past day: bazhou/surfaces/demo/snapshots.py; never for a real take)."""
    year = month.year
    tasks, findings = tasks or task_figures, findings or finding_figures
    townships = list(Township.objects.filter(district=district).order_by("code"))
    villages = list(Village.objects.filter(township__district=district).order_by("code").only("pk", "township"))
    by_village: dict[int, dict] = {v.pk: _blank() for v in villages}
    for source in (tasks(district, year, as_of), household_figures(district, year), village_figures(district, year)):
        for pk, values in source.items():
            if pk in by_village:
                _add(by_village[pk], values)
    by_township: dict[str, dict] = {t.pk: _blank() for t in townships}
    for v in villages:
        _add(by_township[v.township_id], by_village[v.pk])
    for (township_code, village_key), values in findings(district, month, as_of).items():
        if village_key and int(village_key) in by_village:
            _add(by_village[int(village_key)], values)
        if township_code in by_township:
            _add(by_township[township_code], values)
    whole = _blank()
    for values in by_township.values():
        _add(whole, values)
    areas = [{"township": None, "village": None, "figures": _finish(whole, year=year, as_of=as_of)}]
    areas += [
        {"township": t, "village": None, "figures": _finish(by_township[t.pk], year=year, as_of=as_of)}
        for t in townships
    ]
    areas += [
        {"township": v.township_id, "village": v, "figures": _finish(by_village[v.pk], year=year, as_of=as_of)}
        for v in villages
    ]
    return areas


# ---------------------------------------------------------------------------------------------
# Taking a month: the one write
# ---------------------------------------------------------------------------------------------


def take(
    district,
    month: datetime.date,
    *,
    user=None,
    kind: str,
    reason: str = "",
    correct: bool = False,
    today: datetime.date | None = None,
    figures_of=None,
) -> list[MonthlySnapshot]:
    """Freeze the figures of ``district`` and every township and village in it for ``month`` (its first day) as
    they stand today, in one transaction. Refused (:class:`SnapshotRefused`, nothing written) when the month has
    its snapshot already, unless ``correct`` with a ``reason`` by the district office; a month still to come is
    refused too. ``user`` None is the scheduled run. ``figures_of(district, month)`` replaces
    :func:`area_figures` (the demo's "as of that day" backfill only)."""
    today = today or clock.today()
    month = month_of(month)
    reason = (reason or "").strip()
    if month > month_of(today):
        raise SnapshotRefused(FUTURE_MONTH.format(month=month_label(month)))
    if user is not None and not (
        access.may_take_snapshots(user) and (user.is_superuser or user.district_id == district.pk)
    ):
        raise SnapshotRefused(NOT_ALLOWED)
    if correct and (user is None or is_blank(reason)):
        raise SnapshotRefused(REASON_NEEDED if user is not None else NOT_ALLOWED)
    with transaction.atomic():
        District.objects.select_for_update().filter(pk=district.pk).first()  # one take of a district at a time
        existing = MonthlySnapshot.objects.filter(district=district, month=month, corrects__isnull=True)
        first = existing.order_by("taken_at").first()
        if first is not None and not correct:
            raise SnapshotRefused(ALREADY_TAKEN.format(month=month_label(month), day=first.as_of.isoformat()))
        if first is None and correct:
            raise SnapshotRefused(NOTHING_TO_CORRECT.format(month=month_label(month)))
        ends = {}
        if correct:
            ends = {
                s.area_key: s
                for s in MonthlySnapshot.objects.filter(district=district, month=month)
                .effective()
                .only("pk", "area_key")
            }
        areas = (figures_of or (lambda d, m: area_figures(d, m, today)))(district, month)
        rows = []
        for area in areas:
            village, township = area["village"], area["township"]
            township_code = getattr(township, "pk", township)
            key = area_key(district=district, township=township_code, village=village)
            figures = area["figures"]
            rows.append(
                MonthlySnapshot(
                    month=month,
                    district=district,
                    township_id=township_code,
                    village=village,
                    area_key=key,
                    as_of=datetime.date.fromisoformat(figures["as_of"]),
                    figures=figures,
                    kind=kind,
                    taken_by=user,
                    corrects=ends.get(key),
                    correction_reason=reason if correct else "",
                )
            )
        try:
            with transaction.atomic():
                MonthlySnapshot.objects.bulk_create(rows)
        except IntegrityError:  # the same month, taken a moment earlier by another process
            raise SnapshotRefused(ALREADY_TAKEN.format(month=month_label(month), day=today.isoformat())) from None
    return rows


def take_scheduled(district, today: datetime.date) -> list[MonthlySnapshot] | None:
    """The daily run's part: on the configured day, the month's snapshot if it has none yet (else None; safe to
    run again the same day)."""
    if today.day != snapshot_day():
        return None
    month = month_of(today)
    if MonthlySnapshot.objects.filter(district=district, month=month).exists():
        return None
    try:
        return take(district, month, kind=MonthlySnapshot.Kind.SCHEDULED, today=today)
    except SnapshotRefused:
        return None


# ---------------------------------------------------------------------------------------------
# Reading: the months of one area (the trend, the page, the API, the bulletin)
# ---------------------------------------------------------------------------------------------


def effective_by_month(rows: Iterable[MonthlySnapshot]) -> dict[datetime.date, dict]:
    """The rows of one area grouped by month: the one that counts (the last correction, else the original) and
    whether it corrects an earlier one, with the reason. ``rows`` ordered by month then id."""
    months: dict[datetime.date, dict] = {}
    for row in rows:
        entry = months.setdefault(row.month, {"month": row.month, "snapshot": None, "corrections": 0})
        if entry["snapshot"] is None or row.pk > entry["snapshot"].pk:
            entry["snapshot"] = row
        if row.corrects_id is not None:
            entry["corrections"] += 1
    for entry in months.values():
        s = entry["snapshot"]
        entry["corrected"] = s.corrects_id is not None
        entry["reason"] = s.correction_reason
        entry["figures"] = s.figures
    return months


def change(current: dict | None, previous: dict | None) -> dict | None:
    """较上月: the change of the main figures from the previous month's snapshot to this one (None without both)."""
    if not current or not previous:
        return None
    result = {}
    for name in ("rows_total", "rows_done", "rows_overdue", "findings_open", "rectifications_overdue"):
        result[name] = (current.get(name) or 0) - (previous.get(name) or 0)
    for name in ("done_percent", "invested_percent", "funds_invested"):
        a, b = current.get(name), previous.get(name)
        result[name] = str(Decimal(a) - Decimal(b)) if a is not None and b is not None else None
    return result


# ---------------------------------------------------------------------------------------------
# On demand from the snapshots page: a background job with a progress bar
# ---------------------------------------------------------------------------------------------

SNAPSHOT_JOB = "monthly_snapshot"


@jobs.register(SNAPSHOT_JOB)
def snapshot_job(job, progress) -> jobs.Outcome:
    """Take (or correct) the job's month for the job's district, as the user asked it (rechecked now: the user may
    no longer be allowed, the month may have been taken meanwhile — then the job fails with the reason)."""
    params = job.params
    district = District.objects.filter(pk=params["district"]).first()
    if district is None:
        raise jobs.JobFailed("区县不存在。")
    progress(0, total=1, phase="统计各区域数字")
    try:
        rows = take(
            district,
            datetime.date.fromisoformat(params["month"]),
            user=job.user,
            kind=MonthlySnapshot.Kind.ON_DEMAND,
            correct=bool(params.get("correct")),
            reason=params.get("reason", ""),
        )
    except SnapshotRefused as refused:
        raise jobs.JobFailed(refused.message, url=reverse("supervision:snapshots")) from None
    progress(1, total=1, phase="已保存")
    what = "更正快照" if params.get("correct") else "月度快照"
    note = f"已生成{month_label(rows[0].month)}的{what}，共 {len(rows)} 个区域。"
    return jobs.Outcome(url=reverse("supervision:snapshots"), note=note)
