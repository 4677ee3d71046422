"""我的待办 (``/``): each role's landing page lists what is due, overdue or waiting for them, one tap from the action;
the counts in the navigation; the full list behind "全部 N 项"; the admins' plans awaiting approval; the dashboard
moved to ``/dashboard/``; and each role's page makes the same number of queries for ten times the data.

Today is 2017-09-15: a row due 2017-08-31 is 15 days overdue, one due 2017-09-18 is due in 3 days.
"""

import datetime
import itertools
from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser
from django.urls import reverse
from django.utils import timezone

from bazhou.core.models import Notification
from bazhou.surfaces import todo
from bazhou.surfaces.context_processors import todo_counts
from supervision import services as supervision_services
from supervision.models import AccountabilityCase, Escalation, Lead, Opinion, Rectification
from tasks import services as task_services
from tasks.models import ChangeRequest, Plan
from tests import factories

pytestmark = pytest.mark.usefixtures("pinned_today")

TODAY = datetime.date(2017, 9, 15)
HOME = reverse("home")
LATE = datetime.date(2017, 8, 31)
SOON = datetime.date(2017, 9, 18)
LATER = datetime.date(2017, 12, 31)


def page(client, user, url=HOME, params=None):
    client.force_login(user)
    response = client.get(url, params or {})
    assert response.status_code == 200, response.content.decode()[:500]
    return response


def sections(response) -> dict:
    return {s.key: s for s in response.context["sections"]}


def titles(response, key) -> list[str]:
    return [item.title for item in sections(response)[key].items]


def tiles(response) -> dict:
    return {s.key: s.total for s in response.context["tiles"]}


def badges(item) -> list[tuple[str, str]]:
    return [(b.text, b.tone) for b in item.badges]


@pytest.fixture
def chain(area, personas):
    """The people of the supervision chain around the two-township district of ``area``."""

    class Chain:
        transport = factories.department(area.district, name="区交通运输局")
        water = factories.department(area.district, name="区水务局")
        department = factories.department_user(transport, username="jiaotong")
        department_water = factories.department_user(water, username="shuiwu")
        patch_leader = factories.patch_leader_user([area.township_a], username="guabao")
        patch_leader_b = factories.patch_leader_user([area.township_b], username="guabao-b")
        informant = factories.informant_user(area.village_a, username="xinxiyuan")
        oversight = factories.oversight_user(area.district, username="renda")
        discipline = factories.discipline_user(area.district, username="jiwei")
        plan_a = factories.plan(area.village_a, 2017, state=Plan.State.APPROVED, approved_at=timezone.now())
        plan_a2 = factories.plan(area.village_a2, 2017)
        plan_b = factories.plan(area.village_b, 2017)

    return Chain


def late_row(plan, item="村文化室", **fields):
    return factories.task(plan, item=item, deadline=LATE, status="in_progress", progress=80, **fields)


def soon_row(plan, item="通组道路", **fields):
    return factories.task(plan, item=item, deadline=SOON, **fields)


def finding_with(target, status=Rectification.Status.PENDING, deadline=datetime.date(2017, 11, 1), **fields):
    finding = factories.finding(target, description=fields.pop("description", "进度滞后"))
    rect = factories.rectification(finding, deadline=deadline, status=status, **fields)
    return finding, rect


def answered(target, by, **fields):
    return finding_with(
        target,
        status=Rectification.Status.AWAITING_RECHECK,
        result="已整改",
        answered_by=by,
        answered_at=timezone.now(),
        **fields,
    )


def escalation(finding, leader, *, respond_by, reason=Escalation.Reason.MAJOR_FINDING, **fields):
    return Escalation.objects.create(
        finding=finding,
        reason=reason,
        leader=leader,
        opened_on=datetime.date(2017, 9, 1),
        respond_by=respond_by,
        **fields,
    )


def notification(user, title, *, read=False, n=0):
    return Notification.objects.create(
        recipient_key=f"user:{user.pk}",
        user=user,
        district=user.district,
        reason=Notification.Reason.TASK_OVERDUE,
        target_type="tasks.task",
        target_id=1000 + n,
        day=TODAY,
        title=title,
        read_at=timezone.now() if read else None,
    )


def change_request(task, by, *, state=ChangeRequest.State.PENDING, decided_by=None, decided_at=None, note=""):
    return ChangeRequest.objects.create(
        plan=task.plan,
        task=task,
        kind=ChangeRequest.Kind.CHANGE,
        before={"item": task.item},
        after={"item": task.item, "deadline": "2017-10-31"},
        reason_category=ChangeRequest.ReasonCategory.DISASTER,
        reason="暴雨冲毁路基",
        state=state,
        requested_by=by,
        decided_by=decided_by,
        decided_at=decided_at,
        decision_note=note,
    )


# ---------------------------------------------------------------------------------------------
# Village cadres and township staff
# ---------------------------------------------------------------------------------------------


def test_a_cadre_sees_their_villages_overdue_and_due_rows_with_red_and_yellow_countdowns(client, area, personas, chain):
    late = late_row(chain.plan_a, responsible_person="秦和平")
    soon = soon_row(chain.plan_a)
    today_row = factories.task(chain.plan_a, item="饮水管网", deadline=TODAY)
    factories.task(chain.plan_a, item="远期任务", deadline=LATER)
    factories.done_task(chain.plan_a, item="已完成的逾期任务", deadline=LATE)
    factories.task(chain.plan_a, item="已撤销", deadline=LATE, is_removed=True, removed_reason="重复")
    late_row(chain.plan_a2, item="百花村逾期")
    late_row(chain.plan_b, item="大寺村逾期")

    response = page(client, personas.village_cadre)
    assert titles(response, "rows_overdue") == ["村文化室"]
    assert titles(response, "rows_due") == ["饮水管网", "通组道路"]
    overdue = sections(response)["rows_overdue"].items[0]
    assert badges(overdue) == [("逾期 15 天", "overdue")]
    assert overdue.url == reverse("tasks:task_progress", args=[late.pk])
    assert "秦和平" in overdue.detail and "进度 80%" in overdue.detail
    due = {item.pk: badges(item) for item in sections(response)["rows_due"].items}
    assert due == {today_row.pk: [("今天到期", "due")], soon.pk: [("临期 3 天", "due")]}
    html = response.content.decode()
    assert "逾期 15 天" in html and "临期 3 天" in html and 'class="badge badge-overdue"' in html
    # The progress form the button opens is the cadre's to use.
    assert client.get(overdue.url).status_code == 200


def test_township_staff_see_every_village_of_their_township_and_nothing_of_another(client, area, personas, chain):
    late_row(chain.plan_a)
    late_row(chain.plan_a2, item="百花村逾期")
    late_row(chain.plan_b, item="大寺村逾期")
    response = page(client, personas.township_a)
    assert sorted(titles(response, "rows_overdue")) == ["村文化室", "百花村逾期"]
    assert titles(page(client, personas.township_b), "rows_overdue") == ["大寺村逾期"]


def test_a_cadre_sees_the_findings_to_answer_pending_in_progress_and_sent_back(client, area, personas, chain):
    row = late_row(chain.plan_a)
    pending, _ = finding_with(row, description="文化室未完工")
    started, _ = finding_with(area.village_a, status=Rectification.Status.IN_PROGRESS, description="档案不全")
    sent_back, _ = finding_with(
        area.household_a,
        status=Rectification.Status.IN_PROGRESS,
        description="住房未改造",
        deadline=datetime.date(2017, 9, 10),
        result="已改造",
        answered_by=personas.village_cadre,
        answered_at=timezone.now(),
        rechecked_by=personas.supervisor,
        rechecked_at=timezone.now(),
        recheck_note="缺照片",
    )
    answered(area.village_a, personas.village_cadre, description="已提交等复查")
    finding_with(
        area.village_a,
        status=Rectification.Status.CLOSED,
        description="已销号",
        result="好",
        answered_by=personas.village_cadre,
        answered_at=timezone.now(),
        rechecked_by=personas.supervisor,
        rechecked_at=timezone.now(),
        closed_on=TODAY,
    )
    finding_with(area.village_b, description="大寺村的问题")
    finding_with(area.township_a, description="乡镇的问题")  # the township's: the cadre reads it, does not answer

    response = page(client, personas.village_cadre)
    items = {item.title: item for item in sections(response)["findings_to_answer"].items}
    assert set(items) == {"住房：住房未改造", "进度滞后：文化室未完工", "档案资料：档案不全"} or set(items) == {
        f"{f.get_type_display()}：{f.description}" for f in (pending, started, sent_back)
    }
    back = items[f"{sent_back.get_type_display()}：住房未改造"]
    assert ("逾期 5 天", "overdue") in badges(back) and ("复查退回", "overdue") in badges(back)
    assert back.url == reverse("supervision:finding", args=[sent_back.pk]) + "#actions-heading"
    assert back.action == "填报整改"


def test_answering_a_finding_removes_it_from_the_to_do(client, area, personas, chain):
    finding, rect = finding_with(area.village_a, description="档案不全")
    assert [i.pk for i in sections(page(client, personas.village_cadre))["findings_to_answer"].items] == [rect.pk]
    supervision_services.rectification_answer(
        rectification_id=rect.pk, user=personas.village_cadre, expected_version=rect.version, result="已补齐档案"
    )
    response = page(client, personas.village_cadre)
    assert sections(response)["findings_to_answer"].total == 0
    assert "没有待整改的问题。" in response.content.decode()


def test_a_cadre_sees_their_change_requests_decided_recently(client, area, personas, chain):
    row = late_row(chain.plan_a)
    other = late_row(chain.plan_a, item="另一行")
    third = late_row(chain.plan_a, item="第三行")
    now = timezone.now()
    change_request(row, personas.village_cadre, state="approved", decided_by=personas.district_admin, decided_at=now)
    change_request(
        other,
        personas.village_cadre,
        state="rejected",
        decided_by=personas.district_admin,
        decided_at=now,
        note="依据不足",
    )
    change_request(third, personas.village_cadre)  # pending: not news yet
    old = late_row(chain.plan_a, item="旧申请")
    change_request(
        old,
        personas.village_cadre,
        state="approved",
        decided_by=personas.district_admin,
        decided_at=now - datetime.timedelta(days=todo.RECENT_DAYS + 1),
    )
    response = page(client, personas.village_cadre)
    items = sections(response)["my_changes"].items
    assert sorted(badges(i)[0][0] for i in items) == ["已批准", "已驳回"]
    assert any("依据不足" in i.detail for i in items)


# ---------------------------------------------------------------------------------------------
# A department's users
# ---------------------------------------------------------------------------------------------


def test_a_department_user_sees_their_departments_rows_across_the_district_and_no_other(client, area, personas, chain):
    mine_a = late_row(chain.plan_a, item="交通A", department=chain.transport)
    late_row(chain.plan_b, item="交通B", department=chain.transport)
    soon_row(chain.plan_b, item="交通临期", department=chain.transport)
    late_row(chain.plan_a, item="水务A", department=chain.water)
    late_row(chain.plan_a, item="无部门")
    response = page(client, chain.department)
    assert sorted(titles(response, "rows_overdue")) == ["交通A", "交通B"]
    assert titles(response, "rows_due") == ["交通临期"]
    keys = set(sections(response))
    assert "findings_to_answer" not in keys and "my_changes" not in keys and not response.context["tiles"]
    item = next(i for i in sections(response)["rows_overdue"].items if i.pk == mine_a.pk)
    assert item.url == reverse("tasks:task_progress", args=[mine_a.pk])
    assert sections(response)["rows_overdue"].more_url == reverse("tasks:department") + "?due=overdue"
    assert titles(page(client, chain.department_water), "rows_overdue") == ["水务A"]


def test_the_dashboard_moved_and_refuses_a_department_user_in_chinese(client, area, personas, chain):
    rendered = {t.name for t in page(client, personas.district_admin, reverse("dashboard")).templates}
    assert "dashboard/index.html" in rendered
    client.force_login(chain.department)
    refused = client.get(reverse("dashboard"))
    assert refused.status_code == 403
    assert "驾驶舱" in refused.content.decode() and "无权访问" in refused.content.decode()
    home = page(client, chain.department)
    assert home.templates[0].name == "todo/index.html"
    assert 'data-testid="nav-dashboard"' not in home.content.decode()
    assert 'data-testid="nav-dashboard"' in page(client, personas.village_cadre).content.decode()


# ---------------------------------------------------------------------------------------------
# District admins and supervisors
# ---------------------------------------------------------------------------------------------


def test_an_admin_sees_change_requests_plans_awaiting_approval_rechecks_and_the_districts_counts(
    client, area, personas, chain
):
    row = late_row(chain.plan_a)
    soon_row(chain.plan_a)
    change_request(row, personas.village_cadre)
    late_row(chain.plan_a2, item="百花村草稿行")  # plan_a2: a draft with a row, awaiting approval
    factories.plan(area.village_b, 2018)  # an empty draft: nothing to approve
    _, rect = answered(area.village_a, personas.village_cadre, description="待复查")
    finding_with(area.village_a, status=Rectification.Status.IN_PROGRESS, deadline=datetime.date(2017, 9, 1))

    response = page(client, personas.district_admin)
    keys = list(sections(response))
    assert keys[:3] == ["changes_to_decide", "plans_to_approve", "rechecks"]
    assert "rows_overdue" not in keys and "findings_to_answer" not in keys
    change = sections(response)["changes_to_decide"].items[0]
    assert change.url == reverse("tasks:change_request", args=[change.pk]) and change.action == "审批"
    plans = sections(response)["plans_to_approve"].items
    assert [p.pk for p in plans] == [chain.plan_a2.pk] and "1 项任务" in plans[0].detail
    assert plans[0].url == reverse("tasks:plan", args=[chain.plan_a2.pk])
    assert [i.pk for i in sections(response)["rechecks"].items] == [rect.pk]
    assert tiles(response) == {"summary_overdue": 2, "summary_due": 1, "summary_rectifications": 1}
    tile = next(t for t in response.context["tiles"] if t.key == "summary_overdue")
    assert tile.more == reverse("supervision:queue") + "?view=overdue"
    # The navigation's count: change requests, plans and rechecks (the counts of the district are not "mine").
    assert response.context["nav_counts"]["todo"] == 3
    assert 'data-testid="nav-todo-count">3<' in response.content.decode()


def test_a_supervisor_rechecks_others_answers_handles_new_leads_and_late_escalations(client, area, personas, chain):
    _, theirs = answered(area.village_a, personas.village_cadre, description="别人填报")
    answered(area.village_b, personas.supervisor, description="自己填报")  # not theirs to recheck
    new = Lead.objects.create(
        village=area.village_a, description="停工一个月", observed_on=TODAY, filed_by=chain.informant
    )
    Lead.objects.create(
        village=area.village_a,
        description="已处理",
        observed_on=TODAY,
        filed_by=chain.informant,
        state=Lead.State.NOTED,
    )
    finding, _ = finding_with(area.village_a, description="重大问题")
    late = escalation(finding, chain.patch_leader, respond_by=datetime.date(2017, 9, 8))
    other, _ = finding_with(area.village_b, description="未超期")
    escalation(other, chain.patch_leader_b, respond_by=datetime.date(2017, 9, 20))
    nobody, _ = finding_with(area.village_b, description="无人回复")
    orphan = escalation(
        nobody, None, respond_by=datetime.date(2017, 9, 10), reason=Escalation.Reason.RECTIFICATION_OVERDUE
    )

    response = page(client, personas.supervisor)
    assert [i.pk for i in sections(response)["rechecks"].items] == [theirs.pk]
    assert [i.pk for i in sections(response)["leads_new"].items] == [new.pk]
    late_items = {i.pk: i for i in sections(response)["escalations_late"].items}
    assert set(late_items) == {late.pk, orphan.pk}
    assert badges(late_items[late.pk]) == [("逾期 7 天", "overdue")]
    assert "无挂包领导" in late_items[orphan.pk].detail
    assert late_items[late.pk].url == reverse("supervision:escalation", args=[late.pk])
    not_started = sections(response)["findings_not_started"]
    assert {i.title for i in not_started.items} == {"进度滞后：重大问题", "进度滞后：未超期", "进度滞后：无人回复"}
    assert "changes_to_decide" not in sections(response) and "plans_to_approve" not in sections(response)


# ---------------------------------------------------------------------------------------------
# 挂包 leaders, the 人大/政协, the 纪委, information officers
# ---------------------------------------------------------------------------------------------


def test_a_patch_leader_sees_the_escalations_put_before_them_with_a_countdown_and_their_charges_counts(
    client, area, personas, chain
):
    late_row(chain.plan_a)
    late_row(chain.plan_b, item="大寺村逾期")  # outside the charge
    mine, _ = finding_with(area.village_a, description="通村路停工")
    open_one = escalation(mine, chain.patch_leader, respond_by=datetime.date(2017, 9, 19))
    overdue_one = escalation(
        mine, chain.patch_leader, respond_by=datetime.date(2017, 9, 12), reason=Escalation.Reason.RECTIFICATION_OVERDUE
    )
    done, _ = finding_with(area.village_a2, description="已回复")
    escalation(
        done,
        chain.patch_leader,
        respond_by=datetime.date(2017, 9, 19),
        response="已协调",
        responded_by=chain.patch_leader,
        responded_at=timezone.now(),
    )
    theirs, _ = finding_with(area.village_b, description="别人的")
    escalation(theirs, chain.patch_leader_b, respond_by=datetime.date(2017, 9, 19))

    response = page(client, chain.patch_leader)
    items = {i.pk: i for i in sections(response)["escalations_mine"].items}
    assert list(items) == [overdue_one.pk, open_one.pk]
    assert badges(items[open_one.pk]) == [("临期 4 天", "due")]
    assert badges(items[overdue_one.pk]) == [("逾期 3 天", "overdue")]
    assert items[open_one.pk].action == "回复"
    assert items[open_one.pk].url == reverse("supervision:escalation", args=[open_one.pk])
    assert tiles(response)["summary_overdue"] == 1  # the charge's, not the district's
    assert response.context["nav_counts"]["todo"] == 2


def test_the_oversight_see_overdue_rectifications_and_their_recent_opinions(client, area, personas, chain):
    late, _ = finding_with(area.village_a, deadline=datetime.date(2017, 9, 1), description="逾期整改")
    finding_with(area.village_b, deadline=datetime.date(2017, 10, 1), description="未逾期")
    opinion = Opinion.objects.create(
        finding=late, body="congress", text="请加快整改", given_on=TODAY, given_by=chain.oversight
    )
    response = page(client, chain.oversight)
    overdue = sections(response)["rectifications_overdue"].items
    assert [i.title for i in overdue] == ["进度滞后：逾期整改"] and badges(overdue[0]) == [("逾期 14 天", "overdue")]
    assert overdue[0].action == "督导意见"
    assert [i.pk for i in sections(response)["opinions_mine"].items] == [opinion.pk]


def test_the_discipline_commission_sees_the_open_cases(client, area, personas, chain):
    row = late_row(chain.plan_a)
    case = AccountabilityCase.objects.create(
        district=area.district, reason="task_overdue", task=row, opened_on=TODAY, detail="逾期 75 天"
    )
    _, rect = finding_with(area.village_a)
    AccountabilityCase.objects.create(
        district=area.district,
        reason="rect_overdue",
        rectification=rect,
        opened_on=TODAY,
        state="dismissed",
        decision_note="已整改",
    )
    response = page(client, chain.discipline)
    items = sections(response)["cases_open"].items
    assert [i.pk for i in items] == [case.pk]
    assert items[0].url == reverse("supervision:case", args=[case.pk]) and items[0].action == "处理"
    assert response.context["nav_counts"]["todo"] == 1


def test_an_informant_sees_their_leads_and_their_villages_overdue_rows_read_only(client, area, personas, chain):
    row = late_row(chain.plan_a)
    late_row(chain.plan_b, item="大寺村逾期")
    lead = Lead.objects.create(
        village=area.village_a,
        description="停工",
        observed_on=TODAY,
        filed_by=chain.informant,
        state=Lead.State.FINDING,
        finding=factories.finding(area.village_a),
    )
    response = page(client, chain.informant)
    assert [i.pk for i in sections(response)["leads_mine"].items] == [lead.pk]
    assert badges(sections(response)["leads_mine"].items[0]) == [("已转为问题", "info")]
    rows = sections(response)["village_overdue"].items
    assert [i.pk for i in rows] == [row.pk] and rows[0].url == reverse("tasks:task_detail", args=[row.pk])
    assert "rows_overdue" not in sections(response)
    assert f'href="{reverse("supervision:lead_create")}" data-testid="todo-file-lead"' in response.content.decode()
    assert response.context["nav_counts"]["todo"] == 0


def test_everyone_sees_their_unread_messages_and_the_count_beside_messages(client, area, personas, chain):
    note = notification(personas.village_cadre, "村文化室已逾期 15 天")
    notification(personas.village_cadre, "已读的消息", read=True, n=1)
    notification(personas.township_a, "别人的消息", n=2)
    response = page(client, personas.village_cadre)
    items = sections(response)["messages"].items
    assert [i.title for i in items] == ["村文化室已逾期 15 天"]
    assert items[0].url == reverse("inbox_open", args=[note.pk])
    # Elsewhere the navigation counts by itself.
    other = page(client, personas.village_cadre, reverse("villages:list")).content.decode()
    assert 'data-testid="nav-unread-count">1<' in other


# ---------------------------------------------------------------------------------------------
# Lists, counts and the navigation
# ---------------------------------------------------------------------------------------------


def test_a_section_lists_its_first_items_and_all_of_them_behind_the_more_link(client, area, personas, chain):
    for i in range(todo.LIMIT + 3):
        late_row(chain.plan_a, item=f"逾期{i:02d}")
    response = page(client, personas.village_cadre)
    overdue = sections(response)["rows_overdue"]
    assert overdue.total == todo.LIMIT + 3 and len(overdue.items) == todo.LIMIT
    assert f"全部 {todo.LIMIT + 3} 项" in response.content.decode()
    full = page(client, personas.village_cadre, overdue.more_url)
    assert len(full.context["items"]) == todo.LIMIT + 3
    assert "逾期07" in full.content.decode()


def test_a_section_the_user_does_not_have_is_a_404(client, area, personas, chain):
    client.force_login(personas.village_cadre)
    assert client.get(reverse("todo_section", args=["plans_to_approve"])).status_code == 404
    assert client.get(reverse("todo_section", args=["no-such-section"])).status_code == 404
    assert client.get(reverse("todo_section", args=["summary_overdue"])).status_code == 404


def test_the_navigation_count_is_the_pages_own_count_on_every_page(client, area, personas, chain):
    late_row(chain.plan_a)
    soon_row(chain.plan_a)
    finding_with(area.village_a)
    notification(personas.village_cadre, "新消息")
    assert todo.nav_counts(personas.village_cadre, TODAY) == {"todo": 3, "unread": 1, "changes": 0}
    html = page(client, personas.village_cadre, reverse("supervision:findings")).content.decode()
    assert 'data-testid="nav-todo-count">3<' in html


def test_signing_in_lands_on_the_to_do(client, area, personas):
    response = client.post(reverse("login"), {"username": "maoya", "password": "pw-for-tests-2017"})
    assert response.status_code == 302 and response.url == HOME
    assert client.get(HOME).templates[0].name == "todo/index.html"
    client.logout()
    assert client.get(HOME).status_code == 302


# ---------------------------------------------------------------------------------------------
# The admins' list of plans awaiting approval
# ---------------------------------------------------------------------------------------------


def test_the_awaiting_approval_list_shows_draft_plans_with_rows_and_their_funds(client, area, personas, chain):
    factories.task(chain.plan_a2, item="百花村一", planned_funds=Decimal("12.5"))
    factories.task(chain.plan_a2, item="百花村二", planned_funds=Decimal("7.5"))
    factories.task(chain.plan_a2, item="撤销的", planned_funds=Decimal("99"), is_removed=True, removed_reason="重复")
    late_row(chain.plan_a)  # approved
    factories.plan(area.village_b, 2018)  # empty
    url = reverse("tasks:awaiting_approval")
    response = page(client, personas.district_admin, url)
    plans = list(response.context["page_obj"])
    assert [p.pk for p in plans] == [chain.plan_a2.pk]
    assert plans[0].row_count == 2 and plans[0].planned_total == Decimal("20")
    html = response.content.decode()
    assert reverse("tasks:plan", args=[chain.plan_a2.pk]) in html and "核对并批准" in html
    task_services.plan_approve(plan_id=chain.plan_a2.pk, user=personas.district_admin)
    assert list(page(client, personas.district_admin, url).context["page_obj"]) == []


@pytest.mark.parametrize("persona", ["supervisor", "township_a", "village_cadre", "leader"])
def test_only_approvers_have_the_awaiting_approval_list(client, personas, persona):
    client.force_login(getattr(personas, persona))
    assert client.get(reverse("tasks:awaiting_approval")).status_code == 404


def test_the_awaiting_approval_list_makes_the_same_number_of_queries_for_ten_times_the_plans(
    client, area, personas, django_assert_num_queries
):
    def add(n):
        for v in factories.populate(area.township_a, villages=n, households=1):
            Plan.objects.filter(village=v).update(state=Plan.State.DRAFT)

    add(1)
    client.force_login(personas.district_admin)
    # savepoint; session; user; the paginator's count; the page of plans with their figures; the navigation's
    # area and numbers (the data having changed: the data versions with the stored numbers, the numbers counted
    # together, stored); release savepoint.
    with django_assert_num_queries(10):
        small = client.get(reverse("tasks:awaiting_approval"))
    add(9)
    with django_assert_num_queries(10):
        large = client.get(reverse("tasks:awaiting_approval"))
    assert small.context["page_obj"].paginator.count == 1
    assert large.context["page_obj"].paginator.count == 10


# ---------------------------------------------------------------------------------------------
# Query counts of each role's to-do, at 1× and 10× the data
# ---------------------------------------------------------------------------------------------


NUMBERS = itertools.count(100)


def fill(area, personas, chain, n):
    """``n`` of everything each role's to-do lists."""
    for i in range(n):
        late = late_row(chain.plan_a, item=f"逾期{i}", department=chain.transport)
        soon_row(chain.plan_a, item=f"临期{i}", department=chain.transport)
        late_row(chain.plan_b, item=f"大寺村逾期{i}")
        finding, _ = finding_with(late, description=f"待整改{i}", deadline=datetime.date(2017, 9, 1))
        finding_with(area.household_a, status=Rectification.Status.IN_PROGRESS, description=f"整改中{i}")
        answered(area.village_a, personas.village_cadre, description=f"待复查{i}")
        change_request(late, personas.village_cadre)
        other = late_row(chain.plan_a, item=f"已审批{i}")
        change_request(
            other,
            personas.village_cadre,
            state="approved",
            decided_by=personas.district_admin,
            decided_at=timezone.now(),
        )
        theirs = late_row(chain.plan_a2, item=f"乡镇已审批{i}")
        change_request(
            theirs,
            personas.township_a,
            state="rejected",
            decided_by=personas.district_admin,
            decided_at=timezone.now(),
            note="依据不足",
        )
        draft = factories.plan(factories.village(area.township_a), 2017)
        factories.task(draft, item=f"草稿{i}")
        Lead.objects.create(village=area.village_a, description=f"线索{i}", observed_on=TODAY, filed_by=chain.informant)
        escalation(finding, chain.patch_leader, respond_by=datetime.date(2017, 9, 10))
        Opinion.objects.create(
            finding=finding, body="congress", text=f"意见{i}", given_on=TODAY, given_by=chain.oversight
        )
        AccountabilityCase.objects.create(district=area.district, reason="task_overdue", task=late, opened_on=TODAY)
        for user in (
            personas.village_cadre,
            personas.township_a,
            personas.district_admin,
            chain.patch_leader,
            chain.informant,
            chain.department,
            chain.oversight,
            chain.discipline,
            personas.supervisor,
        ):
            notification(user, f"消息{i}", n=next(NUMBERS))


# Every role: savepoint; session; user; the totals of every section (one query); the user's area (navigation);
# release savepoint. Then one query per listed section with something in it, and for a 挂包 leader their charge
# (townships, villages). The navigation's numbers beside 我的待办, 消息 and 变更审批 come from the page's own totals:
# no query.
BASE = 6
# A village's or township's people also get their area's figures at the top (todo.area_figures: the dashboard's plan,
# registry and goals parts for that scope): the area (1), the data versions and stored figures (2), and, the data
# having changed, the parts computed afresh from the summary figures the writes keep — plan: goals, rows by village,
# (a township's villages,) funds by category and by source (4); registry: villages exited, people lifted, household
# readiness (4); goals: the goals measured from records (1) and those measured from plan rows too (1) — and stored
# (1). While nothing changes only the first three (see test_area_figures_are_stored_like_the_dashboards).
AREA_VILLAGE = 1 + 2 + 4 + 4 + 1 + 1 + 1
AREA_TOWNSHIP = AREA_VILLAGE + 1
QUERIES = {
    # rows overdue, rows due, findings to answer, my change requests, messages
    "village_cadre": BASE + 5 + AREA_VILLAGE,
    "township_a": BASE + 5 + AREA_TOWNSHIP,
    # rows overdue, rows due, messages
    "department": BASE + 3,
    # changes to decide, plans, rechecks, new leads, late escalations, findings not started, messages
    "district_admin": BASE + 7,
    # rechecks, new leads, late escalations, findings not started, messages
    "supervisor": BASE + 5,
    # escalations, messages; the charge
    "patch_leader": BASE + 2 + 2,
    # overdue rectifications, opinions, messages
    "oversight": BASE + 3,
    # open cases, messages
    "discipline": BASE + 2,
    # my leads, village overdue rows, messages
    "informant": BASE + 3 + AREA_VILLAGE,
}


@pytest.mark.parametrize("persona", sorted(QUERIES))
def test_each_roles_to_do_makes_the_same_number_of_queries_for_ten_times_the_data(
    client, area, personas, chain, persona, django_assert_num_queries
):
    user = getattr(personas, persona, None) or getattr(chain, persona)
    fill(area, personas, chain, 1)
    client.force_login(user)
    # The area's figures at the top come from the summary figures the writes keep (bazhou/core/summaries.py):
    # brought up to the test's writes first, so what is counted is the page's own queries.
    factories.settle()
    with django_assert_num_queries(QUERIES[persona]):
        small = client.get(HOME)
    fill(area, personas, chain, 9)
    factories.settle()
    # A fresh user object, as each request reads it.
    with django_assert_num_queries(QUERIES[persona]):
        large = client.get(HOME)
    small_totals = {s.key: s.total for s in small.context["sections"]}
    large_totals = {s.key: s.total for s in large.context["sections"]}
    assert all(large_totals[k] >= small_totals[k] for k in small_totals)
    assert any(large_totals[k] > small_totals[k] for k in small_totals)
    assert all(s.items for s in small.context["sections"]), [s.key for s in small.context["sections"] if not s.items]


def test_a_district_admin_who_is_also_a_superuser_gets_the_admins_to_do_not_every_roles(client, area, personas, chain):
    late_row(chain.plan_a)
    finding_with(area.village_a, deadline=datetime.date(2017, 9, 1))
    admin = personas.district_admin
    admin.is_superuser = True
    admin.save()
    response = page(client, admin)
    assert list(sections(response)) == [
        "changes_to_decide",
        "plans_to_approve",
        "rechecks",
        "leads_new",
        "escalations_late",
        "findings_not_started",
        "messages",
    ]
    assert tiles(response) == {"summary_overdue": 1, "summary_due": 0, "summary_rectifications": 1}
    assert 'data-testid="todo-file-lead"' not in response.content.decode()


def test_the_navigation_counts_cost_one_query_and_only_when_shown(rf, area, personas, chain, django_assert_num_queries):
    late_row(chain.plan_a)
    notification(personas.village_cadre, "新消息")
    request = rf.get("/")
    request.user = personas.village_cadre
    with django_assert_num_queries(0):
        context = todo_counts(request)
    # Counted and stored once (3 queries), then read as stored (1 query) while nothing changed.
    with django_assert_num_queries(3):
        assert context["nav_counts"]() == {"todo": 1, "unread": 1, "changes": 0}
        assert context["nav_counts"]() == {"todo": 1, "unread": 1, "changes": 0}
    with django_assert_num_queries(1):
        assert todo_counts(request)["nav_counts"]() == {"todo": 1, "unread": 1, "changes": 0}
    request.user = AnonymousUser()
    assert todo_counts(request) == {}
