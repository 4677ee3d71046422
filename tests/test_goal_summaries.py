"""The annual goals' figures kept by the writes (tasks/goal_summaries.py): after each kind of write that changes a
goal measured from the data, the dashboard's figures (added up from the per-village figures) equal those counted
directly from the rows the drill-down lists show (bazhou.surfaces.dashboard.GOAL_METRICS), for the district, a
township and a village, and ``summaries.verify`` finds every stored figure right.

The data is the hand-worked district of tests/test_goals.py (``worked``), whose figures that file checks by hand.
"""

import datetime
from decimal import Decimal as D

import pytest

from bazhou.core import summaries
from bazhou.core.models import AnnualGoal
from bazhou.surfaces import dashboard as figures
from households import services as household_services
from households.models import (
    BusinessEntity,
    GoalFigures,
    HospitalStay,
    Household,
    JobFair,
    JobFairAttendance,
    LandTransfer,
    LowRentHousing,
)
from tasks import goal_summaries
from tasks import services as task_services
from tasks.models import Task
from tests import factories
from tests.test_goals import member_of, worked  # noqa: F401  (the hand-worked district)

pytestmark = pytest.mark.usefixtures("pinned_today")

TODAY = datetime.date(2017, 9, 15)
Metric = AnnualGoal.Metric


def scopes(k) -> list:
    return [
        figures.Scope(district=k.district),
        figures.Scope(district=k.district, township=k.township_a),
        figures.Scope(district=k.district, township=k.village_b.township, village=k.village_b),
    ]


def goal_rows(year: int) -> list:
    return list(AnnualGoal.objects.filter(year=year))


def consistent(k, year: int = 2017) -> dict:
    """The stored figures verified, and the dashboard's figures of every metric equal to those counted from the rows
    in each scope. Returns the district's."""
    assert summaries.verify(TODAY) == []
    rows = goal_rows(year)
    assert {g.metric for g in rows} >= set(figures.GOAL_METRICS)
    for scope in scopes(k):
        direct = {metric: measure(scope, year) for metric, measure in figures.GOAL_METRICS.items()}
        assert figures.goal_figures(scope, year, rows) == direct, scope.title
    return figures.goal_figures(scopes(k)[0], year, rows)


def kept():
    """The write was refreshed village by village (flushed as at commit, the goals' marker is still there)."""
    summaries.flush()
    assert goal_summaries.NAME in summaries.markers([goal_summaries.NAME])


@pytest.fixture
def k(worked):  # noqa: F811
    factories.settle()
    return worked


def test_the_metrics_kept_are_those_the_dashboard_measures():
    assert set(figures.GOAL_METRICS) == goal_summaries.METRICS


def test_the_kept_figures_are_the_hand_worked_ones(k):
    district = consistent(k)
    assert {m: f["value"] for m, f in district.items()} == {
        Metric.INCOME_RISE: D("600.00"),
        Metric.INDUSTRY_COVERAGE: D("33.3"),
        Metric.BUSINESS_ENTITIES: D(2),
        Metric.LAND_TRANSFER: D("200.00"),
        Metric.LOW_RENT_HOUSING: D("33.3"),
        Metric.HOSPITAL_SHARE: D("10.0"),
        Metric.JOB_FAIR_INTENTS: D(1),
        Metric.JOB_FAIR_ATTENDANCE: D(3),
    }
    assert district[Metric.HOSPITAL_SHARE] == {
        "stays": 2,
        "out_of_pocket": D("1500.00"),
        "total_cost": D("15000.00"),
        "value": D("10.0"),
    }
    # Only villages with something to count have a row, of the goals' year only.
    assert set(GoalFigures.objects.values_list("year", flat=True)) == {2017}


def test_a_household_lifted_out_earlier_leaves_the_poor_households(k):
    hb = Household.objects.get(pk=k.hb.pk)
    household_services.household_update(
        household_id=hb.pk,
        user=k.personas.district_admin,
        expected_version=hb.version,
        data={"status": Household.Status.EXITED, "exit_year": 2016},
        reason="2016 年已脱贫",
    )
    kept()
    district = consistent(k)
    # hb leaves the income rise (ha alone: +1000) and the low-rent share (0 of 2).
    assert district[Metric.INCOME_RISE]["value"] == D("1000.00")
    assert district[Metric.LOW_RENT_HOUSING]["value"] == D("0.0")


def test_a_member_leaving_changes_the_per_capita_incomes(k):
    member = member_of(k.ha, 2)
    household_services.member_leave(
        member_id=member.pk, user=k.personas.district_admin, expected_version=member.version, reason="迁出"
    )
    kept()
    # ha: 6000/2 = 3000 → 9000/2 = 4500 (+1500); hb +200: mean rise 850.
    assert consistent(k)[Metric.INCOME_RISE]["value"] == D("850.00")


def test_an_income_record_added_brings_a_household_into_the_income_rise(k):
    household_services.income_create(
        household_id=k.hc.pk, user=k.personas.district_admin, year=2016, data={"wage": D(6000)}, reason="补录"
    )
    kept()
    assert consistent(k)[Metric.INCOME_RISE]["households"] == 3


def test_records_added_count_at_once(k):
    LowRentHousing.objects.create(household=k.ha, allocated_on=datetime.date(2017, 5, 1), address="丁")
    BusinessEntity.objects.create(
        village=k.village_b, name="大寺合作社", kind="cooperative", registered_on=datetime.date(2017, 5, 1)
    )
    LandTransfer.objects.create(
        village=k.village_a2, area_mu=D("33.3"), signed_on=datetime.date(2017, 5, 1), transferee="x", term_years=5
    )
    HospitalStay.objects.create(
        member=member_of(k.hb, 2), hospital="区中医院", admitted_on=datetime.date(2017, 7, 1),
        discharged_on=datetime.date(2017, 7, 5), total_cost=D(2000), out_of_pocket=D(100),
    )  # fmt: skip
    fair = JobFair.objects.get(name="春风行动")
    JobFairAttendance.objects.create(fair=fair, member=member_of(k.hb, 2), signed_intent=True, employer="恒达")
    kept()
    district = consistent(k)
    assert {m: district[m]["value"] for m in (Metric.LOW_RENT_HOUSING, Metric.BUSINESS_ENTITIES)} == {
        Metric.LOW_RENT_HOUSING: D("66.7"),
        Metric.BUSINESS_ENTITIES: D(3),
    }
    assert district[Metric.LAND_TRANSFER]["value"] == D("233.30")
    assert district[Metric.HOSPITAL_SHARE]["stays"] == 3
    assert (district[Metric.JOB_FAIR_ATTENDANCE]["value"], district[Metric.JOB_FAIR_INTENTS]["value"]) == (4, 2)


def test_a_record_deleted_or_moved_counts_no_more_where_it_was(k):
    LandTransfer.objects.filter(village=k.village_b).get().delete()
    stay = HospitalStay.objects.get(member=member_of(k.ha), in_district=True)
    stay.member = member_of(k.hb, 2)  # entered against the wrong patient
    stay.save()
    kept()
    district = consistent(k)
    assert district[Metric.LAND_TRANSFER]["value"] == D("120.50")


def test_an_industry_row_added_and_withdrawn(k):
    plan = Task.objects.get(household=k.hb, category="road").plan
    user = k.personas.district_admin
    task = task_services.task_create(
        plan=plan,
        user=user,
        data={"household": k.hb, "category": "industry", "item": "养牛", "deadline": datetime.date(2017, 12, 1),
              "responsible_unit": "区农业农村局"},
    )  # fmt: skip
    kept()
    assert consistent(k)[Metric.INDUSTRY_COVERAGE]["value"] == D("66.7")
    task.refresh_from_db()
    task_services.task_remove(task_id=task.pk, user=user, expected_version=task.version, reason="重复")
    kept()
    assert consistent(k)[Metric.INDUSTRY_COVERAGE]["value"] == D("33.3")


def test_industry_rows_written_in_bulk_are_named_to_the_goals(k):
    plan = Task.objects.get(household=k.hb, category="road").plan
    row = {"household": k.hb, "category": "industry", "item": "养羊", "deadline": datetime.date(2017, 12, 1),
           "responsible_unit": "区农业农村局"}  # fmt: skip
    task_services.task_create_many(user=k.personas.district_admin, rows=[(plan, row, None)], reason="导入")
    kept()
    assert consistent(k)[Metric.INDUSTRY_COVERAGE]["value"] == D("66.7")


def test_a_goal_for_another_year_has_its_figures_built(k):
    AnnualGoal.objects.create(
        district=k.district, year=2016, name="2016 土地流转", target=100, unit="亩", metric=Metric.LAND_TRANSFER
    )
    for metric in set(figures.GOAL_METRICS) - {Metric.LAND_TRANSFER}:
        AnnualGoal.objects.create(district=k.district, year=2016, name=metric, target=1, unit="-", metric=metric)
    # A goal is no tracked row: its write has the goals' figures rebuilt by the next reader.
    summaries.flush()
    assert summaries.markers([goal_summaries.NAME]) == {}
    assert consistent(k, 2016)[Metric.LAND_TRANSFER]["value"] == D("500.00")
    assert set(GoalFigures.objects.values_list("year", flat=True)) == {2016, 2017}
    consistent(k)


def test_a_bulk_update_no_signal_explains_rebuilds_them(k):
    Household.objects.filter(pk=k.hb.pk).update(status=Household.Status.EXITED, exit_year=2016)
    summaries.flush()
    assert summaries.markers([goal_summaries.NAME]) == {}
    assert consistent(k)[Metric.INCOME_RISE]["value"] == D("1000.00")


def test_goal_figures_cost_the_same_queries_whatever_the_data(k, django_assert_num_queries):
    rows = goal_rows(2017)
    district = scopes(k)[0]
    # The sums (the marker, found whole by settle() in this test's transaction, is not asked again).
    with django_assert_num_queries(1):
        small = figures.goal_figures(district, 2017, rows)
    for township in (k.township_a, k.village_b.township):
        villages = factories.populate(township, villages=4, households=3)
        for village in villages:
            BusinessEntity.objects.create(
                village=village, name="合作社", kind="other", registered_on=datetime.date(2017, 2, 2)
            )
    factories.settle()
    with django_assert_num_queries(1):
        large = figures.goal_figures(district, 2017, rows)
    assert large[Metric.BUSINESS_ENTITIES]["value"] == small[Metric.BUSINESS_ENTITIES]["value"] + 8
    consistent(k)
    # No goal measured from the data: no query at all.
    with django_assert_num_queries(0):
        assert figures.goal_figures(district, 2017, [g for g in rows if g.metric not in figures.GOAL_METRICS]) == {}
