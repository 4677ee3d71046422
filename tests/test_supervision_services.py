"""Supervision writes (supervision.services): filing findings and inspections, the rectification lifecycle
待整改 → 整改中 → 待复查 → 已销号, accountability, and who may do each, in which area."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.http import Http404

from bazhou.core.models import Role
from supervision import services
from supervision.models import Accountability, Finding, Inspection, Rectification, RectificationEvidence
from tests import factories

pytestmark = pytest.mark.usefixtures("pinned_today")

TODAY = datetime.date(2017, 9, 15)
Status = Rectification.Status


@pytest.fixture
def late_task(area):
    """茅垭村's cultural room: due 2017-08-31, 80 % done, so 15 days overdue on TODAY."""
    plan = factories.plan(area.village_a)
    return factories.task(
        plan,
        category="culture_room",
        item="村文化室",
        status="in_progress",
        progress=80,
        responsible_unit="白庙乡人民政府",
        responsible_person="吴玉峰",
    )


def file_finding(user, target, found_on=datetime.date(2017, 9, 1), deadline=None, **data):
    return services.finding_create(
        user=user,
        target=target,
        data={"type": "delay", "severity": "major", "description": "未按时限完工。", "found_on": found_on, **data},
        rectification={"requirement": "限期完工。", "responsible_person": "吴玉峰", "deadline": deadline},
    )


@pytest.fixture
def finding(personas, late_task):
    return file_finding(personas.supervisor, late_task)


def rect(finding) -> Rectification:
    return Rectification.objects.get(finding=finding)


def state(rectification: Rectification):
    """What a refused write must leave as it was: the row, its history and its evidence."""
    fresh = Rectification.objects.get(pk=rectification.pk)
    row = Rectification.objects.filter(pk=fresh.pk).values().get()
    return row, fresh.history.count(), RectificationEvidence.objects.filter(rectification=fresh).count()


def answer(user, rectification, result="文化室已完工并通过验收。", files=()):
    return services.rectification_answer(
        rectification_id=rectification.pk,
        user=user,
        expected_version=Rectification.objects.get(pk=rectification.pk).version,
        result=result,
        files=files,
    )


def recheck(user, rectification, approve=True, note=""):
    return services.rectification_recheck(
        rectification_id=rectification.pk,
        user=user,
        expected_version=Rectification.objects.get(pk=rectification.pk).version,
        approve=approve,
        note=note,
    )


def start(user, rectification):
    return services.rectification_start(
        rectification_id=rectification.pk,
        user=user,
        expected_version=Rectification.objects.get(pk=rectification.pk).version,
    )


def messages_of(error: ValidationError) -> dict:
    return error.value.message_dict


# The default deadline: two calendar months, clamped to the end of the month ------------------------------------


@pytest.mark.parametrize(
    ("found_on", "deadline"),
    [
        (datetime.date(2017, 9, 1), datetime.date(2017, 11, 1)),
        (datetime.date(2017, 8, 31), datetime.date(2017, 10, 31)),
        (datetime.date(2017, 12, 31), datetime.date(2018, 2, 28)),
        (datetime.date(2015, 12, 31), datetime.date(2016, 2, 29)),
        (datetime.date(2017, 11, 15), datetime.date(2018, 1, 15)),
        (datetime.date(2017, 7, 31), datetime.date(2017, 9, 30)),
    ],
)
def test_the_default_deadline_is_two_calendar_months_after_the_finding_clamped_to_the_month_end(found_on, deadline):
    assert services.default_deadline(found_on) == deadline


def test_filing_a_finding_without_a_deadline_gives_its_rectification_the_two_month_deadline(finding):
    rectification = rect(finding)
    assert rectification.deadline == datetime.date(2017, 11, 1)
    assert rectification.status == Status.PENDING


def test_a_deadline_given_when_filing_is_kept(personas, late_task):
    finding = file_finding(personas.supervisor, late_task, deadline=datetime.date(2017, 9, 30))
    assert rect(finding).deadline == datetime.date(2017, 9, 30)


# Filing findings and inspections ---------------------------------------------------------------------------------


def test_filing_a_finding_creates_it_with_its_rectification_and_signs_both_histories(personas, late_task):
    finding = file_finding(personas.supervisor, late_task)
    rectification = rect(finding)
    assert (finding.task, finding.reported_by, finding.type) == (late_task, personas.supervisor, "delay")
    assert (rectification.requirement, rectification.responsible_person, rectification.version) == (
        "限期完工。",
        "吴玉峰",
        1,
    )
    (finding_record,) = finding.history.all()
    (rect_record,) = rectification.history.all()
    assert (finding_record.history_user, finding_record.history_change_reason) == (personas.supervisor, "发现问题")
    assert (rect_record.history_user, rect_record.history_change_reason) == (personas.supervisor, "下达整改")


@pytest.mark.parametrize("target_name", ["village_a", "household_a", "township_a"])
def test_a_finding_may_be_filed_against_a_village_a_household_or_a_township(personas, area, target_name):
    target = getattr(area, target_name)
    finding = file_finding(personas.district_admin, target, type="records")
    assert finding.target == target
    assert rect(finding).status == Status.PENDING


@pytest.mark.parametrize("persona", ["township_a", "village_cadre", "leader"])
def test_only_supervisors_and_district_admins_file_findings(personas, late_task, persona):
    with pytest.raises(Http404):
        file_finding(getattr(personas, persona), late_task)
    assert not Finding.objects.exists() and not Rectification.objects.exists()


def test_a_target_outside_the_supervisors_district_does_not_exist_for_them(personas):
    other = factories.township(factories.district("511921", "恩阳区"), number=101, name="恩阳镇")
    with pytest.raises(Http404):
        file_finding(personas.supervisor, other)
    assert not Finding.objects.exists()


def test_a_finding_found_in_the_future_or_with_a_deadline_before_it_is_refused_in_chinese(personas, late_task):
    with pytest.raises(ValidationError) as error:
        file_finding(personas.supervisor, late_task, found_on=datetime.date(2017, 9, 20))
    assert messages_of(error)["found_on"] == ["发现日期不能晚于今天。"]
    with pytest.raises(ValidationError) as error:
        file_finding(personas.supervisor, late_task, deadline=datetime.date(2017, 8, 1))
    assert messages_of(error)["deadline"] == ["整改时限不能早于发现日期。"]
    assert not Finding.objects.exists()


def test_an_inspection_is_recorded_with_its_townships_and_villages(personas, area):
    inspection = services.inspection_create(
        user=personas.supervisor,
        data={
            "title": "2017年9月明察",
            "kind": "open",
            "organiser": "poverty_office",
            "start_date": datetime.date(2017, 9, 4),
            "end_date": datetime.date(2017, 9, 8),
            "methods": ["visit", "records"],
        },
        townships=[area.township_a],
        villages=[area.village_a, area.village_b],
    )
    assert (inspection.district, inspection.created_by) == (area.district, personas.supervisor)
    assert list(inspection.townships.all()) == [area.township_a]
    assert set(inspection.villages.all()) == {area.village_a, area.village_b}


def test_an_inspection_ending_before_it_starts_is_refused_and_township_staff_cannot_record_one(personas, area):
    data = {
        "title": "暗访",
        "kind": "unannounced",
        "organiser": "inspection_office",
        "start_date": datetime.date(2017, 9, 8),
        "end_date": datetime.date(2017, 9, 4),
    }
    with pytest.raises(ValidationError) as error:
        services.inspection_create(user=personas.supervisor, data=data)
    assert messages_of(error)["end_date"] == ["结束日期不能早于开始日期。"]
    with pytest.raises(Http404):
        services.inspection_create(user=personas.township_a, data={**data, "end_date": datetime.date(2017, 9, 9)})
    assert not Inspection.objects.exists()


# Starting and answering: the people of the finding's area ----------------------------------------------------------


def test_the_village_cadre_starts_the_rectification_of_a_finding_on_their_village(personas, finding):
    rectification = start(personas.village_cadre, rect(finding))
    assert (rectification.status, rectification.version) == (Status.IN_PROGRESS, 2)
    last = rectification.history.first()
    assert (last.history_user, last.history_change_reason) == (personas.village_cadre, "开始整改")


def test_answering_records_the_result_who_and_when_and_the_evidence(personas, finding, media):
    photo = factories.evidence_upload("png", name="文化室.png")
    rectification = answer(personas.village_cadre, rect(finding), files=[photo])
    rectification.refresh_from_db()
    assert rectification.status == Status.AWAITING_RECHECK
    assert rectification.result == "文化室已完工并通过验收。"
    assert rectification.answered_by == personas.village_cadre
    assert rectification.answered_at is not None
    (evidence,) = rectification.evidence.all()
    assert (evidence.original_name, evidence.content_type, evidence.uploaded_by) == (
        "文化室.png",
        "image/png",
        personas.village_cadre,
    )
    assert evidence.file.path.startswith(str(media))
    last = rectification.history.first()
    assert (last.history_user, last.history_change_reason) == (personas.village_cadre, "提交整改结果")


def test_an_answer_without_a_result_is_refused_and_nothing_changes(personas, finding):
    before = state(rect(finding))
    with pytest.raises(ValidationError) as error:
        answer(personas.village_cadre, rect(finding), result="   ")
    assert messages_of(error)["result"] == ["请填写整改结果。"]
    assert state(rect(finding)) == before


def test_an_answer_with_a_file_that_is_not_a_photo_or_pdf_is_refused_and_nothing_changes(personas, finding, media):
    before = state(rect(finding))
    with pytest.raises(ValidationError) as error:
        answer(personas.village_cadre, rect(finding), files=[factories.evidence_upload("gif")])
    assert "photo.gif" in messages_of(error)["files"][0]
    assert state(rect(finding)) == before
    assert not list(media.rglob("*.*"))


@pytest.mark.parametrize("persona", ["township_b", "supervisor", "leader"])
def test_outside_the_area_or_without_the_right_to_edit_it_a_rectification_cannot_be_started_or_answered(
    personas, finding, persona
):
    user = getattr(personas, persona)
    before = state(rect(finding))
    with pytest.raises(Http404):
        start(user, rect(finding))
    with pytest.raises(Http404):
        answer(user, rect(finding))
    assert state(rect(finding)) == before


def test_township_staff_and_the_district_admin_may_answer_too(personas, late_task):
    for user in (personas.township_a, personas.district_admin):
        finding = file_finding(personas.supervisor, late_task)
        assert answer(user, rect(finding)).status == Status.AWAITING_RECHECK


def test_a_village_cadre_sees_but_does_not_answer_a_township_level_finding(personas, area):
    finding = file_finding(personas.supervisor, area.township_a, type="conduct")
    assert Finding.objects.visible_to(personas.village_cadre).filter(pk=finding.pk).exists()
    before = state(rect(finding))
    with pytest.raises(Http404):
        answer(personas.village_cadre, rect(finding))
    assert state(rect(finding)) == before
    assert answer(personas.township_a, rect(finding)).status == Status.AWAITING_RECHECK


def test_a_village_cadre_answers_a_finding_on_a_household_of_their_village(personas, area):
    finding = file_finding(personas.supervisor, area.household_a, type="housing")
    assert answer(personas.village_cadre, rect(finding)).answered_by == personas.village_cadre
    other = file_finding(personas.supervisor, area.household_b, type="housing")
    with pytest.raises(Http404):
        answer(personas.village_cadre, rect(other))


# Recheck: closing needs a result and a recheck by someone else ------------------------------------------------------


def test_a_supervisor_closes_an_answered_rectification_on_recheck(personas, finding):
    answer(personas.village_cadre, rect(finding))
    rectification = recheck(personas.supervisor, rect(finding), note="现场复查属实。")
    rectification.refresh_from_db()
    assert rectification.status == Status.CLOSED
    assert rectification.closed_on == TODAY
    assert (rectification.rechecked_by, rectification.answered_by) == (personas.supervisor, personas.village_cadre)
    assert rectification.rechecked_at is not None
    assert rectification.recheck_note == "现场复查属实。"
    last = rectification.history.first()
    assert (last.history_user, last.history_change_reason) == (personas.supervisor, "复查通过，销号")


@pytest.mark.parametrize("started", [False, True])
def test_a_rectification_without_a_result_cannot_be_closed(personas, finding, started):
    if started:
        start(personas.village_cadre, rect(finding))
    before = state(rect(finding))
    with pytest.raises(ValidationError) as error:
        recheck(personas.supervisor, rect(finding))
    assert messages_of(error)["result"] == ["还没有提交整改结果，不能复查销号。"]
    assert state(rect(finding)) == before


def test_nobody_rechecks_their_own_answer_not_even_a_district_admin(personas, finding):
    answer(personas.district_admin, rect(finding))
    before = state(rect(finding))
    with pytest.raises(ValidationError) as error:
        recheck(personas.district_admin, rect(finding))
    assert messages_of(error)["rechecked_by"] == ["复查人不能是整改结果的填报人，请由其他督查人员复查。"]
    assert state(rect(finding)) == before
    assert recheck(personas.supervisor, rect(finding)).status == Status.CLOSED


@pytest.mark.parametrize("persona", ["village_cadre", "township_a", "township_b", "leader"])
def test_only_supervisors_and_district_admins_recheck(personas, finding, persona):
    answer(personas.district_admin, rect(finding))
    before = state(rect(finding))
    with pytest.raises(Http404):
        recheck(getattr(personas, persona), rect(finding))
    assert state(rect(finding)) == before


def test_a_rejected_recheck_goes_back_to_in_progress_with_the_note_and_may_be_answered_again(personas, finding):
    answer(personas.village_cadre, rect(finding))
    rectification = recheck(personas.supervisor, rect(finding), approve=False, note="室内设施未配齐。")
    rectification.refresh_from_db()
    assert rectification.status == Status.IN_PROGRESS
    assert rectification.recheck_note == "室内设施未配齐。"
    assert rectification.closed_on is None
    assert rectification.history.first().history_change_reason == "复查未通过，退回整改：室内设施未配齐。"

    rectification = answer(personas.village_cadre, rect(finding), result="设施已配齐。")
    assert (rectification.status, rectification.rechecked_by) == (Status.AWAITING_RECHECK, None)
    assert recheck(personas.supervisor, rect(finding)).status == Status.CLOSED
    statuses = list(rect(finding).history.order_by("history_date", "history_id").values_list("status", flat=True))
    assert statuses == ["pending", "awaiting_recheck", "in_progress", "awaiting_recheck", "closed"]


def test_rejecting_without_saying_why_is_refused(personas, finding):
    answer(personas.village_cadre, rect(finding))
    before = state(rect(finding))
    with pytest.raises(ValidationError) as error:
        recheck(personas.supervisor, rect(finding), approve=False, note=" ")
    assert messages_of(error)["recheck_note"] == ["退回整改须填写复查意见，说明哪里没有整改到位。"]
    assert state(rect(finding)) == before


def test_a_closed_rectification_cannot_be_answered_or_rechecked_again(personas, finding):
    answer(personas.village_cadre, rect(finding))
    recheck(personas.supervisor, rect(finding))
    before = state(rect(finding))
    with pytest.raises(ValidationError) as error:
        answer(personas.village_cadre, rect(finding))
    assert messages_of(error)["status"] == ["该问题已销号，不能再修改整改情况。"]
    with pytest.raises(ValidationError):
        recheck(personas.district_admin, rect(finding))
    assert state(rect(finding)) == before


# Concurrent edits ------------------------------------------------------------------------------------------------


def test_an_action_on_a_rectification_changed_meanwhile_is_a_conflict_and_changes_nothing(personas, finding):
    seen = rect(finding).version
    start(personas.township_a, rect(finding))  # someone else, meanwhile
    before = state(rect(finding))
    with pytest.raises(services.RectificationConflict) as conflict:
        services.rectification_answer(
            rectification_id=rect(finding).pk, user=personas.village_cadre, expected_version=seen, result="已完工。"
        )
    assert conflict.value.current.status == Status.IN_PROGRESS
    assert conflict.value.changed_by == personas.township_a
    assert state(rect(finding)) == before


# Accountability --------------------------------------------------------------------------------------------------

ACCOUNTABILITY = {
    "subject_kind": "person",
    "subject": "吴玉峰",
    "subject_post": "白庙乡人民政府 副乡长",
    "measure": "interview",
    "decided_by": "discipline",
    "decided_on": datetime.date(2017, 9, 12),
    "document_number": "巴州纪〔2017〕15号",
}


def test_a_supervisor_records_accountability_and_the_findings_history_says_who(personas, finding):
    record = services.accountability_add(finding_id=finding.pk, user=personas.supervisor, data=ACCOUNTABILITY)
    assert (record.finding, record.subject, record.measure, record.document_number) == (
        finding,
        "吴玉峰",
        "interview",
        "巴州纪〔2017〕15号",
    )
    last = finding.history.first()
    assert (last.history_user, last.history_change_reason) == (personas.supervisor, "责任追究：吴玉峰 约谈")


@pytest.mark.parametrize("persona", ["township_a", "village_cadre", "leader"])
def test_only_supervisors_and_district_admins_record_accountability(personas, finding, persona):
    with pytest.raises(Http404):
        services.accountability_add(finding_id=finding.pk, user=getattr(personas, persona), data=ACCOUNTABILITY)
    assert not Accountability.objects.exists()
    assert finding.history.count() == 1


def test_accountability_decided_in_the_future_is_refused(personas, finding):
    with pytest.raises(ValidationError) as error:
        services.accountability_add(
            finding_id=finding.pk,
            user=personas.supervisor,
            data={**ACCOUNTABILITY, "decided_on": datetime.date(2017, 10, 1)},
        )
    assert messages_of(error)["decided_on"] == ["决定日期不能晚于今天。"]
    assert not Accountability.objects.exists()


# The review queue's rows -----------------------------------------------------------------------------------------


def test_the_queue_is_for_supervisors_and_district_admins_only(personas):
    for persona in ("township_a", "village_cadre", "leader"):
        with pytest.raises(Http404):
            services.queue_rows(user=getattr(personas, persona), today=TODAY)
    assert services.queue_rows(user=personas.supervisor, today=TODAY).model.__name__ == "Task"


def test_the_queue_asks_the_plan_rows_overdue_due_soon_or_stale_on_the_given_day(personas, area):
    plan = factories.plan(area.village_a)
    late = factories.task(plan, item="逾期", deadline=datetime.date(2017, 9, 14))
    soon = factories.task(plan, item="临期", deadline=datetime.date(2017, 9, 20), last_progress_on=TODAY)
    factories.done_task(plan, item="已完成", deadline=datetime.date(2017, 9, 1))
    supervisor = factories.user(Role.SUPERVISOR, area.district)

    def items(view, days=None, today=TODAY):
        return set(services.queue_rows(user=supervisor, today=today, view=view, days=days).values_list("pk", flat=True))

    assert items("overdue") == {late.pk}
    assert items("overdue", today=datetime.date(2017, 9, 14)) == set()
    assert items("due", days=5) == {soon.pk}
    assert items("due", days=4) == set()
    # Created today (real time), so never stale by creation date on a pinned day long before: only rows with
    # an old last progress date are stale.
    late.last_progress_on = datetime.date(2017, 7, 1)
    late.save()
    assert items("stale", days=30) == {late.pk}
    assert soon.pk not in items("stale", days=30)
