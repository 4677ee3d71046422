"""The plan page's rows (施工图) pinned: every kind of row shows the same cells, badges and links to every kind of
reader, whatever way the page builds them (issue 19: rows rendered from plain values, no lazy strings).

One plan holds every kind of row: village rows and household rows (with and without a head, with a group), overdue
and done rows, rows with fund lines of several sources, a department's row and a row with a unit's text, a phone,
a deadline's original text, a moved deadline (原定) and a change count, a pending change request, a row without a
quantity, and a withdrawn row. The page is read by the village cadre (who may edit: 编辑 on a draft, 申请变更 on an
approved plan) and by a supervisor (who only reads)."""

import datetime
import html
import os
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.urls import reverse

from tasks import changes, services
from tasks.models import Task
from tests import factories

pytestmark = pytest.mark.usefixtures("pinned_today")


def build_rows(area, personas, *, approve: bool):
    """茅垭村's 2017 plan with every kind of row; approved (with a moved deadline, a change count and a pending
    change request) when ``approve``."""
    plan = factories.plan(area.village_a)
    department = factories.department(name="区交通运输局")
    grouped = factories.household(area.village_a, group="三组")
    headless = factories.household(area.village_a, members=0)
    rows = {
        "road": factories.task(
            plan,
            item="通村硬化路 <3.5米>",
            quantity=Decimal("1200"),
            unit="米",
            deadline=datetime.date(2017, 8, 31),
            deadline_text="8月底前",
            planned_funds=Decimal("120"),
            invested_funds=Decimal("30.5"),
            responsible_unit="区交通运输局",
            department=department,
            responsible_person="李国强",
            responsible_phone="13800001234",
            status=Task.Status.IN_PROGRESS,
            progress=40,
        ),
        "room": factories.done_task(
            plan,
            category="culture_room",
            item="村文化室",
            quantity=None,
            unit="",
            deadline=datetime.date(2017, 10, 31),
            planned_funds=Decimal("0"),
            responsible_unit="白庙乡人民政府",
        ),
        "water": factories.task(
            plan,
            category="water",
            item="安全饮水",
            quantity=Decimal("2.5"),
            unit="处",
            deadline=datetime.date(2017, 9, 15),
            planned_funds=Decimal("17.1"),
        ),
        "house": factories.task(
            plan,
            area.household_a,
            category="housing",
            item="危房改造",
            quantity=Decimal("1"),
            unit="户",
            deadline=datetime.date(2017, 7, 31),
            planned_funds=Decimal("2.5"),
        ),
        "pigs": factories.task(
            plan,
            grouped,
            category="industry",
            item="生猪养殖",
            quantity=Decimal("5"),
            unit="头",
            deadline=datetime.date(2017, 11, 30),
            planned_funds=Decimal("0.6"),
            responsible_person="王芳",
            status=Task.Status.ACCEPTED,
            progress=100,
            completed_on=datetime.date(2017, 9, 1),
        ),
        "school": factories.task(
            plan,
            headless,
            category="education",
            item="教育资助",
            quantity=None,
            deadline=datetime.date(2017, 12, 31),
            planned_funds=Decimal("0.2"),
        ),
        "gone": factories.task(
            plan,
            item="村道亮化",
            deadline=datetime.date(2017, 6, 30),
            planned_funds=Decimal("8"),
            is_removed=True,
            removed_reason="并入县道项目",
        ),
    }
    factories.fund_line(rows["road"], "central", Decimal("100"))
    factories.fund_line(rows["road"], "self", Decimal("20"))
    factories.fund_line(rows["water"], "province", Decimal("17.1"))
    factories.fund_line(rows["house"], "central", Decimal("2.5"))
    if approve:
        services.plan_approve(plan_id=plan.pk, user=personas.district_admin)
        Task.objects.filter(pk=rows["water"].pk).update(deadline=datetime.date(2017, 10, 15), change_count=2, version=5)
        rows["water"].refresh_from_db()
        room = rows["room"]
        room.refresh_from_db()
        changes.change_request_create(
            user=personas.village_cadre,
            task=room,
            changes={"item": "村文化活动室"},
            reason_category="policy",
            reason="按新标准命名",
            expected_version=room.version,
        )
    plan.refresh_from_db()
    return plan, rows


def rows_html(response) -> str:
    """The plan table's bodies and the withdrawn rows, whitespace between tags normalised."""
    page = response.content.decode()
    start = page.index('<tbody data-testid="village-rows">')
    end = page.index("</details>", start) + len("</details>") if "removed-rows" in page else page.index("<tfoot>")
    return normalise(page[start:end])


def normalise(fragment: str) -> str:
    return re.sub(r">\s+<", "><", re.sub(r"[ \t\r\n]+", " ", fragment)).strip()


def cells(fragment: str, task: Task) -> list[str]:
    """The visible text of each cell of ``task``'s row."""
    row = re.search(rf'<tr id="task-{task.pk}"[^>]*>(.*?)</tr>', fragment, re.S).group(1)
    found = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", c)).split()) for c in found]


CAPTURE = os.environ.get("PLAN_ROWS_CAPTURE")  # a folder: write each page's rows there (to compare before/after)


@pytest.mark.parametrize("approve", [False, True], ids=["draft", "approved"])
@pytest.mark.parametrize("persona", ["village_cadre", "supervisor"])
def test_every_kind_of_row_shows_its_cells_badges_and_links(client, area, personas, approve, persona):
    plan, rows = build_rows(area, personas, approve=approve)
    client.force_login(getattr(personas, persona))
    response = client.get(reverse("tasks:plan", args=[plan.pk]))
    assert response.status_code == 200
    fragment = rows_html(response)
    if CAPTURE:
        Path(CAPTURE).mkdir(parents=True, exist_ok=True)
        Path(CAPTURE, f"{persona}-{'approved' if approve else 'draft'}.html").write_text(fragment, encoding="utf-8")

    road, room, water, house, pigs, school, gone = (
        rows[k] for k in ("road", "room", "water", "house", "pigs", "school", "gone")
    )
    assert cells(fragment, road)[:11] == [
        "道路",
        "通村硬化路 <3.5米>",
        "1,200 米",
        "2017-08-31 逾期 8月底前",
        "120.00",
        "中央财政专项扶贫资金 100.00 群众自筹 20.00",
        "30.50",
        "区交通运输局",
        "李国强 13800001234",
        "进行中",
        "40%",
    ]
    assert cells(fragment, room)[2:6] == ["–", "2017-10-31", "0.00", "–"]
    assert cells(fragment, room)[7:11] == ["白庙乡人民政府", "–", "已完成", "100%"]
    water_cells = cells(fragment, water)
    if approve:
        assert water_cells[1] == "安全饮水 已变更 2 次"
        assert water_cells[3] == "2017-10-15 原定 2017-09-15"
    else:
        assert water_cells[1] == "安全饮水"
        assert water_cells[3] == "2017-09-15"  # due today: not overdue
    assert water_cells[2] == "2.5 处" and water_cells[5] == "省级财政专项扶贫资金 17.10"
    assert cells(fragment, house)[1] == f"危房改造 一户一策：{area.household_a.number} 户主 成员"
    assert cells(fragment, house)[3] == "2017-07-31 逾期"
    assert cells(fragment, pigs)[9:11] == ["已验收", "100%"]
    assert cells(fragment, pigs)[8] == "王芳"
    school_number = school.household.number
    assert cells(fragment, school)[1] == f"教育资助 一户一策：{school_number}"
    assert cells(fragment, gone)[1] == "村道亮化 已撤销"
    assert cells(fragment, gone)[3] == "2017-06-30"  # a withdrawn row is never overdue

    # The row markup the browser tests and tables.js rely on.
    assert (
        f'<tr id="task-{road.pk}" data-testid="task-row" data-task-id="{road.pk}" data-version="{road.version}" '
        'class="row-overdue">' in fragment
    )
    assert (
        f'<tr id="task-{gone.pk}" data-testid="task-row" data-task-id="{gone.pk}" data-version="{gone.version}" '
        'class="row-removed">' in fragment
    )
    assert 'data-sort-value="1200.00"' in fragment and 'data-sort-value="120.0000"' in fragment
    assert f'<a href="{reverse("tasks:task_detail", args=[road.pk])}" data-testid="task-item">' in fragment
    assert f'href="{reverse("tasks:task_history", args=[road.pk])}"' in fragment
    assert '<a href="tel:13800001234">13800001234</a>' in fragment
    assert "通村硬化路 &lt;3.5米&gt;" in fragment  # escaped

    # The group headings: village rows, then each household with its head and group.
    assert fragment.index(f'data-task-id="{road.pk}"') < fragment.index(f'data-household-id="{area.household_a.pk}"')
    assert "（三组）" in fragment

    # Actions by who reads and the plan's state.
    edit = reverse("tasks:task_edit", args=[road.pk])
    inline = reverse("tasks:task_inline", args=[road.pk])
    request_change = reverse("tasks:change_request_create", args=[road.pk])
    progress = reverse("tasks:task_progress", args=[road.pk])
    may_edit = persona == "village_cadre"
    assert (f'href="{edit}"' in fragment and f'hx-get="{inline}"' in fragment) == (may_edit and not approve)
    assert (f'href="{request_change}"' in fragment) == (may_edit and approve)
    assert (f'href="{progress}"' in fragment) == may_edit
    assert f'href="{reverse("tasks:task_progress", args=[gone.pk])}"' not in fragment  # withdrawn: no actions
    pending = 'data-testid="change-pending"' in fragment
    assert pending == approve
    if approve:
        # The pending request replaces 申请变更 on its row, but progress is still reported there.
        room_row = re.search(rf'<tr id="task-{room.pk}".*?</tr>', fragment, re.S).group(0)
        assert "变更审批中" in room_row and "申请变更" not in room_row
