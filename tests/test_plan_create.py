"""Opening a village's plan for a year: by those who may edit the village, once per year, with history."""

import pytest
from django.core.exceptions import ValidationError
from django.http import Http404
from django.urls import reverse

from tasks import services
from tasks.models import Plan


def test_a_village_cadre_opens_their_villages_plan_as_a_draft_with_history(personas, area):
    plan = services.plan_create(village_id=area.village_a.pk, year=2018, user=personas.village_cadre)
    assert (plan.village, plan.year, plan.state) == (area.village_a, 2018, Plan.State.DRAFT)
    record = plan.history.get()
    assert (record.history_user, record.history_change_reason) == (personas.village_cadre, "新建施工图")


@pytest.mark.parametrize("who", ["township_b", "supervisor", "leader"])
def test_no_one_opens_a_plan_for_a_village_they_may_not_edit(personas, area, who):
    with pytest.raises(Http404):
        services.plan_create(village_id=area.village_a.pk, year=2018, user=getattr(personas, who))
    assert not Plan.objects.exists()


def test_a_second_plan_for_the_same_village_and_year_is_refused_in_chinese(personas, area):
    services.plan_create(village_id=area.village_a.pk, year=2018, user=personas.township_a)
    with pytest.raises(ValidationError) as refused:
        services.plan_create(village_id=area.village_a.pk, year=2018, user=personas.township_a)
    assert "该村本年度已有施工图。" in str(refused.value)
    assert Plan.objects.count() == 1


def test_the_page_opens_the_plan_and_goes_to_its_table(client, personas, area):
    client.force_login(personas.township_a)
    response = client.post(reverse("tasks:plan_create"), {"village": area.village_a.pk, "year": 2018})
    plan = Plan.objects.get()
    assert response.status_code == 302 and response.url == reverse("tasks:plan", args=[plan.pk])


def test_asking_again_goes_to_the_existing_plan_without_a_second_one(client, personas, area):
    client.force_login(personas.township_a)
    url = reverse("tasks:plan_create")
    client.post(url, {"village": area.village_a.pk, "year": 2018})
    response = client.post(url, {"village": area.village_a.pk, "year": 2018})
    assert response.url == reverse("tasks:plan", args=[Plan.objects.get().pk])
    assert Plan.objects.count() == 1


def test_another_townships_staff_get_404_and_nothing_is_created(client, personas, area):
    client.force_login(personas.township_b)
    response = client.post(reverse("tasks:plan_create"), {"village": area.village_a.pk, "year": 2018})
    assert response.status_code == 404
    assert not Plan.objects.exists()


def test_the_plan_querysets_scope_by_area(personas, area):
    services.plan_create(village_id=area.village_a.pk, year=2018, user=personas.township_a)
    services.plan_create(village_id=area.village_b.pk, year=2018, user=personas.township_b)
    assert set(Plan.objects.visible_to(personas.township_a).values_list("village", flat=True)) == {area.village_a.pk}
    assert Plan.objects.visible_to(personas.supervisor).count() == 2
    assert not Plan.objects.editable_by(personas.supervisor).exists()
    assert not Plan.objects.visible_to(personas.village_cadre).filter(village=area.village_b).exists()
