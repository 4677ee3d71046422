"""Issue 13: history with who, when, before, after and why on every record the evidence rests on.

For each model the issue lists (incomes, 帮扶责任人, villages and their 一低七有 indicators, 五个一 assignments,
inspections, accountability records, bulletins, annual goals), a write through its service (or, for reference data
maintained in the admin, through the admin) leaves a history record signed with the user and the reason, with the
values before and after. Edits to incomes and living conditions need a reason (service, API, import) and change
nothing without one. The household, member and income history in the API: scoped (another area: 404), paged, a
fixed number of queries. The pages show the same entries.
"""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from rest_framework.test import APIClient

from bazhou.core.admin import has_history
from bazhou.core.models import AnnualGoal, User
from households import services
from households.models import Household, HouseholdHelper, HouseholdIncome
from supervision import bulletin_services
from supervision import services as supervision_services
from supervision.models import Accountability, Bulletin, Inspection
from tests import factories
from tests.excel.helpers import edit
from tests.excel.test_households import COL, SHEET, export, preview, row_of
from tests.excel.test_households import apply as apply_import
from tests.test_admin import change_page, post_back, shown_values
from villages.models import AssistanceAssignment, Village, VillageIndicator

pytestmark = pytest.mark.usefixtures("pinned_today")

LISTED = [
    HouseholdIncome,
    HouseholdHelper,
    Village,
    VillageIndicator,
    AssistanceAssignment,
    Inspection,
    Accountability,
    Bulletin,
    AnnualGoal,
]
INCOMES = "/api/v1/incomes/"
HOUSEHOLDS = "/api/v1/households/"
MEMBERS = "/api/v1/members/"


def stored(obj) -> dict:
    return type(obj)._base_manager.filter(pk=obj.pk).values().get()


def latest(obj):
    return obj.history.select_related("history_user").latest()


@pytest.fixture
def income_a(area):
    return factories.income(area.household_a, 2017, wage=2297, business=3000)


@pytest.fixture
def api():
    """``api(user)``: an API client signed in as ``user`` (as tests/api/conftest.py's)."""

    def client(user):
        c = APIClient()
        c.force_login(user)
        return c

    return client


@pytest.fixture
def root(db):
    return User.objects.create_superuser(username="root", password="pw-for-tests-2017")


@pytest.fixture
def root_client(client, root):
    client.force_login(root)
    return client


@pytest.mark.parametrize("model", LISTED, ids=lambda m: m.__name__)
def test_every_listed_model_keeps_history(model):
    assert has_history(model)


# Incomes: a reason, who, before and after ----------------------------------------------------------------------------


def test_an_income_edit_is_signed_with_who_and_why_and_keeps_before_and_after(area, personas, income_a):
    services.income_update(
        income_id=income_a.pk,
        user=personas.village_cadre,
        expected=services.income_fingerprint(income_a),
        data={"wage": Decimal("3000")},
        reason="入户核实：2017年务工工资",
    )
    record = latest(income_a)
    assert (record.history_type, record.history_user, record.history_change_reason) == (
        "~",
        personas.village_cadre,
        "入户核实：2017年务工工资",
    )
    assert (record.prev_record.wage, record.wage) == (Decimal("2297.00"), Decimal("3000.00"))
    assert [c.field for c in record.diff_against(record.prev_record).changes] == ["wage"]


@pytest.mark.parametrize("reason", ["", "   "])
def test_an_income_edit_without_a_reason_is_refused_and_changes_nothing(area, personas, income_a, reason):
    before, records = stored(income_a), income_a.history.count()
    with pytest.raises(ValidationError) as error:
        services.income_update(
            income_id=income_a.pk,
            user=personas.township_a,
            expected=services.income_fingerprint(income_a),
            data={"wage": Decimal("3000")},
            reason=reason,
        )
    assert error.value.message_dict == {"reason": [services.REASON_INCOME]}
    assert stored(income_a) == before and income_a.history.count() == records


def test_an_income_recorded_through_the_service_is_signed(area, personas):
    income = services.income_create(
        household_id=area.household_a.pk, user=personas.township_a, year=2016, data={"wage": Decimal("1800")}
    )
    record = latest(income)
    assert (record.history_type, record.history_user, record.history_change_reason) == (
        "+",
        personas.township_a,
        services.INCOME_CREATED,
    )


# Living conditions (一超六有's evidence): a reason --------------------------------------------------------------------


@pytest.mark.parametrize(
    "field, value",
    [
        ("housing_grade", "D"),
        ("safe_water", False),
        ("electricity", False),
        ("radio_tv", False),
        ("road", "dirt"),
        ("sanitary_toilet", True),
    ],
)
def test_a_living_condition_change_needs_a_reason_and_is_kept_with_it(area, personas, field, value):
    household = area.household_a
    before, records = stored(household), household.history.count()
    with pytest.raises(ValidationError) as error:
        services.household_update(
            household_id=household.pk,
            user=personas.village_cadre,
            expected_version=household.version,
            data={field: value},
            reason=" ",
        )
    assert error.value.message_dict == {"reason": [services.REASON_LIVING]}
    assert stored(household) == before and household.history.count() == records

    services.household_update(
        household_id=household.pk,
        user=personas.village_cadre,
        expected_version=household.version,
        data={field: value},
        reason="2017年9月入户核查",
    )
    record = latest(household)
    assert (record.history_user, record.history_change_reason) == (personas.village_cadre, "2017年9月入户核查")
    assert getattr(record, field) == value and getattr(record.prev_record, field) == before[field]


def test_other_household_facts_still_change_without_a_reason(area, personas):
    household = area.household_a
    services.household_update(
        household_id=household.pk,
        user=personas.township_a,
        expected_version=household.version,
        data={"phone": "13900000000"},
        reason="",
    )
    household.refresh_from_db()
    assert household.phone == "13900000000" and household.version == 2


def test_a_living_condition_changed_by_the_import_has_the_file_name_as_its_reason(client, area, personas):
    content = export(client, personas.township_a)
    changed = content
    for member in area.household_a.members.all():
        changed = _set_cell(changed, f"{COL['safe_water']}{row_of(content, member)}", "否")
    result = preview(personas.township_a, changed, name="饮水核查.xlsx")
    assert result.problems == []
    apply_import(personas.township_a, changed, result.fingerprint, name="饮水核查.xlsx")
    record = latest(area.household_a)
    assert (record.safe_water, record.prev_record.safe_water) == (False, True)
    assert (record.history_user, record.history_change_reason) == (personas.township_a, "Excel 导入：饮水核查.xlsx")


def _set_cell(content, ref, value):
    return edit(content, SHEET, {ref: value})


# The API: a reason on income and living-condition writes ------------------------------------------------------------


def test_the_api_refuses_an_income_change_without_a_reason_in_chinese_and_keeps_one_with_it(api, personas, income_a):
    client = api(personas.village_cadre)
    path = f"{INCOMES}{income_a.pk}/"
    etag = client.get(path)["ETag"]
    before, records = stored(income_a), income_a.history.count()
    refused = client.patch(path, {"wage": "3000"}, HTTP_IF_MATCH=etag)
    assert refused.status_code == 400
    assert refused.json()["errors"] == {"reason": ["修改家庭年收入须填写修改原因。"]}
    assert stored(income_a) == before and income_a.history.count() == records
    saved = client.patch(path, {"wage": "3000", "reason": "入户核实"}, HTTP_IF_MATCH=etag)
    assert saved.status_code == 200, saved.json()
    record = latest(income_a)
    assert (record.history_user, record.history_change_reason, record.wage) == (
        personas.village_cadre,
        "入户核实",
        Decimal("3000.00"),
    )


def test_the_api_refuses_a_living_condition_change_without_a_reason(api, personas, area):
    household = area.household_a
    client = api(personas.township_a)
    before = stored(household)
    refused = client.patch(f"{HOUSEHOLDS}{household.pk}/", {"housing_grade": "C"}, HTTP_IF_MATCH='"1"')
    assert refused.status_code == 400
    assert refused.json()["errors"] == {"reason": [services.REASON_LIVING]}
    assert stored(household) == before
    saved = client.patch(
        f"{HOUSEHOLDS}{household.pk}/", {"housing_grade": "C", "reason": "危房鉴定为C级"}, HTTP_IF_MATCH='"1"'
    )
    assert saved.status_code == 200, saved.json()
    assert latest(household).history_change_reason == "危房鉴定为C级"


# Helpers, villages, indicators, assignments, annual goals: reference data kept in the admin ---------------------------


@pytest.fixture
def reference(area):
    class Reference:
        helper = factories.helper(area.household_a)
        indicator = factories.village_indicator(area.village_a, factories.exit_indicator(2017), met=False)
        assignment = factories.assignment(area.village_a)
        goal = AnnualGoal.objects.create(district=area.district, year=2017, name="贫困村退出", target=68, unit="个")

    return Reference


@pytest.mark.parametrize(
    "name, field, value, shown",
    [
        ("helper", "phone", "13900000002", "13900000002"),
        ("indicator", "met", "on", True),
        ("assignment", "person", "岳明", "岳明"),
        ("goal", "target", "70", Decimal("70")),
        ("village", "collective_income", "3.5", Decimal("3.5")),
    ],
)
def test_an_admin_edit_of_reference_data_is_signed_with_who_why_before_and_after(
    root_client, root, area, reference, name, field, value, shown
):
    obj = area.village_a if name == "village" else getattr(reference, name)
    before = stored(obj)
    url, page = change_page(root_client, obj)
    post_back(root_client, url, {**shown_values(page), field: value, "change_reason": "依据2017年9月核查"})
    record = latest(obj)
    assert (record.history_user, record.history_change_reason) == (root, "依据2017年9月核查")
    assert getattr(record, field) == shown
    assert getattr(record.prev_record, field) == before[field] != shown


# Inspections, accountability records, bulletins: through the supervision services ------------------------------------


def new_inspection(personas, area, **fields):
    data = {
        "title": "2017年9月明察",
        "kind": "open",
        "organiser": "poverty_office",
        "start_date": datetime.date(2017, 9, 4),
        "end_date": datetime.date(2017, 9, 8),
        **fields,
    }
    return supervision_services.inspection_create(user=personas.supervisor, data=data, townships=[area.township_a])


def test_an_inspection_and_an_accountability_record_are_signed_by_who_recorded_them(area, personas):
    inspection = new_inspection(personas, area)
    record = latest(inspection)
    assert (record.history_type, record.history_user, record.history_change_reason, record.title) == (
        "+",
        personas.supervisor,
        "录入督查",
        "2017年9月明察",
    )
    finding = factories.finding(area.village_a)
    measure = supervision_services.accountability_add(
        finding_id=finding.pk,
        user=personas.supervisor,
        data={"subject": "秦和平", "measure": "interview", "decided_on": datetime.date(2017, 9, 10)},
    )
    record = latest(measure)
    assert (record.history_type, record.history_user, record.history_change_reason, record.subject) == (
        "+",
        personas.supervisor,
        "录入责任追究",
        "秦和平",
    )


def test_a_bulletins_generation_edits_and_publication_are_signed_with_before_and_after(area, personas):
    bulletin = bulletin_services.bulletin_generate(
        user=personas.supervisor,
        today=datetime.date(2017, 9, 15),
        period_start=datetime.date(2017, 9, 1),
        period_end=datetime.date(2017, 9, 30),
    )
    old_title = bulletin.title
    bulletin_services.bulletin_update_draft(
        bulletin_id=bulletin.pk,
        user=personas.district_admin,
        expected=bulletin_services.fingerprint(bulletin),
        title="九月脱贫攻坚督查通报",
        issuer=bulletin.issuer,
        issued_on=bulletin.issued_on,
        body="正文",
    )
    bulletin.refresh_from_db()
    bulletin_services.bulletin_publish_draft(
        bulletin_id=bulletin.pk, user=personas.supervisor, expected=bulletin_services.fingerprint(bulletin)
    )
    records = list(bulletin.history.select_related("history_user").order_by("history_date", "history_id"))
    assert [(r.history_type, r.history_user, r.history_change_reason) for r in records] == [
        ("+", personas.supervisor, "生成通报草稿"),
        ("~", personas.district_admin, "修改通报草稿"),
        ("~", personas.supervisor, "发布通报"),
    ]
    assert (records[0].title, records[1].title) == (old_title, "九月脱贫攻坚督查通报")
    assert (records[1].state, records[2].state) == ("draft", "published")


# The pages show it -------------------------------------------------------------------------------------------------


def test_the_household_page_shows_an_income_edit_with_who_why_before_and_after(client, area, personas, income_a):
    services.income_update(
        income_id=income_a.pk,
        user=personas.village_cadre,
        expected=services.income_fingerprint(income_a),
        data={"wage": Decimal("3000")},
        reason="入户核实工资",
    )
    factories.helper(area.household_a, name="杜凤蓉")
    client.force_login(personas.township_a)
    page = client.get(reverse("households:detail", args=[area.household_a.pk])).content.decode()
    section = page[page.index('data-testid="history-section"') :]
    assert "修改家庭年收入：2017年" in section and "入户核实工资" in section
    assert "2,297.00 → 3,000.00" in section
    assert "新增帮扶责任人：杜凤蓉" in section
    assert str(personas.village_cadre) in section


def test_the_village_page_shows_indicator_and_assignment_changes(client, area, personas, reference):
    reference.indicator.met = True
    reference.indicator._history_user, reference.indicator._change_reason = personas.district_admin, "验收达标"
    reference.indicator.save()
    client.force_login(personas.village_cadre)
    page = client.get(reverse("villages:detail", args=[area.village_a.pk])).content.decode()
    section = page[page.index('data-testid="history-section"') :]
    assert "修改村退出指标达标情况：2017 贫困发生率低于3%" in section
    assert "否 → 是" in section and "验收达标" in section
    assert "新增帮扶力量（五个一）：第一书记 秦和平" in section


def test_the_inspection_page_and_the_bulletin_page_show_their_history(client, area, personas):
    inspection = new_inspection(personas, area)
    client.force_login(personas.supervisor)
    page = client.get(reverse("supervision:inspection", args=[inspection.pk])).content.decode()
    assert "新增督查" in page and "录入督查" in page
    bulletin = bulletin_services.bulletin_generate(
        user=personas.supervisor,
        today=datetime.date(2017, 9, 15),
        period_start=datetime.date(2017, 9, 1),
        period_end=datetime.date(2017, 9, 30),
    )
    page = client.get(reverse("supervision:bulletin", args=[bulletin.pk])).content.decode()
    assert "生成通报草稿" in page and 'data-testid="history-section"' in page
    # Readers who may not write bulletins do not see the drafts' history.
    bulletin_services.bulletin_publish_draft(
        bulletin_id=bulletin.pk, user=personas.supervisor, expected=bulletin_services.fingerprint(bulletin)
    )
    client.force_login(personas.leader)
    page = client.get(reverse("supervision:bulletin", args=[bulletin.pk]))
    assert page.status_code == 200 and 'data-testid="history-section"' not in page.content.decode()


# The API's history endpoints ---------------------------------------------------------------------------------------


def edit_income(income, user, wage, reason):
    income.refresh_from_db()
    return services.income_update(
        income_id=income.pk,
        user=user,
        expected=services.income_fingerprint(income),
        data={"wage": Decimal(wage)},
        reason=reason,
    )


def test_the_income_history_endpoint_gives_who_when_before_after_and_why(api, personas, income_a):
    edit_income(income_a, personas.village_cadre, "3000", "入户核实工资")
    body = api(personas.township_a).get(f"{INCOMES}{income_a.pk}/history/").json()
    assert body["next"] is None and body["previous"] is None
    newest, first = body["results"]
    assert newest["who"] == str(personas.village_cadre) and newest["reason"] == "入户核实工资"
    assert newest["title"] == "修改家庭年收入：2017年"
    assert newest["changes"] == [
        {"field": "wage", "label": "工资性收入（元）", "before": "2,297.00", "after": "3,000.00"}
    ]
    assert first["title"] == "新增家庭年收入：2017年"


def test_the_household_history_endpoint_has_the_household_its_members_incomes_and_helpers(
    api, personas, area, income_a
):
    services.household_update(
        household_id=area.household_a.pk,
        user=personas.township_a,
        expected_version=1,
        data={"safe_water": False},
        reason="水源枯竭",
    )
    factories.helper(area.household_a)
    body = api(personas.village_cadre).get(f"{HOUSEHOLDS}{area.household_a.pk}/history/").json()
    kinds = {e["kind"] for e in body["results"]}
    assert kinds == {"household", "member", "householdincome", "householdhelper"}
    water = next(e for e in body["results"] if e["reason"] == "水源枯竭")
    assert water["changes"] == [{"field": "safe_water", "label": "饮水安全", "before": "是", "after": "否"}]


def test_the_member_history_masks_id_numbers_for_those_who_may_not_see_them(api, personas, area):
    head = area.household_a.members.get(relation="head")
    full = api(personas.township_a).get(f"{MEMBERS}{head.pk}/history/").json()["results"]
    masked = api(personas.supervisor).get(f"{MEMBERS}{head.pk}/history/").json()["results"]
    shown = {c["field"]: c["after"] for c in full[0]["changes"]}
    hidden = {c["field"]: c["after"] for c in masked[0]["changes"]}
    assert shown["id_number"] == head.id_number
    assert hidden["id_number"] != head.id_number and "*" in hidden["id_number"]


@pytest.mark.parametrize("base", [HOUSEHOLDS, MEMBERS, INCOMES])
def test_another_areas_history_is_a_404(api, personas, area, base):
    other = {
        HOUSEHOLDS: area.household_b,
        MEMBERS: area.household_b.members.first(),
        INCOMES: factories.income(area.household_b, 2017, wage=100),
    }[base]
    response = api(personas.township_a).get(f"{base}{other.pk}/history/")
    assert response.status_code == 404
    assert api(personas.village_cadre).get(f"{HOUSEHOLDS}{area.household_b.pk}/history/").status_code == 404


def test_the_history_is_paged(api, personas, income_a):
    for i in range(4):
        edit_income(income_a, personas.township_a, str(3000 + i), f"第{i + 1}次核实")
    client = api(personas.township_a)
    first = client.get(f"{INCOMES}{income_a.pk}/history/", {"page_size": 2}).json()
    assert [e["reason"] for e in first["results"]] == ["第4次核实", "第3次核实"]
    assert first["previous"] is None
    second = client.get(first["next"]).json()
    assert [e["reason"] for e in second["results"]] == ["第2次核实", "第1次核实"]
    third = client.get(second["next"]).json()
    assert [e["title"] for e in third["results"]] == ["新增家庭年收入：2017年"] and third["next"] is None
    assert client.get(f"{INCOMES}{income_a.pk}/history/", {"page": "0"}).status_code == 400
    assert client.get(f"{INCOMES}{income_a.pk}/history/", {"page_size": "501"}).status_code == 400


def grow_history(area, personas, times):
    household = Household.objects.get(pk=area.household_a.pk)
    for i in range(times):
        household = services.household_update(
            household_id=household.pk,
            user=personas.township_a,
            expected_version=household.version,
            data={"phone": f"1390000{i:04d}"},
            reason=f"第{i}次",
        )
        factories.member(household)
        factories.helper(household)
    return household


@pytest.mark.parametrize("base", [HOUSEHOLDS, MEMBERS, INCOMES])
def test_the_history_endpoints_take_a_fixed_number_of_queries(
    api, personas, area, income_a, base, django_assert_num_queries
):
    client = api(personas.township_a)
    head = area.household_a.members.get(relation="head")
    target = {HOUSEHOLDS: area.household_a, MEMBERS: head, INCOMES: income_a}[base]
    # Savepoint (ATOMIC_REQUESTS), session, user; the record through the user's scope; its history (the
    # household's: household, members, incomes, helpers); release savepoint.
    expected = 3 + 1 + (4 if base == HOUSEHOLDS else 1) + 1
    with django_assert_num_queries(expected):
        small = client.get(f"{base}{target.pk}/history/")
    grow_history(area, personas, 10)
    for i in range(10):
        edit_income(income_a, personas.township_a, str(4000 + i), f"核实{i}")
        head.refresh_from_db()
        services.member_update(
            member_id=head.pk,
            user=personas.township_a,
            expected_version=head.version,
            data={"work_months": i + 1},
            reason="x",
        )
    with django_assert_num_queries(expected):
        large = client.get(f"{base}{target.pk}/history/")
    sizes = {HOUSEHOLDS: (5, 50), MEMBERS: (1, 11), INCOMES: (1, 11)}[base]
    assert (len(small.json()["results"]), len(large.json()["results"])) == sizes
    assert (large.json()["next"] is not None) == (base == HOUSEHOLDS)  # 55 entries: a second page.


def test_other_poverty_causes_are_shown_by_name_in_the_history(api, personas, area):
    services.household_update(
        household_id=area.household_a.pk,
        user=personas.township_a,
        expected_version=1,
        data={"other_causes": ["disability", "skills"]},
        reason="补录致贫原因",
    )
    body = api(personas.township_a).get(f"{HOUSEHOLDS}{area.household_a.pk}/history/").json()
    entry = next(e for e in body["results"] if e["reason"] == "补录致贫原因")
    assert entry["changes"] == [
        {"field": "other_causes", "label": "其他致贫原因", "before": "–", "after": "因残、缺技术"}
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("param", ["page", "page_size"])
@pytest.mark.parametrize("value", ["²", "٣", "99999999999999999999999", "-1", "0", "x"])
def test_odd_paging_of_a_history_is_a_chinese_400(personas, area, param, value):
    client = APIClient()
    client.force_authenticate(personas.district_admin)
    response = client.get(f"/api/v1/households/{area.household_a.pk}/history/", {param: value})
    assert response.status_code == 400
    assert "应为" in str(response.json())
