"""An htmx save that fails says so (issue 17), in a real browser.

htmx swaps nothing when the answer is an error or when no answer comes: the user saw the spinner stop and nothing
else. js/site.js now shows the alert of base.html (role="alert") with the server's own message (an error page's
data-error-message), a sentence for the status, or 网络连接失败 when offline. Three ways an inline save of the plan
table fails: the server breaks (500), the page's CSRF token no longer holds (403, 页面已过期), the network is gone.
Nothing is saved in any of them, and the form stays open to try again.
"""

from decimal import Decimal
from unittest import mock

import pytest
from playwright.sync_api import expect

from bazhou.surfaces.errors import SERVER_ERROR
from tests import factories
from tests.e2e.test_plan_editing import open_inline_form, open_plan_as_cadre

pytestmark = pytest.mark.e2e


@pytest.fixture
def plan_and_row(area):
    plan = factories.plan(area.village_a, 2017)
    room = factories.task(plan, item="村文化室", planned_funds=Decimal("100"), responsible_person="秦和平")
    return plan, room


def try_to_save(page, room, funds: str):
    form_row = open_inline_form(page, room)
    alert = page.get_by_test_id("htmx-error")
    expect(alert).to_be_hidden()
    form_row.locator('input[name="planned_funds"]').fill(funds)
    form_row.get_by_test_id("inline-save").click()
    return alert


def assert_nothing_saved(page, room):
    expect(page.locator(f"#task-{room.pk}")).to_have_attribute("data-testid", "inline-form-row")
    room.refresh_from_db()
    assert (room.planned_funds, room.version) == (Decimal("100"), 1)


def test_a_server_error_on_an_inline_save_shows_the_servers_message(page, personas, area, plan_and_row):
    plan, room = plan_and_row
    open_plan_as_cadre(page, personas, area, plan)
    with mock.patch("tasks.services.task_update", side_effect=RuntimeError("disk on fire")):
        alert = try_to_save(page, room, "120")
        expect(alert).to_be_visible()
        expect(alert).to_have_attribute("role", "alert")
        expect(alert).to_contain_text(SERVER_ERROR)
    assert_nothing_saved(page, room)

    # Closing it hides it; the next save that works leaves it hidden.
    alert.locator("[data-htmx-error-close]").click()
    expect(alert).to_be_hidden()


def test_an_expired_page_on_an_inline_save_says_to_reload(page, personas, area, plan_and_row):
    plan, room = plan_and_row
    open_plan_as_cadre(page, personas, area, plan)
    page.context.clear_cookies(name="csrftoken")  # as after signing in anew elsewhere: the page's token is stale
    alert = try_to_save(page, room, "120")
    expect(alert).to_contain_text("页面已过期，请刷新后重试。")
    assert_nothing_saved(page, room)


def test_an_inline_save_without_network_says_so(page, personas, area, plan_and_row):
    plan, room = plan_and_row
    open_plan_as_cadre(page, personas, area, plan)
    form_row = open_inline_form(page, room)
    form_row.locator('input[name="planned_funds"]').fill("120")
    page.context.set_offline(True)
    try:
        form_row.get_by_test_id("inline-save").click()
        expect(page.get_by_test_id("htmx-error")).to_contain_text("网络连接失败，请检查网络后重试")
    finally:
        page.context.set_offline(False)
    assert_nothing_saved(page, room)
