"""Supervision in the browser, as the issue tells it.

A supervisor opens the review queue, files a finding on an overdue plan row of 茅垭村 (the form comes
prefilled from the row), and lands on the finding with its rectification 待整改. The village's cadre signs
in, finds it in their list, and answers it with a result and a photo (待复查). The supervisor signs in
again, sees the answer and the photo, rechecks and closes it (已销号).
"""

import datetime
import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from supervision.models import Finding, Rectification
from tests import factories
from tests.e2e.browser import login, logout
from tests.e2e.test_plan_editing import tiny_png

pytestmark = pytest.mark.e2e


@pytest.fixture
def late_room(area):
    """茅垭村's cultural room: due 2017-08-31 and 80 % done, so 15 days overdue on the demo's today (2017-09-15)."""
    plan = factories.plan(area.village_a, 2017)
    return factories.task(
        plan,
        category="culture_room",
        item="村文化室",
        quantity=Decimal("1"),
        unit="处",
        deadline=datetime.date(2017, 8, 31),
        status="in_progress",
        progress=80,
        responsible_unit="白庙乡人民政府",
        responsible_person="秦和平",
        responsible_phone="13800000000",
    )


def test_a_finding_is_filed_from_the_queue_answered_by_the_village_and_closed_on_recheck(
    page, personas, area, late_room
):
    # The supervisor files a finding on the overdue row, from the queue.
    login(page, personas.supervisor.username)
    page.get_by_role("link", name="逾期督办").first.click()
    expect(page).to_have_url(re.compile(r"/supervision/queue/"))
    row = page.locator(f'[data-testid="queue-row"][data-task-id="{late_room.pk}"]')
    expect(row).to_contain_text("茅垭村")
    expect(row.get_by_test_id("days-overdue")).to_have_text("15")
    expect(page.get_by_test_id("township-ranking")).to_contain_text("白庙乡")
    row.get_by_test_id("file-finding").click()

    form = page.get_by_test_id("finding-form")
    expect(page.get_by_test_id("target-summary")).to_contain_text("茅垭村 村文化室")
    expect(form.locator('input[name="task"]')).to_have_value(str(late_room.pk))
    expect(form.locator('input[name="responsible_person"]')).to_have_value("秦和平")
    form.locator('select[name="severity"]').select_option(label="较重")
    form.locator('textarea[name="requirement"]').fill("9月底前完工并组织验收。")
    form.get_by_test_id("finding-save").click()

    expect(page.get_by_test_id("rectification-status")).to_have_text("待整改")
    expect(page.get_by_test_id("deadline")).to_contain_text("2017-11-15")
    expect(page.get_by_test_id("target-link")).to_have_text("茅垭村 村文化室")
    finding_path = re.search(r"/supervision/findings/\d+/", page.url).group(0)
    logout(page)

    # The village's cadre finds it in their list and answers it with a result and a photo.
    login(page, personas.village_cadre.username)
    page.get_by_role("link", name="督查整改").click()
    listed = page.get_by_test_id("finding-table")
    expect(listed).to_contain_text("茅垭村 村文化室")
    listed.get_by_test_id("finding-link").first.click()
    expect(page).to_have_url(finding_path)
    answer = page.get_by_test_id("answer-form")
    answer.get_by_test_id("answer-result").fill("文化室已完工，室内设施配齐，9月14日通过乡级验收。")
    png = tiny_png()
    answer.get_by_test_id("answer-evidence").set_input_files(
        files=[{"name": "文化室验收.png", "mimeType": "image/png", "buffer": png}]
    )
    answer.get_by_test_id("answer-save").click()
    expect(page.get_by_test_id("rectification-status")).to_have_text("待复查")
    expect(page.get_by_test_id("answer-form")).to_have_count(0)
    expect(page.get_by_test_id("recheck-form")).to_have_count(0)
    logout(page)

    # The supervisor sees the answer and the photo, rechecks and closes it.
    login(page, personas.supervisor.username)
    page.goto(finding_path)
    expect(page.get_by_test_id("result")).to_contain_text("通过乡级验收")
    expect(page.get_by_test_id("answered-by")).to_contain_text(str(personas.village_cadre))
    link = page.get_by_test_id("evidence-link")
    expect(link).to_have_text("文化室验收.png")
    response = page.request.get(link.get_attribute("href"))
    assert response.status == 200 and response.body() == png
    recheck = page.get_by_test_id("recheck-form")
    recheck.get_by_test_id("recheck-note").fill("现场复查属实，同意销号。")
    recheck.get_by_test_id("recheck-approve").click()
    expect(page.get_by_test_id("rectification-status")).to_have_text("已销号")
    expect(page.get_by_test_id("closed-on")).to_have_text("2017-09-15")
    expect(page.get_by_test_id("history")).to_contain_text("复查通过，销号")

    finding = Finding.objects.get(task=late_room)
    rectification = Rectification.objects.get(finding=finding)
    assert (finding.reported_by, finding.severity, finding.found_on) == (
        personas.supervisor,
        "major",
        datetime.date(2017, 9, 15),
    )
    assert rectification.status == Rectification.Status.CLOSED
    assert rectification.answered_by == personas.village_cadre
    assert rectification.rechecked_by == personas.supervisor
    assert rectification.closed_on == datetime.date(2017, 9, 15)
    assert rectification.recheck_note == "现场复查属实，同意销号。"
    assert rectification.evidence.get().original_name == "文化室验收.png"
    assert list(rectification.history.order_by("history_date", "history_id").values_list("status", flat=True)) == [
        "pending",
        "awaiting_recheck",
        "closed",
    ]
