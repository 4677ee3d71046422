"""``GET /api/v1/dashboard/compare/``: the comparison page's figures (年度对比) as JSON, with the dashboard's area
rules, a bad year in the API's error shape, and the same figures as the page (tests/test_years.py's district)."""

import pytest

from tests import factories
from tests.test_years import build_years

pytestmark = pytest.mark.usefixtures("pinned_today")

COMPARE = "/api/v1/dashboard/compare/"


@pytest.fixture
def years(area):
    return build_years(area)


def figure(body, key) -> dict:
    return next(f for f in body["figures"] if f["key"] == key)


def test_the_figures_of_2017_beside_2016_by_default(api, personas, years):
    response = api(personas.leader).get(COMPARE)
    assert response.status_code == 200, response.content.decode()
    body = response.json()
    assert (body["year"], body["last_year"], body["today"]) == (2017, 2016, "2017-09-15")
    assert body["scope"]["level"] == "district"
    rows = figure(body, "rows_total")
    assert (rows["this"], rows["last"], rows["change"], rows["ratio"]) == (4, 3, 1, "1.33")
    funds = figure(body, "funds_planned")
    assert (funds["this"], funds["last"], funds["unit"]) == ("320.0000", "190.0000", "万元")
    people = figure(body, "people_lifted")
    assert (people["this"], people["last"]) == (2, 4)
    assert [m["this"] for m in body["months"]] == [1, 1, 1, 1, 2, 2, 2, 2, 3, None, None, None]
    assert [m["last"] for m in body["months"]] == [0, 0, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2]


def test_a_chosen_year_and_a_token_client(api, personas, years):
    body = api(personas.district_admin, token=True).get(COMPARE, {"year": 2016}).json()
    assert (body["year"], body["last_year"]) == (2016, 2015)
    rows = figure(body, "rows_total")
    assert (rows["this"], rows["last"], rows["ratio"]) == (3, 0, None)


def test_the_area_is_the_users_own_or_one_inside_it(api, personas, area, years):
    body = api(personas.township_b).get(COMPARE).json()
    assert body["scope"]["level"] == "township" and body["scope"]["township"]["name"] == "寺岭乡"
    assert figure(body, "rows_total")["this"] == 1
    drilled = api(personas.district_admin).get(COMPARE, {"village": area.village_a.pk}).json()
    assert drilled["scope"]["level"] == "village" and figure(drilled, "rows_total")["this"] == 3
    assert api(personas.township_b).get(COMPARE, {"township": area.township_a.pk}).status_code == 404
    assert api(personas.village_cadre).get(COMPARE, {"village": area.village_b.pk}).status_code == 404


@pytest.mark.parametrize("bad", ["abc", "99999", "1999", "２０１７"])
def test_a_bad_year_is_a_400_in_the_error_shape(api, personas, years, bad):
    response = api(personas.leader).get(COMPARE, {"year": bad})
    assert response.status_code == 400
    body = response.json()
    assert body["errors"] == {"year": ["“year”应为 2000–2100 之间的四位年份。"]}


def test_no_comparison_for_a_department_and_none_for_strangers(api, personas, years):
    department = factories.department_user()
    response = api(department).get(COMPARE)
    assert response.status_code == 403 and "驾驶舱" in response.json()["detail"]
    assert api().get(COMPARE).status_code in (401, 403)


def test_the_schema_documents_the_endpoint(api, personas):
    schema = api(personas.district_admin).get("/api/v1/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/v1/dashboard/compare/"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"year", "township", "village"}
    assert "年度对比" in operation["summary"]
