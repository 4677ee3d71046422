"""Village exit (一低七有): how each village is judged on each exit indicator of a year — the one home of the rule.

Each :class:`~villages.models.ExitIndicator` names its ``source`` (docs/exit-criteria.md has the mapping):

- 贫困发生率 (``incidence``): people of still-poor households ÷ registered rural population, below the threshold —
  from the registry (households registers the provider: households.models.still_poor_q, incidence_below);
- 集体经济收入 (``collective_income``): the village's collective income is above 0 (here);
- 施工图任务 (``plan_rows``): a live village row (一村一案, no household) of the indicator's ``task_category`` is done
  in the plan of the year or of an earlier year — the road row delivers 有硬化路, the water row 有安全饮用水 … (tasks
  registers the provider: tasks.models.done_q, live_q);
- 人工核查 (``manual``): a person's assessment (VillageIndicator.met); none yet is not met.

Where the data judges, a person's assessment counts only as an override (``VillageIndicator.overridden``, with a
reason and evidence, kept in its history): then it replaces the derived value, and the page says so.

The layers import downwards only, so the sources above this app register themselves here (:func:`register`, from
their AppConfig.ready). :func:`judge` costs a fixed number of queries whatever the number of villages: the
indicators, the villages, the assessments, and one per data source the year's indicators use. Every surface asks
it: the village page, the dashboard's 一低七有 block, the API, the exit-decision alerts (households.decisions).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from villages.models import ExitIndicator, Village, VillageIndicator


@dataclass(frozen=True)
class Fact:
    """What a data source says of one village on one indicator: met or not, why (Chinese), and where the reader can
    see why (a URL, e.g. the plan row that delivered it), if anywhere."""

    met: bool
    text: str
    url: str = ""
    figures: dict | None = None  # the numbers behind it, where a page shows them (the incidence's rate …)


@dataclass(frozen=True)
class Judgement:
    """One village on one indicator: the value that counts (``met``), and how it came about."""

    indicator: ExitIndicator
    met: bool
    text: str
    derived: bool  # the data judges this indicator (any source but 人工核查)
    derived_met: bool | None  # the data's own value (None where a person judges)
    overridden: bool  # a person's override replaces the data's value
    assessment: VillageIndicator | None
    url: str = ""
    figures: dict | None = None

    @property
    def code(self) -> str:
        return self.indicator.code

    @property
    def name(self) -> str:
        return self.indicator.name

    @property
    def source_label(self) -> str:
        return SHORT_LABELS.get(self.indicator.source, "")


# How a page names each source in a few words (the full names are ExitIndicator.Source's labels).
SHORT_LABELS = {
    ExitIndicator.Source.INCIDENCE: "按建档立卡数据计算",
    ExitIndicator.Source.COLLECTIVE_INCOME: "按村集体经济收入",
    ExitIndicator.Source.PLAN_ROWS: "按施工图任务完成情况",
    ExitIndicator.Source.MANUAL: "人工核查",
}


# source → provider(villages: {id: Village}, indicators: [ExitIndicator of that source], year) → {(village id,
# indicator id): Fact}. One query per provider at most.
Provider = Callable[[dict[int, Village], list[ExitIndicator], int], dict[tuple[int, int], Fact]]
PROVIDERS: dict[str, Provider] = {}


def register(source: str, provider: Provider) -> None:
    """Make ``provider`` judge the indicators of ``source`` (called from an AppConfig.ready above this app)."""
    PROVIDERS[source] = provider


def _collective_income(villages: dict[int, Village], indicators: list[ExitIndicator], year: int) -> dict:
    facts = {}
    for village in villages.values():
        income = village.collective_income or Decimal(0)
        met = income > 0
        text = f"集体经济收入 {income.normalize():f} 万元" if met else "无集体经济收入"
        for indicator in indicators:
            facts[(village.pk, indicator.pk)] = Fact(met, text)
    return facts


register(ExitIndicator.Source.COLLECTIVE_INCOME, _collective_income)


def judge(villages, year: int) -> dict[int, dict[str, Judgement]]:
    """The 一低七有 of ``year`` of each village in ``villages`` (a queryset, Village objects or ids), by indicator
    code, in the indicators' order. A fixed number of queries (see the module's docstring)."""
    if not hasattr(villages, "model"):
        villages = list(villages)
        if not all(isinstance(v, Village) for v in villages):
            villages = Village.objects.filter(pk__in=[getattr(v, "pk", v) for v in villages])
    indicators = list(ExitIndicator.objects.filter(year=year))
    if not indicators:
        return {v.pk: {} for v in villages}
    by_id = {v.pk: v for v in (villages.order_by() if hasattr(villages, "model") else villages)}
    if not by_id:
        return {}
    assessments = {
        (a.village_id, a.indicator_id): a
        for a in VillageIndicator.objects.filter(village__in=list(by_id), indicator__year=year)
    }
    facts: dict[tuple[int, int], Fact] = {}
    for source in {i.source for i in indicators if i.derived}:
        provider = PROVIDERS.get(source)
        if provider is not None:
            facts.update(provider(by_id, [i for i in indicators if i.source == source], year))
    result = {}
    for pk in by_id:
        result[pk] = {i.code: _judgement(i, facts.get((pk, i.pk)), assessments.get((pk, i.pk))) for i in indicators}
    return result


def _judgement(indicator: ExitIndicator, fact: Fact | None, assessment: VillageIndicator | None) -> Judgement:
    if not indicator.derived:
        met = bool(assessment and assessment.met)
        text = "未核查" if assessment is None else ("达标" if met else "未达标")
        return Judgement(indicator, met, text, False, None, False, assessment)
    fact = fact or Fact(False, "无法判定（缺少数据来源）")
    if assessment is not None and assessment.overridden:
        word = "达标" if assessment.met else "未达标"
        derived = "达标" if fact.met else "未达标"
        text = f"人工改判为{word}：{assessment.override_reason}（数据判定：{derived}，{fact.text}）"
        return Judgement(indicator, assessment.met, text, True, fact.met, True, assessment, fact.url, fact.figures)
    return Judgement(indicator, fact.met, fact.text, True, fact.met, False, assessment, fact.url, fact.figures)


def judge_one(village: Village, year: int) -> list[Judgement]:
    """The indicators of ``year`` for one village, in order (the village page)."""
    return list(judge([village], year).get(village.pk, {}).values())
