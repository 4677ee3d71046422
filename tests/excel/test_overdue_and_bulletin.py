"""The overdue list and the bulletin as Excel: the same rows as their pages, typed, logged."""

import datetime

import pytest
from django.urls import reverse

from bazhou.core.models import ExportLog
from supervision import bulletin_services
from supervision.exports import queue_rows_for_export
from tasks.models import Task
from tests import factories
from tests.excel.helpers import XLSX, body, calamine_rows, openpyxl_book, sheet_xml

pytestmark = pytest.mark.usefixtures("pinned_today")
TODAY = datetime.date(2017, 9, 15)


def test_the_overdue_list_is_the_queue_on_the_screen_every_page_of_it(client, area, personas, table):
    client.force_login(personas.supervisor)
    response = client.get(reverse("supervision:queue_xlsx"), {"view": "overdue", "township": area.township_a.code})
    assert response.status_code == 200 and response["Content-Type"] == XLSX
    rows = calamine_rows(body(response), "逾期任务清单")
    assert rows[0][0] == "巴州区白庙乡2017年施工图任务已逾期清单"  # the township filtered to, not the user's district
    # The queue lists the current plan year unless another is chosen (docs/years.md): 2016's late rows are not here.
    overdue = (
        Task.objects.overdue(TODAY)
        .filter(plan__village__township=area.township_a, plan__year=2017)
        .order_by("deadline", "id")
    )
    assert [(r[6], r[7], int(r[8])) for r in rows[3:]] == [
        (t.item, t.deadline, (TODAY - t.deadline).days) for t in overdue
    ]
    assert {r[1] for r in rows[3:]} == {"白庙乡"}
    entry = ExportLog.objects.get()
    assert (entry.kind, entry.rows, entry.area) == ("overdue", overdue.count(), "巴州区白庙乡 已逾期")
    village = client.get(reverse("supervision:queue_xlsx"), {"view": "overdue", "village": area.village_a.pk})
    assert calamine_rows(body(village), "逾期任务清单")[0][0] == "巴州区白庙乡茅垭村2017年施工图任务已逾期清单"
    everything = client.get(reverse("supervision:queue_xlsx"), {"view": "overdue"})
    assert calamine_rows(body(everything), "逾期任务清单")[0][0] == "巴州区2017年施工图任务已逾期清单"


def test_the_due_soon_list_and_its_days(client, area, personas, table):
    client.force_login(personas.district_admin)
    rows = calamine_rows(
        body(client.get(reverse("supervision:queue_xlsx"), {"view": "due", "days": 60})), "逾期任务清单"
    )
    items = {r[6]: int(r[8]) for r in rows[3:]}
    assert items == {"危房改造": -46}  # due on 31 October: 46 days left


def test_the_overdue_list_is_only_for_supervisors_and_district_admins(client, personas, table):
    for user in (personas.township_a, personas.leader):
        client.force_login(user)
        assert client.get(reverse("supervision:queue_xlsx")).status_code == 404
    assert not ExportLog.objects.exists()


def test_the_queue_page_links_to_its_list_with_the_same_filters(client, area, personas, table):
    client.force_login(personas.supervisor)
    page = client.get(reverse("supervision:queue"), {"view": "overdue", "township": area.township_a.code})
    assert (
        f'href="{reverse("supervision:queue_xlsx")}?view=overdue&amp;township={area.township_a.code}"'
        in page.content.decode()
    )


def test_a_bulletins_workbook_is_written_with_the_shared_pieces(client, area, personas, table):
    bulletin = bulletin_services.bulletin_generate(
        user=personas.supervisor,
        today=TODAY,
        period_start=datetime.date(2017, 9, 1),
        period_end=datetime.date(2017, 9, 30),
    )
    client.force_login(personas.supervisor)
    content = body(client.get(reverse("supervision:bulletin_xlsx", args=[bulletin.pk])))
    book = openpyxl_book(content)
    assert book.sheetnames == [
        "通报",
        "表1乡镇排名",
        "表2逾期最长",
        "表3责任单位排名",
        "附件1逾期任务",
        "附件2责任人",
        "附件3未销号整改",
    ]
    tasks = book["附件1逾期任务"]
    assert tasks["A1"].value.startswith("巴州区脱贫攻坚工作通报 2017年第1期（草稿） 附件1 逾期未完成的施工图任务清单")
    assert tasks.freeze_panes == "A3" and tasks.page_setup.orientation == "landscape"
    assert tasks["G3"].value.date() == datetime.date(2016, 8, 31) and tasks["G3"].number_format == "yyyy-mm-dd"
    items = [row[5] for row in tasks.iter_rows(min_row=3, values_only=True)]
    assert '=HYPERLINK("http://x")' not in items  # due 31 December: not overdue
    assert "<f>" not in sheet_xml(content)


@pytest.mark.parametrize("extra", [0, 20])
def test_the_overdue_list_takes_a_fixed_number_of_queries(area, personas, table, django_assert_num_queries, extra):
    for i in range(extra):
        factories.task(table.plan_a, area.household_a if i % 2 else None, item=f"逾期任务{i}")
    rows = Task.objects.overdue(TODAY).order_by("deadline", "id")
    with django_assert_num_queries(1):
        exported = list(queue_rows_for_export(rows, TODAY))
    assert len(exported) == 4 + extra  # 通村硬化路, 百花村饮水工程, 大寺村产业路 and the 2016 row
