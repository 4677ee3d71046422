"""Numbers that str.isdigit() accepts but int() refuses ("²", "１"), or that overflow a 64-bit key: every place that
reads an id or a count from a request answers with a clear message or ignores it, never a 500."""

import pytest
from django.urls import reverse

from bazhou.core.api.errors import IF_MATCH_INVALID
from bazhou.core.api.pagination import BAD_PAGE_SIZE
from bazhou.core.api.parsers import TOO_DEEP
from bazhou.core.text import illegal_message
from tasks.models import Task

ODD = ["²", "１２", "9" * 30, "-1", "0"]


@pytest.mark.parametrize("value", ODD)
def test_the_household_list_ignores_an_odd_village(client, personas, area, value):
    client.force_login(personas.district_admin)
    response = client.get(reverse("households:list"), {"village": value})
    assert response.status_code == 200


@pytest.mark.parametrize("value", ODD)
def test_a_new_row_page_ignores_an_odd_household(client, personas, rows, value):
    client.force_login(personas.township_a)
    response = client.get(reverse("tasks:task_create", args=[rows.plan_a.pk]), {"household": value})
    assert response.status_code == 200
    assert response.context["form"].initial.get("household") is None


def test_a_new_row_page_still_takes_a_household_of_the_village(client, personas, rows, area):
    client.force_login(personas.township_a)
    url = reverse("tasks:task_create", args=[rows.plan_a.pk])
    response = client.get(url, {"household": str(area.household_a.pk)})
    assert response.context["form"].initial["household"] == area.household_a


@pytest.mark.parametrize("value", ["²", "１０", "9" * 30])
def test_an_odd_page_size_is_refused_with_a_message(api, personas, rows, value):
    response = api(personas.district_admin).get("/api/v1/tasks/", {"page_size": value})
    assert response.status_code == 400
    assert BAD_PAGE_SIZE.format(max=500)[:10] in str(response.json())


@pytest.mark.parametrize("value", ['"²"', '"１"', '"' + "9" * 30 + '"'])
def test_an_odd_if_match_is_refused_with_a_message_and_changes_nothing(api, personas, rows, value):
    response = api(personas.township_a).patch(
        f"/api/v1/tasks/{rows.task_a.pk}/", {"responsible_person": "秦和平"}, format="json", HTTP_IF_MATCH=value
    )
    assert response.status_code == 400
    assert IF_MATCH_INVALID in str(response.json())
    assert Task.objects.get(pk=rows.task_a.pk).responsible_person != "秦和平"


LISTS = ["/api/v1/tasks/", "/api/v1/members/", "/api/v1/progress-updates/", "/api/v1/findings/", "/api/v1/plans/"]


@pytest.mark.parametrize("url", LISTS)
def test_an_ordering_with_two_minus_signs_is_refused_by_name_not_a_500(api, personas, rows, url):
    response = api(personas.district_admin).get(url, {"ordering": "--id"})
    assert response.status_code == 400
    assert "-id" in str(response.json()["errors"]["ordering"])  # named as the unknown field it is


def test_one_minus_sign_still_orders_descending(api, personas, rows):
    ids = [
        row["id"] for row in api(personas.district_admin).get("/api/v1/tasks/", {"ordering": "-id"}).json()["results"]
    ]
    assert ids == sorted(ids, reverse=True) and len(ids) > 1


@pytest.mark.parametrize("url", ["/api/v1/tasks/", "/api/v1/households/lookup/"])
def test_json_nested_too_deeply_is_a_400_in_chinese_not_a_500(api, personas, rows, url):
    before = Task.objects.count()
    body = "[" * 5000 + "]" * 5000
    response = api(personas.district_admin).generic("POST", url, body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["detail"] == TOO_DEEP
    assert Task.objects.count() == before


@pytest.mark.parametrize("url", LISTS)
@pytest.mark.parametrize("value", ["18446744073709551616", "abc\x00", "5119\x00"])
def test_an_oversized_or_nul_area_parameter_is_never_a_500(api, personas, rows, url, value):
    client = api(personas.district_admin)
    village = client.get(url, {"village": value})
    assert village.status_code == 400  # refused before the database (SQLite raised OverflowError on 2⁶⁴: a 500)
    if url != "/api/v1/plans/":  # the plans' village is a choice of villages, refused with Django's own message
        assert (
            village.json()["errors"]["village"]
            in (
                ["编号过大，没有这样的记录。"],
                ["应为记录的编号（正整数）。"],
            )
            or illegal_message(value) in village.json()["errors"]["village"][0]
        )  # NUL: refused by name first
    assert client.get(url, {"township": value}).status_code < 500
