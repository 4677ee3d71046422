"""An Excel import into an approved plan asks for its plan changes (变更申请) instead of making them, and the preview
says so; progress and the other facts are still written directly; a row with a pending request is refused; a new
row is an "add" request; only the user's own area is touched."""

import datetime

import pytest
from django.urls import reverse

from tasks import imports, services
from tasks.models import ChangeRequest, Task
from tests.excel.helpers import body, calamine_rows, edit, upload
from tests.jobs import get_file, upload_and_check

pytestmark = pytest.mark.usefixtures("pinned_today")
SHEET = "施工图"
NOTE = "已批准的施工图：以下修改将提交为变更申请，批准后生效"


def export(client, user) -> bytes:
    client.force_login(user)
    return body(get_file(client, reverse("tasks:plan_table_xlsx"), {"year": 2017}))


def row_of(content: bytes, task: Task) -> int:
    for number, row in enumerate(calamine_rows(content, SHEET), start=1):
        if isinstance(row[32], float) and int(row[32]) == task.pk:
            return number
    raise AssertionError(f"task {task.pk} not in the table")


def preview(user, content, name="施工图.xlsx"):
    return imports.preview_plan_import(user=user, content=content, file_name=name, year=2017)


def apply(user, content, fingerprint, name="施工图.xlsx"):
    return imports.apply_plan_import(user=user, content=content, file_name=name, year=2017, fingerprint=fingerprint)


@pytest.fixture
def approved(table, personas):
    services.plan_approve(plan_id=table.plan_a.pk, user=personas.district_admin)
    for task in (table.road, table.housing):
        task.refresh_from_db()
    return table


def test_a_plan_change_and_a_progress_change_one_is_asked_for_the_other_written(client, personas, approved):
    content = export(client, personas.township_a)
    road = row_of(content, approved.road)
    # 项目 (H, a plan field) and 进度 (AB, a fact) of the same row.
    changed = edit(content, SHEET, {f"H{road}": "通村硬化路（一期）", f"AB{road}": 60})
    result = preview(personas.township_a, changed, name="调整.xlsx")
    assert result.problems == [] and any(NOTE in note for note in result.notes)
    (change,) = result.updates
    assert change.label.startswith("〔变更申请〕")
    apply(personas.township_a, changed, result.fingerprint, name="调整.xlsx")
    task = Task.objects.get(pk=approved.road.pk)
    assert (task.item, task.progress, task.change_count) == ("通村硬化路", 60, 0)
    request = ChangeRequest.objects.get()
    assert (request.task_id, request.kind, request.state) == (task.pk, "change", "pending")
    assert (request.before["item"], request.after["item"]) == ("通村硬化路", "通村硬化路（一期）")
    assert request.reason == "Excel 导入：调整.xlsx" and request.requested_by == personas.township_a


def test_the_preview_page_says_the_changes_will_be_requests(client, personas, approved):
    content = export(client, personas.township_a)
    changed = edit(content, SHEET, {f"K{row_of(content, approved.road)}": datetime.date(2017, 12, 31)})
    _, preview_url = upload_and_check(client, reverse("tasks:plan_import"), {"file": upload(changed), "year": 2017})
    page = client.get(preview_url).content.decode()
    assert NOTE in page and "〔变更申请〕" in page


def test_a_row_with_a_pending_request_is_refused_and_nothing_is_written(client, personas, approved):
    content = export(client, personas.township_a)
    road = row_of(content, approved.road)
    first = edit(content, SHEET, {f"K{road}": datetime.date(2017, 12, 31)})
    apply(personas.township_a, first, preview(personas.township_a, first).fingerprint)
    second = edit(content, SHEET, {f"K{road}": datetime.date(2018, 1, 31)})
    result = preview(personas.township_a, second)
    assert [p.message for p in result.problems] == [
        f"编号为 {approved.road.pk} 的任务已有一项待审批的变更申请，请等待审批或先撤回后再导入修改。"
    ]
    assert ChangeRequest.objects.count() == 1


def test_a_new_row_on_an_approved_plan_is_an_add_request(client, personas, approved):
    content = export(client, personas.township_a)
    last = len(calamine_rows(content, SHEET)) + 1
    changed = edit(
        content,
        SHEET,
        {
            f"B{last}": "白庙乡",
            f"C{last}": "茅垭村",
            f"G{last}": "道路",
            f"H{last}": "联户路",
            f"K{last}": datetime.date(2017, 11, 30),
            f"L{last}": 5,
        },
    )
    result = preview(personas.township_a, changed)
    assert result.problems == [] and result.creates[0].label.startswith("〔变更申请〕")
    apply(personas.township_a, changed, result.fingerprint)
    assert not Task.objects.filter(item="联户路").exists()
    request = ChangeRequest.objects.get()
    assert (request.kind, request.task, request.plan, request.after["item"]) == ("add", None, approved.plan_a, "联户路")


def test_approving_the_imported_request_applies_it_and_keeps_the_baseline(client, area, personas, approved):
    from bazhou.core.models import Role
    from tasks import changes
    from tests import factories

    content = export(client, personas.township_a)
    changed = edit(content, SHEET, {f"K{row_of(content, approved.road)}": datetime.date(2017, 12, 31)})
    apply(personas.township_a, changed, preview(personas.township_a, changed).fingerprint)
    request = ChangeRequest.objects.get()
    other = factories.user(Role.DISTRICT_ADMIN, area.district, username="admin2")
    changes.change_request_approve(user=other, request_id=request.pk, expected_version=request.version)
    task = Task.objects.get(pk=approved.road.pk)
    assert (task.deadline, task.baseline_deadline, task.change_count) == (
        datetime.date(2017, 12, 31),
        datetime.date(2017, 8, 31),
        1,
    )
    assert task.is_baseline_overdue(datetime.date(2017, 9, 15)) and not task.is_overdue(datetime.date(2017, 9, 15))


def test_another_areas_rows_are_not_asked_for(client, personas, approved):
    content = export(client, personas.district_admin)
    changed = edit(content, SHEET, {f"H{row_of(content, approved.road)}": "改名"})
    result = preview(personas.township_b, changed)
    assert result.problems and not ChangeRequest.objects.exists()
