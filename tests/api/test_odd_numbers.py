"""Numbers that str.isdigit() accepts but int() refuses ("²", "１"), or that overflow a 64-bit key: every place that
reads an id or a count from a request answers with a clear message or ignores it, never a 500."""

import pytest
from django.urls import reverse

from bazhou.core.api.errors import IF_MATCH_INVALID
from bazhou.core.api.pagination import BAD_PAGE_SIZE
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
