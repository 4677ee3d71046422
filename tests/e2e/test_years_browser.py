"""Years in a real browser (issue 18): a leader switches the dashboard to the year before and sees last year's
figures, opens the comparison (年度对比) and its chart is drawn; the selector and the comparison fit a 390 px phone."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.browser import login, no_sideways_scroll
from tests.test_years import build_years

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def years(area):
    return build_years(area)


def test_a_leader_switches_the_dashboard_to_last_year_and_compares_the_two(page, personas, area, years):
    login(page, personas.leader.username)
    page.goto("/dashboard/")
    expect(page.get_by_test_id("dashboard-title")).to_contain_text("巴州区 2017年脱贫攻坚驾驶舱")
    expect(page.get_by_test_id("rows-total")).to_have_text("4")

    # Choosing 2016 in the selector reloads the dashboard for 2016: 2016's three rows, two of them done.
    with page.expect_navigation(timeout=30_000):  # a busy CI machine computes the other year afresh
        page.get_by_label("年度", exact=True).select_option("2016")
    expect(page).to_have_url(re.compile(r"/dashboard/\?year=2016$"))
    expect(page.get_by_test_id("dashboard-title")).to_contain_text("巴州区 2016年脱贫攻坚驾驶舱")
    expect(page.get_by_test_id("rows-total")).to_have_text("3")
    expect(page.get_by_test_id("rows-done")).to_have_text("2")
    expect(page.get_by_label("年度", exact=True)).to_have_value("2016")

    # The comparison, from the dashboard's link: 2016 beside 2015, then 2017 beside 2016 through its own selector.
    page.get_by_test_id("compare-link").click()
    expect(page.get_by_test_id("compare-title")).to_contain_text("2016年与2015年对比")
    page.wait_for_load_state("load")  # the selector's script is attached (it is at the end of the page)
    with page.expect_navigation(timeout=30_000):  # a busy CI machine computes the other year afresh
        page.get_by_label("年度", exact=True).select_option("2017")
    expect(page.get_by_test_id("compare-title")).to_contain_text("2017年与2016年对比")
    expect(page.get_by_test_id("this-rows_total")).to_have_text("4")
    expect(page.get_by_test_id("last-rows_total")).to_have_text("3")
    expect(page.get_by_test_id("change-rows_total")).to_have_text("+1")
    chart = page.get_by_test_id("chart-compare")
    expect(chart.locator("svg").first).to_be_attached()
    assert chart.locator("svg path").count() > 0

    # On a phone: the selector and the comparison fit the screen.
    page.set_viewport_size(PHONE)
    page.reload()
    expect(page.get_by_label("年度", exact=True)).to_be_visible()
    assert no_sideways_scroll(page, PHONE["width"])
    box = chart.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
