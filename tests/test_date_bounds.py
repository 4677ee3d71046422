"""The dates a person may enter (bazhou.core.dates): a plan row's deadline within the plan's year − 1 … year + 3, a
completion or any “done on” date not after today nor before a sane floor; refused in Chinese naming the range by
the one rule home each has (the models' clean, the services), so the pages, the API and the imports refuse them
alike (issue 17). Today is the demo's, 2017-09-15."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from bazhou.core import dates
from supervision import services as supervision_services
from supervision.models import Finding, Inspection
from tasks import services
from tasks.models import Task
from tests import factories

pytestmark = pytest.mark.usefixtures("pinned_today")


@pytest.fixture
def task(area):
    return factories.task(factories.plan(area.village_a), planned_funds=Decimal("0"))


def update(task, user, **data):
    return services.task_update(task_id=task.pk, user=user, expected_version=task.version, data=data)


@pytest.mark.parametrize(
    "deadline", [datetime.date(1900, 1, 1), datetime.date(9999, 12, 31), datetime.date(2015, 12, 31)]
)
def test_a_deadline_far_from_the_plans_year_is_refused_naming_the_range(task, personas, deadline):
    before = Task.objects.filter(pk=task.pk).values().get()
    with pytest.raises(ValidationError) as error:
        update(task, personas.village_cadre, deadline=deadline)
    assert error.value.message_dict["deadline"] == ["完成时限应在2016年1月1日至2020年12月31日之间。"]
    assert Task.objects.filter(pk=task.pk).values().get() == before


@pytest.mark.parametrize("deadline", [datetime.date(2016, 1, 1), datetime.date(2020, 12, 31)])
def test_a_deadline_at_the_edges_of_the_range_is_taken(task, personas, deadline):
    assert update(task, personas.village_cadre, deadline=deadline).deadline == deadline


def test_a_completion_in_the_future_is_refused(task, personas):
    with pytest.raises(ValidationError) as error:
        update(task, personas.village_cadre, status="done", progress=100, completed_on=datetime.date(2030, 1, 1))
    assert error.value.message_dict["completed_on"] == ["完成日期不能晚于今天。"]


def test_a_completion_before_the_plans_year_minus_one_is_refused(task, personas):
    with pytest.raises(ValidationError) as error:
        update(task, personas.village_cadre, status="done", progress=100, completed_on=datetime.date(2015, 6, 1))
    assert error.value.message_dict["completed_on"] == ["完成日期应在2016年1月1日至2017年9月15日之间。"]
    done = update(task, personas.village_cadre, status="done", progress=100, completed_on=datetime.date(2017, 9, 15))
    assert done.completed_on == datetime.date(2017, 9, 15)


def test_a_progress_report_dated_before_the_floor_is_refused(task, personas):
    with pytest.raises(ValidationError) as error:
        services.progress_record(
            task_id=task.pk,
            user=personas.village_cadre,
            expected_version=task.version,
            progress=10,
            status="in_progress",
            invested_funds=Decimal("0"),
            reported_on=datetime.date(1999, 12, 31),
        )
    assert error.value.message_dict["reported_on"] == ["填报日期应在2016年1月1日至2017年9月15日之间。"]


def test_a_finding_from_before_2000_and_an_inspection_started_tomorrow_are_refused(area, personas, task):
    with pytest.raises(ValidationError) as error:
        supervision_services.finding_create(
            user=personas.supervisor,
            target=task,
            data={
                "type": "delay",
                "severity": "major",
                "description": "未按时限完工。",
                "found_on": datetime.date(1900, 1, 1),
            },
            rectification={"requirement": "限期完工。", "deadline": datetime.date(2017, 12, 1)},
        )
    assert error.value.message_dict["found_on"] == ["发现日期应在2000年1月1日至2017年9月15日之间。"]
    assert not Finding.objects.exists()
    with pytest.raises(ValidationError) as error:
        supervision_services.inspection_create(
            user=personas.supervisor,
            data={
                "title": "九月督查",
                "kind": "open",
                "organiser": "poverty_office",
                "start_date": datetime.date(2017, 9, 16),
                "end_date": datetime.date(9999, 1, 1),
            },
        )
    messages = error.value.message_dict
    assert messages["start_date"] == ["开始日期不能晚于今天。"]
    assert messages["end_date"] == ["结束日期应在2000年1月1日至2027年12月31日之间。"]
    assert not Inspection.objects.exists()


def test_the_plan_range_is_the_year_before_to_three_years_after():
    assert dates.plan_range(2017) == (datetime.date(2016, 1, 1), datetime.date(2020, 12, 31))
