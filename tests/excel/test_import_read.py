"""Reading an upload with calamine (bazhou/core/xlsx/reader.py): the values the imports take are those openpyxl's
streaming reader gives (dates, numbers, numbers stored as text, empty cells and rows, formulas); a sheet calamine
would hold too large is streamed with openpyxl; and the confirmation's bulk writes, which trust the preview's checks
of the rows, still refuse what can change between the preview and the confirmation."""

import datetime
import io
import time
import zipfile
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from openpyxl import Workbook

from bazhou.core.xlsx import reader
from bazhou.core.xlsx.reader import as_date, as_decimal, as_text, read_sheet
from tasks import services
from tasks.models import Task

pytestmark = pytest.mark.usefixtures("pinned_today")


def workbook(build) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "施工图"
    build(sheet)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def cells(sheet):
    sheet["A1"] = "2017年施工图"
    sheet.append([])  # row 2 empty: skipped, the numbering kept
    sheet["A3"], sheet["B3"], sheet["C3"], sheet["D3"], sheet["E3"] = "项目", "完成时限", "计划资金", "编号", "公式"
    sheet["A4"] = "通村硬化路"
    sheet["B4"] = datetime.date(2017, 8, 31)
    sheet["C4"] = 12.3456
    sheet["D4"] = 17
    sheet["E4"] = "=C4*2"
    sheet["A5"] = "危房改造"
    sheet["B5"] = "2017年10月31日"  # a date typed as text
    sheet["C5"] = "1,234.5"  # a number stored as text
    sheet["D5"] = "0017"  # text that looks like a number stays text
    sheet["B6"] = datetime.datetime(2017, 9, 1, 8, 30)  # noqa: DTZ001  (Excel keeps no time zone)
    sheet["C6"] = "   "  # only spaces: kept as written (the imports take it as empty)
    sheet["A8"] = "  末行  "


def test_calamine_reads_what_openpyxl_reads_for_every_kind_of_cell():
    content = workbook(cells)
    data = read_sheet(content)
    assert [number for number, _ in data.rows] == [1, 3, 4, 5, 6, 8]
    assert data.formulas == {(4, 5)}
    rows = dict(data.rows)
    assert rows[4][:5] == ["通村硬化路", datetime.date(2017, 8, 31), 12.3456, 17.0, "=C4*2"]
    assert rows[5][1:4] == ["2017年10月31日", "1,234.5", "0017"]
    assert as_date(rows[4][1], what="完成时限") == datetime.date(2017, 8, 31)
    assert as_date(rows[5][1], what="完成时限") == datetime.date(2017, 10, 31)
    assert as_text(rows[6][1]) == "2017-09-01 08:30:00" and rows[6][2:] == ["   ", None, None]
    assert as_decimal(rows[5][2], places=4, what="计划资金") == Decimal("1234.5000")
    assert as_decimal(rows[4][2], places=4, what="计划资金") == Decimal("12.3456")
    assert as_text(rows[4][3]) == "17" and as_text(rows[5][3]) == "0017"
    # The same file streamed with openpyxl: the same rows, formulas and texts, cell by cell.
    scan = reader.scan_sheet(zipfile.ZipFile(io.BytesIO(content)), "xl/worksheets/sheet1.xml", max_value_rows=100)
    formulas = set()
    streamed = {
        number: values
        for number, values in reader._openpyxl_rows(content, "施工图", scan, formulas)
        if any(as_text(v) for v in values)
    }
    assert formulas == data.formulas and sorted(streamed) == sorted(rows)
    for number, values in streamed.items():
        width = max(len(values), len(rows[number]))
        padded = [*rows[number], *[None] * (width - len(rows[number]))]
        assert [as_text(v) for v in padded] == [as_text(v) for v in [*values, *[None] * (width - len(values))]]


def test_a_stray_cell_far_out_is_read_by_streaming_not_held_in_memory():
    """A cell in the last column (XFD) of a 400-row table: calamine would hold 401 × 16,384 cells; the sheet is
    streamed with openpyxl instead, and read whole."""

    def build(sheet):
        sheet.append(["项目", "完成时限"])
        for i in range(400):
            sheet.append([f"路{i}", "2017-10-31"])
        sheet["XFD401"] = "远处"

    content = workbook(build)
    start = time.perf_counter()
    data = read_sheet(content)
    assert time.perf_counter() - start < 5
    assert len(data.rows) == 401 and data.rows[-1][1][-1] == "远处" and len(data.rows[-1][1]) == 16_384


def test_the_bulk_create_of_checked_rows_still_refuses_a_plan_approved_since(personas, table):
    """The confirmation passes rows the preview checked (checked=True): their own rules are not run again, but a plan
    approved in between, or a household no longer of the plan's village, is still refused and nothing is written."""
    good = {"category": "road", "item": "联户路", "deadline": datetime.date(2017, 12, 1)}
    count = Task.objects.count()
    services.plan_approve(plan_id=table.plan_a2.pk, user=personas.district_admin)  # since the preview
    with pytest.raises(ValidationError) as refused:
        services.task_create_many(
            user=personas.township_a,
            rows=[(table.plan_a, good, None), (table.plan_a2, good, None)],
            reason="导入",
            checked=True,
        )
    assert refused.value.message_dict == {"1.__all__": [services.APPROVED_NEW]}
    moved = {**good, "household": table.housing.household}
    with pytest.raises(ValidationError) as refused:
        services.task_create_many(user=personas.district_admin, rows=[(table.plan_b, moved, None)], reason="导入")
    assert refused.value.message_dict == {"0.household": ["该户不属于本施工图所在的村。"]}
    with pytest.raises(ValidationError) as refused:
        services.task_create_many(
            user=personas.district_admin, rows=[(table.plan_b, moved, None)], reason="导入", checked=True
        )
    assert refused.value.message_dict == {"0.household": ["该户不属于本施工图所在的村。"]}
    assert Task.objects.count() == count
    (task,) = services.task_create_many(
        user=personas.township_a,
        rows=[(table.plan_a, good, [{"source": "central", "amount": Decimal("0")}])],
        reason="导入",
        checked=True,
    )
    assert list(task.fund_lines.values_list("source", "amount")) == [("central", Decimal("0.0000"))]
    assert task.history.get().history_change_reason == "导入"
