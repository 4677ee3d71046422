"""Imports that scale and are idempotent: a file imported twice adds its new rows once (their import key), the
workbook handed back after the import carries their ids, a file imported before is recognised; updates are written
in bulk with exactly the rows and history the row-by-row services write, in a number of queries that does not grow
with the rows; too long a table, merged cells in the data and XML bombs are refused at once, saying why."""

import datetime
import hashlib
import io
import time
import zipfile
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from openpyxl import Workbook

from bazhou.core.models import ImportBatch
from bazhou.core.xlsx.reader import HEAD_ROWS, SheetReadError, check_upload, read_sheet
from tasks import imports, services
from tasks.models import FundLine, Task
from tests import factories
from tests.excel.helpers import body, calamine_rows, edit, openpyxl_book, upload
from tests.jobs import get_file

pytestmark = pytest.mark.usefixtures("pinned_today")
SHEET = "施工图"
REASON = "Excel 导入：表.xlsx"


def village_export(client, user, village) -> bytes:
    """茅垭村's one table, as its page's export link gives it (a village's table is written at once)."""
    client.force_login(user)
    response = get_file(client, reverse("tasks:plan_table_xlsx"), {"year": 2017, "village": village.pk})
    assert response.status_code == 200
    return body(response)


def preview(user, content, name="表.xlsx"):
    return imports.preview_plan_import(user=user, content=content, file_name=name, year=2017)


def apply(user, content, fingerprint, name="表.xlsx", progress=None):
    return imports.apply_plan_import(
        user=user, content=content, file_name=name, year=2017, fingerprint=fingerprint, progress=progress
    )


def with_new_rows(content: bytes, *rows: dict) -> bytes:
    """``content`` with rows added below its last row (编号 and 版本 blank), as a person adds them in Excel."""
    last = len(calamine_rows(content, SHEET))
    cells = {}
    for offset, row in enumerate(rows, start=1):
        cells.update({f"{column}{last + offset}": value for column, value in row.items()})
    return edit(content, SHEET, cells)


WATER = {"B": "白庙乡", "C": "茅垭村", "G": "饮水", "H": "安全饮用水", "K": "2017-10-31", "L": 5}


# --- 1. the same file twice adds its new rows once ------------------------------------------------------------------


def test_a_file_imported_twice_adds_its_new_row_once(client, personas, table):
    """The issue's case: export 茅垭村, add a row (编号 and 版本 blank), import and confirm, upload the same file
    again: the second preview lists the row as there already, unchanged, and confirming adds nothing."""
    user = personas.village_cadre
    content = with_new_rows(village_export(client, user, table.plan_a.village), WATER)
    first = preview(user, content)
    assert [c.action for c in first.changes] == ["create"]
    applied = apply(user, content, first.fingerprint)
    (water,) = Task.objects.filter(item="安全饮用水")
    assert len(water.import_key) == 64
    count = Task.objects.count()

    again = preview(user, content)
    assert (again.creates, again.updates, again.problems) == ([], [], [])
    assert again.unchanged == 5  # the four rows exported and the row added the first time
    assert f"没有编号，但此前已从 Excel 导入（编号 {water.pk}）" in again.notes[0]
    apply(user, content, again.fingerprint)
    assert Task.objects.count() == count and Task.objects.get(pk=water.pk).version == 1
    # What the confirmation wrote back: the new row's id and version, for the workbook handed back.
    row = len(calamine_rows(content, SHEET))
    assert applied.written == [[row, water.pk, 1]]


def test_a_file_imported_before_is_recognised_by_its_sha256(client, personas, table):
    user = personas.village_cadre
    content = with_new_rows(village_export(client, user, table.plan_a.village), WATER)
    assert not any("该文件已于" in note for note in preview(user, content).notes)
    ImportBatch.objects.create(
        user=personas.township_a,
        kind="plan",
        year=2017,
        file_name="上次.xlsx",
        content=content,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        state=ImportBatch.State.APPLIED,
        applied_at=timezone.make_aware(datetime.datetime(2017, 9, 14, 10, 30)),  # noqa: DTZ001  (local time)
    )
    (note, *_) = preview(user, content).notes
    assert note.startswith(
        "该文件已于 2017-09-14 10:30 导入过（文件名“上次.xlsx”，内容完全相同）。再次导入不会重复新增"
    )


def test_a_copy_with_other_rows_changed_finds_the_row_and_changes_it_while_nobody_else_has(client, personas, table):
    """The key is where and what the row is, not the file's bytes: a later copy of the table (another cell changed,
    the new row's progress filled in) finds the row it added and updates it, at the version the import made it."""
    user = personas.village_cadre
    content = with_new_rows(village_export(client, user, table.plan_a.village), WATER)
    apply(user, content, preview(user, content).fingerprint)
    (water,) = Task.objects.filter(item="安全饮用水")
    last = len(calamine_rows(content, SHEET))
    road = next(n for n, r in enumerate(calamine_rows(content, SHEET), 1) if r[7] == "通村硬化路")
    later = edit(content, SHEET, {f"Y{road}": "秦和平", f"AA{last}": "进行中", f"AB{last}": 30})
    result = preview(user, later)
    assert result.creates == [] and sorted(c.key for c in result.updates) == sorted([str(table.road.pk), str(water.pk)])
    apply(user, later, result.fingerprint)
    water.refresh_from_db()
    assert (water.status, water.progress, water.version) == ("in_progress", 30, 2)
    assert Task.objects.filter(item="安全饮用水").count() == 1
    # Changed by someone else since: the old copy's different values are a conflict, not a second row.
    services.task_update(task_id=water.pk, user=personas.township_a, expected_version=2, data={"progress": 50})
    (problem,) = preview(user, later).problems
    assert problem.message.startswith(f"此行此前已导入为编号 {water.pk} 的任务，之后该任务已被修改（当前版本 3）")


def test_two_rows_that_are_the_same_item_stay_two_and_are_each_found_again(client, personas, table):
    user = personas.village_cadre
    content = with_new_rows(village_export(client, user, table.plan_a.village), WATER, WATER)
    result = preview(user, content)
    assert len(result.creates) == 2 and result.warnings  # the duplicate is still pointed out
    apply(user, content, result.fingerprint)
    assert Task.objects.filter(item="安全饮用水").count() == 2
    again = preview(user, content)
    assert (again.creates, again.unchanged) == ([], 6)


def test_a_row_withdrawn_after_its_import_is_not_added_again(client, personas, table):
    user = personas.village_cadre
    content = with_new_rows(village_export(client, user, table.plan_a.village), WATER)
    apply(user, content, preview(user, content).fingerprint)
    water = Task.objects.get(item="安全饮用水")
    services.task_remove(task_id=water.pk, user=user, expected_version=1, reason="重复")
    again = preview(user, content)
    assert (again.creates, again.problems) == ([], [])


def test_the_workbook_handed_back_after_the_import_has_the_new_rows_ids(client, personas, table):
    """Downloaded after the import: the file as uploaded with 编号 and 版本 filled in for the row it added (and the
    new version of the row it changed); imported again it changes nothing; its drop-down lists are kept."""
    user = personas.village_cadre
    exported = village_export(client, user, table.plan_a.village)
    road = next(n for n, r in enumerate(calamine_rows(exported, SHEET), 1) if r[7] == "通村硬化路")
    content = edit(with_new_rows(exported, WATER), SHEET, {f"Y{road}": "秦和平"})
    applied = apply(user, content, preview(user, content).fingerprint)
    batch = ImportBatch.objects.create(
        user=user,
        kind="plan",
        year=2017,
        file_name="茅垭村.xlsx",
        content=content,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        state=ImportBatch.State.APPLIED,
        applied_at=timezone.now(),
        preview=applied.to_json(),
    )
    client.force_login(user)
    response = client.get(reverse("tasks:plan_import_marked", args=[batch.pk]))
    assert response.status_code == 200
    back = body(response)
    water = Task.objects.get(item="安全饮用水")
    rows = calamine_rows(back, SHEET)
    last = len(calamine_rows(content, SHEET))
    assert (rows[last - 1][32], rows[last - 1][33]) == (water.pk, 1)  # 编号 (AG), 版本 (AH)
    assert (rows[road - 1][32], rows[road - 1][33]) == (table.road.pk, 2)
    assert len(openpyxl_book(back)[SHEET].data_validations.dataValidation) == len(
        openpyxl_book(content)[SHEET].data_validations.dataValidation
    )
    again = preview(user, back)
    assert (again.changes, again.problems) == ([], [])
    assert (
        "茅垭村（已导入，含编号）.xlsx" in response["Content-Disposition"]
        or "filename*" in response["Content-Disposition"]
    )


# --- 2. updates in bulk: the same rows and history as row by row ----------------------------------------------------


def _rows_in(plan, n: int, user) -> list[Task]:
    rows = [
        (
            plan,
            {
                "category": "road",
                "item": f"联户路{i}",
                "deadline": datetime.date(2017, 12, 1),
                "planned_funds": Decimal("10"),
                "responsible_person": "吴玉峰",
            },
            [{"source": "central", "amount": Decimal("6")}, {"source": "district", "amount": Decimal("4")}],
        )
        for i in range(n)
    ]
    return services.task_create_many(user=user, rows=rows, reason="准备")


def _change(i: int) -> tuple[dict, list | None]:
    """Five kinds of change, in turn: the item, the person, progress, the money and its sources, done."""
    kind = i % 5
    if kind == 0:
        return {"item": f"联户路{i}（一期）"}, None
    if kind == 1:
        return {"responsible_person": "秦和平", "responsible_phone": "13900000000"}, None
    if kind == 2:
        return {"status": "in_progress", "progress": 30, "invested_funds": Decimal("2.5")}, None
    if kind == 3:
        lines = [{"source": "central", "amount": Decimal("7")}, {"source": "integrated", "amount": Decimal("5")}]
        return {"planned_funds": Decimal("12")}, lines
    return {"status": "done", "progress": 100}, None


TASK_SKIP = {"id", "plan_id", "created_at", "updated_at", "import_key"}
HISTORY_SKIP = {"history_id", "history_date", "id", "plan_id"}


def _task_values(tasks) -> list[dict]:
    return [
        {k: v for k, v in row.items() if k not in TASK_SKIP}
        for row in Task.objects.filter(pk__in=[t.pk for t in tasks]).order_by("pk").values()
    ]


def _history(tasks) -> list[dict]:
    ids = [t.pk for t in tasks]
    order = {pk: index for index, pk in enumerate(ids)}
    records = sorted(
        Task.history.filter(id__in=ids).values(), key=lambda r: (order[r["id"]], r["history_date"], r["history_id"])
    )
    return [{k: v for k, v in r.items() if k not in HISTORY_SKIP} for r in records]


def _lines(tasks) -> list[tuple]:
    order = {t.pk: index for index, t in enumerate(tasks)}
    return sorted(
        (order[t], s, a)
        for t, s, a in FundLine.objects.filter(task__in=tasks).values_list("task_id", "source", "amount")
    )


def _line_history(tasks) -> list[tuple]:
    order = {t.pk: index for index, t in enumerate(tasks)}
    return sorted(
        (
            order[r["task_id"]],
            r["source"],
            r["amount"],
            r["history_type"],
            r["history_change_reason"],
            r["history_user_id"],
        )
        for r in FundLine.history.filter(task_id__in=[t.pk for t in tasks]).values()
    )


@pytest.mark.parametrize("n", [2000])
def test_2000_changed_rows_in_bulk_write_what_task_update_writes_row_by_row(area, personas, n):
    """The same 2,000 rows twice (in two villages' draft plans): changed one by one through task_update, and all at
    once through task_update_many; every field and fund line of every row, and every history record of the rows and
    their fund lines (who, why, what kind, every value), come out the same."""
    user = personas.township_a
    other = factories.village(area.township_a, number=57, name="板溪村")
    one_by_one = _rows_in(factories.plan(area.village_a), n, user)
    in_bulk = _rows_in(factories.plan(other), n, user)
    for index, task in enumerate(one_by_one):
        data, lines = _change(index)
        services.task_update(task_id=task.pk, user=user, expected_version=1, data=data, fund_lines=lines, reason=REASON)
    changed = services.task_update_many(
        user=user,
        rows=[(task.pk, 1, *_change(index)) for index, task in enumerate(in_bulk)],
        reason=REASON,
    )
    assert len(changed) == n
    assert _task_values(in_bulk) == _task_values(one_by_one)
    assert _lines(in_bulk) == _lines(one_by_one)
    assert _history(in_bulk) == _history(one_by_one)
    assert _line_history(in_bulk) == _line_history(one_by_one)
    assert Task.objects.filter(pk__in=[t.pk for t in in_bulk], item_key=F("item_key")).count() == n


@pytest.mark.parametrize("n", [2000])
def test_2000_new_rows_in_bulk_write_what_task_create_writes_row_by_row(area, personas, n):
    user = personas.township_a
    other = factories.village(area.township_a, number=57, name="板溪村")
    plan_a, plan_b = factories.plan(area.village_a), factories.plan(other)
    data = [
        (
            {
                "category": "road",
                "item": f"联户路{i}",
                "deadline": datetime.date(2017, 12, 1),
                "planned_funds": Decimal("10"),
                "responsible_unit": "白庙乡人民政府",
                **({"status": "in_progress", "progress": 20} if i % 2 else {}),
            },
            [{"source": "central", "amount": Decimal("6")}, {"source": "district", "amount": Decimal("4")}],
        )
        for i in range(n)
    ]
    one_by_one = [
        services.task_create(plan=plan_a, user=user, data=d, fund_lines=lines, reason=REASON) for d, lines in data
    ]
    in_bulk = services.task_create_many(user=user, rows=[(plan_b, d, lines) for d, lines in data], reason=REASON)
    assert _task_values(in_bulk) == _task_values(one_by_one)
    assert _lines(in_bulk) == _lines(one_by_one)
    assert _history(in_bulk) == _history(one_by_one)
    assert _line_history(in_bulk) == _line_history(one_by_one)


@pytest.mark.parametrize("n", [10, 60])
def test_bulk_updates_take_a_fixed_number_of_queries(area, personas, django_assert_num_queries, n):
    """Lock and read the rows, their fund lines; the UPDATE; the history; the fund lines removed (history, DELETE),
    changed (UPDATE, history), added (INSERT, history): the same however many rows (up to a chunk of 1,000)."""
    user = personas.township_a
    tasks = _rows_in(factories.plan(area.village_a), n, user)
    rows = [(task.pk, 1, *_change(index)) for index, task in enumerate(tasks)]
    with django_assert_num_queries(12):
        services.task_update_many(user=user, rows=rows, reason=REASON)


def test_bulk_updates_are_all_or_nothing_with_the_version_checked(area, personas):
    user = personas.township_a
    tasks = _rows_in(factories.plan(area.village_a), 3, user)
    services.task_update(task_id=tasks[2].pk, user=user, expected_version=1, data={"unit": "km"})
    before = _task_values(tasks), Task.history.count()
    with pytest.raises(services.TaskConflict):
        services.task_update_many(
            user=user, rows=[(t.pk, 1, {"responsible_person": "秦和平"}, None) for t in tasks], reason=REASON
        )
    with pytest.raises(ValidationError) as refused:
        services.task_update_many(
            user=user, rows=[(tasks[0].pk, 1, {"progress": 120, "status": "in_progress"}, None)], reason=REASON
        )
    assert refused.value.message_dict == {"progress": ["进度应在 0–100 之间。"]}
    assert (_task_values(tasks), Task.history.count()) == before


def test_an_import_of_changed_rows_reports_its_progress_by_phase(client, personas, table):
    user = personas.village_cadre
    exported = village_export(client, user, table.plan_a.village)
    road = next(n for n, r in enumerate(calamine_rows(exported, SHEET), 1) if r[7] == "通村硬化路")
    content = with_new_rows(edit(exported, SHEET, {f"Y{road}": "秦和平"}), WATER)
    calls = []
    result = imports.preview_plan_import(
        user=user, content=content, file_name="表.xlsx", year=2017, progress=lambda *a, **k: calls.append((a, k))
    )
    assert {k["phase"] for _, k in calls} == {"读取文件", "检查"}
    calls.clear()
    apply(user, content, result.fingerprint, progress=lambda *a, **k: calls.append((a[0], k["total"], k["phase"])))
    assert [phase for *_, phase in calls][:1] == ["读取文件"] and calls[-1] == (2, 2, "写入")


# --- 3. files refused at once, saying why ---------------------------------------------------------------------------


def table_file(rows: int, *, dimension: str | None = None, merge: str | None = None) -> bytes:
    """A plan table of ``rows`` new rows (a title, a header, the rows), written as Excel writes it."""
    book = Workbook()
    sheet = book.active
    sheet.title = SHEET
    sheet.append(["巴州区2017年施工图"])
    sheet.append(["乡镇", "村", "类别", "项目", "完成时限"])
    for i in range(rows):
        sheet.append(["白庙乡", "茅垭村", "道路", f"路{i}", "2017-10-31"])
    if merge:
        sheet.merge_cells(merge)
    buffer = io.BytesIO()
    book.save(buffer)
    content = buffer.getvalue()
    if dimension is None:
        return content
    source = zipfile.ZipFile(io.BytesIO(content))
    members = {name: source.read(name) for name in source.namelist()}
    xml = members["xl/worksheets/sheet1.xml"].decode()
    start = xml.index("<dimension ref=")
    members["xl/worksheets/sheet1.xml"] = (
        xml[:start] + f'<dimension ref="{dimension}"/>' + xml[xml.index("/>", start) + 2 :]
    ).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def _read(content, progress=None):
    return read_sheet(content, sheet_name=SHEET, header=imports._header, progress=progress)


def test_one_row_over_the_limit_is_refused_before_the_rows_are_read(settings):
    settings.BAZHOU_IMPORT_MAX_ROWS = 100
    calls = []
    with pytest.raises(SheetReadError) as refused:
        _read(table_file(101), progress=lambda done, **k: calls.append(done))
    assert refused.value.messages == ["表格行数过多：表头以下有 101 行，最多导入 100 行，请分批导入。"]
    assert max(calls) <= HEAD_ROWS  # refused from the scan of the XML: no row past the header was read
    assert len(_read(table_file(100)).rows) == 102


def test_a_file_whose_dimension_lies_is_counted_all_the_same(settings):
    """A file declaring A1:E3 but holding 150 rows is refused like any other (and one within the limit is read in
    full, not cut at its declared dimension)."""
    settings.BAZHOU_IMPORT_MAX_ROWS = 100
    with pytest.raises(SheetReadError):
        _read(table_file(150, dimension="A1:E3"))
    assert len(_read(table_file(50, dimension="A1:A1")).rows) == 52


def test_30001_rows_are_refused_in_well_under_a_second():
    content = table_file(30_001)
    start = time.perf_counter()
    with pytest.raises(SheetReadError) as refused:
        _read(content)
    assert time.perf_counter() - start < 3  # about 0.3 s; reading the rows took 20 s and more
    assert refused.value.messages == ["表格行数过多：表头以下有 30,001 行，最多导入 30,000 行，请分批导入。"]


def test_merged_cells_in_the_data_are_named_as_the_cause():
    with pytest.raises(SheetReadError) as refused:
        _read(table_file(10, merge="B4:B7"))
    assert refused.value.messages[0].startswith("表格的数据区域有合并的单元格（B4:B7）：合并后只有左上角的单元格有值")
    assert len(_read(table_file(10, merge="A1:E1")).rows) == 12  # a merged title is no problem


def _with_sheet(xml: bytes) -> bytes:
    content = table_file(2)
    source = zipfile.ZipFile(io.BytesIO(content))
    members = {name: source.read(name) for name in source.namelist()}
    members["xl/worksheets/sheet1.xml"] = xml
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


SHEET_XML = (
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1">'
    b'<c r="A1" t="inlineStr"><is><t>&x;</t></is></c></row></sheetData></worksheet>'
)


def test_xxe_is_refused_saying_what_it_found():
    xxe = b'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY x SYSTEM "file:///etc/passwd">]>' + SHEET_XML
    with pytest.raises(ValidationError) as refused:
        check_upload(upload(_with_sheet(xxe), "表.xlsx"))
    (message,) = refused.value.messages
    assert message == (
        "文件“表.xlsx”含有引用外部文件或网址“file:///etc/passwd”的 XML 外部实体（在 xl/worksheets/sheet1.xml 中）"
        "（XXE：可用来读取服务器上的文件），正常的 Excel 文件不会有，已拒绝。"
    )


def test_a_bomb_hidden_past_the_first_bytes_is_still_refused_in_chinese():
    """A DOCTYPE after 100 KB of comment escapes the quick look at each part's start; defusedxml stops it while
    reading, and the refusal still says what it is, without a Python exception's name."""
    bomb = (
        b'<?xml version="1.0"?><!--'
        + b"x" * 100_000
        + b'--><!DOCTYPE w [<!ENTITY x "lol"><!ENTITY y "&x;&x;">]>'
        + SHEET_XML
    )
    content = _with_sheet(bomb)
    check_upload(upload(content, "表.xlsx"))
    with pytest.raises(SheetReadError) as refused:
        read_sheet(content)
    (message,) = refused.value.messages
    assert message.startswith("文件含有 XML 实体定义：这是“XML 炸弹”") and "Forbidden" not in message
