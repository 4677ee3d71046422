"""Change requests in the browser, as issue 13 tells it.

茅垭村's first secretary, on her phone (390 px), asks for more time on the overdue 村文化室 (due 2017-08-31) of the
approved plan. The row stays overdue and shows 变更审批中. The district admin sees the count in the navigation,
approves it from the pending list; the row then shows the new deadline beside the original one (原定), and the
change ledger lists the change.
"""

import datetime
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from tasks import services
from tasks.models import ChangeRequest, Task
from tests import factories
from tests.e2e.browser import login, logout

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def overdue_row(area, personas):
    """茅垭村's approved 2017 plan; 村文化室 is overdue (due 2017-08-31, today 2017-09-15)."""
    plan = factories.plan(area.village_a, 2017)
    room = factories.task(
        plan,
        category="culture_room",
        item="村文化室",
        quantity=Decimal("1"),
        unit="处",
        planned_funds=Decimal("100"),
        responsible_person="秦和平",
    )
    factories.task(plan, item="通村硬化路", planned_funds=Decimal("30"), deadline=datetime.date(2017, 10, 31))
    services.plan_approve(plan_id=plan.pk, user=personas.district_admin)
    return plan, room


def test_a_cadre_asks_for_more_time_and_the_district_admin_approves(page, personas, overdue_row):
    plan, room = overdue_row

    # The first secretary, on her phone, asks for a deadline extension.
    page.set_viewport_size(PHONE)
    login(page, personas.village_cadre.username)
    page.goto(f"/tasks/plans/{plan.pk}/")
    row = page.locator(f"#task-{room.pk}")
    expect(row.get_by_test_id("overdue-badge")).to_be_visible()
    expect(row.get_by_test_id("inline-edit")).to_have_count(0)
    row.get_by_test_id("request-change").click()
    form = page.get_by_test_id("change-request-form")
    expect(form.get_by_test_id("current-values")).to_contain_text("2017-08-31")
    form.locator('input[name="deadline"]').fill("2017-12-31")
    form.locator('select[name="reason_category"]').select_option(label="自然灾害")
    form.locator('textarea[name="reason"]').fill("7月暴雨冲毁施工便道，申请顺延至年底")
    form.get_by_test_id("change-request-submit").click()
    expect(page.get_by_test_id("change-state")).to_have_text("待审批")
    expect(page.get_by_test_id("change-rows")).to_contain_text("2017-12-31")
    # The phone page does not scroll sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    # Back on the plan: still overdue, and pending.
    page.goto(f"/tasks/plans/{plan.pk}/")
    row = page.locator(f"#task-{room.pk}")
    expect(row.get_by_test_id("overdue-badge")).to_be_visible()
    expect(row.get_by_test_id("change-pending")).to_have_text("变更审批中")
    expect(row.get_by_test_id("deadline")).to_contain_text("2017-08-31")
    logout(page)

    # The district admin approves it from the pending list.
    page.set_viewport_size({"width": 1280, "height": 900})
    login(page, personas.district_admin.username)
    expect(page.get_by_test_id("nav-change-count")).to_have_text("1")
    page.get_by_test_id("nav-change-requests").click()
    card = page.get_by_test_id("pending-change").filter(has_text="村文化室")
    expect(card).to_contain_text("7月暴雨冲毁施工便道")
    expect(card.get_by_test_id("change-rows")).to_contain_text("2017-08-31")
    card.get_by_test_id("approve-change").click()
    expect(page.get_by_role("alert")).to_contain_text("已批准")
    expect(page.get_by_test_id("no-pending")).to_be_visible()
    expect(page.get_by_test_id("nav-change-count")).to_have_count(0)

    # The row shows both deadlines and no longer counts as overdue against the current one.
    page.goto(f"/tasks/plans/{plan.pk}/")
    deadline = page.locator(f"#task-{room.pk}").get_by_test_id("deadline")
    expect(deadline).to_contain_text("2017-12-31")
    expect(deadline.get_by_test_id("baseline-deadline")).to_contain_text("2017-08-31")

    # The change ledger lists it.
    page.goto(f"/tasks/changes/ledger/?village={plan.village_id}")
    entry = page.get_by_test_id("ledger-row").filter(has_text="村文化室")
    expect(entry).to_contain_text("完成时限：2017-08-31 → 2017-12-31")
    expect(entry.get_by_test_id("ledger-state")).to_have_text("已批准")

    task = Task.objects.get(pk=room.pk)
    assert (task.deadline, task.baseline_deadline, task.change_count) == (
        datetime.date(2017, 12, 31),
        datetime.date(2017, 8, 31),
        1,
    )
    assert ChangeRequest.objects.get().decided_by == personas.district_admin
