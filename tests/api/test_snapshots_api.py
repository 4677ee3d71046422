"""``GET /api/v1/snapshots/``: the monthly snapshots, read-only, in the user's area, filtered by month, township and
village, a correction marked; bad filters are a Chinese 400 in the one error shape."""

import datetime

import pytest

from supervision import snapshots
from supervision.models import MonthlySnapshot
from tests import factories
from tests.api.helpers import ids, results

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("pinned_today")]

URL = "/api/v1/snapshots/"
AUGUST, SEPTEMBER = datetime.date(2017, 8, 1), datetime.date(2017, 9, 1)


@pytest.fixture
def taken(area, personas):
    factories.task(factories.plan(area.village_a))
    snapshots.take(area.district, AUGUST, kind="scheduled")
    snapshots.take(area.district, SEPTEMBER, kind="scheduled")
    snapshots.take(
        area.district, SEPTEMBER, user=personas.district_admin, kind="on_demand", correct=True, reason="补报"
    )
    return area


def test_a_district_user_reads_every_area_and_filters_by_month_and_level(api, taken, personas):
    client = api(personas.leader)
    rows = results(client.get(URL, {"month": "2017-08", "level": "district"}))
    assert len(rows) == 1
    row = rows[0]
    assert row["month"] == "2017-08" and row["level"] == "district" and row["area_name"] == "巴州区"
    assert row["figures"]["rows_total"] == 1 and row["figures"]["as_of"] == "2017-09-15"
    assert not row["is_correction"] and not row["superseded"]


def test_a_correction_is_marked_and_its_original_superseded(api, taken, personas):
    rows = results(api(personas.leader).get(URL, {"month": "2017-09", "level": "district"}))
    by_correction = {r["is_correction"]: r for r in rows}
    assert by_correction[True]["correction_reason"] == "补报" and not by_correction[True]["superseded"]
    assert by_correction[True]["corrects"] == by_correction[False]["id"] and by_correction[False]["superseded"]


def test_a_township_user_sees_only_their_township_and_its_villages(api, taken, personas):
    area = taken
    seen = results(api(personas.township_a).get(URL, {"month": "2017-08"}))
    assert {r["area_name"] for r in seen} == {"白庙乡", "茅垭村", "百花村"}
    other = api(personas.township_a).get(URL, {"township": area.township_b.pk})
    assert results(other) == []
    outside = MonthlySnapshot.objects.get(area_key=f"t:{area.township_b.pk}", month=AUGUST)
    assert api(personas.township_a).get(f"{URL}{outside.pk}/").status_code == 404


def test_village_and_township_filters(api, taken, personas):
    area = taken
    client = api(personas.district_admin)
    assert {r["area_name"] for r in results(client.get(URL, {"village": area.village_a.pk, "month": "2017-08"}))} == {
        "茅垭村"
    }
    names = {r["area_name"] for r in results(client.get(URL, {"township": area.township_b.pk, "month": "2017-08"}))}
    assert names == {"寺岭乡", "大寺村"}


@pytest.mark.parametrize("month", ["2017-13", "2017-9", "abc", "1999-12", "2017-09-01"])
def test_a_bad_month_is_a_chinese_400_naming_the_parameter(api, taken, personas, month):
    answer = api(personas.leader).get(URL, {"month": month})
    assert answer.status_code == 400
    body = answer.json()
    assert body["code"] == "invalid" and "YYYY-MM" in body["errors"]["month"][0]


def test_a_bad_village_id_is_a_400(api, taken, personas):
    answer = api(personas.leader).get(URL, {"village": "1.5"})
    assert answer.status_code == 400 and "village" in answer.json()["errors"]


def test_it_is_read_only(api, taken, personas):
    client = api(personas.district_admin)
    row = MonthlySnapshot.objects.first()
    assert client.post(URL, {}, format="json").status_code == 405
    assert client.patch(f"{URL}{row.pk}/", {"kind": "x"}, format="json").status_code == 405
    assert client.delete(f"{URL}{row.pk}/").status_code == 405
    assert MonthlySnapshot.objects.count() == 18


def test_a_department_user_and_anonymous_get_nothing(api, taken):
    assert api(factories.department_user()).get(URL).status_code == 403
    assert api().get(URL).status_code in (401, 403)


def test_the_list_takes_a_fixed_number_of_queries(api, taken, personas, django_assert_num_queries):
    client = api(personas.district_admin)
    client.get(URL)
    with django_assert_num_queries(5) as small:  # session, user, count, page, (the viewset's own)
        client.get(URL, {"month": "2017-08"})
    factories.populate(factories.township(number=230, name="光辉乡"), villages=5, households=1)
    snapshots.take(taken.district, datetime.date(2017, 7, 1), kind="scheduled")
    with django_assert_num_queries(len(small.captured_queries)):
        assert len(ids(client.get(URL, {"month": "2017-07"}))) == 12


def test_the_dashboard_api_carries_the_trend(api, taken, personas):
    body = api(personas.leader).get("/api/v1/dashboard/").json()
    points = body["trend"]["points"]
    assert [p["month"] for p in points] == ["2017-08", "2017-09"]
    assert points[-1]["corrected"] and points[-1]["reason"] == "补报"
    assert body["trend"]["change"]["rows_total"] == 0
