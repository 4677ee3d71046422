"""The plan figures kept by the writes (bazhou/core/summaries.py says how): per village and plan year, the live rows
by state, funds by category and by source, done quantities by category and unit, and the weekly overdue counts, as
:class:`tasks.models.PlanFigures` and :class:`tasks.models.PlanBreakdown` rows the dashboard adds up.

Each figure is computed here with the same rules as everywhere else (tasks.models: live_q, done_q, overdue_q,
baseline_overdue_q, due_within_q, overdue_on_q), grouped by village and year: :func:`compute` is what a refresh of
some villages, a rebuild and a verification all run.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.conf import settings
from django.db.models import Case, Count, DecimalField, F, Q, Sum, Value, When
from django.db.models.functions import Cast, Coalesce

from bazhou.core import summaries
from tasks.models import (
    FundLine,
    Plan,
    PlanBreakdown,
    PlanFigures,
    Task,
    baseline_overdue_q,
    done_q,
    due_within_q,
    live_q,
    overdue_on_q,
    overdue_q,
)
from villages.models import Village

NAME = "plan"
OVERDUE_WEEKS = 12
MONEY = DecimalField(max_digits=24, decimal_places=10)
ZERO = Decimal(0)
STATES = ("total", "done", "in_progress", "overdue", "baseline_overdue", "due_soon")
WEEKS = tuple(f"w{i}" for i in range(OVERDUE_WEEKS))
FIELDS = (*STATES, "planned", "invested", *WEEKS)


def due_soon_days() -> int:
    """The window of 临期 (settings.BAZHOU_DUE_SOON_DAYS): the figures are rebuilt when it changes."""
    return settings.BAZHOU_DUE_SOON_DAYS


# The layout of the stored figures: a new one (township rows since 2) makes the markers differ, so the first reader
# after an upgrade rebuilds them.
LAYOUT = 2


def settings_number() -> int:
    """What the figures depend on besides the data: the due-soon window and :data:`LAYOUT`."""
    return due_soon_days() + 1000 * LAYOUT


def week_ends(today: datetime.date, weeks: int = OVERDUE_WEEKS) -> list[datetime.date]:
    """The ends of the last ``weeks`` weeks, oldest first; the last is today."""
    return [today - datetime.timedelta(days=7 * k) for k in range(weeks - 1, -1, -1)]


def _rows(villages):
    rows = Task.objects.filter(live_q())
    return rows if villages is None else rows.filter(plan__village__in=villages)


def queries(villages, day: datetime.date) -> dict:
    """The four aggregate queries of the figures of ``villages`` (every village if None) as of ``day``, by the table
    they fill, each with the names of its columns in that table."""
    figures = {
        "total": Count("pk"),
        "done": Count("pk", filter=done_q()),
        "in_progress": Count("pk", filter=Q(status=Task.Status.IN_PROGRESS)),
        "overdue": Count("pk", filter=overdue_q(day)),
        "baseline_overdue": Count("pk", filter=baseline_overdue_q(day)),
        "due_soon": Count("pk", filter=due_within_q(day, due_soon_days())),
        "planned": Coalesce(Sum("planned_funds"), ZERO, output_field=MONEY),
        "invested": Coalesce(Sum("invested_funds"), ZERO, output_field=MONEY),
        **{f"w{i}": Count("pk", filter=overdue_on_q(d)) for i, d in enumerate(week_ends(day))},
    }
    rows = _rows(villages).order_by().values(v=F("plan__village"), y=F("plan__year"))
    money = {
        "p": Coalesce(Sum("planned_funds"), ZERO, output_field=MONEY),
        "i": Coalesce(Sum("invested_funds"), ZERO, output_field=MONEY),
    }
    by_category = rows.values("v", "y", c=F("category")).annotate(
        k=Value(PlanBreakdown.Kind.CATEGORY), s=Value(""), u=Value(""), **money, q=Cast(Value(None), MONEY)
    )
    quantities = (
        rows.filter(done_q(), quantity__isnull=False)
        .values("v", "y", c=F("category"), u=F("unit"))
        .annotate(k=Value(PlanBreakdown.Kind.QUANTITY), s=Value(""), p=Value(ZERO), i=Value(ZERO), q=Sum("quantity"))
    )
    # A row's invested amount is not split by source, so by source it is shared out in proportion to the source's
    # part of the row's planned funds (按计划资金比例折算), as the dashboard has always said.
    share = Case(
        When(task__planned_funds__gt=0, then=F("amount") * F("task__invested_funds") / F("task__planned_funds")),
        default=Value(ZERO),
        output_field=MONEY,
    )
    lines = FundLine.objects.filter(live_q("task__"))
    if villages is not None:
        lines = lines.filter(task__plan__village__in=villages)
    by_source = (
        lines.order_by()
        .values(v=F("task__plan__village"), y=F("task__plan__year"), s=F("source"))
        .annotate(
            k=Value(PlanBreakdown.Kind.SOURCE),
            c=Value(""),
            u=Value(""),
            p=Coalesce(Sum("amount"), ZERO, output_field=MONEY),
            i=Coalesce(Sum(share, output_field=MONEY), ZERO, output_field=MONEY),
            q=Cast(Value(None), MONEY),
        )
    )
    main_columns = {"village_id": "v", "year": "y", **{f: f for f in FIELDS}}
    part_columns = {
        "village_id": "v",
        "year": "y",
        "kind": "k",
        "category": "c",
        "source": "s",
        "unit": "u",
        "planned": "p",
        "invested": "i",
        "quantity": "q",
    }
    return {
        PlanFigures: [(rows.annotate(**figures), main_columns)],
        PlanBreakdown: [(by_category, part_columns), (quantities, part_columns), (by_source, part_columns)],
    }


def compute(villages, day: datetime.date) -> tuple[dict, dict]:
    """The figures of ``villages`` (every village if None) as of ``day``, read from the base tables (4 queries):
    ``({(village, year): {field: value}}, {(village, year, kind, category, source, unit): (planned, invested,
    quantity)})``."""
    found = queries(villages, day)
    main = {}
    for queryset, _columns in found[PlanFigures]:
        for row in queryset:
            main[(row.pop("v"), row.pop("y"))] = {f: row[f] for f in FIELDS}
    parts = {}
    for queryset, _columns in found[PlanBreakdown]:
        for r in queryset:
            parts[(r["v"], r["y"], r["k"], r["c"], r["s"], r["u"])] = (r["p"], r["i"], r["q"])
    return main, parts


# The columns a township's rows add up, and those they are grouped by besides the year.
TOWNSHIP_ROWS = (
    (PlanFigures, (), FIELDS),
    (PlanBreakdown, ("kind", "category", "source", "unit"), ("planned", "invested", "quantity")),
)


def _store(villages, day: datetime.date, townships=frozenset()) -> None:
    """Replace the figures of ``villages`` (every village if None) with those computed as of ``day``, inside the
    database (INSERT … SELECT: nothing is loaded into Python): 2 deletes and 4 inserts; then the rows of their
    townships and of ``townships``, added up from the villages' rows (1 query for the townships, a lock, 2 deletes,
    2 inserts)."""
    figures, breakdown = (
        PlanFigures.objects.filter(village__isnull=False),
        PlanBreakdown.objects.filter(village__isnull=False),
    )
    if villages is not None:
        figures, breakdown = figures.filter(village__in=villages), breakdown.filter(village__in=villages)
    if villages is None or villages:
        figures.delete()
        breakdown.delete()
        for model, statements in queries(villages, day).items():
            for queryset, columns in statements:
                summaries.insert_select(model, columns, queryset)
    _store_townships(None if villages is None else summaries.townships_of(PlanFigures, villages) | set(townships))


def _store_townships(townships) -> None:
    """Redo the township rows of ``townships`` (every township if None) from their villages' rows."""
    for model, keys, sums in TOWNSHIP_ROWS:
        summaries.store_townships(model, keys, sums, townships)


def refresh(villages: set, day: datetime.date, townships=frozenset()) -> None:
    """Compute and store afresh the figures of ``villages`` as of ``day`` (6 queries), and their townships' rows
    with those of ``townships`` (a village moved away: its old township)."""
    _store(villages, day, townships)


def rebuild(day: datetime.date) -> None:
    _store(None, day)


def villages_of(kinds: dict) -> set:
    """The villages of pending keys: plans (a plan row's), plan rows (a fund line's) and villages (a plan's)."""
    villages = set(kinds.get("villages", ()))
    plans = set(kinds.get("plans", ()))
    if kinds.get("tasks"):
        plans |= set(Task.objects.filter(pk__in=kinds["tasks"]).values_list("plan_id", flat=True))
    if plans:
        villages |= set(Plan.objects.filter(pk__in=plans).values_list("village_id", flat=True))
    return villages


def _normal(value):
    if isinstance(value, Decimal):
        return value.quantize(Decimal("0.0001"))
    return value


def verify(day: datetime.date) -> list[str]:
    main, parts = compute(None, day)
    stored_main = {
        (r.pop("village"), r.pop("year")): r
        for r in PlanFigures.objects.filter(village__isnull=False).values("village", "year", *FIELDS)
    }
    stored_parts = {
        (r.village_id, r.year, r.kind, r.category, r.source, r.unit): (r.planned, r.invested, r.quantity)
        for r in PlanBreakdown.objects.filter(village__isnull=False)
    }
    # The townships' rows against the fresh village figures added up by township.
    stored_main.update(
        {
            ("乡镇", r.pop("township"), r.pop("year")): r
            for r in PlanFigures.objects.filter(village__isnull=True).values("township", "year", *FIELDS)
        }
    )
    stored_parts.update(
        {
            ("乡镇", r.township_id, r.year, r.kind, r.category, r.source, r.unit): (r.planned, r.invested, r.quantity)
            for r in PlanBreakdown.objects.filter(village__isnull=True)
        }
    )

    def normal(d: dict) -> dict:
        return {k: tuple(_normal(x) for x in (v.values() if isinstance(v, dict) else v)) for k, v in d.items()}

    describe = summaries.describe_key

    fresh_main = {k: {f: v[f] for f in FIELDS} for k, v in main.items()}
    fresh_main.update(summaries.township_totals(PlanFigures, fresh_main))
    parts = {**parts, **summaries.township_totals(PlanBreakdown, parts)}
    return summaries.diff(normal(stored_main), normal(fresh_main), describe) + summaries.diff(
        normal(stored_parts), normal(parts), describe
    )


# ---------------------------------------------------------------------------------------------
# Reading: the dashboard adds the villages' figures up by township or by village
# ---------------------------------------------------------------------------------------------


def ready(day: datetime.date) -> None:
    """Make the plan figures whole for ``day`` (1 query while they are)."""
    summaries.ready([NAME], day)


def refresh_villages(village_ids) -> None:
    """Say that the plan rows of these villages changed in bulk (their figures are refreshed before the transaction
    commits); call inside :func:`bazhou.core.summaries.bulk`."""
    summaries.touched(NAME, "villages", village_ids)


def grouped(area_q: Q, year: int, group_by: str | tuple) -> dict:
    """The plan figures of ``year`` inside ``area_q`` (a filter of PlanFigures), added up by ``group_by`` (1 query):
    ``{key: {field: value}}``; with a pair of names, keyed by the pair."""
    names = (group_by,) if isinstance(group_by, str) else group_by
    rows = (
        PlanFigures.objects.filter(area_q, year=year).order_by().values(*names).annotate(**{f: Sum(f) for f in FIELDS})
    )
    return {tuple(r[n] for n in names) if len(names) > 1 else r[names[0]]: r for r in rows}


def breakdown(area_q: Q, year: int, kind: str, by: tuple[str, ...], group_by: str | None = None) -> list[dict]:
    """The breakdown rows of ``kind`` of ``year`` inside ``area_q`` added up by ``by`` (and ``group_by``) (1 query)."""
    names = (*by, group_by) if group_by else by
    return list(
        PlanBreakdown.objects.filter(area_q, year=year, kind=kind)
        .order_by()
        .values(*names)
        .annotate(planned=Sum("planned"), invested=Sum("invested"), quantity=Sum("quantity"))
    )


def register() -> None:
    """Called by TasksConfig.ready: the plan figures' keeper and the models whose writes change them."""
    summaries.register(
        summaries.Keeper(
            name=NAME,
            tables=(Task._meta.db_table, FundLine._meta.db_table, Plan._meta.db_table),
            villages=villages_of,
            refresh=refresh,
            rebuild=rebuild,
            verify=verify,
            settings=settings_number,
            by_day=True,
            townships=True,
        )
    )
    summaries.track(Task, NAME, "plans", "plan_id")
    summaries.track(FundLine, NAME, "tasks", "task_id")
    summaries.track(Plan, NAME, "villages", "village_id")
    # A village moved to another township: both townships' rows are redone (its own rows stay as they are).
    summaries.track(Village, NAME, "townships", "township_id")
