"""Plan editing in the browser, as the issue tells it.

A village cadre (the first secretary of 茅垭村) signs in through the login page, opens the village's plan
from the village page, edits a row in the table itself (htmx: the page is not reloaded), is told in
Chinese beside the field when the planned funds are negative (and nothing is saved), records progress
with a photo and finds it listed, and meets the conflict box when someone else saved the row while the
inline form was open. A township's staff member cannot open a village of another township (404).
"""

import re
import struct
import zlib
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from tasks import services
from tasks.models import ProgressUpdate, Task
from tests import factories
from tests.e2e.browser import login

pytestmark = pytest.mark.e2e

# Set on window when the plan page loads: it survives an htmx swap and vanishes on a full page load.
MARKER = "window.__e2e_same_page"


@pytest.fixture
def plan_rows(area):
    """茅垭村's 2017 plan (a draft) with two village rows, as the demo has them."""
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
    road = factories.task(plan, item="通村硬化路", planned_funds=Decimal("30"))
    return plan, room, road


def tiny_png() -> bytes:
    """A valid 1×1 red PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def open_plan_as_cadre(page, personas, area, plan):
    """Sign in as 茅垭村's cadre and go from the village list to the village page to its plan, by clicking."""
    login(page, personas.village_cadre.username)
    expect(page.get_by_test_id("user-area")).to_contain_text("茅垭村")
    page.goto("/villages/")
    page.get_by_test_id("village-table").get_by_role("link", name="茅垭村", exact=True).click()
    expect(page.get_by_test_id("village-header")).to_contain_text(area.village_a.code)
    page.get_by_test_id("edit-plan").click()
    expect(page).to_have_url(f"/tasks/plans/{plan.pk}/")
    expect(page.get_by_test_id("plan-table")).to_be_visible()
    page.wait_for_load_state()  # the deferred scripts (htmx, site.js, tables.js) have run once "load" has fired
    page.evaluate(f"{MARKER} = true")


def row(page, task):
    return page.locator(f"#task-{task.pk}")


def open_inline_form(page, task):
    row(page, task).get_by_test_id("inline-edit").click()
    form_row = page.locator(f'[data-testid="inline-form-row"][data-task-id="{task.pk}"]')
    expect(form_row).to_be_visible()
    return form_row


def assert_same_page(page, plan):
    """Still the page that was loaded first: same URL, and the marker set on window is still there."""
    expect(page).to_have_url(f"/tasks/plans/{plan.pk}/")
    assert page.evaluate(MARKER) is True, "the plan page was reloaded (the marker on window is gone)"


def test_village_cadre_edits_a_row_inline_without_reloading_the_page(page, personas, area, plan_rows):
    plan, room, road = plan_rows
    open_plan_as_cadre(page, personas, area, plan)
    assert page.evaluate("typeof window.htmx") == "object", "htmx is not loaded on the plan page"

    form_row = open_inline_form(page, room)
    assert_same_page(page, plan)
    form_row.locator('input[name="planned_funds"]').fill("120")
    form_row.locator('input[name="responsible_person"]').fill("吴玉峰")
    form_row.get_by_test_id("inline-save").click()

    saved = page.locator(f'[data-testid="task-row"][data-task-id="{room.pk}"]')
    expect(saved.get_by_test_id("planned-funds")).to_have_text("120.00")
    expect(saved).to_contain_text("吴玉峰")
    expect(saved).to_have_attribute("data-version", "2")
    assert_same_page(page, plan)
    # The other row was not touched, and the database has the change.
    expect(row(page, road).get_by_test_id("planned-funds")).to_have_text("30.00")
    room.refresh_from_db()
    assert (room.planned_funds, room.responsible_person, room.version) == (Decimal("120"), "吴玉峰", 2)


def test_negative_planned_funds_are_refused_beside_the_field_and_nothing_is_saved(page, personas, area, plan_rows):
    plan, room, _ = plan_rows
    open_plan_as_cadre(page, personas, area, plan)

    form_row = open_inline_form(page, room)
    form_row.locator('input[name="planned_funds"]').fill("-5")
    form_row.get_by_test_id("inline-save").click()

    error = page.locator(f'#task-{room.pk} .field-planned_funds [data-field-error="planned_funds"]')
    expect(error).to_have_text("计划资金不能为负数。")
    expect(page.locator(f"#task-{room.pk}")).to_have_attribute("data-testid", "inline-form-row")
    expect(page.locator(f'#task-{room.pk} input[name="planned_funds"]')).to_have_class(re.compile(r"\bis-invalid\b"))
    assert_same_page(page, plan)
    room.refresh_from_db()
    assert (room.planned_funds, room.version) == (Decimal("100"), 1)
    assert room.history.count() == 1  # only the creation


def test_village_cadre_records_progress_with_a_photo_and_sees_it_listed(page, personas, area, plan_rows, settings):
    plan, room, _ = plan_rows
    open_plan_as_cadre(page, personas, area, plan)

    row(page, room).get_by_test_id("progress-link").click()
    expect(page).to_have_url(f"/tasks/{room.pk}/progress/")
    form = page.get_by_test_id("progress-form")
    form.locator('input[name="progress"]').fill("40")
    form.locator('select[name="status"]').select_option(label="进行中")
    form.locator('input[name="invested_funds"]').fill("30")
    form.locator('textarea[name="note"]').fill("主体完工，正在装修。")
    png = tiny_png()
    page.get_by_test_id("evidence-input").set_input_files(
        files=[{"name": "文化室现场.png", "mimeType": "image/png", "buffer": png}]
    )
    page.get_by_test_id("progress-save").click()

    update = page.get_by_test_id("progress-update").first
    expect(update).to_contain_text("进度 40%")
    expect(update).to_contain_text("主体完工，正在装修。")
    link = update.get_by_test_id("evidence-link")
    expect(link).to_have_text("文化室现场.png")
    # The file is served back (through the access check) as it was uploaded.
    response = page.request.get(link.get_attribute("href"))
    assert response.status == 200
    assert response.body() == png

    room.refresh_from_db()
    assert (room.progress, room.status, room.invested_funds, room.version) == (
        40,
        Task.Status.IN_PROGRESS,
        Decimal("30"),
        2,
    )
    saved = ProgressUpdate.objects.get(task=room)
    evidence = saved.evidence.get()
    assert evidence.original_name == "文化室现场.png"
    assert evidence.file.path.startswith(str(settings.MEDIA_ROOT))


def test_a_row_changed_meanwhile_shows_the_conflict_box_and_keeps_the_other_change(page, personas, area, plan_rows):
    plan, room, _ = plan_rows
    open_plan_as_cadre(page, personas, area, plan)

    form_row = open_inline_form(page, room)
    # Meanwhile the township's staff member changes the same row (and its version moves on).
    services.task_update(
        task_id=room.pk,
        user=personas.township_a,
        expected_version=1,
        data={"responsible_person": "李四", "planned_funds": Decimal("110")},
    )
    form_row.locator('input[name="planned_funds"]').fill("150")
    form_row.get_by_test_id("inline-save").click()

    conflict = page.get_by_test_id("conflict")
    expect(conflict).to_be_visible()
    expect(conflict).to_contain_text("这条任务在你编辑期间已被他人修改")
    expect(conflict.get_by_test_id("conflict-current-heading")).to_contain_text(str(personas.township_a))
    funds = conflict.locator('[data-testid="conflict-field"][data-field="planned_funds"]')
    expect(funds.get_by_test_id("conflict-mine")).to_have_text("150.00")
    expect(funds.get_by_test_id("conflict-current")).to_have_text("110.00")
    expect(funds).to_have_attribute("data-differs", "true")
    person = conflict.locator('[data-testid="conflict-field"][data-field="responsible_person"]')
    expect(person.get_by_test_id("conflict-mine")).to_have_text("秦和平")
    expect(person.get_by_test_id("conflict-current")).to_have_text("李四")
    assert_same_page(page, plan)

    room.refresh_from_db()
    assert (room.planned_funds, room.responsible_person, room.version) == (Decimal("110"), "李四", 2)

    # Reloading the current data gives a form at the new version, with the other person's values.
    page.get_by_test_id("conflict-reload").click()
    form_row = page.locator(f'[data-testid="inline-form-row"][data-task-id="{room.pk}"]')
    expect(form_row.locator('input[name="planned_funds"]')).to_have_value("110")
    expect(form_row.locator('input[name="responsible_person"]')).to_have_value("李四")
    assert_same_page(page, plan)


def test_township_staff_cannot_open_a_village_of_another_township(page, personas, area, plan_rows):
    plan, room, _ = plan_rows
    login(page, personas.township_b.username)  # 寺岭乡; 茅垭村 is in 白庙乡
    expect(page.get_by_test_id("user-area")).to_contain_text("寺岭乡")

    page.goto("/villages/")
    table = page.get_by_test_id("village-table")
    expect(table).to_contain_text("大寺村")
    expect(table).not_to_contain_text("茅垭村")

    for path in (f"/villages/{area.village_a.pk}/", f"/tasks/plans/{plan.pk}/", f"/tasks/{room.pk}/progress/"):
        response = page.goto(path)
        assert response.status == 404, path
        expect(page.get_by_test_id("not-found")).to_be_visible()
        expect(page.locator("main")).not_to_contain_text("茅垭村")
    expect(page.get_by_test_id("user-area")).to_contain_text("寺岭乡")
