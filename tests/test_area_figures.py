"""我的待办 for a village's or a township's people starts with their area's own figures: its goals, its plan rows
(total, done, overdue, due soon) and its households' readiness, each linking to a list that counts the same. They
are the dashboard's figures for that scope (bazhou.surfaces.todo.area_figures), stored and reused like the
dashboard's."""

import datetime
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from bazhou.core.models import AnnualGoal
from tests import factories

pytestmark = pytest.mark.usefixtures("pinned_today")

HOME = reverse("home")


@pytest.fixture
def rows(area):
    """茅垭村 (白庙乡): one row done, one overdue (due yesterday), one due today, one due in 7 days, one in 8;
    百花村 (白庙乡): one overdue; 大寺村 (寺岭乡): one overdue. Goals: the district's (measured and manual), 白庙乡's,
    茅垭村's."""
    plan = factories.plan(area.village_a, 2017)
    factories.done_task(plan, deadline=datetime.date(2017, 8, 31), quantity=Decimal(3))
    factories.task(plan, item="村文化室", deadline=datetime.date(2017, 9, 14))
    factories.task(plan, item="蓄水池", deadline=datetime.date(2017, 9, 15))
    factories.task(plan, item="便民桥", deadline=datetime.date(2017, 9, 22))
    factories.task(plan, item="机耕道", deadline=datetime.date(2017, 9, 23))
    factories.task(factories.plan(area.village_a2, 2017), item="百花村路", deadline=datetime.date(2017, 9, 1))
    factories.task(factories.plan(area.village_b, 2017), item="大寺村水", deadline=datetime.date(2017, 9, 1))
    goal = AnnualGoal.objects.create
    common = {"district": area.district, "year": 2017}
    goal(**common, name="农村公路", target=230, unit="公里", metric="task_quantity", task_category="road", order=1)
    goal(**common, name="新型经营主体", target=50, unit="个", order=2)
    goal(**common, township=area.township_a, name="白庙乡产业园", target=1, unit="个", reported_by="白庙乡政府")
    goal(**common, village=area.village_a, name="茅垭村集体经济", target=5, unit="万元", manual_actual=Decimal(2))
    factories.household(area.village_a, planned_exit_year=2017)
    return plan


def block(response) -> str:
    html = response.content.decode()
    found = re.search(r'<section class="card mb-3 area-figures".*?</section>', html, re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(0)).split()) if found else ""


def test_a_village_cadre_sees_the_villages_figures_and_goals(client, personas, rows):
    client.force_login(personas.village_cadre)
    response = client.get(HOME)
    figures = response.context["area_figures"]
    assert figures["scope"].village.name == "茅垭村"
    r = figures["rows"]
    # Due soon: today and the 7th day included, the 8th not; overdue: the deadline was yesterday.
    assert (r["total"], r["done"], r["overdue"], r["due_soon"]) == (5, 1, 1, 2)
    text = block(response)
    assert "茅垭村 2017年" in text and "5 任务 1 已完成 1 已逾期 2 7天内到期" in text
    # The village's own goal, then the district's measured goal with the village's part; no manual district goal.
    assert [(g["name"], g["own"]) for g in figures["goals"]] == [("茅垭村集体经济", True), ("农村公路", False)]
    assert "茅垭村集体经济 2 / 5 万元（40.0%）" in text and "全区目标· 农村公路 3 公里" in text
    assert "新型经营主体" not in text and "白庙乡产业园" not in text
    assert "计划2017年脱贫 2 户" in text  # the area's household and the one added here


@pytest.mark.parametrize("persona", ["village_cadre", "township_a"])
def test_each_figure_links_to_a_list_of_the_same_count(client, personas, rows, persona):
    user = getattr(personas, persona)
    client.force_login(user)
    figures = client.get(HOME).context["area_figures"]
    links, r = figures["links"], figures["rows"]
    pairs = [
        (links["rows_all"], r["total"]),
        (links["rows_done"], r["done"]),
        (links["rows_overdue"], r["overdue"]),
        (links["rows_due_soon"], r["due_soon"]),
        (links["targeted_households"], figures["household_readiness"]["total"]),
        (links["ready_households"], figures["household_readiness"]["all_met"]),
    ]
    counts = [(url, figure, client.get(url).context["page_obj"].paginator.count) for url, figure in pairs]
    assert [c for c in counts if c[1] != c[2]] == []


def test_township_staff_see_their_townships_figures_and_goals(client, personas, rows):
    client.force_login(personas.township_a)
    figures = client.get(HOME).context["area_figures"]
    assert figures["scope"].township.name == "白庙乡" and figures["scope"].village is None
    assert (figures["rows"]["total"], figures["rows"]["overdue"]) == (6, 2)  # 百花村's overdue row too
    own = [g for g in figures["goals"] if g["own"]]
    assert [g["name"] for g in own] == ["白庙乡产业园"]
    assert "待白庙乡政府填报" in block(client.get(HOME))


@pytest.mark.parametrize("persona", ["district_admin", "supervisor", "leader"])
def test_district_users_get_no_area_block(client, personas, rows, persona):
    client.force_login(getattr(personas, persona))
    response = client.get(HOME)
    assert response.context["area_figures"] is None
    assert 'data-testid="area-figures"' not in response.content.decode()


def test_a_township_leader_gets_the_townships_block(client, area, rows):
    from bazhou.core.models import Role

    leader = factories.user(Role.LEADER, area.township_b, username="xiangzhang")
    client.force_login(leader)
    figures = client.get(HOME).context["area_figures"]
    assert figures["scope"].township == area.township_b and figures["rows"]["total"] == 1


def test_area_figures_are_stored_like_the_dashboards(client, personas, rows, django_assert_num_queries):
    """Computed once, the block costs three queries while nothing changes (the area, the data versions, the stored
    figures), on top of the to-do's own."""
    client.force_login(personas.village_cadre)
    client.get(HOME)
    # savepoint; session; user; the sections' totals; the user's area; release; the listed sections (rows overdue,
    # rows due, messages: the village has no findings, no change requests); the block's three.
    with django_assert_num_queries(6 + 2 + 3):
        response = client.get(HOME)
    assert response.context["area_figures"]["rows"]["total"] == 5
