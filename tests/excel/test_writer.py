"""The shared workbook pieces (bazhou/core/xlsx/writer.py): typed text that never becomes a formula, print setup,
widths for Chinese, and a writer whose memory does not grow with the number of rows."""

import datetime
import io
import tracemalloc
from decimal import Decimal

from bazhou.core.xlsx.writer import (
    Column,
    PageSetup,
    StreamingWorkbook,
    display_width,
    fit_widths,
    style_id,
    write_header,
)
from tests.excel.helpers import calamine_rows, openpyxl_book, sheet_xml

COLUMNS = [
    Column("seq", "序号", 6, "int"),
    Column("township", "乡镇", 10, group="区域"),
    Column("village", "村", 10, group="区域"),
    Column("funds", "计划资金", 12, "money"),
    Column("deadline", "完成时限", 11, "date"),
    Column("id", "编号", 8, "key", key_column=True),
]
FORMULA_LIKE = ["=SUM(A1:A9)", "+86 138 0000 0000", "-1+2", "@cmd", '=HYPERLINK("http://x","点我")']


def write(rows, *, validations=False) -> bytes:
    with (
        StreamingWorkbook(io.BytesIO()) as book,
        book.sheet(
            "表", widths=[c.width for c in COLUMNS], freeze=(4, 1), page=PageSetup(repeat_rows=(3, 4), print_columns=5)
        ) as sheet,
    ):
        write_header(sheet, "巴州区2017年施工图", COLUMNS, subtitle="资金单位：万元")
        styles = [style_id(c.style) for c in COLUMNS]
        for row in rows:
            sheet.row(row, styles)
        if validations:
            sheet.validate(2, 5, 100, ["白庙乡", "寺岭乡"])
    book.file.seek(0)
    return book.file.read()


def test_text_that_looks_like_a_formula_stays_text_for_every_reader():
    content = write([[i, text, "村", Decimal("1"), None, i] for i, text in enumerate(FORMULA_LIKE, start=1)])
    assert "<f>" not in sheet_xml(content)
    sheet = openpyxl_book(content)["表"]
    for row, text in enumerate(FORMULA_LIKE, start=5):
        cell = sheet.cell(row, 2)
        assert (cell.value, cell.data_type) == (text, "s")
        assert cell.quotePrefix  # Excel keeps it text even when the cell is edited
        assert not sheet.cell(row, 3).quotePrefix
    assert [r[1] for r in calamine_rows(content, "表")[4:]] == FORMULA_LIKE


def test_values_keep_their_types_and_text_its_characters():
    content = write(
        [
            [1, "A & B <c> “引号”", "  两端空格  ", Decimal("170.5"), datetime.date(2017, 8, 31), 7],
            [2, "控制\x07字符", "多\n行", Decimal("0.0001"), datetime.date(2018, 1, 1), 8],
        ]
    )
    rows = calamine_rows(content, "表")[4:]
    assert rows[0] == [1.0, "A & B <c> “引号”", "  两端空格  ", 170.5, datetime.date(2017, 8, 31), 7.0]
    assert rows[1] == [2.0, "控制字符", "多\n行", 0.0001, datetime.date(2018, 1, 1), 8.0]
    sheet = openpyxl_book(content)["表"]
    assert sheet["D5"].number_format == "#,##0.00##" and sheet["E5"].number_format == "yyyy-mm-dd"


def test_the_title_and_the_two_row_header_are_merged_frozen_and_printed_on_every_page():
    content = write([[1, "白庙乡", "茅垭村", Decimal("1"), None, 1]], validations=True)
    sheet = openpyxl_book(content)["表"]
    merged = {str(r) for r in sheet.merged_cells.ranges}
    assert {"A1:F1", "A2:F2", "B3:C3", "A3:A4", "D3:D4", "E3:E4", "F3:F4"} <= merged
    assert [sheet.cell(4, c).value for c in (2, 3)] == ["乡镇", "村"]
    assert sheet.freeze_panes == "B5"
    assert sheet.print_title_rows == "$3:$4"
    assert sheet.print_area == "'表'!$A$1:$E$5"  # the 编号 column is for the import, not for the wall
    assert sheet.page_setup.orientation == "landscape"
    assert sheet.sheet_properties.pageSetUpPr.fitToPage and sheet.page_setup.fitToWidth == 1
    assert sheet.page_setup.fitToHeight == 0
    assert sheet.column_dimensions["B"].width == 10
    (validation,) = sheet.data_validations.dataValidation
    assert validation.formula1 == '"白庙乡,寺岭乡"' and str(validation.sqref) == "B5:B100"


def test_widths_count_a_chinese_character_double():
    assert display_width("通村硬化路") == 10
    assert display_width("3 km") == 4
    assert fit_widths(["项目"], [["道地巴药产业（一期工程）"]]) == [26]


def _peak(rows: int) -> int:
    row = [1, "白庙乡", "茅垭村道地巴药产业", Decimal("170.5"), datetime.date(2017, 9, 30), 1]
    tracemalloc.start()
    with StreamingWorkbook() as book, book.sheet("表", widths=[8] * 6) as sheet:
        for _ in range(rows):
            sheet.row(row, style_id("text"))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    book.file.close()
    return peak


def test_memory_does_not_grow_with_the_number_of_rows():
    small, large = _peak(2_000), _peak(40_000)
    assert large < small + 512 * 1024, (small, large)
