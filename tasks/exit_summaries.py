"""The exit verdicts kept by the writes (bazhou/core/summaries.py says how): per village planned to exit and per exit
indicator of its planned exit year, whether villages.exit_criteria judges it met and whether a person's override
decided it, as :class:`villages.models.ExitFigures` rows the dashboard's 一低七有 block counts.

The verdicts are :func:`villages.exit_criteria.judge`'s own (the one home of the rule), stored: a refresh of some
villages, a rebuild and a verification all judge with it. They read the villages (planned exit year, collective
income, registered population), the assessments and overrides, the indicators, the registry's poor people (the
registry's keeper, households/summaries.py, registered before this one, so refreshed first in a flush) and the
plan rows. An indicator's writes are not tracked: they have all the verdicts rebuilt by the next reader.

This keeper lives in tasks, the lowest app that sees every source of the verdicts (villages, households, tasks).
"""

from __future__ import annotations

import datetime
from collections import defaultdict

from django.db.models import Count, Q

from bazhou.core import summaries
from households import summaries as registry_summaries
from households.models import Household, Member
from tasks import summaries as plan_summaries
from tasks.models import Plan, Task
from villages import exit_criteria
from villages.models import ExitFigures, ExitIndicator, Village, VillageIndicator

NAME = "exit"
BATCH = 2000


def planned(villages):
    """The villages planned to exit in any year among ``villages`` (every village if None): those
    ``Village.objects.planned_to_exit(year)`` names for their own planned exit year."""
    found = Village.objects.filter(is_poor=True, planned_exit_year__isnull=False)
    return found if villages is None else found.filter(pk__in=villages)


def compute(villages) -> dict[tuple[int, int], tuple[int, bool, bool]]:
    """The verdicts of ``villages`` (every village if None), judged by villages.exit_criteria for each village's
    planned exit year: ``{(village, indicator): (year, met, overridden)}`` (1 query, and the judge's per year)."""
    by_year = defaultdict(list)
    for village in planned(villages).order_by():
        by_year[village.planned_exit_year].append(village)
    found = {}
    for year, chosen in sorted(by_year.items()):
        for pk, judgements in exit_criteria.judge(chosen, year).items():
            for j in judgements.values():
                found[(pk, j.indicator.pk)] = (year, j.met, j.overridden)
    return found


def _store(villages) -> None:
    """Replace the verdicts of ``villages`` (every village if None): a village no longer planned to exit loses its
    rows."""
    stored = ExitFigures.objects.all() if villages is None else ExitFigures.objects.filter(village__in=villages)
    fresh = compute(villages)
    stored.delete()
    ExitFigures.objects.bulk_create(
        [
            ExitFigures(village_id=village, indicator_id=indicator, year=year, met=met, overridden=overridden)
            for (village, indicator), (year, met, overridden) in fresh.items()
        ],
        batch_size=BATCH,
    )


def refresh(villages: set, day: datetime.date) -> None:
    _store(villages)


def rebuild(day: datetime.date) -> None:
    _store(None)


def villages_of(kinds: dict) -> set:
    """The villages of pending keys: villages (a village's, an assessment's, a plan's, a household's), plans (a plan
    row's), plan rows (named by the plan's bulk writes) and households (a member's)."""
    households = {"households": kinds["households"]} if kinds.get("households") else {}
    return plan_summaries.villages_of(kinds) | registry_summaries.villages_of(households)


def verify(day: datetime.date) -> list[str]:
    fresh = compute(None)
    stored = {
        (r["village"], r["indicator"]): (r["year"], r["met"], r["overridden"])
        for r in ExitFigures.objects.values("village", "indicator", "year", "met", "overridden")
    }

    def describe(key):
        return f"村 {key[0]} 指标 {key[1]}"

    return summaries.diff(stored, fresh, describe)


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


def ready(day: datetime.date) -> None:
    """Make the verdicts whole (1 query while they are)."""
    summaries.ready([NAME], day)


def counts(area_q: Q, year: int) -> dict[int, tuple[int, int]]:
    """``{indicator id: (villages meeting it, villages an override decided)}`` of the villages planned to exit in
    ``year`` inside ``area_q`` (a filter of ExitFigures), after :func:`ready` (1 query)."""
    rows = (
        ExitFigures.objects.filter(area_q, year=year)
        .order_by()
        .values("indicator")
        .annotate(met=Count("pk", filter=Q(met=True)), overridden=Count("pk", filter=Q(overridden=True)))
    )
    return {r["indicator"]: (r["met"], r["overridden"]) for r in rows}


def register() -> None:
    """Called by TasksConfig.ready, after the plan figures' keeper and the exit providers: the verdicts' keeper and
    the models whose writes change them. It follows the plan's keeper, so the plan rows a bulk write names
    (``summaries.touched("plan", …)``) are judged again too."""
    summaries.register(
        summaries.Keeper(
            name=NAME,
            tables=(
                Village._meta.db_table,
                VillageIndicator._meta.db_table,
                ExitIndicator._meta.db_table,
                Household._meta.db_table,
                Member._meta.db_table,
                Task._meta.db_table,
                Plan._meta.db_table,
            ),
            villages=villages_of,
            refresh=refresh,
            rebuild=rebuild,
            verify=verify,
            follows=(plan_summaries.NAME,),
        )
    )
    summaries.track(Village, NAME, "villages", "id")
    summaries.track(VillageIndicator, NAME, "villages", "village_id")
    summaries.track(Household, NAME, "villages", "village_id")
    summaries.track(Member, NAME, "households", "household_id")
    summaries.track(Task, NAME, "plans", "plan_id")
    summaries.track(Plan, NAME, "villages", "village_id")
    # An exit indicator is not tracked: its writes are explained by no signal, so they have all the verdicts rebuilt.
