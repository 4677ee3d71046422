"""The dashboard's figures: one function per block, each a fixed number of queries whatever the data size.

Every function takes a :class:`Scope` (the district, one township or one village) and the year, and
returns plain data (dicts, lists, Decimals) for the template and the charts. :func:`compute` reads them all
(a fixed number of queries); :func:`dashboard`, which the pages and the API call, stores them in the database
(``CachedFigures``) in four parts (``PARTS``), each with the versions of the kinds of data it reads
(bazhou/freshness.py). A page load costs two small queries while nothing changed; after a write, the parts that
read the changed data are computed afresh on the next load, so an edit shows on the next page load.
"""

from __future__ import annotations

import datetime
import hashlib
import pickle
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import (
    Avg,
    Count,
    DecimalField,
    Exists,
    OuterRef,
    Q,
    Sum,
)
from django.urls import reverse

from bazhou.core import access, clock, freshness
from bazhou.core.access import AreaPaths
from bazhou.core.models import AnnualGoal, CachedFigures
from households import goals as goal_rules
from households import summaries as registry_summaries
from households.readiness import CRITERIA, READY, UNMET_PREFIX, line_of
from supervision.models import FINDING_AREA_PATHS, Bulletin, Finding, Rectification
from tasks import exit_summaries, goal_summaries
from tasks import summaries as plan_summaries
from tasks.models import (
    Category,
    FundSource,
    PlanBreakdown,
    Task,
    baseline_overdue_q,
    done_q,
    due_within_q,
    live_q,
    overdue_q,
)
from tasks.summaries import week_ends
from villages import exit_criteria
from villages.areas import Area
from villages.models import ExitIndicator, Township, Village

MONEY = DecimalField(max_digits=18, decimal_places=4)
ZERO = Decimal(0)
CENT = Decimal("0.0001")

TASK_PATHS = AreaPaths(
    district="plan__village__township__district", township="plan__village__township", village="plan__village"
)
VILLAGE_PATHS = AreaPaths(district="township__district", township="township", village="pk")
HOUSEHOLD_PATHS = AreaPaths(district="village__township__district", township="village__township", village="village")
# The summary figures (tasks.PlanFigures, households.RegistryFigures) are per village: the same paths as households.
FIGURE_PATHS = HOUSEHOLD_PATHS


@dataclass(frozen=True, kw_only=True)
class Scope(Area):
    """The area a dashboard shows: the whole district, one township, or one village (picked among those the user
    may pick by ``bazhou.surfaces.views.dashboard_scope``; ``Area.q`` filters the rows inside it). For a 挂包 leader
    the top level is their charge (``Area.is_charge``): its townships and villages, ranked side by side."""

    def tasks(self, year: int):
        """Live plan rows of the year's plans in the area."""
        return Task.objects.live().filter(self.q(TASK_PATHS), plan__year=year)


def due_soon_days() -> int:
    """The window of 临期 (due soon): ``settings.BAZHOU_DUE_SOON_DAYS`` days from today, both ends included; the same
    window as the review queue's default, 我的待办 and the daily digest."""
    return settings.BAZHOU_DUE_SOON_DAYS


# The states of plan rows the dashboard counts, each a Q factory of tasks.models taking today: the counts here and
# the lists the figures link to (the rows list ``/dashboard/rows/?state=``, the review queue) filter with the same
# one, so a figure and its list never disagree.
ROW_STATES = {
    "all": ("任务", lambda today: live_q()),
    "done": ("已完成", lambda today: done_q()),
    "in_progress": ("进行中", lambda today: Q(status=Task.Status.IN_PROGRESS)),
    "overdue": ("已逾期", overdue_q),
    "baseline_overdue": ("原定逾期", baseline_overdue_q),
    "due_soon": ("临期", lambda today: due_within_q(today, due_soon_days())),
}


def row_state_q(state: str, today: datetime.date) -> Q:
    """The filter of plan rows in ``state`` (a key of :data:`ROW_STATES`) on ``today``."""
    return ROW_STATES[state][1](today)


def percent(part, whole) -> Decimal | None:
    """``part`` as a percentage of ``whole``, to one decimal; None when there is no whole."""
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"))


def wan(value) -> Decimal:
    return (value or ZERO).quantize(CENT)


# Plan rows, grouped by township (district level) or village: 1 query that serves the goals' quantities, the
# row counts, the ranking and the weekly overdue chart, so the big table is read once.


def task_groups(scope: Scope, year: int, today: datetime.date, quantity_goals: list) -> dict:
    """Figures of the year's plan rows in the area, by township (district level) or by village (below); for a
    charge, by charged township and by charged village outside them. Read from the villages' figures that the writes
    keep (tasks/summaries.py: 1 query to make sure they are whole for ``today``, 1 to add them up, 1 more for the
    quantity goals), not from the plan rows themselves; :func:`plan_part` has made them whole for ``today``."""
    area = scope.q(FIGURE_PATHS)
    if scope.is_charge:
        # One row per village of the charge, added up here into its townships and its single villages.
        rows = plan_summaries.grouped(area, year, ("village", "village__township"))
        codes = scope.charge.keys[0]
        groups: dict = {}
        for (village, township), row in rows.items():
            key = township if township in codes else village
            group = groups.setdefault(key, {"key": key})
            for name in plan_summaries.FIELDS:
                group[name] = row[name] if group.get(name) is None else group[name] + (row[name] or 0)
        where = lambda row: row["village__township"] if row["village__township"] in codes else row["village"]  # noqa: E731
        group_by = ("village", "village__township")
    else:
        area, township = figure_rows(scope)
        group_by = township if scope.level == "district" else "village"
        groups = plan_summaries.grouped(area, year, group_by)
        for key, row in groups.items():
            row["key"] = key
        where = lambda row: row[group_by]  # noqa: E731
    for group in groups.values():
        for g in quantity_goals:
            group[f"g{g.pk}"] = None
    if quantity_goals:
        wanted: dict = {}
        for g in quantity_goals:
            wanted.setdefault((g.task_category, g.unit), []).append(f"g{g.pk}")
        names = ("village", "village__township") if scope.is_charge else (group_by,)
        for row in plan_summaries.breakdown(area, year, PlanBreakdown.Kind.QUANTITY, ("category", "unit", *names)):
            group = groups.get(where(row))
            if group is None:
                continue
            for name in wanted.get((row["category"], row["unit"]), ()):
                group[name] = (group[name] or 0) + (row["quantity"] or 0)
    return groups


def figure_rows(scope: Scope) -> tuple[Q, str]:
    """The summary rows (tasks.PlanFigures, PlanBreakdown, households.RegistryFigures) ``scope`` adds up, and the name
    of their township: the district's dashboard reads its townships' rows (a few dozen, each its villages' rows added
    up by the writes); a township, a village or a charge reads the villages' rows."""
    if scope.level == "district" and not scope.is_charge:
        return Q(village__isnull=True, township__district=scope.district), "township"
    return scope.q(FIGURE_PATHS), "village__township"


def _sum(groups: dict, name: str):
    return sum((g[name] or 0 for g in groups.values()), 0)


# Annual goals: 3 queries (the goals; villages exited and people lifted; quantities come from task_groups).


def own_goals_q(scope: Scope) -> Q:
    """The goals that are the scope's own: a village's, a township's, else (the district, a charge) the district's."""
    if scope.village:
        return Q(village=scope.village)
    if scope.township:
        return Q(township=scope.township, village__isnull=True)
    return Q(township__isnull=True, village__isnull=True)


def annual_goals(scope: Scope, year: int) -> list:
    """The scope's own goals of the year and, below the district, the district's goals (to be measured inside the
    scope where that makes sense: see :func:`goals`), own goals first (1 query)."""
    district_goals = Q(township__isnull=True, village__isnull=True)
    rows = AnnualGoal.objects.filter(Q(district=scope.district, year=year) & (own_goals_q(scope) | district_goals))
    return list(rows.select_related("township", "village", "entered_by").order_by("order", "pk"))


def registry_counts(scope: Scope, year: int) -> dict:
    """Villages exited in ``year`` and people lifted out of poverty in ``year`` inside the scope (2 queries, and 1 to
    make sure the registry figures the writes keep are whole)."""
    villages_exited = Village.objects.filter(
        scope.q(VILLAGE_PATHS), exit_year=year, status=Village.Status.EXITED
    ).count()
    registry_summaries.ready(clock.today())
    people_lifted = registry_summaries.totals(figure_rows(scope)[0], year)["people_lifted"]
    return {"villages_exited": villages_exited, "people_lifted": people_lifted}


def quantities(goal_rows: list, groups: dict) -> dict:
    """The done quantity of each task-quantity goal (by goal id), from the plan rows' figures."""
    return {g.pk: _sum(groups, f"g{g.pk}") for g in goal_rows if g.metric == AnnualGoal.Metric.TASK_QUANTITY}


def goals(
    scope: Scope,
    rows: list,
    done_quantities: dict,
    villages_exited: int,
    people_lifted: int,
    computed: dict | None = None,
) -> list[dict]:
    """The goals of the year with the actual figure inside the scope, as progress bars (no query): the scope's own
    goals first (``own``), then — below the district, or for a charge — the district's goals that are measured from
    the data (villages exited, people lifted, quantities done, the figures of :func:`goal_figures`), with the scope's
    part of them; a manual district goal's figure is the district's, which says nothing about one township or village,
    so it is left out there. Each goal says its source (``source``: 计算：… / 填报：…) and a computed one links to the
    rows behind it (``drill_url``)."""
    computed = computed or {}
    own_area = not scope.is_charge and scope.level == "district"
    area = scope_params(scope)
    result = []
    rows = sorted(rows, key=lambda g: not _is_own(scope, g))
    for g in rows:
        own = own_area or _is_own(scope, g)
        if not own and g.metric == AnnualGoal.Metric.MANUAL:
            continue
        if g.metric == AnnualGoal.Metric.VILLAGES_EXITED:
            actual = Decimal(villages_exited)
        elif g.metric == AnnualGoal.Metric.PEOPLE_LIFTED:
            actual = Decimal(people_lifted)
        elif g.metric == AnnualGoal.Metric.TASK_QUANTITY:
            actual = Decimal(done_quantities.get(g.pk, 0))
        elif g.metric in GOAL_METRICS:
            actual = computed.get(g.metric)
        else:
            actual = g.manual_actual
        pct = percent(actual, g.target) if actual is not None else None
        manual = g.metric == AnnualGoal.Metric.MANUAL
        result.append(
            {
                "goal": g,
                "own": own,
                "manual": manual,
                "name": g.name,
                "target": g.target,
                "unit": g.unit,
                "actual": actual,
                "percent": pct,
                "bar": min(pct, Decimal(100)) if pct is not None else Decimal(0),
                "ceiling": g.is_ceiling,
                "met": g.is_met(actual),
                "source": goal_source(g),
                "drill_url": None if manual else f"{reverse('dashboard_goal', args=[g.pk])}?{urlencode(area)}",
            }
        )
    return result


def goal_source(goal) -> str:
    """Where a goal's figure comes from, as the dashboard says it: 计算：<how> or 填报：<who>."""
    if goal.metric == AnnualGoal.Metric.MANUAL:
        return f"填报：{goal.reporter}"
    if goal.metric == AnnualGoal.Metric.TASK_QUANTITY:
        category = dict(Category.choices).get(goal.task_category, goal.task_category)
        return f"计算：已完成的{category}任务数量合计（{goal.unit}）"
    return f"计算：{GOAL_SOURCES[goal.metric]}"


def _is_own(scope: Scope, goal) -> bool:
    """Whether ``goal`` is the scope's own (a township's at the township, a village's at the village)."""
    if scope.village:
        return goal.village_id == scope.village.pk
    if scope.township:
        return goal.township_id == scope.township.pk and goal.village_id is None
    return not scope.is_charge and goal.township_id is None and goal.village_id is None


# ---------------------------------------------------------------------------------------------
# Goals measured from the data (issue 18; docs/goals.md has each formula in Chinese). Each metric is one aggregate
# query over the scope (whatever the number of goals, areas or rows) and a queryset of the rows behind it, which the
# drill-down page (bazhou/surfaces/goal_views.py) lists: the figure and the list come from the same queryset.
# ---------------------------------------------------------------------------------------------

GOAL_SOURCES = {
    AnnualGoal.Metric.VILLAGES_EXITED: "当年退出的贫困村数（村状态为已退出、退出年度为当年）",
    AnnualGoal.Metric.PEOPLE_LIFTED: "当年脱贫户的在册成员人数",
    AnnualGoal.Metric.INCOME_RISE: "当年贫困户人均纯收入较上年增加额的平均数（两年都有收入记录的户）",
    AnnualGoal.Metric.INDUSTRY_COVERAGE: "当年贫困户中，当年一户一策有产业发展任务（未撤销）的户所占比例",
    AnnualGoal.Metric.BUSINESS_ENTITIES: "当年登记的新型经营主体个数",
    AnnualGoal.Metric.LAND_TRANSFER: "当年签订的土地流转合同面积合计",
    AnnualGoal.Metric.LOW_RENT_HOUSING: "当年贫困户中，当年住在农村廉租房的户所占比例",
    AnnualGoal.Metric.HOSPITAL_SHARE: "当年出院的贫困患者区内住院个人自付费用 ÷ 住院总费用",
    AnnualGoal.Metric.JOB_FAIR_INTENTS: "当年招聘会上签订就业意向的贫困成员人数",
    AnnualGoal.Metric.JOB_FAIR_ATTENDANCE: "当年招聘会登记的贫困求职者人数",
}
MEMBER_PATHS = HOUSEHOLD_PATHS.prefixed("household")
CENT2 = Decimal("0.01")
# The rules of the rows behind each metric live in households/goals.py (and tasks/goal_summaries.py for the plan
# rows): the functions below apply them to the scope. The drill-down lists list these rows and :data:`GOAL_METRICS`
# counts them directly; the dashboard adds up the per-village figures the writes keep from the same rows
# (:func:`goal_figures`).
industry_households = goal_summaries.industry_households
low_rent_households = goal_rules.low_rent_households


def poor_households(scope: Scope, year: int):
    """The registered households of the scope that were poor in ``year`` (households.models.poor_in_year_q)."""
    return goal_rules.poor_households(year, scope.q(HOUSEHOLD_PATHS))


def income_rise_rows(scope: Scope, year: int):
    """The year's poor households with an income record this year and the year before and at least one registered
    member, each with its per-capita net income of both years (net income ÷ active members) and the rise."""
    return goal_rules.income_rise_rows(year, scope.q(HOUSEHOLD_PATHS))


def _income_figures(households: int, now, before) -> dict:
    """The mean per-capita income of ``households`` this year and the year before (floats), and the rise (元, 2
    places; None without any household)."""
    if not households:
        return {"households": 0, "now": None, "before": None, "value": None}
    now, before = (Decimal(str(x)).quantize(CENT2) for x in (now, before))
    return {"households": households, "now": now, "before": before, "value": now - before}


def income_rise(scope: Scope, year: int) -> dict:
    """The mean per-capita income of those households this year and the year before, and the rise (元, 2 places;
    None without any household)."""
    figures = income_rise_rows(scope, year).aggregate(
        households=Count("pk"), now=Avg("per_capita_now"), before=Avg("per_capita_before")
    )
    return _income_figures(figures["households"], figures["now"], figures["before"])


def industry_covered(year: int) -> Exists:
    """Each household marked: one of :func:`industry_households`."""
    return Exists(industry_households(year).filter(household=OuterRef("pk")))


def low_rent_covered(year: int) -> Exists:
    """Each household marked: one of :func:`low_rent_households`."""
    return Exists(low_rent_households(year).filter(household=OuterRef("pk")))


def industry_coverage_rows(scope: Scope, year: int):
    """The year's poor households, each marked ``covered`` when the year's plans hold a live industry row for it."""
    return poor_households(scope, year).annotate(covered=industry_covered(year))


def low_rent_housing_rows(scope: Scope, year: int):
    """The year's poor households, each marked ``covered`` when it lived in low-rent housing during the year."""
    return poor_households(scope, year).annotate(covered=low_rent_covered(year))


def _share(scope: Scope, year: int, covered) -> dict:
    """The year's poor households and how many of them are ``covered`` (a queryset of household ids): the same
    households as the ``covered`` mark of the drill-down rows (an EXISTS per household), counted with one hashed
    semi-join instead — at ten times the demo 0.76 s became well under a tenth of that."""
    figures = poor_households(scope, year).aggregate(total=Count("pk"), covered=Count("pk", filter=Q(pk__in=covered)))
    return {**figures, "value": percent(figures["covered"], figures["total"])}


def business_entity_rows(scope: Scope, year: int):
    return goal_rules.business_entity_rows(year, scope.q(VILLAGE_PATHS.prefixed("village")))


def land_transfer_rows(scope: Scope, year: int):
    return goal_rules.land_transfer_rows(year, scope.q(VILLAGE_PATHS.prefixed("village")))


def _land_figures(area) -> dict:
    return {"value": (area or Decimal(0)).quantize(CENT2)}


def hospital_stay_rows(scope: Scope, year: int):
    """In-district stays of registered members of the scope's households discharged in ``year``."""
    return goal_rules.hospital_stay_rows(year, scope.q(MEMBER_PATHS.prefixed("member")))


def _hospital_figures(stays: int, out_of_pocket, total_cost) -> dict:
    return {
        "stays": stays,
        "out_of_pocket": out_of_pocket,
        "total_cost": total_cost,
        "value": percent(out_of_pocket or 0, total_cost),
    }


def hospital_share(scope: Scope, year: int) -> dict:
    figures = hospital_stay_rows(scope, year).aggregate(
        stays=Count("pk"), out_of_pocket=Sum("out_of_pocket"), total_cost=Sum("total_cost")
    )
    return _hospital_figures(figures["stays"], figures["out_of_pocket"], figures["total_cost"])


def job_fair_rows(scope: Scope, year: int, *, intents: bool = False):
    """Attendances of the scope's registered members at fairs held in ``year`` (with ``intents``: those who signed a
    letter of intent)."""
    return goal_rules.job_fair_rows(year, scope.q(MEMBER_PATHS.prefixed("member")), intents=intents)


def job_fair_people(scope: Scope, year: int, *, intents: bool = False) -> dict:
    """Members counted once however many fairs they came to."""
    people = job_fair_rows(scope, year, intents=intents).aggregate(n=Count("member", distinct=True))["n"]
    return {"value": Decimal(people)}


# Each computed metric of the records counted directly from the rows (the drill-down pages): its figure (a dict whose
# ``value`` the dashboard shows), 1 query.
GOAL_METRICS = {
    AnnualGoal.Metric.INCOME_RISE: income_rise,
    AnnualGoal.Metric.INDUSTRY_COVERAGE: lambda scope, year: _share(scope, year, industry_households(year)),
    AnnualGoal.Metric.BUSINESS_ENTITIES: lambda scope, year: {
        "value": Decimal(business_entity_rows(scope, year).count())
    },
    AnnualGoal.Metric.LAND_TRANSFER: lambda scope, year: _land_figures(
        land_transfer_rows(scope, year).aggregate(v=Sum("area_mu"))["v"]
    ),
    AnnualGoal.Metric.LOW_RENT_HOUSING: lambda scope, year: _share(scope, year, low_rent_households(year)),
    AnnualGoal.Metric.HOSPITAL_SHARE: hospital_share,
    AnnualGoal.Metric.JOB_FAIR_INTENTS: lambda scope, year: job_fair_people(scope, year, intents=True),
    AnnualGoal.Metric.JOB_FAIR_ATTENDANCE: job_fair_people,
}


def _kept_figures(sums: dict) -> dict:
    """The figure of each metric of :data:`GOAL_METRICS` from the per-village figures the writes keep, added up over
    an area (tasks.goal_summaries.totals): the same dicts as counted directly from the rows."""
    n = lambda name: sums[name] or 0  # noqa: E731
    households = n("income_households")
    stays = n("hospital_stays")
    return {
        AnnualGoal.Metric.INCOME_RISE: lambda: _income_figures(
            households, households and n("income_now") / households, households and n("income_before") / households
        ),
        AnnualGoal.Metric.INDUSTRY_COVERAGE: lambda: {
            "total": n("poor"),
            "covered": n("industry"),
            "value": percent(n("industry"), n("poor")),
        },
        AnnualGoal.Metric.BUSINESS_ENTITIES: lambda: {"value": Decimal(n("business_entities"))},
        AnnualGoal.Metric.LAND_TRANSFER: lambda: _land_figures(sums["land_transfer"]),
        AnnualGoal.Metric.LOW_RENT_HOUSING: lambda: {
            "total": n("poor"),
            "covered": n("low_rent"),
            "value": percent(n("low_rent"), n("poor")),
        },
        # No stay at all: no sums, as counted directly.
        AnnualGoal.Metric.HOSPITAL_SHARE: lambda: _hospital_figures(
            stays,
            sums["hospital_out_of_pocket"] if stays else None,
            sums["hospital_total_cost"] if stays else None,
        ),
        AnnualGoal.Metric.JOB_FAIR_INTENTS: lambda: {"value": Decimal(n("job_fair_intents"))},
        AnnualGoal.Metric.JOB_FAIR_ATTENDANCE: lambda: {"value": Decimal(n("job_fair_people"))},
    }


def goal_figures(scope: Scope, year: int, goal_rows: list) -> dict:
    """The figures of the metrics of :data:`GOAL_METRICS` that the goals ``goal_rows`` use, inside the scope, each a
    dict with the shown ``value`` and the parts that make it: added up from the per-village figures the writes keep
    (tasks/goal_summaries.py: 1 query to make sure they are whole, 1 to add them up; none without such a goal)."""
    used = {g.metric for g in goal_rows if g.metric in GOAL_METRICS}
    if not used:
        return {}
    goal_summaries.ready(clock.today())
    figures = _kept_figures(goal_summaries.totals(scope.q(FIGURE_PATHS), year))
    return {metric: figures[metric]() for metric in sorted(used)}


def plan_rows(groups: dict) -> dict:
    """Rows of the year's plans: total, done, in progress, overdue, overdue against the original deadline (原定逾期,
    延期完成 included), due within :func:`due_soon_days` days (the window counted is kept with the figures)."""
    names = ("total", "done", "in_progress", "overdue", "baseline_overdue", "due_soon")
    figures = {name: _sum(groups, name) for name in names}
    figures["done_percent"] = percent(figures["done"], figures["total"])
    figures["due_soon_days"] = due_soon_days()
    return figures


# Funds: 2 queries (by category with the totals, by fund source), from the villages' figures the writes keep.


def funds(scope: Scope, year: int) -> dict:
    """Planned and invested funds (万元) by category and by fund source.

    A task's invested amount is not split by source in the plan table, so by source it is shared out in
    proportion to the source's part of the task's planned funds (按计划资金比例折算). Added up from the villages'
    breakdowns the writes keep (tasks/summaries.py), made whole by :func:`plan_part`.
    """
    area = figure_rows(scope)[0]
    categories = dict(Category.choices)
    by_category = []
    for row in plan_summaries.breakdown(area, year, PlanBreakdown.Kind.CATEGORY, ("category",)):
        by_category.append(
            {
                "key": row["category"],
                "label": str(categories.get(row["category"], row["category"])),
                "planned": wan(row["planned"]),
                "invested": wan(row["invested"]),
            }
        )
    by_category.sort(key=lambda r: (-r["planned"], r["key"]))
    sources = dict(FundSource.choices)
    found = {r["source"]: r for r in plan_summaries.breakdown(area, year, PlanBreakdown.Kind.SOURCE, ("source",))}
    by_source = [
        {
            "key": key,
            "label": str(label),
            "planned": wan(found[key]["planned"]),
            "invested": wan(found[key]["invested"]),
        }
        for key, label in sources.items()
        if key in found
    ]
    planned = sum((r["planned"] for r in by_category), ZERO)
    invested = sum((r["invested"] for r in by_category), ZERO)
    return {
        "by_category": by_category,
        "by_source": by_source,
        "planned": planned,
        "invested": invested,
        "invested_percent": percent(invested, planned),
        "sourced": sum((r["planned"] for r in by_source), ZERO),
    }


# Rankings: 2 queries (the areas, their rows' figures).


def _ranking_rows(areas, figures: dict, key) -> list[dict]:
    rows = []
    for area in areas:
        f = figures.get(key(area), {})
        total, done = f.get("total", 0), f.get("done", 0)
        planned, invested = wan(f.get("planned")), wan(f.get("invested"))
        rows.append(
            {
                "area": area,
                "total": total,
                "done": done,
                "overdue": f.get("overdue", 0),
                "completion": percent(done, total),
                "planned": planned,
                "invested": invested,
                "invested_percent": percent(invested, planned),
            }
        )
    rows.sort(key=lambda r: (-(r["completion"] or -1), r["overdue"], key(r["area"])))
    for i, row in enumerate(rows, 1):
        row["rank"] = i
    return rows


def township_ranking(scope: Scope, groups: dict) -> list[dict]:
    """At district level: each township's completion %, overdue rows and invested %, best first (1 query); for a
    charge, its townships (no query)."""
    if scope.level != "district":
        return []
    if scope.is_charge:
        townships = list(scope.charge.townships)
    else:
        townships = list(Township.objects.filter(district=scope.district).order_by("code"))
    return _ranking_rows(townships, groups, key=lambda t: t.pk)


def village_table(scope: Scope, groups: dict) -> list[dict]:
    """At township level: the same figures for each village of the township (1 query); for a charge, its villages
    outside its townships (no query)."""
    if scope.is_charge:
        codes = scope.charge.keys[0]
        villages = [v for v in scope.charge.villages if v.township_id not in codes]
    elif scope.level != "township":
        return []
    else:
        villages = list(Village.objects.filter(township=scope.township).order_by("code"))
    return _ranking_rows(villages, groups, key=lambda v: v.pk)


# Village exit readiness (一低七有): 4 queries.


def village_readiness(scope: Scope, year: int) -> dict:
    """Poor villages planned to exit in ``year``: how many meet each exit indicator of the year, each judged by
    villages.exit_criteria (the incidence from the registry, the indicators a finished plan row delivers, the
    collective income, the assessments; overrides counted as such). The verdicts are kept per village by the writes
    (tasks/exit_summaries.py) and counted here: 4 queries (the verdicts made whole, the year's indicators, the counts
    by indicator, the villages) whatever the number of villages."""
    exit_summaries.ready(clock.today())
    indicators = sorted(ExitIndicator.objects.filter(year=year), key=lambda i: (i.order, i.code))
    counts = exit_summaries.counts(scope.q(FIGURE_PATHS), year)
    total = Village.objects.filter(scope.q(VILLAGE_PATHS)).planned_to_exit(year).count()
    result = []
    for indicator in indicators if total else ():
        met, overridden = counts.get(indicator.pk, (0, 0))
        result.append(
            {
                "indicator": indicator,
                "name": indicator.name,
                "source": exit_criteria.SHORT_LABELS.get(indicator.source, ""),
                "met": met,
                "overridden": overridden,
                "computed": indicator.derived,
                "not_met": total - met,
            }
        )
    return {"total": total, "indicators": result}


# Household readiness (一超六有): 2 queries (the poverty line, one aggregate).


def household_readiness(scope: Scope, year: int) -> dict:
    """Households targeted to exit in ``year``: how many meet each of 一超六有, all seven, and which fails most.

    The rules in SQL (households.readiness.readiness_sql, which the household list's 脱贫条件 filter uses too),
    counted per village by the writes (households/summaries.py) and added up here: 3 queries (the poverty line,
    the figures made whole, their sum) whatever the number of households.
    """
    line = line_of(year)
    registry_summaries.ready(clock.today())
    counts = registry_summaries.totals(figure_rows(scope)[0], year)
    total = counts["targeted"]
    counts["all_met"] = counts["ready"]
    rows = [
        {"code": code, "name": name, "met": counts[code], "not_met": total - counts[code]} for code, name in CRITERIA
    ]
    worst = max(rows, key=lambda r: r["not_met"], default=None)
    return {
        "year": year,
        "total": total,
        "all_met": counts["all_met"],
        "criteria": rows,
        "most_failed": worst if worst and worst["not_met"] else None,
        "poverty_line": line,
    }


# Supervision: 3 queries.


def supervision(scope: Scope, today: datetime.date) -> dict:
    """Open findings and overdue rectifications in the area, and the latest published bulletin."""
    findings = Finding.objects.filter(scope.q(FINDING_AREA_PATHS))
    return {
        "open_findings": findings.open().count(),
        "overdue_rectifications": Rectification.objects.overdue(today)
        .filter(finding__in=findings.values("pk"))
        .count(),
        # Its heading only: the body and the frozen figures (snapshot) are read on the bulletin's own page.
        "latest_bulletin": Bulletin.objects.filter(district=scope.district, state=Bulletin.State.PUBLISHED)
        .defer("body", "snapshot")
        .order_by("-issued_on", "-year", "-number")
        .first(),
    }


# Overdue rows week by week: 1 query.


def overdue_by_week(groups: dict, today: datetime.date) -> list[dict]:
    """How many rows were overdue at the end of each of the last 12 weeks (counted in task_groups).

    A row is overdue on day d if its deadline is before d and it was not completed before d
    (completed_on empty, or on or after d); withdrawn rows never count (tasks.models.overdue_on_q).
    """
    return [{"date": d, "overdue": _sum(groups, f"w{i}")} for i, d in enumerate(week_ends(today))]


def charts(ranking: list[dict], villages: list[dict], fund_figures: dict, weekly: list[dict]) -> dict:
    """The data the charts draw (passed to the page with json_script)."""
    # One of them at district and township level; a charge's townships and villages. Best first, as bars from the top
    # (the chart draws the first at the top): which area is ahead and which behind is the question it answers.
    areas = sorted(ranking + villages, key=lambda r: (-(r["completion"] or 0), r["overdue"], r["area"].name))
    return {
        "completion": {
            "labels": [r["area"].name for r in areas],
            "values": [float(r["completion"] or 0) for r in areas],
            "done": [r["done"] for r in areas],
            "total": [r["total"] for r in areas],
        },
        "funds": {
            "labels": [r["label"] for r in fund_figures["by_category"]],
            "planned": [float(r["planned"]) for r in fund_figures["by_category"]],
            "invested": [float(r["invested"]) for r in fund_figures["by_category"]],
        },
        "overdue": {
            "labels": [w["date"].strftime("%m-%d") for w in weekly],
            "values": [w["overdue"] for w in weekly],
        },
    }


# The dashboard in four parts, each computed from some kinds of data (bazhou/freshness.py) and stored with
# their versions: a plan-row edit recomputes the plan part, not the registry's readiness counts.
PARTS = {
    "plan": ("tasks", "goals", "villages"),
    "registry": ("households", "villages"),
    # 一低七有: the incidence from the registry, the plan rows that deliver an indicator, the assessments.
    "exit": ("tasks", "households", "villages"),
    "supervision": ("supervision", "tasks", "households", "villages"),
    # The goals measured from the registry and its records (households.models: incomes, job fairs, entities, land,
    # hospital stays, low-rent housing — all households_* tables): a plan-row edit leaves them as stored.
    "goals": ("goals", "households", "villages"),
    # The goals measured from the plan rows as well (industry coverage, PLAN_METRICS).
    "goals_plan": ("goals", "households", "tasks", "villages"),
}


def plan_part(scope: Scope, today: datetime.date, year: int) -> dict:
    """Goals, plan rows, funds, rankings, the weekly overdue counts and the charts of ``year``'s plans (6 queries)."""
    goal_rows = annual_goals(scope, year)
    # The villages' plan figures the writes keep (tasks/summaries.py), whole for ``today`` (their overdue counts are
    # of a day): task_groups and funds add them up.
    plan_summaries.ready(today)
    groups = task_groups(scope, year, today, [g for g in goal_rows if g.metric == AnnualGoal.Metric.TASK_QUANTITY])
    ranking = township_ranking(scope, groups)
    villages = village_table(scope, groups)
    fund_figures = funds(scope, year)
    weekly = overdue_by_week(groups, today)
    return {
        "goal_rows": goal_rows,
        "quantities": quantities(goal_rows, groups),
        "rows": plan_rows(groups),
        "funds": fund_figures,
        "township_ranking": ranking,
        "village_table": villages,
        "overdue_weeks": weekly,
        "charts": charts(ranking, villages, fund_figures, weekly),
    }


def registry_part(scope: Scope, today: datetime.date, year: int) -> dict:
    """Villages exited, people lifted and household exit readiness in ``year``."""
    return {
        **registry_counts(scope, year),
        "household_readiness": household_readiness(scope, year),
    }


def exit_part(scope: Scope, today: datetime.date, year: int) -> dict:
    """Village exit readiness (一低七有) in ``year`` (4 queries)."""
    return {"village_readiness": village_readiness(scope, year)}


def supervision_part(scope: Scope, today: datetime.date, year: int) -> dict:
    """Findings and rectifications as they stand today (supervision has no plan year)."""
    return {"supervision": supervision(scope, today)}


# The metrics that read plan rows besides the registry: recomputed after a plan-row edit, the others not.
PLAN_METRICS = frozenset({AnnualGoal.Metric.INDUSTRY_COVERAGE})


def goals_part(scope: Scope, today: datetime.date, year: int) -> dict:
    """The figures of the goals measured from the registry's records (1 query for the goals, 1 per metric used)."""
    rows = [g for g in annual_goals(scope, year) if g.metric not in PLAN_METRICS]
    return {"computed": goal_figures(scope, year, rows)}


def goals_plan_part(scope: Scope, today: datetime.date, year: int) -> dict:
    """The figures of the goals measured from the plan rows too (1 query for the goals, 1 per metric used)."""
    rows = [g for g in annual_goals(scope, year) if g.metric in PLAN_METRICS]
    return {"computed": goal_figures(scope, year, rows)}


COMPUTE = {
    "plan": plan_part,
    "registry": registry_part,
    "exit": exit_part,
    "supervision": supervision_part,
    "goals": goals_part,
    "goals_plan": goals_plan_part,
}


def computed_values(parts: dict) -> dict:
    """The shown value of each computed metric, from the two goals parts."""
    computed = {**parts["goals"]["computed"], **parts["goals_plan"]["computed"]}
    return {metric: figures["value"] for metric, figures in computed.items()}


def assemble(scope: Scope, today: datetime.date, year: int, parts: dict) -> dict:
    """The template's context from the three parts."""
    plan, registry = parts["plan"], parts["registry"]
    return {
        "scope": scope,
        "year": year,
        "current_year": today.year,
        "today": today,
        "goals": goals(
            scope,
            plan["goal_rows"],
            plan["quantities"],
            registry["villages_exited"],
            registry["people_lifted"],
            computed_values(parts),
        ),
        **{k: v for k, v in plan.items() if k not in ("goal_rows", "quantities")},
        "village_readiness": parts["exit"]["village_readiness"],
        "household_readiness": registry["household_readiness"],
        **parts["supervision"],
    }


def compute(scope: Scope, today: datetime.date, year: int | None = None) -> dict:
    """Every block of the dashboard for ``scope`` on ``today`` for the plans of ``year`` (default: today's year),
    read afresh."""
    year = year or today.year
    return assemble(scope, today, year, {name: part(scope, today, year) for name, part in COMPUTE.items()})


def cache_key(scope: Scope, part: str, year: int) -> str:
    """The figures of an area are stored under its level, key and year; a charge's under its townships and
    villages."""
    if scope.is_charge:
        digest = hashlib.sha256(scope.charge.token.encode()).hexdigest()[:24]
        return f"dashboard:charge:{digest}:{year}:{part}"
    return f"dashboard:{scope.level}:{scope.area.pk}:{year}:{part}"


# Figures stored by another release of this module are not trusted (their shape may differ): stored with this
# file's digest, they are recomputed when it changes (after an upgrade) or when they cannot be read at all.
CODE = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]


def _stored(data):
    """The figures in a stored row, or None if another release stored them or they cannot be read."""
    try:
        code, figures = pickle.loads(data)
    except Exception:  # noqa: BLE001  (anything unreadable is simply computed again)
        return None
    return figures if code == CODE else None


def dashboard(scope: Scope, today: datetime.date, year: int | None = None) -> dict:
    """The dashboard of ``scope`` on ``today`` for the plans of ``year`` (default: today's year): each part as stored
    if the data it reads has not changed since (2 queries in all), the others computed and stored again (1 more
    query, and the parts' own)."""
    year = year or today.year
    return assemble(scope, today, year, stored_parts(scope, today, tuple(PARTS), year))


# The page's body (every block, the trend) as rendered HTML, stored with the figures: rendering thousands of template
# nodes was most of a stored dashboard's time at district level. It is made of the figures (all parts: their data
# versions, the day), the templates, the due-soon window and what the view adds for the person (where each figure
# leads, the way up, the scope's query): the key holds a digest of the latter, the stored row the sum of the parts'
# versions and the day, and the data this module's and the templates' digest.
TEMPLATES = Path(settings.BASE_DIR) / "templates"
BODY_CODE = hashlib.sha256(
    CODE.encode() + b"".join(p.read_bytes() for p in sorted(TEMPLATES.rglob("*.html")))
).hexdigest()[:16]


@dataclass
class Body:
    """The stored body of a dashboard page: ``html`` when it can be served as stored, else None and the page renders
    it and calls :func:`store_body`."""

    key: str
    version: int
    day: datetime.date
    html: str | None


def body_key(scope: Scope, year: int, viewer: object) -> str:
    digest = hashlib.sha256(repr((viewer, due_soon_days())).encode()).hexdigest()[:24]
    return f"{cache_key(scope, 'body', year)}:{digest}"


def dashboard_page_figures(scope: Scope, today: datetime.date, year: int, viewer: object) -> tuple[dict, Body]:
    """:func:`dashboard`'s figures and the page body stored for them and for ``viewer`` (what the view adds for the
    person, e.g. the figures' links), read in the same query as the parts (2 queries in all while nothing changed)."""
    key = body_key(scope, year, viewer)
    parts, found, version = stored_parts(scope, today, tuple(PARTS), year, body=key)
    stored_version, day, data = found
    html = None
    if stored_version == version and day == today and data:
        try:
            code, html = pickle.loads(data)
        except Exception:  # noqa: BLE001  (anything unreadable is simply rendered again)
            code = None
        html = html if code == BODY_CODE else None
    return assemble(scope, today, year, parts), Body(key, version, today, html)


def store_body(body: Body, html: str) -> None:
    """Store a page body rendered for ``body``'s figures (1 query)."""
    row = CachedFigures(key=body.key, version=body.version, day=body.day, data=pickle.dumps((BODY_CODE, html)))
    CachedFigures.objects.bulk_create(
        [row], update_conflicts=True, unique_fields=["key"], update_fields=["version", "day", "data", "computed_at"]
    )


def area_summary(scope: Scope, today: datetime.date) -> dict:
    """The figures of a village or township for the top of its people's 我的待办: its goals, its plan rows, its
    households' readiness — the dashboard's own figures for that scope (its plan and registry parts, stored and
    reused like the dashboard's: 2 queries while nothing changed)."""
    parts = stored_parts(scope, today, ("plan", "registry", "goals", "goals_plan"), today.year)
    plan, registry = parts["plan"], parts["registry"]
    return {
        "scope": scope,
        "year": today.year,
        "goals": goals(
            scope,
            plan["goal_rows"],
            plan["quantities"],
            registry["villages_exited"],
            registry["people_lifted"],
            computed_values(parts),
        ),
        "rows": plan["rows"],
        "household_readiness": registry["household_readiness"],
    }


def stored_parts(scope: Scope, today: datetime.date, names: tuple[str, ...], year: int, *, body: str | None = None):
    """The parts ``names`` of the dashboard of ``scope`` on ``today`` for ``year``'s plans, as stored or computed
    and stored again. With ``body`` (a key of a stored page body), also that row as ``(version, day, data)`` read in the
    same query and the version it must have: ``(parts, row, version)``."""
    # The versions are read before the data, so figures are never stored under versions newer than their data.
    versions = freshness.current()
    stamps = {name: sum(versions[kind] for kind in PARTS[name]) for name in names}
    keys = {name: cache_key(scope, name, year) for name in names}
    stored = {
        key: (version, day, data)
        for key, version, day, data in CachedFigures.objects.filter(
            key__in=[*keys.values(), *([body] if body else [])]
        ).values_list("key", "version", "day", "data")
    }
    parts, fresh = {}, []
    for name, key in keys.items():
        version, day, data = stored.get(key, (None, None, None))
        figures = _stored(data) if version == stamps[name] and day == today else None
        if figures is not None and name == "plan" and figures["rows"].get("due_soon_days") != due_soon_days():
            figures = None  # counted with another due-soon window (settings.BAZHOU_DUE_SOON_DAYS changed since)
        if figures is None:
            figures = COMPUTE[name](scope, today, year)
            fresh.append(CachedFigures(key=key, version=stamps[name], day=today, data=pickle.dumps((CODE, figures))))
        parts[name] = figures
    if fresh:
        CachedFigures.objects.bulk_create(
            fresh, update_conflicts=True, unique_fields=["key"], update_fields=["version", "day", "data", "computed_at"]
        )
    if body is None:
        return parts
    return parts, stored.get(body, (None, None, None)), sum(stamps.values())


# ---------------------------------------------------------------------------------------------
# Where each figure leads
# ---------------------------------------------------------------------------------------------


def scope_params(scope: Scope) -> dict:
    """The query parameters naming ``scope`` on the dashboard and on the lists it links to (none for the user's whole
    area: the lists show what the user sees, which is that area — a 挂包 leader's charge included)."""
    if scope.village:
        return {"village": scope.village.pk}
    if scope.township:
        return {"township": scope.township.pk}
    return {}


def figure_links(user, scope: Scope, year: int) -> dict:
    """Where each figure of the dashboard leads: the list of the same records, in the same area and year, filtered by
    the same rule (:data:`ROW_STATES`, Village.objects.planned_to_exit / exited_in, households.readiness_sql,
    Finding.objects.open, Rectification.objects.overdue), so the list counts what the figure says (no query).

    Plan rows go to the rows list of the dashboard (everyone who sees the dashboard may read it); the late and
    due-soon rows to the review queue (逾期督办), where they are acted on, for those who may read it. Supervision
    figures link only for those who may read the findings."""
    area = scope_params(scope)

    def url(name: str, **params) -> str:
        return f"{reverse(name)}?{urlencode({**params, **area})}"

    links = {f"rows_{state}": url("dashboard_rows", state=state, year=year) for state in ROW_STATES}
    # A ranking row's overdue figure: the same list, for that township or village (the row adds its parameter).
    links["rows_overdue_base"] = f"{reverse('dashboard_rows')}?{urlencode({'state': 'overdue', 'year': year})}"
    if access.may_read_supervision(user):
        links["rows_overdue"] = url("supervision:queue", view="overdue", year=year)
        links["rows_overdue_base"] = f"{reverse('supervision:queue')}?{urlencode({'view': 'overdue', 'year': year})}"
        links["rows_baseline_overdue"] = url("supervision:queue", view="baseline", year=year)
        links["rows_due_soon"] = url("supervision:queue", view="due", days=due_soon_days(), year=year)
        links["open_findings"] = url("supervision:findings", open="on")
        links["overdue_rectifications"] = url("supervision:findings", overdue="on")
    links["exit_villages"] = url("villages:list", exit="planned", year=year)
    links["exited_villages"] = url("villages:list", exit="exited", year=year)
    links["targeted_households"] = url("households:list", planned_exit_year=year)
    links["ready_households"] = url("households:list", planned_exit_year=year, readiness=READY)
    links["unmet"] = {
        code: url("households:list", planned_exit_year=year, readiness=f"{UNMET_PREFIX}{code}") for code, _ in CRITERIA
    }
    return links
