"""The plan table's rules (funds, progress, status) hold in validation and in the database."""

import datetime
from decimal import Decimal

import pytest

from tasks.models import FundLine, Task
from tests import factories
from tests.factories import clean_errors, refused_by_database

DEADLINE = datetime.date(2017, 8, 31)


@pytest.fixture
def plan(area):
    return factories.plan(area.village_a)


@pytest.fixture
def task(plan):
    return factories.task(plan, planned_funds=Decimal("170"), invested_funds=Decimal("50"))


def new_task(plan, **fields):
    """An unsaved, valid village task of ``plan``; ``fields`` make it invalid."""
    fields = {
        "category": "industry",
        "item": "道地巴药产业",
        "quantity": Decimal("900"),
        "unit": "亩",
        "deadline": datetime.date(2017, 9, 30),
        "planned_funds": Decimal("170"),
        **fields,
    }
    return Task(plan=plan, **fields)


def test_a_valid_task_passes_validation(plan):
    new_task(plan, status=Task.Status.IN_PROGRESS, progress=40, invested_funds=Decimal("170")).full_clean()


# Funds ---------------------------------------------------------------------------------------------


def test_negative_planned_funds_are_refused_by_validation(plan):
    errors = clean_errors(new_task(plan, planned_funds=Decimal("-1")))
    assert errors["planned_funds"] == ["计划资金不能为负数。"]


def test_negative_planned_funds_are_refused_by_the_database(plan, task):
    # Negative planned funds also break either "invested ≥ 0" or "invested ≤ planned"; the database may name either.
    with refused_by_database(Task, ("task_planned_funds_nonneg", "task_invested_within_planned")):
        factories.task(plan, planned_funds=Decimal("-0.0001"))
    with refused_by_database(Task, ("task_planned_funds_nonneg", "task_invested_funds_nonneg")):
        Task.objects.filter(pk=task.pk).update(planned_funds=Decimal("-1"), invested_funds=Decimal("-1"))
    task.refresh_from_db()
    assert task.planned_funds == Decimal("170")


def test_negative_invested_funds_are_refused_by_validation(plan):
    errors = clean_errors(new_task(plan, invested_funds=Decimal("-5")))
    assert errors["invested_funds"] == ["已投入资金不能为负数。"]


def test_negative_invested_funds_are_refused_by_the_database(task):
    with refused_by_database(Task, "task_invested_funds_nonneg"):
        Task.objects.filter(pk=task.pk).update(invested_funds=Decimal("-5"))
    task.refresh_from_db()
    assert task.invested_funds == Decimal("50")


def test_invested_more_than_planned_is_refused_by_validation(plan):
    errors = clean_errors(new_task(plan, planned_funds=Decimal("170"), invested_funds=Decimal("170.0001")))
    assert errors["invested_funds"] == ["已投入资金不能超过计划资金。"]


def test_invested_equal_to_planned_is_allowed(plan):
    new_task(plan, planned_funds=Decimal("170"), invested_funds=Decimal("170")).full_clean()


def test_invested_more_than_planned_is_refused_by_the_database(task):
    with refused_by_database(Task, "task_invested_within_planned"):
        Task.objects.filter(pk=task.pk).update(invested_funds=Decimal("170.0001"))


def test_cutting_planned_funds_below_invested_is_refused_by_the_database(task):
    with refused_by_database(Task, "task_invested_within_planned"):
        Task.objects.filter(pk=task.pk).update(planned_funds=Decimal("49"))
    task.refresh_from_db()
    assert task.planned_funds == Decimal("170")


def test_negative_quantity_is_refused(plan, task):
    assert clean_errors(new_task(plan, quantity=Decimal("-3")))["quantity"] == ["数量不能为负数。"]
    with refused_by_database(Task, "task_quantity_nonneg"):
        Task.objects.filter(pk=task.pk).update(quantity=Decimal("-3"))


# Progress and status ---------------------------------------------------------------------------------


def test_progress_above_100_is_refused_by_validation(plan):
    errors = clean_errors(new_task(plan, status=Task.Status.IN_PROGRESS, progress=101))
    assert errors["progress"] == ["进度应在 0–100 之间。"]


def test_progress_above_100_is_refused_by_the_database(plan, task):
    with refused_by_database(Task, "task_progress_0_100"):
        factories.task(plan, status=Task.Status.IN_PROGRESS, progress=101)
    with refused_by_database(Task, "task_progress_0_100"):
        Task.objects.filter(pk=task.pk).update(status=Task.Status.IN_PROGRESS, progress=101)
    task.refresh_from_db()
    assert (task.status, task.progress) == (Task.Status.NOT_STARTED, 0)


def test_negative_progress_is_refused_by_validation(plan):
    errors = clean_errors(new_task(plan, status=Task.Status.IN_PROGRESS, progress=-1))
    assert errors["progress"] == ["确保该值大于或等于0。"]


def test_negative_progress_is_refused_by_the_database(plan):
    # The field is a PositiveSmallIntegerField: its own check and task_progress_0_100 both refuse -1.
    with refused_by_database(Task):
        factories.task(plan, status=Task.Status.IN_PROGRESS, progress=-1)


@pytest.mark.parametrize("status", [Task.Status.DONE, Task.Status.ACCEPTED])
def test_done_needs_completion_date_and_full_progress_in_validation(plan, status):
    errors = clean_errors(new_task(plan, status=status, progress=80))
    assert errors["progress"] == ["已完成的任务进度应为 100%。"]
    assert errors["completed_on"] == ["已完成的任务须填写完成日期。"]


def test_done_with_completion_date_and_full_progress_is_valid(plan):
    new_task(plan, status=Task.Status.DONE, progress=100, completed_on=datetime.date(2017, 8, 20)).full_clean()


def test_done_without_completion_date_is_refused_by_the_database(task):
    with refused_by_database(Task, "task_done_is_complete"):
        Task.objects.filter(pk=task.pk).update(status=Task.Status.DONE, progress=100)


def test_done_below_full_progress_is_refused_by_the_database(plan):
    with refused_by_database(Task, "task_done_is_complete"):
        factories.task(plan, status=Task.Status.DONE, progress=90, completed_on=datetime.date(2017, 8, 20))


def test_completion_date_on_an_unfinished_task_is_refused(plan, task):
    errors = clean_errors(new_task(plan, status=Task.Status.IN_PROGRESS, progress=50, completed_on=DEADLINE))
    assert errors["completed_on"] == ["未完成的任务不能有完成日期。"]
    with refused_by_database(Task, "task_completed_on_only_when_done"):
        Task.objects.filter(pk=task.pk).update(completed_on=DEADLINE)


def test_not_started_with_progress_is_refused_by_validation(plan):
    errors = clean_errors(new_task(plan, status=Task.Status.NOT_STARTED, progress=10))
    assert errors["progress"] == ["未启动的任务进度应为 0。"]


def test_not_started_with_progress_is_refused_by_the_database(task):
    with refused_by_database(Task, "task_not_started_has_no_progress"):
        Task.objects.filter(pk=task.pk).update(progress=10)
    task.refresh_from_db()
    assert task.progress == 0


def test_withdrawing_a_task_needs_a_reason(plan, task):
    errors = clean_errors(new_task(plan, is_removed=True, removed_reason="  "))
    assert errors["removed_reason"] == ["撤销任务须说明原因。"]
    with refused_by_database(Task, "task_removed_has_reason"):
        Task.objects.filter(pk=task.pk).update(is_removed=True)
    task.refresh_from_db()
    assert task.is_removed is False


def test_a_household_task_must_belong_to_the_plans_village(plan, area):
    errors = clean_errors(new_task(plan, household=area.household_b))
    assert errors["household"] == ["该户不属于本施工图所在的村。"]
    new_task(plan, household=area.household_a).full_clean()


# Fund-source lines ------------------------------------------------------------------------------------


def test_negative_fund_line_is_refused_by_validation(task):
    errors = clean_errors(FundLine(task=task, source="central", amount=Decimal("-10")))
    assert errors["amount"] == ["资金金额不能为负数。"]


def test_negative_fund_line_is_refused_by_the_database(task):
    with refused_by_database(FundLine, "fund_line_amount_nonneg"):
        FundLine.objects.create(task=task, source="central", amount=Decimal("-10"))


def test_duplicate_fund_source_is_refused_by_validation(task):
    FundLine.objects.create(task=task, source="central", amount=Decimal("100"))
    errors = clean_errors(FundLine(task=task, source="central", amount=Decimal("70")))
    assert "同一任务的资金来源不能重复。" in errors["__all__"]
    FundLine(task=task, source="province", amount=Decimal("70")).full_clean()


def test_duplicate_fund_source_is_refused_by_the_database(task):
    FundLine.objects.create(task=task, source="central", amount=Decimal("100"))
    with refused_by_database(FundLine, "fund_line_one_per_source"):
        FundLine.objects.bulk_create(
            [FundLine(task=task, source="province", amount=Decimal("20")), FundLine(task=task, source="central")]
        )
    assert list(task.fund_lines.values_list("source", "amount")) == [("central", Decimal("100"))]


def test_the_same_source_on_another_task_is_allowed(plan, task):
    other = factories.task(plan, item="安全饮用水")
    FundLine.objects.create(task=task, source="central", amount=Decimal("100"))
    line = FundLine(task=other, source="central", amount=Decimal("20"))
    line.full_clean()
    line.save()
    assert FundLine.objects.filter(source="central").count() == 2
