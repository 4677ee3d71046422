"""我的任务 (tasks:mine): a cadre's rows of this year as cards grouped by urgency, at the groups' boundaries; the
filters (overdue, due soon, mine); who sees which rows and which actions; a fixed number of queries."""

import datetime
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from bazhou.core.models import Role
from tasks import services
from tasks.models import Task
from tests import factories

pytestmark = pytest.mark.usefixtures("pinned_today")

TODAY = datetime.date(2017, 9, 15)
URL = reverse("tasks:mine")


def day(offset: int) -> datetime.date:
    return TODAY + datetime.timedelta(days=offset)


@pytest.fixture
def board(area):
    """茅垭村's rows of 2017 at each boundary, a withdrawn row, a row of 2018, and rows of other villages."""

    class Board:
        plan = factories.plan(area.village_a, 2017)
        late_1 = factories.task(plan, item="逾期一天", deadline=day(-1), status="in_progress", progress=40)
        today = factories.task(plan, item="今天到期", deadline=day(0))
        in_7 = factories.task(plan, item="七天后到期", deadline=day(7))
        in_8 = factories.task(plan, item="八天后到期", deadline=day(8), status="in_progress", progress=10)
        done = factories.done_task(plan, item="已经完成", deadline=day(-30))
        accepted = factories.task(
            plan, item="已经验收", deadline=day(3), status="accepted", progress=100, completed_on=day(-1)
        )
        removed = factories.task(plan, item="已撤销", deadline=day(-5), is_removed=True, removed_reason="重复")
        next_year = factories.task(factories.plan(area.village_a, 2018), item="明年的任务", deadline=day(-2))
        other_village = factories.task(factories.plan(area.village_a2, 2017), item="百花村的路", deadline=day(-3))
        other_township = factories.task(factories.plan(area.village_b, 2017), item="大寺村的路", deadline=day(-3))

    return Board


def signed_in(client, user):
    client.force_login(user)
    return client


def text(response) -> str:
    assert response.status_code == 200
    return response.content.decode()


def cards(html: str) -> dict[str, list[int]]:
    """The card ids of each group, in page order."""
    found: dict[str, list[int]] = {}
    for pk, group in re.findall(r'data-testid="task-card" data-id="(\d+)" data-group="(\w+)"', html):
        found.setdefault(group, []).append(int(pk))
    return found


def card(html: str, task) -> str:
    start = html.index(f'data-testid="task-card" data-id="{task.pk}"')
    return html[start : html.index("</li>", start)]


def test_the_rows_are_grouped_by_urgency_at_the_boundaries(client, personas, board):
    html = text(signed_in(client, personas.village_cadre).get(URL))
    assert cards(html) == {
        "overdue": [board.late_1.pk],
        "due": [board.today.pk, board.in_7.pk],
        "open": [board.in_8.pk],
        "done": [board.done.pk, board.accepted.pk],
    }
    # In the order of urgency, each group with its total.
    assert re.findall(r'data-testid="card-group" data-group="(\w+)"', html) == [
        "overdue",
        "due",
        "open",
        "done",
    ]
    assert re.search(r'7 天内到期 <span class="badge[^"]*" data-testid="card-group-count">2<', html)


def test_each_card_says_how_many_days_are_left_or_late(client, personas, board):
    html = text(signed_in(client, personas.village_cadre).get(URL))

    def badge(task):
        return re.search(r'data-testid="card-badge" data-tone="(\w+)">([^<]+)<', card(html, task)).groups()

    assert badge(board.late_1) == ("overdue", "逾期 1 天")
    assert badge(board.today) == ("due", "今天到期")
    assert badge(board.in_7) == ("due", "临期 7 天")
    assert badge(board.in_8) == ("muted", "2017-09-23 到期")
    assert badge(board.done) == ("done", "已完成 08-20")


def test_a_card_shows_the_place_the_deadline_the_progress_the_person_and_one_action(client, personas, board):
    Task.objects.filter(pk=board.late_1.pk).update(responsible_person="秦和平", responsible_phone="13800001234")
    html = text(signed_in(client, personas.village_cadre).get(URL))
    late = card(html, board.late_1)
    assert "逾期一天" in late and "白庙乡 茅垭村" in late
    assert "完成时限 2017-09-14" in late
    assert '<progress max="100" value="40"' in late and "40% · 进行中" in late
    assert "责任人 秦和平" in late and 'href="tel:13800001234"' in late
    assert (
        f'href="{reverse("tasks:task_progress", args=[board.late_1.pk])}" data-testid="card-report">报告进度<' in late
    )
    assert f'action="{reverse("tasks:task_complete", args=[board.late_1.pk])}"' in late
    assert re.search(r'name="version" value="1"', late) and 'name="_submission"' in late
    # A done row offers no report and no completion, only its page.
    done = card(html, board.done)
    assert 'data-testid="card-report"' not in done and 'data-testid="card-complete"' not in done
    assert 'data-testid="card-view"' in done


def test_marking_complete_from_a_card_comes_back_to_the_cards(client, personas, board):
    signed_in(client, personas.village_cadre)
    back = f"{URL}?state=overdue"
    response = client.post(
        reverse("tasks:task_complete", args=[board.late_1.pk]), {"version": 1, "next": back}, follow=True
    )
    assert response.redirect_chain[-1][0] == back
    assert "“逾期一天”已标记为已完成。" in text(response)
    assert Task.objects.get(pk=board.late_1.pk).status == "done"
    assert cards(text(response)) == {}  # no more overdue rows


def test_marking_complete_from_a_card_with_htmx_loads_the_cards_again(client, personas, board):
    signed_in(client, personas.village_cadre)
    back = f"{URL}?mine=1"
    response = client.post(
        reverse("tasks:task_complete", args=[board.in_8.pk]),
        {"version": 1, "next": back, "_submission": "6f1c1d7e-2b0a-4a39-9d55-1d6a7f0b6a11"},
        headers={"HX-Request": "true"},
    )
    assert (response.status_code, response["HX-Redirect"]) == (204, back)
    assert Task.objects.get(pk=board.in_8.pk).status == "done"


def test_a_next_that_is_not_the_cards_goes_to_the_row(client, personas, board):
    signed_in(client, personas.village_cadre)
    for bad in ("https://evil.example/tasks/mine/", "//evil.example/tasks/mine/", "/admin/", "x" * 600):
        task = Task.objects.get(pk=board.in_8.pk)
        response = client.post(
            reverse("tasks:task_complete", args=[task.pk]), {"version": task.version + 5, "next": bad}
        )
        assert response.url == reverse("tasks:task_detail", args=[task.pk])


def test_the_overdue_and_due_filters(client, personas, board):
    signed_in(client, personas.village_cadre)
    assert cards(text(client.get(URL, {"state": "overdue"}))) == {"overdue": [board.late_1.pk]}
    assert cards(text(client.get(URL, {"state": "due"}))) == {"due": [board.today.pk, board.in_7.pk]}
    html = text(client.get(URL, {"state": "overdue"}))
    assert re.search(r'data-filter="overdue" aria-current="true">逾期 <span[^>]*>1<', html)


def test_mine_is_what_the_user_answers_for_created_or_reported(client, area, board):
    cadre = factories.user(Role.VILLAGE_CADRE, area.village_a, username="qin", name="秦和平", phone="13800001234")
    by_name = factories.task(board.plan, item="我负责（姓名）", deadline=day(20), responsible_person="秦和平")
    by_phone = factories.task(board.plan, item="我负责（电话）", deadline=day(21), responsible_phone="13800001234")
    created = factories.task(board.plan, item="我新建的", deadline=day(22), created_by=cadre)
    reported = factories.task(board.plan, item="我填报过", deadline=day(23))
    services.progress_record(
        task_id=reported.pk,
        user=cadre,
        expected_version=1,
        progress=10,
        status="in_progress",
        invested_funds=Decimal("1"),
    )
    factories.task(board.plan, item="别人的", deadline=day(24), responsible_person="秦和平同志")

    html = text(signed_in(client, cadre).get(URL, {"mine": "1"}))
    assert cards(html) == {"open": [by_name.pk, by_phone.pk, created.pk, reported.pk]}
    assert "“我的”指哪些任务？" in html and "或由您新建、由您填报过进度的任务" in html
    # Mine and overdue together: none of them is late.
    assert cards(text(client.get(URL, {"mine": "1", "state": "overdue"}))) == {}
    assert re.search(r'data-filter="mine" aria-current="true">只看我的 <span[^>]*>4<', html)


@pytest.mark.parametrize(
    "query",
    [
        {"state": "逾期"},
        {"state": "overdue' OR 1=1"},
        {"mine": "²"},
        {"mine": "1" * 5000},
        {"page": "²"},
        {"page": "9" * 5000},
        {"page": "-1"},
        {"page": "99999"},
    ],
)
def test_odd_filters_and_pages_answer_the_page_not_an_error(client, personas, board, query):
    html = text(signed_in(client, personas.village_cadre).get(URL, query))
    assert 'data-testid="cards-page"' in html


def test_a_cadre_of_another_village_sees_none_of_these_rows(client, area, board):
    other = factories.user(Role.VILLAGE_CADRE, area.village_b, username="dasi")
    html = text(signed_in(client, other).get(URL))
    assert cards(html) == {"overdue": [board.other_township.pk]}
    for task in (board.late_1, board.today, board.other_village):
        assert f'data-id="{task.pk}"' not in html


def test_township_staff_see_their_township_and_may_act(client, personas, board):
    html = text(signed_in(client, personas.township_a).get(URL))
    assert set(cards(html)["overdue"]) == {board.late_1.pk, board.other_village.pk}
    assert board.other_township.pk not in sum(cards(html).values(), [])
    assert 'data-testid="card-report"' in card(html, board.other_village)


def test_township_staff_pick_one_of_their_villages(client, personas, board):
    signed_in(client, personas.township_a)
    html = text(client.get(URL))
    assert re.findall(r'<option value="(\d+)"', html) == [
        str(board.plan.village_id),
        str(board.other_village.plan.village_id),
    ]
    one = text(client.get(URL, {"village": str(board.other_village.plan.village_id), "state": "overdue"}))
    assert cards(one) == {"overdue": [board.other_village.pk]}
    assert f'href="/tasks/mine/?state=due&amp;village={board.other_village.plan.village_id}"' in one
    # A village outside their township (or no village at all) is ignored: every row of theirs.
    for value in (str(board.other_township.plan.village_id), "²", "9" * 30):
        assert set(cards(text(client.get(URL, {"village": value, "state": "overdue"})))["overdue"]) == {
            board.late_1.pk,
            board.other_village.pk,
        }


def test_a_cadre_of_one_village_gets_no_village_choice(client, personas, board):
    assert 'data-testid="card-village-form"' not in text(signed_in(client, personas.village_cadre).get(URL))


def test_a_leader_sees_the_cards_without_actions(client, personas, board):
    html = text(signed_in(client, personas.leader).get(URL))
    assert board.late_1.pk in cards(html)["overdue"]
    assert 'data-testid="card-report"' not in html and 'data-testid="card-complete"' not in html


def test_a_department_user_gets_their_department_rows_to_report_on(client, area, board):
    transport = factories.department(area.district, name="区交通运输局")
    Task.objects.filter(pk=board.other_township.pk).update(department=transport)
    user = factories.department_user(transport, username="jiaotong")
    html = text(signed_in(client, user).get(URL))
    assert cards(html) == {"overdue": [board.other_township.pk]}
    theirs = card(html, board.other_township)
    assert 'data-testid="card-report"' in theirs
    assert 'data-testid="card-complete"' not in theirs  # they report, they do not change the row


def test_the_cards_are_paginated(client, personas, board):
    for i in range(25):
        factories.task(board.plan, item=f"远期任务{i}", deadline=day(60 + i))
    signed_in(client, personas.village_cadre)
    first = text(client.get(URL))
    assert sum(len(v) for v in cards(first).values()) == 20
    second = text(client.get(URL, {"page": "2"}))
    assert sum(len(v) for v in cards(second).values()) == 11  # 6 + 25 rows: 20 on the first page
    assert re.search(r"第 2 / 2 页，共 31 项", second)


# Queries: the request's savepoint and its release; the session and the user; what the navigation asks (the user's
# village; the data versions with its stored numbers, nothing having changed since the last page); the villages of the
# user's rows, the group counts (one aggregate), the page's count and the page's rows with their place and actions.
# The same for 6 rows and for 18.
CARDS_PAGE_QUERIES = 10


def test_the_cards_run_the_same_queries_for_many_more_rows(client, personas, board, django_assert_num_queries):
    signed_in(client, personas.village_cadre)
    client.get(URL)  # the session's first request writes what later ones only read
    with django_assert_num_queries(CARDS_PAGE_QUERIES):
        html = text(client.get(URL))
    assert sum(len(v) for v in cards(html).values()) == 6
    for i in range(12):
        household = factories.household(board.plan.village)
        factories.task(
            board.plan, household, item=f"户的任务{i}", deadline=day(i - 6), created_by=personas.village_cadre
        )
    client.get(URL)  # the navigation's numbers counted again for the new rows, and stored
    with django_assert_num_queries(CARDS_PAGE_QUERIES):
        html = text(client.get(URL, {"mine": "1"}))
    assert sum(len(v) for v in cards(html).values()) == 12
    with django_assert_num_queries(CARDS_PAGE_QUERIES):
        html = text(client.get(URL))
    assert sum(len(v) for v in cards(html).values()) == 18
