"""Monthly snapshots (月度快照): exact figures at each level, taken once, corrections with a reason, immutable, taken
by the daily run on the configured day only, the trend read in one query, who may see and take them, and "较上月"
in a bulletin."""

import datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from bazhou.core import access
from bazhou.surfaces import trends
from bazhou.surfaces.dashboard import Scope
from supervision import snapshots
from supervision.bulletin_services import bulletin_generate
from supervision.models import MonthlySnapshot, Rectification, SnapshotImmutable
from tasks.models import Task
from tests import factories
from tests.jobs import run_jobs

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("pinned_today")]

TODAY = datetime.date(2017, 9, 15)
SEPTEMBER = datetime.date(2017, 9, 1)


@pytest.fixture
def district_data(area, personas):
    """A hand-built district on 2017-09-15.

    茅垭村 (白庙乡): a done row (100 万元 planned and invested), an overdue row (due 8-31, 50 planned, 10 invested),
    a row due on 9-20 (within the 7-day window, 20 planned); a 2016 row (not counted in 2017). 大寺村 (寺岭乡): a row in
    progress due 10-31 (30 planned, 5 invested), a withdrawn row (never counted).
    Households: 茅垭村's meets all of 一超六有, 大寺村's has no income. Village exit: one manual indicator, met by
    茅垭村.
    Findings: on the overdue row, its rectification overdue (due 9-1); against 寺岭乡 itself, open; on 大寺村's
    household, closed on 9-5."""
    a, b = area.village_a, area.village_b
    plan_a, plan_b = factories.plan(a), factories.plan(b)
    factories.done_task(plan_a, planned_funds=Decimal("100"), invested_funds=Decimal("100"))
    late = factories.task(plan_a, item="安全饮用水", planned_funds=Decimal("50"), invested_funds=Decimal("10"))
    factories.task(
        plan_a, item="村文化室", deadline=datetime.date(2017, 9, 20), planned_funds=Decimal("20"), status="in_progress"
    )
    factories.task(factories.plan(a, year=2016), item="2016年的任务", deadline=datetime.date(2016, 8, 1))
    factories.task(
        plan_b,
        deadline=datetime.date(2017, 10, 31),
        planned_funds=Decimal("30"),
        invested_funds=Decimal("5"),
        status="in_progress",
    )
    factories.task(plan_b, item="撤销的任务", is_removed=True, removed_reason="重复")
    factories.poverty_line(2017)
    factories.income(area.household_a, 2017, wage=30000)
    indicator = factories.exit_indicator(code="road", name="有硬化路")
    factories.village_indicator(a, indicator, met=True)
    factories.rectification(factories.finding(late), deadline=datetime.date(2017, 9, 1))
    factories.finding(area.township_b)
    closed = factories.finding(area.household_b)
    now = timezone.now()
    factories.rectification(
        closed,
        status=Rectification.Status.CLOSED,
        result="已整改",
        answered_by=personas.township_b,
        answered_at=now,
        rechecked_by=personas.supervisor,
        rechecked_at=now,
        closed_on=datetime.date(2017, 9, 5),
    )
    return area


def by_area(rows):
    return {row.area_key: row.figures for row in rows}


def test_take_freezes_exact_figures_of_the_district_each_township_and_each_village(district_data, personas):
    area = district_data
    rows = snapshots.take(area.district, SEPTEMBER, user=personas.district_admin, kind="on_demand")
    figures = by_area(rows)
    assert set(figures) == {
        "d:511902",
        f"t:{area.township_a.pk}",
        f"t:{area.township_b.pk}",
        f"v:{area.village_a.pk}",
        f"v:{area.village_a2.pk}",
        f"v:{area.village_b.pk}",
    }
    maoya = figures[f"v:{area.village_a.pk}"]
    assert {k: maoya[k] for k in ("rows_total", "rows_done", "rows_in_progress", "rows_overdue", "rows_due_soon")} == {
        "rows_total": 3,
        "rows_done": 1,
        "rows_in_progress": 1,
        "rows_overdue": 1,
        "rows_due_soon": 1,
    }
    assert (maoya["done_percent"], maoya["funds_planned"], maoya["funds_invested"]) == ("33.3", "170.0000", "110.0000")
    assert (maoya["households_targeted"], maoya["households_ready"]) == (1, 1)
    assert (maoya["villages_planned_exit"], maoya["villages_ready"]) == (1, 1)
    assert (maoya["findings_open"], maoya["rectifications_overdue"], maoya["findings_closed_in_month"]) == (1, 1, 0)
    dasi = figures[f"v:{area.village_b.pk}"]
    assert (dasi["rows_total"], dasi["rows_overdue"], dasi["households_ready"], dasi["villages_ready"]) == (1, 0, 0, 0)
    # The closed finding counts in its village; the township's own finding only in the township and the district.
    assert (dasi["findings_open"], dasi["findings_closed_in_month"]) == (0, 1)
    siling = figures[f"t:{area.township_b.pk}"]
    assert (siling["rows_total"], siling["findings_open"], siling["findings_closed_in_month"]) == (1, 1, 1)
    baihua = figures[f"v:{area.village_a2.pk}"]
    assert baihua["rows_total"] == 0 and baihua["done_percent"] is None
    district = figures["d:511902"]
    assert {
        k: district[k]
        for k in (
            "rows_total",
            "rows_done",
            "rows_overdue",
            "funds_planned",
            "funds_invested",
            "done_percent",
            "households_targeted",
            "households_ready",
            "villages_planned_exit",
            "villages_ready",
            "findings_open",
            "findings_closed_in_month",
            "rectifications_overdue",
        )
    } == {
        "rows_total": 4,
        "rows_done": 1,
        "rows_overdue": 1,
        "funds_planned": "200.0000",
        "funds_invested": "115.0000",
        "done_percent": "25.0",
        "households_targeted": 2,
        "households_ready": 1,
        "villages_planned_exit": 2,
        "villages_ready": 1,
        "findings_open": 2,
        "findings_closed_in_month": 1,
        "rectifications_overdue": 1,
    }
    assert district["as_of"] == "2017-09-15" and district["year"] == 2017
    assert all(r.taken_by == personas.district_admin and r.kind == "on_demand" for r in rows)


def test_take_runs_a_fixed_number_of_queries_whatever_the_number_of_areas(
    district_data, personas, django_assert_max_num_queries
):
    # The lock, the check, townships, villages, rows, households (2), exit readiness (≤ 5), findings, the insert
    # (and the savepoints around it).
    with django_assert_max_num_queries(16) as small:
        snapshots.take(district_data.district, SEPTEMBER, kind="scheduled")
    factories.populate(factories.township(number=230, name="光辉乡"), villages=6, households=2)
    with django_assert_max_num_queries(16) as large:
        snapshots.take(district_data.district, datetime.date(2017, 8, 1), kind="scheduled")
    assert len(small.captured_queries) == len(large.captured_queries)


def test_taking_a_month_twice_is_refused_and_changes_nothing(district_data, personas):
    snapshots.take(district_data.district, SEPTEMBER, kind="scheduled")
    with pytest.raises(snapshots.SnapshotRefused, match="已于2017-09-15生成"):
        snapshots.take(district_data.district, SEPTEMBER, user=personas.district_admin, kind="on_demand")
    assert MonthlySnapshot.objects.count() == 6


def test_a_month_still_to_come_is_refused(district_data):
    with pytest.raises(snapshots.SnapshotRefused, match="尚未到来"):
        snapshots.take(district_data.district, datetime.date(2017, 10, 1), kind="scheduled")


def test_a_correction_needs_the_district_office_and_a_reason_and_points_at_the_original(district_data, personas):
    area = district_data
    originals = snapshots.take(area.district, SEPTEMBER, kind="scheduled")
    with pytest.raises(snapshots.SnapshotRefused, match="写明更正原因"):
        snapshots.take(area.district, SEPTEMBER, user=personas.district_admin, kind="on_demand", correct=True)
    with pytest.raises(snapshots.SnapshotRefused, match="区脱贫办"):
        snapshots.take(area.district, SEPTEMBER, user=personas.supervisor, kind="on_demand", correct=True, reason="x")
    assert MonthlySnapshot.objects.count() == 6
    Task.objects.filter(item="安全饮用水").update(status="done", progress=100, completed_on=datetime.date(2017, 9, 10))
    corrections = snapshots.take(
        area.district, SEPTEMBER, user=personas.district_admin, kind="on_demand", correct=True, reason="漏报饮水完工"
    )
    old = {r.area_key: r for r in originals}
    for row in corrections:
        assert row.corrects_id == old[row.area_key].pk and row.correction_reason == "漏报饮水完工"
    # The original stays as it was; the correction counts, shown as such.
    assert by_area(originals)["d:511902"]["rows_overdue"] == 1
    months = snapshots.effective_by_month(MonthlySnapshot.objects.filter(area_key="d:511902").order_by("month", "pk"))
    entry = months[SEPTEMBER]
    assert entry["corrected"] and entry["reason"] == "漏报饮水完工" and entry["figures"]["rows_overdue"] == 0
    # A second correction chains on the first.
    again = snapshots.take(
        area.district, SEPTEMBER, user=personas.district_admin, kind="on_demand", correct=True, reason="再核"
    )
    assert by_area(again) and all(r.corrects.corrects_id is not None for r in again)


def test_correcting_a_month_without_a_snapshot_is_refused(district_data, personas):
    with pytest.raises(snapshots.SnapshotRefused, match="无可更正"):
        snapshots.take(
            district_data.district, SEPTEMBER, user=personas.district_admin, kind="on_demand", correct=True, reason="x"
        )


def test_a_snapshot_cannot_be_changed_or_deleted(district_data):
    row = snapshots.take(district_data.district, SEPTEMBER, kind="scheduled")[0]
    row = MonthlySnapshot.objects.get(pk=row.pk)
    row.figures = {"rows_total": 999}
    with pytest.raises(SnapshotImmutable, match="不可修改或删除"):
        row.save()
    with pytest.raises(SnapshotImmutable):
        row.delete()
    with pytest.raises(SnapshotImmutable):
        MonthlySnapshot.objects.filter(pk=row.pk).update(kind="on_demand")
    with pytest.raises(SnapshotImmutable):
        MonthlySnapshot.objects.filter(pk=row.pk).delete()
    assert MonthlySnapshot.objects.get(pk=row.pk).figures["rows_total"] == 4


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger is PostgreSQL's; SQLite relies on the model")
def test_on_postgresql_the_database_refuses_a_raw_update_and_delete(district_data):
    from django.db import DatabaseError

    row = snapshots.take(district_data.district, SEPTEMBER, kind="scheduled")[0]
    for sql in (
        "UPDATE supervision_monthlysnapshot SET kind = 'on_demand' WHERE id = %s",
        "DELETE FROM supervision_monthlysnapshot WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="月度快照不可修改或删除"),
            transaction.atomic(),
            connection.cursor() as c,
        ):
            c.execute(sql, [row.pk])
    assert MonthlySnapshot.objects.get(pk=row.pk).kind == "scheduled"


def test_later_edits_to_the_rows_do_not_change_an_existing_snapshot(district_data):
    snapshots.take(district_data.district, SEPTEMBER, kind="scheduled")
    Task.objects.filter(item="安全饮用水").update(status="done", progress=100, completed_on=datetime.date(2017, 9, 14))
    factories.task(factories.plan(district_data.village_a), item="新增任务")
    stored = MonthlySnapshot.objects.get(area_key="d:511902", month=SEPTEMBER).figures
    assert (stored["rows_total"], stored["rows_overdue"], stored["rows_done"]) == (4, 1, 1)


# The daily run takes it on the configured day, once.


def test_supervision_daily_takes_the_snapshot_only_on_the_configured_day_and_once(district_data, settings):
    settings.BAZHOU_SNAPSHOT_DAY = 16
    call_command("supervision_daily", "--date", "2017-09-15", stdout=StringIO())
    assert not MonthlySnapshot.objects.exists()
    settings.BAZHOU_SNAPSHOT_DAY = 15
    out = StringIO()
    call_command("supervision_daily", "--date", "2017-09-15", stdout=out)
    assert "已生成2017年9月的月度快照（6 个区域）" in out.getvalue()
    call_command("supervision_daily", "--date", "2017-09-15", stdout=StringIO())
    assert MonthlySnapshot.objects.count() == 6
    assert set(MonthlySnapshot.objects.values_list("kind", flat=True)) == {"scheduled"}


@pytest.mark.parametrize("day", [0, 29, "25"])
def test_a_snapshot_day_outside_1_to_28_stops_the_daily_run_before_anything(district_data, settings, day):
    settings.BAZHOU_SNAPSHOT_DAY = day
    with pytest.raises(CommandError, match="BAZHOU_SNAPSHOT_DAY"):
        call_command("supervision_daily", "--date", "2017-09-15", stdout=StringIO())


def test_take_snapshot_command_takes_refuses_and_corrects(district_data, personas):
    call_command("take_snapshot", "--month", "2017-08", stdout=StringIO())
    assert MonthlySnapshot.objects.filter(month=datetime.date(2017, 8, 1)).count() == 6
    with pytest.raises(CommandError, match="已于"):
        call_command("take_snapshot", "--month", "2017-08", stdout=StringIO())
    with pytest.raises(CommandError, match="YYYY-MM"):
        call_command("take_snapshot", "--month", "2017-13", stdout=StringIO())
    with pytest.raises(CommandError, match="更正原因"):
        call_command("take_snapshot", "--month", "2017-08", "--correct", "--user", "admin", stdout=StringIO())
    call_command(
        "take_snapshot", "--month", "2017-08", "--correct", "--reason", "补录", "--user", "admin", stdout=StringIO()
    )
    assert MonthlySnapshot.objects.filter(month=datetime.date(2017, 8, 1), corrects__isnull=False).count() == 6


# The trend: the latest 12 months of the area, one query.


def backfill(area, months: int, end=SEPTEMBER):
    """``months`` months of snapshots up to ``end``, the overdue count growing by one a month."""
    for i in range(months):
        month = snapshots.months_back(end, months - 1 - i)

        def figures(district, m, i=i):
            return [
                {
                    "township": None,
                    "village": None,
                    "figures": {
                        "as_of": m.replace(day=25).isoformat(),
                        "rows_total": 10,
                        "rows_done": i,
                        "rows_overdue": i,
                        "done_percent": str(Decimal(i * 10)),
                        "funds_invested": f"{i}.0000",
                    },
                },
                {
                    "township": area.township_a,
                    "village": None,
                    "figures": {"as_of": m.replace(day=25).isoformat(), "rows_overdue": i},
                },
            ]

        snapshots.take(area.district, month, kind="backfill", figures_of=figures)


def test_trend_reads_the_latest_12_months_of_the_area(area, personas):
    backfill(area, 14)
    result = trends.trend(Scope(district=area.district), TODAY)
    assert [p["label"] for p in result["points"]][:2] == ["2016年10月", "2016年11月"]
    assert len(result["points"]) == 12 and result["points"][-1]["month"] == "2017-09"
    assert result["chart"]["overdue"] == list(range(2, 14))
    assert result["change"]["rows_overdue"] == 1
    township = trends.trend(Scope(district=area.district, township=area.township_a), TODAY)
    assert township["chart"]["overdue"] == list(range(2, 14))
    assert (
        trends.trend(Scope(district=area.district, village=area.village_b, township=area.township_b), TODAY)["points"]
        == []
    )


def test_trend_shows_a_correction_in_place_of_its_original(area, personas):
    backfill(area, 3)
    snapshots.take(
        area.district,
        SEPTEMBER,
        user=personas.district_admin,
        kind="on_demand",
        correct=True,
        reason="乡镇补报",
        figures_of=lambda d, m: [
            {"township": None, "village": None, "figures": {"as_of": "2017-09-15", "rows_overdue": 7}}
        ],
    )
    result = trends.trend(Scope(district=area.district), TODAY)
    last = result["points"][-1]
    assert last["corrected"] and last["reason"] == "乡镇补报" and result["chart"]["overdue"][-1] == 7
    assert result["chart"]["corrected"] == [False, False, True]


@pytest.mark.parametrize("months", [3, 12])
def test_trend_is_one_query_at_3_and_12_months(area, personas, django_assert_num_queries, months):
    backfill(area, months)
    with django_assert_num_queries(1):
        result = trends.trend(Scope(district=area.district), TODAY)
    assert len(result["points"]) == months


def test_the_trend_adds_one_query_to_the_dashboard_and_draws_from_the_snapshots(client, area, personas):
    backfill(area, 12)
    client.force_login(personas.leader)
    page = client.get(reverse("dashboard"))
    assert page.status_code == 200
    assert page.context["trend"]["chart"]["overdue"] == list(range(12))
    body = page.content.decode()
    assert 'id="dashboard-trend"' in body and 'data-chart="trend"' in body and "较上月" in body


# Who may see and take them.


def test_only_the_district_office_may_take_snapshots(personas):
    allowed = {
        name
        for name in ("district_admin", "township_a", "supervisor", "leader", "village_cadre")
        if access.may_take_snapshots(getattr(personas, name))
    }
    assert allowed == {"district_admin"}


def test_the_snapshots_page_lists_the_users_area_and_offers_the_form_to_the_district_office(client, area, personas):
    backfill(area, 2)
    client.force_login(personas.township_a)
    page = client.get(reverse("supervision:snapshots"))
    assert page.status_code == 200
    body = page.content.decode()
    assert "白庙乡" in body and 'data-testid="snapshot-row"' in body and "snapshot-take" not in body
    client.force_login(personas.district_admin)
    assert 'data-testid="snapshot-take"' in client.get(reverse("supervision:snapshots")).content.decode()


def test_a_charge_leader_sees_no_trend_of_the_charge_and_the_snapshots_of_its_places_only(client, area, personas):
    snapshots.take(area.district, SEPTEMBER, kind="scheduled")
    leader = factories.patch_leader_user(charge_townships=[area.township_a], district_obj=area.district)
    client.force_login(leader)
    page = client.get(reverse("dashboard"))
    assert page.context["trend"]["charge"] and 'data-testid="trend-none"' in page.content.decode()
    listed = client.get(reverse("supervision:snapshots")).context["rows"]
    assert {r.area_key for r in listed} == {
        f"t:{area.township_a.pk}",
        f"v:{area.village_a.pk}",
        f"v:{area.village_a2.pk}",
    }
    township = client.get(reverse("dashboard"), {"township": area.township_a.pk})
    assert len(township.context["trend"]["points"]) == 1


def test_a_department_user_has_no_snapshots_page(client, area):
    client.force_login(factories.department_user())
    assert client.get(reverse("supervision:snapshots")).status_code == 403


def test_taking_from_the_page_starts_a_job_for_the_district_office_only(client, area, personas):
    client.force_login(personas.supervisor)
    answer = client.post(reverse("supervision:snapshot_take"), {"month": "2017-09"})
    assert answer.status_code == 403
    client.force_login(personas.district_admin)
    answer = client.post(reverse("supervision:snapshot_take"), {"month": "2017-09"})
    assert answer.status_code == 302 and "/jobs/" in answer["Location"]
    run_jobs()
    rows = MonthlySnapshot.objects.filter(month=SEPTEMBER)
    assert rows.count() == 6 and {(r.kind, r.taken_by_id) for r in rows} == {("on_demand", personas.district_admin.pk)}
    # A second ask of the same month is refused on the page, before any job.
    again = client.post(reverse("supervision:snapshot_take"), {"month": "2017-09"})
    assert again.status_code == 200 and "2017年9月已有月度快照，不再重新计算" in again.content.decode()
    answer = client.post(reverse("supervision:snapshot_take"), {"month": "2017-09", "correct": "on", "reason": "补报"})
    assert answer.status_code == 302
    run_jobs()
    assert MonthlySnapshot.objects.filter(month=SEPTEMBER, correction_reason="补报").count() == 6


def test_a_bad_month_on_the_page_is_a_clear_message_and_starts_nothing(client, area, personas):
    from bazhou.core.models import Job

    client.force_login(personas.district_admin)
    for month in ("2017-13", "abc", "2017-10"):
        answer = client.post(reverse("supervision:snapshot_take"), {"month": month})
        assert answer.status_code == 200 and "月份" in answer.content.decode()
    answer = client.post(reverse("supervision:snapshot_take"), {"month": "2017-09", "correct": "on"})
    assert answer.status_code == 200 and "更正原因" in answer.content.decode()
    assert not Job.objects.exists()


# Bulletins cite them.


def test_a_bulletin_cites_the_latest_two_snapshots_before_its_period_end(area, personas):
    backfill(area, 3)
    bulletin = bulletin_generate(
        user=personas.supervisor,
        period_start=datetime.date(2017, 9, 1),
        period_end=datetime.date(2017, 9, 14),
        issuer="poverty_office",
        today=TODAY,
    )
    cited = bulletin.snapshot["month_on_month"]
    # The September snapshot (as of 9-25) is after the period's end: August against July.
    assert (cited["current"]["month"], cited["previous"]["month"]) == ("2017-08", "2017-07")
    assert (cited["current"]["rows_overdue"], cited["change"]["rows_overdue"]) == (1, 1)
    assert cited["change"]["done_percent"] == "10"


def test_the_bulletin_page_prints_the_month_on_month_line(client, area, personas):
    backfill(area, 3)
    bulletin = bulletin_generate(
        user=personas.supervisor,
        period_start=datetime.date(2017, 9, 1),
        period_end=datetime.date(2017, 9, 14),
        issuer="poverty_office",
        today=TODAY,
    )
    client.force_login(personas.supervisor)
    for name in ("supervision:bulletin", "supervision:bulletin_print"):
        body = client.get(reverse(name, args=[bulletin.pk])).content.decode()
        assert "较上月（2017年7月），完成率提高 10 个百分点，逾期任务增加 1 项" in body


# The demo's backfill.


def test_the_demo_backfills_12_months_as_of_each_snapshot_day_and_corrects_august(district_data, personas):
    from collections import Counter

    from bazhou.surfaces.demo.snapshots import CORRECTION_REASON, build_snapshots

    class Builder:
        district, today, admin, counts = district_data.district, TODAY, personas.district_admin, Counter()

        @staticmethod
        def log(message):
            pass

    build_snapshots(Builder)
    result = trends.trend(Scope(district=district_data.district), TODAY)
    assert [p["month"] for p in result["points"]][0] == "2016-10" and len(result["points"]) == 12
    august = result["points"][-2]
    assert august["corrected"] and august["reason"] == CORRECTION_REASON
    by_month = {p["month"]: p["figures"] for p in result["points"]}
    # As of 2017-07-25 nothing was due yet; on 08-25 the done row (completed 08-20) is done; on 09-15 (today, before
    # the 25th) the row due 08-31 is overdue and the row due 09-20 is due soon.
    assert (by_month["2017-07"]["rows_done"], by_month["2017-07"]["rows_overdue"]) == (0, 0)
    assert by_month["2017-07"]["as_of"] == "2017-07-25"
    assert (by_month["2017-09"]["rows_done"], by_month["2017-09"]["rows_overdue"]) == (1, 1)
    assert by_month["2017-09"]["as_of"] == "2017-09-15" and by_month["2017-09"]["rows_due_soon"] == 1
    assert by_month["2016-10"]["year"] == 2016 and by_month["2016-10"]["rows_total"] == 1
    assert Builder.counts["supervision.MonthlySnapshot"] == 13 * 6
    assert set(MonthlySnapshot.objects.exclude(corrects__isnull=False).values_list("kind", flat=True)) == {"backfill"}
