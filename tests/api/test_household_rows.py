"""The household list is written from values() rows (households.api.HouseholdRows), not through HouseholdSerializer:
the two must give the same JSON, byte for byte, for households with every field filled (other causes, head, members,
income, readiness), with ID numbers in full for who sees them and masked for everyone else; and the list keeps a
fixed number of queries."""

import datetime

import pytest
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIRequestFactory

from bazhou.core import idnumbers
from households.api import HouseholdSerializer
from households.models import Household
from households.readiness import plan_year, readiness_for
from households.views import active_member_count, head
from tests import factories
from tests.api.helpers import results

HOUSEHOLDS = "/api/v1/households/"
UPDATED = datetime.datetime(2017, 9, 14, 16, 30, 0, 120000, tzinfo=datetime.UTC)


@pytest.fixture
def registry(area):
    """Township A's households: one with every field filled and an income above the line, one with no member."""
    factories.poverty_line(2017)
    filled = factories.household(
        area.village_a,
        members=3,
        group="三组",
        phone="13900000000",
        attribute="dibao",
        main_cause="disability",
        other_causes=["illness", "schooling"],
        status=Household.Status.EXITED,
        planned_exit_year=2016,
        exit_year=2017,
        housing_grade="A",
        safe_water=True,
        electricity=True,
        radio_tv=True,
        sanitary_toilet=True,
    )
    factories.income(filled, 2017, wage=20000)
    Household.objects.filter(pk=filled.pk).update(version=4, updated_at=UPDATED)
    empty = factories.household(area.village_a, members=0, main_cause="schooling")
    return {"filled": filled, "empty": empty}


def serializer_rows(ids: list[int], user) -> list[dict]:
    """The same households through HouseholdSerializer, as the single-row path reads and decorates them."""
    households = {
        h.pk: h
        for h in Household.objects.filter(pk__in=ids)
        .select_related("village__township")
        .annotate(head_name=head("name"), head_id_number=head("id_number"), member_count=active_member_count())
    }
    readiness = readiness_for(list(households.values()), plan_year())
    for household in households.values():
        household.readiness = readiness[household.pk]
    request = APIRequestFactory().get(HOUSEHOLDS)
    request.user = user
    context = {"request": request, "today": datetime.date(2017, 9, 15)}
    return [HouseholdSerializer(households[pk], context=context).data for pk in ids]


@pytest.mark.parametrize("who", ["district_admin", "township_a", "supervisor", "leader"])
def test_the_list_writes_what_the_serializer_writes_byte_for_byte(api, personas, area, registry, who):
    user = getattr(personas, who)
    listed = results(api(user).get(HOUSEHOLDS + "?ordering=-id"))
    assert {registry["filled"].pk, registry["empty"].pk} <= {row["id"] for row in listed}
    expected = serializer_rows([row["id"] for row in listed], user)
    assert JSONRenderer().render(listed) == JSONRenderer().render(expected)
    assert [list(row) for row in listed] == [list(row) for row in expected]


def test_a_supervisor_sees_the_head_s_number_masked_and_an_admin_in_full(api, personas, registry):
    filled = registry["filled"]
    number = filled.members.get(relation="head").id_number
    (admin_row,) = [r for r in results(api(personas.district_admin).get(HOUSEHOLDS)) if r["id"] == filled.pk]
    (supervisor_row,) = [r for r in results(api(personas.supervisor).get(HOUSEHOLDS)) if r["id"] == filled.pk]
    assert admin_row["head_id_number"] == number
    assert supervisor_row["head_id_number"] == idnumbers.mask(number) != number
    assert number not in str(results(api(personas.supervisor).get(HOUSEHOLDS)))


def test_a_household_row_is_written_as_the_api_has_always_written_it(api, personas, area, registry):
    filled = registry["filled"]
    (row,) = [r for r in results(api(personas.district_admin).get(HOUSEHOLDS)) if r["id"] == filled.pk]
    readiness = row.pop("readiness")
    assert row == {
        "id": filled.pk,
        "number": filled.number,
        "village": area.village_a.pk,
        "village_name": "茅垭村",
        "township": area.township_a.pk,
        "township_name": "白庙乡",
        "group": "三组",
        "phone": "13900000000",
        "attribute": "dibao",
        "attribute_display": "低保贫困户",
        "main_cause": "disability",
        "main_cause_display": "因残",
        "other_causes": ["illness", "schooling"],
        "identified_year": 2014,
        "status": "exited",
        "status_display": "已脱贫",
        "planned_exit_year": 2016,
        "exit_year": 2017,
        "relapse_year": None,
        "housing_grade": "A",
        "safe_water": True,
        "electricity": True,
        "radio_tv": True,
        "road": filled.road,
        "sanitary_toilet": True,
        "head_name": "成员",
        "head_id_number": filled.members.get(relation="head").id_number,
        "member_count": 3,
        "version": 4,
        "updated_at": "2017-09-15T00:30:00.120000+08:00",
    }
    assert readiness["year"] == plan_year() and len(readiness["criteria"]) == 7
    assert list(readiness["criteria"][0]) == ["code", "name", "met", "reason"]
    (empty,) = [r for r in results(api(personas.district_admin).get(HOUSEHOLDS)) if r["id"] == registry["empty"].pk]
    assert empty["head_name"] is None and empty["head_id_number"] is None and empty["member_count"] == 0


def test_the_list_takes_the_same_queries_at_5_and_32_households(
    api, personas, area, registry, django_assert_num_queries
):
    client = api(personas.district_admin)
    factories.household(area.village_a2)
    # savepoint; session; user; the page (head and member count as subqueries); readiness: active members, the
    # year's incomes, the poverty line; release savepoint.
    with django_assert_num_queries(8):
        small = results(client.get(HOUSEHOLDS))
    for _ in range(27):
        factories.household(area.village_a2, members=2)
    with django_assert_num_queries(8):
        large = results(client.get(HOUSEHOLDS + "?ordering=-identified_year"))
    assert len(small) == 5 and len(large) == 32  # with the area's household in each township
