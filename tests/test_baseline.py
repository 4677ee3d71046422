"""The approved baseline (原定) stays visible, and "overdue against the original deadline" (原定逾期 / 延期完成) is
counted on its boundary on every surface that shows it.

A row's baseline is set when its plan is approved (and by an approved request adding a row); a change request moves
the current deadline, never the baseline. A live row is 原定逾期 from the day after its baseline deadline until it
is completed, and stays so (延期完成) if it was completed after that day, whatever its current deadline says.
"""

import datetime
import json
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from supervision import bulletin_services
from tasks import services
from tasks.exports import KEYS
from tasks.models import ChangeRequest, Plan, Task, baseline_overdue_q, is_baseline_overdue_values
from tests import factories
from tests.excel.helpers import body, calamine_rows
from tests.jobs import get_file

pytestmark = pytest.mark.usefixtures("pinned_today")

TODAY = datetime.date(2017, 9, 15)
DAY = datetime.timedelta(days=1)
LATER = TODAY + 30 * DAY
BOUNDARY_DAYS = pytest.mark.parametrize("day", [TODAY, TODAY + DAY], ids=["the-day-itself", "the-day-after"])
SEPTEMBER = {"period_start": datetime.date(2017, 9, 1), "period_end": datetime.date(2017, 9, 30)}

ON_THE_DAY, DAY_LATE, ON_TIME, DONE_LATE, REMOVED, DRAFT_LATE = (
    "原定当天到期、时限已延后",
    "原定过期一天、时限已延后",
    "按原定时限完成",
    "延期完成",
    "已撤销",
    "草稿施工图中过期的任务",
)
BASELINE_OVERDUE_ON = {TODAY: {DAY_LATE, DONE_LATE}, TODAY + DAY: {DAY_LATE, DONE_LATE, ON_THE_DAY}}


def on(settings, day: datetime.date) -> None:
    settings.BAZHOU_TODAY = day.isoformat()


def get(client, user, url, params=None):
    client.force_login(user)
    response = get_file(client, url, params or {})  # an export of more than one village is a job: its file
    assert response.status_code == 200, response.content[:500]
    return response


def approved_plan(village, personas):
    """An approved plan (as the demo data and older databases hold them: approved, the baseline set on the rows)."""
    return factories.plan(
        village, state=Plan.State.APPROVED, approved_by=personas.district_admin, approved_at=timezone.now()
    )


@pytest.fixture
def rows(area, personas):
    """茅垭村's approved 2017 plan whose deadlines were moved (their baseline kept), and 百花村's draft plan."""
    approved = approved_plan(area.village_a, personas)
    draft = factories.plan(area.village_a2)

    def row(item, baseline, **fields):
        return factories.task(approved, item=item, baseline_deadline=baseline, **fields)

    class Rows:
        plan = approved
        on_the_day = row(ON_THE_DAY, TODAY, deadline=LATER, change_count=1)
        day_late = row(DAY_LATE, TODAY - DAY, deadline=LATER, change_count=2, baseline_planned_funds=Decimal("100"))
        on_time = row(
            ON_TIME,
            TODAY - 10 * DAY,
            deadline=TODAY - 10 * DAY,
            status="done",
            progress=100,
            completed_on=TODAY - 10 * DAY,
        )
        done_late = row(
            DONE_LATE,
            TODAY - 10 * DAY,
            deadline=TODAY - 5 * DAY,
            status="done",
            progress=100,
            completed_on=TODAY - 9 * DAY,
        )
        removed = row(REMOVED, TODAY - DAY, deadline=TODAY - DAY, is_removed=True, removed_reason="重复录入")
        draft_late = factories.task(draft, item=DRAFT_LATE, deadline=TODAY - DAY)

    return Rows


def items(queryset) -> set[str]:
    return set(queryset.values_list("item", flat=True))


# ---------------------------------------------------------------------------------------------
# The Q factory and its twin
# ---------------------------------------------------------------------------------------------


@BOUNDARY_DAYS
def test_the_q_its_queryset_method_and_its_python_twin_agree_on_the_boundary(rows, day):
    assert items(Task.objects.filter(baseline_overdue_q(day))) == BASELINE_OVERDUE_ON[day]
    assert items(Task.objects.baseline_overdue(day)) == BASELINE_OVERDUE_ON[day]
    assert {t.item for t in Task.objects.all() if t.is_baseline_overdue(day)} == BASELINE_OVERDUE_ON[day]
    # Completed on the baseline day itself is on time; the day after, late.
    assert not is_baseline_overdue_values(
        baseline_deadline=TODAY - DAY, completed_on=TODAY - DAY, is_removed=False, today=day
    )
    assert is_baseline_overdue_values(baseline_deadline=TODAY - DAY, completed_on=TODAY, is_removed=False, today=day)
    assert not is_baseline_overdue_values(baseline_deadline=None, completed_on=None, is_removed=False, today=day)


def test_moving_a_deadline_hides_nothing_the_row_is_not_overdue_but_is_baseline_overdue(rows):
    assert not rows.day_late.is_overdue(TODAY) and rows.day_late.is_baseline_overdue(TODAY)
    assert rows.draft_late.is_overdue(TODAY) and not rows.draft_late.is_baseline_overdue(TODAY)


# ---------------------------------------------------------------------------------------------
# Each surface on the boundary
# ---------------------------------------------------------------------------------------------


def queue_view(client, personas, day):
    response = get(client, personas.supervisor, reverse("supervision:queue"), {"view": "baseline"})
    page = response.content.decode()
    shown = {t.item for t in response.context["page_obj"]}
    assert page.count('data-testid="baseline-overdue"') == len(shown)  # every row carries the badge
    return shown


def queue_filter(client, personas, day):
    """The overdue list narrowed to 原定逾期: only rows overdue now *and* against the baseline (none here: the
    baseline-late rows were moved), so the filter is asked on the baseline list with the filter ticked."""
    response = get(
        client, personas.supervisor, reverse("supervision:queue"), {"view": "baseline", "baseline_overdue": "on"}
    )
    overdue_now = get(
        client, personas.supervisor, reverse("supervision:queue"), {"view": "overdue", "baseline_overdue": "on"}
    )
    assert {t.item for t in overdue_now.context["page_obj"]} == set()  # DRAFT_LATE is overdue, not baseline late
    return {t.item for t in response.context["page_obj"]}


def dashboard_figure(client, personas, day):
    response = get(client, personas.district_admin, "/dashboard/")
    shown = int(re.search(r'data-testid="rows-baseline-overdue">(\d+)<', response.content.decode()).group(1))
    assert shown == response.context["rows"]["baseline_overdue"]
    return shown


def bulletin_count(client, personas, day):
    bulletin = bulletin_services.bulletin_generate(user=personas.supervisor, today=day, **SEPTEMBER)
    totals = bulletin.snapshot["totals"]
    page = get(client, personas.supervisor, reverse("supervision:bulletin", args=[bulletin.pk])).content.decode()
    assert f'data-testid="baseline-overdue-tasks">{totals["baseline_overdue_tasks"]} 项' in page
    assert f"原定逾期（含延期完成）{totals['baseline_overdue_tasks']}项" in bulletin.body
    return totals["baseline_overdue_tasks"]


def api_filter(client, personas, day):
    client.force_login(personas.district_admin)
    late = client.get("/api/v1/tasks/", {"baseline_overdue": "true", "page_size": 100}).json()["results"]
    assert all(r["baseline_overdue"] for r in late)
    return {r["item"] for r in late}


SURFACES = {
    "review-queue-view": queue_view,
    "review-queue-filter": queue_filter,
    "dashboard": dashboard_figure,
    "bulletin": bulletin_count,
    "api-filter": api_filter,
}


@BOUNDARY_DAYS
@pytest.mark.parametrize("surface", SURFACES.values(), ids=list(SURFACES))
def test_a_row_is_baseline_overdue_from_the_day_after_its_baseline_deadline_on_every_surface(
    client, personas, rows, settings, day, surface
):
    on(settings, day)
    shown = surface(client, personas, day)
    expected = BASELINE_OVERDUE_ON[day]
    assert shown == (expected if isinstance(shown, set) else len(expected))


def test_the_bulletin_lists_a_moved_rows_original_deadline(client, personas, area, settings):
    plan = approved_plan(area.village_a, personas)
    factories.task(plan, item="仍逾期", baseline_deadline=TODAY - 20 * DAY, deadline=TODAY - 2 * DAY)
    bulletin = bulletin_services.bulletin_generate(user=personas.supervisor, today=TODAY, **SEPTEMBER)
    (entry,) = bulletin.snapshot["tasks"]
    assert (entry["baseline_deadline"], entry["baseline_overdue"]) == ("2017-08-26", True)
    page = get(client, personas.supervisor, reverse("supervision:bulletin", args=[bulletin.pk])).content.decode()
    assert "原定 2017-08-26" in page


# ---------------------------------------------------------------------------------------------
# The baseline is set on approval, and shown by the plan page, the export and the API
# ---------------------------------------------------------------------------------------------


def test_approving_a_plan_sets_each_rows_baseline_to_its_values_with_history(area, personas):
    plan = factories.plan(area.village_a)
    road = factories.task(plan, deadline=datetime.date(2017, 8, 31), planned_funds=Decimal("170"))
    draft_values = Task.objects.values_list("baseline_deadline", "baseline_planned_funds", "baseline_quantity")
    assert list(draft_values) == [(None, None, None)]  # a draft has no baseline
    services.plan_approve(plan_id=plan.pk, user=personas.district_admin)
    road.refresh_from_db()
    assert (road.baseline_deadline, road.baseline_planned_funds, road.baseline_quantity, road.change_count) == (
        datetime.date(2017, 8, 31),
        Decimal("170"),
        Decimal("3"),
        0,
    )
    latest = road.history.latest()
    assert latest.baseline_deadline == datetime.date(2017, 8, 31) and latest.history_user == personas.district_admin
    assert latest.history_change_reason == "批准施工图：记录原定基线"


def test_set_baseline_copies_the_current_values():
    task = Task(deadline=datetime.date(2017, 10, 1), planned_funds=Decimal("5"), quantity=Decimal("2"))
    services.set_baseline(task)
    assert (task.baseline_deadline, task.baseline_planned_funds, task.baseline_quantity) == (
        datetime.date(2017, 10, 1),
        Decimal("5"),
        Decimal("2"),
    )


def test_the_plan_page_shows_the_original_deadline_beside_a_moved_one_and_the_change_count(client, personas, rows):
    page = get(client, personas.district_admin, reverse("tasks:plan", args=[rows.plan.pk])).content.decode()
    row = re.search(rf'<tr id="task-{rows.day_late.pk}".*?</tr>', page, re.S).group(0)
    assert 'data-testid="baseline-deadline">原定 2017-09-14<' in row and "已变更 2 次" in row
    unmoved = re.search(rf'<tr id="task-{rows.on_time.pk}".*?</tr>', page, re.S).group(0)
    assert "baseline-deadline" not in unmoved and "change-count" not in unmoved
    detail = get(client, personas.district_admin, reverse("tasks:task_detail", args=[rows.day_late.pk]))
    assert 'data-testid="baseline-deadline">2017-09-14' in detail.content.decode()


def test_the_one_table_has_the_original_deadline_and_the_change_count(client, personas, rows):
    response = get(client, personas.district_admin, reverse("tasks:plan_table_xlsx"), {"year": 2017})
    sheet = calamine_rows(body(response), "施工图")
    at = {key: index for index, key in enumerate(KEYS)}
    assert sheet[3][at["baseline_deadline"]] == "原定\n完成时限" and sheet[3][at["change_count"]] == "变更\n次数"
    by_item = {r[at["item"]]: r for r in sheet[4:] if r[at["id"]] != ""}
    assert by_item[DAY_LATE][at["baseline_deadline"]] == TODAY - DAY
    assert by_item[DAY_LATE][at["deadline"]] == LATER
    assert int(by_item[DAY_LATE][at["change_count"]]) == 2
    assert by_item[DRAFT_LATE][at["baseline_deadline"]] == ""  # a draft plan's row has no baseline


def test_the_api_shows_the_baseline_the_change_count_and_the_pending_request(client, personas, rows):
    request = ChangeRequest.objects.create(
        plan=rows.plan,
        task=rows.on_the_day,
        kind="change",
        before={"deadline": LATER.isoformat()},
        after={"deadline": (LATER + DAY).isoformat()},
        reason_category="other",
        reason="再延一天",
        requested_by=personas.township_a,
    )
    client.force_login(personas.district_admin)
    data = client.get(f"/api/v1/tasks/{rows.day_late.pk}/").json()
    assert (data["baseline_deadline"], data["deadline"], data["change_count"]) == ("2017-09-14", "2017-10-15", 2)
    assert data["baseline_planned_funds"] == "100.0000" and data["baseline_quantity"] is None
    assert data["baseline_overdue"] is True and data["overdue"] is False
    assert data["pending_change_request"] is None
    assert client.get(f"/api/v1/tasks/{rows.on_the_day.pk}/").json()["pending_change_request"] == request.pk


def test_the_baseline_fields_cannot_be_written_through_the_api(client, personas, area):
    plan = factories.plan(area.village_a)
    task = factories.task(plan)
    client.force_login(personas.district_admin)
    response = client.patch(
        f"/api/v1/tasks/{task.pk}/",
        {"baseline_deadline": "2020-01-01"},
        content_type="application/json",
        headers={"If-Match": '"1"'},
    )
    assert response.status_code == 400
    task.refresh_from_db()
    assert task.baseline_deadline is None


@pytest.mark.parametrize("copies", [1, 10])
def test_the_task_list_takes_the_same_queries_whatever_the_pending_requests(
    client, personas, area, copies, django_assert_num_queries
):
    plan = approved_plan(area.village_a, personas)
    for n in range(copies):
        task = factories.task(plan, item=f"任务{n}", baseline_deadline=TODAY)
        ChangeRequest.objects.create(
            plan=plan, task=task, kind="change", reason_category="other", reason="x", requested_by=personas.township_a
        )
    client.force_login(personas.district_admin)
    client.get("/api/v1/tasks/")  # warm the session
    # The same at 1 and 10 rows: each row's pending request is a subquery of the page's query (tasks.api.TaskRows),
    # not a query per row: savepoint; session; user; the page; release.
    with django_assert_num_queries(5):
        response = client.get("/api/v1/tasks/", {"page_size": 100})
    results = response.json()["results"]
    assert len(results) == copies and all(r["pending_change_request"] for r in results)


def test_an_exported_table_with_the_new_columns_imports_back_unchanged(client, personas, rows):
    from tasks import imports

    response = get(client, personas.district_admin, reverse("tasks:plan_table_xlsx"), {"year": 2017})
    result = imports.preview_plan_import(
        user=personas.district_admin, content=body(response), file_name="施工图.xlsx", year=2017
    )
    assert (result.problems, result.changes) == ([], [])
    assert json.dumps(imports.NOT_READ, ensure_ascii=False).count("baseline_deadline") == 1
