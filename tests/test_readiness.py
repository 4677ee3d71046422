"""Household exit readiness (一超六有): each criterion met and not met with its reason, one and many households."""

import datetime
import itertools

import pytest

from bazhou.core import idnumbers
from households.models import Household, Member, PovertyLine
from households.readiness import (
    CRITERIA,
    age_on,
    household_readiness,
    plan_year,
    readiness_for,
    readiness_summary,
)
from tests import factories

_sequence = itertools.count(1)


def born(day: datetime.date) -> str:
    """A fresh valid ID number for someone born on ``day`` (the factories' default shifts dates)."""
    return idnumbers.build("511902", day, next(_sequence) % 1000)


@pytest.fixture
def line(db):
    return factories.poverty_line(2017, "3100")


@pytest.fixture
def ready(area, line):
    """A household that meets all seven in 2017: three insured members, a 12-year-old at school,
    10,560 元 net (3,520 a head), a safe house, water, power and TV."""
    household = area.household_a
    household.members.all().delete()
    factories.member(household, relation=Member.Relation.HEAD, name="彭海辉", id_number=born(datetime.date(1975, 3, 1)))
    factories.member(
        household, relation=Member.Relation.SPOUSE, male=False, name="李芳", id_number=born(datetime.date(1978, 6, 1))
    )
    factories.member(
        household,
        relation=Member.Relation.SON,
        name="彭小明",
        id_number=born(datetime.date(2005, 3, 1)),
        school=Member.School.PRIMARY,
    )
    factories.income(household, 2017, wage=9000, business=2000, dibao=560, business_expenses=1000)
    return household


def judge(household, year=2017):
    """Readiness of one household through the one-household function, from freshly fetched rows."""
    household.refresh_from_db()
    line = PovertyLine.objects.filter(year=year).first()
    return household_readiness(
        household, year, members=list(household.members.all()), incomes=list(household.incomes.all()), poverty_line=line
    )


def test_a_household_that_meets_all_seven_says_why_for_each(ready):
    result = judge(ready)
    assert result.met and result.failed == []
    assert [c.code for c in result.criteria] == [code for code, _ in CRITERIA]
    reasons = {c.code: c.reason for c in result.criteria}
    assert reasons == {
        "income": "2017年人均纯收入 3,520.00 元，高于标准 3,100 元",
        "education": "无6–15岁失学儿童",
        "medical": "3名在册成员均参加基本医疗保险",
        "housing": "住房安全等级 A级（安全）",
        "water": "饮水安全",
        "power": "已通生活用电",
        "radio_tv": "已通广播电视",
    }
    assert result["income"].name == "人均纯收入超过扶贫标准"


# 一超: income above the line ----------------------------------------------------------------------------------------


def test_no_income_record_for_the_year_is_not_met(ready):
    ready.incomes.all().delete()
    factories.income(ready, 2016, wage=99999)
    criterion = judge(ready)["income"]
    assert (criterion.met, criterion.reason) == (False, "无2017年收入记录")


def test_an_income_at_or_below_the_line_is_not_met(ready):
    ready.incomes.update(wage=8300)  # 8,300 + 2,000 + 560 − 1,000 = 9,860 / 3 = 3,286.67
    assert judge(ready)["income"].met
    ready.incomes.update(wage=7740)  # 9,300 / 3 = 3,100.00: equal is not above
    criterion = judge(ready)["income"]
    assert (criterion.met, criterion.reason) == (False, "2017年人均纯收入 3,100.00 元，未超过标准 3,100 元")


def test_per_capita_income_counts_only_active_members(ready):
    factories.member(ready, name="已迁出", is_active=False)  # 4 people would make it 2,640
    assert judge(ready)["income"].reason.startswith("2017年人均纯收入 3,520.00 元")


def test_without_a_poverty_line_for_the_year_income_is_not_met(ready, line):
    line.delete()
    criterion = judge(ready)["income"]
    assert (criterion.met, criterion.reason) == (False, "未设定2017年扶贫标准")


def test_the_line_of_the_year_asked_for_is_used(ready):
    factories.poverty_line(2016, "3000")
    factories.income(ready, 2016, wage=8000)
    criterion = judge(ready, 2016)["income"]
    assert (criterion.met, criterion.reason) == (False, "2016年人均纯收入 2,666.67 元，未超过标准 3,000 元")


# 有义务教育保障: no child of 6–15 out of school ----------------------------------------------------------------------


def test_a_school_age_child_out_of_school_is_named(ready):
    factories.member(ready, name="彭小红", male=False, id_number=born(datetime.date(2004, 12, 1)))  # 12 on 31 Aug
    criterion = judge(ready)["education"]
    assert (criterion.met, criterion.reason) == (False, "彭小红处于义务教育年龄（6–15岁）但未在校")


@pytest.mark.parametrize(
    ("birthday", "met"),
    [
        (datetime.date(2011, 8, 31), False),  # 6 on 31 August 2017: should start school this September
        (datetime.date(2011, 9, 1), True),  # 6 only on 1 September: starts next year
        (datetime.date(2001, 9, 1), False),  # 15 on 31 August
        (datetime.date(2001, 8, 31), True),  # 16 on 31 August: past compulsory age
    ],
)
def test_compulsory_school_age_is_6_to_15_on_31_august(ready, birthday, met):
    factories.member(ready, name="孩子", id_number=born(birthday), school=Member.School.NOT_IN_SCHOOL)
    assert judge(ready)["education"].met is met


def test_a_child_who_left_the_household_does_not_count_for_education(ready):
    factories.member(ready, name="已迁出", id_number=born(datetime.date(2006, 1, 1)), is_active=False)
    assert judge(ready)["education"].met


# 有基本医疗保障: everyone insured -----------------------------------------------------------------------------------


def test_uninsured_members_are_named(ready):
    ready.members.filter(name__in=["李芳", "彭小明"]).update(medical_insurance=False)
    factories.member(ready, name="已迁出", medical_insurance=False, is_active=False)
    criterion = judge(ready)["medical"]
    assert (criterion.met, criterion.reason) == (False, "李芳、彭小明未参加基本医疗保险")


def test_a_household_without_active_members_meets_neither_income_nor_medical(ready):
    ready.members.update(is_active=False)
    result = judge(ready)
    assert (result["income"].met, result["income"].reason) == (False, "无在册成员，无法计算人均纯收入")
    assert (result["medical"].met, result["medical"].reason) == (False, "无在册成员")


# 有住房安全保障, 有安全饮用水, 有生活用电, 有广播电视 ------------------------------------------------------------


@pytest.mark.parametrize(
    ("grade", "met", "reason"),
    [
        ("A", True, "住房安全等级 A级（安全）"),
        ("B", True, "住房安全等级 B级（基本安全）"),
        ("C", False, "住房为C级（局部危险）危房"),
        ("D", False, "住房为D级（整体危险）危房"),
    ],
)
def test_housing_is_safe_only_in_grade_a_or_b(ready, grade, met, reason):
    Household.objects.filter(pk=ready.pk).update(housing_grade=grade)
    criterion = judge(ready)["housing"]
    assert (criterion.met, criterion.reason) == (met, reason)


@pytest.mark.parametrize(
    ("field", "code", "reason"),
    [
        ("safe_water", "water", "饮水不安全"),
        ("electricity", "power", "未通生活用电"),
        ("radio_tv", "radio_tv", "未通广播电视"),
    ],
)
def test_water_power_and_tv_follow_the_living_conditions(ready, field, code, reason):
    Household.objects.filter(pk=ready.pk).update(**{field: False})
    result = judge(ready)
    assert (result[code].met, result[code].reason) == (False, reason)
    assert [c.code for c in result.failed] == [code]
    assert not result.met


# No queries for one household; a fixed number for many ----------------------------------------------------------


def test_one_household_is_judged_from_the_rows_given_without_queries(ready, line, django_assert_num_queries):
    members, incomes = list(ready.members.all()), list(ready.incomes.all())
    with django_assert_num_queries(0):
        result = household_readiness(ready, 2017, members=members, incomes=incomes, poverty_line=line)
    assert result.met


@pytest.fixture
def mixed(area, line):
    """Households in both townships, each failing something different (or nothing)."""
    households = []
    for i in range(6):
        h = factories.household(area.village_a if i % 2 else area.village_b)
        factories.income(h, 2017, wage=3000 * 3 + 500 * i)  # 3,000 a head, +166.67 × i: i ≥ 1 is above the line
        households.append(h)
    Household.objects.filter(pk=households[2].pk).update(housing_grade="C")
    Household.objects.filter(pk__in=[households[3].pk, households[4].pk]).update(radio_tv=False)
    households[5].members.filter(relation=Member.Relation.SON).update(medical_insurance=False)
    return households


def test_bulk_readiness_matches_each_household_judged_alone(mixed):
    bulk = readiness_for(Household.objects.filter(pk__in=[h.pk for h in mixed]), 2017)
    assert bulk == {h.pk: judge(h) for h in mixed}
    assert [bulk[h.pk].met for h in mixed] == [False, True, False, False, False, False]


def test_bulk_readiness_takes_three_queries_whatever_the_number_of_households(
    area, line, mixed, django_assert_num_queries
):
    few = list(Household.objects.filter(pk__in=[h.pk for h in mixed[:2]]))
    with django_assert_num_queries(3):  # active members, incomes of the year, the poverty line
        readiness_for(few, 2017)
    for _ in range(20):
        factories.household(area.village_a)
    many = list(Household.objects.all())
    with django_assert_num_queries(3):
        result = readiness_for(many, 2017)
    assert len(result) == len(many) == 28


def test_the_summary_counts_what_each_household_judged_alone_says(area, mixed):
    everyone = Household.objects.all()
    summary = readiness_summary(everyone, 2017)
    alone = [judge(h) for h in everyone]
    assert summary.total == 8
    assert summary.all_met == sum(r.met for r in alone) == 1
    for counted in summary.criteria:
        assert counted.met == sum(r[counted.code].met for r in alone)
        assert counted.met + counted.not_met == 8
    assert summary.counts == {
        "income": 5,  # mixed[1:] are above the line; mixed[0] and the two area households are not
        "education": 8,
        "medical": 7,
        "housing": 7,
        "water": 8,
        "power": 8,
        "radio_tv": 6,
    }
    assert summary.most_failed.code == "income"


def test_the_summary_of_a_filtered_set_takes_four_queries_whatever_its_size(area, mixed, django_assert_num_queries):
    targeted = Household.objects.filter(planned_exit_year=2017, village__township=area.township_a)
    with django_assert_num_queries(4):  # households, active members, incomes of the year, the poverty line
        small = readiness_summary(targeted, 2017)
    for _ in range(20):
        factories.household(area.village_a)
    with django_assert_num_queries(4):
        large = readiness_summary(targeted, 2017)
    assert (small.total, large.total) == (4, 24)  # household_a and mixed[1], [3], [5]; then 20 more


def test_the_summary_names_no_criterion_when_all_are_met(ready):
    summary = readiness_summary(Household.objects.filter(pk=ready.pk), 2017)
    assert (summary.total, summary.all_met, summary.most_failed) == (1, 1, None)


def test_the_default_year_is_the_products_this_year(settings, ready):
    settings.BAZHOU_TODAY = "2017-09-15"
    assert plan_year() == 2017
    assert readiness_for([ready])[ready.pk].year == 2017
    assert readiness_summary(Household.objects.filter(pk=ready.pk)).year == 2017


def test_age_is_counted_in_full_years():
    assert age_on(datetime.date(2005, 9, 1), datetime.date(2017, 8, 31)) == 11
    assert age_on(datetime.date(2005, 8, 31), datetime.date(2017, 8, 31)) == 12
    assert age_on(datetime.date(2004, 2, 29), datetime.date(2017, 2, 28)) == 12
