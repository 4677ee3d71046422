"""What no uploaded cell may bring in (issue 17): a formula (docs/excel.md and the template's instructions say
formulas are refused: we cannot know their value), a character no saved text may hold, a required text made only
of invisible characters, a date outside the bounds of bazhou.core.dates. Each is refused naming its cell, and
nothing is written."""

import datetime

import pytest

from bazhou.core.xlsx.importing import FORMULA_MESSAGE, ImportRefused, ImportRow
from bazhou.core.xlsx.reader import HeaderMap, SheetData
from households.exports import SHEET as REGISTER_SHEET
from tests.excel.helpers import edit
from tests.excel.test_households import export as register_export
from tests.excel.test_households import preview as register_preview
from tests.excel.test_plan_import import SHEET, apply, export, preview, row_of, snapshot

pytestmark = pytest.mark.usefixtures("pinned_today")


def problems_of(result) -> dict[tuple[int, str], str]:
    found = {}
    for p in result.problems:
        found.setdefault((p.row, p.column), p.message)
    return found


def test_a_formula_cell_is_refused_naming_the_cell_and_nothing_is_written(client, personas, table):
    content = export(client, personas.township_a)
    road = row_of(content, table.road)
    changed = edit(content, SHEET, {f"H{road}": '="通村"&"硬化路"', f"L{road}": "=60+40"})
    before = snapshot()
    result = preview(personas.township_a, changed)
    found = problems_of(result)
    assert found[(road, "H")] == FORMULA_MESSAGE
    assert found[(road, "L")] == FORMULA_MESSAGE
    assert [p.where for p in result.problems if p.row == road][0] == f"第 {road} 行 H 列（项目）"
    with pytest.raises(ImportRefused):
        apply(personas.township_a, changed, result.fingerprint)
    assert snapshot() == before


def test_an_item_of_only_invisible_characters_is_refused_as_empty(client, personas, table):
    content = export(client, personas.township_a)
    road = row_of(content, table.road)
    result = preview(personas.township_a, edit(content, SHEET, {f"H{road}": "\u200b\u200d"}))
    assert problems_of(result)[(road, "H")] == "请填写项目。"


def test_a_deadline_outside_the_plans_range_is_refused_naming_the_cell(client, personas, table):
    content = export(client, personas.township_a)
    road = row_of(content, table.road)
    result = preview(personas.township_a, edit(content, SHEET, {f"K{road}": datetime.date(1900, 1, 1)}))
    assert problems_of(result)[(road, "K")] == "完成时限应在2016年1月1日至2020年12月31日之间。"


def test_a_formula_in_the_register_is_refused_naming_the_cell(client, area, personas):
    content = register_export(client, personas.district_admin)
    changed = edit(content, REGISTER_SHEET, {"F5": "=1+1"})  # 联系电话 of the first member row
    result = register_preview(personas.district_admin, changed)
    assert any(p.row == 5 and p.column == "F" and p.message == FORMULA_MESSAGE for p in result.problems)


def test_a_cell_holding_an_illegal_character_is_refused_naming_it():
    """No well-formed .xlsx carries U+FFFF or NUL through openpyxl today; the check is the defence the rule asks
    for at every input, shown on a row as the reader hands it over."""
    header = HeaderMap(last_row=4, columns={"item": 7, "unit": 9}, headers={"item": "项目", "unit": "单位"})
    sheet = SheetData(title="施工图", rows=[(7, [None] * 7 + ["路\uffff", None, "公里\x00"])])
    (row,) = ImportRow.rows_of(sheet, header)
    assert [(p.where, p.message) for p in row.problems] == [
        ("第 7 行 H 列（项目）", "含有不能保存的控制字符 U+FFFF，请删除后重新输入。"),
        ("第 7 行 J 列（单位）", "含有不能保存的控制字符 U+0000，请删除后重新输入。"),
    ]
    assert row.texts == {"item": "", "unit": ""}  # reported once, taken as empty
