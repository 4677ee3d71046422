"""Change requests (变更申请): on an approved plan every plan field changes only through an approved request."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.http import Http404

from bazhou.core import access
from bazhou.core.models import Role
from tasks import changes, services
from tasks.models import ChangeRequest, ChangeRequestEvidence, FundLine, Task
from tests import factories

TODAY = datetime.date(2017, 9, 15)
POLICY = ChangeRequest.ReasonCategory.POLICY


@pytest.fixture(autouse=True)
def pinned_today(settings):
    settings.BAZHOU_TODAY = TODAY.isoformat()


@pytest.fixture
def plan(area):
    return factories.plan(area.village_a)


@pytest.fixture
def task(plan, personas):
    """村文化室, due 2017-08-31 (overdue on the 15th of September), on an approved plan."""
    row = factories.task(
        plan,
        item="村文化室",
        category="culture_room",
        quantity=Decimal("1"),
        unit="处",
        planned_funds=Decimal("100"),
        invested_funds=Decimal("20"),
        responsible_unit="白庙乡政府",
        responsible_person="吴玉峰",
    )
    factories.fund_line(row, "central", Decimal("100"))
    services.plan_approve(plan_id=plan.pk, user=personas.district_admin)
    row.refresh_from_db()
    return row


def state(task):
    """Everything a refused or rejected request must leave as it was: the row, its history, its fund lines."""
    row = Task.objects.filter(pk=task.pk).values().get()
    return (row, task.history.count(), list(FundLine.objects.filter(task=task).values("source", "amount")))


def ask(task, user, changes_=None, *, fund_lines=None, kind=None, reason="区政府调整计划", **kwargs):
    return changes.change_request_create(
        user=user,
        task=task,
        kind=kind,
        changes=changes_ or {},
        fund_lines=fund_lines,
        reason_category=kwargs.pop("reason_category", POLICY),
        reason=reason,
        expected_version=kwargs.pop("expected_version", task.version),
        **kwargs,
    )


def approve(request, user):
    return changes.change_request_approve(user=user, request_id=request.pk, expected_version=request.version)


# Every plan field, and the fund lines: refused directly, accepted through a request -------------------------------

PLAN_CHANGES = [
    pytest.param({"item": "村文化活动室"}, None, id="item"),
    pytest.param({"category": "school"}, None, id="category"),
    pytest.param({"quantity": Decimal("2")}, None, id="quantity"),
    pytest.param({"unit": "间"}, None, id="unit"),
    pytest.param({"deadline": datetime.date(2017, 12, 31)}, None, id="deadline"),
    pytest.param({"deadline_text": "年底前"}, None, id="deadline text"),
    pytest.param(
        {"planned_funds": Decimal("120")}, [{"source": "central", "amount": Decimal("120")}], id="planned funds"
    ),
    pytest.param(
        {}, [{"source": "central", "amount": Decimal("60")}, {"source": "city", "amount": Decimal("40")}], id="lines"
    ),
    pytest.param({"responsible_unit": "区文广局"}, None, id="responsible unit"),
    pytest.param({"responsible_person": "秦和平"}, None, id="responsible person"),
]


@pytest.mark.parametrize(("data", "lines"), PLAN_CHANGES)
def test_every_plan_field_is_refused_directly_and_applies_through_an_approved_request(task, personas, data, lines):
    before = state(task)
    with pytest.raises(ValidationError) as excinfo:
        services.task_update(
            task_id=task.pk, user=personas.village_cadre, expected_version=task.version, data=data, fund_lines=lines
        )
    assert excinfo.value.message_dict[NON_FIELD_ERRORS] == [services.APPROVED_CHANGE]
    assert state(task) == before

    request = ask(task, personas.village_cadre, data, fund_lines=lines)
    assert state(task) == before  # asking changes nothing
    approve(request, personas.district_admin)

    task.refresh_from_db()
    for name, value in data.items():
        assert getattr(task, name) == value
    if lines:
        assert {line.source: line.amount for line in task.fund_lines.all()} == {
            line["source"]: line["amount"] for line in lines
        }
    assert task.change_count == 1
    assert task.version == before[0]["version"] + 1


def test_a_household_row_cannot_be_moved_to_another_household_directly(area, plan, task, personas):
    other = factories.household(area.village_a)
    with pytest.raises(ValidationError):
        services.task_update(
            task_id=task.pk, user=personas.village_cadre, expected_version=task.version, data={"household": other}
        )
    ask(task, personas.village_cadre, {"household": other})
    assert ChangeRequest.objects.get().after["household"] == other.pk


def test_progress_completion_and_contact_details_stay_direct_on_an_approved_plan(task, personas):
    services.task_update(
        task_id=task.pk,
        user=personas.village_cadre,
        expected_version=task.version,
        data={"responsible_phone": "13800000000", "status": "in_progress", "progress": 40},
    )
    task.refresh_from_db()
    services.progress_record(
        task_id=task.pk,
        user=personas.village_cadre,
        expected_version=task.version,
        progress=60,
        status="in_progress",
        invested_funds=Decimal("50"),
    )
    task.refresh_from_db()
    services.task_complete(task_id=task.pk, user=personas.village_cadre, expected_version=task.version)
    task.refresh_from_db()
    assert (task.responsible_phone, task.status, task.invested_funds) == ("13800000000", "done", Decimal("50"))
    assert task.change_count == 0


def test_a_request_that_only_touches_progress_is_refused(task, personas):
    with pytest.raises(ValidationError) as excinfo:
        ask(task, personas.village_cadre, {"progress": 50})
    assert excinfo.value.message_dict[NON_FIELD_ERRORS] == [changes.NOT_PLAN_FIELDS]
    assert not ChangeRequest.objects.exists()


def test_a_new_row_and_withdrawing_a_row_are_refused_directly_on_an_approved_plan(plan, task, personas):
    data = {
        "category": "road",
        "item": "产业路",
        "deadline": datetime.date(2017, 11, 30),
        "planned_funds": Decimal("5"),
    }
    with pytest.raises(ValidationError) as excinfo:
        services.task_create(plan=plan, user=personas.village_cadre, data=data, reason="新增产业路")
    assert excinfo.value.messages == [services.APPROVED_NEW]
    before = state(task)
    with pytest.raises(ValidationError) as excinfo:
        services.task_remove(task_id=task.pk, user=personas.village_cadre, expected_version=task.version, reason="重复")
    assert excinfo.value.messages == [services.APPROVED_REMOVE]
    assert state(task) == before
    assert Task.objects.filter(plan=plan).count() == 1


def test_the_import_check_refuses_plan_changes_on_an_approved_plan_unless_filed_as_a_request(task):
    task.plan.refresh_from_db()
    check = services.task_check(
        task=task, data={"deadline": datetime.date(2017, 12, 31)}, fund_lines=None, current_lines={}, reason="x"
    )
    assert check.errors[NON_FIELD_ERRORS] == [services.APPROVED_CHANGE]


def test_an_approved_request_adds_a_row_with_its_baseline(plan, task, personas):
    data = {
        "category": "road",
        "item": "产业路",
        "quantity": Decimal("2"),
        "unit": "公里",
        "deadline": datetime.date(2017, 11, 30),
        "planned_funds": Decimal("5"),
    }
    request = changes.change_request_create(
        user=personas.village_cadre,
        plan=plan,
        changes=data,
        fund_lines=[{"source": "district", "amount": Decimal("5")}],
        reason_category=ChangeRequest.ReasonCategory.WISHES,
        reason="群众要求修产业路",
    )
    assert request.kind == ChangeRequest.Kind.ADD and request.task is None
    assert not Task.objects.filter(item="产业路").exists()

    approve(request, personas.district_admin)
    added = Task.objects.get(item="产业路")
    request.refresh_from_db()
    assert request.task == added
    assert added.created_by == personas.village_cadre
    assert (added.deadline, added.baseline_deadline) == (datetime.date(2017, 11, 30), datetime.date(2017, 11, 30))
    assert [(line.source, line.amount) for line in added.fund_lines.all()] == [("district", Decimal("5"))]
    assert "群众要求修产业路" in added.history.first().history_change_reason


def test_an_approved_withdrawal_removes_the_row_with_the_reason(task, personas):
    request = ask(task, personas.village_cadre, kind=ChangeRequest.Kind.REMOVE, reason="与水利项目重复")
    approve(request, personas.district_admin)
    task.refresh_from_db()
    assert task.is_removed and task.removed_reason == "与水利项目重复"
    assert task.change_count == 1


# Approval: the change, its history, the baseline ---------------------------------------------------------------


def test_approval_applies_the_change_with_history_reason_and_keeps_the_baseline(task, personas):
    request = ask(
        task,
        personas.village_cadre,
        {"deadline": datetime.date(2017, 12, 31)},
        reason_category=ChangeRequest.ReasonCategory.DISASTER,
        reason="暴雨冲毁便道",
    )
    approve(request, personas.district_admin)

    task.refresh_from_db()
    assert task.deadline == datetime.date(2017, 12, 31)
    assert task.baseline_deadline == datetime.date(2017, 8, 31)
    assert task.change_count == 1
    record = task.history.first()
    assert record.history_user == personas.district_admin
    assert record.history_change_reason == f"变更申请 #{request.pk}（自然灾害）：暴雨冲毁便道"
    assert record.prev_record.deadline == datetime.date(2017, 8, 31)
    request.refresh_from_db()
    assert (request.state, request.decided_by) == (ChangeRequest.State.APPROVED, personas.district_admin)
    assert request.before["deadline"] == "2017-08-31" and request.after["deadline"] == "2017-12-31"
    assert changes.changed_fields(request) == ["deadline"]
    assert request.history.count() == 2


def test_the_row_stays_overdue_while_the_request_is_pending(task, personas):
    ask(task, personas.village_cadre, {"deadline": datetime.date(2017, 12, 31)})
    assert Task.objects.overdue(TODAY).filter(pk=task.pk).exists()


def test_new_values_are_checked_as_task_update_checks_them(task, personas):
    with pytest.raises(ValidationError) as excinfo:
        ask(task, personas.village_cadre, {"planned_funds": Decimal("10")}, fund_lines=[])
    # invested (20) over planned (10)
    assert "invested_funds" in excinfo.value.message_dict
    with pytest.raises(ValidationError) as excinfo:
        ask(task, personas.village_cadre, {"planned_funds": Decimal("150")})
    assert "planned_funds" in excinfo.value.message_dict  # the fund lines no longer add up
    with pytest.raises(ValidationError) as excinfo:
        ask(task, personas.village_cadre, {"quantity": Decimal("-1")})
    assert "quantity" in excinfo.value.message_dict
    assert not ChangeRequest.objects.exists()


def test_a_request_needs_a_reason_a_category_and_some_change(task, personas):
    with pytest.raises(ValidationError) as excinfo:
        ask(task, personas.village_cadre, {"item": "新名"}, reason="  ", reason_category="")
    assert set(excinfo.value.message_dict) == {"reason", "reason_category"}
    with pytest.raises(ValidationError) as excinfo:
        ask(task, personas.village_cadre, {"item": task.item})
    assert excinfo.value.messages == [changes.NOTHING_CHANGED]
    assert not ChangeRequest.objects.exists()


def test_a_draft_plan_needs_no_request(area, personas):
    draft_row = factories.task(factories.plan(area.village_a, year=2018))
    with pytest.raises(ValidationError) as excinfo:
        ask(draft_row, personas.village_cadre, {"item": "x"})
    assert excinfo.value.messages == [changes.DRAFT_PLAN]


def test_attachments_are_checked_and_stored(task, personas, media):
    request = ask(task, personas.village_cadre, {"item": "新名"}, attachments=[factories.evidence_upload("pdf")])
    assert ChangeRequestEvidence.objects.get(request=request).content_type == "application/pdf"


def test_a_bad_attachment_refuses_the_whole_request(task, personas, media):
    bad = factories.evidence_upload("exe")
    with pytest.raises(ValidationError) as excinfo:
        ask(task, personas.village_cadre, {"item": "新名"}, attachments=[bad])
    assert "attachments" in excinfo.value.message_dict
    assert not ChangeRequest.objects.exists()


# Who decides ---------------------------------------------------------------------------------------------------


def test_the_requester_cannot_approve_even_as_district_admin(task, personas):
    request = ask(task, personas.district_admin, {"item": "新名"})
    before = state(task)
    with pytest.raises(PermissionDenied) as excinfo:
        approve(request, personas.district_admin)
    assert str(excinfo.value) == changes.OWN_REQUEST
    assert state(task) == before
    request.refresh_from_db()
    assert request.is_pending


@pytest.mark.parametrize("persona", ["township_a", "village_cadre"])
def test_area_staff_who_may_not_approve_plans_cannot_decide(task, personas, persona):
    request = ask(task, personas.village_cadre, {"item": "新名"})
    with pytest.raises(PermissionDenied):
        approve(request, getattr(personas, persona))
    with pytest.raises(PermissionDenied):
        changes.change_request_reject(
            user=getattr(personas, persona), request_id=request.pk, note="不同意", expected_version=request.version
        )
    assert ChangeRequest.objects.get().is_pending


@pytest.mark.parametrize("persona", ["township_b", "supervisor", "leader"])
def test_users_outside_the_area_or_who_only_read_cannot_even_find_it(task, personas, persona):
    request = ask(task, personas.village_cadre, {"item": "新名"})
    with pytest.raises(Http404):
        approve(request, getattr(personas, persona))
    with pytest.raises(Http404):
        ask(task, getattr(personas, persona), {"item": "别名"})


def test_an_admin_of_another_district_cannot_approve(task, personas):
    request = ask(task, personas.village_cadre, {"item": "新名"})
    other = factories.user(Role.DISTRICT_ADMIN, factories.district("511921", "通江县"), username="tongjiang")
    with pytest.raises(Http404):
        approve(request, other)


def test_the_access_rule_names_approvers_and_never_the_requester(task, personas):
    request = ask(task, personas.village_cadre, {"item": "新名"})
    assert access.may_decide_change_request(personas.district_admin, request)
    assert not access.may_decide_change_request(personas.village_cadre, request)
    assert not access.may_decide_change_request(personas.township_a, request)
    assert list(ChangeRequest.objects.decidable_by(personas.district_admin)) == [request]
    assert not ChangeRequest.objects.decidable_by(personas.village_cadre).exists()


# Rejecting, withdrawing, one at a time, double submits ------------------------------------------------------------


def test_rejection_needs_a_note_and_changes_nothing(task, personas):
    request = ask(task, personas.village_cadre, {"deadline": datetime.date(2017, 12, 31)})
    before = state(task)
    with pytest.raises(ValidationError) as excinfo:
        changes.change_request_reject(
            user=personas.district_admin, request_id=request.pk, note=" ", expected_version=request.version
        )
    assert excinfo.value.message_dict["decision_note"] == [changes.NOTE_REQUIRED]
    assert ChangeRequest.objects.get().is_pending

    changes.change_request_reject(
        user=personas.district_admin, request_id=request.pk, note="时限不能再延", expected_version=request.version
    )
    request.refresh_from_db()
    assert (request.state, request.decision_note) == (ChangeRequest.State.REJECTED, "时限不能再延")
    assert state(task) == before


def test_only_the_requester_withdraws(task, personas):
    request = ask(task, personas.village_cadre, {"item": "新名"})
    with pytest.raises(PermissionDenied):
        changes.change_request_withdraw(user=personas.township_a, request_id=request.pk, expected_version=1)
    before = state(task)
    changes.change_request_withdraw(user=personas.village_cadre, request_id=request.pk, expected_version=1)
    request.refresh_from_db()
    assert request.state == ChangeRequest.State.WITHDRAWN
    assert state(task) == before
    # withdrawn: the row is free for a new request
    ask(task, personas.village_cadre, {"item": "又一个名"})


def test_a_second_pending_request_on_a_row_is_refused(task, personas):
    ask(task, personas.village_cadre, {"item": "新名"})
    with pytest.raises(ValidationError) as excinfo:
        ask(task, personas.township_a, {"deadline": datetime.date(2017, 12, 31)})
    assert excinfo.value.messages == [changes.PENDING_EXISTS]
    assert ChangeRequest.objects.count() == 1


def test_the_database_refuses_a_second_pending_request_on_a_row(task, personas):
    first = ask(task, personas.village_cadre, {"item": "新名"})
    with factories.refused_by_database(ChangeRequest, "change_request_one_pending_per_row"):
        ChangeRequest.objects.create(
            plan=first.plan,
            task=task,
            kind="change",
            reason_category=POLICY,
            reason="x",
            requested_by=first.requested_by,
        )


def test_deciding_twice_is_a_conflict_that_changes_nothing(task, personas):
    request = ask(task, personas.village_cadre, {"item": "新名"})
    approve(request, personas.district_admin)
    task.refresh_from_db()
    before = state(task)
    with pytest.raises(changes.ChangeRequestConflict):
        approve(request, personas.district_admin)  # the same form, submitted again (old version)
    with pytest.raises(ValidationError):
        changes.change_request_reject(
            user=personas.district_admin, request_id=request.pk, note="x", expected_version=request.version + 1
        )
    assert state(task) == before
    assert task.change_count == 1


def test_a_stale_row_version_is_a_conflict(task, personas):
    with pytest.raises(services.TaskConflict):
        ask(task, personas.village_cadre, {"item": "新名"}, expected_version=task.version - 1)
    assert not ChangeRequest.objects.exists()
