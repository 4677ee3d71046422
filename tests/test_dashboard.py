"""The dashboard: every figure against a small district worked out by hand, scoping, and query counts.

The district (today 2017-09-15, plan year 2017):

- 白庙乡: 茅垭村 (poor, to exit 2017, population 100) and 百花村 (not poor);
  寺岭乡: 大寺村 (poor, to exit 2017, population 500) and 九重村 (poor, to exit 2017, exited 2017, population 200).
- Households targeted for 2017: hA1 (3 people, income 12,000, all seven met); hA2 (2 people, no income, one
  uninsured, C-grade house); hA3 (exited 2017, 4 people incl. a 9-year-old out of school, income 20,000, unsafe
  water); hB1 (3 people, income 6,000 = 2,000 a head, no radio/TV). hB2 (poor, target 2018, 2 people) is not.
- 2017 rows: see ``district`` below; a withdrawn row and a 2016 row never count.
"""

import datetime
import pickle
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from bazhou.core import idnumbers
from bazhou.core.models import AnnualGoal, Role
from bazhou.surfaces import dashboard as figures
from households.models import Household, Member, PovertyLine
from households.readiness import readiness_summary
from supervision.models import Bulletin, Finding, Rectification
from tasks.models import Task
from tasks.services import task_complete
from tests import factories
from villages.models import Village

pytestmark = pytest.mark.usefixtures("pinned_today")

TODAY = datetime.date(2017, 9, 15)
D = Decimal


def _task(plan, household=None, **fields):
    return factories.task(plan, household, **fields)


@pytest.fixture
def district(db):
    class K:
        district = factories.district()
        a = factories.township(number=204, name="白庙乡")
        b = factories.township(number=212, name="寺岭乡")
        va1 = factories.poor_village(a, number=7, name="茅垭村", registered_population=100)
        va2 = factories.village(a, number=8, name="百花村")
        vb1 = factories.poor_village(b, number=1, name="大寺村", registered_population=500)
        vb0 = factories.village(
            b, number=2, name="九重村", registered_population=200, is_poor=True, status=Village.Status.EXITED,
            identified_year=2014, planned_exit_year=2017, exit_year=2017,
        )  # fmt: skip

    k = K
    factories.poverty_line(2017, "3100")
    # Households.
    k.ha1 = factories.household(k.va1, members=3)
    factories.income(k.ha1, wage=12000)
    k.ha2 = factories.household(k.va1, members=1, housing_grade="C")
    factories.member(k.ha2, medical_insurance=False)
    k.ha3 = factories.household(k.va1, members=3, status=Household.Status.EXITED, exit_year=2017, safe_water=False)
    factories.member(
        k.ha3, id_number=factories.id_number(born=datetime.date(2008, 1, 1)), school=Member.School.NOT_IN_SCHOOL
    )
    factories.income(k.ha3, wage=20000)
    k.hb1 = factories.household(k.vb1, members=3, radio_tv=False)
    factories.income(k.hb1, wage=6000)
    k.hb2 = factories.household(k.vb1, members=2, status=Household.Status.POOR, planned_exit_year=2018)
    # Exit indicators: incidence (computed), road and clinic (assessed).
    incidence = factories.exit_indicator(2017, "incidence", "贫困发生率低于3%", threshold=D("3"), order=1)
    road = factories.exit_indicator(2017, "road", "有硬化路", order=2)
    clinic = factories.exit_indicator(2017, "clinic", "有卫生室", order=3)
    factories.village_indicator(k.va1, incidence, met=True)  # typed in, but the registry says 5 %: not met
    factories.village_indicator(k.va1, road, met=True)
    factories.village_indicator(k.va1, clinic, met=False)
    factories.village_indicator(k.vb1, road, met=True)
    factories.village_indicator(k.vb1, clinic, met=True)
    factories.village_indicator(k.vb0, road, met=True)
    # Plan rows of 2017.
    pa = factories.plan(k.va1, 2017)
    k.t1 = factories.done_task(pa, deadline=datetime.date(2017, 8, 31), planned_funds=D(100), invested_funds=D(100))
    factories.fund_line(k.t1, "central", D(60))
    factories.fund_line(k.t1, "district", D(40))
    k.t2 = _task(
        pa, category="industry", item="道地巴药产业", quantity=D(900), unit="亩", deadline=datetime.date(2017, 9, 30),
        status="in_progress", progress=50, planned_funds=D(170), invested_funds=D(85),
    )  # fmt: skip
    factories.fund_line(k.t2, "province", D(170))
    k.t3 = _task(pa, category="culture_room", item="村文化室", quantity=D(1), unit="处", planned_funds=D(10))
    k.t4 = factories.done_task(
        pa, quantity=D(2), deadline=datetime.date(2017, 9, 1), completed_on=datetime.date(2017, 9, 10),
        planned_funds=D(50), invested_funds=D(40),
    )  # fmt: skip
    factories.fund_line(k.t4, "central", D(50))
    _task(pa, deadline=datetime.date(2017, 7, 1), planned_funds=D(1000), is_removed=True, removed_reason="重复")
    factories.done_task(
        pa, k.ha1, category="industry", item="养殖", quantity=D(2), unit="亩", deadline=datetime.date(2017, 7, 31),
        completed_on=datetime.date(2017, 7, 15), planned_funds=D(5), invested_funds=D(5),
    )  # fmt: skip
    pb = factories.plan(k.vb1, 2017)
    k.t7 = _task(
        pb, category="water", item="安全饮用水", quantity=None, unit="", deadline=datetime.date(2017, 6, 30),
        status="in_progress", progress=20, planned_funds=D(30), invested_funds=D(6),
    )  # fmt: skip
    factories.fund_line(k.t7, "social", D(30))
    k.t8 = _task(pb, quantity=D(4), deadline=datetime.date(2017, 12, 31), planned_funds=D(200))
    factories.fund_line(k.t8, "central", D(100))
    factories.done_task(factories.plan(k.vb1, 2016), quantity=D(5), completed_on=datetime.date(2016, 8, 1))
    # Goals.
    goal = AnnualGoal.objects.create
    goal(district=k.district, year=2017, name="贫困村退出", target=68, unit="个", metric="villages_exited", order=1)
    goal(district=k.district, year=2017, name="脱贫人数", target=33479, unit="人", metric="people_lifted", order=2)
    goal(
        district=k.district, year=2017, name="农村公路", target=230, unit="公里", metric="task_quantity",
        task_category="road", order=3,
    )  # fmt: skip
    goal(
        district=k.district, year=2017, name="特色产业", target=50000, unit="亩", metric="task_quantity",
        task_category="industry", order=4,
    )  # fmt: skip
    k.manual = goal(
        district=k.district, year=2017, name="新型经营主体", target=50, unit="个", manual_actual=12, order=5
    )
    goal(district=k.district, year=2016, name="旧目标", target=1, unit="个", manual_actual=1)
    # Supervision: f1 (task of 白庙乡, overdue rectification), f2 (大寺村, due later), f3 (白庙乡, none yet),
    # f4 (closed); bulletins: 第3期 published, 第4期 a draft.
    k.admin = factories.user(Role.DISTRICT_ADMIN, k.district, username="admin")
    checker = factories.user(Role.SUPERVISOR, k.district, username="ducha")
    factories.rectification(factories.finding(k.t3), deadline=datetime.date(2017, 9, 1))
    factories.rectification(factories.finding(k.vb1), deadline=datetime.date(2017, 11, 1))
    factories.finding(k.a)
    now = timezone.now()
    factories.rectification(
        factories.finding(k.va1), deadline=datetime.date(2017, 8, 1), status=Rectification.Status.CLOSED,
        result="已整改", answered_by=k.admin, answered_at=now, rechecked_by=checker, rechecked_at=now,
        closed_on=datetime.date(2017, 8, 20),
    )  # fmt: skip
    period = {"period_start": datetime.date(2017, 8, 1), "period_end": datetime.date(2017, 8, 31)}
    k.bulletin = Bulletin.objects.create(
        district=k.district, year=2017, number=3, title="8月脱贫攻坚督查通报", issued_on=datetime.date(2017, 9, 1),
        state="published", published_at=now, **period,
    )  # fmt: skip
    Bulletin.objects.create(
        district=k.district, year=2017, number=4, title="草稿", issued_on=datetime.date(2017, 9, 10), **period
    )
    k.staff_a = factories.user(Role.TOWNSHIP_STAFF, k.a, username="baimiao")
    k.cadre = factories.user(Role.VILLAGE_CADRE, k.va1, username="maoya")
    return k


def get(client, user, url="/dashboard/"):
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200
    return response


def text_of(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def goal_figures(context):
    return {g["name"]: (g["actual"], g["percent"]) for g in context["goals"]}


def test_the_district_goals_count_exited_villages_people_done_quantities_and_manual_figures(client, district):
    response = get(client, district.admin)
    assert goal_figures(response.context) == {
        "贫困村退出": (D(1), D("1.5")),
        "脱贫人数": (D(4), D("0.0")),
        "农村公路": (D(5), D("2.2")),  # 3 + 2 km of done road rows; not the withdrawn nor the 2016 one
        "特色产业": (D(2), D("0.0")),  # the household's 2 mu; the 900 mu are in progress
        "新型经营主体": (D(12), D("24.0")),
    }
    text = text_of(response)
    assert "贫困村退出 1 / 68 个（ 1.5 %）" in text
    assert "农村公路 5 / 230 公里（ 2.2 %）" in text
    assert "新型经营主体 12 / 50 个（ 24.0 %）" in text
    assert "旧目标" not in text
    assert 'class="progress-bar bar-24"' in response.content.decode()


def test_the_plan_rows_are_counted_by_status_deadline_and_due_date(client, district):
    response = get(client, district.admin)
    rows = response.context["rows"]
    assert rows == {
        "total": 7,
        "done": 3,
        "in_progress": 2,
        "overdue": 2,
        "baseline_overdue": 0,  # draft plans have no baseline (tests/test_baseline.py counts it)
        "due_soon": 0,  # t2 is due 2017-09-30, 15 days ahead: outside the default 7-day window
        "done_percent": D("42.9"),
        "due_soon_days": 7,
    }
    html = response.content.decode()
    for testid, value in [("rows-total", 7), ("rows-done", 3), ("rows-in-progress", 2), ("rows-overdue", 2)]:
        assert f'data-testid="{testid}">{value}<' in html
    assert 'data-testid="rows-due-soon">0<' in html
    assert "7天内到期" in html


@pytest.mark.parametrize(("days", "due"), [(14, 0), (15, 1)])
def test_due_soon_is_the_one_window_of_the_setting_both_ends_included(client, district, settings, days, due):
    """t2 is due on 2017-09-30, 15 days after today: inside a 15-day window, outside a 14-day one; the figure, its
    label and the list it links to follow the setting (the stored figures of another window are not reused)."""
    get(client, district.admin)  # figures stored with the default window
    settings.BAZHOU_DUE_SOON_DAYS = days
    response = get(client, district.admin)
    assert response.context["rows"]["due_soon"] == due
    assert f"{days}天内到期" in response.content.decode()
    listed = get(client, district.admin, response.context["links"]["rows_due_soon"])
    assert listed.context["page_obj"].paginator.count == due


def test_the_funds_are_summed_by_category_and_by_source(client, district):
    response = get(client, district.admin)
    funds = response.context["funds"]
    assert [(r["key"], r["planned"], r["invested"]) for r in funds["by_category"]] == [
        ("road", D(350), D(140)),
        ("industry", D(175), D(90)),
        ("water", D(30), D(6)),
        ("culture_room", D(10), D(0)),
    ]
    # Invested by source: each line's share of its row's invested funds, in proportion to its planned amount.
    assert [(r["key"], r["planned"], r["invested"]) for r in funds["by_source"]] == [
        ("central", D(210), D(100)),
        ("province", D(170), D(85)),
        ("district", D(40), D(40)),
        ("social", D(30), D(6)),
    ]
    assert (funds["planned"], funds["invested"], funds["invested_percent"]) == (D(565), D(236), D("41.8"))
    text = text_of(response)
    # Money in the site's format (the wan filter): two decimals, thousands separators.
    assert "计划 565.00 万元，已投入 236.00 万元（ 41.8 %）" in text
    assert "中央财政专项扶贫资金 210.00 100.00" in text
    assert "道路 350.00 140.00" in text


def test_the_townships_are_ranked_and_link_to_their_dashboards(client, district):
    response = get(client, district.admin)
    ranking = response.context["township_ranking"]
    assert [
        (r["rank"], r["area"].name, r["total"], r["completion"], r["overdue"], r["invested_percent"]) for r in ranking
    ] == [(1, "白庙乡", 5, D("60.0"), 1, D("68.7")), (2, "寺岭乡", 2, D("0.0"), 1, D("2.6"))]
    html = response.content.decode()
    assert f'<a href="?township={district.a.pk}">白庙乡</a>' in html
    assert "白庙乡 5 3 60.0% 1 335.00 230.00 68.7%" in text_of(response)
    assert response.context["village_table"] == []


def test_a_township_dashboard_lists_its_villages_with_links(client, district):
    response = get(client, district.admin, f"/dashboard/?township={district.a.pk}")
    table = response.context["village_table"]
    assert [(r["area"].name, r["total"], r["done"], r["completion"]) for r in table] == [
        ("茅垭村", 5, 3, D("60.0")),
        ("百花村", 0, 0, None),
    ]
    assert f'<a href="?village={district.va1.pk}">茅垭村</a>' in response.content.decode()
    assert response.context["township_ranking"] == []


def test_village_exit_readiness_counts_assessments_and_computes_the_incidence(client, district):
    response = get(client, district.admin)
    readiness = response.context["village_readiness"]
    assert readiness["total"] == 3  # 茅垭村, 大寺村, and 九重村 (exited already)
    # Incidence: 茅垭村 5/100 = 5 % (not met, whatever was typed in), 大寺村 5/500 = 1 %, 九重村 0/200.
    assert [(r["name"], r["met"], r["not_met"]) for r in readiness["indicators"]] == [
        ("贫困发生率低于3%", 2, 1),
        ("有硬化路", 3, 0),
        ("有卫生室", 1, 2),
    ]
    assert "计划2017年退出的贫困村 3 个" in text_of(response)


def test_household_readiness_counts_each_criterion_and_names_the_most_failed(client, district):
    response = get(client, district.admin)
    readiness = response.context["household_readiness"]
    assert readiness["total"] == 4 and readiness["all_met"] == 1
    assert {r["code"]: r["met"] for r in readiness["criteria"]} == {
        "income": 2,
        "education": 3,
        "medical": 3,
        "housing": 3,
        "water": 3,
        "power": 4,
        "radio_tv": 3,
    }
    assert readiness["most_failed"]["code"] == "income"
    assert "计划2017年脱贫 4 户，七项全部达标 1 户；未达标最多的是 人均纯收入超过扶贫标准 （2 户）" in text_of(response)


def test_household_readiness_in_sql_agrees_with_the_registry_rules(district):
    scope = figures.Scope(district=district.district)
    summary = readiness_summary(Household.objects.filter(planned_exit_year=2017), 2017)
    sql = figures.household_readiness(scope, 2017)
    assert {r["code"]: r["met"] for r in sql["criteria"]} == summary.counts
    assert (sql["total"], sql["all_met"]) == (summary.total, summary.all_met)


@pytest.mark.parametrize(
    ("born", "out_of_school"),
    [
        (datetime.date(2001, 8, 31), False),  # 16 on 2017-08-31
        (datetime.date(2001, 9, 1), True),  # 15
        (datetime.date(2011, 8, 31), True),  # 6
        (datetime.date(2011, 9, 1), False),  # 5
    ],
)
def test_the_school_age_bounds_agree_with_the_registry_rules(district, born, out_of_school):
    factories.member(district.ha1, id_number=idnumbers.build("511902", born, 991), school=Member.School.NOT_IN_SCHOOL)
    scope = figures.Scope(district=district.district)
    education = {r["code"]: r["met"] for r in figures.household_readiness(scope, 2017)["criteria"]}["education"]
    assert education == (2 if out_of_school else 3)
    assert readiness_summary(Household.objects.filter(planned_exit_year=2017), 2017).counts["education"] == education


def test_without_a_poverty_line_nobody_passes_the_income_test_and_the_rest_still_count(district):
    PovertyLine.objects.all().delete()
    readiness = figures.household_readiness(figures.Scope(district=district.district), 2017)
    assert readiness["total"] == 4 and readiness["all_met"] == 0
    assert {r["code"]: r["met"] for r in readiness["criteria"]}["income"] == 0
    assert {r["code"]: r["met"] for r in readiness["criteria"]}["power"] == 4


def test_supervision_counts_open_findings_overdue_rectifications_and_links_the_latest_bulletin(client, district):
    response = get(client, district.admin)
    block = response.context["supervision"]
    assert (block["open_findings"], block["overdue_rectifications"]) == (3, 1)
    assert block["latest_bulletin"] == district.bulletin
    html = response.content.decode()
    assert reverse("supervision:bulletin", args=[district.bulletin.pk]) in html
    assert "未销号问题 3 个，逾期整改 1 个" in text_of(response)
    assert "草稿" not in text_of(response)


def test_overdue_rows_are_counted_at_the_end_of_each_of_the_last_12_weeks(client, district):
    response = get(client, district.admin)
    weeks = response.context["overdue_weeks"]
    assert [w["date"] for w in weeks][0] == datetime.date(2017, 6, 30)
    assert [w["date"] for w in weeks][-1] == TODAY
    # 大寺村's water (due 6-30) from 7-07 on; the cultural room (due 8-31) from 9-01; the road due 9-01 and
    # done 9-10 only on 9-08.
    assert [w["overdue"] for w in weeks] == [0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 3, 2]


def test_the_charts_get_their_data_through_json_script(client, district):
    response = get(client, district.admin)
    html = response.content.decode()
    assert '<script id="dashboard-charts" type="application/json">' in html
    charts = response.context["charts"]
    # Best first (the chart draws horizontal bars from the top), with what the tooltip tells.
    assert charts["completion"] == {
        "labels": ["白庙乡", "寺岭乡"],
        "values": [60.0, 0.0],
        "done": [3, 0],
        "total": [5, 2],
    }
    assert charts["funds"]["labels"] == ["道路", "产业发展", "饮水", "文化室"]
    assert charts["overdue"]["values"][-3:] == [2, 3, 2]
    assert 'data-chart="completion"' in html and "js/dashboard.js" in html and "echarts-6.1.0" in html
    assert not re.search(r"<script>(?!\s*$)", html)  # no inline script


def test_township_staff_see_only_their_townships_figures(client, district):
    response = get(client, district.staff_a)
    context = response.context
    assert context["scope"].township == district.a
    assert context["rows"]["total"] == 5 and context["rows"]["overdue"] == 1
    assert goal_figures(context)["贫困村退出"] == (D(0), D("0.0"))
    assert context["supervision"]["open_findings"] == 2
    assert context["household_readiness"]["total"] == 3
    assert context["village_readiness"]["total"] == 1
    assert "寺岭乡" not in response.content.decode()


@pytest.mark.parametrize(
    "url",
    [
        "/dashboard/?township=511902212",
        "/dashboard/?village={vb1}",
        "/dashboard/?village=x",
        "/dashboard/?village=²",
        "/dashboard/?village=99999999999999999999999",
        "/dashboard/?township=999",
    ],
)
def test_a_drill_down_outside_the_users_area_is_a_404(client, district, url):
    client.force_login(district.staff_a)
    assert client.get(url.format(vb1=district.vb1.pk)).status_code == 404


def test_a_village_cadre_sees_their_village_and_not_the_township(client, district):
    response = get(client, district.cadre)
    assert response.context["scope"].village == district.va1
    assert response.context["rows"]["total"] == 5
    assert client.get(f"/dashboard/?township={district.a.pk}").status_code == 404


def test_a_district_admin_drills_down_to_a_village(client, district):
    response = get(client, district.admin, f"/dashboard/?village={district.vb1.pk}")
    assert response.context["rows"]["total"] == 2
    assert response.context["up_url"] == f"?township={district.b.pk}"


def test_the_print_view_has_no_navigation(client, district):
    printed = reverse("dashboard_print")
    for url in ["/dashboard/?print=1", printed, printed + f"?township={district.a.pk}"]:
        response = get(client, district.admin, url)
        html = response.content.decode()
        assert "site-nav" not in html and "/logout/" not in html
        assert "2017年脱贫攻坚驾驶舱" in html
    assert "site-nav" in get(client, district.admin).content.decode()


def test_an_edit_shows_on_the_next_page_load(client, district):
    assert get(client, district.admin).context["rows"]["done"] == 3
    Task.objects.filter(pk=district.t3.pk).update(status="done", progress=100, completed_on=TODAY)
    AnnualGoal.objects.filter(pk=district.manual.pk).update(manual_actual=20)
    context = get(client, district.admin).context
    assert context["rows"]["done"] == 4
    assert goal_figures(context)["新型经营主体"] == (D(20), D("40.0"))


def test_stored_figures_serve_the_same_page_until_the_data_changes(client, district):
    first = get(client, district.admin)
    again = get(client, district.admin)
    for block in ("rows", "funds", "household_readiness", "supervision", "charts"):
        assert again.context[block] == first.context[block]
    # Every kind of write moves the version on: a service, a queryset update, a raw statement, a delete.
    task = Task.objects.get(pk=district.t3.pk)
    task_complete(task_id=task.pk, user=district.admin, expected_version=task.version)
    assert get(client, district.admin).context["rows"]["done"] == 4
    AnnualGoal.objects.filter(pk=district.manual.pk).update(manual_actual=20)
    assert goal_figures(get(client, district.admin).context)["新型经营主体"] == (D(20), D("40.0"))
    with connection.cursor() as cursor:
        cursor.execute("UPDATE bazhou_annualgoal SET manual_actual = %s WHERE id = %s", [30, district.manual.pk])
    assert goal_figures(get(client, district.admin).context)["新型经营主体"] == (D(30), D("60.0"))
    findings = Finding.objects.filter(task__isnull=False).values("task")
    unreferenced = Task.objects.live().filter(plan__year=2017).exclude(pk__in=findings)
    deleted, _ = Task.objects.filter(pk=unreferenced.values_list("pk", flat=True).first()).delete()
    assert deleted
    assert get(client, district.admin).context["rows"]["total"] == first.context["rows"]["total"] - 1


def test_stored_figures_are_of_one_day(client, district, settings):
    assert get(client, district.admin).context["today"] == TODAY
    settings.BAZHOU_TODAY = "2017-12-31"
    context = get(client, district.admin).context
    assert context["today"] == datetime.date(2017, 12, 31)
    assert context["charts"]["overdue"]["labels"][-1] == "12-31"


def test_anonymous_users_are_sent_to_the_login_page(client, db):
    assert client.get("/dashboard/").status_code == 302


# Queries, for a district admin's dashboard whatever the data size, computed afresh (32): the request's
# savepoint and its release (ATOMIC_REQUESTS), session, user, the user's area, the navigation's numbers (我的待办,
# 消息, 变更审批: the data versions with the stored numbers, then, the data having changed, counted in one query and
# stored: bazhou.surfaces.todo.nav_counts), the scope's district (or
# township), the plan years for the year selector, the monthly trend (snapshots); the data version and the stored
# figures (none); goals; the markers of the plan figures the writes keep (bazhou/core/summaries.py), those figures
# added up by township or village, their done quantities (for the quantity goals), the townships (or villages);
# funds by category, by source; villages exited; the markers of the registry figures, people lifted; household
# readiness (poverty line, counts); village readiness (the marker of the exit verdicts the writes keep, the
# indicators, the verdicts counted by indicator, the villages); the goals measured from records and those measured
# from plan rows too (the goals, twice: two parts; none of this district's goals uses a record); findings,
# rectifications, bulletin; storing the figures; the monthly trend and storing the rendered body.
DASHBOARD_QUERIES = 33
# The navigation's numbers counted afresh and stored, after any write (2 more than when found stored).
NAV_COUNTED = 2
# The page's body rendered afresh (its figures changed): the monthly trend, and storing the rendered body.
BODY_RENDERED = 2
# The same page while nothing has changed: those less the parts' own, the two of the navigation's numbers and the
# body's two: the stored figures and body found (one query), the numbers found.
DASHBOARD_QUERIES_STORED = 10


def test_the_dashboard_takes_the_same_number_of_queries_at_1x_and_10x(client, district, django_assert_num_queries):
    client.force_login(district.admin)
    factories.populate(district.a, villages=1)
    factories.settle()
    with django_assert_num_queries(DASHBOARD_QUERIES):
        assert client.get("/dashboard/").status_code == 200
    with django_assert_num_queries(DASHBOARD_QUERIES_STORED):
        assert client.get("/dashboard/").status_code == 200
    factories.populate(district.a, villages=10)
    factories.populate(district.b, villages=10)
    factories.settle()
    with django_assert_num_queries(DASHBOARD_QUERIES):
        assert client.get("/dashboard/").status_code == 200
    with django_assert_num_queries(DASHBOARD_QUERIES_STORED):
        assert client.get("/dashboard/").status_code == 200
    # Another scope with nothing changed: its figures and body computed, the navigation's numbers found stored.
    with django_assert_num_queries(DASHBOARD_QUERIES - NAV_COUNTED):
        assert client.get(f"/dashboard/?township={district.a.pk}").status_code == 200
    with django_assert_num_queries(DASHBOARD_QUERIES_STORED):
        assert client.get(f"/dashboard/?township={district.a.pk}").status_code == 200


# The parts' own queries (bazhou.surfaces.dashboard.PARTS), and the one query that stores the recomputed parts.
# goals; the plan figures' markers, their sums, done quantities; townships; funds by category, by source
PLAN_PART_QUERIES = 7
EXIT_PART_QUERIES = 4  # the exit verdicts' marker, the indicators, the verdicts counted by indicator, the villages
GOALS_PART_QUERIES = 1
SUPERVISION_PART_QUERIES = 3


def test_a_plan_edit_recomputes_the_plan_figures_and_keeps_the_registrys(client, district, django_assert_num_queries):
    first = get(client, district.admin).context
    task = Task.objects.get(pk=district.t3.pk)
    task_complete(task_id=task.pk, user=district.admin, expected_version=task.version)
    client.force_login(district.admin)
    # Completing a row also closes its overdue record, so the supervision part is recomputed too; a done row may
    # deliver an exit indicator (the exit part) and count for a goal (the goals part). The registry's is kept.
    parts = PLAN_PART_QUERIES + EXIT_PART_QUERIES + GOALS_PART_QUERIES + SUPERVISION_PART_QUERIES
    with django_assert_num_queries(DASHBOARD_QUERIES_STORED + NAV_COUNTED + parts + 1 + BODY_RENDERED):
        context = client.get("/dashboard/").context
    assert context["rows"]["done"] == first["rows"]["done"] + 1
    assert context["household_readiness"] == first["household_readiness"]


def test_a_finding_recomputes_the_supervision_figures_only(client, district, django_assert_num_queries):
    first = get(client, district.admin).context
    factories.finding(district.t3)
    client.force_login(district.admin)
    with django_assert_num_queries(
        DASHBOARD_QUERIES_STORED + NAV_COUNTED + SUPERVISION_PART_QUERIES + 1 + BODY_RENDERED
    ):
        context = client.get("/dashboard/").context
    assert context["supervision"]["open_findings"] == first["supervision"]["open_findings"] + 1
    assert context["rows"] == first["rows"]


def test_a_household_edit_shows_in_the_readiness_counts(client, district):
    first = get(client, district.admin).context["household_readiness"]
    water = next(r for r in first["criteria"] if r["code"] == "water")
    Household.objects.filter(pk=district.ha3.pk).update(safe_water=True)
    again = get(client, district.admin).context["household_readiness"]
    assert next(r for r in again["criteria"] if r["code"] == "water")["met"] == water["met"] + 1


def test_figures_stored_by_another_release_or_unreadable_are_computed_again(client, district):
    from bazhou.core.models import CachedFigures

    first = get(client, district.admin).context
    row = CachedFigures.objects.get(key__startswith="dashboard:", key__endswith=":plan")
    _code, stored = pickle.loads(row.data)
    stored["rows"] = {**stored["rows"], "total": 999}
    CachedFigures.objects.filter(pk=row.pk).update(data=pickle.dumps(("another release", stored)))
    assert get(client, district.admin).context["rows"]["total"] == first["rows"]["total"]
    CachedFigures.objects.filter(key__startswith="dashboard:", key__endswith=":plan").update(data=b"not a pickle")
    assert get(client, district.admin).context["rows"]["total"] == first["rows"]["total"]
    code_now, _ = pickle.loads(CachedFigures.objects.get(key__startswith="dashboard:", key__endswith=":plan").data)
    assert code_now == figures.CODE


# ---------------------------------------------------------------------------------------------
# The page's body, stored rendered with its figures (views.dashboard_page, dashboard.store_body)
# ---------------------------------------------------------------------------------------------


def shown_done(response) -> str:
    return re.search(r'data-testid="rows-done">([^<]*)<', response.content.decode()).group(1)


def test_the_stored_body_is_served_while_nothing_changed_and_shows_an_edit_at_once(client, district):
    first = get(client, district.admin)
    again = get(client, district.admin)
    rendered = lambda response: {t.name for t in response.templates}  # noqa: E731
    assert {"dashboard/_body.html", "dashboard/_blocks.html"} <= rendered(first)
    assert "dashboard/_blocks.html" not in rendered(again)
    assert again.context["body"] == first.context["body"]
    done = int(shown_done(first))
    task = Task.objects.get(pk=district.t3.pk)
    task_complete(task_id=task.pk, user=district.admin, expected_version=task.version)
    assert shown_done(get(client, district.admin)) == str(done + 1)


def test_the_stored_body_is_rendered_again_on_another_day_and_for_another_person(client, district, settings):
    from bazhou.core.models import CachedFigures

    get(client, district.admin)
    # Tampered with, the stored body shows what is stored while its figures are unchanged ...
    row = CachedFigures.objects.get(key__contains=":body:")
    code, html = pickle.loads(row.data)
    CachedFigures.objects.filter(pk=row.pk).update(data=pickle.dumps((code, html.replace("已完成", "已完結"))))
    assert "已完結" in get(client, district.admin).content.decode()
    # ... but not to a person whose figures lead elsewhere (a district leader does not read supervision's lists: the
    # overdue rows lead to the dashboard's rows list, not the review queue), nor on the next day.
    leader = factories.user(Role.LEADER, district.district, username="lingdao")
    assert "已完結" not in get(client, leader).content.decode()
    settings.BAZHOU_TODAY = "2017-09-16"
    assert "已完結" not in get(client, district.admin).content.decode()


def test_a_body_stored_by_another_release_or_unreadable_is_rendered_again(client, district):
    from bazhou.core.models import CachedFigures

    get(client, district.admin)
    row = CachedFigures.objects.get(key__contains=":body:")
    CachedFigures.objects.filter(pk=row.pk).update(data=pickle.dumps(("another release", "<p>旧版</p>")))
    assert "旧版" not in get(client, district.admin).content.decode()
    CachedFigures.objects.filter(key__contains=":body:").update(data=b"not a pickle")
    assert shown_done(get(client, district.admin))
