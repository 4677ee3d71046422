"""Years (issue 18): every surface follows ``?year=`` and defaults to the current year (2017 here); a 2016 row shows
under 2016 and not under 2017; a bad year is a 400 naming ``year`` in Chinese; the year selector offers the plan
years and the current year; the comparison (年度对比) against a hand-built district, with a query count that does not
grow with the data."""

import datetime
import io
import json
from decimal import Decimal as D

import openpyxl
import pytest
from django.urls import reverse

from bazhou.surfaces.compare import compare
from bazhou.surfaces.dashboard import Scope
from households.models import Household
from tasks.models import Plan
from tests import factories
from villages.models import Village

pytestmark = pytest.mark.usefixtures("pinned_today")

TODAY = datetime.date(2017, 9, 15)
BAD_YEARS = ["abc", "99999", "1999", "2101", "２０１６", "17"]
YEAR_MESSAGE = "“year”应为 2000–2100 之间的四位年份。"
LIST_YEAR_MESSAGE = "年度应为 2000–2100 之间的四位年份。"


class Years:
    """The test district over two years (see :func:`build_years`)."""


def build_years(area) -> Years:
    """Two years of the test district, every figure worked out by hand:

    villages   老鹰村 (白庙乡) and 松林村 (寺岭乡) planned to exit and exited in 2016; 茅垭村 planned for 2017 and
               大寺村 exited in 2017.  planned to exit: 2016 → 2, 2017 → 2;  exited: 2016 → 2, 2017 → 1.
    people     2016: a household of 4 exited in 2016 (+1 inactive member, not counted) → 4;
               2017: a household of 2 exited in 2017 → 2 (household_a, 3 members, is only planned).
    rows 2016  (老鹰村) done 2016-03-10 (100 / 100), done 2016-06-30 (50 / 50), in progress due 2016-11-30 (40 / 10),
               a withdrawn row (never counted)  → 3 rows, 2 done, 66.7 %, planned 190, invested 160.
    rows 2017  (茅垭村) done 2017-01-31 (100 / 100), done 2017-05-01 (100 / 80), in progress (100 / 30);
               (大寺村) done 2017-09-15 (20 / 20)  → 4 rows, 3 done, 75.0 %, planned 320, invested 230.
    by month   2016: 0 0 1 1 1 2 2 2 2 2 2 2;  2017: 1 1 1 1 2 2 2 2 3, then none (October–December are to come).
    """
    y = Years()
    exited_2016 = {"is_poor": True, "status": Village.Status.EXITED, "planned_exit_year": 2016, "exit_year": 2016}
    y.v16 = factories.village(area.township_a, number=30, name="老鹰村", identified_year=2014, **exited_2016)
    y.v16b = factories.village(area.township_b, number=31, name="松林村", identified_year=2014, **exited_2016)
    Village.objects.filter(pk=area.village_b.pk).update(status=Village.Status.EXITED, exit_year=2017)

    h16 = factories.household(y.v16, members=4, status=Household.Status.EXITED, exit_year=2016, planned_exit_year=2016)
    factories.member(h16, is_active=False)
    factories.household(area.village_b, members=2, status=Household.Status.EXITED, exit_year=2017)

    y.plan16 = factories.plan(y.v16, 2016)
    y.done16 = factories.done_task(
        y.plan16,
        item="二〇一六年的路",
        deadline=datetime.date(2016, 5, 31),
        completed_on=datetime.date(2016, 3, 10),
        invested_funds=D(100),
    )
    factories.done_task(
        y.plan16,
        item="二〇一六年的水",
        category="water",
        deadline=datetime.date(2016, 6, 30),
        completed_on=datetime.date(2016, 6, 30),
        planned_funds=D(50),
        invested_funds=D(50),
    )
    y.open16 = factories.task(
        y.plan16,
        item="二〇一六年未完的文化室",
        category="culture_room",
        deadline=datetime.date(2016, 11, 30),
        status="in_progress",
        progress=30,
        planned_funds=D(40),
        invested_funds=D(10),
    )
    factories.task(
        y.plan16, item="撤销的任务", is_removed=True, removed_reason="重复", deadline=datetime.date(2016, 8, 31)
    )

    y.plan17 = factories.plan(area.village_a, 2017)
    y.done17 = factories.done_task(
        y.plan17,
        item="二〇一七年的路",
        deadline=datetime.date(2017, 3, 31),
        completed_on=datetime.date(2017, 1, 31),
        invested_funds=D(100),
    )
    factories.done_task(
        y.plan17,
        item="二〇一七年的水",
        category="water",
        deadline=datetime.date(2017, 5, 31),
        completed_on=datetime.date(2017, 5, 1),
        invested_funds=D(80),
    )
    factories.task(
        y.plan17,
        item="二〇一七年的产业",
        category="industry",
        deadline=datetime.date(2017, 10, 31),
        status="in_progress",
        progress=30,
        invested_funds=D(30),
    )
    factories.done_task(
        factories.plan(area.village_b, 2017),
        item="大寺村的路",
        deadline=datetime.date(2017, 9, 30),
        completed_on=TODAY,
        planned_funds=D(20),
        invested_funds=D(20),
    )
    return y


@pytest.fixture
def years(area):
    return build_years(area)


def get(client, user, url, **params):
    client.force_login(user)
    return client.get(url, params)


def html(response) -> str:
    return response.content.decode()


# ---------------------------------------------------------------------------------------------
# The comparison's figures
# ---------------------------------------------------------------------------------------------


def test_the_comparison_of_2017_with_2016_against_the_hand_built_district(area, years):
    figures = compare(Scope(district=area.district), TODAY, 2017)
    by_key = figures["by_key"]
    expected = {
        "villages_planned": (2, 2, 0, D("1.00")),
        "villages_exited": (1, 2, -1, D("0.50")),
        "people_lifted": (2, 4, -2, D("0.50")),
        "rows_total": (4, 3, 1, D("1.33")),
        "rows_done": (3, 2, 1, D("1.50")),
        "done_percent": (D("75.0"), D("66.7"), D("8.3"), D("1.12")),
        "funds_planned": (D("320.0000"), D("190.0000"), D("130.0000"), D("1.68")),
        "funds_invested": (D("230.0000"), D("160.0000"), D("70.0000"), D("1.44")),
    }
    got = {key: (row["this"], row["last"], row["change"], row["ratio"]) for key, row in by_key.items()}
    assert got == expected
    assert [m["this"] for m in figures["months"]] == [1, 1, 1, 1, 2, 2, 2, 2, 3, None, None, None]
    assert [m["last"] for m in figures["months"]] == [0, 0, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2]
    assert figures["months"][8]["this_percent"] == D("75.0") and figures["months"][11]["last_percent"] == D("66.7")
    assert figures["chart"]["this"][9] is None and figures["chart"]["last"][2] == 33.3


def test_the_comparison_of_2016_with_2015_has_no_ratio_where_2015_is_zero(area, years):
    by_key = compare(Scope(district=area.district), TODAY, 2016)["by_key"]
    assert (by_key["rows_total"]["this"], by_key["rows_total"]["last"]) == (3, 0)
    assert by_key["rows_total"]["change"] == 3 and by_key["rows_total"]["ratio"] is None
    assert by_key["done_percent"]["last"] is None and by_key["done_percent"]["change"] is None


def test_the_comparison_of_a_township_counts_only_its_villages(area, years):
    by_key = compare(Scope(district=area.district, township=area.township_b), TODAY, 2017)["by_key"]
    assert (by_key["villages_exited"]["this"], by_key["villages_exited"]["last"]) == (1, 1)
    assert (by_key["people_lifted"]["this"], by_key["people_lifted"]["last"]) == (2, 0)
    assert (by_key["rows_total"]["this"], by_key["rows_total"]["last"]) == (1, 0)


def test_the_comparison_page_shows_both_years_side_by_side(client, personas, years):
    response = get(client, personas.leader, reverse("dashboard_compare"), year=2017)
    assert response.status_code == 200
    page = html(response)
    assert "巴州区 2017年与2016年对比" in page
    assert 'data-testid="this-rows_total">4<' in page and 'data-testid="last-rows_total">3<' in page
    assert 'data-testid="change-rows_total">+1<' in page and 'data-testid="ratio-rows_total">1.33<' in page
    assert 'data-testid="this-funds_planned">320.00<' in page
    assert 'id="compare-chart"' in page and 'data-testid="chart-compare"' in page
    # The dashboard links to it with its year and area.
    dashboard = html(
        get(client, personas.leader, reverse("dashboard"), year=2016, township=personas.township_a.township_id)
    )
    assert f'href="/dashboard/compare/?year=2016&amp;township={personas.township_a.township_id}"' in dashboard


def test_the_comparison_page_defaults_to_the_current_year_and_keeps_to_the_users_area(client, personas, years, area):
    response = get(client, personas.township_b, reverse("dashboard_compare"))
    assert response.context["year"] == 2017 and response.context["last_year"] == 2016
    assert response.context["by_key"]["rows_total"]["this"] == 1  # 大寺村's row only
    assert (
        get(client, personas.township_b, reverse("dashboard_compare"), township=area.township_a.pk).status_code == 404
    )
    department = factories.department_user()
    assert get(client, department, reverse("dashboard_compare")).status_code == 403


def compare_queries(client, user, django_assert_num_queries, count: int):
    client.force_login(user)
    client.get(reverse("dashboard_compare"))  # the session and the user are read once before counting
    with django_assert_num_queries(count):
        assert client.get(reverse("dashboard_compare"), {"year": 2017}).status_code == 200


# The page: a savepoint and its release, the session, the user, the district (the area, and again for the page's
# navigation), the navigation's numbers (the data versions with the stored numbers: the page before counted them), the
# year selector's years, and the comparison's 3.
COMPARE_PAGE_QUERIES = 11


def test_the_comparison_costs_the_same_queries_at_two_data_sizes(
    client, personas, area, years, django_assert_num_queries
):
    compare_queries(client, personas.district_admin, django_assert_num_queries, COMPARE_PAGE_QUERIES)
    for year in (2016, 2017):
        factories.populate(area.township_a, villages=3, households=3, year=year)
        factories.populate(area.township_b, villages=2, households=2, year=year)
    compare_queries(client, personas.district_admin, django_assert_num_queries, COMPARE_PAGE_QUERIES)
    scope = Scope(district=area.district)
    with django_assert_num_queries(3):
        compare(scope, TODAY, 2017)


# ---------------------------------------------------------------------------------------------
# Every surface follows ?year= and defaults to the current year
# ---------------------------------------------------------------------------------------------


def test_the_dashboard_follows_the_year_and_defaults_to_the_current_one(client, personas, years):
    this = get(client, personas.leader, reverse("dashboard"))
    assert this.context["year"] == 2017 and this.context["rows"]["total"] == 4
    last = get(client, personas.leader, reverse("dashboard"), year=2016)
    assert last.context["year"] == 2016 and last.context["rows"]["total"] == 3 and last.context["rows"]["done"] == 2
    page = html(last)
    assert "巴州区 2016年脱贫攻坚驾驶舱" in page
    assert '<option value="2016" selected>2016年</option>' in page
    assert 'href="/dashboard/print/?year=2016"' in page
    printed = html(get(client, personas.leader, reverse("dashboard_print"), year=2016))
    assert "2016年脱贫攻坚驾驶舱" in printed


def test_the_rows_list_shows_a_2016_row_under_2016_and_not_under_2017(client, personas, years):
    url = reverse("dashboard_rows")
    this = get(client, personas.leader, url, state="all")
    items = {t.item for t in this.context["page_obj"]}
    assert "二〇一七年的路" in items and "二〇一六年的路" not in items
    last = get(client, personas.leader, url, state="all", year=2016)
    items = {t.item for t in last.context["page_obj"]}
    assert items == {"二〇一六年的路", "二〇一六年的水", "二〇一六年未完的文化室"}
    page = html(last)
    # The selector keeps the state; the state buttons and the way back keep the year.
    assert '<input type="hidden" name="state" value="all">' in page
    assert 'href="?state=done&amp;year=2016"' in page and 'href="/dashboard/?year=2016"' in page


def test_the_selector_offers_the_plan_years_and_the_current_year(client, personas, area, years):
    factories.plan(area.village_a, 2018)  # a draft of next year
    assert Plan.objects.visible_to(personas.leader).years() == [2018, 2017, 2016]
    page = html(get(client, personas.leader, reverse("dashboard")))
    assert page.index('value="2018"') < page.index('value="2017" selected') < page.index('value="2016"')
    # Its accessible name is 年度.
    assert 'for="dashboard-year-year">年度</label>' in page and 'id="dashboard-year-year" name="year"' in page
    # A village's cadre is offered only the years of plans they can see (and the current year).
    Plan.objects.filter(village=area.village_a).exclude(year=2017).delete()
    assert Plan.objects.visible_to(personas.village_cadre).offered_years(2017) == [2017]
    assert Plan.objects.visible_to(personas.leader).offered_years(2019) == [2019, 2017, 2016]


@pytest.mark.parametrize("bad", BAD_YEARS)
@pytest.mark.parametrize("name", ["dashboard", "dashboard_rows", "dashboard_compare", "dashboard_print"])
def test_a_bad_year_is_a_400_naming_the_parameter(client, personas, years, name, bad):
    response = get(client, personas.leader, reverse(name), year=bad)
    assert response.status_code == 400
    assert YEAR_MESSAGE in html(response)


def test_the_review_queue_defaults_to_the_current_year_and_follows_the_year(client, personas, years):
    url = reverse("supervision:queue")
    this = get(client, personas.supervisor, url)
    assert this.context["form"]["year"].value() in (2017, "2017")
    overdue = {t.item for t in this.context["page_obj"]}
    # 2016's unfinished room is past its deadline, but it is not a row of 2017.
    assert "二〇一六年未完的文化室" not in overdue
    last = get(client, personas.supervisor, url, year=2016)
    assert {t.item for t in last.context["page_obj"]} == {"二〇一六年未完的文化室"}
    page = html(last)
    assert '<option value="2016" selected>2016年</option>' in page and '<option value="2017">2017年</option>' in page
    # A list's bad filter is shown beside it, and the list stays on the current year (villages.forms.plan_year_field).
    for bad_year in ("abc", "1999", "99999999999999999999"):
        bad = get(client, personas.supervisor, url, year=bad_year)
        assert bad.status_code == 200 and LIST_YEAR_MESSAGE in html(bad)
        assert {t.item for t in bad.context["page_obj"]} == {t.item for t in this.context["page_obj"]}


def test_the_village_list_follows_the_year(client, personas, area, years):
    url = reverse("villages:list")
    # A list of villages: with no year chosen, every year's rows (全部年度), as before issue 18.
    every = get(client, personas.district_admin, url)
    rows = {v.name: v for v in every.context["page_obj"]}
    assert rows["茅垭村"].row_count == 3 and rows["老鹰村"].row_count == 3
    assert '<option value="" selected>全部年度</option>' in html(every)
    this = get(client, personas.district_admin, url, year=2017)
    rows = {v.name: v for v in this.context["page_obj"]}
    assert rows["茅垭村"].row_count == 3 and rows["老鹰村"].row_count == 0
    last = get(client, personas.district_admin, url, year=2016)
    rows = {v.name: v for v in last.context["page_obj"]}
    assert rows["老鹰村"].row_count == 3 and rows["茅垭村"].row_count == 0
    page = html(last)
    assert '<option value="2016" selected>2016年</option>' in page
    assert "year=2016" in last.context["plan_table_url"]
    bad = get(client, personas.district_admin, url, year="abc")
    assert bad.status_code == 200 and LIST_YEAR_MESSAGE in html(bad)


def xlsx_title(response) -> str:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    return str(sheet["A1"].value)


def test_the_one_table_export_carries_the_chosen_year_in_rows_and_title(client, personas, area, years):
    url = reverse("tasks:plan_table_xlsx")
    response = get(client, personas.district_admin, url, village=years.v16.pk, year=2016)
    assert response.status_code == 200
    assert "2016年" in response["Content-Disposition"] or "2016" in response["Content-Disposition"]
    assert "2016年" in xlsx_title(response)
    default = get(client, personas.district_admin, url, village=area.village_a.pk)
    assert "2017年" in xlsx_title(default)


def test_the_api_dashboard_and_one_table_follow_the_year(client, personas, area, years):
    client.force_login(personas.district_admin)
    body = client.get("/api/v1/dashboard/", {"year": 2016}).json()
    assert body["year"] == 2016 and body["rows"]["total"] == 3
    response = client.get("/api/v1/plan-table/", {"year": 2016, "format": "json"})
    table = json.loads(b"".join(response.streaming_content) if response.streaming else response.content)
    assert table["year"] == 2016 and {row["item"] for row in table["rows"]} >= {"二〇一六年的路"}
