"""The dashboard's figures through the API: the same area rules as the home page and the same numbers."""

import datetime

import pytest

from bazhou.surfaces.dashboard import Scope, dashboard
from tests import factories

pytestmark = pytest.mark.usefixtures("pinned_today")

DASHBOARD = "/api/v1/dashboard/"


def test_the_figures_are_the_dashboards_of_the_users_own_area(api, personas, rows, area):
    factories.done_task(rows.plan_a, item="饮水工程", category="water")
    body = api(personas.district_admin).get(DASHBOARD).json()
    expected = dashboard(Scope(district=area.district), datetime.date(2017, 9, 15))
    assert body["scope"]["level"] == "district" and body["scope"]["district"]["code"] == "511902"
    assert body["rows"]["total"] == expected["rows"]["total"] == 4
    assert (body["rows"]["done"], body["rows"]["overdue"]) == (1, 2)
    assert body["funds"]["planned"] == str(expected["funds"]["planned"])
    assert [r["area"]["name"] for r in body["township_ranking"]] == [
        r["area"].name for r in expected["township_ranking"]
    ]
    assert "charts" not in body

    township = api(personas.township_b).get(DASHBOARD).json()
    assert township["scope"]["level"] == "township" and township["scope"]["township"]["name"] == "寺岭乡"
    assert township["rows"]["total"] == 1


def test_a_drill_down_inside_the_area_is_allowed_and_outside_it_is_404(api, personas, rows, area):
    admin = api(personas.district_admin)
    village = admin.get(DASHBOARD, {"village": area.village_a.pk}).json()
    assert village["scope"]["level"] == "village" and village["rows"]["total"] == 2
    assert admin.get(DASHBOARD, {"township": area.township_b.pk}).json()["rows"]["total"] == 1
    assert api(personas.township_a).get(DASHBOARD, {"township": area.township_b.pk}).status_code == 404
    assert api(personas.township_a).get(DASHBOARD, {"village": area.village_b.pk}).status_code == 404
    assert api(personas.village_cadre).get(DASHBOARD, {"township": area.township_a.pk}).status_code == 404
    assert api(personas.leader).get(DASHBOARD, {"village": "abc"}).status_code == 404


def test_the_dashboard_needs_a_signed_in_user(api, area):
    assert api().get(DASHBOARD).status_code == 401


def test_a_program_reads_the_dashboard_with_its_token(api, personas, rows):
    response = api(personas.leader, token=True).get(DASHBOARD)
    assert response.status_code == 200 and response.json()["rows"]["total"] == 3
