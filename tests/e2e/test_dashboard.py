"""The dashboard in a real browser: a district admin sees the charts drawn (ECharts, SVG renderer, offline)
and follows a township's link to its own dashboard."""

import datetime
import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.e2e.browser import login

pytestmark = pytest.mark.e2e


@pytest.fixture
def plan_rows(area):
    """Rows in both townships: 茅垭村's road done, its cultural room overdue; 大寺村's water in progress."""
    plan_a = factories.plan(area.village_a, 2017)
    factories.done_task(plan_a, planned_funds=Decimal(100), invested_funds=Decimal(80))
    factories.task(plan_a, category="culture_room", item="村文化室", deadline=datetime.date(2017, 8, 31))
    plan_b = factories.plan(area.village_b, 2017)
    factories.task(
        plan_b,
        category="water",
        item="安全饮用水",
        deadline=datetime.date(2017, 10, 31),
        status="in_progress",
        progress=40,
    )


def test_a_district_admin_sees_the_charts_and_drills_down_to_a_township(page, personas, area, plan_rows, tmp_path):
    login(page, personas.district_admin.username)
    page.goto("/dashboard/")
    expect(page.get_by_test_id("dashboard-title")).to_contain_text("巴州区 2017年脱贫攻坚驾驶舱")
    for chart in ("chart-completion", "chart-funds", "chart-overdue"):
        expect(page.get_by_test_id(chart).locator("svg").first).to_be_attached()
        assert page.get_by_test_id(chart).locator("svg path, svg rect").count() > 0
    expect(page.get_by_test_id("rows-total")).to_have_text("3")
    expect(page.get_by_test_id("rows-overdue")).to_have_text("1")
    page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
    assert (tmp_path / "dashboard.png").stat().st_size > 10_000

    page.get_by_test_id("township-ranking").get_by_role("link", name="白庙乡").click()
    expect(page).to_have_url(re.compile(rf"\?township={area.township_a.pk}$"))
    expect(page.get_by_test_id("dashboard-title")).to_contain_text("白庙乡")
    expect(page.get_by_test_id("rows-total")).to_have_text("2")
    expect(page.get_by_test_id("village-table")).to_contain_text("茅垭村")
    expect(page.get_by_test_id("chart-funds").locator("svg").first).to_be_attached()
