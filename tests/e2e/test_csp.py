"""The pages keep to the Content-Security-Policy in a real browser (the ``page`` fixture fails a test on any
violation): the charts, the htmx filters and inline editing, the confirm dialogs, the print pages, the admin;
and an ID number typed into the household search box is searched by POST, never through the address."""

import datetime
import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from bazhou.core.models import User
from households.models import Member
from tests import factories
from tests.e2e.browser import PASSWORD, login

pytestmark = pytest.mark.e2e


@pytest.fixture
def plan(area):
    plan = factories.plan(area.village_a, 2017)
    factories.done_task(plan, planned_funds=Decimal(100), invested_funds=Decimal(80))
    factories.task(plan, category="culture_room", item="村文化室", deadline=datetime.date(2017, 8, 31))
    factories.task(plan, area.household_a, item="危房改造", category="housing", deadline=datetime.date(2017, 10, 31))
    factories.rectification(factories.finding(area.household_a, type="housing", description="仍住C级危房"))
    return plan


def test_the_pages_draw_and_work_without_breaking_the_policy(page, personas, area, plan):
    login(page, personas.district_admin.username)

    # The dashboard: ECharts draws SVG; hovering a bar opens its tooltip.
    page.goto("/dashboard/")
    chart = page.get_by_test_id("chart-completion")
    expect(chart.locator("svg").first).to_be_attached()
    chart.hover()
    page.mouse.move(0, 0)
    page.goto("/dashboard/print/")
    expect(page.get_by_test_id("chart-funds").locator("svg").first).to_be_attached()

    # A filtered list re-rendered by htmx, with its loading indicator.
    page.goto("/villages/")
    page.get_by_label("乡镇（街道）").select_option(area.township_a.pk)
    expect(page).to_have_url(re.compile(rf"township={area.township_a.pk}"))
    expect(page.get_by_test_id("village-table")).not_to_contain_text("大寺村")

    # The plan: an inline edit saved through htmx, and the history of the row.
    page.goto(f"/tasks/plans/{plan.pk}/")
    room = plan.tasks.get(item="村文化室")
    page.locator(f"#task-{room.pk}").get_by_test_id("inline-edit").click()
    form_row = page.locator(f'[data-testid="inline-form-row"][data-task-id="{room.pk}"]')
    form_row.locator('input[name="responsible_person"]').fill("秦和平")
    form_row.get_by_test_id("inline-save").click()
    expect(page.locator(f"#task-{room.pk}")).to_contain_text("秦和平")
    page.goto(f"/tasks/{room.pk}/history/")
    expect(page.locator("body")).to_contain_text("秦和平")

    # Households, supervision, and the admin.
    for url in ("/households/", f"/households/{area.household_a.pk}/", "/supervision/queue/", "/supervision/findings/"):
        page.goto(url)
        expect(page.locator("main")).to_be_visible()


def test_the_admin_keeps_to_the_policy(page, area, plan):
    User.objects.create_superuser(username="root", password=PASSWORD)
    login(page, "root")
    for url in (
        "/admin/",
        "/admin/households/household/",
        f"/admin/households/household/{area.household_a.pk}/change/",
    ):
        page.goto(url)
        expect(page.locator("#content")).to_be_visible()
    page.goto("/admin/supervision/finding/")
    expect(page.locator(".overdue-deadline, #result_list").first).to_be_visible()


def test_a_violation_is_noticed(page, personas):
    """The checking itself: an inline script and a <style> element, both blocked and both reported."""
    login(page, personas.village_cadre.username)
    page.evaluate(
        "var st = document.createElement('style'); st.textContent = 'body{color:red}'; document.head.append(st)"
    )
    page.evaluate("var s = document.createElement('script'); s.textContent = 'window.ran = 1'; document.body.append(s)")
    page.wait_for_timeout(300)
    assert page.evaluate("window.ran") is None
    noticed = list(page.bazhou_errors)
    page.bazhou_errors.clear()  # the test passes when they were caught
    assert any("style-src" in e for e in noticed), noticed
    assert any("script-src" in e for e in noticed), noticed


def test_an_id_number_typed_into_the_search_box_goes_by_post(page, personas, area):
    head = Member.objects.get(household=area.household_a, relation=Member.Relation.HEAD)
    login(page, personas.township_a.username)
    page.goto("/households/")
    requests = []
    page.on("request", lambda request: requests.append((request.method, request.url, request.post_data or "")))
    search = page.get_by_placeholder("户主姓名或户编号")
    search.fill(head.id_number)
    with page.expect_navigation():
        search.press("Enter")
    expect(page.get_by_test_id("id-search-note")).to_contain_text(head.id_number[:6])
    expect(page.get_by_test_id("household-table")).to_contain_text(area.household_a.number)
    assert head.id_number not in page.url
    # Exactly one request carried the number, a POST, in its body; no address ever held it.
    assert [method for method, url, body in requests if head.id_number in body] == ["POST"]
    assert [url for method, url, body in requests if head.id_number in url] == []
