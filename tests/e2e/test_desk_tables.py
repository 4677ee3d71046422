"""The district office at a desk (1440×900) with a 180-row plan, as issue 15 tells it: the table's header stays in
view when the page is scrolled, a click on a column heading sorts the rows (and a second click reverses them), typing
in a column's filter hides the rows that do not match; the inline row of a row with fund sources shows its planned
funds instead of offering them. On a phone (390×844) the same page does not scroll sideways (the table scrolls in
its own box). Screenshots of both go to var/e2e/screens/.
"""

from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tasks.models import Task
from tests import factories
from tests.e2e.browser import login, no_sideways_scroll

pytestmark = pytest.mark.e2e

DESK = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
SCREENS = Path(__file__).resolve().parents[2] / "var" / "e2e" / "screens"
ROWS = 180


@pytest.fixture
def big_plan(area):
    """茅垭村's draft plan with 180 rows: 30 village rows and 150 rows of 50 households, every planned amount
    different (1 … 180 万元, in a shuffled order), every fifth row a 危房改造, every row with two fund lines."""
    plan = factories.plan(area.village_a, 2017)
    department = factories.department(area.district, name="区住房和城乡建设局")
    households = [factories.household(area.village_a, members=1) for _ in range(50)]
    for i in range(ROWS):
        household = households[(i - 30) // 3] if i >= 30 else None
        amount = Decimal((i * 37 + 5) % ROWS + 1)
        housing = i % 5 == 0
        task = factories.task(
            plan,
            household,
            item=f"危房改造{i:03d}" if housing else f"产业扶持{i:03d}",
            category="housing" if housing else "industry",
            planned_funds=amount,
            responsible_unit=department.name if housing else "白庙乡人民政府",
            department=department if housing else None,
        )
        factories.fund_line(task, "central", amount - Decimal("0.5"))
        factories.fund_line(task, "self", Decimal("0.5"))
    return plan


def first_visible_item(page) -> str:
    return (
        page.get_by_test_id("plan-table")
        .locator('tr[data-testid="task-row"]:visible')
        .first.get_by_test_id("task-item")
        .inner_text()
    )


def test_a_long_plan_keeps_its_header_sorts_and_filters_by_column_at_a_desk(page, personas, big_plan):
    page.set_viewport_size(DESK)
    login(page, personas.district_admin.username)
    page.goto(f"/tasks/plans/{big_plan.pk}/")
    table = page.get_by_test_id("plan-table")
    rows = table.locator('tr[data-testid="task-row"]')
    expect(rows).to_have_count(ROWS)
    expect(table.get_by_role("button", name="计划资金")).to_be_visible()  # tables.js has set the table up
    expect(table.locator("thead th").nth(7)).to_have_text("责任单位")
    assert no_sideways_scroll(page, DESK["width"])
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / "plan-desk-1440.png"))

    # The header stays in view after scrolling far down the page.
    heading = table.locator("thead th").nth(1)
    page.evaluate("window.scrollTo({top: 6000, behavior: 'instant'})")
    page.wait_for_function("window.scrollY >= 6000")
    box = heading.bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= DESK["height"], box
    assert rows.first.bounding_box()["y"] < 0  # the table's first rows are scrolled out of view
    page.screenshot(path=str(SCREENS / "plan-desk-1440-scrolled.png"))
    page.evaluate("window.scrollTo({top: 0, behavior: 'instant'})")

    # Sorting by 计划资金: the smallest amount first, then the largest, then the page's own order again.
    tasks = list(Task.objects.filter(plan=big_plan).order_by("planned_funds"))
    cheapest, dearest = tasks[0], tasks[-1]
    original_first = first_visible_item(page)
    assert original_first == "危房改造000"  # the page's own order: village rows first, then by deadline and id
    sort = table.get_by_role("button", name="计划资金")
    sort.click()
    expect(table.locator("thead th").nth(4)).to_have_attribute("aria-sort", "ascending")
    assert first_visible_item(page) == cheapest.item != original_first
    expect(rows.first.get_by_test_id("planned-funds")).to_have_text("1.00")
    sort.click()
    expect(table.locator("thead th").nth(4)).to_have_attribute("aria-sort", "descending")
    assert first_visible_item(page) == dearest.item
    expect(rows.first.get_by_test_id("planned-funds")).to_have_text(f"{ROWS}.00")
    sort.click()
    expect(table.locator("thead th").nth(4)).to_have_attribute("aria-sort", "none")
    assert first_visible_item(page) == original_first

    # Filtering by 项目: only the 36 危房改造 rows stay; then by 计划资金 > 100 as well.
    page.get_by_label("筛选：项目").fill("危房")
    visible = table.locator('tr[data-testid="task-row"]:visible')
    housing = [t for t in tasks if t.item.startswith("危房")]
    expect(visible).to_have_count(len(housing))
    assert all(text.startswith("危房改造") for text in visible.get_by_test_id("task-item").all_inner_texts())
    expect(page.get_by_test_id("table-status")).to_have_text(
        f"筛选后显示 {len(housing)} / {ROWS} 行（合计仍按全部任务计算）。"
    )
    page.get_by_label("筛选：计划资金（万元）").fill(">100")
    dear_housing = [t for t in housing if t.planned_funds > 100]
    expect(visible).to_have_count(len(dear_housing))
    # The 责任单位 column names the department of those rows.
    assert set(visible.get_by_test_id("responsible-unit").all_inner_texts()) == {"区住房和城乡建设局"}
    page.get_by_label("筛选：项目").fill("")
    page.get_by_label("筛选：计划资金（万元）").fill("")
    expect(visible).to_have_count(ROWS)
    expect(page.get_by_test_id("table-status")).to_be_hidden()


def test_the_inline_row_of_a_row_with_fund_sources_shows_its_planned_funds(page, personas, big_plan):
    page.set_viewport_size(DESK)
    task = Task.objects.filter(plan=big_plan, household__isnull=True).order_by("deadline", "id").first()
    login(page, personas.village_cadre.username)
    page.goto(f"/tasks/plans/{big_plan.pk}/")
    page.locator(f"#task-{task.pk}").get_by_test_id("inline-edit").click()
    form_row = page.locator(f'[data-testid="inline-form-row"][data-task-id="{task.pk}"]')
    expect(form_row).to_be_visible()
    expect(form_row.locator('[name="planned_funds"]')).to_have_count(0)
    expect(form_row.get_by_test_id("planned-funds")).to_have_text(f"{task.planned_funds:.2f}")
    expect(form_row.get_by_role("link", name="按资金来源编辑")).to_have_attribute("href", f"/tasks/{task.pk}/edit/")
    form_row.locator('[name="status"]').select_option("in_progress")
    form_row.locator('[name="progress"]').fill("30")
    form_row.get_by_test_id("inline-save").click()
    saved = page.locator(f'#task-{task.pk}[data-testid="task-row"]')
    expect(saved.get_by_test_id("progress")).to_have_text("30%")
    task.refresh_from_db()
    assert (task.progress, task.version) == (30, 2)


def test_on_a_phone_the_plan_page_does_not_scroll_sideways(page, personas, big_plan):
    page.set_viewport_size(PHONE)
    login(page, personas.village_cadre.username)
    page.goto(f"/tasks/plans/{big_plan.pk}/")
    expect(page.get_by_test_id("plan-table").locator('tr[data-testid="task-row"]')).to_have_count(ROWS)
    assert no_sideways_scroll(page, PHONE["width"])
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / "plan-phone-390.png"))
