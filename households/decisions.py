"""Alerts on evidence that flips an exit decision (近期变动的脱贫判定).

An edit to the registry or to a village's exit indicators may flip a decision: a household's 一超六有 (one criterion
of :data:`households.readiness.CRITERIA`, the poverty-line test among them) or a village's 一低七有 (each
``ExitIndicator`` of the year: the one with a threshold is the poverty incidence computed from the registry, as the
village page and the dashboard judge it; the others are the village's assessments, an unassessed one not met).

Every service that writes such evidence runs inside a *watch* (:func:`judged` on the service, or :func:`watching`
around several): before changing anything it names the households and villages its edit may touch
(:func:`watch_households`, :func:`watch_villages`), whose criteria are judged then; when the outermost watch ends —
still inside the edit's transaction — they are judged again, and every criterion that flipped gets one
:class:`~households.models.DecisionAlert` (who, when, which criterion, before → after, the edit and its reason). An
edit that flips nothing writes nothing; an edit that flips and a later one that flips back write one alert each.

Only the edited households and villages are judged: a fixed number of queries for a watch, however many of them an
import names. A household registered by the edit itself has no decision before it, so no alert of its own (its
village's incidence is still watched). Changes to the poverty line or the indicators' thresholds themselves are
reference data for every household and village at once: they raise no alert.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field

from django.utils import timezone

from bazhou.core import clock
from households.models import DecisionAlert, Household
from households.readiness import plan_year, readiness_for
from villages import exit_criteria


@dataclass(frozen=True)
class State:
    """One criterion of a decision as judged at one moment: met or not, why (Chinese), and its name."""

    name: str
    met: bool
    text: str


def household_states(household_ids: Iterable[int], year: int) -> dict[int, tuple[int, dict[str, State]]]:
    """一超六有 of each household in ``year``: its village id and its criteria by code. Four queries."""
    households = list(Household.objects.filter(pk__in=list(household_ids)).order_by())
    judged = readiness_for(households, year)
    return {
        h.pk: (h.village_id, {c.code: State(c.name, c.met, c.reason) for c in judged[h.pk].criteria})
        for h in households
    }


def village_states(village_ids: Iterable[int], year: int) -> dict[int, dict[str, State]]:
    """一低七有 of each village in ``year``, by indicator code, judged by villages.exit_criteria (the incidence from
    the registry, the plan rows that deliver an indicator, the assessments and overrides). A fixed number of
    queries."""
    return {
        pk: {code: State(j.name, j.met, j.text) for code, j in judgements.items()}
        for pk, judgements in exit_criteria.judge(list(village_ids), year).items()
    }


# ---------------------------------------------------------------------------------------------
# The watch around an edit
# ---------------------------------------------------------------------------------------------


@dataclass
class Watch:
    user: object
    source: str
    reason: str
    detail: str = ""
    # (household id, year) → (its village id, its criteria before the edit); (village id, year) → its criteria.
    households: dict[tuple[int, int], tuple[int, dict[str, State]]] = field(default_factory=dict)
    villages: dict[tuple[int, int], dict[str, State]] = field(default_factory=dict)
    new_households: set[int] = field(default_factory=set)

    def finish(self) -> list[DecisionAlert]:
        """Judge again what was watched and write one alert per flipped criterion."""
        now, today = timezone.now(), clock.today()
        common = {
            "source": self.source,
            "source_detail": self.detail[:300],
            "reason": (self.reason or "")[:500],
            "changed_by": self.user if getattr(self.user, "pk", None) else None,
            "changed_at": now,
            "changed_on": today,
        }
        alerts = []
        for year in sorted({y for _, y in self.households}):
            ids = [h for h, y in self.households if y == year and h not in self.new_households]
            if not ids:
                continue
            for pk, (village_id, after) in household_states(ids, year).items():
                before = self.households[(pk, year)][1]
                for code, was, now_state in _flips(before, after):
                    alerts.append(
                        DecisionAlert(
                            scope=DecisionAlert.Scope.HOUSEHOLD,
                            village_id=village_id,
                            household_id=pk,
                            **_fields(year, code, was, now_state),
                            **common,
                        )
                    )
        for year in sorted({y for _, y in self.villages}):
            ids = [v for v, y in self.villages if y == year]
            for pk, after in village_states(ids, year).items():
                for code, was, now_state in _flips(self.villages[(pk, year)], after):
                    alerts.append(
                        DecisionAlert(
                            scope=DecisionAlert.Scope.VILLAGE,
                            village_id=pk,
                            **_fields(year, code, was, now_state),
                            **common,
                        )
                    )
        if alerts:
            DecisionAlert.objects.bulk_create(alerts)
        return alerts


def _flips(before: dict[str, State], after: dict[str, State]):
    for code, now_state in after.items():
        was = before.get(code)
        if was is not None and was.met != now_state.met:
            yield code, was, now_state


def _fields(year: int, code: str, was: State, now_state: State) -> dict:
    return {
        "year": year,
        "criterion": code,
        "criterion_name": now_state.name[:50],
        "met_before": was.met,
        "met_after": now_state.met,
        "before": was.text[:300],
        "after": now_state.text[:300],
    }


_current: ContextVar[Watch | None] = ContextVar("decision_watch", default=None)


class watching:
    """Watch the decisions an edit may flip: ``with watching(user=…, source=…, reason=…) as watch:`` around the
    edit, inside its transaction. Nested watches join the outermost one (an import's writes are one edit), which
    alone judges again and writes the alerts when it ends without an error."""

    def __init__(self, *, user, source: str, reason: str = "", detail: str = ""):
        self.watch = Watch(user=user, source=source, reason=reason, detail=detail)
        self.token = None

    def __enter__(self) -> Watch:
        outer = _current.get()
        if outer is not None:
            return outer
        self.token = _current.set(self.watch)
        return self.watch

    def __exit__(self, exc_type, exc, tb):
        if self.token is None:
            return False
        try:
            if exc_type is None:
                self.watch.finish()
        finally:
            _current.reset(self.token)
        return False


def judged(source: str):
    """Run a service (keyword arguments ``user`` and, if it has one, ``reason``) inside a watch of ``source``.
    Place it under ``@transaction.atomic``, so the alerts are written in the edit's transaction."""

    def decorate(service):
        @functools.wraps(service)
        def run(*args, **kwargs):
            with watching(user=kwargs.get("user"), source=source, reason=kwargs.get("reason") or ""):
                return service(*args, **kwargs)

        return run

    return decorate


def _watch() -> Watch:
    watch = _current.get()
    if watch is None:
        raise RuntimeError("Evidence of an exit decision is written outside a watch (households.decisions.judged).")
    return watch


def watch_households(ids: Iterable[int], *, year: int | None = None, detail: str = "") -> None:
    """Judge these households' 一超六有 of ``year`` (default: the plan year) now, before the edit changes them."""
    watch = _watch()
    year = int(year) if year else plan_year()
    todo = [pk for pk in dict.fromkeys(ids) if (pk, year) not in watch.households]
    if detail and not watch.detail:
        watch.detail = detail
    if todo:
        for pk, state in household_states(todo, year).items():
            watch.households[(pk, year)] = state


def watch_villages(ids: Iterable[int], *, year: int | None = None, detail: str = "") -> None:
    """Judge these villages' 一低七有 of ``year`` (default: the plan year) now, before the edit changes them."""
    watch = _watch()
    year = int(year) if year else plan_year()
    todo = [pk for pk in dict.fromkeys(ids) if (pk, year) not in watch.villages]
    if detail and not watch.detail:
        watch.detail = detail
    if todo:
        watch.villages.update({(pk, year): state for pk, state in village_states(todo, year).items()})


def registered_now(household_id: int) -> None:
    """The household is registered by the watched edit: it had no decision before, so it gets no alert."""
    _watch().new_households.add(household_id)


# What an alert's edit was (DecisionAlert.Source), for the services that watch.
Source = DecisionAlert.Source

# How many of a record's latest alerts its page shows.
PANEL_ALERTS = 20


def recent_decision_alerts(user, *, household=None, village=None) -> list[DecisionAlert]:
    """The latest alerts of a household (its own) or of a village (its own and its households') that ``user`` may
    see, newest first: one query."""
    alerts = DecisionAlert.objects.visible_to(user).select_related("household", "changed_by")
    alerts = alerts.filter(household=household) if household is not None else alerts.filter(village=village)
    return list(alerts.order_by("-changed_at", "-id")[:PANEL_ALERTS])
