"""Writing the registry (建档立卡) through the API: households, members and yearly incomes, by the same rules as the
plan rows: who may write where, If-Match on every change, Chinese messages in DRF's shape, fields that are not
writable, history with who and why, ID numbers written in the body and shown masked by role, no hard delete."""

import datetime
from decimal import Decimal

import pytest

from bazhou.core import idnumbers
from households.models import Household, HouseholdIncome, Member
from tests import factories
from tests.api.helpers import if_match, results
from tests.api.test_schema_and_docs import check, openapi  # noqa: F401 (the response-validation fixtures)

pytestmark = pytest.mark.usefixtures("pinned_today")

HOUSEHOLDS = "/api/v1/households/"
MEMBERS = "/api/v1/members/"
INCOMES = "/api/v1/incomes/"
READ_ONLY = {"detail": "您的角色只能查看，不能修改建档立卡信息。", "code": "permission_denied", "errors": {}}
NOT_FOUND = {"detail": "未找到。", "code": "not_found", "errors": {}}


def url(base: str, row) -> str:
    return f"{base}{row.pk}/"


def new_household(village, **fields) -> dict:
    return {
        "village": village.pk,
        "number": "5119022040070999",
        "main_cause": "illness",
        "identified_year": 2016,
        **fields,
    }


def new_member(household, **fields) -> dict:
    return {
        "household": household.pk,
        "name": "王小芳",
        "sex": "female",
        "id_number": factories.id_number(male=False),
        "relation": "daughter",
        **fields,
    }


def snapshot(row) -> dict:
    """Everything stored about a household, member or income, and its history, to show a refused write changed
    nothing."""
    stored = type(row).objects.filter(pk=row.pk).values().get()
    history = row.history.count() if hasattr(row, "history") else None
    return {**stored, "history": history}


def registry() -> tuple[int, int, int]:
    return Household.objects.count(), Member.objects.count(), HouseholdIncome.objects.count()


@pytest.fixture
def income_a(area):
    return factories.income(area.household_a, 2017, wage=9000)


@pytest.fixture
def household_a2(area):
    """A household of township A's other village: the village cadre (茅垭村) may not touch it."""
    return factories.household(area.village_a2)


# ---------------------------------------------------------------------------------------------
# Households
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["district_admin", "township_a", "village_cadre"])
def test_area_staff_register_a_household_in_their_village_with_its_history(api, personas, area, persona):
    user = getattr(personas, persona)
    response = api(user).post(
        HOUSEHOLDS,
        new_household(
            area.village_a, status="planned", planned_exit_year=2018, other_causes=["skills"], reason="新识别"
        ),
    )
    assert response.status_code == 201, response.json()
    assert response["ETag"] == '"1"'
    body = response.json()
    assert (body["village_name"], body["township"], body["status_display"]) == ("茅垭村", "511902204", "计划脱贫")
    assert body["other_causes"] == ["skills"] and body["member_count"] == 0 and body["version"] == 1
    household = Household.objects.get(pk=body["id"])
    (entry,) = household.history.all()
    assert (entry.history_type, entry.history_user, entry.history_change_reason) == ("+", user, "新识别")


@pytest.mark.parametrize(
    ("persona", "village"),
    [("township_b", "village_a"), ("village_cadre", "village_a2"), ("township_a", "village_b")],
)
def test_a_household_in_a_village_outside_the_users_area_is_refused_and_nothing_is_registered(
    api, personas, area, persona, village
):
    before = registry()
    response = api(getattr(personas, persona)).post(HOUSEHOLDS, new_household(getattr(area, village)))
    assert response.status_code == 400
    assert response.json()["errors"] == {"village": ["该村不存在。"]}
    assert api(personas.district_admin).post(HOUSEHOLDS, {**new_household(area.village_a), "village": 99999}).json()[
        "errors"
    ] == {"village": ["该村不存在。"]}
    assert registry() == before


def test_a_household_must_pass_the_registrys_rules_and_nothing_is_registered_otherwise(api, personas, area):
    client = api(personas.township_a)
    before = registry()
    response = client.post(HOUSEHOLDS, new_household(area.village_a, status="planned", exit_year=2015))
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "exit_year": ["脱贫年度不能早于识别年度。"],
        "planned_exit_year": ["计划脱贫的户须填写计划脱贫年度。"],
    }
    duplicate = client.post(HOUSEHOLDS, new_household(area.village_a, number=area.household_a.number))
    assert duplicate.status_code == 400 and duplicate.json()["errors"] == {"number": ["具有 户编号 的 贫困户 已存在。"]}
    causes = client.post(HOUSEHOLDS, new_household(area.village_a, other_causes=["illness"]))
    assert causes.json()["errors"] == {"other_causes": ["其他致贫原因不能包含主要致贫原因。"]}
    missing = client.post(HOUSEHOLDS, {"village": area.village_a.pk, "number": "X1"})
    assert missing.json()["errors"] == {"main_cause": ["该字段是必填项。"], "identified_year": ["该字段是必填项。"]}
    assert registry() == before


def test_years_amounts_and_months_out_of_range_are_refused_in_chinese(api, personas, area):
    client = api(personas.township_a)
    before = registry()
    for year in (10**12, 1990, 2101):
        response = client.post(HOUSEHOLDS, new_household(area.village_a, identified_year=year))
        assert response.status_code == 400
        assert response.json()["errors"] == {"identified_year": ["年度应为 2000–2100 之间的年份。"]}
    income = client.post(INCOMES, {"household": area.household_a.pk, "year": 2016, "wage": "1e20", "pension": "1.234"})
    assert income.json()["errors"] == {"wage": ["金额过大，请核对。"], "pension": ["金额以元为单位，最多两位小数。"]}
    months = client.post(MEMBERS, new_member(area.household_a, work_months=13))
    assert months.json()["errors"] == {"work_months": ["务工时间应在 0–12 个月之间。"]}
    assert registry() == before


def test_a_household_registered_by_a_form_keeps_the_defaults_of_the_yes_no_fields_left_out(api, personas, area):
    response = api(personas.township_a).post(HOUSEHOLDS, new_household(area.village_a), format="multipart")
    assert response.status_code == 201, response.json()
    household = Household.objects.get(pk=response.json()["id"])
    assert (household.safe_water, household.electricity, household.radio_tv, household.sanitary_toilet) == (
        True,
        True,
        True,
        False,
    )


def test_a_household_change_with_the_current_version_is_saved_with_who_and_why(api, personas, area):
    client = api(personas.village_cadre)
    assert client.get(url(HOUSEHOLDS, area.household_a))["ETag"] == '"1"'
    response = client.patch(
        url(HOUSEHOLDS, area.household_a),
        {"housing_grade": "C", "phone": "13800000000", "reason": "入户核实"},
        **if_match(1),
    )
    assert response.status_code == 200, response.json()
    assert response["ETag"] == '"2"'
    body = response.json()
    assert (body["housing_grade"], body["phone"], body["version"]) == ("C", "13800000000", 2)
    housing = {c["code"]: c["met"] for c in body["readiness"]["criteria"]}["housing"]
    assert housing is False  # a C-grade house: 有住房安全保障 no longer met
    area.household_a.refresh_from_db()
    assert (area.household_a.housing_grade, area.household_a.version) == ("C", 2)
    latest = area.household_a.history.first()
    assert (latest.history_user, latest.history_change_reason, latest.prev_record.housing_grade) == (
        personas.village_cadre,
        "入户核实",
        "A",
    )


def test_a_household_change_that_changes_nothing_keeps_the_version(api, personas, area):
    response = api(personas.township_a).patch(
        url(HOUSEHOLDS, area.household_a), {"main_cause": "illness"}, **if_match(1)
    )
    assert response.status_code == 200 and response["ETag"] == '"1"'
    assert area.household_a.history.count() == 1


def test_a_full_household_update_needs_the_required_fields(api, personas, area):
    before = snapshot(area.household_a)
    response = api(personas.township_a).put(url(HOUSEHOLDS, area.household_a), {"phone": "1"}, **if_match(1))
    assert response.status_code == 400
    assert response.json()["errors"] == {"main_cause": ["该字段是必填项。"], "identified_year": ["该字段是必填项。"]}
    assert snapshot(area.household_a) == before
    full = {"main_cause": "disability", "identified_year": 2014, "status": "planned", "planned_exit_year": 2017}
    assert api(personas.township_a).put(url(HOUSEHOLDS, area.household_a), full, **if_match(1)).status_code == 200


def test_a_household_change_without_if_match_is_428_and_a_stale_one_412_and_neither_changes_anything(
    api, personas, area
):
    first, second = api(personas.township_a), api(personas.district_admin)
    before = snapshot(area.household_a)
    missing = first.patch(url(HOUSEHOLDS, area.household_a), {"phone": "1"})
    assert missing.status_code == 428 and "If-Match" in missing.json()["detail"]
    assert snapshot(area.household_a) == before
    assert first.patch(url(HOUSEHOLDS, area.household_a), {"phone": "13900000000"}, **if_match(1)).status_code == 200
    before = snapshot(area.household_a)
    stale = second.patch(url(HOUSEHOLDS, area.household_a), {"phone": "13700000000"}, **if_match(1))
    assert stale.status_code == 412
    body = stale.json()
    assert body["code"] == "stale_version"
    assert body["current"]["phone"] == "13900000000" and body["current"]["version"] == 2
    assert body["changed_by"] == str(personas.township_a) and body["changed_at"]
    assert stale["ETag"] == '"2"'
    assert snapshot(area.household_a) == before


def test_fields_that_are_not_writable_are_refused_by_name_and_nothing_changes(api, personas, area):
    client = api(personas.district_admin)
    before = snapshot(area.household_a)
    response = client.patch(
        url(HOUSEHOLDS, area.household_a),
        {
            "id": 99,
            "version": 7,
            "village": area.village_b.pk,
            "number": "X",
            "created_by": personas.leader.pk,
            "head_name": "某",
            "phone": "1",
        },
        **if_match(1),
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "created_by": ["该字段不能修改。"],
        "head_name": ["该字段不能修改。"],
        "id": ["该字段不能修改。"],
        "number": ["户编号不能修改。"],
        "version": ["该字段不能修改。"],
        "village": ["户所属的村不能修改。"],
    }
    assert snapshot(area.household_a) == before
    created = client.post(HOUSEHOLDS, new_household(area.village_a, version=3, created_by=personas.leader.pk))
    assert created.json()["errors"] == {"created_by": ["该字段不能修改。"], "version": ["该字段不能修改。"]}


@pytest.mark.parametrize(
    ("persona", "household"),
    [("township_b", "household_a"), ("village_cadre", "household_a2"), ("township_a", "household_b")],
)
def test_another_areas_household_is_404_to_change_and_stays_unchanged(
    api, personas, area, household_a2, persona, household
):
    row = household_a2 if household == "household_a2" else getattr(area, household)
    before = snapshot(row)
    response = api(getattr(personas, persona)).patch(url(HOUSEHOLDS, row), {"phone": "1"}, **if_match(1))
    assert response.status_code == 404 and response.json() == NOT_FOUND
    assert snapshot(row) == before


# ---------------------------------------------------------------------------------------------
# Supervisors and leaders read only
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["supervisor", "leader"])
def test_supervisors_and_leaders_may_not_write_the_registry(api, personas, area, income_a, persona):
    client = api(getattr(personas, persona))
    member = area.household_a.members.filter(relation="son").first()
    rows = [area.household_a, member]
    before = [snapshot(row) for row in rows], registry()
    attempts = [
        client.post(HOUSEHOLDS, new_household(area.village_a)),
        client.patch(url(HOUSEHOLDS, area.household_a), {"phone": "1"}, **if_match(1)),
        client.post(MEMBERS, new_member(area.household_a)),
        client.patch(url(MEMBERS, member), {"name": "改"}, **if_match(1)),
        client.patch(url(MEMBERS, member), {"is_active": False, "reason": "迁出"}, **if_match(1)),
        client.post(INCOMES, {"household": area.household_a.pk, "year": 2016, "wage": "100"}),
        client.patch(url(INCOMES, income_a), {"wage": "1"}, HTTP_IF_MATCH=client.get(url(INCOMES, income_a))["ETag"]),
    ]
    for response in attempts:
        assert response.status_code == 403, response.json()
        assert response.json() == READ_ONLY
    assert ([snapshot(row) for row in rows], registry()) == before
    income_a.refresh_from_db()
    assert income_a.wage == Decimal("9000")


# ---------------------------------------------------------------------------------------------
# Members
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["district_admin", "township_a", "village_cadre"])
def test_area_staff_add_a_member_whose_id_number_is_shown_masked_to_supervisors_and_leaders(
    api, personas, area, persona
):
    user = getattr(personas, persona)
    number = factories.id_number(male=False)
    response = api(user).post(MEMBERS, new_member(area.household_a, id_number=number, reason="新生儿落户"))
    assert response.status_code == 201, response.json()
    assert response["ETag"] == '"1"'
    body = response.json()
    assert (body["id_number"], body["is_active"], body["relation_display"]) == (number, True, "之女")
    member = Member.objects.get(pk=body["id"])
    assert member.history.get().history_change_reason == "新生儿落户" and member.history.get().history_user == user
    for reader in (personas.supervisor, personas.leader):
        shown = api(reader).get(url(MEMBERS, member)).json()["id_number"]
        assert shown == number[:6] + "********" + number[-4:]
    assert api(personas.district_admin).get(HOUSEHOLDS + f"{area.household_a.pk}/").json()["member_count"] == 4


def test_an_id_number_is_upper_cased_and_checked_like_the_registry_and_a_bad_one_adds_no_one(api, personas, area):
    client = api(personas.township_a)
    before = registry()
    for number, message in [
        ("511902197005011234", "身份证号校验码错误，请核对后重新输入。"),
        ("5119021970", "身份证号应为18位：前17位为数字，最后一位为数字或X。"),
        ("511902197002301236", "身份证号中的出生日期 19700230 不存在。"),
    ]:
        response = client.post(MEMBERS, new_member(area.household_a, id_number=number))
        assert response.status_code == 400
        assert response.json()["errors"] == {"id_number": [message]}
    assert client.post(MEMBERS, new_member(area.household_a, sex="male")).json()["errors"] == {
        "sex": ["性别与身份证号第17位不符。"]
    }
    assert registry() == before
    # A woman's number (even sequence) whose check digit is X; not from factories.id_number, whose next 40 numbers
    # depend on how many it gave before in this worker and did not always hold one.
    women = (idnumbers.build("511902", datetime.date(1988, 8, 8), sequence) for sequence in range(0, 1000, 2))
    with_x = next(n for n in women if n.endswith("X"))
    made = client.post(MEMBERS, new_member(area.household_a, id_number=with_x.lower()))
    assert made.status_code == 201 and made.json()["id_number"] == with_x


def test_a_person_active_in_another_household_or_a_second_head_is_refused(api, personas, area):
    client = api(personas.district_admin)
    elsewhere = area.household_b.members.get(relation="head").id_number
    before = registry()
    response = client.post(MEMBERS, new_member(area.household_a, id_number=elsewhere, sex="male"))
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "non_field_errors": ["该身份证号已登记为另一在册成员，同一人不能在两户中同时在册。"]
    }
    second_head = client.post(MEMBERS, new_member(area.household_a, relation="head"))
    assert second_head.json()["errors"] == {"non_field_errors": ["每户只能有一名户主。"]}
    son = area.household_a.members.filter(relation="son").first()
    before_son = snapshot(son)
    changed = client.patch(url(MEMBERS, son), {"id_number": elsewhere}, **if_match(1))
    assert changed.status_code == 400
    assert changed.json()["errors"] == {
        "non_field_errors": ["该身份证号已登记为另一在册成员，同一人不能在两户中同时在册。"]
    }
    assert registry() == before and snapshot(son) == before_son


def test_a_member_changed_with_the_current_version_gets_a_new_id_number_and_history(api, personas, area):
    son = area.household_a.members.filter(relation="son").first()
    number = factories.id_number()
    response = api(personas.village_cadre).patch(
        url(MEMBERS, son), {"id_number": number, "health": "disabled", "reason": "更正身份证号"}, **if_match(1)
    )
    assert response.status_code == 200, response.json()
    assert response["ETag"] == '"2"'
    assert (response.json()["id_number"], response.json()["health_display"]) == (number, "残疾")
    son.refresh_from_db()
    assert (son.id_number, son.version) == (number, 2)
    latest = son.history.first()
    assert (latest.history_user, latest.history_change_reason) == (personas.village_cadre, "更正身份证号")


def test_a_member_change_without_if_match_is_428_and_a_stale_one_412_and_neither_changes_anything(api, personas, area):
    son = area.household_a.members.filter(relation="son").first()
    client = api(personas.township_a)
    before = snapshot(son)
    assert client.patch(url(MEMBERS, son), {"name": "改"}).status_code == 428
    assert snapshot(son) == before
    assert api(personas.village_cadre).patch(url(MEMBERS, son), {"name": "张小兵"}, **if_match(1)).status_code == 200
    before = snapshot(son)
    stale = client.patch(url(MEMBERS, son), {"name": "张大兵"}, **if_match(1))
    assert stale.status_code == 412
    assert stale.json()["current"]["name"] == "张小兵" and stale.json()["current"]["version"] == 2
    assert stale.json()["changed_by"] == str(personas.village_cadre) and stale["ETag"] == '"2"'
    assert snapshot(son) == before


def test_a_member_stays_in_their_household_and_is_added_active(api, personas, area):
    son = area.household_a.members.filter(relation="son").first()
    client = api(personas.district_admin)
    before = snapshot(son), registry()
    moved = client.patch(url(MEMBERS, son), {"household": area.household_b.pk, "version": 5, "id": 1}, **if_match(1))
    assert moved.status_code == 400
    assert moved.json()["errors"] == {
        "household": ["成员所属的户不能修改。"],
        "id": ["该字段不能修改。"],
        "version": ["该字段不能修改。"],
    }
    inactive = client.post(MEMBERS, new_member(area.household_a, is_active=False))
    assert inactive.status_code == 400 and list(inactive.json()["errors"]) == ["is_active"]
    assert (snapshot(son), registry()) == before


def test_members_of_another_area_are_404_to_change_and_their_households_do_not_exist_to_add_to(
    api, personas, area, household_a2
):
    member = area.household_a.members.filter(relation="son").first()
    before = snapshot(member), registry()
    client = api(personas.township_b)
    assert client.patch(url(MEMBERS, member), {"name": "改"}, **if_match(1)).json() == NOT_FOUND
    assert client.patch(url(MEMBERS, member), {"is_active": False, "reason": "迁出"}, **if_match(1)).status_code == 404
    added = client.post(MEMBERS, new_member(area.household_a))
    assert added.status_code == 400 and added.json()["errors"] == {"household": ["该户不存在。"]}
    cadre = api(personas.village_cadre).post(MEMBERS, new_member(household_a2))
    assert cadre.json()["errors"] == {"household": ["该户不存在。"]}
    assert (snapshot(member), registry()) == before


def test_a_member_leaves_by_an_update_with_a_reason_and_is_never_deleted(api, personas, area):
    son = area.household_a.members.filter(relation="son").first()
    client = api(personas.township_a)
    before = snapshot(son)
    no_reason = client.patch(url(MEMBERS, son), {"is_active": False}, **if_match(1))
    assert no_reason.status_code == 400
    assert no_reason.json()["errors"] == {"reason": ["成员不再在册（迁出、死亡或注销）须填写原因。"]}
    assert snapshot(son) == before
    left = client.patch(url(MEMBERS, son), {"is_active": False, "reason": "婚迁"}, **if_match(1))
    assert left.status_code == 200, left.json()
    assert left.json()["is_active"] is False and left["ETag"] == '"2"'
    son.refresh_from_db()
    assert son.is_active is False
    assert son.history.first().history_change_reason == "不再在册：婚迁"
    assert client.get(url(HOUSEHOLDS, area.household_a)).json()["member_count"] == 2
    # The person may now be registered in another household; the one who left stays as they were.
    assert client.delete(url(MEMBERS, son)).status_code == 405
    again = client.patch(url(MEMBERS, son), {"name": "改", "is_active": True}, **if_match(2))
    assert again.status_code == 400
    assert again.json()["errors"] == {"is_active": ["该成员已不在册（迁出、死亡或注销），不能再修改。"]}
    moved_in = api(personas.district_admin).post(
        MEMBERS, new_member(area.household_b, id_number=son.id_number, sex="male", relation="son")
    )
    assert moved_in.status_code == 201, moved_in.json()
    assert Member.objects.filter(pk=son.pk).exists()


# ---------------------------------------------------------------------------------------------
# Incomes
# ---------------------------------------------------------------------------------------------


def test_area_staff_record_a_years_income_once_per_household_and_year(api, personas, area, income_a):
    client = api(personas.village_cadre)
    response = client.post(
        INCOMES, {"household": area.household_a.pk, "year": 2016, "wage": "6000", "business_expenses": "300.50"}
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["wage"], body["business"], body["net_income"], body["per_capita_net"]) == (
        "6000.00",
        "0.00",
        "5699.50",
        "1899.83",
    )
    assert response["ETag"] == client.get(f"{INCOMES}{body['id']}/")["ETag"]
    before = registry()
    twice = client.post(INCOMES, {"household": area.household_a.pk, "year": 2017, "wage": "1"})
    assert twice.status_code == 400 and twice.json()["errors"] == {"non_field_errors": ["该户本年度已有收入记录。"]}
    negative = client.post(INCOMES, {"household": area.household_a.pk, "year": 2015, "dibao": "-1"})
    assert negative.json()["errors"] == {"dibao": ["收入和支出金额不能为负数。"]}
    outside = api(personas.township_b).post(INCOMES, {"household": area.household_a.pk, "year": 2015})
    assert outside.json()["errors"] == {"household": ["该户不存在。"]}
    assert registry() == before


def test_an_income_change_needs_the_etag_it_was_read_with(api, personas, area, income_a):
    first, second = api(personas.township_a), api(personas.district_admin)
    path = url(INCOMES, income_a)
    etag = first.get(path)["ETag"]
    before = snapshot(income_a)
    assert first.patch(path, {"wage": "1"}).status_code == 428
    assert first.patch(path, {"year": 2016, "household": area.household_b.pk}, HTTP_IF_MATCH=etag).json()["errors"] == {
        "household": ["收入所属的户不能修改。"],
        "year": ["收入的年度不能修改；另一年度的收入请新增一条。"],
    }
    assert snapshot(income_a) == before
    changed = first.patch(path, {"wage": "12000", "pension": "1200", "reason": "入户核实"}, HTTP_IF_MATCH=etag)
    assert changed.status_code == 200, changed.json()
    assert changed.json()["net_income"] == "13200.00" and changed["ETag"] != etag
    before = snapshot(income_a)
    stale = second.patch(path, {"wage": "1"}, HTTP_IF_MATCH=etag)
    assert stale.status_code == 412
    assert stale.json()["current"]["wage"] == "12000.00" and stale["ETag"] == changed["ETag"]
    assert snapshot(income_a) == before
    assert api(personas.township_b).patch(path, {"wage": "1"}, HTTP_IF_MATCH=changed["ETag"]).json() == NOT_FOUND
    assert snapshot(income_a) == before


def test_a_members_arrival_does_not_make_the_income_etag_stale(api, personas, area, income_a):
    client = api(personas.township_a)
    etag = client.get(url(INCOMES, income_a))["ETag"]
    assert client.post(MEMBERS, new_member(area.household_a)).status_code == 201
    changed = client.patch(url(INCOMES, income_a), {"wage": "9500", "reason": "入户核实"}, HTTP_IF_MATCH=etag)
    assert changed.status_code == 200


# ---------------------------------------------------------------------------------------------
# The schema, and the lists after writes
# ---------------------------------------------------------------------------------------------


def test_the_registry_writes_and_their_errors_match_the_schema(api, personas, area, income_a, check):  # noqa: F811
    client = api(personas.township_a)
    household = check(client.post(HOUSEHOLDS, new_household(area.village_a)))
    assert household.status_code == 201
    path = f"{HOUSEHOLDS}{household.json()['id']}/"
    check(client.patch(path, {"group": "3组"}, **if_match(1)))  # 200
    check(client.patch(path, {"group": "4组"}))  # 428
    check(client.patch(path, {"group": "4组"}, **if_match(1)))  # 412
    check(client.patch(path, {"village": area.village_a2.pk}, **if_match(2)))  # 400
    check(api(personas.leader).patch(path, {"group": "4组"}, **if_match(2)))  # 403
    check(api(personas.township_b).patch(path, {"group": "4组"}, **if_match(2)))  # 404
    member = check(client.post(MEMBERS, new_member(area.household_a)))
    assert member.status_code == 201
    check(client.patch(f"{MEMBERS}{member.json()['id']}/", {"is_active": False, "reason": "迁出"}, **if_match(1)))
    check(client.post(MEMBERS, new_member(area.household_a, id_number="511902197005011234")))  # 400
    check(client.post(INCOMES, {"household": area.household_a.pk, "year": 2016, "wage": "100"}))
    etag = client.get(url(INCOMES, income_a))["ETag"]
    check(client.put(url(INCOMES, income_a), {"wage": "100"}, HTTP_IF_MATCH=etag))


def test_the_lists_still_list_what_was_written(api, personas, area):
    client = api(personas.township_a)
    household = client.post(HOUSEHOLDS, new_household(area.village_a)).json()
    client.post(MEMBERS, new_member(Household.objects.get(pk=household["id"]), relation="head"))
    listed = {row["id"]: row for row in results(client.get(HOUSEHOLDS))}
    assert listed[household["id"]]["member_count"] == 1 and listed[household["id"]]["head_name"] == "王小芳"
