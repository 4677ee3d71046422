"""Rollover (结转): next year's plan of a village from its unfinished rows (tasks.rollover, docs/rollover.md).

Exactly the unfinished rows are carried, once, each with a link to its origin, the reason, the remaining funds and
its fund lines scaled to them; done and withdrawn rows never; a second rollover carries nothing; an approved target
gets change requests (新增) that create the linked rows only when approved; access and bad input change nothing."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.http import Http404
from django.urls import reverse

from tasks import changes, rollover, services
from tasks.models import ChangeRequest, FundLine, Plan, Task
from tests import factories

pytestmark = pytest.mark.usefixtures("pinned_today")
REASON = "道路施工受汛期影响，顺延到下一年度"


@pytest.fixture
def origin(area):
    """茅垭村's 2017 plan: a road in progress (100 planned, 40 invested, 60/40 central/self), a household's row not
    started, a row with odd fund lines, a done row and a withdrawn row."""

    class Origin:
        plan = factories.plan(area.village_a, 2017)
        road = factories.task(
            plan,
            item="通村硬化路",
            status=Task.Status.IN_PROGRESS,
            progress=40,
            planned_funds=Decimal("100"),
            invested_funds=Decimal("40"),
            deadline=datetime.date(2017, 8, 31),
            responsible_unit="白庙乡人民政府",
            responsible_person="王五",
        )
        factories.fund_line(road, "central", Decimal("60"))
        factories.fund_line(road, "self", Decimal("40"))
        pigs = factories.task(
            plan, area.household_a, item="养猪 2 头", category="industry", planned_funds=Decimal("0.5")
        )
        odd = factories.task(
            plan,
            item="产业路",
            planned_funds=Decimal("10"),
            invested_funds=Decimal("3.3333"),
            status=Task.Status.IN_PROGRESS,
            progress=30,
            deadline=datetime.date(2018, 3, 31),
        )
        factories.fund_line(odd, "central", Decimal("3.3333"))
        factories.fund_line(odd, "province", Decimal("3.3333"))
        factories.fund_line(odd, "self", Decimal("3.3334"))
        done = factories.done_task(plan, item="村卫生室")
        removed = factories.task(plan, item="旧村委会维修", is_removed=True, removed_reason="并入新建项目")

    return Origin


def carried(plan):
    return list(Task.objects.filter(plan=plan, carried_from__isnull=False).order_by("carried_from_id"))


# A draft target --------------------------------------------------------------------------------------------------


def test_exactly_the_unfinished_rows_are_carried_once_with_links_reasons_and_remaining_funds(area, personas, origin):
    result = rollover.roll_over(user=personas.village_cadre, plan=origin.plan, reason=REASON)

    target = Plan.objects.get(village=area.village_a, year=2018)
    assert result.target == target and not target.is_approved
    rows = carried(target)
    assert [row.carried_from_id for row in rows] == [origin.road.pk, origin.pigs.pk, origin.odd.pk]
    assert all(row.carry_reason == REASON for row in rows)
    road, pigs, odd = rows
    assert (road.item, road.category, road.quantity, road.unit) == ("通村硬化路", "road", Decimal("3"), "公里")
    assert (road.responsible_unit, road.responsible_person) == ("白庙乡人民政府", "王五")
    assert (road.planned_funds, road.invested_funds, road.status, road.progress) == (
        Decimal("60"),
        Decimal("0"),
        Task.Status.NOT_STARTED,
        0,
    )
    assert road.deadline == datetime.date(2018, 8, 31)  # the same month and day in the new year
    assert odd.deadline == datetime.date(2018, 3, 31)  # already in the new year: kept
    assert pigs.household_id == area.household_a.pk and pigs.planned_funds == Decimal("0.5")
    assert dict(road.fund_lines.values_list("source", "amount")) == {"central": Decimal("36"), "self": Decimal("24")}
    odd_lines = dict(odd.fund_lines.values_list("source", "amount"))
    assert odd.planned_funds == Decimal("6.6667") == sum(odd_lines.values())
    assert set(odd_lines) == {"central", "province", "self"}
    assert not pigs.fund_lines.exists()
    assert result.message() == "已将 3 项未完成任务结转到2018年施工图（草稿）。"


def test_the_history_of_every_carried_row_is_signed_with_the_reason(personas, origin):
    result = rollover.roll_over(user=personas.village_cadre, plan=origin.plan, reason=REASON)
    for row in result.created:
        record = row.history.get()
        assert record.history_user == personas.village_cadre
        assert record.history_change_reason == f"结转自2017年任务 #{row.carried_from_id}：{REASON}"
    line = FundLine.history.filter(task_id=result.created[0].pk).first()
    assert line.history_change_reason.endswith(REASON)


def test_a_second_rollover_carries_nothing_and_names_what_was_carried(personas, origin):
    rollover.roll_over(user=personas.village_cadre, plan=origin.plan, reason=REASON)
    before = Task.objects.count()

    again = rollover.roll_over(user=personas.village_cadre, plan=origin.plan, reason="再结转一次")

    assert Task.objects.count() == before and again.count == 0
    assert [task.pk for task, _ in again.skipped] == [origin.road.pk, origin.pigs.pk, origin.odd.pk]
    assert "另有 3 项已结转过" in again.message()
    with pytest.raises(ValidationError) as error:
        rollover.roll_over(user=personas.village_cadre, plan=origin.plan, reason=REASON, task_ids=[origin.road.pk])
    assert error.value.message_dict["tasks"] == [f"“通村硬化路”（#{origin.road.pk}）已结转过，不能重复结转。"]


def test_a_withdrawn_carried_row_frees_its_origin_to_be_carried_again(personas, origin):
    first = rollover.roll_over(user=personas.village_cadre, plan=origin.plan, reason=REASON, task_ids=[origin.road.pk])
    Task.objects.filter(pk=first.created[0].pk).update(is_removed=True, removed_reason="重复")
    again = rollover.roll_over(user=personas.village_cadre, plan=origin.plan, reason=REASON, task_ids=[origin.road.pk])
    assert again.created[0].carried_from_id == origin.road.pk


def test_only_the_chosen_rows_are_carried_and_a_given_deadline_is_kept(personas, origin):
    result = rollover.roll_over(
        user=personas.village_cadre,
        plan=origin.plan,
        reason=REASON,
        task_ids=[origin.odd.pk],
        deadline=datetime.date(2018, 6, 30),
    )
    assert [(row.carried_from_id, row.deadline) for row in result.created] == [
        (origin.odd.pk, datetime.date(2018, 6, 30))
    ]


def test_the_deadline_rule_at_its_boundaries():
    assert rollover.carried_deadline(datetime.date(2016, 2, 29), 2017) == datetime.date(2017, 2, 28)
    assert rollover.carried_deadline(datetime.date(2017, 12, 31), 2018) == datetime.date(2018, 12, 31)
    assert rollover.carried_deadline(datetime.date(2019, 6, 30), 2018) == datetime.date(2019, 6, 30)


def test_fund_lines_are_scaled_to_one_yuan_and_add_up():
    lines = rollover.scaled_lines([("a", Decimal("1")), ("b", Decimal("1")), ("c", Decimal("1"))], Decimal("1"))
    assert sum(amount for _, amount in lines) == Decimal("1")
    assert rollover.scaled_lines([("a", Decimal("5"))], Decimal("0")) == []


# Bad input changes nothing ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"reason": "  "}, "reason", "请填写结转原因。"),
        ({"task_ids": []}, "tasks", "请至少选择一项要结转的任务。"),
        ({"year": 2017}, "year", "结转的目标年度须晚于本施工图的年度（2017年）。"),
        ({"deadline": datetime.date(2030, 1, 1)}, "deadline", "完成时限应在2017年1月1日至2021年12月31日之间。"),
    ],
)
def test_bad_input_is_refused_in_chinese_and_changes_nothing(personas, origin, kwargs, field, message):
    before = (Plan.objects.count(), Task.objects.count(), ChangeRequest.objects.count())
    arguments = {"reason": REASON, **kwargs}
    with pytest.raises(ValidationError) as error:
        rollover.roll_over(user=personas.village_cadre, plan=origin.plan, **arguments)
    assert message in error.value.message_dict[field]
    assert (Plan.objects.count(), Task.objects.count(), ChangeRequest.objects.count()) == before


def test_foreign_done_and_withdrawn_ids_are_each_named_and_nothing_is_carried(area, personas, origin):
    foreign = factories.task(factories.plan(area.village_a2), item="别村的路")
    with pytest.raises(ValidationError) as error:
        rollover.roll_over(
            user=personas.village_cadre,
            plan=origin.plan,
            reason=REASON,
            task_ids=[origin.road.pk, foreign.pk, origin.done.pk, origin.removed.pk],
        )
    assert error.value.message_dict["tasks"] == [
        f"任务 #{foreign.pk} 不是本施工图的任务，不能从这里结转。",
        f"“村卫生室”（#{origin.done.pk}）已完成，不需要结转。",
        f"“旧村委会维修”（#{origin.removed.pk}）已撤销，不能结转。",
    ]
    assert not Plan.objects.filter(year=2018).exists()
    assert not Task.objects.filter(carried_from__isnull=False).exists()


def test_the_database_and_clean_keep_a_row_carried_once_later_with_a_reason(area, personas, origin):
    later = factories.plan(area.village_a, 2018)
    factories.task(later, carried_from=origin.road, carry_reason=REASON)
    twin = Task(
        plan=later,
        category="road",
        item="x",
        deadline=datetime.date(2018, 5, 1),
        carried_from=origin.road,
        carry_reason=REASON,
    )
    assert "该任务已结转过，不能重复结转。" in factories.all_messages(twin)
    with factories.refused_by_database(Task, "task_carried_once"):
        Task.objects.create(
            plan=later,
            category="road",
            item="x",
            deadline=datetime.date(2018, 5, 1),
            carried_from=origin.road,
            carry_reason=REASON,
        )
    blank = Task(plan=later, category="road", item="y", deadline=datetime.date(2018, 5, 1), carried_from=origin.pigs)
    assert factories.clean_errors(blank)["carry_reason"] == ["请填写结转原因。"]
    with factories.refused_by_database(Task, "task_carried_has_reason"):
        Task.objects.create(
            plan=later, category="road", item="y", deadline=datetime.date(2018, 5, 1), carried_from=origin.pigs
        )
    same_year = Task(
        plan=origin.plan,
        category="road",
        item="z",
        deadline=datetime.date(2017, 5, 1),
        carried_from=origin.pigs,
        carry_reason=REASON,
    )
    assert factories.clean_errors(same_year)["carried_from"] == [
        "结转后的任务所在施工图的年度（2017年）须晚于原任务所在施工图的年度（2017年）。"
    ]


# An approved target: through change control -----------------------------------------------------------------------


@pytest.fixture
def approved_target(area, personas, origin):
    target = factories.plan(area.village_a, 2018)
    factories.task(target, item="新建村级活动室", deadline=datetime.date(2018, 10, 31))
    services.plan_approve(plan_id=target.pk, user=personas.district_admin)
    target.refresh_from_db()
    return target


def test_an_approved_target_gets_pending_add_requests_and_no_rows(personas, origin, approved_target):
    result = rollover.roll_over(user=personas.village_cadre, plan=origin.plan, reason=REASON)

    assert result.created == [] and len(result.requested) == 3
    assert not carried(approved_target)
    requests = ChangeRequest.objects.filter(plan=approved_target).order_by("carried_from_id")
    assert [(r.kind, r.state, r.carried_from_id, r.carry_reason) for r in requests] == [
        ("add", "pending", origin.road.pk, REASON),
        ("add", "pending", origin.pigs.pk, REASON),
        ("add", "pending", origin.odd.pk, REASON),
    ]
    assert requests[0].after["planned_funds"] == "60.0000"
    assert requests[0].after["fund_lines"] == [
        {"source": "central", "amount": "36.0000"},
        {"source": "self", "amount": "24.0000"},
    ]
    assert "批准后生效" in result.message()


def test_approval_creates_the_linked_row_rejection_none_and_pending_blocks_a_second_carry(
    personas, origin, approved_target
):
    rollover.roll_over(user=personas.village_cadre, plan=origin.plan, reason=REASON)
    road, pigs, _ = ChangeRequest.objects.filter(plan=approved_target).order_by("carried_from_id")

    with pytest.raises(ValidationError) as error:
        rollover.roll_over(user=personas.village_cadre, plan=origin.plan, reason=REASON, task_ids=[origin.road.pk])
    assert error.value.message_dict["tasks"] == [
        f"“通村硬化路”（#{origin.road.pk}）已有待审批的结转申请，不能重复结转。"
    ]

    changes.change_request_approve(user=personas.district_admin, request_id=road.pk, expected_version=road.version)
    changes.change_request_reject(
        user=personas.district_admin, request_id=pigs.pk, note="该户已脱贫，不再安排", expected_version=pigs.version
    )
    (row,) = carried(approved_target)
    assert (row.carried_from_id, row.carry_reason, row.planned_funds) == (origin.road.pk, REASON, Decimal("60"))
    assert row.baseline_planned_funds == Decimal("60")
    assert dict(row.fund_lines.values_list("source", "amount")) == {"central": Decimal("36"), "self": Decimal("24")}
    # The rejected row may be carried again; the approved one never.
    again = rollover.roll_over(user=personas.village_cadre, plan=origin.plan, reason="再次申请")
    assert [r.carried_from_id for r in again.requested] == [origin.pigs.pk]
    assert [task.pk for task, _ in again.skipped] == [origin.road.pk, origin.odd.pk]


# Access --------------------------------------------------------------------------------------------------------------


def test_outside_the_area_the_plan_does_not_exist_and_a_read_only_role_may_not(area, client, personas, origin):
    other = factories.user("village_cadre", area.village_a2, username="baihua")
    with pytest.raises(Http404):
        rollover.roll_over(user=other, plan=origin.plan, reason=REASON)
    url = reverse("tasks:plan_rollover", args=[origin.plan.pk])
    client.force_login(other)
    assert client.get(url).status_code == 404
    assert client.post(url, {"reason": REASON, "tasks": [origin.road.pk]}).status_code == 404
    client.force_login(personas.leader)
    assert client.get(url).status_code == 403
    assert client.post(url, {"reason": REASON, "tasks": [origin.road.pk]}).status_code == 403
    assert not Plan.objects.filter(year=2018).exists()


# Pages ---------------------------------------------------------------------------------------------------------------


def test_the_form_lists_the_unfinished_rows_ticked_with_their_remaining_funds(client, personas, origin):
    client.force_login(personas.village_cadre)
    plan_page = client.get(reverse("tasks:plan", args=[origin.plan.pk])).content.decode()
    assert 'data-testid="rollover-link"' in plan_page and "结转到 2018 年" in plan_page

    page = client.get(reverse("tasks:plan_rollover", args=[origin.plan.pk])).content.decode()
    assert page.count('data-testid="rollover-row"') == 3
    assert page.count('name="tasks"') == 3 and page.count(" checked") == 3
    assert "村卫生室" not in page and "旧村委会维修" not in page
    assert '<span data-testid="remaining-funds">60.00</span>' in page
    assert "将新建2018年施工图（草稿）" in page


def test_the_form_carries_the_ticked_rows_and_both_plan_pages_show_the_links(client, personas, origin):
    client.force_login(personas.village_cadre)
    url = reverse("tasks:plan_rollover", args=[origin.plan.pk])
    key = "6f1c1f9e-7c55-4a52-9d7e-0c3c1b1f0a11"
    body = {"reason": REASON, "tasks": [origin.road.pk, origin.pigs.pk], "_submission": key}
    response = client.post(url, body)
    target = Plan.objects.get(year=2018)
    assert response.status_code == 302 and response["Location"] == reverse("tasks:plan", args=[target.pk])
    again = client.post(url, body)  # the same form sent twice: handled once
    assert again.status_code == 302 and len(carried(target)) == 2

    page = client.get(response["Location"]).content.decode()
    assert "已将 2 项未完成任务结转到2018年施工图（草稿）。" in page
    assert page.count('data-testid="carried-row"') == 2
    assert f"2017年任务 #{origin.road.pk}" in page and f"结转原因：{REASON}" in page
    assert '<span data-testid="carried-funds">60.50</span>' in page

    origin_page = client.get(reverse("tasks:plan", args=[origin.plan.pk])).content.decode()
    assert origin_page.count('data-testid="carried-to"') == 2 and "已结转至" in origin_page

    form = client.get(url).content.decode()
    assert form.count('data-testid="already-carried"') == 2 and form.count('name="tasks"') == 1


def test_the_form_refuses_a_blank_reason_and_no_rows_in_chinese(client, personas, origin):
    client.force_login(personas.village_cadre)
    url = reverse("tasks:plan_rollover", args=[origin.plan.pk])
    page = client.post(url, {"reason": " ", "tasks": [origin.road.pk]}).content.decode()
    assert "请填写结转原因。" in page
    page = client.post(url, {"reason": REASON}).content.decode()
    assert "请至少选择一项要结转的任务。" in page
    page = client.post(url, {"reason": REASON, "tasks": ["abc"]}).content.decode()
    assert "所选任务无效" in page
    page = client.post(url, {"reason": REASON, "tasks": [origin.done.pk]}).content.decode()
    assert "已完成，不需要结转。" in page
    assert not Plan.objects.filter(year=2018).exists()


def test_the_form_page_runs_the_same_queries_for_ten_times_the_rows(
    area, client, personas, origin, django_assert_num_queries
):
    client.force_login(personas.village_cadre)
    url = reverse("tasks:plan_rollover", args=[origin.plan.pk])
    client.get(url)
    with django_assert_num_queries(ROLLOVER_PAGE_QUERIES):
        assert client.get(url).status_code == 200
    for i in range(30):
        factories.task(origin.plan, area.household_a if i % 2 else None, item=f"任务{i}")
    rollover.roll_over(user=personas.village_cadre, plan=origin.plan, reason=REASON, task_ids=[origin.road.pk])
    client.get(url)  # the navigation's numbers counted again for the changed rows, and stored
    with django_assert_num_queries(ROLLOVER_PAGE_QUERIES):
        page = client.get(url).content.decode()
    assert page.count('data-testid="rollover-row"') == 33


# The session and the user, the plan (visible, then editable), the unfinished rows with their carry state in one
# query, the target plan, and what the base page and the navigation read (the user's village; the data versions with
# the navigation's stored numbers, nothing having changed since the last page): ten, whatever the rows.
ROLLOVER_PAGE_QUERIES = 10


# The one table and the plan page ---------------------------------------------------------------------------------


def test_the_one_table_names_the_origin_of_each_carried_row(area, personas, origin):
    from tasks.exports import PlanTableScope, plan_table_rows

    result = rollover.roll_over(user=personas.village_cadre, plan=origin.plan, reason=REASON, task_ids=[origin.road.pk])
    factories.task(result.target, item="新项目", deadline=datetime.date(2018, 6, 30))
    scope = PlanTableScope(user=personas.district_admin, year=2018, district=area.district)
    rows = {row["item"]: row for row in plan_table_rows(scope, datetime.date(2018, 1, 2)) if row["row_type"] == "task"}
    assert rows["通村硬化路"]["carried_from"] == f"2017年 #{origin.road.pk}"
    assert rows["新项目"]["carried_from"] == ""


def test_the_plan_page_shows_carried_rows_in_the_same_queries_for_ten_times_the_rows(
    area, client, personas, origin, django_assert_num_queries
):
    first = [origin.road.pk, origin.pigs.pk]  # a village row and a household's
    rollover.roll_over(user=personas.village_cadre, plan=origin.plan, reason=REASON, task_ids=first)
    client.force_login(personas.village_cadre)
    target = Plan.objects.get(year=2018)
    url = reverse("tasks:plan", args=[target.pk])
    with django_assert_num_queries(PLAN_PAGE_QUERIES):
        assert client.get(url).status_code == 200
    more = [factories.task(origin.plan, item=f"任务{i}") for i in range(20)]
    rollover.roll_over(user=personas.village_cadre, plan=origin.plan, reason=REASON, task_ids=[t.pk for t in more])
    with django_assert_num_queries(PLAN_PAGE_QUERIES):
        page = client.get(url).content.decode()
    assert page.count('data-testid="carried-row"') == 22


# tests/test_task_pages.py's 15 queries of the plan page and one for the rollover panel (rows carried in and out).
PLAN_PAGE_QUERIES = 16
