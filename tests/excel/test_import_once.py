"""Import once: the workbook is read and checked at the preview only; the confirmation writes the validated result
kept with the preview, after checking under lock that nobody changed the rows (or approved their plan) since, and
refuses the whole import, naming the rows, if someone did. The history is signed with the file's name, and the
confirmation's queries do not grow with the rows."""

from decimal import Decimal
from unittest import mock

import pytest
from django.urls import reverse

from bazhou.core.models import ImportBatch, Job
from bazhou.core.xlsx.importing import ImportPreview
from tasks import imports, services
from tasks.models import FundLine, Plan, Task
from tests import factories
from tests.excel.helpers import body, calamine_rows, edit, upload
from tests.jobs import get_file, job_of, run_jobs, upload_and_check

pytestmark = pytest.mark.usefixtures("pinned_today")
SHEET = "施工图"
NAME = "一次导入.xlsx"
REASON = f"Excel 导入：{NAME}"
# A new row of 茅垭村: 5 万元 (合计, L), all from the central budget (中央财政, M).
NEW_ROW = {"B": "白庙乡", "C": "茅垭村", "G": "饮水", "H": "安全饮用水", "K": "2017-10-31", "L": 5, "M": 5}


def village_export(client, user, village) -> bytes:
    client.force_login(user)
    response = get_file(client, reverse("tasks:plan_table_xlsx"), {"year": 2017, "village": village.pk})
    assert response.status_code == 200
    return body(response)


def rows_by_id(content: bytes) -> dict[int, int]:
    """Task id → its Excel row in an exported table (编号 is column AG)."""
    found = {}
    for number, row in enumerate(calamine_rows(content, SHEET), start=1):
        if isinstance(row[32], float):
            found[int(row[32])] = number
    return found


def changed_table(content: bytes, tasks, *, new_rows: int = 1) -> bytes:
    """``content`` with the 责任人 (Y) of ``tasks`` changed and ``new_rows`` rows added below."""
    where = rows_by_id(content)
    cells = {f"Y{where[task.pk]}": f"新责任人{task.pk}" for task in tasks}
    last = len(calamine_rows(content, SHEET))
    for offset in range(1, new_rows + 1):
        cells.update({f"{column}{last + offset}": value for column, value in NEW_ROW.items()})
        cells[f"H{last + offset}"] = f"安全饮用水{offset}"
    return edit(content, SHEET, cells)


def snapshot():
    tasks = list(Task.objects.order_by("pk").values())
    lines = list(FundLine.objects.order_by("pk").values())
    return tasks, lines, Task.history.count(), FundLine.history.count(), Plan.objects.count()


def upload_for_preview(client, user, content) -> ImportBatch:
    client.force_login(user)
    upload_and_check(client, reverse("tasks:plan_import"), {"file": upload(content, NAME), "year": 2017})
    return ImportBatch.objects.get(user=user)


def confirm(client, batch) -> Job:
    job = job_of(client.post(reverse("tasks:plan_import_batch", args=[batch.pk]), {"fingerprint": batch.fingerprint}))
    run_jobs()
    job.refresh_from_db()
    return job


def test_the_confirmation_writes_the_previewed_result_without_reading_the_workbook_again(client, personas, table):
    content = village_export(client, personas.township_a, table.plan_a.village)
    batch = upload_for_preview(client, personas.township_a, changed_table(content, [table.road]))
    assert batch.state == "previewed" and batch.preview["apply"]["updates"][0][1] == table.road.pk
    unread = AssertionError("the confirmation read the workbook")
    with (
        mock.patch("bazhou.core.xlsx.reader.open_workbook", side_effect=unread),
        mock.patch("tasks.imports.read_sheet", side_effect=unread),
        mock.patch("tasks.imports._evaluate", side_effect=unread),
    ):
        job = confirm(client, batch)
    assert job.state == "done", job.error
    table.road.refresh_from_db()
    assert (table.road.responsible_person, table.road.version) == (f"新责任人{table.road.pk}", 2)
    added = Task.objects.get(item="安全饮用水1")
    assert (added.plan, added.planned_funds, added.status) == (table.plan_a, Decimal("5"), "not_started")
    assert list(added.fund_lines.values_list("source", "amount")) == [("central", Decimal("5.0000"))]
    batch.refresh_from_db()
    assert batch.state == "applied" and batch.preview["apply"] == {}  # the stored result is not kept once applied
    # The workbook handed back carries the new row's id and the new versions.
    assert {(r[1], r[2]) for r in batch.preview["written"]} == {(table.road.pk, 2), (added.pk, 1)}


def test_a_row_edited_after_the_preview_refuses_the_whole_import_naming_the_row(client, personas, table):
    content = village_export(client, personas.township_a, table.plan_a.village)
    changed = changed_table(content, [table.road, table.housing])
    batch = upload_for_preview(client, personas.township_a, changed)
    services.task_update(task_id=table.road.pk, user=personas.district_admin, expected_version=1, data={"unit": "km"})
    before = snapshot()
    job = confirm(client, batch)
    row = rows_by_id(content)[table.road.pk]
    assert job.state == "failed"
    assert job.error.startswith("未导入任何数据：")
    assert f"第 {row} 行的任务（编号 {table.road.pk}）在预览之后已被他人修改" in job.error
    assert snapshot() == before  # neither the other changed row nor the new row was written
    batch.refresh_from_db()
    assert batch.state == "invalid" and batch.preview["apply"] == {}
    (problem,) = ImportPreview.from_json(batch.preview).problems
    assert problem.row == row and "已被他人修改" in problem.message
    page = client.get(reverse("tasks:plan_import_batch", args=[batch.pk])).content.decode()
    assert "已被他人修改" in page


def test_a_plan_approved_after_the_preview_refuses_the_whole_import(client, personas, table):
    content = village_export(client, personas.township_a, table.plan_a.village)
    batch = upload_for_preview(client, personas.township_a, changed_table(content, [table.road], new_rows=2))
    assert batch.state == "previewed"
    services.plan_approve(plan_id=table.plan_a.pk, user=personas.district_admin)
    before = snapshot()
    job = confirm(client, batch)
    assert job.state == "failed" and "未导入任何数据" in job.error
    assert "所在的施工图在预览之后已批准" in job.error
    assert snapshot() == before
    assert not Task.objects.filter(item__startswith="安全饮用水").exists()


def test_a_household_no_longer_the_users_refuses_the_whole_import(client, area, personas, table):
    content = village_export(client, personas.township_a, table.plan_a.village)
    batch = upload_for_preview(client, personas.township_a, changed_table(content, [table.road, table.housing]))
    other = factories.poor_village(area.township_b, number=9, name="新村")
    area.household_a.village = other  # moved to another township's village since the preview
    area.household_a.save()
    before = snapshot()
    job = confirm(client, batch)
    assert job.state == "failed" and "已不在您可以修改的范围内" in job.error
    assert snapshot() == before


def test_the_history_of_the_rows_written_is_signed_with_the_file_name(client, personas, table):
    content = village_export(client, personas.township_a, table.plan_a.village)
    new = {**NEW_ROW, "H": "有资金的新行", "L": 10, "M": 10}
    last = len(calamine_rows(content, SHEET))
    cells = {f"{column}{last + 1}": value for column, value in new.items()}
    cells[f"Y{rows_by_id(content)[table.road.pk]}"] = "秦和平"
    batch = upload_for_preview(client, personas.township_a, edit(content, SHEET, cells))
    assert confirm(client, batch).state == "done"
    added = Task.objects.get(item="有资金的新行")
    assert list(added.fund_lines.values_list("source", "amount")) == [("central", Decimal("10.0000"))]
    for record in (
        added.history.get(),
        FundLine.history.get(task_id=added.pk),
        Task.objects.get(pk=table.road.pk).history.first(),
    ):
        assert (record.history_change_reason, record.history_user) == (REASON, personas.township_a)
    assert Task.objects.get(pk=table.road.pk).history.first().responsible_person == "秦和平"


@pytest.mark.parametrize("n", [3, 30])
def test_the_confirmation_takes_a_fixed_number_of_queries(client, personas, table, django_assert_num_queries, n):
    extra = [factories.task(table.plan_a, item=f"任务{i}") for i in range(n)]
    for task in extra:
        factories.fund_line(task, "central", task.planned_funds)
    content = village_export(client, personas.township_a, table.plan_a.village)
    changed = changed_table(content, extra, new_rows=n)
    stored = imports.preview_plan_import(user=personas.township_a, content=changed, file_name=NAME, year=2017)
    assert (len(stored.creates), len(stored.updates), stored.problems) == (n, n, [])
    stored = ImportPreview.from_json(stored.to_json())  # as kept in the batch
    # Under lock: the rows' plans, the plans, the rows (versions). task_create_many: the plans, INSERT rows, INSERT
    # fund lines, history of rows and of fund lines. task_update_many: the rows locked, their fund lines, UPDATE,
    # history. The versions written back. 8 savepoints of the atomic blocks.
    with django_assert_num_queries(21):
        applied = imports.apply_plan_import(
            user=personas.township_a, file_name=NAME, year=2017, fingerprint=stored.fingerprint, stored=stored
        )
    assert len(applied.written) == 2 * n
    assert Task.objects.filter(item__startswith="安全饮用水").count() == n
