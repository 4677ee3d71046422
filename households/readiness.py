"""Household exit readiness (一超六有), computed from the registry, never typed in.

Sichuan's household exit test for a year:

- 一超: per-capita net income of that year above the poverty line of that year (PovertyLine);
- 有义务教育保障: no active member of compulsory-school age (6–15 on 31 August) is out of school;
- 有基本医疗保障: every active member has basic medical insurance;
- 有住房安全保障: the house is A or B grade (no C/D danger house);
- 有安全饮用水, 有生活用电, 有广播电视: the household's living conditions.

Three entry points, by how many households are asked about:

- :func:`household_readiness` judges one household from rows the caller already holds (no queries);
- :func:`readiness_for` judges many households in a fixed number of queries (a page of a list);
- :func:`readiness_summary` counts, over a whole queryset, how many households meet each criterion
  (the dashboard: "how many targeted households are ready, and which criterion fails most often").
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from django.db.models import Count, DecimalField, F, FilteredRelation, Max, Q
from django.db.models.functions import Substr
from django.db.models.lookups import GreaterThan, LessThanOrEqual

from bazhou.core import clock, idnumbers
from households.models import Household, HouseholdIncome, Member, PovertyLine

# Compulsory education (九年义务教育): children aged 6 to 15 on the school-year cut-off day.
SCHOOL_AGE = (6, 15)
SCHOOL_CUTOFF = (8, 31)  # 31 August: a child who is 6 by then starts primary school that September.

# (code, name) of each criterion, in the order the registry lists them.
CRITERIA: tuple[tuple[str, str], ...] = (
    ("income", "人均纯收入超过扶贫标准"),
    ("education", "有义务教育保障"),
    ("medical", "有基本医疗保障"),
    ("housing", "有住房安全保障"),
    ("water", "有安全饮用水"),
    ("power", "有生活用电"),
    ("radio_tv", "有广播电视"),
)
CRITERION_NAMES = dict(CRITERIA)
SAFE_HOUSING = (Household.HousingGrade.A, Household.HousingGrade.B)


class MemberRow(NamedTuple):
    """What readiness reads of a member. The bulk functions fetch these tuples rather than model
    instances: building tens of thousands of instances costs far more than the judging itself."""

    household_id: int
    name: str
    id_number: str
    school: str
    medical_insurance: bool
    is_active: bool


class HouseholdRow(NamedTuple):
    """What readiness reads of a household (see MemberRow)."""

    pk: int
    housing_grade: str
    safe_water: bool
    electricity: bool
    radio_tv: bool


@dataclass(frozen=True)
class Criterion:
    """One of 一超六有 for one household and year: met or not, and why, in Chinese."""

    code: str
    name: str
    met: bool
    reason: str


@dataclass(frozen=True)
class Readiness:
    """A household's 一超六有 for a year."""

    household_id: int
    year: int
    criteria: tuple[Criterion, ...]

    @property
    def met(self) -> bool:
        return all(c.met for c in self.criteria)

    @property
    def failed(self) -> list[Criterion]:
        return [c for c in self.criteria if not c.met]

    def __getitem__(self, code: str) -> Criterion:
        for c in self.criteria:
            if c.code == code:
                return c
        raise KeyError(code)


@dataclass(frozen=True)
class CriterionCount:
    code: str
    name: str
    met: int
    not_met: int


@dataclass(frozen=True)
class ReadinessSummary:
    """How many households of a set meet each criterion, and all of them, in a year."""

    year: int
    total: int
    all_met: int
    criteria: tuple[CriterionCount, ...]

    @property
    def counts(self) -> dict[str, int]:
        """Households meeting each criterion, by code."""
        return {c.code: c.met for c in self.criteria}

    @property
    def most_failed(self) -> CriterionCount | None:
        """The criterion most households fail (the first in 一超六有 order on a tie); None if none fails."""
        worst = max(self.criteria, key=lambda c: c.not_met, default=None)
        return worst if worst is not None and worst.not_met else None


def plan_year() -> int:
    """The year whose readiness the pages show by default: this year (2017 in the demo)."""
    return clock.today().year


def age_on(born: datetime.date, day: datetime.date) -> int:
    """Full years of age on ``day``."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def format_yuan(value: Decimal) -> str:
    """3,100 for a whole amount, 3,520.50 otherwise (the line is usually whole, incomes rarely)."""
    return f"{value:,.0f}" if value == value.to_integral_value() else f"{value:,.2f}"


def _criterion(code: str, met: bool, reason: str) -> Criterion:
    return Criterion(code=code, name=CRITERION_NAMES[code], met=met, reason=reason)


def _income(year: int, members: list, income: HouseholdIncome | None, line: PovertyLine | None):
    if income is None:
        return _criterion("income", False, f"无{year}年收入记录")
    if not members:
        return _criterion("income", False, "无在册成员，无法计算人均纯收入")
    if line is None:
        return _criterion("income", False, f"未设定{year}年扶贫标准")
    per_capita = income.per_capita(len(members))
    amount = f"{year}年人均纯收入 {per_capita:,.2f} 元"
    if per_capita > line.yuan:
        return _criterion("income", True, f"{amount}，高于标准 {format_yuan(line.yuan)} 元")
    return _criterion("income", False, f"{amount}，未超过标准 {format_yuan(line.yuan)} 元")


def _education(year: int, members: list) -> Criterion:
    cutoff = datetime.date(year, *SCHOOL_CUTOFF)
    low, high = SCHOOL_AGE
    out_of_school = []
    for m in members:
        age = age_on(idnumbers.birth_date(m.id_number), cutoff)
        if low <= age <= high and m.school == Member.School.NOT_IN_SCHOOL:
            # No age: the reason is shown to roles that see ID numbers masked, and an age narrows one down.
            out_of_school.append(m.name)
    if out_of_school:
        return _criterion("education", False, f"{'、'.join(out_of_school)}处于义务教育年龄（{low}–{high}岁）但未在校")
    return _criterion("education", True, f"无{low}–{high}岁失学儿童")


def _medical(members: list) -> Criterion:
    if not members:
        return _criterion("medical", False, "无在册成员")
    uninsured = [m.name for m in members if not m.medical_insurance]
    if uninsured:
        return _criterion("medical", False, f"{'、'.join(uninsured)}未参加基本医疗保险")
    return _criterion("medical", True, f"{len(members)}名在册成员均参加基本医疗保险")


def _housing(household: Household | HouseholdRow) -> Criterion:
    grade = Household.HousingGrade(household.housing_grade)
    if grade in SAFE_HOUSING:
        return _criterion("housing", True, f"住房安全等级 {grade.label}")
    return _criterion("housing", False, f"住房为{grade.label}危房")


def household_readiness(
    household: Household | HouseholdRow,
    year: int,
    *,
    members: Iterable[Member | MemberRow],
    incomes: Iterable[HouseholdIncome],
    poverty_line: PovertyLine | None,
) -> Readiness:
    """一超六有 of ``household`` in ``year``, from rows the caller has already fetched (no queries).

    ``members`` may include members who are no longer registered (they are left out); ``incomes`` may
    hold several years (only ``year``'s counts); ``poverty_line`` is ``year``'s line, or None if unset.
    """
    active = [m for m in members if m.is_active]
    income = next((i for i in incomes if i.year == year), None)
    return Readiness(
        household_id=household.pk,
        year=year,
        criteria=(
            _income(year, active, income, poverty_line),
            _education(year, active),
            _medical(active),
            _housing(household),
            _criterion("water", household.safe_water, "饮水安全" if household.safe_water else "饮水不安全"),
            _criterion("power", household.electricity, "已通生活用电" if household.electricity else "未通生活用电"),
            _criterion("radio_tv", household.radio_tv, "已通广播电视" if household.radio_tv else "未通广播电视"),
        ),
    )


def _registry_rows(ids, year: int):
    """Active members and the year's incomes of the households ``ids`` names, and the year's line: 3 queries.

    ``ids`` is a list of ids or a ``values("pk")`` queryset (then used as a subquery, so its size does not matter).
    """
    members = defaultdict(list)
    rows = Member.objects.filter(household__in=ids, is_active=True).order_by("id").values_list(*MemberRow._fields)
    for row in rows:
        member = MemberRow(*row)
        members[member.household_id].append(member)
    incomes = {i.household_id: i for i in HouseholdIncome.objects.filter(household__in=ids, year=year).order_by()}
    line = PovertyLine.objects.filter(year=year).first()

    def judge(household: Household | HouseholdRow) -> Readiness:
        income = incomes.get(household.pk)
        return household_readiness(
            household,
            year,
            members=members[household.pk],
            incomes=[income] if income else [],
            poverty_line=line,
        )

    return judge


def readiness_for(households, year: int | None = None) -> dict[int, Readiness]:
    """一超六有 in ``year`` (default: :func:`plan_year`) of each of ``households``, by household id.

    For a page of a list (for a whole set, see :func:`readiness_summary`). Three queries whatever their
    number: their active members, their incomes of the year, the poverty line of the year (and one for the
    households themselves if a queryset is passed).
    """
    year = year or plan_year()
    households = list(households)
    judge = _registry_rows([h.pk for h in households], year)
    return {h.pk: judge(h) for h in households}


def readiness_summary(households_qs, year: int | None = None) -> ReadinessSummary:
    """How many of ``households_qs`` meet each of 一超六有 in ``year`` (default: :func:`plan_year`), and all seven.

    Four queries whatever the size of the set: the households' living conditions, their active members,
    their incomes of the year (both filtered with ``households_qs`` as a subquery), the poverty line.
    """
    year = year or plan_year()
    ids = households_qs.order_by().values("pk")
    judge = _registry_rows(ids, year)
    met = dict.fromkeys(CRITERION_NAMES, 0)
    total = all_met = 0
    for row in Household.objects.filter(pk__in=ids).order_by().values_list(*HouseholdRow._fields):
        result = judge(HouseholdRow(*row))
        total += 1
        all_met += result.met
        for c in result.criteria:
            met[c.code] += c.met
    return ReadinessSummary(
        year=year,
        total=total,
        all_met=all_met,
        criteria=tuple(CriterionCount(code, name, met[code], total - met[code]) for code, name in CRITERIA),
    )


# ---------------------------------------------------------------------------------------------
# 一超六有 in SQL: the dashboard's counts and the household list's readiness filter (one rule, one home)
# ---------------------------------------------------------------------------------------------

# The household list's filter values: all seven met, or one criterion not met.
READY = "ready"
UNMET_PREFIX = "unmet_"
READINESS_CHOICES = [
    (READY, "七项全部达标"),
    *((f"{UNMET_PREFIX}{code}", f"未达标：{name}") for code, name in CRITERIA),
]


def line_of(year: int) -> Decimal | None:
    """The poverty line (元 a head) of ``year``, or None when it is not set (1 query)."""
    return PovertyLine.objects.filter(year=year).values_list("yuan", flat=True).first()


def readiness_sql(households, year: int, line: Decimal | None):
    """``households`` annotated for 一超六有 in ``year``, and the test of each criterion as a Q on the annotations
    (``{"income": Q, …, "ready": Q}``): the same rules as :func:`household_readiness`, in SQL, so counting or
    filtering over any number of households loads none of them.

    One row per household, its active members counted in one join and the year's income joined once (its net income
    taken with Max). The birth date comes from characters 7–14 of the ID number (YYYYMMDD), compared as text. One
    rounding difference: the income test compares net income with line × members exactly, where
    :func:`household_readiness` compares the per-capita figure rounded to the fen."""
    cutoff = datetime.date(year, *SCHOOL_CUTOFF)
    low, high = SCHOOL_AGE
    # Aged low..high on the cut-off day: born after cutoff - (high+1) years and on or before cutoff - low years.
    born_after = cutoff.replace(year=cutoff.year - high - 1).strftime("%Y%m%d")
    born_by = cutoff.replace(year=cutoff.year - low).strftime("%Y%m%d")
    born = Substr("members__id_number", 7, 8)
    active = Q(members__is_active=True)
    income = FilteredRelation("incomes", condition=Q(incomes__year=year))
    net = sum(
        (F(f"year_income__{f}") for f in HouseholdIncome.INCOME_FIELDS[1:]),
        F(f"year_income__{HouseholdIncome.INCOME_FIELDS[0]}"),
    ) - F("year_income__business_expenses")
    annotated = (
        households.order_by()
        .annotate(year_income=income)
        .annotate(
            members_n=Count("members", filter=active),
            uninsured=Count("members", filter=active & Q(members__medical_insurance=False)),
            out_of_school=Count(
                "members",
                filter=active
                & Q(members__school=Member.School.NOT_IN_SCHOOL)
                & GreaterThan(born, born_after)
                & LessThanOrEqual(born, born_by),
            ),
            net=Max(net, output_field=DecimalField(max_digits=18, decimal_places=4)),
        )
    )
    # Without a line for the year nobody passes 一超 (a never-true test, not an empty Q, which would empty the query).
    income_ok = Q(members_n__lt=0) if line is None else Q(members_n__gt=0, net__gt=F("members_n") * line)
    criteria = {
        "income": income_ok,
        "education": Q(out_of_school=0),
        "medical": Q(members_n__gt=0, uninsured=0),
        "housing": Q(housing_grade__in=SAFE_HOUSING),
        "water": Q(safe_water=True),
        "power": Q(electricity=True),
        "radio_tv": Q(radio_tv=True),
    }
    ready = Q()
    for q in criteria.values():
        ready &= q
    return annotated, {**criteria, READY: ready}


def readiness_filter(households, year: int, choice: str):
    """The households of ``households`` that meet all seven in ``year`` (``choice`` "ready") or fail one criterion
    (``"unmet_<code>"``), for the household list (1 query more: the poverty line); unknown choices filter nothing."""
    code = choice.removeprefix(UNMET_PREFIX)
    if choice != READY and (not choice.startswith(UNMET_PREFIX) or code not in CRITERION_NAMES):
        return households
    annotated, tests = readiness_sql(households, year, line_of(year))
    if choice == READY:
        return households.filter(pk__in=annotated.filter(tests[READY]).values("pk"))
    # Not met = not among those that meet it (as the dashboard counts total − met; a NOT would drop NULL incomes).
    return households.exclude(pk__in=annotated.filter(tests[code]).values("pk"))
