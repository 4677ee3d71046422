"""The API of change requests (变更申请): a direct change to an approved plan is refused with a pointer to the
change-request endpoint; a request is asked, listed, approved (never by the requester), rejected or withdrawn, all
within the user's area; the ledger lists the decided ones; the list takes the same queries at 1 and 10 rows."""

import datetime
from decimal import Decimal

import pytest

from bazhou.core.models import Role
from tasks import services
from tasks.models import ChangeRequest, Task
from tests import factories

pytestmark = pytest.mark.usefixtures("pinned_today")
URL = "/api/v1/change-requests/"


@pytest.fixture
def approved(area, personas):
    """茅垭村's approved plan with the village culture room due 2017-08-31 (overdue on 2017-09-15)."""
    plan = factories.plan(area.village_a)
    room = factories.task(plan, item="村文化室", quantity=Decimal("1"), unit="处", deadline=datetime.date(2017, 8, 31))
    services.plan_approve(plan_id=plan.pk, user=personas.district_admin)
    room.refresh_from_db()
    return room


def ask(api, user, task, **fields):
    body = {
        "task": task.pk,
        "task_version": task.version,
        "changes": {"deadline": "2017-12-31"},
        "reason_category": "disaster",
        "reason": "汛期道路中断，材料无法运进",
        **fields,
    }
    return api(user).post(URL, body, format="json")


def test_a_direct_patch_of_an_approved_plans_deadline_is_refused_with_the_way_to_ask(api, personas, approved):
    response = api(personas.village_cadre).patch(
        f"/api/v1/tasks/{approved.pk}/",
        {"deadline": "2017-12-31"},
        format="json",
        HTTP_IF_MATCH=f'"{approved.version}"',
    )
    assert response.status_code == 409
    assert "/api/v1/change-requests/" in response.json()["detail"] and "变更申请" in response.json()["detail"]
    approved.refresh_from_db()
    assert approved.deadline == datetime.date(2017, 8, 31)


def test_progress_stays_a_direct_write_on_an_approved_plan(api, personas, approved):
    response = api(personas.village_cadre).patch(
        f"/api/v1/tasks/{approved.pk}/",
        {"status": "in_progress", "progress": 30},
        format="json",
        HTTP_IF_MATCH=f'"{approved.version}"',
    )
    assert response.status_code == 200, response.json()


def test_asking_leaves_the_row_overdue_and_pending_and_a_second_request_is_refused(api, personas, approved):
    response = ask(api, personas.village_cadre, approved)
    assert response.status_code == 201, response.json()
    data = response.json()
    assert (data["state"], data["kind"], data["changed_fields"]) == ("pending", "change", ["deadline"])
    assert data["before"]["deadline"] == "2017-08-31" and data["after"]["deadline"] == "2017-12-31"
    task = api(personas.village_cadre).get(f"/api/v1/tasks/{approved.pk}/").json()
    assert (task["deadline"], task["overdue"], task["pending_change_request"]) == ("2017-08-31", True, data["id"])
    again = ask(api, personas.township_a, approved)
    assert again.status_code == 400 and "已有一项待审批" in str(again.json())
    assert ChangeRequest.objects.count() == 1


def test_a_stale_task_version_is_a_412_and_nothing_is_asked(api, personas, approved):
    response = ask(api, personas.village_cadre, approved, task_version=approved.version + 5)
    assert response.status_code == 412 and response.json()["current"]["id"] == approved.pk
    assert not ChangeRequest.objects.exists()


def test_the_requester_cannot_approve_and_an_approver_applies_it_keeping_the_baseline(api, area, personas, approved):
    change = ask(api, personas.district_admin, approved).json()
    own = api(personas.district_admin).post(f"{URL}{change['id']}/approve/", HTTP_IF_MATCH=f'"{change["version"]}"')
    assert own.status_code == 403
    township = api(personas.township_a).post(f"{URL}{change['id']}/approve/", HTTP_IF_MATCH=f'"{change["version"]}"')
    assert township.status_code == 403
    other_admin = factories.user(Role.DISTRICT_ADMIN, area.district, username="admin2")
    response = api(other_admin).post(f"{URL}{change['id']}/approve/", HTTP_IF_MATCH=f'"{change["version"]}"')
    assert response.status_code == 200, response.json()
    assert response.json()["state"] == "approved" and response["ETag"] == f'"{response.json()["version"]}"'
    task = api(other_admin).get(f"/api/v1/tasks/{approved.pk}/").json()
    assert (task["deadline"], task["baseline_deadline"], task["change_count"]) == ("2017-12-31", "2017-08-31", 1)
    assert (task["overdue"], task["baseline_overdue"], task["pending_change_request"]) == (False, True, None)
    ledger = api(personas.township_a).get(f"{URL}ledger/").json()["results"]
    assert [r["id"] for r in ledger] == [change["id"]]


def test_a_rejection_needs_a_note_and_changes_nothing(api, area, personas, approved):
    change = ask(api, personas.village_cadre, approved).json()
    url, match = f"{URL}{change['id']}/reject/", f'"{change["version"]}"'
    assert api(personas.district_admin).post(url, {}, format="json", HTTP_IF_MATCH=match).status_code == 400
    response = api(personas.district_admin).post(url, {"note": "理由不充分"}, format="json", HTTP_IF_MATCH=match)
    assert response.status_code == 200 and response.json()["state"] == "rejected"
    task = Task.objects.get(pk=approved.pk)
    assert (task.deadline, task.change_count) == (datetime.date(2017, 8, 31), 0)


def test_only_the_requester_withdraws(api, personas, approved):
    change = ask(api, personas.village_cadre, approved).json()
    url, match = f"{URL}{change['id']}/withdraw/", f'"{change["version"]}"'
    assert api(personas.township_a).post(url, HTTP_IF_MATCH=match).status_code == 403
    response = api(personas.village_cadre).post(url, HTTP_IF_MATCH=match)
    assert response.status_code == 200 and response.json()["state"] == "withdrawn"


def test_another_areas_requests_are_not_there(api, area, personas, approved):
    change = ask(api, personas.village_cadre, approved).json()
    other = api(personas.township_b)
    assert other.get(f"{URL}{change['id']}/").status_code == 404
    assert other.get(URL).json()["results"] == []
    assert other.post(f"{URL}{change['id']}/withdraw/", HTTP_IF_MATCH='"1"').status_code == 404
    assert ask(api, personas.township_b, approved).status_code == 400  # the task is "不存在" for them
    assert ChangeRequest.objects.count() == 1


def test_the_pending_list_filters_by_township_village_kind_and_age(api, area, personas, approved):
    change = ask(api, personas.village_cadre, approved).json()
    admin = api(personas.district_admin)

    def listed(**params):
        return [r["id"] for r in admin.get(URL, {"state": "pending", **params}).json()["results"]]

    assert listed() == [change["id"]]
    assert listed(township=area.township_a.pk) == [change["id"]] and listed(township=area.township_b.pk) == []
    assert listed(village=area.village_a.pk) == [change["id"]] and listed(village=area.village_a2.pk) == []
    assert listed(kind="change") == [change["id"]] and listed(kind="add") == []
    assert listed(min_age=0) == [change["id"]] and listed(min_age=3) == []
    assert admin.get(URL, {"min_age": -1}).status_code == 400


def test_a_new_row_is_asked_for_on_the_plan(api, personas, approved):
    body = {
        "plan": approved.plan_id,
        "kind": "add",
        "changes": {"category": "road", "item": "联户路", "deadline": "2017-11-30", "planned_funds": "12"},
        "reason_category": "wishes",
        "reason": "群众要求",
    }
    response = api(personas.village_cadre).post(URL, body, format="json")
    assert response.status_code == 201, response.json()
    assert (response.json()["kind"], response.json()["task"]) == ("add", None)
    assert not Task.objects.filter(item="联户路").exists()


@pytest.mark.parametrize("copies", [1, 10])
def test_the_list_takes_the_same_queries_at_1_and_10_rows(api, area, personas, copies, django_assert_num_queries):
    plan = factories.plan(area.village_a)
    tasks = [factories.task(plan, item=f"任务{n}") for n in range(copies)]
    services.plan_approve(plan_id=plan.pk, user=personas.district_admin)
    for task in tasks:
        task.refresh_from_db()
        assert ask(api, personas.village_cadre, task).status_code == 201
    client = api(personas.district_admin)
    client.get(URL)
    with django_assert_num_queries(5):  # the same at 1 and 10 rows: the requests are one query with their relations
        results = client.get(URL, {"page_size": 100}).json()["results"]
    assert len(results) == copies


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["99999999999999999999999", "²", "-1", "x"])
def test_an_odd_village_filter_is_a_400_not_a_server_error(api, personas, value):
    assert api(personas.district_admin).get("/api/v1/change-requests/", {"village": value}).status_code == 400
