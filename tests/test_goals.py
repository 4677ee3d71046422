"""Goals from data (issue 18): every computed goal against a hand-worked district, its drill-down adding up to the
dashboard's figure, the manual entry form (who may, Chinese errors, history), and the dashboard's query count.

The hand-worked district (the ``area`` fixture plus what ``worked`` adds), for the 2017 goals:

Households poor in 2017 (still poor, or exited in 2017): ha (茅垭村, 3 people, 计划脱贫), hb (大寺村, 3 people,
计划脱贫), hc (百花村, 2 people, exited 2017). hd (茅垭村, exited 2016) was not poor in 2017 and counts nowhere.

- 人均增收 (income_rise): households with incomes of both 2016 and 2017: ha 6000/3 = 2000 → 9000/3 = 3000 (+1000);
  hb 7500/3 = 2500 → (8400 − 300)/3 = 2700 (+200); hc has no 2016 income; hd is not poor (its +33000 is left out).
  Mean 2016 = 2250, mean 2017 = 2850, rise = 600.00 — exactly the target 600: met. 白庙乡 alone: ha, +1000.00.
- 产业扶持覆盖 (industry_coverage): ha has a live 2017 industry row: covered. hb has a 2017 road row (another category)
  and a withdrawn industry row: not covered. hc's industry row is in the 2016 plan: not covered. hd's 2017 industry row
  does not count (not poor). 1 / 3 = 33.3 %. 白庙乡: ha, hc → 1 / 2 = 50.0 %.
- 新型经营主体 (business_entities): 2017-01-01 (茅垭村) and 2017-09-15 (大寺村) count; 2016-12-31 does not: 2.
  白庙乡: 1.
- 土地流转 (land_transfer): 120.5 (茅垭村) + 79.5 (大寺村) in 2017; 500 signed 2016-12-31 does not count: 200.0 亩.
  白庙乡: 120.5.
- 廉租房 (low_rent_housing): ha's housing ended 2016-12-31 (not during 2017); hb's ended 2017-01-01 (during 2017);
  hd (not poor) is housed but not counted. 1 / 3 = 33.3 %. 白庙乡: 0 / 2 = 0.0 %.
- 住院自付 (hospital_share, a ceiling of 10 %): in-district stays discharged in 2017: ha 800 / 10000, hb 700 / 5000;
  ha's stay outside the district (5000 / 10000) and hb's stay discharged 2016-12-31 (1000 / 1000) do not count:
  1500 / 15000 = 10.0 % — exactly the ceiling: met. 白庙乡: 800 / 10000 = 8.0 %.
- 招聘会 (job_fair_attendance, job_fair_intents): fairs of 2017: a1 (ha) came to both and signed at both (counted
  once), a2 (ha) came without signing, b1 (hb) came to 白庙乡's fair; b2 (hb) signed at a 2016 fair (not counted).
  Attendance 3, intents 1. 白庙乡 (by the members' village): attendance 2, intents 1.
"""

import datetime
import uuid
from decimal import Decimal as D

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext

from bazhou.core.models import AnnualGoal, Role
from households.models import (
    BusinessEntity,
    HospitalStay,
    Household,
    JobFair,
    JobFairAttendance,
    LandTransfer,
    LowRentHousing,
)
from tests import factories

pytestmark = pytest.mark.usefixtures("pinned_today")

TARGETS = {
    "income_rise": (D("600"), "元"),
    "industry_coverage": (D("100"), "%"),
    "business_entities": (D("50"), "个"),
    "land_transfer": (D("30000"), "亩"),
    "low_rent_housing": (D("5"), "%"),
    "hospital_share": (D("10"), "%"),
    "job_fair_intents": (D("500"), "人"),
    "job_fair_attendance": (D("1300"), "人"),
}
DISTRICT = {
    "income_rise": D("600.00"),
    "industry_coverage": D("33.3"),
    "business_entities": D("2"),
    "land_transfer": D("200.0"),
    "low_rent_housing": D("33.3"),
    "hospital_share": D("10.0"),
    "job_fair_intents": D("1"),
    "job_fair_attendance": D("3"),
}
TOWNSHIP_A = {
    "income_rise": D("1000.00"),
    "industry_coverage": D("50.0"),
    "business_entities": D("1"),
    "land_transfer": D("120.5"),
    "low_rent_housing": D("0.0"),
    "hospital_share": D("8.0"),
    "job_fair_intents": D("1"),
    "job_fair_attendance": D("2"),
}


def member_of(household, n=0):
    return household.members.order_by("pk")[n]


@pytest.fixture
def worked(area, personas):
    k = area
    k.ha, k.hb = area.household_a, area.household_b
    k.hc = factories.household(area.village_a2, members=2, status=Household.Status.EXITED, exit_year=2017)
    k.hd = factories.household(area.village_a, members=2, status=Household.Status.EXITED, exit_year=2016)
    # Incomes (元).
    factories.income(k.ha, 2016, wage=6000)
    factories.income(k.ha, 2017, wage=9000)
    factories.income(k.hb, 2016, wage=7500)
    factories.income(k.hb, 2017, wage=8400, business_expenses=300)
    factories.income(k.hc, 2017, wage=8000)
    factories.income(k.hd, 2016, wage=1000)
    factories.income(k.hd, 2017, wage=67000)
    # Plan rows.
    pa, pb = factories.plan(area.village_a, 2017), factories.plan(area.village_b, 2017)
    factories.task(pa, k.ha, category="industry", item="种植核桃", unit="亩", quantity=D(2))
    factories.task(pb, k.hb, category="road", item="入户路")
    factories.task(pb, k.hb, category="industry", item="养殖", is_removed=True, removed_reason="重复")
    factories.task(factories.plan(area.village_a2, 2016), k.hc, category="industry", item="养殖")
    factories.task(pa, k.hd, category="industry", item="养殖")
    # Business entities.
    for village, day, name in [
        (area.village_a, datetime.date(2017, 1, 1), "茅垭核桃合作社"),
        (area.village_b, datetime.date(2017, 9, 15), "大寺家庭农场"),
        (area.village_a, datetime.date(2016, 12, 31), "茅垭旧合作社"),
    ]:
        BusinessEntity.objects.create(village=village, name=name, kind="cooperative", registered_on=day)
    # Land transfer.
    for village, mu, day in [
        (area.village_a, "120.5", datetime.date(2017, 3, 1)),
        (area.village_b, "79.5", datetime.date(2017, 12, 31) - datetime.timedelta(days=200)),
        (area.village_a, "500", datetime.date(2016, 12, 31)),
    ]:
        LandTransfer.objects.create(village=village, area_mu=D(mu), signed_on=day, transferee="合作社", term_years=10)
    # Low-rent housing.
    LowRentHousing.objects.create(
        household=k.ha, allocated_on=datetime.date(2016, 3, 1), ended_on=datetime.date(2016, 12, 31), address="甲"
    )
    LowRentHousing.objects.create(
        household=k.hb, allocated_on=datetime.date(2016, 5, 1), ended_on=datetime.date(2017, 1, 1), address="乙"
    )
    LowRentHousing.objects.create(household=k.hd, allocated_on=datetime.date(2017, 1, 1), address="丙")
    # Hospital stays.
    for member, in_district, admitted, discharged, total, own in [
        (member_of(k.ha), True, "2017-03-01", "2017-03-10", 10000, 800),
        (member_of(k.hb), True, "2017-04-20", "2017-05-01", 5000, 700),
        (member_of(k.ha, 1), False, "2017-06-01", "2017-06-10", 10000, 5000),
        (member_of(k.hb, 1), True, "2016-12-20", "2016-12-31", 1000, 1000),
    ]:
        HospitalStay.objects.create(
            member=member,
            hospital="区人民医院" if in_district else "华西医院",
            in_district=in_district,
            admitted_on=datetime.date.fromisoformat(admitted),
            discharged_on=datetime.date.fromisoformat(discharged),
            total_cost=D(total),
            out_of_pocket=D(own),
        )
    # Job fairs.
    spring = JobFair.objects.create(district=area.district, name="春风行动", held_on=datetime.date(2017, 2, 16))
    summer = JobFair.objects.create(
        district=area.district, township=area.township_a, name="白庙乡招聘会", held_on=datetime.date(2017, 6, 8)
    )
    old = JobFair.objects.create(district=area.district, name="2016年招聘会", held_on=datetime.date(2016, 11, 10))
    a1, a2, b1, b2 = member_of(k.ha), member_of(k.ha, 1), member_of(k.hb), member_of(k.hb, 1)
    for fair, member, signed in [(spring, a1, True), (summer, a1, True), (spring, a2, False), (summer, b1, False),
                                 (old, b2, True)]:  # fmt: skip
        JobFairAttendance.objects.create(
            fair=fair, member=member, signed_intent=signed, employer="恒达" if signed else ""
        )
    # The goals: one per computed metric, the hospital one a ceiling; and a manual one.
    k.goals = {}
    for i, (metric, (target, unit)) in enumerate(TARGETS.items(), start=1):
        k.goals[metric] = AnnualGoal.objects.create(
            district=area.district, year=2017, name=f"目标{metric}", target=target, unit=unit, metric=metric,
            is_ceiling=metric == "hospital_share", order=i,
        )  # fmt: skip
    k.manual = AnnualGoal.objects.create(
        district=area.district,
        year=2017,
        name="村集体经济",
        target=5,
        unit="万元",
        reported_by="区农业农村局",
        order=20,
    )
    k.township_goal = AnnualGoal.objects.create(
        district=area.district, township=area.township_a, year=2017, name="白庙乡土地流转", target=1500, unit="亩"
    )
    k.village_goal = AnnualGoal.objects.create(
        district=area.district, village=area.village_a, year=2017, name="茅垭村集体经济", target=5, unit="万元"
    )
    k.personas = personas
    return k


def dashboard_goals(client, user, query=""):
    client.force_login(user)
    response = client.get(f"/dashboard/{query}")
    assert response.status_code == 200
    return {g["goal"].metric: g for g in response.context["goals"] if g["goal"].metric in TARGETS}


def test_every_computed_goal_matches_the_hand_worked_district(client, worked):
    goals = dashboard_goals(client, worked.personas.district_admin)
    assert {metric: g["actual"] for metric, g in goals.items()} == DISTRICT


def test_each_goal_says_its_source(client, worked):
    client.force_login(worked.personas.district_admin)
    context = client.get("/dashboard/").context
    sources = {g["goal"].pk: g["source"] for g in context["goals"]}
    assert sources[worked.goals["income_rise"].pk].startswith("计算：当年贫困户人均纯收入")
    assert sources[worked.manual.pk] == "填报：区农业农村局"


def test_a_goal_met_at_exactly_its_target_and_a_ceiling_met_at_exactly_its_ceiling(client, worked):
    goals = dashboard_goals(client, worked.personas.district_admin)
    assert goals["income_rise"]["met"] is True  # 600.00 ≥ 600
    assert (goals["hospital_share"]["ceiling"], goals["hospital_share"]["met"]) == (True, True)  # 10.0 ≤ 10
    assert goals["industry_coverage"]["met"] is False


def test_a_ceiling_goal_one_tenth_over_is_not_met(client, worked):
    # A further in-district stay of 1,000 元 with 110 元 out of pocket: 1610 / 16000 = 10.1 % > 10.
    HospitalStay.objects.create(
        member=member_of(worked.ha, 2), hospital="区中医院", admitted_on=datetime.date(2017, 7, 1),
        discharged_on=datetime.date(2017, 7, 3), total_cost=D(1000), out_of_pocket=D(110),
    )  # fmt: skip
    goals = dashboard_goals(client, worked.personas.district_admin)
    assert (goals["hospital_share"]["actual"], goals["hospital_share"]["met"]) == (D("10.1"), False)
    assert "未达标" in own_goals_html(client)


def test_a_township_sees_its_part_of_each_district_goal(client, worked):
    goals = dashboard_goals(client, worked.personas.district_admin, f"?township={worked.township_a.pk}")
    assert {metric: g["actual"] for metric, g in goals.items()} == TOWNSHIP_A
    goals = dashboard_goals(client, worked.personas.township_a)
    assert {metric: g["actual"] for metric, g in goals.items()} == TOWNSHIP_A


def test_a_record_written_after_the_figures_were_stored_shows_on_the_next_load(client, worked):
    assert dashboard_goals(client, worked.personas.district_admin)["business_entities"]["actual"] == 2
    BusinessEntity.objects.create(
        village=worked.village_b, name="新合作社", kind="other", registered_on=datetime.date(2017, 5, 5)
    )
    assert dashboard_goals(client, worked.personas.district_admin)["business_entities"]["actual"] == 3


@pytest.mark.parametrize("query", ["", "township"])
def test_each_drill_down_total_equals_the_dashboard_figure(client, worked, query):
    scope = f"?township={worked.township_a.pk}" if query else ""
    goals = dashboard_goals(client, worked.personas.district_admin, scope)
    for metric, g in goals.items():
        response = client.get(g["drill_url"])
        assert response.status_code == 200, metric
        total = response.context["table"].total
        shown = g["actual"]
        if metric in ("industry_coverage", "low_rent_housing", "hospital_share"):
            assert total[-1] == f"{shown}%", metric
        elif metric == "income_rise":
            assert total[-1] == f"{shown:,.2f}", metric
        elif metric.startswith("job_fair"):
            assert total == [f"{shown} 人"], metric
        else:
            assert D(str(total[0])) == shown, metric


def test_the_income_drill_down_lists_each_household_with_both_years(client, worked):
    client.force_login(worked.personas.district_admin)
    response = client.get(f"/dashboard/goals/{worked.goals['income_rise'].pk}/")
    rows = {r[0]: r[3:] for r in response.context["page_rows"]}
    assert rows == {
        worked.ha.number: [3, "2,000.00", "3,000.00", "1,000.00"],
        worked.hb.number: [3, "2,500.00", "2,700.00", "200.00"],
    }
    assert response.context["table"].total == ["2 户平均", "2,250.00", "2,850.00", "600.00"]


def test_the_hospital_drill_down_masks_id_numbers_for_a_leader(client, worked):
    leader = factories.user(Role.LEADER, worked.district, username="lingdao2")
    client.force_login(leader)
    page = client.get(f"/dashboard/goals/{worked.goals['hospital_share'].pk}/").content.decode()
    number = member_of(worked.ha).id_number
    assert number not in page and f"{number[:6]}********{number[-4:]}" in page


def test_a_drill_down_of_another_townships_goal_or_area_is_a_404(client, worked):
    client.force_login(worked.personas.township_b)
    assert client.get(f"/dashboard/goals/{worked.township_goal.pk}/").status_code == 404
    assert (
        client.get(f"/dashboard/goals/{worked.goals['land_transfer'].pk}/?township={worked.township_a.pk}").status_code
        == 404
    )
    assert client.get("/dashboard/goals/999999/").status_code == 404


def test_the_drill_down_takes_the_same_queries_at_two_sizes(client, worked):
    client.force_login(worked.personas.district_admin)
    urls = [f"/dashboard/goals/{g.pk}/" for g in worked.goals.values()]
    small = [count_queries(client, url) for url in urls]
    grow(worked)
    assert [count_queries(client, url) for url in urls] == small


# Manual goals: entered on a page by those who may, with evidence, into the history.


def own_goals_html(client) -> str:
    """The dashboard's own goals as templates/dashboard/_district_goals.html draws them (goal_part="own")."""
    context = client.get("/dashboard/").context
    names = ("goals", "year", "scope", "scope_query", "print_view", "links")
    return render_to_string("dashboard/_district_goals.html", {**{n: context[n] for n in names}, "goal_part": "own"})


def enter(client, user, goal, **data):
    client.force_login(user)
    return client.post(
        f"/dashboard/goals/{goal.pk}/enter/",
        {"_submission": str(uuid.uuid4()), "value": "12", "evidence": "区农业农村局 2017 年 8 月统计表", **data},
    )


def test_the_district_office_enters_a_district_goals_figure_with_evidence_into_the_history(client, worked):
    admin = worked.personas.district_admin
    assert enter(client, admin, worked.manual).status_code == 302
    goal = AnnualGoal.objects.get(pk=worked.manual.pk)
    assert (goal.manual_actual, goal.entered_by, goal.evidence) == (D("12"), admin, "区农业农村局 2017 年 8 月统计表")
    record = goal.history.first()
    assert (record.history_user, record.history_change_reason) == (admin, "填报完成值：12 万元")
    page = own_goals_html(client)
    assert f"填报人 {admin.name or admin.username}" in page and "佐证材料" in page


def test_the_same_entry_sent_twice_is_recorded_once(client, worked):
    client.force_login(worked.personas.district_admin)
    data = {"_submission": str(uuid.uuid4()), "value": "12", "evidence": "统计表"}
    url = f"/dashboard/goals/{worked.manual.pk}/enter/"
    assert client.post(url, data).status_code == 302
    assert client.post(url, {**data, "value": "13"}).status_code == 302
    goal = AnnualGoal.objects.get(pk=worked.manual.pk)
    assert (goal.manual_actual, goal.history.count()) == (D("12"), 2)


def test_an_empty_manual_goal_says_who_reports_it(client, worked):
    client.force_login(worked.personas.district_admin)
    assert "未填报（填报单位：区农业农村局）" in own_goals_html(client)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"value": "-1"}, "完成值不能为负数。"),
        ({"value": "abc"}, "完成值须是数字。"),
        ({"value": "1.234"}, "完成值最多保留 2 位小数。"),
        ({"evidence": ""}, "请填写佐证材料（依据）。"),
    ],
)
def test_a_bad_figure_is_refused_in_chinese_and_changes_nothing(client, worked, data, message):
    response = enter(client, worked.personas.district_admin, worked.manual, **data)
    assert response.status_code == 200
    assert message in response.content.decode()
    goal = AnnualGoal.objects.get(pk=worked.manual.pk)
    assert (goal.manual_actual, goal.entered_by, goal.history.count()) == (None, None, 1)


def test_township_staff_enter_their_townships_goal_but_not_the_districts(client, worked):
    staff = worked.personas.township_a
    assert enter(client, staff, worked.township_goal).status_code == 302
    assert AnnualGoal.objects.get(pk=worked.township_goal.pk).entered_by == staff
    # The district's manual goal is not shown below the district: nothing to enter, nothing changed.
    assert enter(client, staff, worked.manual).status_code in (403, 404)
    assert enter(client, worked.personas.township_b, worked.township_goal).status_code == 404
    assert AnnualGoal.objects.get(pk=worked.manual.pk).manual_actual is None


def test_a_village_cadre_enters_their_villages_goal(client, worked):
    cadre = worked.personas.village_cadre
    assert enter(client, cadre, worked.village_goal).status_code == 302
    assert AnnualGoal.objects.get(pk=worked.village_goal.pk).entered_by == cadre


def test_readers_and_computed_goals_are_refused(client, worked):
    assert enter(client, worked.personas.leader, worked.manual).status_code == 403
    assert enter(client, worked.personas.supervisor, worked.manual).status_code == 403
    assert enter(client, worked.personas.district_admin, worked.goals["land_transfer"]).status_code == 403
    assert AnnualGoal.objects.get(pk=worked.goals["land_transfer"].pk).manual_actual is None


def test_the_api_gives_each_goals_source_and_drill_down(client, worked):
    client.force_login(worked.personas.district_admin)
    goals = {g["goal"]["id"]: g for g in client.get("/api/v1/dashboard/").json()["goals"]}
    land = goals[worked.goals["land_transfer"].pk]
    assert (land["actual"], land["source"]) == ("200.00", "计算：当年签订的土地流转合同面积合计")
    assert land["drill_url"] == f"/dashboard/goals/{worked.goals['land_transfer'].pk}/?"
    assert goals[worked.manual.pk]["drill_url"] is None


# The dashboard's query count stays the same whatever the number of records.


def count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def grow(k):
    """Ten times the records: more households, incomes, rows, entities, contracts, stays, attendances."""
    factories.populate(k.township_a, villages=3, households=3)
    factories.populate(k.township_b, villages=3, households=3)
    fair = JobFair.objects.first()
    for i, h in enumerate(Household.objects.all()):
        factories.income(h, 2016, wage=1000) if not h.incomes.filter(year=2016).exists() else None
        LowRentHousing.objects.create(household=h, allocated_on=datetime.date(2017, 2, 1), address=f"{i}")
        m = h.members.first()
        HospitalStay.objects.create(
            member=m, hospital="区医院", admitted_on=datetime.date(2017, 2, 1), discharged_on=datetime.date(2017, 2, 2),
            total_cost=D(100), out_of_pocket=D(9),
        )  # fmt: skip
        JobFairAttendance.objects.get_or_create(fair=fair, member=m)
        BusinessEntity.objects.create(
            village=h.village, name=f"主体{i}", kind="other", registered_on=datetime.date(2017, 3, 3)
        )
        LandTransfer.objects.create(
            village=h.village, area_mu=D(10), signed_on=datetime.date(2017, 3, 3), transferee="x", term_years=5
        )


def test_the_dashboard_takes_the_same_queries_with_ten_times_the_records(client, worked):
    client.force_login(worked.personas.district_admin)
    factories.settle()
    township = f"/dashboard/?township={worked.township_a.pk}"
    fresh = count_queries(client, "/dashboard/")
    stored = count_queries(client, "/dashboard/")
    # The goals' figures cost the same queries whatever the metrics used (the per-village figures the writes keep,
    # added up): a township's page is measured against itself (the navigation, computed by the district's first
    # page, is stored by then).
    fresh_township = count_queries(client, township)
    grow(worked)
    factories.settle()
    assert count_queries(client, "/dashboard/") == fresh
    assert count_queries(client, "/dashboard/") == stored
    assert count_queries(client, township) == fresh_township
