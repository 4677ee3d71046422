"""The registry's part of village exit (一低): the poverty incidence of each village, registered with
villages.exit_criteria (the one home of 一低七有) for the indicators whose source is 贫困发生率."""

from __future__ import annotations

from bazhou.core import clock
from households import summaries
from households.models import incidence_below, poverty_incidence
from households.readiness import format_yuan
from villages.exit_criteria import Fact


def incidence_facts(villages: dict, indicators: list, year: int) -> dict:
    """People of still-poor households (active members) ÷ registered rural population, below each indicator's
    threshold, judged on the figure the village page shows (2 queries: the registry figures kept by the writes,
    households/summaries.py, made whole and read)."""
    summaries.ready(clock.today())
    poor = summaries.poor_people(list(villages))
    facts = {}
    for pk, village in villages.items():
        people, population = poor.get(pk, 0), village.registered_population
        for indicator in indicators:
            below = incidence_below(people, population, indicator.threshold)
            if below is None:
                figures = {"poor_people": people, "population": population, "rate": None}
                facts[(pk, indicator.pk)] = Fact(False, "未填户籍农业人口，无法计算贫困发生率", figures=figures)
                continue
            rate = poverty_incidence(people, population)
            word = "低于" if below else "不低于"
            text = f"贫困发生率 {rate}%（{people}/{population}），{word}标准 {format_yuan(indicator.threshold)}%"
            figures = {"poor_people": people, "population": population, "rate": rate, "below_threshold": below}
            facts[(pk, indicator.pk)] = Fact(below, text, figures=figures)
    return facts
