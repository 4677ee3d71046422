"""The questions the dashboard and supervisors ask: overdue, due soon, stale, open and overdue rectifications."""

import datetime
import zoneinfo

import pytest

from households.models import Household
from supervision.models import Rectification
from tasks.models import Task
from tests import factories

TODAY = datetime.date(2017, 9, 15)
DAY = datetime.timedelta(days=1)
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


@pytest.fixture
def plan(area):
    return factories.plan(area.village_a)


def make_task(plan, deadline, **fields):
    return factories.task(plan, item=fields.pop("item", f"任务 {deadline}"), deadline=deadline, **fields)


def done(plan, deadline, status=Task.Status.DONE):
    return make_task(plan, deadline, status=status, progress=100, completed_on=deadline)


def removed(plan, deadline):
    return make_task(plan, deadline, is_removed=True, removed_reason="规划调整，并入相邻村项目")


def with_last_progress(task, day):
    Task.objects.filter(pk=task.pk).update(last_progress_on=day)
    return task


def created_on(task, day):
    moment = datetime.datetime.combine(day, datetime.time(10, 0), tzinfo=SHANGHAI)
    Task.objects.filter(pk=task.pk).update(created_at=moment)
    return task


def items(queryset):
    return set(queryset.values_list("item", flat=True))


# Overdue ---------------------------------------------------------------------------------------------------


def test_overdue_is_past_the_deadline_and_not_complete(plan):
    late = make_task(plan, TODAY - DAY, item="late", status=Task.Status.IN_PROGRESS, progress=60)
    late_not_started = make_task(plan, datetime.date(2017, 8, 31), item="late-not-started")
    make_task(plan, TODAY, item="due-today")
    make_task(plan, TODAY + DAY, item="tomorrow")
    assert items(Task.objects.overdue(TODAY)) == {late.item, late_not_started.item}
    assert late.is_overdue(TODAY)
    assert not Task.objects.get(item="due-today").is_overdue(TODAY)


def test_deadline_today_becomes_overdue_tomorrow(plan):
    task = make_task(plan, TODAY)
    assert not Task.objects.overdue(TODAY).exists()
    assert list(Task.objects.overdue(TODAY + DAY)) == [task]


@pytest.mark.parametrize("status", [Task.Status.DONE, Task.Status.ACCEPTED])
def test_completed_tasks_are_never_overdue(plan, status):
    task = done(plan, datetime.date(2017, 8, 31), status=status)
    for today in (TODAY, datetime.date(2018, 12, 31), datetime.date(2030, 1, 1)):
        assert not Task.objects.overdue(today).exists()
        assert not task.is_overdue(today)


def test_removed_tasks_are_never_overdue(plan):
    task = removed(plan, datetime.date(2017, 8, 31))
    assert not Task.objects.overdue(TODAY).exists()
    assert not task.is_overdue(TODAY)
    assert list(Task.objects.all()) == [task]  # still kept: withdrawn, not deleted


def test_overdue_respects_the_users_area(personas, area):
    factories.task(factories.plan(area.village_a), item="A", deadline=TODAY - DAY)
    factories.task(factories.plan(area.village_b), item="B", deadline=TODAY - DAY)
    assert items(Task.objects.visible_to(personas.township_a).overdue(TODAY)) == {"A"}
    assert items(Task.objects.overdue(TODAY).visible_to(personas.township_b)) == {"B"}


# Due soon ------------------------------------------------------------------------------------------------------


def test_due_within_includes_today_and_the_last_day(plan):
    for offset in (-1, 0, 1, 7, 8):
        make_task(plan, TODAY + offset * DAY, item=f"d{offset:+d}")
    assert items(Task.objects.due_within(TODAY, 7)) == {"d+0", "d+1", "d+7"}
    assert items(Task.objects.due_within(TODAY, 0)) == {"d+0"}
    assert items(Task.objects.due_within(TODAY, 8)) == {"d+0", "d+1", "d+7", "d+8"}


def test_due_within_leaves_out_completed_and_removed_tasks(plan):
    open_task = make_task(plan, TODAY + 3 * DAY, item="open", status=Task.Status.IN_PROGRESS, progress=30)
    done(plan, TODAY + 3 * DAY)
    done(plan, TODAY + 2 * DAY, status=Task.Status.ACCEPTED)
    removed(plan, TODAY + 3 * DAY)
    assert list(Task.objects.due_within(TODAY, 7)) == [open_task]


# Stale ------------------------------------------------------------------------------------------------------------


def test_stale_means_no_progress_report_for_more_than_the_given_days(plan):
    cutoff = TODAY - 30 * DAY
    old = with_last_progress(
        make_task(plan, TODAY + 60 * DAY, item="old", status="in_progress", progress=10), cutoff - DAY
    )
    with_last_progress(make_task(plan, TODAY + 60 * DAY, item="edge", status="in_progress", progress=10), cutoff)
    with_last_progress(make_task(plan, TODAY + 60 * DAY, item="recent", status="in_progress", progress=10), TODAY)
    assert list(Task.objects.stale(TODAY, 30)) == [old]


def test_a_task_never_reported_is_stale_counting_from_its_creation(plan):
    cutoff = TODAY - 30 * DAY
    forgotten = created_on(make_task(plan, TODAY + 60 * DAY, item="forgotten"), cutoff - DAY)
    created_on(make_task(plan, TODAY + 60 * DAY, item="new"), cutoff)
    assert list(Task.objects.stale(TODAY, 30)) == [forgotten]


def test_a_recent_report_on_an_old_task_is_not_stale(plan):
    task = created_on(make_task(plan, TODAY + 60 * DAY, status="in_progress", progress=40), datetime.date(2017, 3, 1))
    with_last_progress(task, TODAY - 5 * DAY)
    assert not Task.objects.stale(TODAY, 30).exists()


def test_completed_and_removed_tasks_are_never_stale(plan):
    long_ago = datetime.date(2017, 3, 1)
    with_last_progress(created_on(done(plan, datetime.date(2017, 4, 1)), long_ago), long_ago)
    created_on(removed(plan, TODAY + 60 * DAY), long_ago)
    assert Task.objects.count() == 2
    assert not Task.objects.stale(TODAY, 30).exists()


def test_village_and_household_rows(plan, area):
    village_row = factories.task(plan, item="村道")
    household_row = factories.task(household_obj=area.household_a, item="危房改造", category="housing")
    assert list(Task.objects.village_rows()) == [village_row]
    assert list(Task.objects.household_rows()) == [household_row]
    assert household_row.plan == village_row.plan
    assert Task.objects.live().count() == 2


# Rectifications ----------------------------------------------------------------------------------------------------


def test_rectifications_overdue_past_the_deadline_and_not_closed(area, personas):
    late = factories.rectification(factories.finding(area.village_a), deadline=TODAY - DAY)
    late_answered = factories.rectification(
        factories.finding(area.household_a),
        deadline=datetime.date(2017, 8, 1),
        status=Rectification.Status.AWAITING_RECHECK,
        result="已整改",
        answered_by=personas.township_a,
    )
    factories.rectification(factories.finding(area.village_b), deadline=TODAY)
    factories.rectification(factories.finding(area.township_a), deadline=TODAY + DAY)
    factories.rectification(
        factories.finding(area.township_b),
        deadline=datetime.date(2017, 8, 1),
        status=Rectification.Status.CLOSED,
        result="已整改",
        answered_by=personas.township_b,
        rechecked_by=personas.supervisor,
        rechecked_at=datetime.datetime(2017, 9, 1, 9, 0, tzinfo=SHANGHAI),
        closed_on=datetime.date(2017, 9, 1),
    )
    overdue = Rectification.objects.overdue(TODAY)
    assert set(overdue) == {late, late_answered}
    assert all(r.is_overdue(TODAY) for r in overdue)
    assert set(Rectification.objects.overdue(TODAY + DAY)) == {late, late_answered} | set(
        Rectification.objects.filter(deadline=TODAY)
    )
    assert Rectification.objects.open().count() == 4


# Households -----------------------------------------------------------------------------------------------------


def test_a_household_lifted_out_of_poverty_counts_as_exited_in_its_exit_year(area):
    Household.objects.filter(pk=area.household_a.pk).update(status=Household.Status.EXITED, exit_year=2017)
    assert list(Household.objects.exited_in(2017)) == [area.household_a]
    assert not Household.objects.exited_in(2016).exists()
