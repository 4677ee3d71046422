"""The annual goals' figures kept by the writes (bazhou/core/summaries.py says how): per village and year of a goal
measured from the data (income rise, industry coverage, business entities, land transfer, low-rent housing, hospital
share, job fairs: bazhou.surfaces.dashboard.GOAL_METRICS), the village's parts of each figure, as
:class:`households.models.GoalFigures` rows the dashboard adds up over an area.

The rows counted are those of households/goals.py (and :func:`industry_households` here, which reads plan rows), the
rules the drill-down lists show, grouped by village: :func:`queries` is what a refresh, a rebuild and a verification
all run. Only the years of such goals are kept (a goal written invalidates the figures: the next reader rebuilds).
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.db import connection
from django.db.models import Count, Exists, F, OuterRef, Q, Sum

from bazhou.core import summaries
from bazhou.core.models import AnnualGoal
from households import goals as rules
from households.models import (
    BusinessEntity,
    GoalFigures,
    HospitalStay,
    Household,
    HouseholdIncome,
    JobFair,
    JobFairAttendance,
    LandTransfer,
    LowRentHousing,
    Member,
)
from tasks import summaries as plan_summaries
from tasks.models import Category, Plan, Task, live_q

NAME = "goals"
Metric = AnnualGoal.Metric
# The metrics measured from the registry's records and the plan rows (bazhou.surfaces.dashboard.GOAL_METRICS).
METRICS = frozenset(
    {
        Metric.INCOME_RISE,
        Metric.INDUSTRY_COVERAGE,
        Metric.BUSINESS_ENTITIES,
        Metric.LAND_TRANSFER,
        Metric.LOW_RENT_HOUSING,
        Metric.HOSPITAL_SHARE,
        Metric.JOB_FAIR_INTENTS,
        Metric.JOB_FAIR_ATTENDANCE,
    }
)
FIELDS = (
    "poor",
    "industry",
    "low_rent",
    "income_households",
    "income_now",
    "income_before",
    "business_entities",
    "land_transfer",
    "hospital_stays",
    "hospital_out_of_pocket",
    "hospital_total_cost",
    "job_fair_people",
    "job_fair_intents",
)


def industry_households(year: int):
    """The households with a live 一户一策 row of the industry category (产业发展) in ``year``'s plans, as a queryset
    of their ids: the one rule that the figure counts (a hashed semi-join) and the drill-down rows mark."""
    rows = Task.objects.filter(live_q(), category=Category.INDUSTRY, plan__year=year, household__isnull=False)
    return rows.order_by().values("household")


def years() -> list[int]:
    """The years of the goals measured from the data (1 query)."""
    found = AnnualGoal.objects.filter(metric__in=METRICS).order_by().values_list("year", flat=True).distinct()
    return sorted(set(found))


def _area(villages, path: str) -> Q:
    return Q() if villages is None else Q(**{f"{path}__in": villages})


def queries(villages, year: int) -> list[tuple[str, list, tuple[str, ...]]]:
    """The grouped queries of the figures of ``villages`` (every village if None) of ``year``, as SQL with its
    parameters and the figures it gives (a row per village, the village as ``v``): 7 queries when run."""
    households = _area(villages, "village")
    members = _area(villages, "member__household__village")
    by_household = {"v": F("village")}
    by_member = {"v": F("member__household__village")}
    # The covered households' ids narrowed to the villages refreshed (the households counted are theirs anyway): a
    # refresh hashes a village's rows, not the whole district's.
    industry, low_rent = industry_households(year), rules.low_rent_households(year)
    if villages is not None:
        industry = industry.filter(household__village__in=villages)
        low_rent = low_rent.filter(household__village__in=villages)
    grouped = {
        ("poor", "industry", "low_rent"): rules.poor_households(year, households)
        .order_by()
        .values(**by_household)
        .annotate(
            poor=Count("pk"),
            # A semi-join per household (an index lookup each), not ``pk IN (…)``: at 30× the demo the covered ids
            # outgrow work_mem, PostgreSQL stops hashing them and rescans the subquery for every household (a rebuild
            # ran for over ten minutes).
            industry=Count("pk", filter=Exists(industry.filter(household=OuterRef("pk")))),
            low_rent=Count("pk", filter=Exists(low_rent.filter(household=OuterRef("pk")))),
        ),
        ("business_entities",): rules.business_entity_rows(year, households)
        .order_by()
        .values(**by_household)
        .annotate(business_entities=Count("pk")),
        ("land_transfer",): rules.land_transfer_rows(year, households)
        .order_by()
        .values(**by_household)
        .annotate(land_transfer=Sum("area_mu")),
        ("hospital_stays", "hospital_out_of_pocket", "hospital_total_cost"): rules.hospital_stay_rows(year, members)
        .order_by()
        .values(**by_member)
        .annotate(
            hospital_stays=Count("pk"),
            hospital_out_of_pocket=Sum("out_of_pocket"),
            hospital_total_cost=Sum("total_cost"),
        ),
        ("job_fair_people",): rules.job_fair_rows(year, members)
        .order_by()
        .values(**by_member)
        .annotate(job_fair_people=Count("member", distinct=True)),
        ("job_fair_intents",): rules.job_fair_rows(year, members, intents=True)
        .order_by()
        .values(**by_member)
        .annotate(job_fair_intents=Count("member", distinct=True)),
    }
    found = [(*queryset.query.sql_with_params(), columns) for columns, queryset in grouped.items()]
    # The income rows are households grouped with their members counted: added up by village in an outer query.
    rows = rules.income_rise_rows(year, households).values("village_id", "per_capita_now", "per_capita_before")
    sql, params = rows.query.sql_with_params()
    income = (
        "SELECT r.village_id AS v, COUNT(*) AS income_households, SUM(r.per_capita_now) AS income_now,"
        f" SUM(r.per_capita_before) AS income_before FROM ({sql}) AS r GROUP BY r.village_id"
    )
    return [*found, (income, list(params), ("income_households", "income_now", "income_before"))]


def _upsert(sql: str, params, columns: tuple[str, ...], year: int) -> None:
    """``INSERT … SELECT`` the village rows of the query for ``year`` (the figures it does not give zero), merged with
    those already written by the other queries of the year."""
    quote = connection.ops.quote_name
    values = ", ".join(f"s.{quote(f)}" if f in columns else "0" for f in FIELDS)
    updates = ", ".join(f"{quote(f)} = excluded.{quote(f)}" for f in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(GoalFigures._meta.db_table)} (village_id, year, {', '.join(map(quote, FIELDS))})"
            f" SELECT s.v, %s, {values} FROM ({sql}) AS s WHERE true"
            f" ON CONFLICT (village_id, year) DO UPDATE SET {updates}",
            [year, *params],
        )


def _store(villages) -> None:
    """Replace the figures of ``villages`` (every village if None) inside the database (nothing is loaded into
    Python): 1 delete, 1 query for the years, 7 inserts per year."""
    stored = GoalFigures.objects.all()
    if villages is not None:
        stored = stored.filter(village__in=villages)
    stored.delete()
    for year in years():
        for sql, params, columns in queries(villages, year):
            _upsert(sql, params, columns, year)


def refresh(villages: set, day: datetime.date) -> None:
    _store(villages)


def rebuild(day: datetime.date) -> None:
    _store(None)


def villages_of(kinds: dict) -> set:
    """The villages of pending keys: villages (a household's, an entity's, a contract's), households (a member's, an
    income's, a low-rent allocation's, a plan row's), members (a hospital stay's, a fair attendance's), plans (a plan
    row's) and plan rows (those the bulk services write, named to the plan figures' keeper, which this one follows)."""
    villages = set(kinds.get("villages", ()))
    households = set(kinds.get("households", ()))
    if kinds.get("members"):
        households |= set(Member.objects.filter(pk__in=kinds["members"]).values_list("household_id", flat=True))
    plans = set(kinds.get("plans", ()))
    if kinds.get("tasks"):
        plans |= set(Task.objects.filter(pk__in=kinds["tasks"]).values_list("plan_id", flat=True))
    if plans:
        villages |= set(Plan.objects.filter(pk__in=plans).values_list("village_id", flat=True))
    if households:
        villages |= set(Household.objects.filter(pk__in=households).values_list("village_id", flat=True))
    return villages


def _normal(field: str, value):
    """A figure as compared by :func:`verify`, whether read through the model or straight from a query: sums of
    floats to a millionth (their order of addition may differ), money and areas to the cent."""
    kind = GoalFigures._meta.get_field(field).get_internal_type()
    if kind == "FloatField":
        return round(float(value or 0), 6)
    if kind == "DecimalField":
        return Decimal(str(value or 0)).quantize(Decimal("0.01"))
    return int(value or 0)


def compute(villages) -> dict:
    """``{(village, year): {figure: value}}`` of ``villages`` (every village if None) from the base tables (1 query
    for the years, 7 per year)."""
    found: dict = {}
    with connection.cursor() as cursor:
        for year in years():
            for sql, params, columns in queries(villages, year):
                cursor.execute(sql, params)
                names = [c[0] for c in cursor.description]
                for row in cursor.fetchall():
                    row = dict(zip(names, row, strict=True))
                    figures = found.setdefault((row["v"], year), dict.fromkeys(FIELDS, 0))
                    figures.update({f: row[f] for f in columns})
    return found


def verify(day: datetime.date) -> list[str]:
    def normal(d: dict) -> dict:
        return {k: {f: _normal(f, v[f]) for f in FIELDS} for k, v in d.items()}

    stored = {(r.pop("village"), r.pop("year")): r for r in GoalFigures.objects.values("village", "year", *FIELDS)}
    return summaries.diff(normal(stored), normal(compute(None)), lambda key: f"村 {key[0]} {key[1]} 年")


# ---------------------------------------------------------------------------------------------
# Reading: the dashboard adds the villages' figures up over an area
# ---------------------------------------------------------------------------------------------


def ready(day: datetime.date) -> None:
    """Make the goals' figures whole (1 query while they are)."""
    summaries.ready([NAME], day)


def totals(area_q: Q, year: int) -> dict:
    """The goals' figures of ``year`` inside ``area_q`` (a filter of GoalFigures) added up (1 query): sums of the
    villages' figures, None where no village has any."""
    return GoalFigures.objects.filter(area_q, year=year).aggregate(**{f: Sum(f) for f in FIELDS})


def register() -> None:
    """Called by TasksConfig.ready (after the plan figures' keeper): the goals' keeper and the models whose writes
    change its figures. A job fair and a goal are not tracked: their writes, explained by no signal, have the figures
    rebuilt (they are few)."""
    summaries.register(
        summaries.Keeper(
            name=NAME,
            tables=(
                Household._meta.db_table,
                Member._meta.db_table,
                HouseholdIncome._meta.db_table,
                LowRentHousing._meta.db_table,
                BusinessEntity._meta.db_table,
                LandTransfer._meta.db_table,
                HospitalStay._meta.db_table,
                JobFair._meta.db_table,
                JobFairAttendance._meta.db_table,
                Task._meta.db_table,
                Plan._meta.db_table,
                AnnualGoal._meta.db_table,
            ),
            villages=villages_of,
            refresh=refresh,
            rebuild=rebuild,
            verify=verify,
            # The plan rows the bulk services write (tasks.services) are named to the plan figures' keeper.
            follows=(plan_summaries.NAME,),
        )
    )
    summaries.track(Household, NAME, "villages", "village_id")
    summaries.track(Member, NAME, "households", "household_id")
    summaries.track(HouseholdIncome, NAME, "households", "household_id")
    summaries.track(LowRentHousing, NAME, "households", "household_id")
    summaries.track(BusinessEntity, NAME, "villages", "village_id")
    summaries.track(LandTransfer, NAME, "villages", "village_id")
    summaries.track(HospitalStay, NAME, "members", "member_id")
    summaries.track(JobFairAttendance, NAME, "members", "member_id")
    # A plan row counts for its household, wherever its plan is; its plan's village is refreshed too.
    summaries.track(Task, NAME, "plans", "plan_id")
    summaries.track(Task, NAME, "households", "household_id")
    summaries.track(Plan, NAME, "villages", "village_id")
