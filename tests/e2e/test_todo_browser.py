"""我的待办 in a real browser, on a phone-sized screen (390 px), as the issue tells it.

茅垭村's cadre signs in and lands on their to-do: an overdue plan row (逾期 15 天, red) and a finding to answer.
They tap the finding, answer it through the finding's own answer form, come back, and it is gone from the to-do.
The 挂包 leader of 白庙乡 signs in, sees the escalation put before them with its countdown (临期 4 天), taps 回复,
records their response on the escalation's page, and the escalation leaves their to-do.
"""

import datetime
import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from supervision.models import Escalation, Rectification
from tests import factories
from tests.e2e.browser import login, logout
from tests.e2e.test_plan_editing import tiny_png

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def cadre_work(area):
    """茅垭村's overdue cultural room (due 2017-08-31: 15 days late on 2017-09-15), a finding against the village
    with its rectification to do, flagged to the 挂包 leader of 白庙乡, who must answer by 2017-09-19."""
    plan = factories.plan(area.village_a, 2017)
    room = factories.task(
        plan,
        category="culture_room",
        item="村文化室",
        quantity=Decimal("1"),
        unit="处",
        deadline=datetime.date(2017, 8, 31),
        status="in_progress",
        progress=80,
        responsible_person="秦和平",
    )
    finding = factories.finding(area.village_a, type="records", description="贫困户档案资料不全", escalate=True)
    rectification = factories.rectification(finding, deadline=datetime.date(2017, 10, 31))
    leader = factories.patch_leader_user([area.township_a], username="guabao", name="李挂包")
    escalation = Escalation.objects.create(
        finding=finding,
        reason=Escalation.Reason.MAJOR_FINDING,
        leader=leader,
        opened_on=datetime.date(2017, 9, 12),
        respond_by=datetime.date(2017, 9, 19),
    )
    return {
        "room": room,
        "finding": finding,
        "rectification": rectification,
        "leader": leader,
        "escalation": escalation,
    }


def section(page, key):
    return page.locator(f'[data-testid="todo-section"][data-section="{key}"]')


def test_a_cadre_answers_a_finding_from_the_to_do_and_the_leader_responds_to_the_escalation(
    page, personas, area, cadre_work
):
    page.set_viewport_size(PHONE)
    room, finding, escalation = cadre_work["room"], cadre_work["finding"], cadre_work["escalation"]

    # The cadre lands on their to-do: the overdue row with its red countdown, and the finding to answer.
    login(page, personas.village_cadre.username)
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_role("heading", name="我的待办")).to_be_visible()
    overdue = section(page, "rows_overdue").locator(f'[data-testid="todo-item"][data-id="{room.pk}"]')
    expect(overdue).to_contain_text("村文化室")
    expect(overdue.get_by_test_id("todo-badge")).to_have_text("逾期 15 天")
    expect(overdue.get_by_test_id("todo-badge")).to_have_attribute("data-tone", "overdue")
    expect(overdue.get_by_test_id("todo-action")).to_have_attribute("href", f"/tasks/{room.pk}/progress/")
    to_answer = section(page, "findings_to_answer").get_by_test_id("todo-item")
    expect(to_answer).to_have_count(1)
    expect(to_answer).to_contain_text("贫困户档案资料不全")
    expect(page.get_by_test_id("nav-todo-count")).to_have_text("2")
    # Phone first: nothing is wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    # One tap to the finding's answer form; answering takes it off the to-do.
    to_answer.get_by_test_id("todo-action").click()
    expect(page).to_have_url(re.compile(rf"/supervision/findings/{finding.pk}/"))
    answer = page.get_by_test_id("answer-form")
    answer.get_by_test_id("answer-result").fill("已补齐贫困户档案，逐户核对签字。")
    answer.get_by_test_id("answer-evidence").set_input_files(
        files=[{"name": "档案.png", "mimeType": "image/png", "buffer": tiny_png()}]
    )
    answer.get_by_test_id("answer-save").click()
    expect(page.get_by_test_id("rectification-status")).to_have_text("待复查")
    page.get_by_test_id("nav-todo").click()
    expect(section(page, "findings_to_answer").get_by_test_id("todo-item")).to_have_count(0)
    expect(section(page, "findings_to_answer").get_by_test_id("todo-empty")).to_have_text("没有待整改的问题。")
    expect(section(page, "rows_overdue").get_by_test_id("todo-item")).to_have_count(1)
    expect(page.get_by_test_id("nav-todo-count")).to_have_text("1")
    assert Rectification.objects.get(pk=cadre_work["rectification"].pk).status == Rectification.Status.AWAITING_RECHECK
    logout(page)

    # The 挂包 leader of 白庙乡 sees the escalation with its countdown and records a response.
    login(page, cadre_work["leader"].username)
    mine = section(page, "escalations_mine").locator(f'[data-testid="todo-item"][data-id="{escalation.pk}"]')
    expect(mine).to_contain_text("贫困户档案资料不全")
    expect(mine.get_by_test_id("todo-badge")).to_have_text("临期 4 天")
    expect(mine.get_by_test_id("todo-badge")).to_have_attribute("data-tone", "due")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    mine.get_by_test_id("todo-action").click()
    expect(page).to_have_url(re.compile(rf"/supervision/escalations/{escalation.pk}/"))
    form = page.get_by_test_id("respond-form")
    form.get_by_test_id("response-text").fill("已约谈乡党委书记，9月20日前补齐档案，区扶贫局派员指导。")
    form.get_by_test_id("respond-save").click()
    expect(page.get_by_test_id("answered-badge")).to_be_visible()
    expect(page.get_by_test_id("response")).to_contain_text("已约谈乡党委书记")
    page.get_by_test_id("nav-todo").click()
    expect(section(page, "escalations_mine").get_by_test_id("todo-item")).to_have_count(0)

    escalation.refresh_from_db()
    assert escalation.responded_by == cadre_work["leader"] and escalation.response.startswith("已约谈")
