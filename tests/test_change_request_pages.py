"""The change-request pages (变更申请) through HTTP: asking on a row of an approved plan, the pending list with
approve / reject, withdraw, the navigation count, the change ledger, scoping and query counts."""

import datetime
import html
from decimal import Decimal

import pytest
from django.urls import reverse

from tasks import changes, services
from tasks.models import ChangeRequest, Task
from tests import factories

pytestmark = pytest.mark.usefixtures("pinned_today")

PENDING = reverse("tasks:change_requests")
LEDGER = reverse("tasks:change_ledger")


@pytest.fixture
def approved(area, personas):
    """茅垭村's approved plan with 村文化室 (overdue since 2017-08-31); 大寺村's approved plan with one row."""

    class Approved:
        plan_a = factories.plan(area.village_a)
        task_a = factories.task(
            plan_a, item="村文化室", category="culture_room", planned_funds=Decimal("100"), invested_funds=Decimal("20")
        )
        plan_b = factories.plan(area.village_b)
        task_b = factories.task(plan_b, item="大寺村产业路")

    for plan in (Approved.plan_a, Approved.plan_b):
        services.plan_approve(plan_id=plan.pk, user=personas.district_admin)
    Approved.task_a.refresh_from_db()
    Approved.task_b.refresh_from_db()
    return Approved


def text(response) -> str:
    return html.unescape(response.content.decode())


def form_data(task, lines=(), **changes_):
    data = {
        "version": task.version,
        "kind": "change",
        "household": task.household_id or "",
        "category": task.category,
        "item": task.item,
        "quantity": task.quantity if task.quantity is not None else "",
        "unit": task.unit,
        "deadline": task.deadline.isoformat(),
        "deadline_text": task.deadline_text,
        "planned_funds": task.planned_funds,
        "responsible_unit": task.responsible_unit,
        "responsible_person": task.responsible_person,
        "reason_category": "disaster",
        "reason": "暴雨冲毁便道，顺延",
        "fund-TOTAL_FORMS": len(lines),
        "fund-INITIAL_FORMS": 0,
        "fund-MIN_NUM_FORMS": 0,
        "fund-MAX_NUM_FORMS": 1000,
    }
    for i, (source, amount) in enumerate(lines):
        data[f"fund-{i}-source"], data[f"fund-{i}-amount"] = source, amount
    data.update(changes_)
    return data


def ask(task, user, **values):
    return changes.change_request_create(
        user=user,
        task=task,
        changes=values or {"deadline": datetime.date(2017, 12, 31)},
        reason_category="policy",
        reason="区政府调整计划",
        expected_version=task.version,
    )


def row_of(page: str, task) -> str:
    start = page.index(f'id="task-{task.pk}"')
    return page[start : page.index("</tr>", start)]


# The plan page and asking ------------------------------------------------------------------------------------------


def test_an_approved_row_offers_a_change_request_instead_of_editing(client, personas, approved):
    client.force_login(personas.village_cadre)
    page = text(client.get(reverse("tasks:plan", args=[approved.plan_a.pk])))
    row = row_of(page, approved.task_a)
    assert 'data-testid="request-change"' in row and 'data-testid="inline-edit"' not in row
    assert 'data-testid="progress-link"' in row  # progress stays direct
    assert 'data-testid="request-new-task"' in page and 'data-testid="new-task"' not in page


PAGE_FIELDS = [
    pytest.param({"item": "村文化活动室"}, (), "item", "村文化活动室", id="item"),
    pytest.param({"category": "school"}, (), "category", "school", id="category"),
    pytest.param({"quantity": "2"}, (), "quantity", Decimal("2"), id="quantity"),
    pytest.param({"unit": "间"}, (), "unit", "间", id="unit"),
    pytest.param({"deadline": "2017-12-31"}, (), "deadline", datetime.date(2017, 12, 31), id="deadline"),
    pytest.param(
        {"planned_funds": "120"}, (("central", "120"),), "planned_funds", Decimal("120"), id="funds and fund lines"
    ),
    pytest.param({"responsible_unit": "区文广局"}, (), "responsible_unit", "区文广局", id="responsible unit"),
    pytest.param({"responsible_person": "秦和平"}, (), "responsible_person", "秦和平", id="responsible person"),
]


@pytest.mark.parametrize(("new", "lines", "field", "value"), PAGE_FIELDS)
def test_every_plan_field_is_refused_on_the_edit_page_and_applies_through_a_request(
    client, personas, approved, new, lines, field, value
):
    task = approved.task_a
    client.force_login(personas.village_cadre)
    edit = {**form_data(task, lines, **new), "status": task.status, "progress": 0, "invested_funds": "20"}
    response = client.post(reverse("tasks:task_edit", args=[task.pk]), edit)
    assert services.APPROVED_CHANGE in text(response)
    assert getattr(Task.objects.get(pk=task.pk), field) != value

    response = client.post(reverse("tasks:change_request_create", args=[task.pk]), form_data(task, lines, **new))
    request = ChangeRequest.objects.get()
    assert response.status_code == 302 and response.url == reverse("tasks:change_request", args=[request.pk])
    assert getattr(Task.objects.get(pk=task.pk), field) != value  # not until approved

    client.force_login(personas.district_admin)
    client.post(reverse("tasks:change_request_approve", args=[request.pk]), {"version": request.version})
    task = Task.objects.get(pk=task.pk)
    assert getattr(task, field) == value
    assert task.change_count == 1


def test_asking_twice_files_one_request(client, personas, approved):
    client.force_login(personas.village_cadre)
    url = reverse("tasks:change_request_create", args=[approved.task_a.pk])
    data = form_data(approved.task_a, deadline="2017-12-31")
    first = client.post(url, data)
    second = client.post(url, data)
    request = ChangeRequest.objects.get()
    assert first.url == second.url == reverse("tasks:change_request", args=[request.pk])
    page = text(client.get(reverse("tasks:plan", args=[approved.plan_a.pk])))
    row = row_of(page, approved.task_a)
    assert 'data-testid="change-pending"' in row and 'data-testid="request-change"' not in row
    assert 'data-testid="overdue-badge"' in row  # still overdue while pending


def test_bad_values_are_told_in_chinese_and_nothing_is_filed(client, personas, approved):
    client.force_login(personas.village_cadre)
    url = reverse("tasks:change_request_create", args=[approved.task_a.pk])
    response = client.post(url, form_data(approved.task_a, planned_funds="-5", reason=""))
    page = text(response)
    assert response.status_code == 200
    assert "计划资金不能为负数。" in page and "请说明变更原因。" in page
    response = client.post(url, form_data(approved.task_a))
    assert changes.NOTHING_CHANGED in text(response)
    assert not ChangeRequest.objects.exists()


def test_a_withdrawal_and_a_new_row_are_requested_from_the_pages(client, personas, approved):
    client.force_login(personas.township_a)
    url = reverse("tasks:change_request_create", args=[approved.task_a.pk])
    client.post(url, form_data(approved.task_a, kind="remove", item="", deadline="", reason="与水利项目重复"))
    removal = ChangeRequest.objects.get()
    assert removal.kind == "remove"
    add = {**form_data(approved.task_a, item="产业路", category="road", deadline="2017-11-30", planned_funds="5")}
    add.pop("kind"), add.pop("version")
    response = client.post(reverse("tasks:change_request_add", args=[approved.plan_a.pk]), add)
    assert response.status_code == 302
    assert ChangeRequest.objects.filter(kind="add", after__item="产业路").exists()


def test_a_draft_row_has_no_change_request_page(client, personas, area):
    task = factories.task(factories.plan(area.village_a, 2018))
    client.force_login(personas.village_cadre)
    response = client.get(reverse("tasks:change_request_create", args=[task.pk]))
    assert response.url == reverse("tasks:task_edit", args=[task.pk])


# Deciding ---------------------------------------------------------------------------------------------------------


def test_the_district_admin_approves_from_the_pending_list_and_a_second_submit_changes_nothing(
    client, personas, approved
):
    request = ask(approved.task_a, personas.village_cadre)
    client.force_login(personas.district_admin)
    page = text(client.get(PENDING))
    assert f'data-change-id="{request.pk}"' in page and 'data-testid="approve-change"' in page
    assert 'data-testid="nav-change-count">1<' in page

    url = reverse("tasks:change_request_approve", args=[request.pk])
    response = client.post(url, {"version": request.version, "next": PENDING})
    assert response.url == PENDING
    again = client.post(url, {"version": request.version, "next": PENDING}, follow=True)
    assert "已经已批准，无需重复提交" in text(again)
    task = Task.objects.get(pk=approved.task_a.pk)
    assert (task.deadline, task.change_count) == (datetime.date(2017, 12, 31), 1)
    assert 'data-testid="nav-change-count"' not in text(client.get(PENDING))


def test_rejecting_needs_a_note_and_changes_nothing(client, personas, approved):
    request = ask(approved.task_a, personas.village_cadre)
    client.force_login(personas.district_admin)
    url = reverse("tasks:change_request_reject", args=[request.pk])
    page = text(client.post(url, {"version": request.version, "note": ""}, follow=True))
    assert changes.NOTE_REQUIRED in page
    assert ChangeRequest.objects.get().is_pending
    client.post(url, {"version": request.version, "note": "时限不能再延"})
    request.refresh_from_db()
    assert request.state == "rejected"
    assert Task.objects.get(pk=approved.task_a.pk).deadline == datetime.date(2017, 8, 31)


def test_the_requester_sees_no_approve_button_and_cannot_approve(client, personas, approved):
    request = ask(approved.task_a, personas.district_admin)
    client.force_login(personas.district_admin)
    page = text(client.get(reverse("tasks:change_request", args=[request.pk])))
    assert 'data-testid="approve-change"' not in page and 'data-testid="withdraw-change"' in page
    response = client.post(reverse("tasks:change_request_approve", args=[request.pk]), {"version": 1}, follow=True)
    assert changes.OWN_REQUEST in text(response)
    assert ChangeRequest.objects.get().is_pending
    assert Task.objects.get(pk=approved.task_a.pk).deadline == datetime.date(2017, 8, 31)


def test_the_requester_withdraws(client, personas, approved):
    request = ask(approved.task_a, personas.village_cadre)
    client.force_login(personas.village_cadre)
    client.post(reverse("tasks:change_request_withdraw", args=[request.pk]), {"version": 1})
    request.refresh_from_db()
    assert request.state == "withdrawn"


# Scoping ----------------------------------------------------------------------------------------------------------


def test_another_township_sees_nothing_of_the_requests(client, personas, approved):
    request = ask(approved.task_a, personas.village_cadre)
    changes.change_request_approve(user=personas.district_admin, request_id=request.pk, expected_version=1)
    approved.task_a.refresh_from_db()
    pending = ask(approved.task_a, personas.village_cadre, item="新名")
    client.force_login(personas.township_b)
    assert f'data-change-id="{pending.pk}"' not in text(client.get(PENDING))
    assert f'data-change-id="{request.pk}"' not in text(client.get(LEDGER))
    assert client.get(reverse("tasks:change_request", args=[request.pk])).status_code == 404
    assert client.post(reverse("tasks:change_request_approve", args=[pending.pk]), {"version": 1}).status_code == 404
    assert client.get(reverse("tasks:change_request_create", args=[approved.task_a.pk])).status_code == 404

    client.force_login(personas.township_a)
    assert f'data-change-id="{pending.pk}"' in text(client.get(PENDING))
    assert f'data-change-id="{request.pk}"' in text(client.get(LEDGER))


def test_the_ledger_is_filtered_by_village_township_kind_and_state(client, personas, approved):
    mine = ask(approved.task_a, personas.village_cadre)
    changes.change_request_approve(user=personas.district_admin, request_id=mine.pk, expected_version=1)
    theirs = ask(approved.task_b, personas.township_b)
    changes.change_request_reject(user=personas.district_admin, request_id=theirs.pk, note="不同意", expected_version=1)
    client.force_login(personas.district_admin)
    everything = text(client.get(LEDGER))
    assert f'data-change-id="{mine.pk}"' in everything and f'data-change-id="{theirs.pk}"' in everything
    village = text(client.get(LEDGER, {"village": approved.plan_a.village_id}))
    assert f'data-change-id="{mine.pk}"' in village and f'data-change-id="{theirs.pk}"' not in village
    township = text(client.get(LEDGER, {"township": approved.plan_b.village.township_id}))
    assert f'data-change-id="{theirs.pk}"' in township and f'data-change-id="{mine.pk}"' not in township
    rejected = text(client.get(LEDGER, {"state": "rejected"}))
    assert f'data-change-id="{theirs.pk}"' in rejected and f'data-change-id="{mine.pk}"' not in rejected
    assert f'data-change-id="{mine.pk}"' not in text(client.get(LEDGER, {"kind": "add"}))
    assert "完成时限：2017-08-31 → <strong>2017-12-31</strong>" in everything


def test_the_pending_list_filters_by_age(client, personas, approved):
    request = ask(approved.task_a, personas.village_cadre)
    ChangeRequest.objects.filter(pk=request.pk).update(requested_at=request.requested_at - datetime.timedelta(days=10))
    client.force_login(personas.district_admin)
    assert f'data-change-id="{request.pk}"' in text(client.get(PENDING, {"age": 7}))
    assert f'data-change-id="{request.pk}"' not in text(client.get(PENDING, {"age": 30}))


# Query counts -----------------------------------------------------------------------------------------------------


def add_requests(plan, personas, count, *, decide):
    """``count`` rows (made directly, as the import would have before approval) with a request each."""
    for i in range(count):
        task = factories.task(plan, item=f"任务{plan.tasks.count()}-{i}")
        request = ask(task, personas.township_a)
        if decide:
            changes.change_request_approve(user=personas.district_admin, request_id=request.pk, expected_version=1)


# session, user, the user's district (area badge), savepoint and release, the filter's townships and villages,
# the requests with their plans, villages, townships, rows and people (one query); the navigation's numbers (变更审批,
# 我的待办, 消息: the requests having changed, the data versions with the stored numbers, the numbers counted in one
# query, stored).
LIST_QUERIES = 11


@pytest.mark.parametrize(("url", "decide"), [(PENDING, False), (LEDGER, True)])
def test_the_lists_take_the_same_queries_for_ten_times_the_requests(
    client, personas, area, django_assert_num_queries, url, decide
):
    plan = factories.plan(area.village_a2)
    factories.task(plan, item="首行")
    services.plan_approve(plan_id=plan.pk, user=personas.district_admin)
    client.force_login(personas.district_admin)
    add_requests(plan, personas, 1, decide=decide)
    with django_assert_num_queries(LIST_QUERIES):
        page = text(client.get(url))
    assert page.count("data-change-id=") == 1

    add_requests(plan, personas, 9, decide=decide)
    with django_assert_num_queries(LIST_QUERIES):
        page = text(client.get(url))
    assert page.count("data-change-id=") == 10
