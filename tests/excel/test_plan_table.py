"""The one table out: the rows (grouped, subtotalled, labelled) apart from any workbook, then the .xlsx the page
and the API hand out, read back by an independent reader and compared with the database."""

import datetime
import json
from decimal import Decimal

import pytest
from django.urls import reverse

from bazhou.core.models import ExportLog
from tasks.exports import KEYS, PlanTableScope, plan_table_rows
from tasks.models import FundLine, Task
from tests import factories
from tests.excel.helpers import XLSX, body, calamine_rows, openpyxl_book, sheet_xml
from tests.jobs import get_file

pytestmark = pytest.mark.usefixtures("pinned_today")
TODAY = datetime.date(2017, 9, 15)
HEADER_ROWS = 4


def rows_of(user, **scope):
    return list(plan_table_rows(PlanTableScope(user=user, year=2017, **scope), TODAY))


def test_rows_are_grouped_by_township_and_village_with_subtotals_and_a_district_total(area, personas, table):
    rows = rows_of(personas.district_admin, district=area.district)
    shape = [(r["row_type"], r["township"], r["village"], r["item"]) for r in rows]
    assert shape == [
        ("task", "白庙乡", "茅垭村", "通村硬化路"),
        ("task", "白庙乡", "茅垭村", "村文化室"),
        ("task", "白庙乡", "茅垭村", '=HYPERLINK("http://x")'),
        ("task", "白庙乡", "茅垭村", "危房改造"),  # the household's rows after the village's
        ("village_subtotal", "白庙乡", "茅垭村 小计", "共 4 项"),
        ("task", "白庙乡", "百花村", "百花村饮水工程"),
        ("village_subtotal", "白庙乡", "百花村 小计", "共 1 项"),
        ("township_subtotal", "白庙乡 合计", "", "共 5 项"),
        ("task", "寺岭乡", "大寺村", "大寺村产业路"),
        ("village_subtotal", "寺岭乡", "大寺村 小计", "共 1 项"),
        ("township_subtotal", "寺岭乡 合计", "", "共 1 项"),
        ("total", "巴州区 总计", "", "共 6 项"),
    ]
    assert [r["seq"] for r in rows if r["row_type"] == "task"] == [1, 2, 3, 4, 5, 6]
    subtotal = rows[4]
    assert subtotal["planned_funds"] == Decimal("102.5")
    assert (subtotal["fund_central"], subtotal["fund_district"], subtotal["fund_province"]) == (60, 40, None)
    assert subtotal["invested_funds"] == Decimal("20.5")
    assert rows[7]["planned_funds"] == Decimal("114.8456")
    assert (
        rows[-1]["planned_funds"]
        == Decimal("144.8456")
        == sum(t.planned_funds for t in Task.objects.filter(plan__year=2017))
    )


def test_a_task_row_says_what_the_office_reads(area, personas, table):
    road, culture, _, housing = rows_of(personas.district_admin, district=area.district)[:4]
    assert {k: road[k] for k in ("kind", "category", "status", "progress", "responsible_person", "overdue")} == {
        "kind": "一村一案",
        "category": "道路",
        "status": "进行中",
        "progress": 40,
        "responsible_person": "吴玉峰",
        "overdue": True,  # 2017-08-31 is past and the road is not finished
    }
    assert (road["fund_central"], road["fund_district"], road["id"], road["version"]) == (60, 40, table.road.pk, 1)
    assert (culture["status"], culture["overdue"], culture["completed_on"]) == (
        "已完成",
        False,
        datetime.date(2017, 8, 20),
    )
    assert (housing["kind"], housing["household"], housing["head"]) == ("一户一策", area.household_a.number, "成员")


def test_a_township_or_a_village_gets_its_own_rows_and_total(area, personas, table):
    township = rows_of(personas.township_a, district=area.district, township=area.township_a)
    assert [r["row_type"] for r in township][-3:] == ["task", "village_subtotal", "total"]
    assert township[-1]["township"] == "巴州区白庙乡 合计" and township[-1]["rows"] == 5
    village = rows_of(personas.village_cadre, district=area.district, village=area.village_a)
    assert [r["row_type"] for r in village] == ["task"] * 4 + ["total"]
    assert village[-1]["village"] == "巴州区白庙乡茅垭村 合计"


def test_rows_outside_the_users_area_are_never_read(area, personas, table):
    # Even asked for the whole district, township B's staff read township B's rows only.
    rows = rows_of(personas.township_b, district=area.district)
    assert {r["township"] for r in rows if r["row_type"] == "task"} == {"寺岭乡"}


@pytest.mark.parametrize("extra", [0, 25])
def test_the_rows_take_a_fixed_number_of_queries(area, personas, table, django_assert_num_queries, extra):
    for i in range(extra):
        task = factories.task(table.plan_a, area.household_a if i % 2 else None, item=f"任务{i}")
        factories.fund_line(task, "central", Decimal("100"))
    scope = PlanTableScope(user=personas.district_admin, year=2017, district=area.district)
    with django_assert_num_queries(2):  # the rows (with the household head as a subquery), their fund lines
        rows = list(plan_table_rows(scope, TODAY))
    assert len([r for r in rows if r["row_type"] == "task"]) == 6 + extra


def _export(client, user, **params):
    client.force_login(user)
    return get_file(client, reverse("tasks:plan_table_xlsx"), {"year": 2017, **params})


def test_the_export_read_by_an_independent_reader_gives_the_database_values(client, area, personas, table):
    response = _export(client, personas.district_admin)
    assert response.status_code == 200 and response["Content-Type"] == XLSX
    assert "attachment" in response["Content-Disposition"] and "xlsx" in response["Content-Disposition"]
    content = body(response)
    sheet = calamine_rows(content, "施工图")
    assert sheet[0][0] == "巴州区2017年脱贫攻坚“一村一案”“一户一策”施工图"
    header = sheet[3]
    at = {key: index for index, key in enumerate(KEYS)}
    assert header[at["planned_funds"]] == "合计" and header[at["id"]] == "编号"
    by_id = {int(r[at["id"]]): r for r in sheet[HEADER_ROWS:] if r[at["id"]] != ""}
    tasks = Task.objects.filter(plan__year=2017).select_related("plan__village__township", "household")
    assert set(by_id) == {t.pk for t in tasks}
    lines = {(line.task_id, line.source): line.amount for line in FundLine.objects.all()}
    for task in tasks:
        row = by_id[task.pk]
        assert row[at["township"]] == task.plan.village.township.name
        assert row[at["village"]] == task.plan.village.name
        assert row[at["household"]] == (task.household.number if task.household else "")
        assert row[at["item"]] == task.item
        assert row[at["unit"]] == task.unit
        assert (row[at["quantity"]] or None) == (float(task.quantity) if task.quantity else None)
        assert row[at["deadline"]] == task.deadline
        assert Decimal(str(row[at["planned_funds"]])) == task.planned_funds
        assert Decimal(str(row[at["invested_funds"]])) == task.invested_funds
        for source in ("central", "province", "district"):
            value = row[at[f"fund_{source}"]]
            assert (Decimal(str(value)) if value != "" else None) == lines.get((task.pk, source))
        assert row[at["status"]] == task.get_status_display()
        assert int(row[at["progress"]]) == task.progress
        assert (row[at["completed_on"]] or None) == task.completed_on
        assert row[at["responsible_person"]] == task.responsible_person
        assert row[at["overdue"]] == ("是" if task.is_overdue(TODAY) else "")
        assert int(row[at["version"]]) == task.version
    totals = [r for r in sheet if r[at["township"]] == "巴州区 总计"]
    assert Decimal(str(totals[0][at["planned_funds"]])) == Decimal("144.8456")


def test_the_export_is_the_wall_table_the_office_prints(client, area, personas, table):
    content = body(_export(client, personas.district_admin))
    assert "<f>" not in sheet_xml(content)  # the row named =HYPERLINK(…) is text, not a live formula
    book = openpyxl_book(content)
    assert book.sheetnames == ["施工图", "填写说明"]
    sheet = book["施工图"]
    assert sheet.freeze_panes == "D5"
    assert sheet.print_title_rows == "$3:$4"
    assert sheet.page_setup.orientation == "landscape" and sheet.page_setup.fitToWidth == 1
    assert sheet.print_area.endswith(f"$AF${sheet.max_row}")  # 编号, 版本 (AG, AH) not printed
    assert sheet["H7"].value == '=HYPERLINK("http://x")' and sheet["H7"].data_type == "s" and sheet["H7"].quotePrefix
    assert sheet["H5"].alignment.wrap_text
    validations = {
        str(v.sqref).split(":")[0].rstrip("0123456789"): v.formula1 for v in sheet.data_validations.dataValidation
    }
    assert validations["G"].startswith('"道路,饮水,') and validations["AA"] == '"未启动,进行中,已完成,已验收"'


def test_the_export_is_written_in_the_export_log(client, area, personas, table):
    _export(client, personas.leader)
    entry = ExportLog.objects.get()
    assert (entry.kind, entry.username, entry.via, entry.fmt) == ("plan_table", "lingdao", "page", "xlsx")
    assert entry.area == "巴州区 2017年" and entry.rows == 6
    assert entry.personal and not entry.unmasked


def test_another_townships_table_is_a_404_and_logs_nothing(client, area, personas, table):
    assert _export(client, personas.township_b, township=area.township_a.code).status_code == 404
    assert _export(client, personas.village_cadre, village=area.village_b.pk).status_code == 404
    assert _export(client, personas.township_a, year="二〇一七").status_code == 404
    assert not ExportLog.objects.exists()


def test_a_users_own_area_is_the_default(client, area, personas, table):
    content = body(_export(client, personas.village_cadre))
    rows = calamine_rows(content, "施工图")
    assert rows[0][0].startswith("巴州区白庙乡茅垭村2017年")
    assert {r[2] for r in rows[HEADER_ROWS:] if r[0] != ""} == {"茅垭村"}


def test_the_api_gives_the_generators_rows_as_json_and_the_same_file(client, area, personas, table):
    client.force_login(personas.township_a)
    response = client.get("/api/v1/plan-table/", {"year": 2017})
    assert response.status_code == 200
    data = json.loads(body(response))
    assert (data["area"], data["level"], data["count"]) == ("巴州区白庙乡", "township", 5)
    expected = rows_of(personas.township_a, district=area.district, township=area.township_a)
    assert [r["item"] for r in data["rows"]] == [r["item"] for r in expected]
    assert data["rows"][0]["planned_funds"] == "100.0000" and data["rows"][0]["deadline"] == "2017-08-31"
    assert data["rows"][0]["overdue"] is True and data["rows"][-1]["row_type"] == "total"
    xlsx = client.get("/api/v1/plan-table/", {"year": 2017, "format": "xlsx"})
    assert xlsx.status_code == 200 and xlsx["Content-Type"] == XLSX
    assert calamine_rows(body(xlsx), "施工图")[0][0].startswith("巴州区白庙乡2017年")
    assert list(ExportLog.objects.order_by("pk").values_list("via", "fmt", "rows")) == [
        ("api", "json", 5),
        ("api", "xlsx", 5),
    ]
    assert client.get("/api/v1/plan-table/", {"township": area.township_b.code}).status_code == 404
