"""Every figure of the dashboard links to the list behind it, and the list counts what the figure says: at the
district, a township and a village, for a supervisor-reader (the late rows go to the review queue) and for those who
may not read the queue (the rows list of the dashboard). Also the rows list's bounds, scope goals and their rules.

The district is tests/test_dashboard.py's, worked out by hand there (today 2017-09-15).
"""

import datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from bazhou.core.models import AnnualGoal, Role
from households.readiness import CRITERIA
from tests import factories, test_dashboard

district = test_dashboard.district  # the fixture: the district worked out by hand there
get = test_dashboard.get

pytestmark = pytest.mark.usefixtures("pinned_today")


def figures_and_links(context) -> list[tuple[str, int, str]]:
    """(name, the figure on the dashboard, the link) for every linked figure of a dashboard's context."""
    links, rows = context["links"], context["rows"]
    pairs = [
        ("rows_all", rows["total"]),
        ("rows_done", rows["done"]),
        ("rows_in_progress", rows["in_progress"]),
        ("rows_overdue", rows["overdue"]),
        ("rows_baseline_overdue", rows["baseline_overdue"]),
        ("rows_due_soon", rows["due_soon"]),
        ("exit_villages", context["village_readiness"]["total"]),
        ("targeted_households", context["household_readiness"]["total"]),
        ("ready_households", context["household_readiness"]["all_met"]),
    ]
    result = [(name, figure, links[name]) for name, figure in pairs]
    not_met = {r["code"]: r["not_met"] for r in context["household_readiness"]["criteria"]}
    result += [(f"unmet {code}", not_met[code], links["unmet"][code]) for code, _name in CRITERIA]
    if "open_findings" in links:
        supervision = context["supervision"]
        result += [
            ("open_findings", supervision["open_findings"], links["open_findings"]),
            ("overdue_rectifications", supervision["overdue_rectifications"], links["overdue_rectifications"]),
        ]
    exited = [g for g in context["goals"] if g["goal"].metric == "villages_exited"]
    if exited:
        result.append(("exited_villages", int(exited[0]["actual"]), links["exited_villages"]))
    return result


def listed(client, user, url) -> int:
    """How many rows the list at ``url`` reports (its paginator's count: the "共 N 项" line)."""
    return get(client, user, url).context["page_obj"].paginator.count


def assert_links_count_the_same(client, user, url="/dashboard/"):
    context = get(client, user, url).context
    checked = figures_and_links(context)
    mismatches = [(name, figure, listed(client, user, link), link) for name, figure, link in checked]
    assert [m for m in mismatches if m[1] != m[2]] == []
    return context, checked


@pytest.fixture
def more_rows(district):
    """An approved plan for 九重村 with a row past its original deadline (原定逾期) and one due within 7 days (the
    window's last day), so every state has rows somewhere."""
    plan = factories.plan(district.vb0, 2017)
    factories.task(plan, item="便民桥", deadline=datetime.date(2017, 9, 22))  # today + 7: due soon
    factories.task(plan, item="机耕道", deadline=datetime.date(2017, 9, 14))  # yesterday: overdue
    factories.task(plan, item="蓄水池", deadline=datetime.date(2017, 9, 15))  # today: due, not overdue
    factories.task(plan, item="过期一周", deadline=datetime.date(2017, 9, 23))  # today + 8: not yet
    return plan


@pytest.mark.parametrize("where", ["district", "township", "village"])
def test_every_figure_of_a_district_admin_counts_what_its_list_shows(client, district, more_rows, where):
    url = {
        "district": "/dashboard/",
        "township": f"/dashboard/?township={district.b.pk}",
        "village": f"/dashboard/?village={district.va1.pk}",
    }[where]
    context, checked = assert_links_count_the_same(client, district.admin, url)
    links = context["links"]
    # The late and due-soon rows of a supervisor-reader go to the review queue, for the same year and area.
    assert links["rows_overdue"].startswith(reverse("supervision:queue") + "?view=overdue&year=2017")
    assert "view=due&days=7&year=2017" in links["rows_due_soon"]
    assert links["rows_all"].startswith(reverse("dashboard_rows") + "?state=all")
    if where == "township":
        assert all(f"township={district.b.pk}" in link for _n, _f, link in checked)
        assert context["rows"]["due_soon"] == 2 and context["rows"]["overdue"] >= 2  # the boundary rows counted
    if where == "village":
        assert all(f"village={district.va1.pk}" in link for _n, _f, link in checked)
    # The figures are links on the page.
    html = get(client, district.admin, url).content.decode()
    assert f'href="{links["rows_overdue"].replace("&", "&amp;")}" data-testid="link-rows-overdue"' in html


@pytest.mark.parametrize("who", ["staff_a", "cadre", "leader"])
def test_those_who_may_not_read_the_queue_get_the_rows_list_with_the_same_counts(client, district, more_rows, who):
    user = {
        "staff_a": district.staff_a,
        "cadre": district.cadre,
        "leader": factories.user(Role.LEADER, district.district, username="lingdao"),
    }[who]
    context, _checked = assert_links_count_the_same(client, user)
    assert context["links"]["rows_overdue"].startswith(reverse("dashboard_rows") + "?state=overdue")
    assert "open_findings" not in context["links"]
    assert reverse("supervision:queue") not in get(client, user).content.decode().split("<main", 1)[-1]


def test_the_rows_list_shows_the_rows_of_the_figure(client, district, more_rows):
    response = get(client, district.admin, f"{reverse('dashboard_rows')}?state=due_soon&township={district.b.pk}")
    items = [t.item for t in response.context["page_obj"]]
    assert items == ["便民桥"] or sorted(items) == sorted(["蓄水池", "便民桥"])
    assert "便民桥" in response.content.decode() and "过期一周" not in response.content.decode()
    assert 'data-testid="rows-count">2<' in response.content.decode()


@pytest.mark.parametrize(
    "query",
    ["state=late", "state=", "state=overdue&village=abc", "state=overdue&village=²", "state=all&township=999999"],
)
def test_the_rows_list_answers_a_bad_parameter_with_a_404_or_the_default(client, district, query):
    client.force_login(district.admin)
    response = client.get(f"{reverse('dashboard_rows')}?{query}")
    assert response.status_code == (200 if query == "state=" else 404)


def test_a_village_cadre_may_not_list_another_villages_rows(client, district):
    client.force_login(district.cadre)
    assert client.get(f"{reverse('dashboard_rows')}?state=all&village={district.vb1.pk}").status_code == 404
    # 茅垭村's live 2017 rows: the withdrawn one and the 2016 plan's are not counted.
    assert client.get(f"{reverse('dashboard_rows')}?state=all").context["page_obj"].paginator.count == 5


def test_the_queue_year_filter_is_bounded(client, district):
    client.force_login(district.admin)
    for year in ("1999", "abc", "99999999999999999999"):
        response = client.get(f"{reverse('supervision:queue')}?view=overdue&year={year}")
        assert response.status_code == 200
        assert response.context["page_obj"].paginator.count == 2  # ignored: the 2017 rows (the 2016 one is done)
    response = client.get(f"{reverse('supervision:queue')}?view=overdue&year=2016")
    assert response.context["page_obj"].paginator.count == 0


def test_the_rows_list_takes_a_fixed_number_of_queries(client, district, django_assert_num_queries):
    client.force_login(district.admin)
    url = f"{reverse('dashboard_rows')}?state=all"
    client.get(url)
    with django_assert_num_queries(ROWS_QUERIES):
        client.get(url)
    factories.populate(district.a, villages=5)
    client.get(url)  # the navigation's numbers counted again for the new rows, and stored
    with django_assert_num_queries(ROWS_QUERIES):
        client.get(url)


# The request's savepoint and release, session, user, the user's area, the navigation's numbers (变更审批, 我的待办
# and 消息: the data versions with the stored numbers, nothing having changed since the last page), the scope's
# district; the rows' count and the page of rows (with their village, township and household in the same query).
ROWS_QUERIES = 10  # with the plan years of the year selector


# ---------------------------------------------------------------------------------------------
# Goals of a township and of a village
# ---------------------------------------------------------------------------------------------


def test_a_township_dashboard_shows_its_own_goals_and_the_districts_measured_inside_it(client, district):
    AnnualGoal.objects.create(
        district=district.district, township=district.a, year=2017, name="白庙乡产业路", target=10, unit="公里",
        metric="task_quantity", task_category="road", order=1,
    )  # fmt: skip
    AnnualGoal.objects.create(
        district=district.district, village=district.va1, year=2017, name="茅垭村集体经济", target=5, unit="万元",
        manual_actual=None, reported_by="茅垭村村委会", order=1,
    )  # fmt: skip
    goals = get(client, district.admin, f"/dashboard/?township={district.a.pk}").context["goals"]
    own = {g["name"]: g["actual"] for g in goals if g["own"]}
    district_wide = {g["name"]: g["actual"] for g in goals if not g["own"]}
    assert own == {"白庙乡产业路": Decimal(5)}  # 3 + 2 km of done road rows in 白庙乡
    # The district's measured goals, with the township's part; the manual one (新型经营主体) is the district's own.
    assert district_wide == {"贫困村退出": 0, "脱贫人数": 4, "农村公路": 5, "特色产业": 2}
    response = get(client, district.admin, f"/dashboard/?village={district.va1.pk}")
    village_goals = [g for g in response.context["goals"] if g["own"]]
    assert [g["name"] for g in village_goals] == ["茅垭村集体经济"]
    assert "未填报（填报单位：茅垭村村委会）" in " ".join(response.content.decode().split())
    district_goals = [g["name"] for g in get(client, district.admin).context["goals"]]
    assert "白庙乡产业路" not in district_goals and "茅垭村集体经济" not in district_goals


def test_a_manual_goal_without_a_reporter_is_the_poverty_offices(client, district):
    district.manual.manual_actual = None
    district.manual.save()
    text = " ".join(get(client, district.admin).content.decode().split())
    assert "未填报（填报单位：区脱贫办）" in text


def test_goal_names_are_unique_per_area_and_year(district):
    common = {"district": district.district, "year": 2017, "target": 1, "unit": "个"}
    AnnualGoal.objects.create(name="新型经营主体", township=district.a, **common)  # the district has one: fine
    AnnualGoal.objects.create(name="新型经营主体", township=district.b, **common)
    AnnualGoal.objects.create(name="新型经营主体", village=district.va1, **common)
    AnnualGoal.objects.create(name="新型经营主体", **{**common, "year": 2018})
    for extra in ({}, {"township": district.a}, {"village": district.va1}):
        with pytest.raises(IntegrityError), transaction.atomic():
            AnnualGoal.objects.create(name="新型经营主体", **common, **extra)
    with pytest.raises(IntegrityError), transaction.atomic():
        AnnualGoal.objects.create(name="两级", township=district.a, village=district.va1, **common)


def test_a_goal_of_a_township_of_another_district_is_refused_by_clean(district):
    from django.core.exceptions import ValidationError

    other = factories.township(factories.district(code="511903", name="恩阳区"), number=300, name="外乡")
    goal = AnnualGoal(district=district.district, township=other, year=2017, name="x", target=1, unit="个")
    with pytest.raises(ValidationError) as error:
        goal.full_clean()
    assert "township" in error.value.message_dict


@pytest.mark.parametrize(
    ("url", "count"),
    [
        ("/households/?planned_exit_year=2017&readiness=bogus", 4),  # an unknown choice filters nothing
        ("/households/?planned_exit_year=2017&readiness=unmet_nothing", 4),
        ("/villages/?exit=bogus", 4),
        ("/villages/?exit=planned&year=2016", 0),
        ("/villages/?exit=planned&year=1999", 3),  # out of bounds: this year's (2017) — 茅垭村, 大寺村, 九重村
        ("/villages/?exit=planned&year=abc", 3),
        ("/villages/?exit=exited", 1),  # 九重村
        ("/villages/?village=abc", 4),
        ("/villages/?village=²", 4),
        ("/villages/?village=99999999999999999999", 4),
    ],
)
def test_the_list_filters_the_dashboard_links_to_are_bounded(client, district, url, count):
    response = get(client, district.admin, url)
    assert response.context["page_obj"].paginator.count == count


def test_the_print_view_shows_money_in_the_sites_format_and_keeps_the_links_working(client, district):
    text = test_dashboard.text_of(get(client, district.admin, "/dashboard/print/"))
    assert "计划 565.00 万元，已投入 236.00 万元" in text


def test_the_admin_edits_a_villages_goal(client, district):
    from bazhou.core.models import User

    root = User.objects.create_superuser("root", password="pw-for-tests-2017")
    client.force_login(root)
    goal = AnnualGoal.objects.create(
        district=district.district, village=district.va1, year=2017, name="村集体经济", target=5, unit="万元"
    )
    response = client.get(reverse("admin:bazhou_annualgoal_change", args=[goal.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="village"' in html and 'name="township"' in html and 'name="reported_by"' in html
    listing = client.get(reverse("admin:bazhou_annualgoal_changelist"))
    assert "白庙乡 茅垭村" in listing.content.decode() and "巴州区（全区）" in listing.content.decode()
