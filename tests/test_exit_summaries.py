"""The exit verdicts kept by the writes (tasks/exit_summaries.py): after every kind of write that changes a village's
一低七有 — a road row finished or withdrawn, an assessment or an override, households lifted out of poverty, the
collective income, the planned exit year, an indicator added, a bulk write no signal explains — the dashboard's
一低七有 block equals villages.exit_criteria.judge counted directly over the villages planned to exit, and the stored
verdicts equal a fresh judgement (``summaries.verify``). The block reads them in a fixed number of queries.
"""

import datetime
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from rest_framework.test import APIClient

from bazhou.core import summaries
from bazhou.surfaces import dashboard
from households.models import Household
from tasks import exit_summaries, services
from tasks.models import Task
from tests import factories
from tests.test_admin import post_back, shown_values
from villages import exit_criteria
from villages.models import ExitFigures, ExitIndicator, Village

pytestmark = pytest.mark.usefixtures("pinned_today")

TODAY = datetime.date(2017, 9, 15)
NAME = exit_summaries.NAME


@pytest.fixture
def world(area):
    """The 2017 indicators (the incidence below 3 %, the collective income, a road from the plan rows, a telecom
    network people assess); 茅垭村 (township A, planned to exit in 2017) with 100 registered people, its household's
    3 poor people (3 %: not below) and a road row in progress; 大寺村 (B, 2017) with a collective income and its
    household lifted out already; 百花村 (A) is not poor. The verdicts are built whole at the end."""

    class World:
        incidence = factories.exit_indicator(2017, "incidence", "贫困发生率低于3%", threshold=Decimal("3"), order=1)
        income = factories.exit_indicator(
            2017, "collective_income", "有集体经济收入", source=ExitIndicator.Source.COLLECTIVE_INCOME, order=2
        )
        road = factories.exit_indicator(
            2017, "road", "有硬化路", source=ExitIndicator.Source.PLAN_ROWS, task_category="road", order=3
        )
        telecom = factories.exit_indicator(2017, "telecom", "有通信网络", order=4)
        plan_a = factories.plan(area.village_a, 2017)
        road_row = factories.task(plan_a, item="通村硬化路", status=Task.Status.IN_PROGRESS, progress=80)

    Village.objects.filter(pk=area.village_a.pk).update(registered_population=100)
    Village.objects.filter(pk=area.village_b.pk).update(registered_population=80, collective_income=Decimal("2.5"))
    Household.objects.filter(pk=area.household_b.pk).update(status=Household.Status.EXITED, exit_year=2017)
    factories.settle()
    assert set(summaries.markers([NAME])) == {NAME}
    return World


def judged_block(villages, year: int) -> dict:
    """The 一低七有 block counted straight from villages.exit_criteria.judge over ``villages`` (the rule itself)."""
    judged = exit_criteria.judge(villages, year)
    rows = {}
    for judgements in judged.values():
        for code, j in judgements.items():
            row = rows.setdefault(
                code,
                {
                    "indicator": j.indicator,
                    "name": j.name,
                    "source": j.source_label,
                    "met": 0,
                    "overridden": 0,
                    "computed": j.derived,
                },
            )
            row["met"] += j.met
            row["overridden"] += j.overridden
    total = len(judged)
    result = sorted(rows.values(), key=lambda r: (r["indicator"].order, r["indicator"].code))
    for row in result:
        row["not_met"] = total - row["met"]
    return {"total": total, "indicators": result}


def scopes(area):
    return [
        (dashboard.Scope(district=area.district), {"township__district": area.district}),
        (dashboard.Scope(district=area.district, township=area.township_a), {"township": area.township_a}),
        (dashboard.Scope(district=area.district, township=area.township_b), {"township": area.township_b}),
        (
            dashboard.Scope(district=area.district, township=area.township_a, village=area.village_a),
            {"pk": area.village_a.pk},
        ),
    ]


def consistent(area, years=(2017, 2018)):
    """The stored verdicts equal a fresh judgement, and the dashboard's block equals the judge's counts in every
    scope."""
    assert summaries.verify(TODAY) == []
    for year in years:
        for scope, inside in scopes(area):
            villages = Village.objects.filter(**inside).planned_to_exit(year)
            assert dashboard.village_readiness(scope, year) == judged_block(villages, year), (scope.title, year)


def met(area, code: str, year: int = 2017) -> tuple[int, int, int]:
    """(villages planned to exit, meeting ``code``, decided by an override) in the district as the dashboard shows."""
    block = dashboard.village_readiness(dashboard.Scope(district=area.district), year)
    row = next((r for r in block["indicators"] if r["indicator"].code == code), None)
    return (block["total"], row["met"], row["overridden"]) if row else (block["total"], 0, 0)


def kept():
    """The write refreshed its villages (flushed as at commit, the verdicts' marker is still there)."""
    summaries.flush()
    assert set(summaries.markers([NAME])) == {NAME}, "a write invalidated the exit verdicts"


@pytest.fixture
def root(db):
    return get_user_model().objects.create_superuser(username="root", password="pw-for-tests-2017")


def admin_change(client, obj, **changed):
    url = reverse(f"admin:villages_{obj._meta.model_name}_change", args=[obj.pk])
    page = client.get(url)
    assert page.status_code == 200
    return post_back(client, url, {**shown_values(page), **changed}, page)


# ---------------------------------------------------------------------------------------------
# The plan rows: 有硬化路
# ---------------------------------------------------------------------------------------------


def test_the_verdicts_start_as_the_judge_says(area, world):
    consistent(area)
    assert met(area, "incidence") == (2, 1, 0)  # 大寺村: nobody poor; 茅垭村: 3 %
    assert met(area, "collective_income") == (2, 1, 0)
    assert met(area, "road") == (2, 0, 0)
    # Rows only for the villages planned to exit, one per indicator of their year.
    assert ExitFigures.objects.count() == 8
    assert not ExitFigures.objects.filter(village=area.village_a2).exists()


def test_a_road_row_finished_on_its_page_then_withdrawn_flips_the_road(client, area, personas, world):
    client.force_login(personas.village_cadre)
    row = world.road_row
    report = {
        "_submission": "8c6b2f0e-5f0b-4b83-9a55-3d1f8d7a7d01",
        "version": row.version,
        "reported_on": "2017-09-14",
        "progress": 100,
        "status": "done",
        "invested_funds": "95",
        "note": "路面硬化完成",
    }
    assert client.post(reverse("tasks:task_progress", args=[row.pk]), report).status_code == 302
    kept()
    assert met(area, "road") == (2, 1, 0)
    consistent(area)

    row.refresh_from_db()
    client.force_login(personas.township_a)
    response = client.post(reverse("tasks:task_remove", args=[row.pk]), {"version": row.version, "reason": "重复"})
    assert response.status_code == 302
    kept()
    assert met(area, "road") == (2, 0, 0)
    consistent(area)


def test_a_road_row_finished_by_the_service_and_by_a_bulk_update_of_rows_flips_the_road(area, personas, world):
    services.task_complete(task_id=world.road_row.pk, user=personas.township_a, expected_version=1)
    kept()
    assert met(area, "road") == (2, 1, 0)
    consistent(area)

    # The import's bulk update names its rows to the plan figures' keeper; the verdicts follow it.
    road_b = factories.task(factories.plan(area.village_b, 2017), item="大寺村道路", status=Task.Status.IN_PROGRESS)
    kept()
    data = {"status": Task.Status.DONE, "progress": 100, "completed_on": TODAY}
    services.task_update_many(user=personas.district_admin, rows=[(road_b.pk, road_b.version, data, None)])
    kept()
    assert Task.objects.get(pk=road_b.pk).is_done
    assert met(area, "road") == (2, 2, 0)
    consistent(area)


def test_a_road_finished_in_an_earlier_years_plan_counts(area, world):
    factories.done_task(factories.plan(area.village_b, 2016), category="road", completed_on=datetime.date(2016, 9, 1))
    kept()
    assert met(area, "road") == (2, 1, 0)
    consistent(area)


# ---------------------------------------------------------------------------------------------
# Assessments and overrides
# ---------------------------------------------------------------------------------------------


def test_an_assessment_and_an_override_with_its_reason_count(client, area, world, root):
    assessment = factories.village_indicator(area.village_a, world.telecom, met=True, evidence="4G 信号覆盖")
    kept()
    assert met(area, "telecom") == (2, 1, 0)
    consistent(area)

    client.force_login(root)
    url = reverse("admin:villages_villageindicator_add")
    page = client.get(url)
    data = {
        **shown_values(page),
        "village": str(area.village_b.pk),
        "indicator": str(world.road.pk),
        "met": "on",
        "overridden": "on",
        "override_reason": "规划前已通硬化路",
        "evidence": "2016年交通局验收单",
        "change_reason": "核查",
    }
    post_back(client, url, data, page)
    kept()
    assert met(area, "road") == (2, 1, 1)
    consistent(area)

    # The assessment changed back to 未达标 in the admin: counted so.
    admin_change(client, assessment, met="", change_reason="复查信号不稳定")
    kept()
    assert met(area, "telecom") == (2, 0, 0)
    consistent(area)


# ---------------------------------------------------------------------------------------------
# The registry and the village: 一低, the collective income, the planned exit year
# ---------------------------------------------------------------------------------------------


def test_households_lifted_out_of_poverty_flip_the_incidence(area, personas, world):
    client = APIClient()
    client.force_login(personas.township_a)
    household = area.household_a
    response = client.patch(
        f"/api/v1/households/{household.pk}/",
        {"status": "exited", "exit_year": 2017},
        format="json",
        HTTP_IF_MATCH='"1"',
    )
    assert response.status_code == 200, response.json()
    kept()
    assert met(area, "incidence") == (2, 2, 0)
    consistent(area)

    # A new poor household of 4 in 茅垭村 (4 %): not below 3 % again.
    factories.household(area.village_a, members=4)
    kept()
    assert met(area, "incidence") == (2, 1, 0)
    consistent(area)


def test_the_collective_income_and_the_population_changed_in_the_admin(client, area, world, root):
    client.force_login(root)
    admin_change(client, area.village_a, collective_income="1.2", change_reason="2017年集体经济收入核实")
    kept()
    assert met(area, "collective_income") == (2, 2, 0)
    consistent(area)

    village = Village.objects.get(pk=area.village_a.pk)
    admin_change(client, village, registered_population="120", change_reason="2017年户籍核对")  # 2.5 %
    kept()
    assert met(area, "incidence") == (2, 2, 0)
    consistent(area)


def test_a_village_whose_planned_exit_year_changes_moves_to_that_years_block(client, area, world, root):
    factories.exit_indicator(2018, "incidence", "贫困发生率低于3%", threshold=Decimal("3"))
    summaries.flush()
    assert not summaries.markers([NAME])  # an indicator is not tracked: its write has the verdicts rebuilt
    consistent(area)
    client.force_login(root)
    admin_change(client, area.village_b, planned_exit_year="2018", change_reason="调整退出计划")
    kept()
    assert met(area, "incidence", 2017) == (1, 0, 0)
    assert met(area, "incidence", 2018) == (1, 1, 0)
    assert not ExitFigures.objects.filter(village=area.village_b, year=2017).exists()
    consistent(area)

    # No longer planned to exit at all: it loses its verdicts.
    village = Village.objects.get(pk=area.village_b.pk)
    admin_change(client, village, status=Village.Status.POOR, planned_exit_year="", change_reason="暂缓退出")
    kept()
    assert met(area, "incidence", 2018) == (0, 0, 0)
    assert not ExitFigures.objects.filter(village=area.village_b).exists()
    consistent(area)


# ---------------------------------------------------------------------------------------------
# Writes no signal explains
# ---------------------------------------------------------------------------------------------


def test_an_indicator_added_for_the_year_rebuilds_the_verdicts(area, world):
    factories.exit_indicator(
        2017, "clinic", "有卫生室", source=ExitIndicator.Source.PLAN_ROWS, task_category="clinic", order=5
    )
    summaries.flush()
    assert not summaries.markers([NAME])
    assert met(area, "clinic") == (2, 0, 0)
    assert set(summaries.markers([NAME])) == {NAME}  # the reader rebuilt them
    consistent(area)
    block = dashboard.village_readiness(dashboard.Scope(district=area.district), 2017)
    codes = [r["indicator"].code for r in block["indicators"]]
    assert codes == ["incidence", "collective_income", "road", "telecom", "clinic"]


def test_a_bulk_update_no_signal_explains_rebuilds_the_verdicts(area, world):
    Task.objects.filter(pk=world.road_row.pk).update(status=Task.Status.DONE, progress=100, completed_on=TODAY)
    summaries.flush()
    assert not summaries.markers([NAME])
    assert met(area, "road") == (2, 1, 0)
    consistent(area)

    Village.objects.filter(pk=area.village_a.pk).update(collective_income=Decimal("3"))
    summaries.flush()
    assert not summaries.markers([NAME])
    assert met(area, "collective_income") == (2, 2, 0)
    consistent(area)


def test_the_command_rebuilds_a_tampered_verdict(area, world):
    from django.core.management import CommandError, call_command

    ExitFigures.objects.filter(village=area.village_a, indicator=world.road).update(met=True)
    with pytest.raises(CommandError):
        call_command("summaries", "--verify")
    call_command("summaries", "--rebuild")
    assert summaries.verify(TODAY) == []
    assert met(area, "road") == (2, 0, 0)


# ---------------------------------------------------------------------------------------------
# Queries
# ---------------------------------------------------------------------------------------------


def test_the_block_takes_the_same_queries_for_two_villages_or_twenty(area, world, django_assert_num_queries):
    # The verdicts' marker, the year's indicators, the verdicts counted by indicator, the villages planned to exit.
    # (A request's transaction asks for the marker once: forget that this test's transaction found it.)
    scope = dashboard.Scope(district=area.district)
    summaries.state().whole.clear()
    with django_assert_num_queries(4):
        assert dashboard.village_readiness(scope, 2017)["total"] == 2
    for village in factories.populate(area.township_a, villages=9) + factories.populate(area.township_b, villages=9):
        factories.done_task(factories.plan(village, 2017), category="road")
    factories.settle()
    summaries.state().whole.clear()
    with django_assert_num_queries(4):
        block = dashboard.village_readiness(scope, 2017)
    assert block["total"] == 20
    assert met(area, "road") == (20, 18, 0)
    consistent(area, years=(2017,))
