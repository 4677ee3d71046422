"""A finding keeps its target's area (``area_district`` / ``area_township`` / ``area_village``), and who sees and
answers it is decided on that: so the kept area must follow the target when the target moves, whatever moved (the
household, the village, the plan, the plan row), and a finding saved against a new target takes the
new target's area."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from supervision.models import Finding, refresh_finding_areas
from tests import factories


def area_of(finding):
    finding.refresh_from_db()
    return (finding.area_district_id, finding.area_township_id, finding.area_village_id)


def seen_by(user):
    return set(Finding.objects.visible_to(user).values_list("pk", flat=True))


def answered_by(user):
    return set(Finding.objects.editable_by(user).values_list("pk", flat=True))


@pytest.fixture
def targets(area):
    plan = factories.plan(area.village_a)
    task = factories.task(plan)

    class Targets:
        on_task = factories.finding(task)
        on_village = factories.finding(area.village_a)
        on_household = factories.finding(area.household_a)
        on_township = factories.finding(area.township_a)

    Targets.plan, Targets.task = plan, task
    return Targets


def test_each_kind_of_target_gives_its_area(area, targets):
    a, v = area.township_a.pk, area.village_a.pk
    district = area.district.pk
    assert area_of(targets.on_task) == (district, a, v)
    assert area_of(targets.on_village) == (district, a, v)
    assert area_of(targets.on_household) == (district, a, v)
    assert area_of(targets.on_township) == (district, a, None)


def test_a_household_moved_to_another_township_takes_its_findings_there(area, personas, targets):
    before_a, before_b = seen_by(personas.township_a), seen_by(personas.township_b)
    assert targets.on_household.pk in before_a and targets.on_household.pk not in before_b

    household = area.household_a
    household.village = area.village_b
    household.save()

    assert area_of(targets.on_household) == (area.district.pk, area.township_b.pk, area.village_b.pk)
    assert seen_by(personas.township_b) == before_b | {targets.on_household.pk}
    assert seen_by(personas.township_a) == before_a - {targets.on_household.pk}
    assert targets.on_household.pk in answered_by(personas.township_b)
    # The others in village A stay where they were.
    assert area_of(targets.on_village)[2] == area.village_a.pk


def test_a_village_moved_to_another_township_takes_every_finding_in_it(area, personas, targets):
    village = area.village_a
    village.township = area.township_b
    village.code = f"{area.township_b.code}099"  # a village's code lies within its township's
    village.save()

    moved = {targets.on_task.pk, targets.on_village.pk, targets.on_household.pk}
    for finding in (targets.on_task, targets.on_village, targets.on_household):
        assert area_of(finding) == (area.district.pk, area.township_b.pk, area.village_a.pk)
    assert moved <= seen_by(personas.township_b)
    assert seen_by(personas.township_a) == {targets.on_township.pk}
    # The village's cadre still answers for their village's findings, and reads (only) their new township's own.
    cadre = personas.village_cadre
    assert answered_by(cadre) == moved
    assert seen_by(cadre) == moved


def test_a_plan_or_a_plan_row_moved_takes_the_rows_finding(area, targets):
    plan = targets.plan
    plan.village = area.village_b
    plan.save()
    assert area_of(targets.on_task) == (area.district.pk, area.township_b.pk, area.village_b.pk)

    other_plan = factories.plan(area.village_a2)
    task = targets.task
    task.plan = other_plan
    task.save()
    assert area_of(targets.on_task) == (area.district.pk, area.township_a.pk, area.village_a2.pk)


def test_a_finding_given_another_target_takes_that_targets_area(area, targets):
    finding = Finding.objects.get(pk=targets.on_village.pk)
    finding.village = area.village_b
    finding.save(update_fields=["village"])
    assert area_of(finding) == (area.district.pk, area.township_b.pk, area.village_b.pk)


def test_saving_a_finding_whose_target_did_not_change_reads_no_target(targets):
    finding = Finding.objects.get(pk=targets.on_task.pk)
    finding.description = "进度仍滞后"
    with CaptureQueriesContext(connection) as captured:
        finding.save(update_fields=["description"])
    assert captured.captured_queries
    assert not any("tasks_task" in q["sql"] for q in captured.captured_queries)
    assert area_of(finding)[2] == targets.task.plan.village_id


def test_refreshing_puts_back_areas_that_went_wrong(area, targets):
    """What the migration does to existing findings, and any repair after a move made by a bulk update."""
    Finding.objects.update(area_township=area.township_b, area_village=area.village_b)
    assert refresh_finding_areas(Finding.objects.all()) == 4
    a, v = area.township_a.pk, area.village_a.pk
    assert area_of(targets.on_task) == (area.district.pk, a, v)
    assert area_of(targets.on_household) == (area.district.pk, a, v)
    assert area_of(targets.on_township) == (area.district.pk, a, None)
