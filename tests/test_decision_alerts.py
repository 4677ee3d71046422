"""Alerts on evidence that flips an exit decision (近期变动的脱贫判定): who, when, which criterion, before → after.

A household's 一超六有 (the poverty line included) and a village's 一低七有 are judged before and after each edit of
the registry (incomes, members, living conditions, the register import) and of a village's indicators and
population (the admin); one alert per flipped criterion, none when nothing flips.
"""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from households import services
from households.models import DecisionAlert, Member
from households.services import income_fingerprint
from tests import factories
from tests.jobs import get_file

pytestmark = pytest.mark.usefixtures("pinned_today")


@pytest.fixture
def line(db):
    return factories.poverty_line(2017, "3100")


@pytest.fixture
def poor_income(area, line):
    """Household A: three members, 9,000 元 net in 2017 (3,000 a head, below the 3,100 line)."""
    return factories.income(area.household_a, 2017, wage="9000")


def edit_income(income, user, wage, reason="入户核实工资收入"):
    income.refresh_from_db()
    return services.income_update(
        income_id=income.pk,
        user=user,
        expected=income_fingerprint(income),
        data={"wage": Decimal(wage)},
        reason=reason,
    )


def test_an_income_edit_that_crosses_the_poverty_line_raises_exactly_one_alert(area, personas, poor_income):
    edit_income(poor_income, personas.township_a, "9600")

    alert = DecisionAlert.objects.get()
    assert alert.scope == DecisionAlert.Scope.HOUSEHOLD
    assert (alert.household, alert.village, alert.year) == (area.household_a, area.village_a, 2017)
    assert (alert.criterion, alert.criterion_name) == ("income", "人均纯收入超过扶贫标准")
    assert (alert.met_before, alert.met_after) == (False, True)
    assert "3,000.00" in alert.before and "未超过标准 3,100" in alert.before
    assert "3,200.00" in alert.after and "高于标准 3,100" in alert.after
    assert alert.changed_by == personas.township_a
    assert alert.reason == "入户核实工资收入"
    assert alert.source == DecisionAlert.Source.INCOME
    assert "2017年家庭年收入" in alert.source_detail
    assert str(alert.changed_on) == "2017-09-15"


def test_an_edit_that_flips_nothing_raises_no_alert(area, personas, poor_income):
    edit_income(poor_income, personas.township_a, "9100")  # 3,033.33 a head: still below
    services.household_update(
        household_id=area.household_a.pk,
        user=personas.township_a,
        expected_version=area.household_a.version,
        data={"phone": "13800000000", "road": "gravel"},
        reason="更正电话和入户路",
    )
    assert not DecisionAlert.objects.exists()


def test_a_flip_and_a_flip_back_are_two_alerts(area, personas, poor_income):
    edit_income(poor_income, personas.township_a, "9600")
    edit_income(poor_income, personas.village_cadre, "9000", reason="录入错误，改回")
    first, second = DecisionAlert.objects.order_by("pk")
    assert (first.met_before, first.met_after, first.changed_by) == (False, True, personas.township_a)
    assert (second.met_before, second.met_after, second.changed_by) == (True, False, personas.village_cadre)


def test_a_refused_edit_raises_no_alert(area, personas, poor_income):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        edit_income(poor_income, personas.township_a, "9600", reason="  ")
    assert not DecisionAlert.objects.exists()


def test_a_member_leaving_lifts_per_capita_income_across_the_line(area, personas, poor_income):
    leaving = area.household_a.members.exclude(relation=Member.Relation.HEAD).first()
    services.member_leave(
        member_id=leaving.pk, user=personas.township_a, expected_version=leaving.version, reason="外嫁迁出"
    )
    alert = DecisionAlert.objects.get()
    assert (alert.criterion, alert.met_before, alert.met_after) == ("income", False, True)
    assert "4,500.00" in alert.after
    assert alert.source == DecisionAlert.Source.MEMBER_LEAVE
    assert alert.reason == "外嫁迁出"


def test_a_member_joining_drops_per_capita_income_below_the_line(area, personas, line):
    factories.income(area.household_a, 2017, wage="9600")  # 3,200 a head
    services.member_create(
        household_id=area.household_a.pk,
        user=personas.township_a,
        data={
            "name": "新生儿",
            "relation": Member.Relation.GRANDSON,
            "sex": Member.Sex.MALE,
            "id_number": factories.id_number(),
            "education": Member.Education.PRESCHOOL,
        },
        reason="新生儿落户",
    )
    alert = DecisionAlert.objects.get()
    assert (alert.criterion, alert.met_before, alert.met_after, alert.source) == ("income", True, False, "member_join")


def test_living_conditions_flip_their_own_criteria(area, personas, line):
    factories.income(area.household_a, 2017, wage="9600")
    services.household_update(
        household_id=area.household_a.pk,
        user=personas.township_a,
        expected_version=area.household_a.version,
        data={"housing_grade": "D", "safe_water": False},
        reason="2017年9月危房鉴定",
    )
    alerts = {a.criterion: a for a in DecisionAlert.objects.all()}
    assert set(alerts) == {"housing", "water"}
    assert alerts["housing"].after == "住房为D级（整体危险）危房"
    assert (alerts["water"].before, alerts["water"].after) == ("饮水安全", "饮水不安全")


# ---------------------------------------------------------------------------------------------
# Villages: 一低七有
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def indicators(area):
    incidence = factories.exit_indicator(2017, "incidence", "贫困发生率低于3%", threshold=Decimal("3"), order=1)
    clinic = factories.exit_indicator(2017, "clinic", "有卫生室", order=2)
    return incidence, clinic


def test_a_village_indicator_changed_in_the_admin_raises_a_village_alert(client, area, indicators):
    from django.contrib.auth import get_user_model

    root = get_user_model().objects.create_superuser(username="root", password="pw-for-tests-2017")
    client.force_login(root)
    _, clinic = indicators
    assessment = factories.village_indicator(area.village_a, clinic, met=False)
    url = reverse("admin:villages_villageindicator_change", args=[assessment.pk])
    page = client.get(url)
    form = page.context["adminform"].form
    data = {
        "village": area.village_a.pk,
        "indicator": clinic.pk,
        "met": "on",
        "evidence": "卫生室已建成",
        "assessed_on": "2017-09-10",
        "change_reason": "实地核查",
        "loaded_state": form.initial["loaded_state"],
    }
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]

    alert = DecisionAlert.objects.get(criterion="clinic")
    assert alert.scope == DecisionAlert.Scope.VILLAGE
    assert (alert.village, alert.household) == (area.village_a, None)
    assert (alert.before, alert.after, alert.met_after) == ("未达标", "达标", True)
    assert (alert.changed_by, alert.reason, alert.source) == (root, "实地核查", "indicator")
    assert DecisionAlert.objects.count() == 1  # the incidence did not move


def test_the_incidence_crossing_its_threshold_is_a_village_alert(area, personas, indicators):
    # 茅垭村: household A's three members still poor out of 100 people: 3.00 %, not below 3.
    area.village_a.registered_population = 100
    area.village_a.save()
    household = area.household_a
    services.household_update(
        household_id=household.pk,
        user=personas.township_a,
        expected_version=household.version,
        data={"status": "exited", "exit_year": 2017},
        reason="2017年验收脱贫",
    )
    alert = DecisionAlert.objects.get(scope=DecisionAlert.Scope.VILLAGE)
    assert alert.criterion == "incidence"
    assert alert.before == "贫困发生率 3.00%（3/100），不低于标准 3%"
    assert alert.after == "贫困发生率 0.00%（0/100），低于标准 3%"
    assert not DecisionAlert.objects.filter(scope=DecisionAlert.Scope.HOUSEHOLD).exists()


# ---------------------------------------------------------------------------------------------
# The register import: one edit, judged once before its first write and once after its last
# ---------------------------------------------------------------------------------------------


def test_a_register_import_that_flips_a_criterion_raises_one_alert_signed_with_the_file(client, area, personas, line):
    from households import imports
    from households.exports import KEYS
    from tests.excel.helpers import body, calamine_rows, edit

    factories.income(area.household_a, 2017, wage="9600")
    client.force_login(personas.township_a)
    content = body(get_file(client, reverse("households:register_xlsx")))
    column = chr(ord("A") + KEYS.index("safe_water"))
    numbers = {m.id_number for m in area.household_a.members.all()}
    rows = [
        i
        for i, row in enumerate(calamine_rows(content, "贫困户花名册"), start=1)
        if row[KEYS.index("id_number")] in numbers
    ]
    assert len(rows) == 3
    changed = edit(content, "贫困户花名册", {f"{column}{row}": "否" for row in rows})
    preview = imports.preview_register_import(user=personas.township_a, content=changed, file_name="饮水核查.xlsx")
    assert preview.problems == []
    imports.apply_register_import(
        user=personas.township_a, content=changed, file_name="饮水核查.xlsx", fingerprint=preview.fingerprint
    )
    alert = DecisionAlert.objects.get()
    assert (alert.household, alert.criterion, alert.met_before, alert.met_after) == (
        area.household_a,
        "water",
        True,
        False,
    )
    assert (alert.source, alert.reason, alert.changed_by) == (
        "import",
        "Excel 导入：饮水核查.xlsx",
        personas.township_a,
    )


# ---------------------------------------------------------------------------------------------
# Where they are shown: the supervisors' list, the household and village pages, the API — each within the area
# ---------------------------------------------------------------------------------------------


def alert(household, n=0, **fields):
    fields = {
        "scope": DecisionAlert.Scope.HOUSEHOLD,
        "village": household.village,
        "household": household,
        "year": 2017,
        "criterion": "income",
        "criterion_name": "人均纯收入超过扶贫标准",
        "met_before": False,
        "met_after": True,
        "before": f"2017年人均纯收入 3,0{n:02d}.00 元，未超过标准 3,100 元",
        "after": "2017年人均纯收入 3,200.00 元，高于标准 3,100 元",
        "source": DecisionAlert.Source.INCOME,
        "reason": "入户核实",
        "changed_on": datetime.date(2017, 9, 10),
        **fields,
    }
    return DecisionAlert.objects.create(**fields)


@pytest.fixture
def flipped(area, personas, poor_income):
    """A real flip in each township: household A's income (township A) and household B's water (township B)."""
    edit_income(poor_income, personas.township_a, "9600")
    services.household_update(
        household_id=area.household_b.pk,
        user=personas.township_b,
        expected_version=area.household_b.version,
        data={"safe_water": False},
        reason="水源污染",
    )
    return DecisionAlert.objects.get(household=area.household_a), DecisionAlert.objects.get(household=area.household_b)


def test_the_supervisors_list_shows_the_alerts_with_their_filters(client, area, personas, flipped):
    mine, theirs = flipped
    client.force_login(personas.supervisor)
    url = reverse("supervision:decision_alerts")
    page = client.get(url).content.decode()
    assert f'data-alert-id="{mine.pk}"' in page and f'data-alert-id="{theirs.pk}"' in page
    assert "3,200.00" in page and "入户核实工资收入" in page
    only_a = client.get(url, {"township": area.township_a.code}).content.decode()
    assert f'data-alert-id="{mine.pk}"' in only_a and f'data-alert-id="{theirs.pk}"' not in only_a
    only_water = client.get(url, {"criterion": "water"}).content.decode()
    assert f'data-alert-id="{mine.pk}"' not in only_water and f'data-alert-id="{theirs.pk}"' in only_water
    only_village_b = client.get(url, {"village": area.village_b.pk}).content.decode()
    assert f'data-alert-id="{theirs.pk}"' in only_village_b and f'data-alert-id="{mine.pk}"' not in only_village_b


def test_the_days_filter_counts_back_from_today(client, area, personas):
    old = alert(area.household_a, changed_on=datetime.date(2017, 8, 16))  # 30 days before 15 Sept
    older = alert(area.household_a, changed_on=datetime.date(2017, 8, 15))
    client.force_login(personas.supervisor)
    url = reverse("supervision:decision_alerts")
    page = client.get(url).content.decode()  # the last 30 days by default
    assert f'data-alert-id="{old.pk}"' in page and f'data-alert-id="{older.pk}"' not in page
    page = client.get(url, {"days": 31}).content.decode()
    assert f'data-alert-id="{older.pk}"' in page
    bad = client.get(url, {"days": "-3"})
    assert bad.status_code == 200 and "天数应在 1–3650 之间。" in bad.content.decode()


def test_the_list_is_for_supervisors_only(client, personas):
    client.force_login(personas.township_a)
    assert client.get(reverse("supervision:decision_alerts")).status_code == 404


def test_the_household_and_village_pages_show_their_alerts(client, area, personas, flipped):
    mine, theirs = flipped
    client.force_login(personas.township_a)
    page = client.get(reverse("households:detail", args=[area.household_a.pk])).content.decode()
    assert 'data-testid="decision-alert-panel"' in page and f'data-alert-id="{mine.pk}"' in page
    page = client.get(reverse("villages:detail", args=[area.village_a.pk])).content.decode()
    assert f'data-alert-id="{mine.pk}"' in page and f'data-alert-id="{theirs.pk}"' not in page
    # Nothing flipped in 百花村: no panel.
    page = client.get(reverse("villages:detail", args=[area.village_a2.pk])).content.decode()
    assert 'data-testid="decision-alert-panel"' not in page


def test_another_township_sees_none_of_them_on_pages_and_api(client, area, personas, flipped):
    mine, theirs = flipped
    client.force_login(personas.township_b)
    assert client.get(reverse("households:detail", args=[area.household_a.pk])).status_code == 404
    page = client.get(reverse("villages:detail", args=[area.village_b.pk])).content.decode()
    assert f'data-alert-id="{theirs.pk}"' in page and f'data-alert-id="{mine.pk}"' not in page
    listed = client.get("/api/v1/decision-alerts/").json()
    assert [row["id"] for row in listed["results"]] == [theirs.pk]
    assert client.get(f"/api/v1/decision-alerts/{mine.pk}/").status_code == 404
    assert client.get(f"/api/v1/decision-alerts/{theirs.pk}/").status_code == 200


def test_the_api_lists_alerts_with_who_and_before_after(client, area, personas, flipped):
    mine, theirs = flipped
    client.force_login(personas.district_admin)
    rows = client.get("/api/v1/decision-alerts/", {"township": area.township_a.code}).json()["results"]
    assert len(rows) == 1
    row = rows[0]
    assert (row["id"], row["household"], row["village"], row["criterion"]) == (
        mine.pk,
        area.household_a.pk,
        area.village_a.pk,
        "income",
    )
    assert (row["met_before"], row["met_after"], row["changed_by"]) == (False, True, personas.township_a.pk)
    assert "3,200.00" in row["after"] and row["reason"] == "入户核实工资收入"
    assert len(client.get("/api/v1/decision-alerts/", {"criterion": "water"}).json()["results"]) == 1
    assert client.post("/api/v1/decision-alerts/", {}).status_code in (403, 405)


@pytest.mark.parametrize("extra", [0, 9])
def test_the_list_and_the_api_take_a_fixed_number_of_queries(client, area, personas, django_assert_num_queries, extra):
    for n in range(1 + extra):
        alert(area.household_a, n, changed_by=personas.township_a)
    client.force_login(personas.supervisor)
    client.get(reverse("supervision:decision_alerts"))  # warm the session
    # The savepoint and its release, session, user; the page's district (navigation); the count and the rows;
    # the filters' townships, villages and indicators; the navigation's 我的待办 and 消息 counts (one query).
    with django_assert_num_queries(11):
        page = client.get(reverse("supervision:decision_alerts")).content.decode()
    assert page.count('data-testid="decision-alert"') == 1 + extra
    # The savepoint and its release, session, user; the page of rows (no count: the API pages by cursor).
    with django_assert_num_queries(5):
        rows = client.get("/api/v1/decision-alerts/").json()
    assert len(rows["results"]) == 1 + extra


def test_a_village_population_changed_in_the_admin_moves_the_incidence_across_its_threshold(client, area, indicators):
    from django.contrib.auth import get_user_model

    from tests.test_admin import post_back, shown_values

    root = get_user_model().objects.create_superuser(username="root", password="pw-for-tests-2017")
    client.force_login(root)
    village = area.village_a  # 3 people still poor
    village.registered_population = 90  # 3.33 %: not below 3 %
    village.save()
    url = reverse("admin:villages_village_change", args=[village.pk])
    page = client.get(url)
    refused = client.post(url, {**shown_values(page), "registered_population": "120", "change_reason": " "})
    assert refused.status_code == 200 and not DecisionAlert.objects.exists()  # no reason: nothing changed

    post_back(client, url, {**shown_values(page), "registered_population": "120", "change_reason": "2017年户籍核对"})
    alert = DecisionAlert.objects.get()
    assert (alert.scope, alert.village, alert.criterion, alert.source) == ("village", village, "incidence", "village")
    assert alert.before == "贫困发生率 3.33%（3/90），不低于标准 3%"
    assert alert.after == "贫困发生率 2.50%（3/120），低于标准 3%"
    assert (alert.changed_by, alert.reason) == (root, "2017年户籍核对")


def test_the_days_rule_and_its_twin_agree_at_the_boundary(area):
    from households.models import changed_within

    today = datetime.date(2017, 9, 15)
    for day, inside in [(datetime.date(2017, 8, 16), True), (datetime.date(2017, 8, 15), False), (today, True)]:
        row = alert(area.household_a, changed_on=day)
        assert changed_within(day, 30, today) is inside
        assert DecisionAlert.objects.changed_within(30, today).filter(pk=row.pk).exists() is inside
    tomorrow = alert(area.household_a, changed_on=datetime.date(2017, 9, 16))
    assert not changed_within(tomorrow.changed_on, 30, today)
    assert not DecisionAlert.objects.changed_within(30, today).filter(pk=tomorrow.pk).exists()
