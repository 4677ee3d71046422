"""Derived states, each defined once, asked on its boundary on every surface that shows it.

Overdue, due within N days, stale, done and live (plan rows: tasks.models), rectification overdue
(supervision.models), still poor, lifted out of poverty and the poverty incidence (households.models), in post
(villages.models). For each state: its ``Q`` and its Python twin agree on the boundary, and every page, the API,
the one-table export, the dashboard, the bulletin and the daily run show the same rows on the boundary day itself
and on the day after. A wrong boundary in any one of them (``<=`` for ``<``) fails here.
"""

import datetime
import io
import json
import re
import zoneinfo
from decimal import Decimal

import pytest
from django.conf import settings as conf_settings
from django.core.management import call_command
from django.db.models import Count
from django.urls import reverse

from bazhou.core.models import AnnualGoal
from households.models import (
    Household,
    Member,
    exited_in_q,
    incidence_below,
    poverty_incidence,
    still_poor_q,
)
from supervision import bulletin_services, notifications
from supervision.models import (
    DailyDigest,
    Finding,
    OverdueRecord,
    Rectification,
    rectification_is_overdue,
    rectification_overdue_q,
)
from tasks.exports import KEYS
from tasks.models import (
    Plan,
    Task,
    days_overdue,
    done_q,
    is_done_status,
    is_overdue_values,
    is_past_deadline,
    live_q,
    overdue_on_q,
    overdue_q,
    past_deadline_q,
)
from tests import factories
from tests.excel.helpers import body, calamine_rows
from tests.jobs import get_file
from villages.models import AssistanceAssignment, in_post, in_post_q

pytestmark = pytest.mark.usefixtures("pinned_today")

TODAY = datetime.date(2017, 9, 15)
DAY = datetime.timedelta(days=1)
BOUNDARY_DAYS = pytest.mark.parametrize("day", [TODAY, TODAY + DAY], ids=["the-day-itself", "the-day-after"])
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
SEPTEMBER = {"period_start": datetime.date(2017, 9, 1), "period_end": datetime.date(2017, 9, 30)}


def on(settings, day: datetime.date) -> None:
    """The product's today is ``day``."""
    settings.BAZHOU_TODAY = day.isoformat()


def get(client, user, url, params=None):
    client.force_login(user)
    response = get_file(client, url, params or {})  # an export of more than one village is a job: its file
    assert response.status_code == 200, response.content[:500]
    return response


def html(response) -> str:
    return response.content.decode()


def number(response, pattern: str) -> int:
    """The integer the first match of ``pattern`` (with one group) shows; 0 when the element is not there."""
    match = re.search(pattern, html(response), re.S)
    return int(match.group(1)) if match else 0


def api_rows(client, user, url, params=None) -> list[dict]:
    response = get(client, user, url, {"page_size": 100, **(params or {})})
    return response.json()["results"]


def run_daily(day: datetime.date) -> None:
    call_command("supervision_daily", "--date", day.isoformat(), stdout=io.StringIO())


def ids(surfaces: dict) -> list[str]:
    """Test ids without spaces, so that ``-k`` and the failure summary name a surface in one word."""
    return [re.sub(r"\W+", "-", name).strip("-") for name in surfaces]


def items_of(pks) -> set[str]:
    return set(Task.objects.filter(pk__in=[int(pk) for pk in pks]).values_list("item", flat=True))


# ===============================================================================================================
# Overdue (逾期): open (live, not done) and the deadline before today. The deadline day itself is not overdue.
# ===============================================================================================================

DUE_TODAY, LATE, ACCEPTED, REMOVED = "到期当天的村道", "过期一天的村道", "已验收的村道", "已撤销的村道"
HH_DUE_TODAY, HH_LATE = "到期当天的危房改造", "过期一天的危房改造"
VILLAGE_ROWS = {DUE_TODAY, LATE, ACCEPTED, REMOVED}
HOUSEHOLD_ROWS = {HH_DUE_TODAY, HH_LATE}
LIVE_ROWS = VILLAGE_ROWS - {REMOVED} | HOUSEHOLD_ROWS
OVERDUE_ON = {TODAY: {LATE, HH_LATE}, TODAY + DAY: {LATE, HH_LATE, DUE_TODAY, HH_DUE_TODAY}}
SCOPES = {"all": VILLAGE_ROWS | HOUSEHOLD_ROWS, "village": VILLAGE_ROWS, "household": HOUSEHOLD_ROWS}


@pytest.fixture
def late_rows(area, personas):
    """茅垭村's 2017 plan: a village row and a household row due on 2017-09-15, the same due the day before, and
    rows due the day before that are never overdue (accepted, withdrawn)."""

    class Rows:
        plan = factories.plan(area.village_a)
        due_today = factories.task(plan, item=DUE_TODAY, deadline=TODAY, responsible_person="吴玉峰")
        late = factories.task(plan, item=LATE, deadline=TODAY - DAY, responsible_person="吴玉峰")
        accepted = factories.task(
            plan, item=ACCEPTED, deadline=TODAY - DAY, status="accepted", progress=100, completed_on=TODAY - 3 * DAY
        )
        removed = factories.task(plan, item=REMOVED, deadline=TODAY - DAY, is_removed=True, removed_reason="重复录入")
        hh_due_today = factories.task(
            plan, area.household_a, item=HH_DUE_TODAY, category="housing", deadline=TODAY, responsible_person="秦和平"
        )
        hh_late = factories.task(
            plan, area.household_a, item=HH_LATE, category="housing", deadline=TODAY - DAY, responsible_person="秦和平"
        )

    return Rows


# Each surface answers with the rows it marks overdue (a set of items) or with the number it shows.


def plan_page_rows(client, personas, area, rows, day):
    response = get(client, personas.district_admin, reverse("tasks:plan", args=[rows.plan.pk]))
    marked = set()
    for pk, classes, cells in re.findall(
        r'<tr id="task-(\d+)" data-testid="task-row"[^>]*class="([^"]*)">(.*?)</tr>', html(response), re.S
    ):
        badge = 'data-testid="overdue-badge"' in cells
        assert badge == ("row-overdue" in classes.split())
        if badge:
            marked |= items_of([pk])
    return marked


def plan_page_totals(client, personas, area, rows, day):
    response = get(client, personas.district_admin, reverse("tasks:plan", args=[rows.plan.pk]))
    return number(response, r'data-testid="overdue-count"[^>]*>(\d+)<')


def village_list(client, personas, area, rows, day):
    response = get(client, personas.district_admin, reverse("villages:list"))
    row = re.search(rf'<tr data-village="{area.village_a.pk}".*?</tr>', html(response), re.S).group(0)
    return int(re.sub(r"<[^>]+>", "", re.search(r'data-col="overdue">(.*?)</td>', row, re.S).group(1)))


def _village_page(client, personas, area):
    return get(client, personas.district_admin, reverse("villages:detail", args=[area.village_a.pk]))


def village_detail_rows(client, personas, area, rows, day):
    return items_of(
        re.findall(r'<tr data-task="(\d+)" class="row-overdue">', html(_village_page(client, personas, area)))
    )


def village_detail_totals(client, personas, area, rows, day):
    return number(_village_page(client, personas, area), r'data-total="overdue">(\d+)<')


def village_detail_household_rows(client, personas, area, rows, day):
    return number(_village_page(client, personas, area), r'data-hh="overdue">(\d+)<')


def household_page(client, personas, area, rows, day):
    response = get(client, personas.district_admin, reverse("households:detail", args=[area.household_a.pk]))
    return items_of(re.findall(r'<tr data-task="(\d+)" class="row-overdue">', html(response)))


def review_queue(client, personas, area, rows, day):
    response = get(client, personas.supervisor, reverse("supervision:queue"))
    shown = re.findall(r'<tr data-testid="queue-row" data-task-id="(\d+)" class="row-overdue">', html(response))
    assert len(shown) == len(response.context["page_obj"])  # every row of the overdue list is marked overdue
    return items_of(shown)


def review_queue_export(client, personas, area, rows, day):
    response = get(client, personas.supervisor, reverse("supervision:queue_xlsx"))
    sheet = calamine_rows(body(response), "逾期任务清单")
    header = next(r for r in sheet if "项目" in r)
    item, days = header.index("项目"), header.index("逾期（天）")
    listed = {r[item]: int(r[days]) for r in sheet[sheet.index(header) + 1 :] if r[item]}
    assert all(n >= 1 for n in listed.values())
    return set(listed)


def dashboard_rows(client, personas, area, rows, day):
    response = get(client, personas.district_admin, "/dashboard/")
    shown = number(response, r'data-testid="rows-overdue">(\d+)<')
    assert shown == response.context["rows"]["overdue"]
    return shown


def dashboard_township_ranking(client, personas, area, rows, day):
    ranking = get(client, personas.district_admin, "/dashboard/").context["township_ranking"]
    return next(r["overdue"] for r in ranking if r["area"] == area.township_a)


def dashboard_village_table(client, personas, area, rows, day):
    params = {"township": area.township_a.pk}
    table = get(client, personas.district_admin, "/dashboard/", params).context["village_table"]
    return next(r["overdue"] for r in table if r["area"] == area.village_a)


def dashboard_weekly_chart(client, personas, area, rows, day):
    context = get(client, personas.district_admin, "/dashboard/").context
    assert context["overdue_weeks"][-1]["date"] == day
    assert context["charts"]["overdue"]["values"][-1] == context["overdue_weeks"][-1]["overdue"]
    return context["overdue_weeks"][-1]["overdue"]


def one_table_export(client, personas, area, rows, day):
    response = get(client, personas.district_admin, reverse("tasks:plan_table_xlsx"), {"year": 2017})
    sheet = calamine_rows(body(response), "施工图")
    item, overdue = KEYS.index("item"), KEYS.index("overdue")
    assert sheet[3][overdue] == "是否\n逾期"  # the header broken where it prints
    assert {r[overdue] for r in sheet[4:]} <= {"是", ""}
    return {r[item] for r in sheet[4:] if r[overdue] == "是"}


def api_task_field(client, personas, area, rows, day):
    return {r["item"] for r in api_rows(client, personas.district_admin, "/api/v1/tasks/") if r["overdue"]}


def api_overdue_filter(client, personas, area, rows, day):
    overdue = {r["item"] for r in api_rows(client, personas.district_admin, "/api/v1/tasks/", {"overdue": "true"})}
    not_overdue = {r["item"] for r in api_rows(client, personas.district_admin, "/api/v1/tasks/", {"overdue": "false"})}
    assert overdue | not_overdue == LIVE_ROWS and not overdue & not_overdue
    return overdue


def api_plan_list(client, personas, area, rows, day):
    plans = api_rows(client, personas.district_admin, "/api/v1/plans/")
    return next(p["overdue_count"] for p in plans if p["id"] == rows.plan.pk)


def api_villages(client, personas, area, rows, day):
    villages = api_rows(client, personas.district_admin, "/api/v1/villages/")
    return next(v["overdue_count"] for v in villages if v["id"] == area.village_a.pk)


def api_plan_table(client, personas, area, rows, day):
    response = get(client, personas.district_admin, "/api/v1/plan-table/", {"year": 2017})
    table = json.loads(body(response))
    assert table["as_of"] == day.isoformat()
    return {r["item"] for r in table["rows"] if r["row_type"] == "task" and r["overdue"]}


def _bulletin(personas, day):
    return bulletin_services.bulletin_generate(user=personas.supervisor, today=day, **SEPTEMBER)


def bulletin_rows(client, personas, area, rows, day):
    snapshot = _bulletin(personas, day).snapshot
    assert snapshot["totals"]["overdue_tasks"] == len(snapshot["tasks"])
    assert all(t["days_overdue"] >= 1 for t in snapshot["tasks"])
    return {t["item"] for t in snapshot["tasks"]}


def bulletin_page(client, personas, area, rows, day):
    bulletin = _bulletin(personas, day)
    response = get(client, personas.supervisor, reverse("supervision:bulletin", args=[bulletin.pk]))
    return number(response, r'逾期未完成任务</div><div class="fs-5">(\d+) 项')


def daily_command_records(client, personas, area, rows, day):
    run_daily(day)
    return items_of(OverdueRecord.objects.filter(task__isnull=False).values_list("task_id", flat=True))


def daily_digest(client, personas, area, rows, day):
    personas.supervisor.email = "ducha@bazhou.gov.cn"
    personas.supervisor.save()
    run_daily(day)
    return DailyDigest.objects.get(day=day).summary["overdue_tasks"]


OVERDUE_SURFACES = {
    "plan page: row badge": ("all", plan_page_rows),
    "plan page: totals": ("all", plan_page_totals),
    "village list": ("all", village_list),
    "village page: village rows": ("village", village_detail_rows),
    "village page: totals": ("village", village_detail_totals),
    "village page: household rows": ("household", village_detail_household_rows),
    "household page": ("household", household_page),
    "review queue": ("all", review_queue),
    "review queue export": ("all", review_queue_export),
    "dashboard: plan rows": ("all", dashboard_rows),
    "dashboard: township ranking": ("all", dashboard_township_ranking),
    "dashboard: village table": ("all", dashboard_village_table),
    "dashboard: weekly chart": ("all", dashboard_weekly_chart),
    "one-table export: overdue column (是否逾期)": ("all", one_table_export),
    "api: task overdue field": ("all", api_task_field),
    "api: ?overdue= filter": ("all", api_overdue_filter),
    "api: plan list overdue_count": ("all", api_plan_list),
    "api: villages overdue_count": ("all", api_villages),
    "api: plan-table json": ("all", api_plan_table),
    "bulletin: rows": ("all", bulletin_rows),
    "bulletin: page": ("all", bulletin_page),
    "daily command: records": ("all", daily_command_records),
    "daily command: digest": ("all", daily_digest),
}


@BOUNDARY_DAYS
@pytest.mark.parametrize(("scope", "surface"), OVERDUE_SURFACES.values(), ids=ids(OVERDUE_SURFACES))
def test_a_row_is_overdue_from_the_day_after_its_deadline_on_every_surface(
    client, personas, area, late_rows, settings, day, scope, surface
):
    on(settings, day)
    shown = surface(client, personas, area, late_rows, day)
    expected = OVERDUE_ON[day] & SCOPES[scope]
    assert shown == (expected if isinstance(shown, set) else len(expected))


@BOUNDARY_DAYS
def test_a_bulletins_new_overdue_rows_are_those_that_went_overdue_within_the_period(personas, late_rows, settings, day):
    # The period starts on TODAY: the rows due the day before went overdue ON its first day, inside the period (the
    # demo's 448 rows due 08-31 are new in a period from 09-01); the rows due on TODAY go overdue the day after, also
    # inside it. Nothing was overdue yet on the day before the period, so every overdue row is new.
    on(settings, day)
    period = {"period_start": TODAY, "period_end": TODAY + 14 * DAY}
    snapshot = bulletin_services.bulletin_generate(user=personas.supervisor, today=day, **period).snapshot
    assert {t["item"] for t in snapshot["tasks"]} == OVERDUE_ON[day]
    assert snapshot["totals"]["new_overdue_tasks"] == len(OVERDUE_ON[day])


def test_rows_overdue_before_the_period_are_not_new_in_it(personas, late_rows, settings):
    # A period that starts the day after TODAY: the rows due the day before TODAY were overdue before it began.
    day = TODAY + DAY
    on(settings, day)
    period = {"period_start": TODAY + DAY, "period_end": TODAY + 14 * DAY}
    snapshot = bulletin_services.bulletin_generate(user=personas.supervisor, today=day, **period).snapshot
    assert {t["item"] for t in snapshot["tasks"]} == OVERDUE_ON[day]
    assert snapshot["totals"]["new_overdue_tasks"] == len(OVERDUE_ON[day] - OVERDUE_ON[TODAY])


@pytest.mark.parametrize("status", Task.Status.values)
@pytest.mark.parametrize("removed", [False, True], ids=["live", "removed"])
def test_the_overdue_q_and_its_python_twins_agree_on_the_boundary(area, status, removed):
    plan = factories.plan(area.village_a)
    done = is_done_status(status)
    rows = [
        factories.task(
            plan,
            item=f"{offset:+d}",
            deadline=TODAY + offset * DAY,
            status=status,
            progress=100 if done else 50 if status == "in_progress" else 0,
            completed_on=TODAY - 5 * DAY if done else None,
            is_removed=removed,
            removed_reason="撤销" if removed else "",
        )
        for offset in (-1, 0, 1)
    ]
    by_q = set(Task.objects.filter(overdue_q(TODAY)))
    assert by_q == set(Task.objects.overdue(TODAY))
    for task in rows:
        values = {"status": task.status, "deadline": task.deadline, "is_removed": task.is_removed, "today": TODAY}
        assert task.is_overdue(TODAY) == is_overdue_values(**values) == (task in by_q)
        assert (task in by_q) == (not removed and not done and task.deadline == TODAY - DAY)
    for offset in (-1, 0, 1):
        deadline = TODAY + offset * DAY
        in_q = Task.objects.filter(past_deadline_q(TODAY), deadline=deadline).exists()
        assert in_q == is_past_deadline(deadline, TODAY) == (offset < 0)
        assert days_overdue(deadline, TODAY) == -offset


def test_removed_rows_are_never_overdue_through_the_api_filter_either(client, personas, late_rows):
    # The filter asks the same definition as the ``overdue`` field: a withdrawn row is not overdue.
    listed = api_rows(client, personas.district_admin, "/api/v1/tasks/", {"removed": "true", "overdue": "true"})
    assert listed == []
    listed = api_rows(client, personas.district_admin, "/api/v1/tasks/", {"removed": "true", "overdue": "false"})
    assert [(r["item"], r["overdue"]) for r in listed] == [(REMOVED, False)]


@pytest.mark.parametrize(("day", "days", "expected"), [
    (TODAY, 1, {LATE, HH_LATE}),
    (TODAY + DAY, 1, {LATE, HH_LATE, DUE_TODAY, HH_DUE_TODAY}),
    (TODAY + DAY, 2, {LATE, HH_LATE}),
    (TODAY + DAY, 3, set()),
])  # fmt: skip
def test_the_queues_days_overdue_filter_counts_from_the_day_after_the_deadline(
    client, personas, late_rows, settings, day, days, expected
):
    on(settings, day)
    response = get(client, personas.supervisor, reverse("supervision:queue"), {"min_days_overdue": days})
    assert {task.item for task in response.context["page_obj"]} == expected


def test_the_weekly_chart_counts_a_row_from_the_week_end_after_its_deadline(client, personas, area, settings):
    # A week later, the week ending on TODAY is the chart's second-to-last point.
    plan = factories.plan(area.village_a)
    factories.task(plan, item="due on the week end", deadline=TODAY)
    factories.task(plan, item="due the day before", deadline=TODAY - DAY)
    factories.done_task(plan, item="done before the week end", deadline=TODAY - DAY, completed_on=TODAY - DAY)
    factories.done_task(plan, item="done on the week end", deadline=TODAY - DAY, completed_on=TODAY)
    on(settings, TODAY + 7 * DAY)
    weeks = get(client, personas.district_admin, "/dashboard/").context["overdue_weeks"]
    assert weeks[-2]["date"] == TODAY
    # On TODAY: the row due the day before, and the one completed only on TODAY (not before it); a week later, the
    # row due on TODAY too.
    assert [w["overdue"] for w in weeks[-2:]] == [2, 2]


def test_overdue_on_a_day_agrees_with_overdue_today_but_for_rows_completed_that_day(area):
    plan = factories.plan(area.village_a)
    open_late = factories.task(plan, item="open", deadline=TODAY - DAY)
    factories.task(plan, item="due today", deadline=TODAY)
    factories.done_task(plan, item="done before", deadline=TODAY - DAY, completed_on=TODAY - DAY)
    completed_today = factories.done_task(plan, item="done today", deadline=TODAY - DAY, completed_on=TODAY)
    factories.task(plan, item="removed", deadline=TODAY - DAY, is_removed=True, removed_reason="重复")
    assert set(Task.objects.filter(overdue_q(TODAY))) == {open_late}
    assert set(Task.objects.filter(overdue_on_q(TODAY))) == {open_late, completed_today}


# ===============================================================================================================
# Due within N days (N 天内到期): open, the deadline from today to today + N, both included.
# ===============================================================================================================


def due_rows(plan, days: int) -> dict[str, datetime.date]:
    """Open rows due the day before, today, on day N and on day N+1, and a done row due tomorrow."""
    deadlines = {
        "due yesterday": TODAY - DAY,
        "due today": TODAY,
        f"due on day {days}": TODAY + days * DAY,
        f"due on day {days + 1}": TODAY + (days + 1) * DAY,
    }
    for item, deadline in deadlines.items():
        factories.task(plan, item=item, deadline=deadline)
    factories.done_task(plan, item="done, due tomorrow", deadline=TODAY + DAY, completed_on=TODAY - DAY)
    return deadlines


def queue_due(client, personas, day, days):
    response = get(client, personas.supervisor, reverse("supervision:queue"), {"view": "due", "days": days})
    assert 'class="row-overdue"' not in html(response)  # a row due today is due, not overdue
    return {task.item for task in response.context["page_obj"]}


def api_due_within(client, personas, day, days):
    return {r["item"] for r in api_rows(client, personas.district_admin, "/api/v1/tasks/", {"due_within": days})}


def dashboard_due_soon(client, personas, day, days):
    response = get(client, personas.district_admin, "/dashboard/")
    shown = number(response, r'data-testid="rows-due-soon">(\d+)<')
    assert shown == response.context["rows"]["due_soon"]
    return shown


def digest_due_soon(client, personas, day, days):
    return notifications.digest_summary(district=personas.district_admin.district, today=day)["due_soon_tasks"]


DUE_SURFACES = {
    "review queue, 7 days": (queue_due, 7),
    "review queue, 30 days": (queue_due, 30),
    "api ?due_within=7": (api_due_within, 7),
    "api ?due_within=30": (api_due_within, 30),
    # One due-soon window (settings.BAZHOU_DUE_SOON_DAYS) for the dashboard, the digest and 我的待办.
    "dashboard": (dashboard_due_soon, conf_settings.BAZHOU_DUE_SOON_DAYS),
    "daily digest": (digest_due_soon, conf_settings.BAZHOU_DUE_SOON_DAYS),
}


@BOUNDARY_DAYS
@pytest.mark.parametrize(("surface", "days"), DUE_SURFACES.values(), ids=ids(DUE_SURFACES))
def test_due_within_n_days_includes_today_and_day_n_on_every_surface(
    client, personas, area, settings, day, surface, days
):
    deadlines = due_rows(factories.plan(area.village_a), days)
    on(settings, day)
    expected = {item for item, deadline in deadlines.items() if day <= deadline <= day + days * DAY}
    shown = surface(client, personas, day, days)
    assert shown == (expected if isinstance(shown, set) else len(expected))


# ===============================================================================================================
# Stale (长期未更新): open and no progress report for more than N days (from creation if never reported).
# ===============================================================================================================


def stale_rows(plan, days: int) -> dict[str, datetime.date]:
    """Rows last reported on, or never reported and created on, the cut-off day and the day before it."""
    cutoff = TODAY - days * DAY
    last = {}
    for kind, day in (("reported", cutoff - DAY), ("reported", cutoff), ("created", cutoff - DAY), ("created", cutoff)):
        task = factories.task(plan, item=f"{kind} {day}", deadline=TODAY + 60 * DAY)
        moment = datetime.datetime.combine(day if kind == "created" else cutoff - 30 * DAY, datetime.time(10), SHANGHAI)
        Task.objects.filter(pk=task.pk).update(created_at=moment, last_progress_on=day if kind == "reported" else None)
        last[task.item] = day
    done = factories.done_task(plan, item="done long ago", deadline=TODAY + DAY, completed_on=cutoff - 9 * DAY)
    Task.objects.filter(pk=done.pk).update(last_progress_on=cutoff - 9 * DAY)
    return last


def queue_stale(client, personas, day, days):
    response = get(client, personas.supervisor, reverse("supervision:queue"), {"view": "stale", "days": days})
    return {task.item for task in response.context["page_obj"]}


def api_stale(client, personas, day, days):
    return {r["item"] for r in api_rows(client, personas.district_admin, "/api/v1/tasks/", {"stale_days": days})}


STALE_SURFACES = {
    "review queue, 30 days": (queue_stale, 30),
    "review queue, 10 days": (queue_stale, 10),
    "api ?stale_days=30": (api_stale, 30),
    "api ?stale_days=10": (api_stale, 10),
}


@BOUNDARY_DAYS
@pytest.mark.parametrize(("surface", "days"), STALE_SURFACES.values(), ids=ids(STALE_SURFACES))
def test_a_row_is_stale_after_n_days_without_a_report_on_every_surface(
    client, personas, area, settings, day, surface, days
):
    last = stale_rows(factories.plan(area.village_a), days)
    on(settings, day)
    expected = {item for item, reported in last.items() if reported < day - days * DAY}
    assert len(expected) == (2 if day == TODAY else 4)
    assert surface(client, personas, day, days) == expected


# ===============================================================================================================
# Done and live: 已完成 and 已验收 count as done; withdrawn rows count nowhere.
# ===============================================================================================================


@pytest.fixture
def status_rows(area):
    plan = factories.plan(area.village_a)
    for status in Task.Status.values:
        done = is_done_status(status)
        factories.task(
            plan,
            item=status,
            deadline=TODAY + DAY,
            status=status,
            progress=100 if done else 40 if status == "in_progress" else 0,
            completed_on=TODAY - DAY if done else None,
        )
    factories.done_task(plan, item="withdrawn", deadline=TODAY + DAY, is_removed=True, removed_reason="重复")
    return plan


def _village_list_cells(client, personas, area):
    response = get(client, personas.district_admin, reverse("villages:list"))
    row = re.search(rf'<tr data-village="{area.village_a.pk}".*?</tr>', html(response), re.S).group(0)
    return {col: int(value) for col, value in re.findall(r'data-col="(rows|done)">(\d+)</td>', row)}


DONE_SURFACES = {
    "plan page totals": lambda client, personas, area, plan: (
        number(get(client, personas.district_admin, reverse("tasks:plan", args=[plan.pk])), pattern)
        for pattern in (r'data-testid="total-count">(\d+)<', r'data-testid="done-count">(\d+)<')
    ),
    "village list": lambda client, personas, area, plan: (
        _village_list_cells(client, personas, area)[col] for col in ("rows", "done")
    ),
    "village page totals": lambda client, personas, area, plan: (
        number(_village_page(client, personas, area), pattern)
        for pattern in (r'data-total="count">(\d+)<', r'data-total="done">(\d+)<')
    ),
    "api plan list": lambda client, personas, area, plan: next(
        (p["row_count"], p["done_count"])
        for p in api_rows(client, personas.district_admin, "/api/v1/plans/")
        if p["id"] == plan.pk
    ),
    "api villages": lambda client, personas, area, plan: next(
        (v["row_count"], v["done_count"])
        for v in api_rows(client, personas.district_admin, "/api/v1/villages/")
        if v["id"] == area.village_a.pk
    ),
    "dashboard": lambda client, personas, area, plan: (
        get(client, personas.district_admin, "/dashboard/").context["rows"][key] for key in ("total", "done")
    ),
}


@pytest.mark.parametrize("surface", DONE_SURFACES.values(), ids=ids(DONE_SURFACES))
def test_done_is_done_or_accepted_and_withdrawn_rows_count_nowhere(client, personas, area, status_rows, surface):
    total, done = surface(client, personas, area, status_rows)
    assert (total, done) == (4, 2)


def test_the_done_and_live_q_agree_with_their_twins(status_rows):
    for task in Task.objects.all():
        assert Task.objects.filter(done_q(), pk=task.pk).exists() == task.is_done == is_done_status(task.status)
        assert Task.objects.filter(live_q(), pk=task.pk).exists() == (not task.is_removed)
    assert set(Task.objects.live().values_list("item", flat=True)) == set(Task.Status.values)


# ===============================================================================================================
# Rectification overdue (整改逾期): not closed and the deadline before today.
# ===============================================================================================================

RECT_DUE_TODAY, RECT_LATE, RECT_CLOSED = "整改到期当天", "整改过期一天", "已销号的整改"
RECT_OVERDUE_ON = {TODAY: {RECT_LATE}, TODAY + DAY: {RECT_LATE, RECT_DUE_TODAY}}


@pytest.fixture
def rectifications(area, personas):
    """Findings against 茅垭村 whose rectification is due on 2017-09-15, was due the day before, or was due the day
    before and is closed; and a finding with no rectification yet."""
    due_today = factories.finding(area.village_a, description=RECT_DUE_TODAY)
    factories.rectification(due_today, deadline=TODAY, responsible_person="吴玉峰")
    late = factories.finding(area.village_a, description=RECT_LATE)
    factories.rectification(late, deadline=TODAY - DAY, responsible_person="吴玉峰")
    closed = factories.finding(area.village_a, description=RECT_CLOSED)
    factories.rectification(
        closed,
        deadline=TODAY - DAY,
        status=Rectification.Status.CLOSED,
        result="已整改到位",
        answered_by=personas.township_a,
        rechecked_by=personas.supervisor,
        rechecked_at=datetime.datetime(2017, 9, 10, 10, tzinfo=SHANGHAI),
        closed_on=datetime.date(2017, 9, 10),
    )
    factories.finding(area.village_a, description="尚未下达整改")


def findings_of(pks) -> set[str]:
    return set(Finding.objects.filter(pk__in=[int(pk) for pk in pks]).values_list("description", flat=True))


def rect_village_page(client, personas, area, day):
    page = html(_village_page(client, personas, area))
    return findings_of(re.findall(r'<tr data-finding="(\d+)" class="row-overdue">', page))


def rect_finding_list(client, personas, area, day):
    page = html(get(client, personas.supervisor, reverse("supervision:findings")))
    return findings_of(re.findall(r'data-finding-id="(\d+)" class="row-overdue"', page))


def rect_finding_list_filter(client, personas, area, day):
    response = get(client, personas.supervisor, reverse("supervision:findings"), {"overdue": "on"})
    return {finding.description for finding in response.context["page_obj"]}


def rect_finding_pages(client, personas, area, day):
    marked = set()
    for finding in Finding.objects.filter(rectification__isnull=False):
        page = html(get(client, personas.supervisor, reverse("supervision:finding", args=[finding.pk])))
        if 'data-testid="overdue-badge"' in page:
            marked.add(finding.description)
    return marked


def rect_api_field(client, personas, area, day):
    rows = api_rows(client, personas.supervisor, "/api/v1/rectifications/")
    return {r["finding_description"] for r in rows if r["overdue"]}


def rect_api_filter(client, personas, area, day):
    rows = api_rows(client, personas.supervisor, "/api/v1/rectifications/", {"overdue": "true"})
    others = api_rows(client, personas.supervisor, "/api/v1/rectifications/", {"overdue": "false"})
    assert len(rows) + len(others) == Rectification.objects.count()
    return {r["finding_description"] for r in rows}


def rect_api_findings_filter(client, personas, area, day):
    return {r["description"] for r in api_rows(client, personas.supervisor, "/api/v1/findings/", {"overdue": "true"})}


def rect_dashboard(client, personas, area, day):
    response = get(client, personas.district_admin, "/dashboard/")
    shown = number(response, r'data-testid="overdue-rectifications">(\d+)<')
    assert shown == response.context["supervision"]["overdue_rectifications"]
    return shown


def rect_bulletin(client, personas, area, day):
    snapshot = _bulletin(personas, day).snapshot
    overdue = {r["description"] for r in snapshot["rectifications"] if r["overdue"]}
    assert snapshot["totals"]["overdue_rectifications"] == len(overdue)
    assert all(r["days_overdue"] >= 1 for r in snapshot["rectifications"] if r["overdue"])
    return overdue


def rect_daily_command(client, personas, area, day):
    run_daily(day)
    records = OverdueRecord.objects.filter(rectification__isnull=False)
    return set(records.values_list("rectification__finding__description", flat=True))


def rect_digest(client, personas, area, day):
    return notifications.digest_summary(district=area.district, today=day)["overdue_rectifications"]


RECT_SURFACES = {
    "village page: open findings": rect_village_page,
    "finding list": rect_finding_list,
    "finding list: 只看逾期": rect_finding_list_filter,
    "finding page badge": rect_finding_pages,
    "api: rectification overdue field": rect_api_field,
    "api: rectifications ?overdue=": rect_api_filter,
    "api: findings ?overdue=": rect_api_findings_filter,
    "dashboard": rect_dashboard,
    "bulletin": rect_bulletin,
    "daily command: records": rect_daily_command,
    "daily command: digest": rect_digest,
}


@BOUNDARY_DAYS
@pytest.mark.parametrize("surface", RECT_SURFACES.values(), ids=ids(RECT_SURFACES))
def test_a_rectification_is_overdue_from_the_day_after_its_deadline_on_every_surface(
    client, personas, area, rectifications, settings, day, surface
):
    on(settings, day)
    shown = surface(client, personas, area, day)
    expected = RECT_OVERDUE_ON[day]
    assert shown == (expected if isinstance(shown, set) else len(expected))


def test_a_closed_rectification_is_open_nowhere(client, personas, area, rectifications):
    # Open (未销号): a finding whose rectification is not closed, or that has none yet; the closed one is on no list.
    open_findings = {RECT_DUE_TODAY, RECT_LATE, "尚未下达整改"}
    assert {f.description for f in Finding.objects.open()} == open_findings
    assert {r.finding.description for r in Rectification.objects.open()} == {RECT_DUE_TODAY, RECT_LATE}
    page = html(_village_page(client, personas, area))
    assert findings_of(re.findall(r'<tr data-finding="(\d+)"', page)) == open_findings
    response = get(client, personas.district_admin, "/dashboard/")
    assert number(response, r'data-testid="open-findings">(\d+)<') == 3
    snapshot = _bulletin(personas, TODAY).snapshot
    assert {r["description"] for r in snapshot["rectifications"]} == {RECT_DUE_TODAY, RECT_LATE}
    assert snapshot["totals"]["open_rectifications"] == 2


@pytest.mark.parametrize("status", Rectification.Status.values)
def test_the_rectification_overdue_q_and_its_twin_agree_on_the_boundary(area, personas, status):
    closed = status == Rectification.Status.CLOSED
    answered = status in (Rectification.Status.AWAITING_RECHECK, Rectification.Status.CLOSED)
    extra = {"result": "已整改", "answered_by": personas.township_a} if answered else {}
    if closed:
        moment = datetime.datetime.combine(TODAY, datetime.time(10), SHANGHAI)
        extra |= {"rechecked_by": personas.supervisor, "rechecked_at": moment, "closed_on": TODAY}
    for offset in (-1, 0, 1):
        factories.rectification(
            factories.finding(area.village_a), deadline=TODAY + offset * DAY, status=status, **extra
        )
    by_q = set(Rectification.objects.filter(rectification_overdue_q(TODAY)))
    assert by_q == set(Rectification.objects.overdue(TODAY))
    for r in Rectification.objects.all():
        twin = rectification_is_overdue(status=r.status, deadline=r.deadline, today=TODAY)
        assert r.is_overdue(TODAY) == twin == (r in by_q) == (not closed and r.deadline == TODAY - DAY)
    assert set(Finding.objects.open()) == (set() if closed else set(Finding.objects.all()))


# ===============================================================================================================
# Still poor, lifted out of poverty, and the poverty incidence below its threshold (一低).
# ===============================================================================================================


@pytest.mark.parametrize("status", Household.Status.values)
def test_still_poor_households_count_in_the_incidence_on_the_village_page_and_the_dashboard(
    client, personas, area, status
):
    # 3 people of 100 are 3.00 %: not below 3 %. A household no longer poor leaves 0 %: below.
    factories.exit_indicator(2017, "incidence", "贫困发生率低于3%", threshold=Decimal("3"))
    village = factories.poor_village(area.township_a, number=30, name="干沟村", registered_population=100)
    years = {"exit_year": 2016, "relapse_year": 2017} if status == "relapsed" else {"exit_year": 2016}
    fields = years if status in ("exited", "exited_no_policy", "relapsed") else {}
    factories.household(village, members=3, status=status, **fields)
    still_poor = status in ("poor", "planned", "relapsed")  # 未脱贫, 计划脱贫, 返贫
    assert Household.objects.filter(still_poor_q(), village=village).exists() == still_poor
    page = get(client, personas.district_admin, reverse("villages:detail", args=[village.pk])).context["incidence"]
    assert (page["poor_people"], page["below_threshold"]) == (3 if still_poor else 0, not still_poor)
    readiness = get(client, personas.district_admin, "/dashboard/").context["village_readiness"]
    met = next(i["met"] for i in readiness["indicators"] if i["computed"])
    assert met == (0 if still_poor else 1)  # 茅垭村 and 大寺村 have no population: never met


@pytest.mark.parametrize(("people", "population", "below"), [
    (2, 100, True),
    (3, 100, False),  # exactly the threshold is not below it
    (2999, 100000, False),  # 2.999 % is shown as 3.00 % and judged as shown
    (2994, 100000, True),  # 2.994 % is shown as 2.99 %
])  # fmt: skip
def test_the_incidence_is_judged_as_shown_on_the_village_page_and_the_dashboard(
    client, personas, area, people, population, below
):
    factories.exit_indicator(2017, "incidence", "贫困发生率低于3%", threshold=Decimal("3"))
    village = factories.poor_village(area.township_a, number=30, name="干沟村", registered_population=population)
    household = factories.household(village, members=0, status=Household.Status.POOR, planned_exit_year=None)
    Member.objects.bulk_create(
        [
            Member(household=household, name="成员", sex="male", id_number=factories.id_number(), relation="son")
            for _ in range(people)
        ]
    )
    assert incidence_below(people, population, Decimal("3")) is below
    page = get(client, personas.district_admin, reverse("villages:detail", args=[village.pk])).context["incidence"]
    assert (page["rate"], page["below_threshold"]) == (poverty_incidence(people, population), below)
    readiness = get(client, personas.district_admin, "/dashboard/").context["village_readiness"]
    assert next(i["met"] for i in readiness["indicators"] if i["computed"]) == int(below)


def test_people_lifted_count_the_households_exited_in_the_year_of_either_kind(client, personas, area):
    AnnualGoal.objects.create(
        district=area.district, year=2017, name="脱贫人数", target=100, unit="人", metric="people_lifted"
    )
    factories.household(area.village_a, members=2, status="exited", exit_year=2017)
    factories.household(area.village_a, members=3, status="exited_no_policy", exit_year=2017)
    factories.household(area.village_a, members=4, status="exited", exit_year=2016)
    factories.household(area.village_b, members=5, status="relapsed", exit_year=2016, relapse_year=2017)
    goals = get(client, personas.district_admin, "/dashboard/").context["goals"]
    assert next(g["actual"] for g in goals if g["name"] == "脱贫人数") == 5
    assert Member.objects.filter(exited_in_q(2017, "household__"), is_active=True).count() == 5
    assert set(Household.objects.exited_in(2017).values_list("status", flat=True)) == {"exited", "exited_no_policy"}


# ===============================================================================================================
# In post (在任): started on or before the day, not ended before it.
# ===============================================================================================================


@BOUNDARY_DAYS
def test_an_assignment_is_in_post_from_its_first_to_its_last_day_on_every_surface(
    client, personas, area, settings, day
):
    start = datetime.date(2016, 3, 1)
    spans = {
        "ends today": (start, TODAY),
        "ended yesterday": (start, TODAY - DAY),
        "starts today": (TODAY, None),
        "starts tomorrow": (TODAY + DAY, None),
    }
    for person, (start_date, end_date) in spans.items():
        factories.assignment(area.village_a, role="work_team", person=person, start_date=start_date, end_date=end_date)
        factories.helper(area.household_a, name=person, start_date=start_date, end_date=end_date)
    on(settings, day)
    expected = {person for person, (start_date, end_date) in spans.items() if start_date <= day <= (end_date or day)}
    assert len(expected) == 2
    # The model's Q and its twin.
    assert set(AssistanceAssignment.objects.filter(in_post_q(day)).values_list("person", flat=True)) == expected
    assert {a.person for a in AssistanceAssignment.objects.current(day)} == expected
    assert {a.person for a in AssistanceAssignment.objects.all() if in_post(a.start_date, a.end_date, day)} == expected
    # The village page, the API, the household page.
    forces = get(client, personas.district_admin, reverse("villages:detail", args=[area.village_a.pk])).context
    assert {a.person for a in forces["current_forces"] if a.in_force} == expected
    assert {a.person for a in forces["current_forces"] if a.upcoming} == {"starts tomorrow"} - expected
    rows = api_rows(client, personas.district_admin, "/api/v1/assignments/")
    assert {r["person"] for r in rows if r["in_force"]} == expected
    assert {
        r["person"] for r in api_rows(client, personas.district_admin, "/api/v1/assignments/", {"current": "true"})
    } == expected
    household = get(client, personas.district_admin, reverse("households:detail", args=[area.household_a.pk]))
    assert {h.name for h in household.context["helpers"] if h.current} == expected


def test_every_q_factory_takes_a_relation_prefix(area):
    # The same definitions asked from another model: counts over a relation, filters across a foreign key.
    plan = factories.plan(area.village_a)
    factories.task(plan, item="late", deadline=TODAY - DAY)
    factories.task(plan, item="due today", deadline=TODAY)
    factories.done_task(plan, item="done", deadline=TODAY - DAY)
    counted = Plan.objects.annotate(
        overdue=Count("tasks", filter=overdue_q(TODAY, prefix="tasks__")),
        done=Count("tasks", filter=done_q("tasks__")),
    ).get(pk=plan.pk)
    assert (counted.overdue, counted.done) == (1, 1)
    assert Member.objects.filter(still_poor_q("household__"), household=area.household_a).count() == 3
