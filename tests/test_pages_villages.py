"""The village pages: the list with each village's plan figures, and a village's page (一村一案)."""

import datetime
import re
import zoneinfo
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from households.models import Household
from supervision.models import Rectification
from tasks.models import Plan, Task
from tests import factories

pytestmark = pytest.mark.usefixtures("pinned_today")

LIST = reverse("villages:list")
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def detail(village, **params):
    url = reverse("villages:detail", args=[village.pk])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


def get(client, user, url, **params):
    if user is not None:
        client.force_login(user)
    return client.get(url, params)


def listed(response) -> set[str]:
    return {v.name for v in response.context["page_obj"]}


def html(response) -> str:
    return response.content.decode()


def cell(response, attr: str, value) -> str:
    """The text of the element carrying ``attr="value"`` (e.g. data-total="planned")."""
    match = re.search(rf'{attr}="{value}"[^>]*>([^<]*)<', html(response))
    assert match, f'no element with {attr}="{value}"'
    return match.group(1).strip()


def row_cell(response, village, col: str) -> str:
    """The text of column ``col`` (data-col) in the list row of ``village``."""
    row = re.search(rf'<tr data-village="{village.pk}".*?</tr>', html(response), re.S).group(0)
    return re.sub(r"<[^>]+>", "", re.search(rf'data-col="{col}">(.*?)</td>', row, re.S).group(1)).strip()


# Who sees which villages ----------------------------------------------------------------------------------------

LIST_SCOPE = {
    "district_admin": {"茅垭村", "百花村", "大寺村"},
    "township_a": {"茅垭村", "百花村"},
    "township_b": {"大寺村"},
    "village_cadre": {"茅垭村"},
    "supervisor": {"茅垭村", "百花村", "大寺村"},
    "leader": {"茅垭村", "百花村", "大寺村"},
}


@pytest.mark.parametrize("persona", LIST_SCOPE)
def test_the_list_shows_exactly_the_villages_of_the_users_area(client, personas, area, persona):
    response = get(client, getattr(personas, persona), LIST)
    assert response.status_code == 200
    assert listed(response) == LIST_SCOPE[persona]
    everyone = {area.village_a, area.village_a2, area.village_b}
    for village in everyone:
        assert (village.code in html(response)) == (village.name in LIST_SCOPE[persona])


def test_the_township_filter_is_offered_only_to_users_of_more_than_one_township(client, personas):
    assert 'name="township"' in html(get(client, personas.supervisor, LIST))
    for user in (personas.township_a, personas.village_cadre):
        page = html(get(client, user, LIST))
        assert 'name="township"' not in page
        assert "寺岭乡" not in page


def test_anonymous_visitors_are_sent_to_the_login_page(client, area):
    for url in (LIST, detail(area.village_a)):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))


DETAIL_ACCESS = [
    ("district_admin", "village_b", 200),
    ("township_a", "village_a", 200),
    ("township_a", "village_a2", 200),
    ("township_a", "village_b", 404),
    ("township_b", "village_a", 404),
    ("township_b", "village_b", 200),
    ("village_cadre", "village_a", 200),
    ("village_cadre", "village_a2", 404),
    ("village_cadre", "village_b", 404),
    ("supervisor", "village_a", 200),
    ("leader", "village_b", 200),
]


@pytest.mark.parametrize(("persona", "village", "status"), DETAIL_ACCESS)
def test_a_village_page_exists_only_for_users_whose_area_holds_it(client, personas, area, persona, village, status):
    village = getattr(area, village)
    response = get(client, getattr(personas, persona), detail(village))
    assert response.status_code == status
    if status == 200:
        assert response.context["village"] == village
        assert f"{village.township.name} {village.name}" in html(response)
        assert village.code in html(response)


def test_an_unknown_village_is_404(client, personas):
    assert get(client, personas.district_admin, reverse("villages:detail", args=[999999])).status_code == 404


# Filters and search -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"township": "511902204"}, {"茅垭村", "百花村"}),
        ({"status": "not_poor"}, {"百花村"}),
        ({"status": "planned"}, {"茅垭村", "大寺村"}),
        ({"is_poor": "1"}, {"茅垭村", "大寺村"}),
        ({"is_poor": "0"}, {"百花村"}),
        ({"planned_exit_year": "2017"}, {"茅垭村", "大寺村"}),
        ({"planned_exit_year": "2018"}, set()),
        ({"q": "茅垭"}, {"茅垭村"}),
        ({"q": "511902212001"}, {"大寺村"}),
        ({"q": "511902204"}, {"茅垭村", "百花村"}),
        ({"township": "511902204", "is_poor": "1"}, {"茅垭村"}),
    ],
)
def test_the_list_filters_by_township_status_poor_flag_exit_year_and_name_or_code(client, personas, params, expected):
    assert listed(get(client, personas.district_admin, LIST, **params)) == expected


def test_a_township_filter_never_widens_the_users_area(client, personas):
    assert listed(get(client, personas.township_b, LIST, township="511902204")) == {"大寺村"}


def test_a_bad_filter_value_is_reported_and_the_other_filters_still_apply(client, personas):
    response = get(client, personas.district_admin, LIST, planned_exit_year="abc", is_poor="0")
    assert listed(response) == {"百花村"}
    assert 'data-field-error="planned_exit_year"' in html(response)


def test_an_htmx_filter_request_gets_only_the_results(client, personas):
    client.force_login(personas.district_admin)
    response = client.get(LIST, {"q": "茅垭"}, headers={"HX-Request": "true"})
    assert "<html" not in html(response)
    assert 'data-testid="village-table"' in html(response) and 'name="q"' in html(response)
    assert listed(response) == {"茅垭村"}


def test_the_list_pages_by_fifty(client, personas, area):
    for n in range(100, 152):
        factories.village(area.township_b, number=n)
    client.force_login(personas.township_b)
    first, second = client.get(LIST), client.get(LIST, {"page": 2})
    assert len(first.context["page_obj"]) == 50
    assert len(second.context["page_obj"]) == 3  # 大寺村 and 52 more
    assert "第 1 / 2 页，共 53 条" in html(first)


# The numbers: rows, done, overdue (against the injected today), planned funds ------------------------------------


@pytest.fixture
def figures(area):
    """茅垭村: a 2017 plan with rows done, late, future, withdrawn and one household row; a 2018 plan with one
    row; and households with members, so a join would multiply the counts. 大寺村: one late row."""
    plan = factories.plan(area.village_a, 2017)
    factories.done_task(plan, item="通村硬化路", planned_funds=Decimal("100"), invested_funds=Decimal("100"))
    factories.task(
        plan,
        item="村文化室",
        status=Task.Status.IN_PROGRESS,
        progress=40,
        deadline=datetime.date(2017, 8, 31),
        planned_funds=Decimal("50.5"),
        invested_funds=Decimal("20"),
    )
    factories.task(plan, item="道地巴药产业", deadline=datetime.date(2017, 10, 31), planned_funds=Decimal("0.1234"))
    factories.task(
        plan, item="已撤销", deadline=datetime.date(2017, 8, 1), planned_funds=Decimal("999"), is_removed=True,
        removed_reason="重复录入",
    )  # fmt: skip
    factories.task(
        plan, area.household_a, item="危房改造", deadline=datetime.date(2017, 9, 10), planned_funds=Decimal("10")
    )
    for _ in range(2):
        factories.household(area.village_a, members=4)
    plan_2018 = factories.plan(area.village_a, 2018)
    factories.task(plan_2018, item="2018年产业", deadline=datetime.date(2018, 6, 30), planned_funds=Decimal("20"))
    factories.task(factories.plan(area.village_b), deadline=datetime.date(2017, 9, 1), planned_funds=Decimal("7"))
    return plan


def test_the_list_counts_live_rows_done_overdue_and_funds_of_every_plan_year(client, personas, area, figures):
    response = get(client, personas.district_admin, LIST)
    rows = {v.name: v for v in response.context["page_obj"]}
    maoya = rows["茅垭村"]
    # Live rows: done, late, future, household (2017) + one 2018 row; the withdrawn row is left out.
    assert (maoya.row_count, maoya.done_count, maoya.overdue_count) == (5, 1, 2)
    assert maoya.planned_total == Decimal("180.6234")  # 100 + 50.5 + 0.1234 + 10 + 20
    assert (rows["百花村"].row_count, rows["百花村"].planned_total) == (0, 0)
    assert (rows["大寺村"].row_count, rows["大寺村"].overdue_count, rows["大寺村"].planned_total) == (1, 1, 7)
    assert row_cell(response, area.village_a, "rows") == "5"
    assert row_cell(response, area.village_a, "overdue") == "2"
    assert row_cell(response, area.village_a, "funds") == "180.62"


def test_the_list_counts_only_the_chosen_plan_year(client, personas, area, figures):
    rows = {v.name: v for v in get(client, personas.district_admin, LIST, year=2017).context["page_obj"]}
    assert (rows["茅垭村"].row_count, rows["茅垭村"].planned_total) == (4, Decimal("160.6234"))


@pytest.mark.parametrize(("today", "overdue"), [("2017-08-01", 0), ("2017-09-01", 1), ("2017-09-15", 2)])
def test_overdue_is_counted_against_the_products_today(client, personas, area, figures, settings, today, overdue):
    settings.BAZHOU_TODAY = today
    rows = {v.name: v for v in get(client, personas.district_admin, LIST).context["page_obj"]}
    assert rows["茅垭村"].overdue_count == overdue


def test_the_figures_survive_the_filters(client, personas, area, figures):
    (maoya,) = get(client, personas.township_a, LIST, q="茅垭", is_poor="1").context["page_obj"]
    assert (maoya.row_count, maoya.done_count, maoya.overdue_count) == (5, 1, 2)


# The village page: 一村一案 table and totals ---------------------------------------------------------------------


def test_the_page_shows_the_latest_plan_year_unless_another_is_asked_for(client, personas, area, figures):
    latest = get(client, personas.district_admin, detail(area.village_a))
    assert latest.context["plan"].year == 2018
    assert [t.item for t in latest.context["tasks"]] == ["2018年产业"]
    chosen = get(client, personas.district_admin, detail(area.village_a, year=2017))
    assert chosen.context["plan"] == figures
    missing = get(client, personas.district_admin, detail(area.village_a, year=2016))
    assert missing.context["plan"] is None
    assert "2016年尚无施工图" in html(missing)


def test_the_table_lists_the_live_village_rows_with_totals(client, personas, area, figures):
    response = get(client, personas.district_admin, detail(area.village_a, year=2017))
    assert [t.item for t in response.context["tasks"]] == ["通村硬化路", "村文化室", "道地巴药产业"]
    page = html(response)
    assert "已撤销" not in page and "危房改造" not in page  # withdrawn and household rows are not village rows
    assert cell(response, "data-total", "planned") == "150.62"
    assert cell(response, "data-total", "invested") == "120.00"
    assert (cell(response, "data-total", "done"), cell(response, "data-total", "count")) == ("1", "3")
    assert cell(response, "data-total", "overdue") == "1"
    assert cell(response, "data-total", "progress") == "47"  # (100 + 40 + 0) / 3
    late = next(t for t in response.context["tasks"] if t.item == "村文化室")
    assert late.overdue
    assert re.search(rf'data-task="{late.pk}" class="row-overdue".*?逾期', page, re.S)


def test_the_household_rows_are_summarised_with_a_link_to_the_households(client, personas, area, figures):
    response = get(client, personas.district_admin, detail(area.village_a, year=2017))
    assert response.context["household_rows"] == {"total": 1, "done": 0, "overdue": 1}
    assert f"{reverse('households:list')}?village={area.village_a.pk}" in html(response)


@pytest.mark.parametrize(
    ("persona", "may_edit"),
    [("district_admin", True), ("township_a", True), ("village_cadre", True), ("supervisor", False), ("leader", False)],
)
def test_edit_links_are_shown_to_those_who_may_edit_the_village(client, personas, area, figures, persona, may_edit):
    page = html(get(client, getattr(personas, persona), detail(area.village_a, year=2017)))
    task = figures.tasks.get(item="村文化室")
    assert (reverse("tasks:plan", args=[figures.pk]) in page) == may_edit
    assert ("编辑施工图" in page) == may_edit
    assert (reverse("tasks:task_edit", args=[task.pk]) in page) == may_edit
    assert reverse("tasks:task_history", args=[task.pk]) in page


def test_the_plans_approval_is_shown_with_who_and_when(client, personas, area, figures):
    assert cell(get(client, personas.leader, detail(area.village_a, year=2017)), "data-testid", "plan-state") == "草稿"
    personas.district_admin.name = "区扶贫局管理员"
    personas.district_admin.save()
    Plan.objects.filter(pk=figures.pk).update(
        state=Plan.State.APPROVED,
        approved_by=personas.district_admin,
        approved_at=datetime.datetime(2017, 3, 10, 10, 0, tzinfo=SHANGHAI),
    )
    response = get(client, personas.leader, detail(area.village_a, year=2017))
    assert cell(response, "data-testid", "plan-state") == "已批准"
    assert "区扶贫局管理员 于 2017年3月10日 10:00 批准" in html(response)


def test_a_village_without_a_plan_says_so(client, personas, area):
    response = get(client, personas.township_a, detail(area.village_a2))
    assert response.status_code == 200
    assert "尚无施工图" in html(response)


# Exit indicators (一低七有) and the poverty incidence from the registry ------------------------------------------


def test_exit_indicators_show_met_and_not_met_with_evidence(client, personas, area, figures):
    incidence = factories.exit_indicator(2017, "incidence", "贫困发生率低于3%", threshold=Decimal("3"), order=0)
    road = factories.exit_indicator(2017, "road", "有硬化路", order=1)
    factories.exit_indicator(2017, "clinic", "有卫生室", order=2)
    factories.exit_indicator(2018, "road", "有硬化路（2018）", order=1)
    factories.village_indicator(area.village_a, incidence, met=False, evidence="贫困发生率偏高")
    factories.village_indicator(area.village_a, road, met=True, evidence="通村路已硬化")
    response = get(client, personas.supervisor, detail(area.village_a, year=2017))
    page = html(response)
    assert [i.code for i in response.context["indicators"]] == ["incidence", "road", "clinic"]
    assert re.search(r'data-indicator="incidence".*?未达标.*?贫困发生率偏高', page, re.S)
    assert re.search(r'data-indicator="road".*?达标.*?通村路已硬化', page, re.S)
    assert re.search(r'data-indicator="clinic".*?未核查', page, re.S)
    assert "有硬化路（2018）" not in page


def test_poverty_incidence_counts_active_members_of_still_poor_households(client, personas, area):
    factories.exit_indicator(2017, "incidence", "贫困发生率低于3%", threshold=Decimal("3"))
    area.village_a.registered_population = 200
    area.village_a.save()
    # household_a: planned to exit, 3 members; one more poor household of 2 plus a member who moved out;
    # a relapsed household of 1; an exited household of 4 does not count.
    poor = factories.household(area.village_a, members=2, status=Household.Status.POOR, planned_exit_year=None)
    factories.member(poor, is_active=False)
    factories.household(area.village_a, members=1, status=Household.Status.RELAPSED, exit_year=2015, relapse_year=2016)
    factories.household(area.village_a, members=4, status=Household.Status.EXITED, exit_year=2016)
    factories.household(area.village_b, members=5)
    response = get(client, personas.district_admin, detail(area.village_a))
    assert response.context["incidence"]["poor_people"] == 6
    assert response.context["incidence"]["rate"] == Decimal("3.00")
    assert "3.00%（6 / 200）" in html(response)
    assert not response.context["incidence"]["below_threshold"]  # 3.00 is not below 3


# Assistance forces (五个一) -----------------------------------------------------------------------------------


def test_assistance_forces_show_who_is_assigned_today_and_who_was_before(client, personas, area):
    factories.assignment(
        area.village_a, person="岳明", start_date=datetime.date(2014, 3, 1), end_date=datetime.date(2016, 2, 29)
    )
    factories.assignment(area.village_a, person="秦和平", start_date=datetime.date(2016, 3, 1))
    factories.assignment(area.village_a, "unit", person="", unit="区审计局", start_date=datetime.date(2015, 8, 1))
    factories.assignment(area.village_a, "work_team", person="龚萍", start_date=datetime.date(2017, 10, 1))
    factories.assignment(area.village_b, person="别村书记")
    response = get(client, personas.village_cadre, detail(area.village_a))
    current = [(a.get_role_display(), a.person or a.unit) for a in response.context["current_forces"]]
    assert current == [("帮扶单位", "区审计局"), ("第一书记", "秦和平"), ("驻村工作组成员", "龚萍")]
    assert [a.person for a in response.context["former_forces"]] == ["岳明"]
    page = html(response)
    assert "待到任" in page  # 龚萍 starts on 1 October
    assert "历任（1 人次）" in page
    assert "别村书记" not in page


# The village's households -------------------------------------------------------------------------------------


def test_households_are_counted_by_status_with_links_to_the_filtered_list(client, personas, area):
    factories.household(area.village_a, status=Household.Status.POOR, planned_exit_year=None)
    factories.household(area.village_a, status=Household.Status.EXITED, exit_year=2016)
    factories.household(area.village_b)
    response = get(client, personas.township_a, detail(area.village_a))
    assert response.context["household_statuses"]["total"] == 3
    assert cell(response, "data-status", "planned") == "1"
    assert cell(response, "data-status", "poor") == "1"
    assert cell(response, "data-status", "exited") == "1"
    assert cell(response, "data-status", "relapsed") == "0"
    assert f"?village={area.village_a.pk}&amp;status=poor" in html(response)


# Open findings ----------------------------------------------------------------------------------------------


def test_open_findings_against_the_village_its_households_and_its_rows_are_listed(client, personas, area, figures):
    task = figures.tasks.get(item="村文化室")
    no_rectification = factories.finding(area.village_a, description="档案资料不全")
    late = factories.finding(area.household_a, type="housing", description="危房未改造")
    factories.rectification(late, deadline=datetime.date(2017, 9, 1))
    in_time = factories.finding(task, description="文化室进度滞后")
    factories.rectification(in_time, deadline=datetime.date(2017, 11, 1), status=Rectification.Status.IN_PROGRESS)
    closed = factories.finding(task, description="已整改完毕")
    factories.rectification(
        closed,
        status=Rectification.Status.CLOSED,
        result="已完工",
        answered_by=personas.township_a,
        rechecked_by=personas.supervisor,
        rechecked_at=timezone.now(),
        closed_on=datetime.date(2017, 9, 10),
    )
    factories.finding(area.village_b, description="别村问题")
    factories.finding(area.village_a2, description="百花村问题")
    response = get(client, personas.township_a, detail(area.village_a))
    rows = {row["finding"].description: row for row in response.context["findings"]}
    assert set(rows) == {"档案资料不全", "危房未改造", "文化室进度滞后"}
    assert rows["危房未改造"]["overdue"] and not rows["文化室进度滞后"]["overdue"]
    assert rows["档案资料不全"]["rectification"] is None
    page = html(response)
    assert re.search(rf'data-finding="{late.pk}" class="row-overdue".*?待整改.*?2017-09-01.*?逾期', page, re.S)
    assert re.search(rf'data-finding="{no_rectification.pk}".*?未下达整改', page, re.S)
    assert "已整改完毕" not in page and "别村问题" not in page and "百花村问题" not in page


# Query counts: the same on a small and a ten-times larger district -----------------------------------------------


def test_the_list_makes_the_same_number_of_queries_for_ten_times_the_villages(
    client, personas, area, django_assert_num_queries
):
    factories.populate(area.township_a, villages=2)
    client.force_login(personas.district_admin)
    # 1 savepoint (ATOMIC_REQUESTS), 2 session, 3 user, 4 count for the paginator, 5 the page of villages with
    # their township and the row/done/overdue/funds subqueries, 6 the townships of the filter, 7 the user's
    # district for the navigation bar; the navigation's 变更审批, 我的待办 and 消息 numbers, the data having changed:
    # 8 the data versions with the stored numbers, 9 the numbers counted (one query), 10 stored; 11 the plan years of
    # the year selector, 12 release savepoint.
    with django_assert_num_queries(12):
        small = client.get(LIST)
    factories.populate(area.township_a, villages=18)
    with django_assert_num_queries(12):
        large = client.get(LIST)
    assert small.context["page_obj"].paginator.count == 5
    assert large.context["page_obj"].paginator.count == 23


def test_the_village_page_makes_the_same_number_of_queries_for_ten_times_the_rows(
    client, personas, area, django_assert_num_queries
):
    (village,) = factories.populate(area.township_a, villages=1, households=1, village_tasks=2)
    factories.assignment(village)
    factories.finding(village)
    incidence = factories.exit_indicator(2017, threshold=Decimal("3"))
    factories.village_indicator(village, incidence)
    client.force_login(personas.district_admin)
    # savepoint; session; user; the village and its township; its plans with approvers; may the user edit
    # it; the plan's village rows; the household rows' counts; the village's assessments of the year; the
    # year's indicators; the poor people count; the assistance forces; the households by status; the open
    # findings with rectification, household and task; the history of the village, its indicators (with their
    # names) and its assignments (3); its recent decision alerts; the user's district (navigation); the navigation's
    # 变更审批, 我的待办 and 消息 numbers (the data having changed: the data versions with the stored numbers, the
    # numbers counted in one query, stored); release savepoint. (The poor people count is the one the writes keep,
    # bazhou/core/summaries.py: settled first.)
    factories.settle()
    with django_assert_num_queries(23):
        small = client.get(detail(village))
    plan = village.plans.get()
    for _ in range(9):
        factories.task(plan, item="更多村级任务")
        factories.done_task(plan, item="已完成村级任务")
        h = factories.household(village)
        factories.task(plan, h, item="户级任务")
        factories.assignment(village, "work_team", person="队员")
        factories.finding(village)
        factories.finding(h)
    factories.settle()
    with django_assert_num_queries(23):
        large = client.get(detail(village))
    assert len(small.context["tasks"]) == 2 and len(large.context["tasks"]) == 20
    assert len(large.context["findings"]) == 19


def test_a_village_without_a_plan_for_the_year_offers_to_open_one_to_those_who_may_edit(client, personas, area):
    url = reverse("villages:detail", args=[area.village_a2.pk])
    client.force_login(personas.township_a)
    assert 'data-testid="create-plan"' in client.get(url).content.decode()
    client.force_login(personas.supervisor)
    assert 'data-testid="create-plan"' not in client.get(url).content.decode()
