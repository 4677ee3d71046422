"""Plan rows in: an exported table imported back changes nothing, changed cells are exactly the changes previewed
and applied, new rows are added to their village's plan, and every error is named by row and column in Chinese
with nothing written."""

import datetime
import io
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.http import Http404
from django.urls import reverse

from bazhou.core.models import ExportLog, ImportBatch
from bazhou.core.xlsx.importing import ImportRefused
from tasks import imports, services
from tasks.models import ChangeRequest, FundLine, Plan, Task
from tests import factories
from tests.excel.helpers import assert_changes_nothing, body, calamine_rows, edit, openpyxl_book, upload
from tests.jobs import get_file, run_jobs, upload_and_check

pytestmark = pytest.mark.usefixtures("pinned_today")
SHEET = "施工图"
FIRST = 5  # the first data row: title, subtitle and the two header rows above it


def export(client, user, **params) -> bytes:
    client.force_login(user)
    return body(get_file(client, reverse("tasks:plan_table_xlsx"), {"year": 2017, **params}))


def preview(user, content, name="施工图.xlsx", year=2017):
    return imports.preview_plan_import(user=user, content=content, file_name=name, year=year)


def apply(user, content, fingerprint, name="施工图.xlsx", year=2017):
    return imports.apply_plan_import(user=user, content=content, file_name=name, year=year, fingerprint=fingerprint)


def snapshot():
    tasks = list(Task.objects.order_by("pk").values())
    lines = list(FundLine.objects.order_by("pk").values())
    return tasks, lines, Task.history.count(), Plan.objects.count()


def row_of(content: bytes, task: Task) -> int:
    """The Excel row number of ``task`` in an exported table."""
    for number, row in enumerate(calamine_rows(content, SHEET), start=1):
        if isinstance(row[32], float) and int(row[32]) == task.pk:  # 编号 (AG)
            return number
    raise AssertionError(f"task {task.pk} not in the table")


def test_an_exported_table_imported_back_changes_nothing(client, personas, table):
    content = export(client, personas.district_admin)
    assert_changes_nothing(
        personas.district_admin, content, preview=preview, apply=apply, snapshot=snapshot, unchanged=6
    )


def test_three_changed_cells_are_exactly_the_three_changes_previewed_and_applied(client, personas, table):
    content = export(client, personas.township_a)
    road, housing = row_of(content, table.road), row_of(content, table.housing)
    changed = edit(
        content,
        SHEET,
        {f"H{road}": "通村硬化路（一期）", f"Y{road}": "秦和平", f"I{housing}": 2},  # item, person, quantity
    )
    result = preview(personas.township_a, changed, name="白庙乡施工图.xlsx")
    assert result.problems == [] and result.creates == [] and result.unchanged == 3
    assert result.changed_cells == 3
    assert sorted(f for change in result.updates for f in change.fields) == [
        ("数量", "", "2"),
        ("责任人", "吴玉峰", "秦和平"),
        ("项目", "通村硬化路", "通村硬化路（一期）"),
    ]
    apply(personas.township_a, changed, result.fingerprint, name="白庙乡施工图.xlsx")
    table.road.refresh_from_db()
    table.housing.refresh_from_db()
    assert (table.road.item, table.road.responsible_person, table.road.version) == ("通村硬化路（一期）", "秦和平", 2)
    assert (table.housing.quantity, table.housing.version) == (Decimal("2"), 2)
    assert table.road.history.first().history_change_reason == "Excel 导入：白庙乡施工图.xlsx"
    assert table.road.history.first().history_user == personas.township_a
    assert Task.objects.get(pk=table.culture.pk).version == 1  # rows not changed are not touched


def test_new_rows_are_added_to_their_villages_plan_and_a_missing_plan_is_opened(client, area, personas, table):
    other = factories.village(area.township_a, number=9, name="板溪村")
    content = export(client, personas.township_a)
    last = len(calamine_rows(content, SHEET)) + 2
    changed = edit(
        content,
        SHEET,
        {
            **{
                f"{c}{last}": v
                for c, v in zip(
                    "BCGHIJK", ["白庙乡", "茅垭村", "饮水", "安全饮用水", 1, "处", "2017-10-31"], strict=True
                )
            },
            f"L{last}": 5,
            f"M{last}": 3,
            f"P{last}": 2,
            **{
                f"{c}{last + 1}": v
                for c, v in zip(
                    "CEGHK",
                    ["", area.household_a.number, "产业发展", "养殖补助", datetime.date(2017, 11, 30)],
                    strict=True,
                )
            },
            **{
                f"{c}{last + 2}": v
                for c, v in zip("BCGHK", ["白庙乡", "板溪村", "道路", "联户路", "2017年12月31日"], strict=True)
            },
        },
    )
    result = preview(personas.township_a, changed)
    assert result.problems == []
    assert [c.action for c in result.changes] == ["create"] * 3
    assert result.notes == ["白庙乡板溪村还没有2017年施工图：确认后新建（草稿）。"]
    apply(personas.township_a, changed, result.fingerprint)
    water = Task.objects.get(item="安全饮用水")
    assert (water.plan, water.deadline, water.planned_funds, water.status) == (
        table.plan_a,
        datetime.date(2017, 10, 31),
        5,
        "not_started",
    )
    assert dict(water.fund_lines.values_list("source", "amount")) == {"central": 3, "district": 2}
    assert water.history.get().history_change_reason == "Excel 导入：施工图.xlsx"
    assert Task.objects.get(item="养殖补助").household == area.household_a
    opened = Task.objects.get(item="联户路").plan
    assert (opened.village, opened.year, opened.state) == (other, 2017, "draft")
    again = preview(personas.township_a, changed)  # new rows have no 编号: found by their import key, not added again
    assert (again.creates, again.updates, again.unchanged) == ([], [], 8)


def test_a_row_changed_since_the_export_is_a_conflict_and_is_not_overwritten(client, personas, table):
    content = export(client, personas.township_a)
    services.task_update(task_id=table.road.pk, user=personas.district_admin, expected_version=1, data={"item": "县道"})
    changed = edit(content, SHEET, {f"Y{row_of(content, table.road)}": "秦和平"})
    before = snapshot()
    result = preview(personas.township_a, changed)
    (problem,) = result.problems
    assert (problem.column, problem.header) == ("AH", "版本")
    assert "导出后已被修改（表中版本 1，当前版本 2）" in problem.message
    with pytest.raises(ImportRefused):
        apply(personas.township_a, changed, result.fingerprint)
    assert snapshot() == before


def test_an_unchanged_row_of_an_older_export_is_no_conflict(client, personas, table):
    content = export(client, personas.township_a)
    services.task_update(task_id=table.road.pk, user=personas.district_admin, expected_version=1, data={"item": "县道"})
    changed = edit(content, SHEET, {f"H{row_of(content, table.road)}": "县道"})  # the same as what is there now
    assert preview(personas.township_a, changed).problems == []


def test_every_error_is_named_by_row_and_column_and_nothing_is_written(client, personas, table):
    content = export(client, personas.township_a)
    road, culture, formula, housing = (
        row_of(content, t) for t in (table.road, table.culture, table.formula, table.housing)
    )
    changed = edit(
        content,
        SHEET,
        {
            f"K{road}": "八月底",  # not a date
            f"G{culture}": "修路",  # not a category
            f"L{formula}": -5,  # negative funds
            f"AB{housing}": 120,  # progress over 100
            f"M{road}": 10,  # fund sources no longer add up to the total
        },
    )
    before = snapshot()
    result = preview(personas.township_a, changed)
    found = {}
    for p in result.problems:
        found.setdefault((p.row, p.column), p.message)  # the first message of each cell
    assert found[(road, "K")] == "完成时限应为日期，如 2017-08-31，不能是“八月底”。"
    assert found[(culture, "G")].startswith("类别“修路”不在可选范围内，请从下拉列表中选择：道路、饮水")
    assert found[(formula, "L")] == "计划资金不能为负数。"
    assert found[(housing, "AB")] == "进度应在 0–100 之间。"
    assert (road, "L") not in found  # the date error stops the row's other checks; fixed, the funds would be next
    with pytest.raises(ImportRefused) as refused:
        apply(personas.township_a, changed, result.fingerprint)
    assert "未导入任何数据" in refused.value.message
    assert snapshot() == before


def test_fund_sources_must_add_up_to_the_total(client, personas, table):
    content = export(client, personas.township_a)
    changed = edit(content, SHEET, {f"M{row_of(content, table.road)}": 10})
    (problem,) = preview(personas.township_a, changed).problems
    assert (problem.column, problem.message) == ("L", "各资金来源合计（50.00万元）与计划资金（100.00万元）不一致。")


def test_rows_outside_the_users_area_are_refused_as_if_they_did_not_exist(client, personas, table):
    content = export(client, personas.district_admin)
    changed = edit(content, SHEET, {f"H{row_of(content, table.road)}": "改名"})
    before = snapshot()
    result = preview(personas.township_b, changed)
    messages = {p.message for p in result.problems}
    assert f"编号为 {table.road.pk} 的任务不存在，或不在您可以修改的范围内。" in messages
    assert snapshot() == before


def test_duplicated_rows_and_rows_of_another_year_are_refused(client, area, personas, table):
    content = export(client, personas.township_a)
    road = row_of(content, table.road)
    extra = len(calamine_rows(content, SHEET)) + 1
    book = openpyxl_book(content)
    sheet = book[SHEET]
    for column in range(1, 35):
        sheet.cell(extra, column).value = sheet.cell(road, column).value
    sheet.cell(extra + 1, 33).value, sheet.cell(extra + 1, 34).value = table.old.pk, 1
    for column, value in zip(
        ("B", "C", "G", "H", "K", "AA"), ["白庙乡", "茅垭村", "道路", "x", "2017-09-01", "未启动"], strict=True
    ):
        sheet[f"{column}{extra + 1}"] = value
    buffer = io.BytesIO()
    book.save(buffer)
    messages = [p.message for p in preview(personas.township_a, buffer.getvalue()).problems]
    assert f"编号 {table.road.pk} 与第 {road} 行重复：同一任务只能出现一次。" in messages
    assert f"编号为 {table.old.pk} 的任务属于2016年施工图，与所选的计划年度不一致。" in messages


def test_a_table_of_another_year_is_refused(client, personas, table):
    content = export(client, personas.township_a)
    result = preview(personas.township_a, content, year=2018)
    assert result.problems[0].message == "表格标题是2017年的施工图，与所选的计划年度2018年不一致。请核对年度。"


def test_changing_the_deadline_of_an_approved_plan_asks_for_it_with_the_import_as_the_reason(client, personas, table):
    # An approved plan changes only by an approved request (tests/excel/test_plan_import_requests.py has the rest).
    services.plan_approve(plan_id=table.plan_a.pk, user=personas.district_admin)
    content = export(client, personas.township_a)
    changed = edit(content, SHEET, {f"K{row_of(content, table.road)}": datetime.date(2017, 10, 15)})
    result = preview(personas.township_a, changed, name="调整时限.xlsx")
    assert result.problems == [] and result.changed_cells == 1
    apply(personas.township_a, changed, result.fingerprint, name="调整时限.xlsx")
    table.road.refresh_from_db()
    assert table.road.deadline == datetime.date(2017, 8, 31)
    request = ChangeRequest.objects.get(task=table.road)
    assert (request.state, request.after["deadline"], request.reason) == (
        "pending",
        "2017-10-15",
        "Excel 导入：调整时限.xlsx",
    )


def test_confirming_after_the_data_changed_shows_the_new_preview_and_writes_nothing(client, personas, table):
    content = export(client, personas.township_a)
    changed = edit(content, SHEET, {f"Y{row_of(content, table.road)}": "秦和平"})
    result = preview(personas.township_a, changed)
    services.task_update(task_id=table.road.pk, user=personas.district_admin, expected_version=1, data={"unit": "km"})
    before = snapshot()
    with pytest.raises(ImportRefused) as refused:
        apply(personas.township_a, changed, result.fingerprint)
    assert refused.value.preview.problems[0].header == "版本"
    assert snapshot() == before


@pytest.mark.parametrize("extra", [0, 30])
def test_the_preview_takes_a_fixed_number_of_queries(client, area, personas, table, django_assert_num_queries, extra):
    for i in range(extra):
        task = factories.task(table.plan_a, area.household_a if i % 2 else None, item=f"任务{i}")
        factories.fund_line(task, "central", Decimal("100"))
    content = export(client, personas.township_a)
    # The rows to update, their fund lines, their plans, their households, the households named by 户编号, the
    # villages, the year's plans; and whether this very file was imported before (its SHA-256).
    with django_assert_num_queries(8):
        result = preview(personas.township_a, content)
    assert result.unchanged == 5 + extra


# Through the pages: upload, preview, confirm; the upload kept in the database between the two.


def test_upload_preview_and_confirm_through_the_pages(client, personas, table):
    content = export(client, personas.township_a)
    changed = edit(content, SHEET, {f"Y{row_of(content, table.road)}": "秦和平"})
    data = {"file": upload(changed, "改责任人.xlsx"), "year": 2017}
    _, preview_url = upload_and_check(client, reverse("tasks:plan_import"), data)  # checked by a background job
    batch = ImportBatch.objects.get()
    assert preview_url == reverse("tasks:plan_import_batch", args=[batch.pk])
    assert bytes(batch.content) == changed and batch.state == "previewed" and batch.user == personas.township_a
    page = client.get(preview_url)
    assert page.status_code == 200
    text = page.content.decode()
    assert '修改 <span data-testid="count-update">1</span> 行' in text and "秦和平" in text
    table.road.refresh_from_db()
    assert table.road.responsible_person == "吴玉峰"  # nothing is written before the confirmation
    done = client.post(preview_url, {"fingerprint": batch.fingerprint})
    assert done.status_code == 302 and run_jobs() >= 1  # written by a background job
    table.road.refresh_from_db()
    assert table.road.responsible_person == "秦和平"
    batch.refresh_from_db()
    assert batch.state == "applied" and batch.applied_at
    again = client.post(preview_url, {"fingerprint": batch.fingerprint})  # a second click imports nothing
    assert again.status_code == 302 and again["Location"] == preview_url
    assert run_jobs() == 0 and Task.objects.get(pk=table.road.pk).version == 2


def test_uploads_older_than_a_week_are_deleted_when_the_next_one_arrives(client, personas, table):
    from django.utils import timezone

    content = export(client, personas.township_a)
    client.post(reverse("tasks:plan_import"), {"file": upload(content, "上周.xlsx"), "year": 2017})
    ImportBatch.objects.update(created_at=timezone.now() - datetime.timedelta(days=8))
    client.post(reverse("tasks:plan_import"), {"file": upload(content, "今天.xlsx"), "year": 2017})
    client.post(reverse("tasks:plan_import"), {"file": upload(content, "再传.xlsx"), "year": 2017})
    assert sorted(ImportBatch.objects.values_list("file_name", flat=True)) == ["今天.xlsx", "再传.xlsx"]


def test_a_file_with_errors_can_be_downloaded_back_with_the_bad_cells_marked(client, personas, table):
    content = export(client, personas.township_a)
    road = row_of(content, table.road)
    changed = edit(content, SHEET, {f"K{road}": "八月底", f"AB{road}": 300})
    _, preview_url = upload_and_check(client, reverse("tasks:plan_import"), {"file": upload(changed), "year": 2017})
    batch = ImportBatch.objects.get()
    assert batch.state == "invalid"
    page = client.get(preview_url)
    assert "完成时限应为日期" in page.content.decode() and 'data-testid="confirm-form"' not in page.content.decode()
    refused = client.post(preview_url, {"fingerprint": batch.fingerprint}, follow=True)
    assert "该文件还没有通过检查，不能导入。" in refused.content.decode() and run_jobs() == 0
    marked = client.get(reverse("tasks:plan_import_marked", args=[batch.pk]))
    assert marked.status_code == 200
    book = openpyxl_book(body(marked))
    sheet = book[book.sheetnames[0]]
    assert sheet[f"K{road}"].value == "八月底" and sheet[f"K{road}"].fill.fgColor.rgb == "FFFF9999"
    assert sheet[f"H{road}"].fill.fgColor.rgb != "FFFF9999"
    assert "完成时限应为日期" in sheet.cell(road, 36).value  # the row's errors in a last column
    errors = list(book["错误清单"].iter_rows(min_row=2, values_only=True))
    assert errors == [(road, "K", "完成时限", "完成时限应为日期，如 2017-08-31，不能是“八月底”。")]
    assert ExportLog.objects.filter(kind="other").count() == 1


def test_only_people_who_edit_plans_import_and_each_sees_only_their_own_uploads(client, personas, table):
    for user in (personas.supervisor, personas.leader):
        client.force_login(user)
        assert client.get(reverse("tasks:plan_import")).status_code == 404
        assert client.get(reverse("tasks:plan_template")).status_code == 404
    content = export(client, personas.township_a)
    response, preview_url = upload_and_check(
        client, reverse("tasks:plan_import"), {"file": upload(content), "year": 2017}
    )
    client.force_login(personas.township_b)
    assert client.get(response["Location"]).status_code == 404  # the checking job's page
    assert client.get(preview_url).status_code == 404
    assert client.post(preview_url, {"fingerprint": "x"}).status_code == 404


def test_the_template_has_the_tables_layout_drop_downs_and_instructions(client, personas, table):
    client.force_login(personas.village_cadre)
    template = body(client.get(reverse("tasks:plan_template"), {"year": 2017}))
    book = openpyxl_book(template)
    assert book.sheetnames == ["施工图", "填写说明"]
    sheet = book["施工图"]
    assert sheet["A1"].value == "巴州区白庙乡茅垭村2017年施工图任务导入模板"
    assert [sheet.cell(4, c).value for c in (2, 3, 12, 31, 33)] == ["乡镇", "村", "合计", "原定\n完成时限", "编号"]
    assert len(sheet.data_validations.dataValidation) == 3
    assert "编号和版本" in "".join(str(r[0].value) for r in book["填写说明"].iter_rows())
    assert ExportLog.objects.get().kind == "template"
    # Filled in, the template imports.
    filled = edit(template, SHEET, {"C5": "茅垭村", "G5": "道路", "H5": "入户路", "K5": "2017-12-01"})
    result = preview(personas.village_cadre, filled)
    assert result.problems == [] and len(result.creates) == 1


def test_creating_many_rows_checks_each_row_and_writes_nothing_on_an_error(personas, table):
    good = {"category": "road", "item": "联户路", "deadline": datetime.date(2017, 12, 1)}
    bad = {**good, "item": "坏行", "progress": 120}
    before = snapshot()
    with pytest.raises(ValidationError) as refused:
        services.task_create_many(
            user=personas.township_a, rows=[(table.plan_a, good, None), (table.plan_a, bad, None)], reason="导入"
        )
    assert refused.value.message_dict == {"1.progress": ["进度应在 0–100 之间。", "未启动的任务进度应为 0。"]}
    with pytest.raises(Http404):
        services.task_create_many(user=personas.township_b, rows=[(table.plan_a, good, None)], reason="导入")
    assert snapshot() == before
    (task,) = services.task_create_many(
        user=personas.township_a,
        rows=[(table.plan_a, good, [{"source": "social", "amount": Decimal("0")}])],
        reason="导入",
    )
    assert task.history.get().history_user == personas.township_a
    assert FundLine.history.filter(task_id=task.pk, history_change_reason="导入").count() == 1
