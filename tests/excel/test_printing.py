"""The one table and the register print: every number shows in full (no ``###``) at ten times the demo district's
figures, as Excel measures it (tests/excel/printing.py reads the file's own styles and widths); the header rows and a
running head naming the area, the year and the as-of date are on every page; headers break where they are written
to, never mid-word; 填写说明 fits its page. And the export is labelled with the area actually exported, and the
village list's export link follows the list's filters."""

import datetime
import re
from decimal import Decimal
from urllib.parse import unquote

import pytest
from django.urls import reverse

from bazhou.core.models import ExportLog
from bazhou.core.xlsx.writer import MONEY, PageSetup, number_width
from households import exports as register_exports
from households import imports as register_imports
from households.exports import RegisterScope, render_register
from tasks import imports
from tasks.change_exports import COLUMNS as LEDGER_COLUMNS
from tasks.exports import COLUMNS, KEYS, PlanTableScope, render_plan_table
from tasks.models import Task
from tests import factories
from tests.excel.helpers import body, calamine_rows
from tests.excel.printing import (
    NS,
    column_pixels,
    defined_names,
    digit_pixels,
    em,
    header_footer,
    numeric_cells,
    sheet_xml,
    shown,
)
from tests.jobs import get_file

pytestmark = pytest.mark.usefixtures("pinned_today")
TODAY = datetime.date(2017, 9, 15)
AT = {key: index for index, key in enumerate(KEYS)}
# The demo district (seed_demo, scale 1) of 2017, measured: 19,739 rows; totals 计划资金 55,542.96, 已投入 37,359.57,
# 统筹整合 19,020.95 万元. Ten times: 197,390 rows, 555,429.6 / 373,595.7 / 190,209.5 万元.
TEN_TIMES = {
    "planned_funds": Decimal("555429.6012"),
    "invested_funds": Decimal("373595.7034"),
    "integrated": Decimal("190209.5"),
    "sector": Decimal("86457.8"),
}


def test_excel_s_own_measures_of_the_number_formats():
    """The measuring rules themselves, on values whose look in Excel is known."""
    assert [shown(v, MONEY) for v in (0, 2.5, 1234567.1234, 19020.95, 0.00005)] == [
        "0.00",
        "2.50",
        "1,234,567.1234",
        "19,020.95",
        "0.0001",
    ]
    assert (shown(3, "0.##"), shown(2.125, "0.##"), shown(19739, "0"), shown(42993, "yyyy-mm-dd")) == (
        "3.",
        "2.13",
        "19739",
        "2017-09-15",
    )
    assert (em(10), digit_pixels("宋体", 10, False), digit_pixels("宋体", 10, True)) == (13, 7, 8)
    assert (digit_pixels("宋体", 11, False), digit_pixels("Calibri", 11, False)) == (8, 7)
    # Excel's default column, 8.43 digits of Calibri 11 (stored as 9.140625 with the padding), is 64 px; the old
    # 序号 column (5) was 35 px: a fifth digit (5 × 7 + 5 = 40 px) did not fit.
    assert (column_pixels(9.140625, 7), column_pixels(5, 7)) == (64, 35)


@pytest.fixture
def ten_times(area, table):
    """The test district's plan with a row whose amounts are the demo district's totals at 10×, so that the
    village, township and district subtotals (bold) are as wide as a 10× district's."""
    big = factories.task(
        factories.plan(area.village_b),
        item="10 倍的区级合计",
        quantity=Decimal("9500.25"),
        planned_funds=TEN_TIMES["planned_funds"],
        invested_funds=TEN_TIMES["invested_funds"],
        status="in_progress",
        progress=99,
    )
    for source in ("integrated", "sector"):
        factories.fund_line(big, source, TEN_TIMES[source])
    rest = TEN_TIMES["planned_funds"] - TEN_TIMES["integrated"] - TEN_TIMES["sector"]
    factories.fund_line(big, "finance", rest)
    return big


def export(user, **area) -> bytes:
    file, _ = render_plan_table(PlanTableScope(user=user, year=2017, **area), TODAY)
    return file.read()


def test_no_number_of_a_district_table_at_ten_times_the_demo_shows_hashes(area, personas, ten_times):
    content = export(personas.district_admin, district=area.district)
    cells = numeric_cells(content)
    too_narrow = [(c.ref, c.text, c.needed, c.column) for c in cells if not c.fits]
    assert too_narrow == []
    # The 10× amounts are there, in the bold total row: the widest cells of their columns.
    sheet = calamine_rows(content, "施工图")
    total = next(r for r in sheet if r[AT["township"]] == "巴州区 总计")
    assert Decimal(str(total[AT["planned_funds"]])) == TEN_TIMES["planned_funds"] + Decimal("144.8456")
    assert any(c.text == "555,574.4468" for c in cells)
    # Measured against each column's own (minimum) width, they would not fit: the widths come from the values.
    own = {index: column.width for index, column in enumerate(COLUMNS, start=1)}
    assert any(not c.fits for c in numeric_cells(content, widths=own))


def test_the_number_column_widths_hold_a_province_s_sequence_numbers_and_totals():
    """序号 holds six digits whatever the size; a column holds its largest value in the bold of the totals."""
    seq_width = COLUMNS[AT["seq"]].width
    assert column_pixels(seq_width, 7) >= 6 * 7 + 5  # 999999 in 宋体 10
    for largest in (Decimal("19020.95"), Decimal("190209.5"), Decimal("19020950")):
        width = number_width(largest, "total_money")
        text = f"{int(largest):,}.0000"
        assert column_pixels(width, 7) >= len(text) * 8 + 5 > column_pixels(width - 0.25, 7)


def test_every_printed_page_repeats_the_header_and_names_the_area_year_and_date(area, personas, table):
    content = export(personas.township_a, district=area.district, township=area.township_a)
    names = defined_names(content)
    assert names[("_xlnm.Print_Titles", "0")] == "'施工图'!$3:$4"  # the two header rows
    assert names[("_xlnm.Print_Area", "0")].startswith("'施工图'!$A$1:$AF$")  # not the 编号, 版本 columns
    head, foot = header_footer(content, 1)
    assert "巴州区白庙乡2017年施工图" in head and "截至2017年9月15日" in head
    assert foot == "&C第 &P 页，共 &N 页"
    page = sheet_xml(content, 1).find("m:pageSetup", NS).attrib
    assert (page["paperSize"], page["orientation"], page["fitToWidth"], page["fitToHeight"]) == (
        "8",
        "landscape",
        "1",
        "0",
    )


def test_the_instructions_sheet_fits_its_page(area, personas, table):
    content = export(personas.district_admin, district=area.district)
    instructions = sheet_xml(content, 2)
    assert instructions.find("m:sheetPr/m:pageSetUpPr", NS).get("fitToPage") == "1"
    page = instructions.find("m:pageSetup", NS).attrib
    assert (page["paperSize"], page["orientation"], page["fitToWidth"], page["fitToHeight"]) == (
        "9",
        "portrait",
        "1",
        "1",
    )


def header_lines_that_do_not_fit(columns, widths) -> list:
    """The header lines wider than their column in the bold 宋体 10 of the headers (a Chinese character 13 px and
    1 px of bold, any other 7 + 1): Excel would wrap them where they do not break."""
    bad = []
    for column, width in zip(columns, widths, strict=True):
        size = 9 if column.key_column else 10
        bold = not column.key_column
        wide, narrow = em(size) + bold, digit_pixels("宋体", size, bold)
        for line in column.label.split("\n"):
            pixels = sum(wide if ord(ch) > 0x2000 else narrow for ch in line) + 5
            if pixels > column_pixels(width, 7):
                bad.append((column.header, line, pixels, column_pixels(width, 7)))
    return bad


@pytest.mark.parametrize(
    "columns", [COLUMNS, register_exports.COLUMNS, LEDGER_COLUMNS], ids=["one table", "register", "ledger"]
)
def test_headers_break_only_where_they_are_written_to(columns):
    assert header_lines_that_do_not_fit(columns, [c.width for c in columns]) == []


def test_headers_that_used_to_break_mid_word_break_at_their_line_break(area, personas, table):
    content = export(personas.district_admin, district=area.district)
    header = calamine_rows(content, "施工图")[2:4]
    texts = {text for row in header for text in row if text}
    assert {"已投入资金\n（万元）", "是否\n逾期", "进度\n（%）", "原定\n完成时限", "变更\n次数"} <= texts


def test_a_table_with_broken_headers_imports_back_unchanged(area, personas, table):
    content = export(personas.district_admin, district=area.district)
    result = imports.preview_plan_import(user=personas.district_admin, content=content, file_name="x.xlsx", year=2017)
    assert (result.problems, result.changes) == ([], [])
    assert result.unchanged == Task.objects.filter(plan__year=2017, is_removed=False).count()


def test_the_register_gets_the_same_print_setup_and_imports_back_unchanged(area, personas):
    scope = RegisterScope(user=personas.township_a, district=area.district, township=area.township_a)
    file, count = render_register(scope, TODAY)
    content = file.read()
    assert count == 3  # household_a's members
    assert defined_names(content)[("_xlnm.Print_Titles", "0")] == "'贫困户花名册'!$3:$4"
    head, foot = header_footer(content, 1)
    assert "巴州区白庙乡贫困户花名册" in head and "截至2017年9月15日" in head and "&P" in foot and "&N" in foot
    assert [c for c in numeric_cells(content) if not c.fits] == []
    header = {text for row in calamine_rows(content, "贫困户花名册")[2:4] for text in row if text}
    assert {"计划脱贫\n年度", "务工时间\n（月）", "参加\n养老保险"} <= header
    result = register_imports.preview_register_import(user=personas.township_a, content=content, file_name="x.xlsx")
    assert (result.problems, result.changes, result.unchanged) == ([], [], 3)


def test_the_register_s_sequence_column_holds_a_10x_district(monkeypatch):
    widths = register_exports.register_widths(700_177)
    assert column_pixels(widths[0], 7) >= 6 * 7 + 5
    assert widths[1:] == [c.width for c in register_exports.COLUMNS[1:]]


def test_exports_report_their_progress(area, personas, table, monkeypatch):
    calls = []
    monkeypatch.setattr("tasks.exports.PROGRESS_EVERY", 2)
    scope = PlanTableScope(user=personas.district_admin, year=2017, district=area.district)
    _, count = render_plan_table(
        scope, TODAY, progress=lambda done, total=None, phase=None: calls.append((done, total))
    )
    assert count == 6
    assert calls == [(0, 6), (2, 6), (4, 6), (6, 6), (6, 6)]
    calls.clear()
    monkeypatch.setattr("households.exports.PROGRESS_EVERY", 2)
    register = RegisterScope(user=personas.district_admin, district=area.district)
    _, members = render_register(register, TODAY, progress=lambda done, total=None, phase=None: calls.append(done))
    assert members == 6 and calls == [0, 2, 4, 6, 6]


# ---------------------------------------------------------------------------------------------
# The scope in every label is the scope exported
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["tasks:plan_table_xlsx", "tasks:plan_template", "households:register_xlsx", "tasks:change_ledger_xlsx"]
)
def test_a_village_cadre_asking_for_their_township_gets_a_404_not_a_mislabelled_village(
    client, area, personas, table, name
):
    """A village cadre's rows are their village's: a township's table would be titled 白庙乡 and hold 茅垭村 alone
    (the issue: “白庙乡 合计” of 263.52, 茅垭村's). Refused as the dashboard refuses it, and nothing logged."""
    client.force_login(personas.village_cadre)
    assert client.get(reverse(name), {"township": area.township_a.code}).status_code == 404
    assert not ExportLog.objects.exists()


def test_a_villages_table_names_the_village_in_its_title_file_subtotals_and_log(client, area, personas, table):
    client.force_login(personas.township_a)
    response = get_file(client, reverse("tasks:plan_table_xlsx"), {"village": area.village_a.pk, "year": 2017})
    assert response.status_code == 200
    assert unquote(response["Content-Disposition"]).endswith("''巴州区白庙乡茅垭村2017年施工图.xlsx")
    sheet = calamine_rows(body(response), "施工图")
    assert sheet[0][0].startswith("巴州区白庙乡茅垭村2017年")
    labels = {r[AT["township"]] or r[AT["village"]] for r in sheet[4:] if not isinstance(r[AT["id"]], float)}
    assert labels == {"巴州区白庙乡茅垭村 合计"}
    assert ExportLog.objects.get().area == "巴州区白庙乡茅垭村 2017年"


# ---------------------------------------------------------------------------------------------
# The village list's export link
# ---------------------------------------------------------------------------------------------


def export_link(response) -> str:
    html = response.content.decode()
    return re.search(r'id="plan-table-xlsx"[^>]*href="([^"]*)"', html).group(1).replace("&amp;", "&")


def test_the_village_lists_export_link_carries_its_township_village_and_year(client, area, personas, table):
    client.force_login(personas.district_admin)
    plain = reverse("tasks:plan_table_xlsx")
    assert export_link(client.get(reverse("villages:list"))) == plain
    filtered = client.get(reverse("villages:list"), {"township": area.township_a.code, "year": 2017})
    assert export_link(filtered) == f"{plain}?township={area.township_a.code}&year=2017"
    one = client.get(reverse("villages:list"), {"village": area.village_a2.pk})
    assert export_link(one) == f"{plain}?village={area.village_a2.pk}"
    # An htmx filter request swaps the link in place with the new filters.
    swapped = client.get(reverse("villages:list"), {"township": area.township_b.code}, HTTP_HX_REQUEST="true")
    assert 'hx-swap-oob="true"' in swapped.content.decode()
    assert export_link(swapped) == f"{plain}?township={area.township_b.code}"
    # Filters the export does not take are said on the button.
    narrower = client.get(reverse("villages:list"), {"township": area.township_a.code, "is_poor": "1"})
    assert "不按退出状态、贫困村、计划退出年度、退出、搜索等条件筛选" in narrower.content.decode()
    assert "不按退出状态" not in filtered.content.decode()


def test_the_linked_export_is_of_the_village_listed(client, area, personas, table):
    """Following the link of the list narrowed to 百花村 gives 百花村's table, not the township's."""
    client.force_login(personas.township_a)
    link = export_link(client.get(reverse("villages:list"), {"village": area.village_a2.pk, "year": 2017}))
    response = client.get(link)
    assert response.status_code == 200
    sheet = calamine_rows(body(response), "施工图")
    assert sheet[0][0].startswith("巴州区白庙乡百花村2017年")
    assert [r[AT["item"]] for r in sheet[4:] if isinstance(r[AT["id"]], float)] == ["百花村饮水工程"]


def test_the_running_head_keeps_ampersands_and_leading_digits_as_text():
    xml = PageSetup(head="A&B村", head_right="2017年").header_footer_xml()
    assert xml.startswith("<headerFooter><oddHeader>&amp;L&amp;9A&amp;&amp;B村&amp;R&amp;9 2017年</oddHeader>")
