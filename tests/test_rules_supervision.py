"""Supervision rules: a finding has exactly one target; closing a rectification needs an answer and a recheck."""

import datetime

import pytest

from supervision.models import Finding, Inspection, Rectification
from tests import factories
from tests.factories import clean_errors, refused_by_database

FOUND = datetime.date(2017, 9, 1)
ANSWERED_AT = datetime.datetime(2017, 10, 10, 9, 0, tzinfo=datetime.UTC)
RECHECKED_AT = datetime.datetime(2017, 10, 20, 9, 0, tzinfo=datetime.UTC)


@pytest.fixture
def finding(area):
    return factories.finding(area.village_a)


@pytest.fixture
def rectification(finding):
    return factories.rectification(finding)


def closed(rectification, answered_by, rechecked_by, **fields):
    """``rectification`` answered, rechecked and closed (unsaved changes)."""
    values = {
        "status": Rectification.Status.CLOSED,
        "result": "道路已硬化，验收合格。",
        "answered_by": answered_by,
        "answered_at": ANSWERED_AT,
        "recheck_note": "复查属实。",
        "rechecked_by": rechecked_by,
        "rechecked_at": RECHECKED_AT,
        "closed_on": datetime.date(2017, 10, 20),
        **fields,
    }
    for name, value in values.items():
        setattr(rectification, name, value)
    return rectification


# Findings: exactly one target ---------------------------------------------------------------------------


ONE_TARGET = "问题须且只须对应一个对象：任务、村、户或乡镇之一。"


def test_a_finding_without_a_target_is_refused_by_validation():
    errors = clean_errors(Finding(type="delay", description="进度滞后", found_on=FOUND))
    assert ONE_TARGET in errors["__all__"]


def test_a_finding_without_a_target_is_refused_by_the_database(area):
    # Its kept area given, so that the target check is the one left to refuse it.
    with refused_by_database(Finding, "finding_has_exactly_one_target"):
        Finding.objects.create(
            type="delay",
            description="进度滞后",
            found_on=FOUND,
            area_district=area.township_a.district,
            area_township=area.township_a,
        )


def test_a_finding_with_two_targets_is_refused_by_validation(area):
    finding = Finding(
        village=area.village_a, household=area.household_a, type="delay", description="进度滞后", found_on=FOUND
    )
    assert ONE_TARGET in clean_errors(finding)["__all__"]


def test_a_finding_with_two_targets_is_refused_by_the_database(area, finding):
    with refused_by_database(Finding, "finding_has_exactly_one_target"):
        Finding.objects.filter(pk=finding.pk).update(township=area.township_a)
    finding.refresh_from_db()
    assert finding.township is None


def test_clearing_a_findings_only_target_is_refused_by_the_database(finding):
    with refused_by_database(Finding, "finding_has_exactly_one_target"):
        Finding.objects.filter(pk=finding.pk).update(village=None)


def test_a_finding_against_each_single_target_is_accepted(area):
    task = factories.task(factories.plan(area.village_a))
    for target in (task, area.village_a, area.household_a, area.township_a):
        finding = factories.finding(target)
        finding.full_clean()
        assert finding.target == target
    assert Finding.objects.count() == 4


# Rectifications: answer, recheck by someone else, close -------------------------------------------------------


def test_closing_without_result_or_recheck_is_refused_by_validation(rectification):
    rectification.status = Rectification.Status.CLOSED
    errors = clean_errors(rectification)
    assert errors["result"] == ["提交复查前须填写整改结果。"]
    assert errors["rechecked_by"] == ["销号须经督查人员复查。"]


def test_closing_without_result_or_recheck_is_refused_by_the_database(rectification):
    with refused_by_database(Rectification):
        Rectification.objects.filter(pk=rectification.pk).update(
            status=Rectification.Status.CLOSED, closed_on=datetime.date(2017, 10, 20)
        )
    rectification.refresh_from_db()
    assert rectification.status == Rectification.Status.PENDING


def test_closing_without_recheck_is_refused_by_the_database(rectification, personas):
    with refused_by_database(Rectification, "rectification_closed_needs_recheck"):
        Rectification.objects.filter(pk=rectification.pk).update(
            status=Rectification.Status.CLOSED,
            result="已整改。",
            answered_by=personas.township_a,
            answered_at=ANSWERED_AT,
            closed_on=datetime.date(2017, 10, 20),
        )


def test_closing_without_result_is_refused_by_the_database(rectification, personas):
    with refused_by_database(Rectification, "rectification_answer_before_recheck"):
        closed(rectification, personas.township_a, personas.supervisor, result="").save()


def test_submitting_for_recheck_without_an_answer_is_refused(rectification):
    rectification.status = Rectification.Status.AWAITING_RECHECK
    assert clean_errors(rectification)["result"] == ["提交复查前须填写整改结果。"]
    with refused_by_database(Rectification, "rectification_answer_before_recheck"):
        Rectification.objects.filter(pk=rectification.pk).update(status=Rectification.Status.AWAITING_RECHECK)


def test_recheck_by_the_person_who_answered_is_refused_by_validation(rectification, personas):
    rectification = closed(rectification, personas.supervisor, personas.supervisor)
    assert clean_errors(rectification)["rechecked_by"] == ["复查人不能是整改结果的填报人。"]


def test_recheck_by_the_person_who_answered_is_refused_by_the_database(rectification, personas):
    with refused_by_database(Rectification, "rectification_recheck_by_other"):
        closed(rectification, personas.supervisor, personas.supervisor).save()
    rectification.refresh_from_db()
    assert rectification.rechecked_by is None


def test_a_closed_rectification_answered_and_rechecked_by_others_is_accepted(rectification, personas):
    closed(rectification, personas.township_a, personas.supervisor).full_clean()
    rectification.save()
    assert Finding.objects.open().count() == 0


def test_a_closing_date_on_an_open_rectification_is_refused_by_the_database(rectification):
    with refused_by_database(Rectification, "rectification_closed_on_only_when_closed"):
        Rectification.objects.filter(pk=rectification.pk).update(closed_on=datetime.date(2017, 10, 20))


def test_one_rectification_per_finding(rectification):
    second = Rectification(finding=rectification.finding, requirement="再次整改", deadline=datetime.date(2017, 12, 1))
    assert clean_errors(second)["finding"] == ["具有 问题 的 整改 已存在。"]
    with refused_by_database(Rectification):
        factories.rectification(rectification.finding)


# Inspections ---------------------------------------------------------------------------------------------


def test_an_inspection_ending_before_it_starts_is_refused(area):
    fields = {
        "district": area.district,
        "title": "9月暗访",
        "kind": "unannounced",
        "organiser": "poverty_office",
        "start_date": datetime.date(2017, 9, 10),
        "end_date": datetime.date(2017, 9, 9),
    }
    assert clean_errors(Inspection(**fields))["end_date"] == ["结束日期不能早于开始日期。"]
    with refused_by_database(Inspection, "inspection_end_not_before_start"):
        Inspection.objects.create(**fields)
