"""The monthly trend in a real browser: a leader opens the dashboard of a district with 12 months of snapshots and
the trend chart is drawn (ECharts, SVG renderer, offline) from 12 points, a corrected month marked, on a phone too."""

import datetime
import json

import pytest
from playwright.sync_api import expect

from supervision import snapshots
from tests.e2e.browser import login, no_sideways_scroll

pytestmark = pytest.mark.e2e

SEPTEMBER = datetime.date(2017, 9, 1)


@pytest.fixture
def twelve_months(area, personas):
    """12 months of district snapshots (2016-10 … 2017-09), the overdue rows growing by one a month; August
    corrected by the district office."""

    def figures_for(i):
        def figures(district, month):
            return [
                {
                    "township": None,
                    "village": None,
                    "figures": {
                        "as_of": month.replace(day=25).isoformat(),
                        "rows_total": 20,
                        "rows_done": i,
                        "rows_overdue": i,
                        "done_percent": f"{i * 5}.0",
                        "funds_invested": f"{i * 10}.0000",
                    },
                }
            ]

        return figures

    for i in range(12):
        snapshots.take(
            area.district, snapshots.months_back(SEPTEMBER, 11 - i), kind="backfill", figures_of=figures_for(i)
        )
    snapshots.take(
        area.district,
        datetime.date(2017, 8, 1),
        user=personas.district_admin,
        kind="on_demand",
        correct=True,
        reason="乡镇补报",
        figures_of=figures_for(9),
    )


def test_a_leader_sees_the_monthly_trend_chart_drawn_from_12_points(page, personas, twelve_months):
    login(page, personas.leader.username)
    page.goto("/dashboard/")
    chart = page.get_by_test_id("chart-trend")
    expect(chart.locator("svg").first).to_be_attached()
    expect(chart).to_have_attribute("data-drawn", "1")
    assert chart.locator("svg path").count() > 0
    data = json.loads(page.locator("#dashboard-trend").text_content())
    assert len(data["labels"]) == 12 and data["labels"][0] == "2016-10" and data["labels"][-1] == "2017-09"
    assert data["overdue"][-2] == 9 and data["corrected"][-2] is True
    expect(page.get_by_test_id("trend-change")).to_contain_text("较上月（2017年8月）")
    expect(page.get_by_test_id("trend-row")).to_have_count(12)


def test_the_trend_fits_a_phone(page, personas, twelve_months):
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, personas.leader.username)
    page.goto("/dashboard/")
    expect(page.get_by_test_id("chart-trend").locator("svg").first).to_be_attached()
    assert no_sideways_scroll(page, 390)
