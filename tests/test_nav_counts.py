"""The numbers beside 我的待办, 消息 and 变更审批 in the navigation of every page: stored per person
(``bazhou.surfaces.todo.nav_counts``) and yet right on the very next page after each kind of write that changes
them — a plan approved, a change request filed or decided, a message received or read, a rectification answered
and waiting for its recheck, a person moved to another village — and after a day
passes with no write at all (rows come due, rectifications fall overdue, escalations late), at the boundary of
each rule; and a page whose data did not change pays one query for them.

Today is 2017-09-15; the due-soon window is 7 days (rows due up to 2017-09-22 are 临期).
"""

import datetime
import pickle
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from bazhou.core.models import CachedFigures, Notification
from bazhou.surfaces import todo
from bazhou.surfaces.context_processors import todo_counts
from supervision import services as supervision_services
from supervision.models import Escalation, Rectification
from tasks import changes
from tasks import services as task_services
from tasks.models import ChangeRequest, Plan
from tests import factories

pytestmark = pytest.mark.usefixtures("pinned_today")

TODAY = datetime.date(2017, 9, 15)
PAGE = reverse("inbox")  # any page with the navigation


def nav(client, user) -> dict[str, int]:
    """The three numbers as the navigation of a page shows them (0 when no badge is shown)."""
    client.force_login(user)
    response = client.get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    shown = {}
    for key, testid in (("todo", "nav-todo-count"), ("unread", "nav-unread-count"), ("changes", "nav-change-count")):
        match = re.search(rf'data-testid="{testid}">(\d+)<', html)
        shown[key] = int(match.group(1)) if match else 0
    return shown


def next_day(settings, days=1):
    settings.BAZHOU_TODAY = (TODAY + datetime.timedelta(days=days)).isoformat()


def message(user, title="村文化室已逾期", n=0):
    return Notification.objects.create(
        recipient_key=f"user:{user.pk}",
        user=user,
        district=user.district,
        reason=Notification.Reason.TASK_OVERDUE,
        target_type="tasks.task",
        target_id=1000 + n,
        day=TODAY,
        title=title,
    )


@pytest.fixture
def approved(area):
    return factories.plan(area.village_a, 2017, state=Plan.State.APPROVED, approved_at=timezone.now())


def test_approving_a_plan_takes_it_off_the_approvers_count_at_once(client, area, personas):
    draft = factories.plan(area.village_a2, 2017)
    factories.task(draft, item="村文化室", deadline=datetime.date(2017, 12, 31))
    factories.plan(area.village_b, 2017)  # an empty draft: nothing to approve, not counted
    assert nav(client, personas.district_admin)["todo"] == 1
    task_services.plan_approve(plan_id=draft.pk, user=personas.district_admin)
    assert nav(client, personas.district_admin)["todo"] == 0


def test_a_change_request_filed_counts_for_its_approver_and_leaves_the_count_when_decided(
    client, area, personas, approved
):
    row = factories.task(approved, item="通村路", deadline=datetime.date(2017, 12, 31))
    assert nav(client, personas.district_admin) == {"todo": 0, "unread": 0, "changes": 0}
    change = changes.change_request_create(
        user=personas.village_cadre,
        task=row,
        changes={"deadline": "2018-03-31"},
        reason_category=ChangeRequest.ReasonCategory.DISASTER,
        reason="暴雨冲毁路基",
        expected_version=row.version,
    )
    assert nav(client, personas.district_admin) == {"todo": 1, "unread": 0, "changes": 1}
    # The one who asked does not decide it: nothing waits for them.
    assert nav(client, personas.village_cadre)["changes"] == 0
    changes.change_request_approve(user=personas.district_admin, request_id=change.pk, expected_version=change.version)
    assert nav(client, personas.district_admin) == {"todo": 0, "unread": 0, "changes": 0}


def test_a_message_received_raises_the_count_and_reading_it_lowers_it(client, area, personas):
    assert nav(client, personas.village_cadre)["unread"] == 0
    note = message(personas.village_cadre)
    message(personas.township_a, "别人的消息", n=1)  # someone else's
    assert nav(client, personas.village_cadre)["unread"] == 1
    message(personas.village_cadre, "第二条", n=2)
    assert nav(client, personas.village_cadre)["unread"] == 2
    assert client.get(reverse("inbox_open", args=[note.pk])).status_code == 302  # opening it reads it
    assert nav(client, personas.village_cadre)["unread"] == 1
    assert nav(client, personas.township_a)["unread"] == 1


def test_an_answered_rectification_leaves_the_answerers_count_and_joins_the_supervisors(client, area, personas):
    finding = factories.finding(area.village_a)
    rect = factories.rectification(finding, deadline=datetime.date(2017, 11, 1))
    assert nav(client, personas.village_cadre)["todo"] == 1  # to answer
    assert nav(client, personas.supervisor)["todo"] == 0
    supervision_services.rectification_answer(
        rectification_id=rect.pk, user=personas.village_cadre, expected_version=rect.version, result="已硬化路面"
    )
    assert nav(client, personas.village_cadre)["todo"] == 0
    assert nav(client, personas.supervisor)["todo"] == 1  # to recheck
    rect.refresh_from_db()
    supervision_services.rectification_recheck(
        rectification_id=rect.pk, user=personas.supervisor, expected_version=rect.version, approve=True
    )
    assert nav(client, personas.supervisor)["todo"] == 0


def test_a_row_joins_the_count_the_day_it_comes_due_with_no_write(client, settings, area, personas, approved):
    factories.task(approved, item="窗口末日", deadline=TODAY + datetime.timedelta(days=7))
    factories.task(approved, item="窗口外一天", deadline=TODAY + datetime.timedelta(days=8))
    assert nav(client, personas.village_cadre)["todo"] == 1
    next_day(settings)
    assert nav(client, personas.village_cadre)["todo"] == 2
    # Falling overdue moves a row from 临期 to 逾期: still waiting for the cadre, still counted once.
    next_day(settings, 9)
    assert nav(client, personas.village_cadre)["todo"] == 2


def test_a_rectification_joins_the_oversights_count_the_day_after_its_deadline(client, settings, area, personas):
    oversight = factories.oversight_user(area.district, username="renda")
    factories.rectification(factories.finding(area.village_a), deadline=TODAY)
    assert nav(client, oversight)["todo"] == 0  # due today: not overdue yet
    next_day(settings)
    assert nav(client, oversight)["todo"] == 1


def test_an_escalation_joins_the_supervisors_count_the_day_after_its_reply_was_due(client, settings, area, personas):
    leader = factories.patch_leader_user([area.township_a], username="guabao")
    Escalation.objects.create(
        finding=factories.finding(area.village_a),
        reason=Escalation.Reason.MAJOR_FINDING,
        leader=leader,
        opened_on=datetime.date(2017, 9, 1),
        respond_by=TODAY,
    )
    assert nav(client, personas.supervisor)["todo"] == 0
    next_day(settings)
    assert nav(client, personas.supervisor)["todo"] == 1


def test_a_person_moved_to_another_village_counts_that_villages_rows(client, area, personas):
    factories.task(factories.plan(area.village_b, 2017), item="大寺村逾期", deadline=datetime.date(2017, 8, 31))
    assert nav(client, personas.village_cadre)["todo"] == 0
    cadre = personas.village_cadre
    cadre.village = area.village_b
    cadre.save(update_fields=["village"])  # their own row: no data version moves
    assert nav(client, cadre)["todo"] == 1


def test_numbers_another_release_stored_or_that_cannot_be_read_are_counted_again(area, personas):
    cadre = personas.village_cadre
    message(cadre)
    assert todo.nav_counts(cadre, TODAY) == {"todo": 0, "unread": 1, "changes": 0}
    stored = CachedFigures.objects.get(key=todo.nav_key(cadre))
    stamp, _counts = pickle.loads(stored.data)
    wrong = {"todo": 9, "unread": 9, "changes": 9}
    CachedFigures.objects.filter(pk=stored.pk).update(data=pickle.dumps((("another release", *stamp[1:]), wrong)))
    assert todo.nav_counts(cadre, TODAY) == {"todo": 0, "unread": 1, "changes": 0}
    CachedFigures.objects.filter(pk=stored.pk).update(data=b"not a pickle")
    assert todo.nav_counts(cadre, TODAY) == {"todo": 0, "unread": 1, "changes": 0}


def test_a_page_with_unchanged_data_pays_one_query_for_the_navigation(
    rf, area, personas, approved, django_assert_num_queries
):
    factories.task(approved, item="村文化室", deadline=datetime.date(2017, 8, 31))
    message(personas.district_admin)
    request = rf.get("/")
    request.user = personas.village_cadre
    with django_assert_num_queries(0):
        context = todo_counts(request)  # nothing asked until the template shows the navigation
    with django_assert_num_queries(3):  # the versions and the stored numbers, the count, the store
        assert context["nav_counts"]() == {"todo": 1, "unread": 0, "changes": 0}
    with django_assert_num_queries(1):  # the next page: the versions and the stored numbers
        assert todo_counts(request)["nav_counts"]() == {"todo": 1, "unread": 0, "changes": 0}
    request.user = personas.district_admin
    with django_assert_num_queries(3):
        assert todo_counts(request)["nav_counts"]() == {"todo": 0, "unread": 1, "changes": 0}
    with django_assert_num_queries(1):
        assert todo_counts(request)["nav_counts"]() == {"todo": 0, "unread": 1, "changes": 0}


def test_the_stored_numbers_are_the_counted_numbers_for_every_role(area, personas):
    factories.task(factories.plan(area.village_a, 2017), item="逾期", deadline=datetime.date(2017, 8, 31))
    factories.rectification(factories.finding(area.village_a), status=Rectification.Status.PENDING)
    people = [
        personas.district_admin,
        personas.township_a,
        personas.village_cadre,
        personas.supervisor,
        personas.leader,
    ]
    for person in people:
        counted = todo.count_nav(person, TODAY)
        assert todo.nav_counts(person, TODAY) == counted  # counted and stored
        assert todo.nav_counts(person, TODAY) == counted  # as stored
