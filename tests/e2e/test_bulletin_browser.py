"""Bulletins (通报) in the browser, as the issue tells it.

The supervisor edits the draft's text and, without saving, presses 发布…: the text on the screen is saved and
shown once more with 确认发布？发布后不可修改; confirmed, the published bulletin (with its 文号) says what was on
the screen. And the printed 通报 of a sizeable period (hundreds of overdue rows in 28 townships) fits on at most
six A4 pages, the full lists being its attachments, printed apart.
"""

import datetime
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from supervision import bulletin_services
from supervision.models import Bulletin, Rectification
from tasks.models import Task
from tests import factories
from tests.e2e.browser import login, no_sideways_scroll

pytestmark = pytest.mark.e2e

SCREENS = Path(__file__).resolve().parents[2] / "var" / "e2e" / "screens"
DESK = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
SEPTEMBER = {"period_start": datetime.date(2017, 9, 1), "period_end": datetime.date(2017, 9, 30)}


def shoot(page, name: str) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / f"{name}.png"), full_page=True)


def generate(user):
    return bulletin_services.bulletin_generate(user=user, today=datetime.date(2017, 9, 15), **SEPTEMBER)


@pytest.fixture
def late_rows(area):
    plan = factories.plan(area.village_a)
    wu = {"responsible_unit": "白庙乡人民政府", "responsible_person": "吴玉峰"}
    for n, deadline in enumerate((datetime.date(2017, 8, 31), datetime.date(2017, 7, 31), datetime.date(2017, 9, 10))):
        factories.task(plan, item=f"通村硬化路{n + 1}段", deadline=deadline, **wu)
    factories.task(factories.plan(area.village_b), item="大寺村产业路", deadline=datetime.date(2017, 9, 1))


def test_the_unsaved_edit_on_the_screen_is_what_is_published_after_confirming(page, personas, area, late_rows):
    draft = generate(personas.supervisor)
    edited = "截至9月15日，全区逾期未完成任务4项，本期新增3项。\n\n请白庙乡、寺岭乡于9月底前整改到位。"

    page.set_viewport_size(DESK)
    login(page, personas.supervisor.username)
    page.goto(f"/supervision/bulletins/{draft.pk}/")
    expect(page.get_by_test_id("bulletin-state")).to_have_text("草稿")
    expect(page.get_by_test_id("bulletin-doc-number")).to_have_text("（发布时编号）")
    shoot(page, "bulletin-detail-draft-desk")
    form = page.get_by_test_id("bulletin-edit-form")
    form.locator('textarea[name="body"]').fill(edited)
    form.locator('input[name="title"]').fill("关于9月施工图任务逾期情况的通报")
    # Not saved: straight to 发布….
    form.get_by_test_id("bulletin-publish").click()

    expect(page).to_have_url(re.compile(rf"/supervision/bulletins/{draft.pk}/publish/$"))
    expect(page.get_by_test_id("publish-heading")).to_have_text("确认发布？发布后不可修改")
    expect(page.get_by_test_id("publish-title")).to_have_text("关于9月施工图任务逾期情况的通报")
    expect(page.get_by_test_id("publish-body")).to_contain_text("请白庙乡、寺岭乡于9月底前整改到位。")
    shoot(page, "bulletin-publish-confirm-desk")
    assert Bulletin.objects.get(pk=draft.pk).state == "draft"  # asked, not yet published

    page.get_by_test_id("publish-confirm").click()
    expect(page).to_have_url(re.compile(rf"/supervision/bulletins/{draft.pk}/$"))
    expect(page.get_by_test_id("bulletin-state")).to_have_text("已发布")
    body = page.get_by_test_id("bulletin-body")
    expect(body).to_contain_text("关于9月施工图任务逾期情况的通报")
    expect(body.locator("p")).to_have_text(
        ["截至9月15日，全区逾期未完成任务4项，本期新增3项。", "请白庙乡、寺岭乡于9月底前整改到位。"]
    )
    expect(page.get_by_test_id("bulletin-doc-number")).to_have_text("巴脱贫办督〔2017〕1号")
    expect(page.get_by_test_id("bulletin-edit-form")).to_have_count(0)
    published = Bulletin.objects.get(pk=draft.pk)
    assert (published.state, published.body, published.doc_number) == (
        "published",
        edited,
        "巴脱贫办督〔2017〕1号",
    )
    shoot(page, "bulletin-detail-desk")

    page.set_viewport_size(PHONE)
    page.reload()
    expect(page.get_by_test_id("bulletin-state")).to_have_text("已发布")
    assert no_sideways_scroll(page, PHONE["width"])
    shoot(page, "bulletin-detail-phone")

    page.goto(f"/supervision/bulletins/{draft.pk}/print/")
    expect(page.get_by_test_id("print-doc-number")).to_have_text("巴脱贫办督〔2017〕1号")
    expect(page.get_by_test_id("print-body").locator("p").first).to_have_text(
        "截至9月15日，全区逾期未完成任务4项，本期新增3项。"
    )
    assert no_sideways_scroll(page, PHONE["width"])
    shoot(page, "bulletin-print-phone")
    page.set_viewport_size(DESK)
    page.reload()
    expect(page.get_by_test_id("print-doc-number")).to_be_visible()
    shoot(page, "bulletin-print-desk")


# ---------------------------------------------------------------------------------------------
# The printed 通报 of a sizeable period: at most six A4 pages, the full lists apart
# ---------------------------------------------------------------------------------------------

TOWNSHIPS = 28
VILLAGES = 2
OVERDUE_PER_VILLAGE = 8  # 28 × 2 × 8 = 448 overdue rows


@pytest.fixture
def sizeable(area):
    """448 overdue rows in 28 townships (56 villages), 40 responsible units, 224 people, 28 open rectifications;
    and as many rows done or not yet due."""
    townships = [area.township_a, area.township_b] + [
        factories.township(number=300 + n, name=f"第{n + 3}镇") for n in range(TOWNSHIPS - 2)
    ]
    rows = []
    for t, township in enumerate(townships):
        for v in range(VILLAGES):
            plan = factories.plan(factories.village(township, number=50 + v, name=f"{township.name[:2]}{v + 1}村"))
            for n in range(OVERDUE_PER_VILLAGE):
                common = {
                    "plan": plan,
                    "category": "road",
                    "quantity": 1,
                    "unit": "处",
                    "responsible_unit": f"责任单位{(t * VILLAGES + v + n % 4) % 40 + 1:02d}",
                    "responsible_person": f"责任人{t:02d}{v}{n % 4}",
                }
                # Deadlines spread over the summer, so the townships' counts and rates differ and some tie.
                deadline = datetime.date(2017, 6, 1) + datetime.timedelta(days=(t * 7 + v * 3 + n * 11) % 100)
                rows.append(Task(item=f"逾期任务{t}-{v}-{n}", deadline=deadline, **common))
                rows.append(Task(item=f"未到期任务{t}-{v}-{n}", deadline=datetime.date(2017, 12, 31), **common))
                if n < t % 5:
                    rows.append(
                        Task(
                            item=f"已完成任务{t}-{v}-{n}",
                            deadline=deadline,
                            status="done",
                            progress=100,
                            completed_on=datetime.date(2017, 5, 30),
                            **common,
                        )
                    )
        factories.rectification(factories.finding(township), deadline=datetime.date(2017, 9, 10))
    Task.objects.bulk_create(rows)
    assert Task.objects.overdue(datetime.date(2017, 9, 15)).count() == TOWNSHIPS * VILLAGES * OVERDUE_PER_VILLAGE
    assert Rectification.objects.count() == TOWNSHIPS


def pdf_pages(pdf: bytes) -> int:
    """The number of pages of a PDF: its page objects (``/Type /Page``, not ``/Pages``)."""
    return len(re.findall(rb"/Type\s*/Page(?!s)", pdf))


def test_the_printed_tongbao_of_a_sizeable_period_fits_on_six_a4_pages(page, personas, area, sizeable):
    bulletin = generate(personas.supervisor)
    assert bulletin.snapshot["totals"]["overdue_tasks"] == 448 and len(bulletin.snapshot["people"]) == 224
    login(page, personas.supervisor.username)

    page.goto(f"/supervision/bulletins/{bulletin.pk}/print/")
    expect(page.get_by_test_id("township-row")).to_have_count(TOWNSHIPS)
    expect(page.get_by_test_id("longest-row")).to_have_count(10)
    expect(page.get_by_test_id("print-attachments")).to_contain_text("逾期未完成的施工图任务清单（448项）")
    expect(page.get_by_test_id("overdue-task-row")).to_have_count(0)
    tongbao = page.pdf(format="A4")
    pages = pdf_pages(tongbao)
    print(f"\nthe printed 通报: {pages} A4 pages")
    assert 1 <= pages <= 6, f"the printed 通报 takes {pages} A4 pages"

    # With its attachments (every row, every unit and person, every rectification) it is much longer: they are
    # printed apart, each from a new page.
    page.goto(f"/supervision/bulletins/{bulletin.pk}/print/?annex=1")
    expect(page.get_by_test_id("overdue-task-row")).to_have_count(448)
    expect(page.get_by_test_id("person-row")).to_have_count(224)
    with_annex = pdf_pages(page.pdf(format="A4"))
    print(f"with its attachments: {with_annex} A4 pages")
    assert with_annex > pages + 10
