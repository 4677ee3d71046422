"""The registry figures kept by the writes (bazhou/core/summaries.py says how): per village and year, the households
targeted to exit that year and how many meet each criterion of 一超六有, the active members of the households lifted
out that year (:class:`households.models.RegistryFigures`), and per village the active members of its still-poor
households (:class:`households.models.PoorPeople`).

The rules are those of households.readiness.readiness_sql and households.models (exited_in_q, still_poor_q), grouped
by village: :func:`compute` is what a refresh, a rebuild and a verification all run.
"""

from __future__ import annotations

import datetime

from django.db import connection
from django.db.models import Case, Count, F, IntegerField, Q, Sum, When

from bazhou.core import summaries
from households.models import (
    Household,
    HouseholdIncome,
    Member,
    PoorPeople,
    PovertyLine,
    RegistryFigures,
    still_poor_q,
)
from households.readiness import CRITERIA, READY, readiness_sql
from villages.models import Village

NAME = "registry"
# The layout of the stored figures (township rows since 2): a new one makes the markers differ, so the first reader
# after an upgrade rebuilds them.
LAYOUT = 2
CODES = tuple(code for code, _name in CRITERIA)
FIELDS = ("targeted", "ready", *CODES, "people_lifted")


def _households(villages):
    rows = Household.objects.all()
    return rows if villages is None else rows.filter(village__in=villages)


def _readiness_sql(households, year: int, line) -> tuple[str, list]:
    """``SELECT village_id, year, targeted, ready, <criterion>…`` of ``households`` (those targeted in ``year``),
    one row per village: readiness_sql's annotations, flagged and counted (1 query when run)."""
    annotated, tests = readiness_sql(households, year, line)
    flags = {
        f"f_{name}": Case(When(tests[name], then=1), default=0, output_field=IntegerField()) for name in (READY, *CODES)
    }
    sql, params = annotated.annotate(**flags).values("village_id", *flags).query.sql_with_params()
    sums = ", ".join(f"COALESCE(SUM(f_{name}), 0) AS {name}" for name in (READY, *CODES))
    return (
        f"SELECT village_id, %s AS year, COUNT(*) AS targeted, {sums} FROM ({sql}) AS h GROUP BY village_id",
        [year, *params],
    )


def _years(villages) -> tuple[list[int], dict]:
    targeted = _households(villages).filter(planned_exit_year__isnull=False)
    years = sorted(set(targeted.order_by().values_list("planned_exit_year", flat=True).distinct()))
    return years, dict(PovertyLine.objects.filter(year__in=years).values_list("year", "yuan"))


def _targeted(villages, year: int):
    return _households(villages).filter(planned_exit_year=year)


def _lifted(villages):
    members = Member.objects.filter(is_active=True)
    if villages is not None:
        members = members.filter(household__village__in=villages)
    return (
        members.filter(household__exit_year__isnull=False, household__status__in=Household.EXITED_STATUSES)
        .order_by()
        .values(v=F("household__village"), y=F("household__exit_year"))
        .annotate(n=Count("pk"))
    )


def _poor(villages):
    members = Member.objects.filter(
        is_active=True, **({} if villages is None else {"household__village__in": villages})
    )
    return (
        members.filter(still_poor_q("household__")).order_by().values(v=F("household__village")).annotate(n=Count("pk"))
    )


def compute(villages) -> tuple[dict, dict]:
    """``({(village, year): {field: value}}, {village: poor people})`` of ``villages`` (every village if None), from
    the base tables: 3 queries and 1 per year with targeted households."""
    main: dict = {}
    years, lines = _years(villages)
    with connection.cursor() as cursor:
        for year in years:
            cursor.execute(*_readiness_sql(_targeted(villages, year), year, lines.get(year)))
            for village, y, targeted, *rest in cursor.fetchall():
                main[(village, y)] = {
                    **dict.fromkeys(FIELDS, 0),
                    "targeted": targeted,
                    **dict(zip((READY, *CODES), (int(x) for x in rest), strict=True)),
                }
    for row in _lifted(villages):
        main.setdefault((row["v"], row["y"]), dict.fromkeys(FIELDS, 0))["people_lifted"] = row["n"]
    poor = {row["v"]: row["n"] for row in _poor(villages)}
    return main, poor


def _store(villages, townships=frozenset()) -> None:
    """Replace the figures of ``villages`` (every village if None) and then the rows of their townships and of
    ``townships`` (summaries.store_townships: the villages' rows added up)."""
    if villages is None or villages:
        _store_villages(villages)
    more = None if villages is None else summaries.townships_of(RegistryFigures, villages) | set(townships)
    summaries.store_townships(RegistryFigures, (), FIELDS, more)


def _store_villages(villages) -> None:
    """Replace the figures of ``villages`` (every village if None) inside the database (INSERT … SELECT, the people
    lifted merged in with an upsert): 2 deletes, 2 queries for the years, 1 insert per year, 2 more."""
    figures, people = RegistryFigures.objects.filter(village__isnull=False), PoorPeople.objects.all()
    if villages is not None:
        figures, people = figures.filter(village__in=villages), people.filter(village__in=villages)
    figures.delete()
    people.delete()
    table = connection.ops.quote_name(RegistryFigures._meta.db_table)
    columns = ("village_id", "year", "targeted", READY, *CODES)
    years, lines = _years(villages)
    with connection.cursor() as cursor:
        for year in years:
            sql, params = _readiness_sql(_targeted(villages, year), year, lines.get(year))
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(columns)}, people_lifted) SELECT r.*, 0 FROM ({sql}) AS r", params
            )
        sql, params = _lifted(villages).query.sql_with_params()
        zeros = ", ".join("0" for _ in columns[2:])
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(columns)}, people_lifted) SELECT l.v, l.y, {zeros}, l.n FROM ({sql}) AS l"
            " WHERE true ON CONFLICT (village_id, year) DO UPDATE SET people_lifted = excluded.people_lifted",
            params,
        )
    summaries.insert_select(PoorPeople, {"village_id": "v", "people": "n"}, _poor(villages))


def refresh(villages: set, day: datetime.date, townships=frozenset()) -> None:
    _store(villages, townships)


def rebuild(day: datetime.date) -> None:
    _store(None)


def villages_of(kinds: dict) -> set:
    """The villages of pending keys: households (a member's, an income's) and villages (a household's)."""
    villages = set(kinds.get("villages", ()))
    if kinds.get("households"):
        villages |= set(Household.objects.filter(pk__in=kinds["households"]).values_list("village_id", flat=True))
    return villages


def verify(day: datetime.date) -> list[str]:
    main, poor = compute(None)
    stored = {
        (r.pop("village"), r.pop("year")): r
        for r in RegistryFigures.objects.filter(village__isnull=False).values("village", "year", *FIELDS)
    }
    stored.update(
        {
            ("乡镇", r.pop("township"), r.pop("year")): r
            for r in RegistryFigures.objects.filter(village__isnull=True).values("township", "year", *FIELDS)
        }
    )
    fresh = {k: {f: v[f] for f in FIELDS} for k, v in main.items() if any(v.values())}
    fresh.update(summaries.township_totals(RegistryFigures, fresh))
    stored_poor = dict(PoorPeople.objects.values_list("village", "people"))
    fresh_poor = {v: n for v, n in poor.items() if n}

    def describe(key):
        return summaries.describe_key(key) if isinstance(key, tuple) else f"村 {key} 贫困人口"

    return summaries.diff(stored, fresh, describe) + summaries.diff(stored_poor, fresh_poor, describe)


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


def ready(day: datetime.date) -> None:
    summaries.ready([NAME], day)


def totals(area_q: Q, year: int) -> dict:
    """The registry figures of ``year`` inside ``area_q`` (a filter of RegistryFigures) added up (1 query)."""
    found = RegistryFigures.objects.filter(area_q, year=year).aggregate(**{f: Sum(f) for f in FIELDS})
    return {f: found[f] or 0 for f in FIELDS}


def poor_people(villages) -> dict:
    """``{village id: active members of its still-poor households}`` (1 query), after :func:`ready`."""
    return dict(PoorPeople.objects.filter(village__in=villages).values_list("village", "people"))


def register() -> None:
    """Called by HouseholdsConfig.ready."""
    summaries.register(
        summaries.Keeper(
            name=NAME,
            tables=(
                Household._meta.db_table,
                Member._meta.db_table,
                HouseholdIncome._meta.db_table,
                PovertyLine._meta.db_table,
            ),
            villages=villages_of,
            refresh=refresh,
            rebuild=rebuild,
            verify=verify,
            settings=lambda: LAYOUT,
            townships=True,
        )
    )
    summaries.track(Household, NAME, "villages", "village_id")
    # A village moved to another township: both townships' rows are redone (its own rows stay as they are).
    summaries.track(Village, NAME, "townships", "township_id")
    summaries.track(Member, NAME, "households", "household_id")
    summaries.track(HouseholdIncome, NAME, "households", "household_id")
    # A poverty line is not tracked: its writes are explained by no signal, so they have all the figures rebuilt.
