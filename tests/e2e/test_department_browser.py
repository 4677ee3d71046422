"""本部门任务 in a real browser on a phone (390 px): 区交通运输局's user opens their rows across the district, sees the
overdue one in red (逾期 15 天) and the one due soon in yellow (临期 5 天), filters to the overdue ones, taps 填报进度
and reports progress; the row of 区水务局 never shows.
"""

import datetime
import re

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.e2e.browser import login, open_menu

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def rows(area):
    transport = factories.department(area.district, "区交通运输局")
    water = factories.department(area.district, "区水务局")
    factories.department_user(transport, username="jiaotong", name="交通局专干")
    plan_a, plan_b = factories.plan(area.village_a), factories.plan(area.village_b)
    return {
        "road": factories.task(plan_a, item="茅垭村通村硬化路", responsible_unit="区交通运输局", department=transport),
        "path": factories.task(
            plan_b,
            item="大寺村入户便道",
            deadline=datetime.date(2017, 9, 20),
            responsible_unit="区交通运输局",
            department=transport,
        ),
        "water": factories.task(plan_b, item="大寺村饮水工程", responsible_unit="区水务局", department=water),
    }


def test_a_department_user_reports_progress_from_their_list_on_a_phone(page, rows):
    page.set_viewport_size(PHONE)
    login(page, "jiaotong")
    open_menu(page)
    page.get_by_test_id("nav-department").click()
    expect(page.get_by_test_id("department-title")).to_have_text("本部门任务：区交通运输局")
    items = page.get_by_test_id("department-row")
    expect(items).to_have_count(2)
    expect(page.get_by_text("大寺村饮水工程")).to_have_count(0)
    road = page.locator(f'[data-testid="department-row"][data-task-id="{rows["road"].pk}"]')
    expect(road.get_by_test_id("countdown")).to_have_text("逾期 15 天")
    path = page.locator(f'[data-testid="department-row"][data-task-id="{rows["path"].pk}"]')
    expect(path.get_by_test_id("countdown")).to_have_text("临期 5 天")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    # Only the overdue ones (the filter re-renders the list in place), once htmx has taken the form over: it does so
    # when the deferred scripts have run, and a change before that is a plain form change (CI saw it missed).
    page.wait_for_load_state()
    page.locator('select[name="due"]').select_option("overdue")
    expect(items).to_have_count(1)
    expect(road).to_be_visible()

    road.get_by_test_id("progress-link").click()
    expect(page).to_have_url(re.compile(rf"/tasks/{rows['road'].pk}/progress/$"))
    page.locator('input[name="progress"]').fill("60")
    page.locator('select[name="status"]').select_option("in_progress")
    page.locator('input[name="invested_funds"]').fill("30")
    page.locator('textarea[name="note"]').fill("路基已完成")
    page.get_by_test_id("progress-save").click()
    expect(page.get_by_text("进度已保存。")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.get_by_test_id("department-link").click()
    expect(road.get_by_text("进行中 60%")).to_be_visible()
