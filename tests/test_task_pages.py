"""The plan-row pages through HTTP: who may open and change what, inline editing with htmx, the messages
people see, conflicts, history, and pages whose query count does not grow with the plan."""

import datetime
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from tasks import changes, services
from tasks.models import Plan, ProgressEvidence, ProgressUpdate, Task
from tests import factories

pytestmark = pytest.mark.usefixtures("pinned_today")

TODAY = datetime.date(2017, 9, 15)
HX = {"HX-Request": "true"}


@pytest.fixture
def rows(area):
    """Township A's plan (a village row, a household row) and township B's plan (one row)."""

    class Rows:
        plan_a = factories.plan(area.village_a)
        task_a = factories.task(plan_a, planned_funds=Decimal("100"), invested_funds=Decimal("20"))
        household_task_a = factories.task(
            plan_a,
            area.household_a,
            item="危房改造",
            category="housing",
            deadline=datetime.date(2017, 10, 31),
            planned_funds=Decimal("2.5"),
        )
        plan_b = factories.plan(area.village_b)
        task_b = factories.task(plan_b, item="大寺村产业路")

    return Rows


def signed_in(client, user):
    client.force_login(user)
    return client


def snapshot(task):
    """What a refused request must leave as it was: the row, its history, its fund lines and reports."""
    return (
        Task.objects.filter(pk=task.pk).values().get(),
        task.history.count(),
        list(task.fund_lines.values("source", "amount")),
        ProgressUpdate.objects.filter(task=task).count(),
    )


def inline_data(task, **changes):
    data = {
        "version": task.version,
        "item": task.item,
        "quantity": task.quantity,
        "unit": task.unit,
        "deadline": task.deadline.isoformat(),
        "planned_funds": task.planned_funds,
        "invested_funds": task.invested_funds,
        "responsible_person": task.responsible_person,
        "responsible_phone": task.responsible_phone,
        "status": task.status,
        "progress": task.progress,
        "reason": "",
    }
    data.update(changes)
    return {k: "" if v is None else v for k, v in data.items()}


def full_data(task, lines=(), **changes):
    data = inline_data(task, **changes)
    data.update(
        {
            "household": task.household_id or "",
            "category": task.category,
            "deadline_text": task.deadline_text,
            "responsible_unit": task.responsible_unit,
            "completed_on": task.completed_on.isoformat() if task.completed_on else "",
        }
    )
    data.update(changes)
    data.update({"fund-TOTAL_FORMS": len(lines), "fund-INITIAL_FORMS": 0, "fund-MIN_NUM_FORMS": 0})
    data["fund-MAX_NUM_FORMS"] = 1000
    for i, (source, amount) in enumerate(lines):
        data[f"fund-{i}-source"], data[f"fund-{i}-amount"] = source, amount
    return data


def text(response) -> str:
    return response.content.decode()


def is_fragment(response) -> bool:
    body = text(response).lstrip()
    return body.startswith(("<tr", "{#")) and "<html" not in body and "<body" not in body


# Which endpoint, which method, what it is given -----------------------------------------------------------------


def url_of(name, rows):
    if name in ("plan", "plan_approve", "task_create"):
        return reverse(f"tasks:{name}", args=[rows.plan_a.pk])
    return reverse(f"tasks:{name}", args=[rows.task_a.pk])


def post_data(name, rows):
    task = rows.task_a
    return {
        "task_inline": inline_data(task, item="被改了"),
        "task_edit": full_data(task, item="被改了"),
        "task_progress": {
            "version": task.version,
            "reported_on": "2017-09-14",
            "progress": 80,
            "status": "in_progress",
            "invested_funds": "50",
        },
        "task_complete": {"version": task.version},
        "task_remove": {"version": task.version, "reason": "重复"},
        "plan_approve": {},
        "task_create": full_data(task, item="新任务"),
    }[name]


READ_PAGES = ["plan", "task_detail", "task_history"]
WRITE_GETS = ["task_inline", "task_edit", "task_progress", "task_remove", "task_create"]
WRITE_POSTS = [
    "task_inline",
    "task_edit",
    "task_progress",
    "task_complete",
    "task_remove",
    "plan_approve",
    "task_create",
]


def everything_in_a(rows):
    return (
        snapshot(rows.task_a),
        Task.objects.filter(plan=rows.plan_a).count(),
        Plan.objects.filter(pk=rows.plan_a.pk).values("state").get(),
    )


# Another township, read-only users, anonymous ----------------------------------------------------------------------


@pytest.mark.parametrize("name", [*READ_PAGES, "task_row", *WRITE_GETS])
def test_township_b_staff_cannot_open_township_a_pages(client, personas, rows, name):
    signed_in(client, personas.township_b)
    assert client.get(url_of(name, rows), headers=HX).status_code == 404
    assert client.get(url_of(name, rows)).status_code == 404


@pytest.mark.parametrize("name", WRITE_POSTS)
def test_township_b_staff_cannot_change_township_a_rows(client, personas, rows, name):
    signed_in(client, personas.township_b)
    before = everything_in_a(rows)
    assert client.post(url_of(name, rows), post_data(name, rows), headers=HX).status_code == 404
    assert client.post(url_of(name, rows), post_data(name, rows)).status_code == 404
    assert everything_in_a(rows) == before


@pytest.mark.parametrize("persona", ["supervisor", "leader"])
@pytest.mark.parametrize("name", READ_PAGES)
def test_supervisors_and_leaders_can_read_the_plan_its_rows_and_their_history(client, personas, rows, persona, name):
    response = signed_in(client, getattr(personas, persona)).get(url_of(name, rows))
    assert response.status_code == 200
    assert "通村硬化路" in text(response)


@pytest.mark.parametrize("persona", ["supervisor", "leader"])
@pytest.mark.parametrize("name", WRITE_GETS)
def test_supervisors_and_leaders_do_not_find_the_change_pages(client, personas, rows, persona, name):
    signed_in(client, getattr(personas, persona))
    assert client.get(url_of(name, rows), headers=HX).status_code == 404


@pytest.mark.parametrize("persona", ["supervisor", "leader"])
@pytest.mark.parametrize("name", WRITE_POSTS)
def test_supervisors_and_leaders_cannot_change_anything(client, personas, rows, persona, name):
    signed_in(client, getattr(personas, persona))
    before = everything_in_a(rows)
    assert client.post(url_of(name, rows), post_data(name, rows)).status_code == 404
    assert everything_in_a(rows) == before


@pytest.mark.parametrize("persona", ["supervisor", "leader"])
def test_the_plan_shows_no_edit_buttons_to_those_who_only_read(client, personas, rows, persona):
    page = text(signed_in(client, getattr(personas, persona)).get(url_of("plan", rows)))
    assert 'data-testid="task-row"' in page
    assert 'data-testid="inline-edit"' not in page
    assert 'data-testid="new-task"' not in page
    assert 'data-testid="approve-button"' not in page


@pytest.mark.parametrize("name", [*READ_PAGES, "task_row", *WRITE_GETS])
def test_anonymous_visitors_are_sent_to_sign_in(client, rows, name):
    response = client.get(url_of(name, rows))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


@pytest.mark.parametrize("name", WRITE_POSTS)
def test_anonymous_posts_change_nothing(client, rows, name):
    before = everything_in_a(rows)
    response = client.post(url_of(name, rows), post_data(name, rows))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    assert everything_in_a(rows) == before


@pytest.mark.parametrize("name", ["task_complete", "plan_approve"])
def test_changes_are_never_made_by_a_get(client, personas, rows, name):
    signed_in(client, personas.district_admin)
    before = everything_in_a(rows)
    assert client.get(url_of(name, rows)).status_code == 405
    assert everything_in_a(rows) == before


# The plan's table ------------------------------------------------------------------------------------------------


def test_the_plan_lists_village_rows_then_household_rows_with_totals(client, personas, rows, area):
    factories.fund_line(rows.task_a, "central", Decimal("100"))
    factories.done_task(rows.plan_a, item="村文化室", planned_funds=Decimal("10"), invested_funds=Decimal("10"))
    page = text(signed_in(client, personas.village_cadre).get(url_of("plan", rows)))

    assert (
        page.index("通村硬化路") < page.index("村文化室") < page.index(area.household_a.number) < page.index("危房改造")
    )
    totals = page[page.index('id="plan-totals"') :]
    assert re.search(r'data-testid="total-count">3<', totals)
    assert re.search(r'data-testid="done-count">1<', totals)
    assert re.search(r'data-testid="overdue-count"[^>]*>1<', totals)  # 通村硬化路: deadline 2017-08-31, not done
    assert re.search(r'data-testid="total-planned">112.50<', totals)
    assert re.search(r'data-testid="total-invested">30.00<', totals)
    assert '中央财政专项扶贫资金 <span class="text-nowrap">100.00</span>' in page
    assert 'data-testid="inline-edit"' in page
    assert "大寺村产业路" not in page


def test_only_a_district_admin_sees_the_approve_button(client, personas, rows):
    assert 'data-testid="approve-button"' in text(signed_in(client, personas.district_admin).get(url_of("plan", rows)))
    assert 'data-testid="approve-button"' not in text(signed_in(client, personas.township_a).get(url_of("plan", rows)))


def test_a_district_admin_approves_the_plan(client, personas, rows):
    response = signed_in(client, personas.district_admin).post(url_of("plan_approve", rows))
    assert response.status_code == 302
    rows.plan_a.refresh_from_db()
    assert rows.plan_a.state == Plan.State.APPROVED
    assert "已批准" in text(client.get(url_of("plan", rows)))


def test_approving_from_htmx_redirects_the_whole_page(client, personas, rows):
    response = signed_in(client, personas.district_admin).post(url_of("plan_approve", rows), headers=HX)
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == url_of("plan", rows)


def test_township_staff_may_not_approve_their_own_plan(client, personas, rows):
    response = signed_in(client, personas.township_a).post(url_of("plan_approve", rows))
    assert response.status_code == 403
    rows.plan_a.refresh_from_db()
    assert rows.plan_a.state == Plan.State.DRAFT


# Inline editing ---------------------------------------------------------------------------------------------------


def test_the_edit_button_swaps_in_a_form_row(client, personas, rows):
    response = signed_in(client, personas.village_cadre).get(url_of("task_inline", rows), headers=HX)
    assert response.status_code == 200
    assert is_fragment(response)
    page = text(response)
    assert 'data-testid="inline-form-row"' in page
    assert f'name="version" value="{rows.task_a.version}"' in page
    assert 'data-testid="inline-save"' in page
    assert 'data-testid="reason-field"' not in page  # a draft plan needs no reasons


def test_the_form_row_asks_for_a_reason_on_an_approved_plan(client, personas, rows):
    services.plan_approve(plan_id=rows.plan_a.pk, user=personas.district_admin)
    response = signed_in(client, personas.village_cadre).get(url_of("task_inline", rows), headers=HX)
    assert 'data-testid="reason-field"' in text(response)


def test_the_row_endpoint_returns_the_read_only_row(client, personas, rows):
    response = signed_in(client, personas.supervisor).get(url_of("task_row", rows), headers=HX)
    assert response.status_code == 200 and is_fragment(response)
    assert 'data-testid="task-row"' in text(response)


def test_without_javascript_the_inline_links_lead_to_full_pages(client, personas, rows):
    signed_in(client, personas.village_cadre)
    assert client.get(url_of("task_inline", rows)).url == url_of("task_edit", rows)
    assert client.get(url_of("task_row", rows)).url == f"{url_of('plan', rows)}#task-{rows.task_a.pk}"


def test_saving_the_form_row_swaps_back_the_row_and_the_totals(client, personas, rows):
    data = inline_data(rows.task_a, planned_funds="120", invested_funds="60", status="in_progress", progress="40")
    response = signed_in(client, personas.village_cadre).post(url_of("task_inline", rows), data, headers=HX)

    assert response.status_code == 200 and is_fragment(response)
    page = text(response)
    assert 'data-testid="task-row"' in page
    assert '<tr id="plan-totals" data-testid="plan-totals" class="table-light fw-semibold" hx-swap-oob="true">' in page
    assert re.search(r'data-testid="total-planned">122.50<', page)
    task = Task.objects.get(pk=rows.task_a.pk)
    assert (task.planned_funds, task.invested_funds, task.progress, task.version) == (120, 60, 40, 2)
    assert task.history.first().history_user == personas.village_cadre


def test_saving_the_form_row_without_javascript_goes_back_to_the_plan(client, personas, rows):
    data = inline_data(rows.task_a, item="通村硬化路（一期）")
    response = signed_in(client, personas.village_cadre).post(url_of("task_inline", rows), data)
    assert response.status_code == 302
    assert Task.objects.get(pk=rows.task_a.pk).item == "通村硬化路（一期）"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"planned_funds": "-5"}, "planned_funds", "计划资金不能为负数。"),
        ({"invested_funds": "-1"}, "invested_funds", "已投入资金不能为负数。"),
        ({"invested_funds": "150"}, "invested_funds", "已投入资金不能超过计划资金。"),
        ({"progress": "120", "status": "in_progress"}, "progress", "进度应在 0–100 之间。"),
        ({"status": "not_started", "progress": "30"}, "progress", "未启动的任务进度应为 0。"),
        ({"planned_funds": "1.00001"}, "planned_funds", "金额最多保留 4 位小数"),
        ({"deadline": "八月底"}, "deadline", "输入一个有效的日期。"),
        ({"item": ""}, "item", "该字段是必填项。"),
    ],
)
def test_a_bad_value_shows_its_chinese_message_beside_the_field_and_saves_nothing(
    client, personas, rows, changes, field, message
):
    before = snapshot(rows.task_a)
    data = inline_data(rows.task_a, **changes)
    response = signed_in(client, personas.village_cadre).post(url_of("task_inline", rows), data, headers=HX)

    assert response.status_code == 200 and is_fragment(response)
    errors = re.findall(rf'data-field-error="{field}">([^<]*)<', text(response))
    assert any(message in error for error in errors), errors
    assert snapshot(rows.task_a) == before


def test_a_form_row_without_its_version_asks_to_reload_and_saves_nothing(client, personas, rows):
    before = snapshot(rows.task_a)
    data = inline_data(rows.task_a, item="没有版本号")
    del data["version"]
    response = signed_in(client, personas.village_cadre).post(url_of("task_inline", rows), data, headers=HX)
    assert re.search(r'data-testid="form-errors"[^>]*>\s*<div>页面已过期，请刷新后重试。</div>', text(response))
    assert snapshot(rows.task_a) == before


def test_an_approved_plan_refuses_a_new_deadline_even_with_a_reason(client, personas, rows):
    """Changes through a change request (tests/test_change_request_pages.py); never through the edit forms."""
    services.plan_approve(plan_id=rows.plan_a.pk, user=personas.district_admin)
    rows.task_a.refresh_from_db()
    before = snapshot(rows.task_a)
    for reason in ("", "雨季推迟"):
        data = inline_data(rows.task_a, deadline="2017-10-31", reason=reason)
        response = signed_in(client, personas.village_cadre).post(url_of("task_inline", rows), data, headers=HX)
        assert services.APPROVED_CHANGE in text(response).replace("&ldquo;", "“").replace("&rdquo;", "”")
        assert snapshot(rows.task_a) == before
    response = client.post(url_of("task_edit", rows), full_data(rows.task_a, deadline="2017-10-31", reason="雨季推迟"))
    assert response.status_code == 200
    assert snapshot(rows.task_a) == before


def test_a_conflict_shows_both_versions_and_overwrites_nothing(client, personas, rows):
    stale = inline_data(rows.task_a, item="通村硬化路（二期）", planned_funds="90")
    services.task_update(
        task_id=rows.task_a.pk, user=personas.township_a, expected_version=1, data={"item": "通村硬化路（一期）"}
    )
    before = snapshot(rows.task_a)

    response = signed_in(client, personas.village_cadre).post(url_of("task_inline", rows), stale, headers=HX)

    assert response.status_code == 200 and is_fragment(response)
    page = text(response)
    assert 'data-testid="conflict"' in page
    assert "你的修改" in page
    changed_at = timezone.localtime(rows.task_a.history.first().history_date).strftime("%Y-%m-%d %H:%M")
    assert f"当前数据（由 baimiao 于 {changed_at} 修改）" in page
    item = page[page.index('data-field="item"') :]
    mine, current = re.findall(r'data-testid="conflict-(?:mine|current)">([^<]*)<', item)[:2]
    assert (mine, current) == ("通村硬化路（二期）", "通村硬化路（一期）")
    assert 'data-testid="conflict-reload"' in page
    assert snapshot(rows.task_a) == before


def test_a_conflict_without_javascript_is_a_full_page(client, personas, rows):
    stale = inline_data(rows.task_a, item="二期")
    services.task_update(task_id=rows.task_a.pk, user=personas.township_a, expected_version=1, data={"item": "一期"})
    response = signed_in(client, personas.village_cadre).post(url_of("task_inline", rows), stale)
    assert response.status_code == 409
    assert "<html" in text(response) and 'data-testid="conflict"' in text(response)
    assert Task.objects.get(pk=rows.task_a.pk).item == "一期"


def test_a_removed_row_cannot_be_edited_inline(client, personas, rows):
    services.task_remove(task_id=rows.task_a.pk, user=personas.township_a, expected_version=1, reason="重复")
    rows.task_a.refresh_from_db()
    before = snapshot(rows.task_a)
    response = signed_in(client, personas.township_a).post(
        url_of("task_inline", rows), inline_data(rows.task_a, item="复活"), headers=HX
    )
    assert 'data-testid="task-row"' in text(response)
    assert snapshot(rows.task_a) == before


# The full edit page and the new-row page ------------------------------------------------------------------------------


def test_the_edit_page_saves_every_field_and_the_fund_lines(client, personas, rows):
    data = full_data(
        rows.task_a,
        lines=[("central", "70"), ("self", "30")],
        deadline_text="8月底前",
        responsible_unit="白庙乡交通办",
    )
    response = signed_in(client, personas.township_a).post(url_of("task_edit", rows), data)
    assert response.status_code == 302
    task = Task.objects.get(pk=rows.task_a.pk)
    assert (task.deadline_text, task.responsible_unit) == ("8月底前", "白庙乡交通办")
    assert {(f.source, f.amount) for f in task.fund_lines.all()} == {("central", 70), ("self", 30)}


def test_the_edit_page_shows_the_current_fund_lines_and_their_total(client, personas, rows):
    factories.fund_line(rows.task_a, "central", Decimal("60"))
    factories.fund_line(rows.task_a, "district", Decimal("40"))
    page = text(signed_in(client, personas.township_a).get(url_of("task_edit", rows)))
    assert 'data-testid="fund-lines-total">100.00<' in page
    assert 'value="central" selected' in page


def test_fund_lines_that_do_not_add_up_are_refused_with_the_totals_named(client, personas, rows):
    before = snapshot(rows.task_a)
    data = full_data(rows.task_a, lines=[("central", "70"), ("self", "20")])
    response = signed_in(client, personas.township_a).post(url_of("task_edit", rows), data)
    assert response.status_code == 200
    refused = 'data-field-error="fund_lines">各资金来源合计（90.00万元）与计划资金（100.00万元）不一致。<'
    assert refused in text(response)
    assert snapshot(rows.task_a) == before


def test_the_same_fund_source_twice_is_refused_on_the_page(client, personas, rows):
    before = snapshot(rows.task_a)
    data = full_data(rows.task_a, lines=[("central", "50"), ("central", "50")])
    response = signed_in(client, personas.township_a).post(url_of("task_edit", rows), data)
    assert "同一任务的资金来源不能重复。" in text(response)
    assert snapshot(rows.task_a) == before


def test_a_conflict_on_the_edit_page_shows_both_versions(client, personas, rows):
    stale = full_data(rows.task_a, item="二期", lines=[("central", "100")])
    services.task_update(
        task_id=rows.task_a.pk, user=personas.district_admin, expected_version=1, data={"item": "一期"}
    )
    before = snapshot(rows.task_a)
    response = signed_in(client, personas.township_a).post(url_of("task_edit", rows), stale)
    assert response.status_code == 409
    page = text(response)
    assert 'data-testid="conflict"' in page and "当前数据（由 admin 于" in page
    assert re.search(
        r'data-field="fund_lines"[^>]*>\s*<th[^>]*>资金来源</th>\s*<td data-testid="conflict-mine">中央', page
    )
    assert snapshot(rows.task_a) == before


def test_a_new_row_for_a_household_starts_with_the_household_chosen(client, personas, rows, area):
    url = f"{url_of('task_create', rows)}?household={area.household_a.pk}"
    page = text(signed_in(client, personas.village_cadre).get(url))
    assert f'<option value="{area.household_a.pk}" selected>' in page


def test_a_new_row_is_added_to_the_plan(client, personas, rows, area):
    data = full_data(
        rows.household_task_a, item="产业扶持：养牛", category="industry", lines=[("central", "2"), ("self", "0.5")]
    )
    response = signed_in(client, personas.village_cadre).post(url_of("task_create", rows), data)
    assert response.status_code == 302
    task = Task.objects.get(item="产业扶持：养牛")
    assert (task.plan, task.household, task.created_by) == (rows.plan_a, area.household_a, personas.village_cadre)
    assert task.fund_lines.count() == 2


def test_a_new_row_cannot_name_a_household_of_another_village(client, personas, rows, area):
    data = full_data(rows.task_a, item="别村的户", household=area.household_b.pk)
    response = signed_in(client, personas.district_admin).post(url_of("task_create", rows), data)
    assert response.status_code == 200
    assert re.search(r'data-field-error="household">[^<]+<', text(response))
    assert not Task.objects.filter(item="别村的户").exists()


# Progress, complete, remove -------------------------------------------------------------------------------------------


def progress_form(task, **fields):
    return {
        "version": task.version,
        "reported_on": "2017-09-14",
        "progress": 70,
        "status": "in_progress",
        "invested_funds": "45",
        "note": "路面硬化过半",
        **fields,
    }


def test_the_progress_page_offers_files_and_the_camera(client, personas, rows):
    page = text(signed_in(client, personas.village_cadre).get(url_of("task_progress", rows)))
    assert 'enctype="multipart/form-data"' in page
    assert re.search(r'<input type="file" name="files"[^>]*accept="image/\*,application/pdf"[^>]*multiple', page)
    assert re.search(r'<input type="file" name="photo"[^>]*capture="environment"', page)


def test_progress_is_recorded_with_photos_and_shown_with_links(client, personas, rows, media):
    data = progress_form(
        rows.task_a,
        files=[factories.evidence_upload("pdf"), factories.evidence_upload("png")],
        photo=factories.evidence_upload("jpeg", name="现场.jpg"),
    )
    response = signed_in(client, personas.village_cadre).post(url_of("task_progress", rows), data)
    assert response.status_code == 302

    task = Task.objects.get(pk=rows.task_a.pk)
    assert (task.progress, task.invested_funds, task.last_progress_on) == (70, 45, datetime.date(2017, 9, 14))
    assert ProgressEvidence.objects.filter(update__task=task).count() == 3
    page = text(client.get(response.url))
    assert "路面硬化过半" in page
    assert page.count('data-testid="evidence-link"') == 3
    assert "现场.jpg" in page


def test_a_file_that_is_not_a_photo_is_refused_beside_the_file_input(client, personas, rows, media):
    before = snapshot(rows.task_a)
    data = progress_form(rows.task_a, files=[factories.evidence_upload("exe", name="照片.jpg")])
    response = signed_in(client, personas.village_cadre).post(url_of("task_progress", rows), data)
    assert response.status_code == 200
    assert re.search(
        r'data-field-error="files">[^<]*只能上传照片（JPG、PNG、WebP、HEIC）或 PDF 文件。<', text(response)
    )
    assert snapshot(rows.task_a) == before
    assert not ProgressEvidence.objects.exists()


def test_a_file_over_the_limit_is_refused_with_its_name(client, personas, rows, media, settings):
    settings.BAZHOU_MAX_UPLOAD_MB = 1
    data = progress_form(rows.task_a, photo=factories.evidence_upload("jpeg", name="大.jpg", size=1024 * 1024 + 10))
    response = signed_in(client, personas.village_cadre).post(url_of("task_progress", rows), data)
    assert "文件“大.jpg”超过 1 MB。" in text(response)
    assert not ProgressUpdate.objects.exists()


def test_evidence_is_served_only_to_those_who_may_see_the_row(client, personas, rows, media):
    update = services.progress_record(
        task_id=rows.task_a.pk,
        user=personas.village_cadre,
        expected_version=1,
        progress=10,
        status="in_progress",
        invested_funds=Decimal("5"),
        files=[factories.evidence_upload("png")],
    )
    url = reverse("tasks:evidence", args=[update.evidence.get().pk])
    response = signed_in(client, personas.leader).get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content).startswith(b"\x89PNG")
    assert signed_in(client, personas.township_b).get(url).status_code == 404


def test_marking_complete_sets_the_row_done(client, personas, rows):
    response = signed_in(client, personas.village_cadre).post(url_of("task_complete", rows), {"version": 1})
    assert response.url == url_of("task_detail", rows)
    task = Task.objects.get(pk=rows.task_a.pk)
    assert (task.status, task.progress, task.completed_on) == ("done", 100, TODAY)


def test_marking_complete_from_a_stale_page_changes_nothing(client, personas, rows):
    services.task_update(task_id=rows.task_a.pk, user=personas.township_a, expected_version=1, data={"item": "一期"})
    before = snapshot(rows.task_a)
    response = signed_in(client, personas.village_cadre).post(
        url_of("task_complete", rows), {"version": 1}, follow=True
    )
    assert "未保存：该任务已由baimiao于" in text(response)
    assert snapshot(rows.task_a) == before


def test_removing_asks_for_a_reason_and_keeps_the_row(client, personas, rows):
    signed_in(client, personas.township_a)
    assert 'data-testid="remove-form"' in text(client.get(url_of("task_remove", rows)))
    before = snapshot(rows.task_a)
    response = client.post(url_of("task_remove", rows), {"version": 1, "reason": ""})
    assert 'data-field-error="reason">撤销任务须说明原因。<' in text(response)
    assert snapshot(rows.task_a) == before

    response = client.post(url_of("task_remove", rows), {"version": 1, "reason": "与水利项目重复"})
    assert response.url == url_of("plan", rows)
    task = Task.objects.get(pk=rows.task_a.pk)
    assert task.is_removed and task.removed_reason == "与水利项目重复"
    page = text(client.get(url_of("plan", rows)))
    assert 'data-testid="removed-rows"' in page
    assert re.search(r'data-testid="total-count">1<', page)


# The row's history ----------------------------------------------------------------------------------------------------


def test_the_history_shows_who_when_what_before_and_after_and_why(client, personas, rows):
    services.plan_approve(plan_id=rows.plan_a.pk, user=personas.district_admin)
    request = changes.change_request_create(
        user=personas.township_a,
        task=rows.task_a,
        changes={"deadline": datetime.date(2017, 10, 31), "planned_funds": Decimal("120")},
        fund_lines=[{"source": "central", "amount": Decimal("120")}],
        reason_category="disaster",
        reason="雨季施工推迟",
        expected_version=1,
    )
    # The township asked; the district office approves.
    changes.change_request_approve(user=personas.district_admin, request_id=request.pk, expected_version=1)
    record = rows.task_a.history.first()

    page = text(signed_in(client, personas.supervisor).get(url_of("task_history", rows)))

    entry = page[page.index('data-testid="history-entry"') :]
    assert str(personas.district_admin) in entry
    assert timezone.localtime(record.history_date).strftime("%Y-%m-%d %H:%M:%S") in entry
    assert re.search(r"完成时限</th>\s*<td>2017-08-31 → 2017-10-31</td>", entry)
    assert re.search(r"计划资金（万元）</th>\s*<td>100.00 → 120.00</td>", entry)
    assert f"原因：变更申请 #{request.pk}（自然灾害）：雨季施工推迟" in entry
    assert re.search(r"中央财政专项扶贫资金</th>\s*<td>– → 120.00</td>", page)


def test_the_history_includes_progress_reports_and_removal(client, personas, rows):
    services.progress_record(
        task_id=rows.task_a.pk,
        user=personas.village_cadre,
        expected_version=1,
        progress=30,
        status="in_progress",
        invested_funds=Decimal("25"),
        note="开挖路基",
    )
    services.task_remove(task_id=rows.task_a.pk, user=personas.township_a, expected_version=2, reason="并入县道项目")
    page = text(signed_in(client, personas.leader).get(url_of("task_history", rows)))
    assert "填报进度：30%（进行中）" in page and "开挖路基" in page
    assert "撤销任务" in page and "并入县道项目" in page


# Query counts that do not grow with the plan --------------------------------------------------------------------------


def add_rows(plan, area, count):
    households = [factories.household(area.village_a, members=2) for _ in range(max(count // 3, 1))]
    for i in range(count):
        household = households[i % len(households)] if i % 2 else None
        task = factories.task(plan, household, item=f"任务{i}", planned_funds=Decimal("10"))
        factories.fund_line(task, "central", Decimal("6"))
        factories.fund_line(task, "self", Decimal("4"))


# The plan page, signed in as a village cadre:
#   session, user, the user's village (the layout's area badge), savepoint and its release (ATOMIC_REQUESTS),
#   the plan with its village, township and approver, "may this user edit it", the rows with their households,
#   their fund lines, the households' heads, their pending change requests, the totals; the navigation's 我的待办 and
#   消息 numbers (the rows having changed: the data versions with the stored numbers, the numbers counted in one
#   query, stored).
PLAN_PAGE_QUERIES = 16  # with the rollover panel (结转自 / 已结转至, tasks/templatetags/rollover_tags.py)


def test_the_plan_page_runs_the_same_queries_for_ten_times_the_rows(client, personas, area, django_assert_num_queries):
    plan = factories.plan(area.village_a)
    add_rows(plan, area, 3)
    signed_in(client, personas.village_cadre)
    url = reverse("tasks:plan", args=[plan.pk])
    with django_assert_num_queries(PLAN_PAGE_QUERIES):
        assert client.get(url).status_code == 200

    add_rows(plan, area, 27)
    with django_assert_num_queries(PLAN_PAGE_QUERIES):
        page = text(client.get(url))
    assert page.count('data-testid="task-row"') == 30


# The history page, signed in as a supervisor:
#   session, user, the user's district, savepoint and release, the row with its plan, village, township and
#   household, the row's history with its users, the households it names, the fund lines' history with users,
#   the progress reports with their reporters, their evidence; the navigation's 我的待办 and 消息 numbers (the row
#   having changed: the data versions with the stored numbers, the numbers counted in one query, stored).
HISTORY_PAGE_QUERIES = 14


def test_the_history_page_runs_the_same_queries_for_ten_times_the_history(
    client, personas, rows, area, django_assert_num_queries, media
):
    def change(times):
        for i in range(times):
            task = Task.objects.get(pk=rows.household_task_a.pk)
            amount = Decimal(3 + i)
            services.task_update(
                task_id=task.pk,
                user=personas.village_cadre,
                expected_version=task.version,
                data={"item": f"危房改造{i}", "planned_funds": amount},
                fund_lines=[{"source": "central", "amount": amount - 1}, {"source": "self", "amount": Decimal(1)}],
            )
            services.progress_record(
                task_id=task.pk,
                user=personas.village_cadre,
                expected_version=task.version + 1,
                progress=i + 1,
                status="in_progress",
                invested_funds=Decimal("1"),
                files=[factories.evidence_upload("jpeg")],
            )

    change(2)
    signed_in(client, personas.supervisor)
    url = reverse("tasks:task_history", args=[rows.household_task_a.pk])
    with django_assert_num_queries(HISTORY_PAGE_QUERIES):
        assert client.get(url).status_code == 200

    change(18)
    with django_assert_num_queries(HISTORY_PAGE_QUERIES):
        page = text(client.get(url))
    assert page.count('data-kind="progress"') == 20
