"""Masking that holds (issue 17): a role that sees 511902********1179 gets nothing that narrows the number down (no
age, no lookup that confirms a guess), lookups are rate-limited, messages never name another area's rows, filters
answer an out-of-area id as they answer a non-existent one, and inspections reach an area's users only when they
are announced inspections of that area or their results were given to it."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from bazhou.core import access, idnumbers
from bazhou.core.models import Role
from households import imports
from households.exports import KEYS
from households.models import IdNumberLookup, Member
from supervision import services as supervision_services
from tests import factories
from tests.excel.helpers import body, calamine_rows, edit
from tests.jobs import get_file

pytestmark = pytest.mark.usefixtures("pinned_today")

LIST = reverse("households:list")
LOOKUP = "/api/v1/households/lookup/"
TODAY = datetime.date(2017, 9, 15)


def api(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def a_member(household, born=datetime.date(1981, 7, 9), sequence=123, **fields) -> Member:
    return factories.member(
        household, id_number=idnumbers.build("511902", born, sequence), male=sequence % 2 == 1, **fields
    )


# Age -----------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["supervisor", "leader"])
def test_roles_that_see_masked_numbers_get_no_age_on_the_page_or_in_the_api(client, area, personas, persona):
    member = a_member(area.household_a, name="王大明")
    user = getattr(personas, persona)
    client.force_login(user)
    page = client.get(reverse("households:detail", args=[area.household_a.pk])).content.decode()
    assert member.masked_id_number in page and member.id_number not in page
    assert '<th class="num">年龄</th>' not in page
    row = api(user).get(f"/api/v1/members/{member.pk}/").json()
    assert (row["id_number"], row["age"]) == (member.masked_id_number, None)


def test_roles_that_see_full_numbers_still_get_the_age(client, area, personas):
    member = a_member(area.household_a)
    client.force_login(personas.township_a)
    page = client.get(reverse("households:detail", args=[area.household_a.pk])).content.decode()
    assert '<th class="num">年龄</th>' in page and member.id_number in page
    assert api(personas.township_a).get(f"/api/v1/members/{member.pk}/").json()["age"] == 36


def test_an_out_of_school_child_is_named_without_an_age(client, area, personas):
    a_member(area.household_a, born=datetime.date(2006, 3, 14), sequence=125, name="王小学", school="none")
    client.force_login(personas.supervisor)
    page = client.get(reverse("households:detail", args=[area.household_a.pk])).content.decode()
    assert "王小学处于义务教育年龄（6–15岁）但未在校" in page and "11岁" not in page


# Lookup by ID number -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["supervisor", "leader"])
def test_the_api_lookup_is_refused_to_roles_that_see_masked_numbers(area, personas, persona):
    member = a_member(area.household_a)
    response = api(getattr(personas, persona)).post(LOOKUP, {"id_number": member.id_number}, format="json")
    assert response.status_code == 403
    assert response.json() == {"detail": access.ID_LOOKUP_REFUSED, "code": "permission_denied", "errors": {}}
    assert area.household_a.number not in response.content.decode()
    assert not IdNumberLookup.objects.exists()


@pytest.mark.parametrize("persona", ["supervisor", "leader"])
def test_the_page_search_by_id_number_is_not_offered_and_refused_to_roles_that_see_masked_numbers(
    client, area, personas, persona
):
    member = a_member(area.household_a)
    client.force_login(getattr(personas, persona))
    page = client.get(LIST).content.decode()
    assert 'data-testid="id-number-search"' not in page
    response = client.post(LIST, {"id_number": member.id_number}, follow=False)
    assert response.status_code == 403
    text = response.content.decode()
    assert access.ID_LOOKUP_REFUSED in text
    assert list(response.context["page_obj"]) == [] and member.id_number not in text
    # Typed into the name/number box, it is refused with a message that does not point to a search they lack.
    refused = client.get(LIST, {"q": member.id_number})
    assert "不能按身份证号查找" in refused.content.decode()


def test_lookups_are_limited_per_user_page_and_api_together(client, area, personas):
    member = a_member(area.household_a)
    admin = api(personas.district_admin)
    client.force_login(personas.district_admin)
    for i in range(access.ID_LOOKUP_LIMIT):
        if i % 2:
            response = admin.post(LOOKUP, {"id_number": member.id_number}, format="json")
            assert [h["number"] for h in response.json()["results"]] == [area.household_a.number]
        else:
            response = client.post(LIST, {"id_number": member.id_number})
            assert [h.number for h in response.context["page_obj"]] == [area.household_a.number]
    too_many = admin.post(LOOKUP, {"id_number": member.id_number}, format="json")
    assert too_many.status_code == 429
    assert too_many.json() == {"detail": access.ID_LOOKUP_TOO_MANY, "code": "throttled", "errors": {}}
    page = client.post(LIST, {"id_number": member.id_number})
    assert page.status_code == 429 and access.ID_LOOKUP_TOO_MANY in page.content.decode()
    assert list(page.context["page_obj"]) == []
    # Another user counts on their own; and the window moves on.
    assert api(personas.township_a).post(LOOKUP, {"id_number": member.id_number}, format="json").status_code == 200
    IdNumberLookup.objects.filter(user=personas.district_admin).update(
        at=datetime.datetime(2017, 9, 1, tzinfo=datetime.UTC)
    )
    assert admin.post(LOOKUP, {"id_number": member.id_number}, format="json").status_code == 200


def test_an_invalid_number_is_not_counted(area, personas):
    admin = api(personas.district_admin)
    assert admin.post(LOOKUP, {"id_number": "511902198107091234"}, format="json").status_code == 400
    assert not IdNumberLookup.objects.exists()


# Messages ------------------------------------------------------------------------------------------------------------

SHEET = "贫困户花名册"


def test_the_register_import_does_not_name_a_household_outside_the_users_area(client, area, personas):
    column = {key: i for i, key in enumerate(KEYS)}["id_number"]
    letter = chr(ord("A") + column) if column < 26 else "A" + chr(ord("A") + column - 26)
    son = area.household_a.members.filter(relation="son").first()
    other = area.household_b.members.filter(relation="son").first()
    Member.objects.filter(pk=other.pk).update(name="李四")
    client.force_login(personas.township_a)
    content = body(get_file(client, reverse("households:register_xlsx"), {}))
    row = next(n for n, r in enumerate(calamine_rows(content, SHEET), start=1) if r[column] == son.id_number)
    changed = edit(content, SHEET, {f"{letter}{row}": other.id_number})
    (problem,) = imports.preview_register_import(user=personas.township_a, content=changed, file_name="x.xlsx").problems
    assert problem.message == imports.ELSEWHERE_OUTSIDE
    for leak in (area.household_b.number, area.village_b.name, area.township_b.name, "李四"):
        assert leak not in problem.message
    # Who sees household B is told which household it is.
    (problem,) = imports.preview_register_import(
        user=personas.district_admin, content=changed, file_name="x.xlsx"
    ).problems
    assert area.household_b.number in problem.message


# Filters: an out-of-area id and a non-existent id get the same answer ------------------------------------------------


def answer(response, given: str) -> tuple:
    """What a list page answers to a filter: its status, its rows and its form's messages (with the value
    given left out)."""
    context = response.context or {}
    rows = context.get("page_obj")
    form = context.get("form") or context.get("filter_form")
    errors = form.errors.items() if form is not None and form.is_bound else []
    errors = {k: [str(m).replace(given, "ID") for m in v] for k, v in errors}
    return response.status_code, [r.pk for r in rows] if rows is not None else None, errors


@pytest.mark.parametrize(
    ("persona", "url", "param", "target"),
    [
        ("township_a", "households:list", "village", "village_b"),
        ("patch_leader", "households:list", "village", "village_b"),
        ("patch_leader", "households:list", "township", "township_b"),
        ("patch_leader", "villages:list", "township", "township_b"),
        ("patch_leader", "supervision:findings", "township", "township_b"),
        ("district_admin", "tasks:change_requests", "village", "foreign_village"),
        ("township_a", "tasks:change_requests", "village", "village_b"),
    ],
)
def test_a_filter_answers_an_out_of_area_id_as_a_non_existent_one(client, area, personas, persona, url, param, target):
    if persona == "patch_leader":
        user = factories.patch_leader_user(charge_townships=[area.township_a])
    else:
        user = getattr(personas, persona)
    if target == "foreign_village":
        outside = factories.village(factories.township(factories.district("511921", "通江县"), number=101))
    else:
        outside = getattr(area, target)
    key = outside.code if param == "township" else str(outside.pk)
    missing = "511902999" if param == "township" else str(outside.pk + 1000)
    client.force_login(user)
    seen = answer(client.get(reverse(url), {param: key}), key)
    not_there = answer(client.get(reverse(url), {param: missing}), missing)
    assert seen[0] == 200
    assert seen == not_there


# Inspections ---------------------------------------------------------------------------------------------------------


def inspection(personas, *, title, kind, townships=(), villages=()):
    return supervision_services.inspection_create(
        user=personas.supervisor,
        data={
            "title": title,
            "kind": kind,
            "organiser": "poverty_office",
            "start_date": datetime.date(2017, 9, 4),
            "end_date": datetime.date(2017, 9, 8),
            "inspectors": "督查一组",
            "methods": ["visit"],
        },
        townships=list(townships),
        villages=list(villages),
    )


@pytest.fixture
def inspections(area, personas):
    class Inspections:
        announced_a = inspection(personas, title="白庙乡明察", kind="open", townships=[area.township_a])
        unannounced_a = inspection(personas, title="茅垭村暗访", kind="unannounced", villages=[area.village_a])
        announced_b = inspection(personas, title="大寺村专项督查", kind="special", villages=[area.village_b])
        unannounced_b = inspection(personas, title="大寺村暗访", kind="unannounced", villages=[area.village_b])

    supervision_services.finding_create(
        user=personas.supervisor,
        target=area.village_b,
        data={"type": "records", "severity": "minor", "description": "台账未更新。", "found_on": TODAY},
        rectification={"requirement": "更新台账。"},
        inspection=Inspections.unannounced_b,
    )
    return Inspections


def titles_everywhere(client, user, inspections) -> set[str]:
    """The inspections ``user`` finds on the list page, the detail pages and the API (all the same, or it fails)."""
    client.force_login(user)
    listed = {i.title for i in client.get(reverse("supervision:inspections")).context["page_obj"]}
    everything = [
        inspections.announced_a,
        inspections.unannounced_a,
        inspections.announced_b,
        inspections.unannounced_b,
    ]
    pages = {
        i.title for i in everything if client.get(reverse("supervision:inspection", args=[i.pk])).status_code == 200
    }
    through_api = {row["title"] for row in api(user).get("/api/v1/inspections/").json()["results"]}
    api_details = {i.title for i in everything if api(user).get(f"/api/v1/inspections/{i.pk}/").status_code == 200}
    assert listed == pages == through_api == api_details
    return listed


ALL = {"白庙乡明察", "茅垭村暗访", "大寺村专项督查", "大寺村暗访"}


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("township_a", {"白庙乡明察"}),
        ("village_cadre", {"白庙乡明察"}),
        # 大寺村暗访 filed a finding against 大寺村: its result was given to the township.
        ("township_b", {"大寺村专项督查", "大寺村暗访"}),
        ("district_admin", ALL),
        ("supervisor", ALL),
        ("leader", ALL),
    ],
)
def test_inspections_reach_an_area_only_when_announced_for_it_or_published_to_it(
    client, personas, inspections, persona, expected
):
    assert titles_everywhere(client, getattr(personas, persona), inspections) == expected


def test_a_village_informant_sees_the_announced_inspections_of_their_village_only(client, area, personas, inspections):
    informant = factories.user(Role.INFORMANT, area.village_a)
    assert titles_everywhere(client, informant, inspections) == {"白庙乡明察"}
