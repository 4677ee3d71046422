"""The dashboard in a real browser: a district admin sees the charts drawn (ECharts, SVG renderer, offline)
and follows a township's link to its own dashboard."""

import datetime
import re
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.e2e.browser import login, no_sideways_scroll

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


# ---------------------------------------------------------------------------------------------
# Figures that lead somewhere, charts that answer a question, a phone that fits (issue 15)
# ---------------------------------------------------------------------------------------------

SCREENS = Path(__file__).resolve().parent.parent.parent / "var" / "e2e" / "screens"
PHONE = {"width": 390, "height": 844}
DESK = {"width": 1440, "height": 900}
TOWNSHIP_NAMES = [
    *("水宁寺镇", "曾口镇", "清江镇", "化成镇", "鼎山镇"),
    *("大罗镇", "平梁镇", "梁永镇", "兴文镇", "东城街道"),
]


@pytest.fixture
def district_rows(area, plan_rows):
    """Ten more townships, the i-th a poor village with a 2017 plan of i rows done, 10 - i due at the year's end and,
    in every other township, one overdue; funds in the thousands of 万元 (separators show)."""
    for i, name in enumerate(TOWNSHIP_NAMES, start=1):
        township = factories.township(number=300 + i, name=name)
        village = factories.poor_village(township, number=1, name=f"{name[:2]}村")
        plan = factories.plan(village, 2017)
        for _ in range(i):
            factories.done_task(plan, planned_funds=Decimal("1234.5"), invested_funds=Decimal("1000.25"))
        for _ in range(10 - i):
            factories.task(plan, deadline=datetime.date(2017, 12, 31), planned_funds=Decimal("300"))
        if i % 2:
            factories.task(plan, item="逾期工程", deadline=datetime.date(2017, 9, 1))


def test_clicking_overdue_opens_the_queue_filtered_with_the_same_count(page, personas, area, district_rows):
    page.set_viewport_size(DESK)
    login(page, personas.district_admin.username)
    page.goto("/dashboard/")
    overdue = int(page.get_by_test_id("rows-overdue").inner_text())
    assert overdue == 6  # 茅垭村's cultural room and five townships' overdue rows
    # Money in 万元 with two decimals and separators.
    assert re.fullmatch(r"\d{1,3}(,\d{3})+\.\d{2}", page.get_by_test_id("funds-planned").inner_text())
    # The completion chart: one bar label per area, best first (水宁寺镇 is last by completion: 1 of 10).
    expect(page.get_by_test_id("chart-completion").locator("svg").first).to_be_attached()
    chart_text = page.get_by_test_id("chart-completion").inner_text()
    for name in TOWNSHIP_NAMES:
        assert name in chart_text
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / "dashboard-figures-1440x900.png"), full_page=True)

    page.get_by_test_id("link-rows-overdue").click()
    expect(page).to_have_url(re.compile(r"/supervision/queue/\?view=overdue&year=2017$"))
    expect(page.get_by_test_id("queue-count")).to_have_text(str(overdue))

    # A township's overdue figure in the ranking leads to that township's rows in the queue.
    page.goto("/dashboard/")
    row = page.get_by_test_id("ranking-row").filter(has_text="清江镇")
    township_overdue = int(row.locator("td").nth(5).inner_text())
    row.get_by_test_id("link-area-overdue").click()
    expect(page).to_have_url(re.compile(r"/supervision/queue/\?view=overdue&year=2017&township=\d+$"))
    expect(page.get_by_test_id("queue-count")).to_have_text(str(township_overdue))


def test_on_a_phone_the_dashboard_fits_and_names_stay_on_one_line(page, personas, area, district_rows):
    page.set_viewport_size(PHONE)
    login(page, personas.district_admin.username)
    page.goto("/dashboard/")
    expect(page.get_by_test_id("chart-completion").locator("svg").first).to_be_attached()
    assert no_sideways_scroll(page, PHONE["width"])
    # Township names on one line (not one character per line), in the ranking table and the chart's box.
    heights = page.locator("[data-testid=ranking-row] td.dash-name").evaluate_all(
        "cells => cells.map(c => c.getBoundingClientRect().height)"
    )
    assert heights and max(heights) < 40
    chart = page.get_by_test_id("chart-completion").bounding_box()
    assert chart["x"] >= 0 and chart["x"] + chart["width"] <= PHONE["width"]
    # The wide ranking table scrolls inside its own box, never the page.
    box = page.get_by_test_id("township-ranking").locator(".table-responsive").bounding_box()
    assert box["x"] + box["width"] <= PHONE["width"]
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / "dashboard-figures-390x844.png"), full_page=True)
    # A township's dashboard (its villages' table) and the rows list behind a figure fit too.
    page.get_by_test_id("township-ranking").get_by_role("link", name="白庙乡").click()
    expect(page.get_by_test_id("village-table")).to_contain_text("茅垭村")
    assert no_sideways_scroll(page, PHONE["width"])
    page.get_by_test_id("link-rows-total").click()
    expect(page.get_by_test_id("rows-count")).to_have_text("2")
    assert no_sideways_scroll(page, PHONE["width"])


def test_a_village_cadre_sees_the_villages_figures_first_on_a_phone(page, personas, area, plan_rows):
    page.set_viewport_size(PHONE)
    login(page, personas.village_cadre.username)
    page.goto("/")
    block = page.get_by_test_id("area-figures")
    expect(block).to_contain_text("茅垭村 2017年")
    assert no_sideways_scroll(page, PHONE["width"])
    overdue = block.get_by_test_id("area-rows-overdue").locator("strong").inner_text()
    assert overdue == "1"
    block.get_by_test_id("area-rows-overdue").click()
    expect(page).to_have_url(re.compile(r"/dashboard/rows/\?state=overdue&year=2017&village=\d+$"))
    expect(page.get_by_test_id("rows-count")).to_have_text(overdue)
    expect(page.get_by_test_id("row-item")).to_contain_text("村文化室")
    assert no_sideways_scroll(page, PHONE["width"])
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.goto("/")
    page.screenshot(path=str(SCREENS / "todo-area-figures-390x844.png"), full_page=True)
