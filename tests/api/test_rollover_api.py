"""POST /api/v1/plans/{id}/rollover/ (结转): carries a plan's unfinished rows into next year's plan, answers what was
carried or requested, and refuses bad input in the API's one error shape, changing nothing; rows show their origin."""

import datetime
from decimal import Decimal

import pytest
from drf_spectacular.generators import SchemaGenerator

from tasks import services
from tasks.models import ChangeRequest, Plan, Task
from tests import factories

pytestmark = pytest.mark.usefixtures("pinned_today")
REASON = "资金未到位，顺延到下一年度"


@pytest.fixture
def plan(area):
    plan = factories.plan(area.village_a, 2017)
    road = factories.task(
        plan,
        item="通村硬化路",
        status="in_progress",
        progress=50,
        invested_funds=Decimal("30"),
        planned_funds=Decimal("100"),
    )
    factories.fund_line(road, "central", Decimal("100"))
    factories.task(plan, area.household_a, item="养羊 5 只", category="industry", planned_funds=Decimal("0.6"))
    factories.done_task(plan, item="村卫生室")
    return plan


def url(plan):
    return f"/api/v1/plans/{plan.pk}/rollover/"


def test_a_rollover_answers_what_it_carried_and_rows_show_their_origin(api, personas, plan):
    client = api(personas.village_cadre)
    response = client.post(url(plan), {"reason": REASON}, format="json")

    assert response.status_code == 200, response.content.decode()
    body = response.json()
    target = Plan.objects.get(year=2018)
    assert (body["plan"], body["target_year"], body["target_plan"], body["target_state"]) == (
        plan.pk,
        2018,
        target.pk,
        "draft",
    )
    assert len(body["created"]) == 2 and body["change_requests"] == [] and body["skipped"] == []
    assert body["message"] == "已将 2 项未完成任务结转到2018年施工图（草稿）。"
    row = client.get(f"/api/v1/tasks/{body['created'][0]}/").json()
    origin = Task.objects.get(item="通村硬化路", plan=plan)
    assert (row["carried_from"], row["carry_reason"], row["planned_funds"]) == (origin.pk, REASON, "70.0000")
    assert row["fund_lines"] == [{"source": "central", "source_display": "中央财政专项扶贫资金", "amount": "70.0000"}]

    again = client.post(url(plan), {"reason": REASON}, format="json").json()
    assert again["created"] == [] and len(again["skipped"]) == 2
    assert Task.objects.filter(carried_from__isnull=False).count() == 2


def test_an_approved_target_answers_the_change_requests(api, area, personas, plan):
    target = factories.plan(area.village_a, 2018)
    factories.task(target, item="新建活动室", deadline=datetime.date(2018, 9, 30))
    services.plan_approve(plan_id=target.pk, user=personas.district_admin)
    road = Task.objects.get(item="通村硬化路", plan=plan)

    body = api(personas.village_cadre).post(url(plan), {"reason": REASON, "tasks": [road.pk]}, format="json").json()

    (request_id,) = body["change_requests"]
    request = ChangeRequest.objects.get(pk=request_id)
    assert (request.kind, request.state, request.carried_from_id) == ("add", "pending", road.pk)
    assert body["created"] == [] and body["target_state"] == "approved"


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({}, "reason", "请填写结转原因。"),
        ({"reason": ""}, "reason", "请填写结转原因。"),
        ({"reason": REASON, "tasks": ["x"]}, "tasks", "任务 id 应为整数。"),
        ({"reason": REASON, "tasks": []}, "tasks", "请至少选择一项要结转的任务。"),
        ({"reason": REASON, "version": 3}, "version", None),
    ],
)
def test_bad_input_is_a_400_in_the_error_shape_and_changes_nothing(api, personas, plan, body, field, message):
    response = api(personas.village_cadre).post(url(plan), body, format="json")
    assert response.status_code == 400, response.content.decode()
    text = response.content.decode()
    assert field in text
    if message:
        assert message in text
    assert not Plan.objects.filter(year=2018).exists()


def test_done_and_foreign_rows_are_named(api, area, personas, plan):
    done = Task.objects.get(item="村卫生室")
    foreign = factories.task(factories.plan(area.village_b), item="别村的路")
    response = api(personas.village_cadre).post(
        url(plan), {"reason": REASON, "tasks": [done.pk, foreign.pk]}, format="json"
    )
    assert response.status_code == 400
    text = response.content.decode()
    assert f"“村卫生室”（#{done.pk}）已完成，不需要结转。" in text
    assert f"任务 #{foreign.pk} 不是本施工图的任务" in text
    assert not Task.objects.filter(carried_from__isnull=False).exists()


def test_another_village_gets_404_and_a_read_only_role_403(api, area, personas, plan):
    other = factories.user("village_cadre", area.village_b, username="dasi")
    assert api(other).post(url(plan), {"reason": REASON}, format="json").status_code == 404
    response = api(personas.leader).post(url(plan), {"reason": REASON}, format="json")
    assert response.status_code == 403 and "只能查看" in response.content.decode()
    assert not Plan.objects.filter(year=2018).exists()


def test_the_rollover_is_in_the_schema():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"]["/api/v1/plans/{id}/rollover/"]["post"]
    assert operation["summary"].startswith("结转")
    assert {"200", "400", "403", "404"} <= set(operation["responses"])
