"""Escalations to the 挂包 leaders (提请挂包领导协调): opened by a finding filed with 提请挂包领导协调 and by the daily
run for rectifications overdue past the threshold (exactly N days: nothing; N + 1: opened; twice: once), the leader
chosen by charge, the leader's list and response (once, in Chinese when wrong), and who may see and do what."""

import datetime
import re

import pytest
from django.urls import reverse

from bazhou.core.models import Notification, Role
from supervision import chain, services
from supervision.models import Escalation, Finding
from tests import factories

pytestmark = pytest.mark.usefixtures("pinned_today")

TODAY = datetime.date(2017, 9, 15)
LIST = reverse("supervision:escalations")


def days_ago(n: int) -> datetime.date:
    return TODAY - datetime.timedelta(days=n)


def page_url(escalation) -> str:
    return reverse("supervision:escalation", args=[escalation.pk])


def respond_url(escalation) -> str:
    return reverse("supervision:escalation_respond", args=[escalation.pk])


def html(response) -> str:
    return response.content.decode()


def overdue_rectification(village, days: int, item="通村硬化路"):
    """A finding on a plan row of ``village`` whose rectification is ``days`` days past its deadline."""
    task = factories.task(factories.plan(village), item=item)
    return factories.rectification(factories.finding(task, description=f"{item}进度滞后"), deadline=days_ago(days))


@pytest.fixture
def chain_people(area, personas):
    class People:
        # Township A's leader (the first by id for its villages), a second leader of one village of township A,
        # township B's leader.
        leader_a = factories.patch_leader_user(charge_townships=[area.township_a], username="guabao_a")
        leader_a2 = factories.patch_leader_user(charge_villages=[area.village_a], username="guabao_a2")
        leader_b = factories.patch_leader_user(charge_townships=[area.township_b], username="guabao_b")
        oversight = factories.oversight_user(area.district)
        discipline = factories.discipline_user(area.district)

    return People


def notifications(user, reason="escalation"):
    return list(Notification.objects.filter(user=user, reason=reason).order_by("pk"))


# The daily run -------------------------------------------------------------------------------------------------------


def test_the_daily_run_escalates_a_rectification_overdue_one_day_past_the_threshold_and_not_before(
    area, chain_people, settings
):
    settings.BAZHOU_ESCALATE_AFTER_DAYS = 15
    settings.BAZHOU_ESCALATION_RESPONSE_DAYS = 7
    at_threshold = overdue_rectification(area.village_a, 15, item="安全饮水")
    past_threshold = overdue_rectification(area.village_a, 16, item="通村硬化路")

    result = chain.daily(district=area.district, today=TODAY)

    assert result.escalations == 1
    escalation = Escalation.objects.get()
    assert escalation.finding == past_threshold.finding
    assert escalation.reason == Escalation.Reason.RECTIFICATION_OVERDUE
    assert escalation.leader == chain_people.leader_a  # township A's leader is the first by id
    assert (escalation.opened_on, escalation.respond_by) == (TODAY, datetime.date(2017, 9, 22))
    assert not Escalation.objects.filter(finding=at_threshold.finding).exists()
    assert escalation.history.count() == 1
    [message] = notifications(chain_people.leader_a)
    assert message.url == page_url(escalation)
    assert "通村硬化路进度滞后" in message.title and "2017-09-22" in message.body
    assert notifications(chain_people.leader_a2) == [] and notifications(chain_people.leader_b) == []


def test_the_daily_run_opens_each_escalation_once(area, chain_people):
    overdue_rectification(area.village_a, 40)
    overdue_rectification(area.village_b, 20)
    first = chain.daily(district=area.district, today=TODAY)
    second = chain.daily(district=area.district, today=TODAY)
    next_day = chain.daily(district=area.district, today=TODAY + datetime.timedelta(days=1))

    assert (first.escalations, second.escalations, next_day.escalations) == (2, 0, 0)
    assert Escalation.objects.count() == 2
    assert {e.leader for e in Escalation.objects.all()} == {chain_people.leader_a, chain_people.leader_b}
    assert len(notifications(chain_people.leader_a)) == 1
    assert all(e.history.count() == 1 for e in Escalation.objects.all())


def test_the_daily_run_skips_closed_rectifications_and_other_districts(area, chain_people):
    closed = overdue_rectification(area.village_a, 40)
    other_district = factories.district("511921", "通江县")
    elsewhere = factories.poor_village(factories.township(other_district, number=201))
    overdue_rectification(elsewhere, 40)
    factories.user(Role.SUPERVISOR, area.district)  # answerer and rechecker for the closed one
    closed.status = "closed"
    closed.result = "已整改。"
    closed.answered_by = factories.user(Role.VILLAGE_CADRE, area.village_a)
    closed.rechecked_by = factories.user(Role.SUPERVISOR, area.district)
    closed.rechecked_at = closed.answered_at = datetime.datetime(2017, 9, 10, tzinfo=datetime.UTC)
    closed.closed_on = datetime.date(2017, 9, 10)
    closed.save()

    assert chain.daily(district=area.district, today=TODAY).escalations == 0
    assert not Escalation.objects.exists()


def test_a_finding_outside_every_charge_is_escalated_with_no_leader_and_supervisors_see_it(
    client, area, personas, chain_people
):
    unmanaged = factories.village(area.township_b, name="无人村")
    chain_people.leader_b.charge_townships.clear()
    overdue_rectification(unmanaged, 30)
    chain.daily(district=area.district, today=TODAY)

    escalation = Escalation.objects.get()
    assert escalation.leader is None
    assert not Notification.objects.filter(reason="escalation").exists()
    client.force_login(personas.supervisor)
    page = html(client.get(LIST))
    assert 'data-testid="no-leader"' in page and "无挂包领导" in page
    assert 'data-testid="count-no-leader">1<' in page


def test_a_village_in_a_leaders_village_charge_only_goes_to_that_leader(area, chain_people):
    chain_people.leader_a.charge_townships.clear()
    overdue_rectification(area.village_a, 30)
    overdue_rectification(area.village_a2, 30, item="危房改造")  # in no one's charge now
    chain.daily(district=area.district, today=TODAY)
    by_village = {e.finding.task.plan.village: e.leader for e in Escalation.objects.all()}
    assert by_village == {area.village_a: chain_people.leader_a2, area.village_a2: None}


# A major finding ---------------------------------------------------------------------------------------------------


def test_filing_a_finding_with_escalate_ticked_escalates_it_at_once(client, area, personas, chain_people):
    task = factories.task(factories.plan(area.village_b), item="产业路")
    client.force_login(personas.supervisor)
    response = client.post(
        reverse("supervision:finding_create"),
        {
            "target_kind": "task",
            "task": task.pk,
            "type": "funds",
            "severity": "severe",
            "description": "产业路资金挪用。",
            "found_on": "2017-09-14",
            "requirement": "限期整改。",
            "escalate": "on",
        },
    )
    assert response.status_code == 302
    finding = Finding.objects.get(task=task)
    assert finding.escalate
    escalation = Escalation.objects.get(finding=finding)
    assert escalation.reason == Escalation.Reason.MAJOR_FINDING
    assert escalation.leader == chain_people.leader_b
    assert (escalation.opened_on, escalation.respond_by) == (TODAY, datetime.date(2017, 9, 22))
    assert escalation.history.get().history_user == personas.supervisor
    assert len(notifications(chain_people.leader_b)) == 1
    page = html(client.get(reverse("supervision:finding", args=[finding.pk])))
    assert re.search(r'data-testid="escalations">.*?重大问题.*?guabao_b.*?回复时限 2017-09-22', page, re.S)


def test_a_finding_without_escalate_is_not_escalated(area, personas, chain_people):
    finding = services.finding_create(
        user=personas.supervisor,
        target=area.village_a,
        data={"type": "records", "severity": "minor", "description": "档案不全。", "found_on": TODAY},
        rectification={"requirement": "补齐。"},
    )
    assert not finding.escalate
    assert not Escalation.objects.exists()


# The leader's list and page ------------------------------------------------------------------------------------------


@pytest.fixture
def escalations(area, chain_people):
    """Township A's leader: one answered, one open due in 3 days, one open 2 days late; township B's: one open."""
    chain_people_escalations = {}
    for name, village, opened, leader in (
        ("answered", area.village_a, days_ago(10), chain_people.leader_a),
        ("soon", area.village_a, days_ago(4), chain_people.leader_a),
        ("late", area.village_a2, days_ago(9), chain_people.leader_a),
        ("other", area.village_b, days_ago(1), chain_people.leader_b),
    ):
        rectification = overdue_rectification(village, 20, item=f"任务{name}")
        chain_people_escalations[name] = Escalation.objects.create(
            finding=rectification.finding,
            reason=Escalation.Reason.RECTIFICATION_OVERDUE,
            leader=leader,
            opened_on=opened,
            respond_by=opened + datetime.timedelta(days=7),
        )
    answered = chain_people_escalations["answered"]
    answered.response = "已协调交通局。"
    answered.responded_by = chain_people.leader_a
    answered.responded_at = datetime.datetime(2017, 9, 8, 2, 0, tzinfo=datetime.UTC)
    answered.save()
    return chain_people_escalations


def listed(response) -> list[tuple[str, str]]:
    """(finding description, countdown or state) of each row, in order."""
    blocks = re.split(r'<li class="list-group-item" data-testid="escalation"', html(response))[1:]
    out = []
    for block in blocks:
        description = re.search(r'data-testid="escalation-link">([^<]+)<', block).group(1)
        countdown = re.search(r'data-testid="countdown">([^<]+)<', block)
        out.append((description, countdown.group(1) if countdown else "已回复"))
    return out


def test_a_leader_lists_their_own_escalations_open_first_with_the_countdown(client, escalations, chain_people):
    client.force_login(chain_people.leader_a)
    response = client.get(LIST)
    assert response.status_code == 200
    assert listed(response) == [
        ("任务late进度滞后", "逾期 2 天"),
        ("任务soon进度滞后", "临期 3 天"),
        ("任务answered进度滞后", "已回复"),
    ]
    page = html(response)
    assert 'data-testid="count-open">2<' in page and 'data-testid="count-late">1<' in page
    assert "任务other" not in page


def test_supervisors_and_readers_see_every_escalation_read_only(client, area, escalations, personas, chain_people):
    for user in (personas.supervisor, personas.district_admin, chain_people.oversight, chain_people.discipline):
        client.force_login(user)
        assert len(listed(client.get(LIST))) == 4
        page = client.get(page_url(escalations["soon"]))
        assert page.status_code == 200
        assert 'data-testid="respond-form"' not in html(page)
    client.force_login(personas.supervisor)
    assert [d for d, _ in listed(client.get(LIST, {"state": "answered"}))] == ["任务answered进度滞后"]
    assert len(listed(client.get(LIST, {"state": "open"}))) == 3


@pytest.mark.parametrize("who", ["village_cadre", "township_a", "leader"])
def test_everyone_else_finds_no_escalation_pages(client, escalations, personas, who):
    user = getattr(personas, who)
    client.force_login(user)
    assert client.get(LIST).status_code == 404
    assert client.get(page_url(escalations["soon"])).status_code == 404
    assert client.post(respond_url(escalations["soon"]), {"response": "越权回复。"}).status_code == 404
    assert Escalation.objects.get(pk=escalations["soon"].pk).responded_at is None


def test_another_leader_finds_neither_the_page_nor_the_response(client, escalations, chain_people):
    client.force_login(chain_people.leader_b)
    assert client.get(page_url(escalations["soon"])).status_code == 404
    assert client.post(respond_url(escalations["soon"]), {"response": "越权回复。"}).status_code == 404
    # A leader whose charge holds the village but to whom it was not put does not see it either.
    client.force_login(chain_people.leader_a2)
    assert client.get(page_url(escalations["soon"])).status_code == 404
    assert Escalation.objects.get(pk=escalations["soon"].pk).responded_at is None


def test_a_supervisor_cannot_respond(client, escalations, personas):
    client.force_login(personas.supervisor)
    assert client.post(respond_url(escalations["soon"]), {"response": "代为回复。"}).status_code == 404
    assert Escalation.objects.get(pk=escalations["soon"].pk).responded_at is None


# The response -------------------------------------------------------------------------------------------------------


def test_the_leader_responds_once_and_the_supervisors_are_told(client, area, escalations, personas, chain_people):
    escalation = escalations["soon"]
    client.force_login(chain_people.leader_a)
    page = html(client.get(page_url(escalation)))
    assert 'data-testid="respond-form"' in page and "任务soon进度滞后" in page

    response = client.post(respond_url(escalation), {"response": "已协调区交通局，9月底前完工。"})
    assert response.status_code == 302 and response.url == page_url(escalation)
    escalation.refresh_from_db()
    assert escalation.response == "已协调区交通局，9月底前完工。"
    assert escalation.responded_by == chain_people.leader_a and escalation.responded_at is not None
    history = list(escalation.history.order_by("history_date"))
    assert history[-1].history_change_reason == "回复协调意见" and history[-1].history_user == chain_people.leader_a
    told = Notification.objects.filter(reason="escalation", target_id=escalation.pk, user__isnull=False)
    assert {n.user for n in told} == {personas.supervisor, personas.district_admin}

    # A second submission (a double tap) records nothing more.
    again = client.post(respond_url(escalation), {"response": "第二次。"}, follow=True)
    assert again.status_code == 200 and "该事项已回复，不能重复回复。" in html(again)
    escalation.refresh_from_db()
    assert escalation.response == "已协调区交通局，9月底前完工。"
    assert escalation.history.count() == len(history)
    shown = html(client.get(page_url(escalation)))
    assert 'data-testid="respond-form"' not in shown
    assert re.search(r'data-testid="responded-by">guabao_a · \d{4}-\d{2}-\d{2} \d{2}:\d{2}<', shown)
    assert 'data-testid="answered-badge"' in shown


@pytest.mark.parametrize("text", ["", "   "])
def test_an_empty_response_is_refused_in_chinese_and_changes_nothing(client, escalations, chain_people, text):
    escalation = escalations["soon"]
    client.force_login(chain_people.leader_a)
    before = escalation.history.count()
    response = client.post(respond_url(escalation), {"response": text})
    assert response.status_code == 200
    assert "请填写协调意见。" in html(response)
    escalation.refresh_from_db()
    assert escalation.responded_at is None and escalation.response == ""
    assert escalation.history.count() == before
    assert not Notification.objects.filter(reason="escalation", target_id=escalation.pk).exists()


def test_the_service_refuses_a_second_response(escalations, chain_people):
    from django.core.exceptions import ValidationError

    escalation = escalations["answered"]
    with pytest.raises(ValidationError) as refused:
        chain.respond(escalation_id=escalation.pk, user=chain_people.leader_a, response="再次回复。")
    assert refused.value.messages == ["该事项已回复，不能重复回复。"]


# Query counts --------------------------------------------------------------------------------------------------------


def test_the_escalation_list_makes_the_same_number_of_queries_for_ten_times_the_rows(
    client, area, personas, chain_people, django_assert_num_queries
):
    def add(n):
        for i in range(n):
            for village in (area.village_a, area.village_a2, area.village_b):
                overdue_rectification(village, 20, item=f"任务{i}")
            factories.rectification(factories.finding(area.household_b, type="housing"), deadline=days_ago(20))
            factories.rectification(factories.finding(area.township_b, type="conduct"), deadline=days_ago(20))
        chain.daily(district=area.district, today=TODAY)

    # savepoint; session; user; the paginator's count; the page of escalations with their leader, who answered and
    # the finding with its rectification and target; the counts (one aggregate); the user's district and the
    # navigation's numbers (the data having changed: the data versions with the stored numbers, the numbers counted,
    # stored); release savepoint. A 挂包 leader: two more, their charge (townships, villages).
    expected = {"supervisor": 11, "leader_a": 13}
    add(1)
    for name, n in expected.items():
        client.force_login(getattr(personas, name, None) or getattr(chain_people, name))
        with django_assert_num_queries(n):
            small = client.get(LIST)
        assert small.status_code == 200
    add(9)
    for name, n in expected.items():
        client.force_login(getattr(personas, name, None) or getattr(chain_people, name))
        with django_assert_num_queries(n):
            large = client.get(LIST)
    assert small.context["page_obj"].paginator.count == 2  # township A's two villages
    assert large.context["page_obj"].paginator.count == 20
