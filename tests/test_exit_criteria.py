"""Village exit (一低七有) judged from the data (villages.exit_criteria): each derived criterion at its boundary, the
override that needs a reason and evidence, and every surface saying the same (the village page, the dashboard, the
API, the exit-decision alerts)."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from bazhou.surfaces.dashboard import Scope, compute
from households.decisions import village_states
from tasks import services
from tasks.models import Task
from tests import factories
from villages import exit_criteria
from villages.models import ExitIndicator, VillageIndicator

pytestmark = pytest.mark.usefixtures("pinned_today")
TODAY = datetime.date(2017, 9, 15)


@pytest.fixture
def criteria(area):
    """The 2017 indicators: 一低 from the registry, the collective income, a road and a clinic from the plan rows, and
    a telecom network people assess."""

    class Criteria:
        incidence = factories.exit_indicator(2017, "incidence", "贫困发生率低于3%", threshold=Decimal("3"), order=1)
        income = factories.exit_indicator(
            2017, "collective_income", "有集体经济收入", source=ExitIndicator.Source.COLLECTIVE_INCOME, order=2
        )
        road = factories.exit_indicator(
            2017, "road", "有硬化路", source=ExitIndicator.Source.PLAN_ROWS, task_category="road", order=3
        )
        clinic = factories.exit_indicator(
            2017, "clinic", "有卫生室", source=ExitIndicator.Source.PLAN_ROWS, task_category="clinic", order=4
        )
        telecom = factories.exit_indicator(2017, "telecom", "有通信网络", order=5)

    return Criteria


def judged(village, code, year=2017):
    return exit_criteria.judge([village.pk], year)[village.pk][code]


# ---------------------------------------------------------------------------------------------
# Each derived criterion at its boundary
# ---------------------------------------------------------------------------------------------


def test_a_road_is_met_only_by_a_done_live_village_row_of_its_category(area, criteria):
    village = area.village_a
    plan = factories.plan(village, 2017)
    assert not judged(village, "road").met  # nothing planned
    assert "没有已完成的村级“道路”任务" in judged(village, "road").text

    row = factories.task(plan, category="road", status=Task.Status.IN_PROGRESS, progress=60)
    assert not judged(village, "road").met  # planned, not finished
    factories.done_task(plan, category="clinic", item="村卫生室")
    assert not judged(village, "road").met  # another category's row delivers another indicator
    assert judged(village, "clinic").met
    factories.done_task(plan, household_obj=area.household_a, category="road", item="入户路")
    assert not judged(village, "road").met  # a household's row is not the village's road

    Task.objects.filter(pk=row.pk).update(status=Task.Status.DONE, progress=100, completed_on=TODAY)
    road = judged(village, "road")
    assert road.met and road.derived and not road.overridden
    assert road.text == "施工图任务“通村硬化路”已完成，2017-09-15完成"
    assert road.url == reverse("tasks:task_detail", args=[row.pk])

    Task.objects.filter(pk=row.pk).update(is_removed=True, removed_reason="重复")
    assert not judged(village, "road").met  # a withdrawn row delivers nothing


def test_a_road_finished_in_an_earlier_year_counts_and_one_planned_for_a_later_year_does_not(area, criteria):
    village = area.village_a
    factories.done_task(factories.plan(village, 2018), category="road", completed_on=TODAY)
    assert not judged(village, "road").met  # the 2018 plan's road does not deliver 2017's criterion
    factories.done_task(factories.plan(village, 2016), category="road", completed_on=datetime.date(2016, 10, 1))
    assert judged(village, "road").met


def test_the_collective_income_is_met_above_zero(area, criteria):
    village = area.village_a
    village.collective_income = Decimal("0")
    village.save()
    assert not judged(village, "collective_income").met
    village.collective_income = Decimal("0.0001")  # 1 元
    village.save()
    income = judged(village, "collective_income")
    assert income.met and income.text == "集体经济收入 0.0001 万元"


def test_an_indicator_people_judge_counts_the_assessment_and_none_is_not_met(area, criteria):
    village = area.village_a
    telecom = judged(village, "telecom")
    assert (telecom.met, telecom.derived, telecom.text) == (False, False, "未核查")
    factories.village_indicator(village, criteria.telecom, met=True, evidence="4G 信号覆盖")
    assert judged(village, "telecom").met


def test_an_assessment_of_a_derived_criterion_counts_only_as_an_override(area, criteria):
    village = area.village_a
    # Someone ticks 达标 without overriding: the data still judges (no finished road row).
    assessment = factories.village_indicator(village, criteria.road, met=True, evidence="看过")
    assert not judged(village, "road").met

    assessment.overridden, assessment.override_reason = True, "规划前已通硬化路"
    assessment.evidence = "2016年交通局验收单"
    assessment.full_clean()
    assessment.save()
    road = judged(village, "road")
    assert (road.met, road.derived_met, road.overridden) == (True, False, True)
    assert road.text.startswith("人工改判为达标：规划前已通硬化路（数据判定：未达标，")

    # An override may also say 未达标 where a row was marked done by mistake.
    factories.done_task(factories.plan(village, 2017), category="clinic")
    factories.village_indicator(
        village,
        criteria.clinic,
        met=False,
        overridden=True,
        override_reason="卫生室未通过验收",
        evidence="区卫健局复查意见",
    )
    clinic = judged(village, "clinic")
    assert (clinic.met, clinic.derived_met) == (False, True)
    assert assessment.history.filter(overridden=True).exists()  # the override is in the record's history


def test_an_override_needs_a_reason_and_evidence(area, criteria):
    override = VillageIndicator(village=area.village_a, indicator=criteria.road, met=True, overridden=True)
    errors = factories.clean_errors(override)
    assert errors["override_reason"] == ["人工改判须填写改判理由。"]
    assert errors["evidence"] == ["人工改判须填写佐证说明。"]
    override.override_reason, override.evidence = "\u200b ", "照片"
    assert factories.clean_errors(override)["override_reason"] == ["人工改判须填写改判理由。"]
    with factories.refused_by_database(VillageIndicator, "village_indicator_override_has_reason"):
        VillageIndicator.objects.create(village=area.village_a, indicator=criteria.road, met=True, overridden=True)


def test_an_indicator_judged_by_plan_rows_names_its_category(db):
    indicator = ExitIndicator(year=2017, code="road", name="有硬化路", source=ExitIndicator.Source.PLAN_ROWS)
    assert factories.clean_errors(indicator)["task_category"] == ["判定依据为“施工图任务”的指标须填写对应任务类别。"]
    indicator = ExitIndicator(year=2017, code="low", name="贫困发生率", source=ExitIndicator.Source.INCIDENCE)
    assert factories.clean_errors(indicator)["threshold"] == ["判定依据为“贫困发生率”的指标须填写阈值。"]


def test_judging_many_villages_takes_a_fixed_number_of_queries(area, criteria, django_assert_num_queries):
    villages = [factories.poor_village(area.township_a) for _ in range(2)]
    factories.settle()
    # indicators, villages, assessments, the incidence (the poor people the writes keep per village), the plan rows
    with django_assert_num_queries(5):
        exit_criteria.judge([v.pk for v in villages], 2017)
    for _ in range(8):
        village = factories.poor_village(area.township_a)
        factories.done_task(factories.plan(village, 2017), category="road")
        villages.append(village)
    factories.settle()
    with django_assert_num_queries(5):
        result = exit_criteria.judge([v.pk for v in villages], 2017)
    assert sum(result[v.pk]["road"].met for v in villages) == 8


# ---------------------------------------------------------------------------------------------
# Every surface says the same
# ---------------------------------------------------------------------------------------------


def test_finishing_the_road_row_flips_the_criterion_on_every_surface(client, area, personas, criteria):
    village = area.village_a  # planned to exit in 2017
    plan = factories.plan(village, 2017)
    row = factories.task(plan, category="road", status=Task.Status.IN_PROGRESS, progress=90)

    def road_on_dashboard():
        readiness = compute(Scope(district=area.district), TODAY)["village_readiness"]
        return next(r["met"] for r in readiness["indicators"] if r["indicator"].code == "road")

    def road_on_page():
        client.force_login(personas.district_admin)
        page = client.get(reverse("villages:detail", args=[village.pk]))
        return next(j for j in page.context["indicators"] if j.code == "road").met

    def road_in_api():
        client.force_login(personas.district_admin)
        answer = client.get(f"/api/v1/villages/{village.pk}/exit-criteria/").json()
        return next(c for c in answer if c["code"] == "road")

    assert (road_on_dashboard(), road_on_page(), road_in_api()["met"]) == (0, False, False)
    assert not village_states([village.pk], 2017)[village.pk]["road"].met

    services.task_complete(task_id=row.pk, user=personas.township_a, expected_version=row.version)

    assert (road_on_dashboard(), road_on_page()) == (1, True)
    api = road_in_api()
    assert (api["met"], api["derived"], api["source"], api["url"]) == (
        True,
        True,
        "plan_rows",
        reverse("tasks:task_detail", args=[row.pk]),
    )
    assert village_states([village.pk], 2017)[village.pk]["road"].met
    # The dashboard as stored (CachedFigures) follows the edit too: its 一低七有 part reads the plan rows.
    client.force_login(personas.leader)
    page = client.get(reverse("dashboard"))
    assert next(r["met"] for r in page.context["village_readiness"]["indicators"] if r["name"] == "有硬化路") == 1


def test_the_village_page_shows_the_source_the_row_and_the_override(client, area, personas, criteria):
    village = area.village_a
    row = factories.done_task(factories.plan(village, 2017), category="road")
    factories.village_indicator(
        village, criteria.clinic, met=True, overridden=True, override_reason="原已建成", evidence="验收照片"
    )
    client.force_login(personas.village_cadre)
    page = client.get(reverse("villages:detail", args=[village.pk])).content.decode()
    road = page[page.index('data-indicator="road"') :][:1500]
    assert "按施工图任务完成情况" in road and reverse("tasks:task_detail", args=[row.pk]) in road and "达标" in road
    clinic = page[page.index('data-indicator="clinic"') :][:1500]
    assert "人工改判" in clinic and "原已建成" in clinic and "佐证：验收照片" in clinic


def test_the_exit_criteria_api_refuses_a_bad_year_and_hides_other_areas(client, area, personas, criteria):
    client.force_login(personas.township_b)
    assert client.get(f"/api/v1/villages/{area.village_a.pk}/exit-criteria/").status_code == 404
    client.force_login(personas.township_a)
    answer = client.get(f"/api/v1/villages/{area.village_a.pk}/exit-criteria/?year=20x7")
    assert answer.status_code == 400
    assert answer.json()["errors"] == {"year": ["“year”应为 2000–2100 之间的四位年份。"]}
    assert client.get(f"/api/v1/villages/{area.village_a.pk}/exit-criteria/?year=2016").json() == []


def test_the_admin_offers_the_plan_categories_for_an_indicator(client, db):
    from django.contrib.auth import get_user_model

    root = get_user_model().objects.create_superuser(username="root", password="pw-for-tests-2017")
    client.force_login(root)
    url = reverse("admin:villages_exitindicator_add")
    data = {"year": 2017, "code": "road", "name": "有硬化路", "order": 1, "source": "plan_rows"}
    page = client.post(url, {**data, "task_category": "roads"})
    assert page.status_code == 200 and "roads" in str(page.context["adminform"].form.errors["task_category"])
    page = client.post(url, {**data, "task_category": ""})
    assert "判定依据为“施工图任务”的指标须填写对应任务类别。" in str(page.context["adminform"].form.errors)
    assert client.post(url, {**data, "task_category": "road"}).status_code == 302
    assert ExitIndicator.objects.get(code="road").task_category == "road"


def test_the_migration_mapping_and_the_demo_agree(db):
    """The demo's indicators are judged as villages migration 0004 maps existing ones (docs/exit-criteria.md)."""
    from bazhou.surfaces.demo.builder import indicator_source

    assert indicator_source("incidence", Decimal("3")) == {"source": "incidence"}
    assert indicator_source("collective_income", None) == {"source": "collective_income"}
    assert indicator_source("water", None) == {"source": "plan_rows", "task_category": "water"}
    with pytest.raises(ValidationError):
        ExitIndicator(year=2017, code="x", name="x", source="plan_rows").full_clean()


def test_finishing_or_withdrawing_a_village_row_that_flips_a_criterion_raises_an_exit_decision_alert(
    area, personas, criteria
):
    from households.models import DecisionAlert

    village = area.village_a
    plan = factories.plan(village, 2017)
    road = factories.task(plan, category="road", status=Task.Status.IN_PROGRESS, progress=90)
    household_road = factories.task(plan, household_obj=area.household_a, category="road", item="入户路")
    services.task_complete(task_id=household_road.pk, user=personas.township_a, expected_version=household_road.version)
    assert not DecisionAlert.objects.exists()  # a household's row delivers no village criterion

    services.task_complete(task_id=road.pk, user=personas.township_a, expected_version=road.version)
    alert = DecisionAlert.objects.get()
    assert (alert.village, alert.criterion, alert.source, alert.met_after) == (village, "road", "plan_row", True)
    assert alert.after == "施工图任务“通村硬化路”已完成，2017-09-15完成"
    assert alert.changed_by == personas.township_a

    # A second done road row changes nothing: the criterion was already met.
    second = factories.task(plan, category="road", item="通组路", status=Task.Status.IN_PROGRESS)
    services.progress_record(
        task_id=second.pk,
        user=personas.township_a,
        expected_version=second.version,
        progress=100,
        status=Task.Status.DONE,
        invested_funds=Decimal("10"),
        note="完工",
    )
    assert DecisionAlert.objects.count() == 1
