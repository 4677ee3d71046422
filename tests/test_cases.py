"""The 纪委's accountability inbox (追责线索): cases opened by the daily run (a rectification or a plan row overdue
past its threshold: exactly N days, nothing; N + 1, a case; twice, once) and by the recheck that sends an answer back
the second time; the list, the page and the decision (追责 → the existing accountability record, decided by 区纪委;
不予追责 with a reason), once, in Chinese when wrong, by the 纪委 only."""

import datetime
import re

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from bazhou.core.models import Notification, Role
from supervision import chain, services
from supervision.models import Accountability, AccountabilityCase, Finding, Organiser
from tests import factories

pytestmark = pytest.mark.usefixtures("pinned_today")

TODAY = datetime.date(2017, 9, 15)
LIST = reverse("supervision:cases")
Reason = AccountabilityCase.Reason
State = AccountabilityCase.State


def days_ago(n: int) -> datetime.date:
    return TODAY - datetime.timedelta(days=n)


def page_url(case) -> str:
    return reverse("supervision:case", args=[case.pk])


def decide_url(case) -> str:
    return reverse("supervision:case_decide", args=[case.pk])


def html(response) -> str:
    return response.content.decode()


def overdue_task(village, days: int, item="通村硬化路"):
    return factories.task(factories.plan(village), item=item, deadline=days_ago(days))


def overdue_rectification(village, days: int, item="安全饮水"):
    task = factories.task(factories.plan(village), item=item)
    return factories.rectification(factories.finding(task, description=f"{item}进度滞后"), deadline=days_ago(days))


@pytest.fixture
def people(area, personas):
    class People:
        discipline = factories.discipline_user(area.district, username="jiwei")
        discipline2 = factories.discipline_user(area.district, username="jiwei2")
        oversight = factories.oversight_user(area.district, username="renda")
        patch_leader = factories.patch_leader_user(charge_townships=[area.township_a], username="guabao_a")
        informant = factories.informant_user(area.village_a, username="xinxiyuan")

    return People


def told(user) -> list[Notification]:
    return list(Notification.objects.filter(user=user, reason="accountability").order_by("pk"))


# The daily run ---------------------------------------------------------------------------------------------------


def test_the_daily_run_refers_rows_and_rectifications_one_day_past_their_thresholds(area, people, settings):
    settings.BAZHOU_CASE_TASK_DAYS = 60
    settings.BAZHOU_CASE_RECTIFICATION_DAYS = 30
    overdue_task(area.village_a, 60, item="恰好60天")
    late_task = overdue_task(area.village_a, 61, item="逾期61天")
    overdue_rectification(area.village_b, 30, item="恰好30天")
    late_rectification = overdue_rectification(area.village_b, 31, item="逾期31天")
    factories.done_task(factories.plan(area.village_a), item="已完成", deadline=days_ago(90))

    result = chain.daily(district=area.district, today=TODAY)

    cases = {(c.reason, c.task_id or c.rectification_id) for c in AccountabilityCase.objects.all()}
    assert cases == {(Reason.TASK_OVERDUE, late_task.pk), (Reason.RECTIFICATION_OVERDUE, late_rectification.pk)}
    assert result.cases == 2
    task_case = AccountabilityCase.objects.get(task=late_task)
    assert (task_case.district_id, task_case.opened_on, task_case.state) == ("511902", TODAY, State.OPEN)
    assert task_case.detail == "完成时限 2017-07-16，已逾期 61 天仍未完成。"
    assert task_case.history.count() == 1
    for user in (people.discipline, people.discipline2):
        assert {(n.target_id, n.url) for n in told(user)} == {
            (c.pk, page_url(c)) for c in AccountabilityCase.objects.all()
        }
    assert told(people.oversight) == []


def test_the_daily_run_opens_each_case_once(area, people):
    overdue_task(area.village_a, 100)
    overdue_rectification(area.village_b, 100)  # also escalated (past 15 days)
    first = chain.daily(district=area.district, today=TODAY)
    notified = Notification.objects.count()
    second = chain.daily(district=area.district, today=TODAY)
    next_day = chain.daily(district=area.district, today=TODAY + datetime.timedelta(days=1))
    assert (first.cases, second.cases, next_day.cases) == (2, 0, 0)
    assert AccountabilityCase.objects.count() == 2
    assert Notification.objects.count() == notified  # nothing new the same day, nothing opened the next
    assert all(c.history.count() == 1 for c in AccountabilityCase.objects.all())


# Rejected at recheck twice -------------------------------------------------------------------------------------------


def answer_and_reject(rectification, cadre, supervisor, n):
    current = rectification.__class__.objects.get(pk=rectification.pk)
    if current.status == "pending":
        current = services.rectification_start(
            rectification_id=current.pk, user=cadre, expected_version=current.version
        )
    current = services.rectification_answer(
        rectification_id=current.pk, user=cadre, expected_version=current.version, result=f"第{n}次整改。"
    )
    return services.rectification_recheck(
        rectification_id=current.pk,
        user=supervisor,
        expected_version=current.version,
        approve=False,
        note=f"第{n}次未整改到位。",
    )


def test_the_second_rejection_refers_the_rectification_at_once(area, personas, people):
    rectification = factories.rectification(factories.finding(area.village_a, description="村档案不全"))

    first = answer_and_reject(rectification, personas.village_cadre, personas.supervisor, 1)
    assert first.rejections == 1
    assert not AccountabilityCase.objects.exists()

    second = answer_and_reject(rectification, personas.village_cadre, personas.supervisor, 2)
    assert second.rejections == 2
    case = AccountabilityCase.objects.get()
    assert (case.reason, case.rectification_id, case.opened_on) == (Reason.RECHECK_REJECTED, rectification.pk, TODAY)
    assert case.detail == "整改结果复查 2 次未通过。"
    assert case.history.get().history_user == personas.supervisor
    assert [n.target_id for n in told(people.discipline)] == [case.pk]

    # A third rejection and the daily run open nothing more.
    answer_and_reject(rectification, personas.village_cadre, personas.supervisor, 3)
    assert chain.daily(district=area.district, today=TODAY).cases == 0
    assert AccountabilityCase.objects.count() == 1


def test_the_daily_run_refers_a_rectification_rejected_twice_that_has_no_case(area, people):
    rectification = factories.rectification(factories.finding(area.village_b))
    rectification.__class__.objects.filter(pk=rectification.pk).update(rejections=2)
    assert chain.daily(district=area.district, today=TODAY).cases == 1
    case = AccountabilityCase.objects.get()
    assert (case.reason, case.rectification_id) == (Reason.RECHECK_REJECTED, rectification.pk)


# The inbox -----------------------------------------------------------------------------------------------------------


@pytest.fixture
def cases(area, personas, people):
    """An open task case (village A), an open rectification case (village B), and a dismissed rectification case."""
    overdue_task(area.village_a, 70, item="产业路")
    overdue_rectification(area.village_b, 40, item="危房改造")
    dismissed_rectification = overdue_rectification(area.village_a2, 35, item="安全饮水")
    chain.daily(district=area.district, today=TODAY)
    dismissed = AccountabilityCase.objects.get(rectification=dismissed_rectification)
    chain.decide(case_id=dismissed.pk, user=people.discipline, hold=False, note="已在整改，客观原因。")
    return {
        "task": AccountabilityCase.objects.get(task__item="产业路"),
        "rectification": AccountabilityCase.objects.get(rectification__finding__description="危房改造进度滞后"),
        "dismissed": AccountabilityCase.objects.get(pk=dismissed.pk),
    }


def listed(response) -> list[tuple[str, str]]:
    """(reason, state) of each row, in order."""
    return re.findall(r'data-testid="case" data-state="(\w+)" data-reason="(\w+)"', html(response))


def test_the_discipline_commission_lists_open_cases_first_with_counts_and_filters(client, cases, people):
    client.force_login(people.discipline)
    response = client.get(LIST)
    assert response.status_code == 200
    rows = listed(response)
    assert [state for state, _ in rows] == ["open", "open", "dismissed"]
    page = html(response)
    assert 'data-testid="count-open">2<' in page and 'data-testid="count-dismissed">1<' in page
    assert 'data-testid="count-task_overdue">1<' in page
    assert re.search(r'data-testid="days-overdue">逾期 70 天<', page)
    assert listed(client.get(LIST, {"state": "dismissed"})) == [("dismissed", "rect_overdue")]
    assert listed(client.get(LIST, {"reason": "task_overdue"})) == [("open", "task_overdue")]
    bad = client.get(LIST, {"state": "nonsense", "reason": "x"})
    assert bad.status_code == 200 and len(listed(bad)) == 3


@pytest.mark.parametrize("who", ["supervisor", "district_admin", "oversight"])
def test_supervisors_and_oversight_read_cases_without_deciding(client, cases, personas, people, who):
    user = getattr(personas, who, None) or getattr(people, who)
    client.force_login(user)
    assert len(listed(client.get(LIST))) == 3
    page = client.get(page_url(cases["task"]))
    assert page.status_code == 200 and 'data-testid="decide-form"' not in html(page)
    refused = client.post(decide_url(cases["task"]), {"decision": "dismiss", "note": "越权。"})
    assert refused.status_code == 404
    assert AccountabilityCase.objects.get(pk=cases["task"].pk).state == State.OPEN


@pytest.mark.parametrize("who", ["village_cadre", "township_a", "leader", "patch_leader", "informant"])
def test_everyone_else_finds_no_case_pages(client, cases, personas, people, who):
    user = getattr(personas, who, None) or getattr(people, who)
    client.force_login(user)
    assert client.get(LIST).status_code == 404
    assert client.get(page_url(cases["task"])).status_code == 404
    assert client.post(decide_url(cases["task"]), {"decision": "dismiss", "note": "越权。"}).status_code == 404
    assert AccountabilityCase.objects.get(pk=cases["task"].pk).state == State.OPEN


def test_the_case_page_shows_the_row_days_overdue_and_history(client, cases, people):
    client.force_login(people.discipline)
    page = html(client.get(page_url(cases["task"])))
    assert 'data-testid="decide-form"' in page
    assert re.search(r'data-testid="task-link">[^<]*产业路<', page)
    assert "至今逾期 70 天" in page
    assert "每日督查：移送区纪委" in page
    dismissed = html(client.get(page_url(cases["dismissed"])))
    assert 'data-testid="decide-form"' not in dismissed
    assert re.search(r'data-testid="decided-by">jiwei · ', dismissed)
    assert "已在整改，客观原因。" in dismissed


def test_the_case_page_shows_who_was_told_through_which_channel_and_when_they_read_it(client, cases, people):
    """The evidence a decision reads: the responsible person was notified (SMS sent), the cadre opened it at T, the
    other never did; phone numbers masked."""
    from zoneinfo import ZoneInfo

    from bazhou.core.models import Delivery
    from bazhou.core.notify import Message, Person, notify_people

    task = cases["task"].task
    cadre = factories.user("village_cadre", task.plan.village, username="cunganbu", phone="13912345678")
    message = Message(reason="task_overdue", target=("tasks.task", task.pk), title="任务逾期", url="/")
    pairs = [(Person(name="秦和平", phone="13912345678", user_id=cadre.pk), message)]
    pairs.append((Person(name="赵明", phone="13800001111"), message))
    notify_people(pairs, day=TODAY)
    read_at = datetime.datetime(2017, 9, 15, 10, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    Notification.objects.filter(user=cadre).update(read_at=read_at)
    sms = Delivery.objects.create(
        channel="sms", recipient_key="phone:13800001111", address="13800001111", day=TODAY, body="…", status="sent"
    )
    sms.notifications.set(Notification.objects.filter(user__isnull=True))

    client.force_login(people.discipline)
    page = html(client.get(page_url(cases["task"])))
    notices = re.findall(r'data-testid="notice">(.*?)</li>', page, re.S)
    assert len(notices) == 2
    assert "秦和平 139****5678" in notices[0] and "已读于 2017-09-15 10:30" in notices[0]
    assert "赵明 138****1111" in notices[1] and "短信：已发送" in notices[1] and "无账号" in notices[1]
    assert "13912345678" not in page and "13800001111" not in page


# Deciding ----------------------------------------------------------------------------------------------------------

HOLD = {
    "decision": "hold",
    "subject_kind": "person",
    "subject": "吴玉峰",
    "subject_post": "白庙乡副乡长",
    "measure": "interview",
    "decided_on": "2017-09-14",
    "document_number": "巴纪〔2017〕21号",
    "note": "整改严重滞后。",
}


def test_holding_to_account_on_a_rectification_records_the_measure_on_its_finding_once(client, cases, people):
    case = cases["rectification"]
    client.force_login(people.discipline)
    response = client.post(decide_url(case), HOLD)
    assert response.status_code == 302 and response.url == page_url(case)
    case.refresh_from_db()
    record = Accountability.objects.get()
    assert case.state == State.DECIDED and case.accountability == record
    assert (case.decided_by, case.decision_note) == (people.discipline, "整改严重滞后。")
    assert case.decided_at is not None
    assert record.finding == case.rectification.finding
    assert (record.subject, record.measure, record.decided_by) == ("吴玉峰", "interview", Organiser.DISCIPLINE)
    assert record.decided_on == datetime.date(2017, 9, 14) and record.document_number == "巴纪〔2017〕21号"
    assert case.history.order_by("-history_date").first().history_change_reason == "追责：吴玉峰 约谈"

    again = client.post(decide_url(case), {**HOLD, "subject": "另一人"}, follow=True)
    assert again.status_code == 200 and "该追责线索已处理，不能重复处理。" in html(again)
    assert Accountability.objects.count() == 1
    page = html(client.get(page_url(case)))
    assert re.search(r'data-testid="accountability">吴玉峰（个人）白庙乡副乡长 · 约谈 · 区纪委 2017-09-14', page)


def test_holding_to_account_on_a_plan_row_files_a_delay_finding_for_it_once(client, cases, people):
    case = cases["task"]
    client.force_login(people.discipline)
    assert client.post(decide_url(case), HOLD).status_code == 302
    assert client.post(decide_url(case), HOLD).status_code == 302  # a double tap
    finding = Finding.objects.get(task=case.task)
    assert (finding.type, finding.reported_by, finding.found_on) == ("delay", people.discipline, TODAY)
    record = Accountability.objects.get()
    assert record.finding == finding and record.decided_by == Organiser.DISCIPLINE
    case.refresh_from_db()
    assert case.state == State.DECIDED and case.accountability == record
    assert finding.history.count() == 2  # filed, then the accountability noted on it


def test_dismissing_needs_a_reason_in_chinese_and_changes_nothing_without_one(client, cases, people):
    case = cases["task"]
    client.force_login(people.discipline)
    before = case.history.count()
    response = client.post(decide_url(case), {"decision": "dismiss", "note": "  "})
    assert response.status_code == 200 and "不予追责须写明理由。" in html(response)
    case.refresh_from_db()
    assert case.state == State.OPEN and case.history.count() == before

    assert client.post(decide_url(case), {"decision": "dismiss", "note": "任务已调整，非主观原因。"}).status_code == 302
    case.refresh_from_db()
    assert (case.state, case.decision_note, case.decided_by) == (
        State.DISMISSED,
        "任务已调整，非主观原因。",
        people.discipline,
    )
    assert not Accountability.objects.exists() and not Finding.objects.filter(task=case.task).exists()


@pytest.mark.parametrize(
    "data, field, message",
    [
        ({}, "decision", "请选择处理结论：追责或不予追责。"),
        ({"decision": "maybe"}, "decision", "请选择处理结论：追责或不予追责。"),
        ({**HOLD, "subject": ""}, "subject", "追责须填写追责对象。"),
        ({**HOLD, "measure": ""}, "measure", "追责须选择处理方式。"),
        ({**HOLD, "measure": "jail"}, "measure", "请从列表中选择处理方式。"),
        ({**HOLD, "decided_on": ""}, "decided_on", "追责须填写决定日期。"),
        ({**HOLD, "decided_on": "2017-13-40"}, "decided_on", "请输入有效的日期，如 2017-09-15。"),
        ({**HOLD, "decided_on": "2017-09-16"}, "decided_on", "决定日期不能晚于今天。"),
        ({**HOLD, "subject": "人" * 101}, "subject", "追责对象最多 100 字。"),
    ],
)
def test_a_wrong_decision_is_refused_in_chinese_and_changes_nothing(client, cases, people, data, field, message):
    case = cases["task"]
    client.force_login(people.discipline)
    before = case.history.count()
    response = client.post(decide_url(case), data)
    assert response.status_code == 200
    assert re.search(rf'data-field-error="{field}">{re.escape(message)}<', html(response))
    case.refresh_from_db()
    assert case.state == State.OPEN and case.history.count() == before
    assert not Accountability.objects.exists() and not Finding.objects.filter(task=case.task).exists()


def test_only_the_discipline_commission_decides_through_the_service(cases, personas, people):
    for user in (personas.supervisor, people.oversight, personas.district_admin):
        with pytest.raises(Exception) as refused:
            chain.decide(case_id=cases["task"].pk, user=user, hold=False, note="越权。")
        assert refused.type.__name__ == "Http404"
    with pytest.raises(ValidationError) as again:
        chain.decide(case_id=cases["dismissed"].pk, user=people.discipline, hold=False, note="再次。")
    assert again.value.messages == ["该追责线索已处理，不能重复处理。"]


def test_another_districts_discipline_user_finds_no_case(client, cases):
    other = factories.district("511921", "通江县")
    stranger = factories.user(Role.DISCIPLINE, other)
    client.force_login(stranger)
    assert client.get(page_url(cases["task"])).status_code == 404
    assert listed(client.get(LIST)) == []


# Query counts --------------------------------------------------------------------------------------------------------


def test_the_case_list_makes_the_same_number_of_queries_for_ten_times_the_cases(
    client, area, people, personas, django_assert_num_queries
):
    def add(n):
        for i in range(n):
            overdue_task(area.village_a, 70, item=f"任务{i}")
            household_task = factories.task(
                factories.plan(area.village_b), household_obj=area.household_b, deadline=days_ago(70)
            )
            assert household_task.household_id
            overdue_rectification(area.village_a2, 40, item=f"整改{i}")
            factories.rectification(factories.finding(area.household_b, type="housing"), deadline=days_ago(40))
            factories.rectification(factories.finding(area.township_b, type="conduct"), deadline=days_ago(40))
        chain.daily(district=area.district, today=TODAY)

    # savepoint; session; user; the paginator's count; the page of cases with the row (village, township, household,
    # department) or the rectification's finding with its target, and the decision; the counts (one aggregate); the
    # user's district and the navigation's numbers (the data having changed: the data versions with the stored
    # numbers, the numbers counted, stored); release savepoint.
    expected = {"discipline": 11, "supervisor": 11}
    add(1)
    for name, n in expected.items():
        client.force_login(getattr(people, name, None) or getattr(personas, name))
        with django_assert_num_queries(n):
            small = client.get(LIST)
        assert small.status_code == 200
    add(9)
    for name, n in expected.items():
        client.force_login(getattr(people, name, None) or getattr(personas, name))
        with django_assert_num_queries(n):
            large = client.get(LIST)
    assert small.context["page_obj"].paginator.count == 5
    assert large.context["page_obj"].paginator.count == 50


def test_the_daily_step_makes_the_same_number_of_queries_for_ten_times_the_rows(area, people, chain_leader):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def run(n, day):
        for i in range(n):
            overdue_task(area.village_a, 70, item=f"任务{day.day}-{i}")
            overdue_rectification(area.village_b, 40, item=f"整改{day.day}-{i}")
            rejected = overdue_rectification(area.village_a2, 20, item=f"退回{day.day}-{i}")
            rejected.__class__.objects.filter(pk=rejected.pk).update(rejections=2)
        with CaptureQueriesContext(connection) as queries:
            result = chain.daily(district=area.district, today=day)
        return len(queries), result

    small, first = run(1, TODAY)
    large, second = run(10, TODAY + datetime.timedelta(days=1))
    # Escalations: the rectifications overdue past 15 days (40 and 20 days); cases: one of each reason per round.
    assert (first.escalations, first.cases) == (2, 3)
    assert (second.escalations, second.cases) == (20, 30)
    assert small == large


@pytest.fixture
def chain_leader(area):
    return factories.patch_leader_user(charge_townships=[area.township_a, area.township_b], username="guabao")
