"""Every resource of township A, by its address, as township B's staff sees it: it does not exist (404, the same
answer as for an id that was never used), and the writes that would change it leave it as it was."""

import datetime

import pytest

from households.models import HouseholdIncome
from supervision.models import Finding, Rectification
from tasks.models import Plan, ProgressUpdate, Task
from tests import factories
from tests.api.helpers import if_match, results
from villages.models import AssistanceAssignment, VillageIndicator

pytestmark = pytest.mark.usefixtures("pinned_today")


@pytest.fixture
def township_a_rows(world, area):
    update = ProgressUpdate.objects.create(
        task=world.task_a, reported_on=datetime.date(2017, 9, 1), progress=10, status="in_progress"
    )
    return {
        "townships": area.township_a.pk,
        "villages": area.village_a.pk,
        "village-indicators": VillageIndicator.objects.get(village=area.village_a).pk,
        "assignments": AssistanceAssignment.objects.get(village=area.village_a).pk,
        "households": area.household_a.pk,
        "members": area.household_a.members.first().pk,
        "incomes": HouseholdIncome.objects.get(household=area.household_a).pk,
        "plans": world.plan_a.pk,
        "tasks": world.task_a.pk,
        "progress-updates": update.pk,
        "findings": Finding.objects.get(task=world.task_a).pk,
        "rectifications": Rectification.objects.get(finding__task=world.task_a).pk,
    }


@pytest.mark.parametrize(
    "resource",
    [
        "townships",
        "villages",
        "village-indicators",
        "assignments",
        "households",
        "members",
        "incomes",
        "plans",
        "tasks",
        "progress-updates",
        "findings",
        "rectifications",
    ],
)
def test_a_row_of_another_township_is_404_like_a_row_that_never_existed(api, personas, township_a_rows, resource):
    client = api(personas.township_b)
    missing = "511902399" if resource == "townships" else 999999
    hidden = client.get(f"/api/v1/{resource}/{township_a_rows[resource]}/")
    never = client.get(f"/api/v1/{resource}/{missing}/")
    assert (
        (hidden.status_code, hidden.json())
        == (never.status_code, never.json())
        == (404, {"detail": "未找到。", "code": "not_found", "errors": {}})
    )
    # The owner does see it.
    assert api(personas.township_a).get(f"/api/v1/{resource}/{township_a_rows[resource]}/").status_code == 200
    # And it is not in township B's list either.
    listed = results(client.get(f"/api/v1/{resource}/"))
    assert township_a_rows[resource] not in {row.get("id", row.get("code")) for row in listed}


def test_writes_to_another_townships_rows_are_404_and_change_nothing(api, personas, township_a_rows, world):
    client = api(personas.township_b)
    task = Task.objects.values().get(pk=world.task_a.pk)
    plan = Plan.objects.values().get(pk=world.plan_a.pk)
    rectification = Rectification.objects.values().get(pk=township_a_rows["rectifications"])
    tasks, rects = "/api/v1/tasks/", "/api/v1/rectifications/"
    for method, path, data in [
        ("put", f"{tasks}{world.task_a.pk}/", {"item": "改", "category": "road", "deadline": "2017-12-31"}),
        ("patch", f"{tasks}{world.task_a.pk}/", {"item": "改"}),
        ("post", f"{tasks}{world.task_a.pk}/complete/", {}),
        ("post", f"{tasks}{world.task_a.pk}/remove/", {"reason": "越权撤销"}),
        ("post", f"/api/v1/plans/{world.plan_a.pk}/approve/", {}),
        ("post", f"{rects}{rectification['id']}/start/", {}),
        ("post", f"{rects}{rectification['id']}/answer/", {"result": "越权填报"}),
    ]:
        response = getattr(client, method)(path, data, format="json", **if_match(1))
        assert response.status_code == 404, (path, response.json())
    assert Task.objects.values().get(pk=world.task_a.pk) == task
    assert Plan.objects.values().get(pk=world.plan_a.pk) == plan
    assert Rectification.objects.values().get(pk=rectification["id"]) == rectification


def test_a_new_row_cannot_name_a_household_of_another_township(api, personas, world, area):
    response = api(personas.township_b).post(
        "/api/v1/tasks/",
        {
            "plan": world.plan_b.pk,
            "household": area.household_a.pk,
            "category": "housing",
            "item": "危房改造",
            "deadline": "2017-12-31",
        },
        format="json",
    )
    assert response.status_code == 400 and response.json()["errors"] == {"household": ["该户不存在。"]}
    assert not Task.objects.filter(item="危房改造", plan=world.plan_b).exists()


def test_a_finding_against_another_areas_row_is_refused_as_if_it_did_not_exist(api, personas, world, area):
    other = factories.user("supervisor", factories.district("511903", "恩阳区"))
    response = api(other).post(
        "/api/v1/findings/",
        {
            "village": area.village_a.pk,
            "type": "records",
            "description": "越界",
            "found_on": "2017-09-01",
            "rectification": {"requirement": "整改"},
        },
        format="json",
    )
    assert response.status_code == 400 and response.json()["errors"] == {"village": ["该村不存在。"]}
