"""Rollover (结转): next year's plan of a village from its unfinished rows (docs/rollover.md).

:func:`roll_over` carries the unfinished rows of a plan (``Task.objects.carryable()``: live, not done, not carried
yet) into the village's plan of a later year (by default ``plan.year + 1``), in one transaction with the origin plan
locked:

- the target plan is the village's plan of that year, opened as a draft (``tasks.services.plan_create``) if there is
  none;
- a draft target gets the rows directly; an approved target gets one change request (新增) per row, pending, and
  nothing is added until it is approved (``tasks.changes.change_request_approve`` then creates the row with its
  link);
- each carried row keeps a link to its origin (``Task.carried_from``) and the reason (``carry_reason``); it copies
  the item, category, quantity and unit, household, responsible unit and person, and carries the REMAINING planned
  funds (planned − invested) with the fund lines scaled to them; its deadline is the user's, or the same month and
  day in the target year (28 February for 29 February), never earlier than the origin's own deadline;
- a row already carried (a live carried row, or a pending request for one) is never carried twice: named in an error
  when the caller picked it, skipped otherwise; a second rollover carries nothing.

Who may roll over: whoever may edit the plan (``Plan.objects.editable_by``; outside it a 404). Every created row's
history is signed with the reason.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404

from bazhou.core import dates
from bazhou.core.services import add_error, collect_errors, raise_if, sign
from bazhou.core.text import is_blank
from tasks import changes, services
from tasks.models import CARRY_REASON_REQUIRED, ChangeRequest, FundLine, Plan, Task, carried_q, is_done_status

REASON_MAX = 500
WAN_STEP = Decimal("0.0001")

NO_ROWS_CHOSEN = "请至少选择一项要结转的任务。"
NOT_IN_PLAN = "任务 #{id} 不是本施工图的任务，不能从这里结转。"
ROW_DONE = "“{item}”（#{id}）已完成，不需要结转。"
ROW_REMOVED = "“{item}”（#{id}）已撤销，不能结转。"
ROW_CARRIED = "“{item}”（#{id}）已结转过，不能重复结转。"
ROW_PENDING = "“{item}”（#{id}）已有待审批的结转申请，不能重复结转。"
YEAR_NOT_LATER = "结转的目标年度须晚于本施工图的年度（{year}年）。"
REASON_TOO_LONG = f"结转原因不能超过 {REASON_MAX} 个字。"


@dataclass
class RolloverResult:
    """What a rollover did: the target plan (None when nothing was carried and it did not exist), the rows created
    (draft target), the change requests filed (approved target), and the rows skipped with why."""

    origin: Plan
    target: Plan | None
    target_year: int
    created: list[Task] = field(default_factory=list)
    requested: list[ChangeRequest] = field(default_factory=list)
    skipped: list[tuple[Task, str]] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.created) + len(self.requested)

    def message(self) -> str:
        """The sentence a page shows after the rollover."""
        if self.created:
            text = f"已将 {len(self.created)} 项未完成任务结转到{self.target_year}年施工图（草稿）。"
        elif self.requested:
            text = (
                f"{self.target_year}年施工图已批准：已为 {len(self.requested)} 项未完成任务提交结转申请（新增），"
                "批准后生效。"
            )
        else:
            text = "没有需要结转的未完成任务。"
        if self.skipped:
            text += f"另有 {len(self.skipped)} 项已结转过，未重复结转。"
        return text


# ---------------------------------------------------------------------------------------------
# The rules of a carried row
# ---------------------------------------------------------------------------------------------


def remaining_funds(task: Task) -> Decimal:
    """The planned funds a carried row takes: what was planned and not invested (never negative)."""
    return max((task.planned_funds or Decimal("0")) - (task.invested_funds or Decimal("0")), Decimal("0"))


def scaled_lines(lines: Iterable[tuple[str, Decimal]], remaining: Decimal) -> list[tuple[str, Decimal]]:
    """The fund lines scaled to ``remaining`` in their proportions, to 1 元 (4 decimals), adding up exactly to it
    (the rounding difference goes to the largest line). No lines when nothing remains or nothing was split."""
    lines = [(source, amount) for source, amount in lines if amount > 0]
    total = sum((amount for _, amount in lines), Decimal("0"))
    if not lines or total <= 0 or remaining <= 0:
        return []
    scaled = [(s, (a * remaining / total).quantize(WAN_STEP, rounding=ROUND_HALF_UP)) for s, a in lines]
    difference = remaining - sum((amount for _, amount in scaled), Decimal("0"))
    if difference:
        largest = max(range(len(scaled)), key=lambda i: scaled[i][1])
        source, amount = scaled[largest]
        scaled[largest] = (source, amount + difference)
    return sorted(scaled)


def carried_deadline(deadline: datetime.date, year: int) -> datetime.date:
    """A carried row's deadline when the user gives none: the same month and day in ``year`` (28 February for
    29 February), never earlier than the origin's own deadline, within the dates a plan of ``year`` may name
    (bazhou.core.dates.plan_range)."""
    try:
        moved = deadline.replace(year=year)
    except ValueError:  # 29 February
        moved = deadline.replace(year=year, day=28)
    first, last = dates.plan_range(year)
    return min(max(moved, deadline, first), last)


# ---------------------------------------------------------------------------------------------
# The service
# ---------------------------------------------------------------------------------------------


@transaction.atomic
def roll_over(
    *,
    user,
    plan: Plan | int,
    reason: str,
    year: int | None = None,
    task_ids: Iterable[int] | None = None,
    deadline: datetime.date | None = None,
) -> RolloverResult:
    """Carry the unfinished rows of ``plan`` (all of them, or those ``task_ids`` names) into the village's plan of
    ``year`` (default: the next year), with ``reason``; ``deadline`` (optional) for every carried row.

    A plan the user may not edit is a 404. A blank reason, a year not later than the plan's, ids that are not
    unfinished rows of this plan or are already carried, or a row the target plan would refuse raise a Chinese
    ``ValidationError`` and change nothing. With no ``task_ids`` the rows already carried are skipped."""
    plan_id = plan.pk if isinstance(plan, Plan) else int(plan)
    origin = get_object_or_404(
        Plan.objects.editable_by(user).select_for_update(of=("self",)).select_related("village"), pk=plan_id
    )
    reason = (reason or "").strip()
    target_year = origin.year + 1 if year is None else int(year)
    errors: dict[str, list[str]] = {}
    if is_blank(reason):
        add_error(errors, "reason", CARRY_REASON_REQUIRED)
    elif len(reason) > REASON_MAX:
        add_error(errors, "reason", REASON_TOO_LONG)
    if target_year <= origin.year:
        add_error(errors, "year", YEAR_NOT_LATER.format(year=origin.year))
    if deadline is not None:
        message = dates.plan_date_error(deadline, target_year, "完成时限")
        if message:
            add_error(errors, "deadline", message)

    rows, skipped = _chosen_rows(origin, task_ids, errors)
    raise_if(errors)
    result = RolloverResult(origin=origin, target=None, target_year=target_year, skipped=skipped)
    if not rows:
        result.target = Plan.objects.filter(village_id=origin.village_id, year=target_year).first()
        return result

    target = Plan.objects.select_for_update(of=("self",)).filter(village_id=origin.village_id, year=target_year).first()
    if target is None:
        target = services.plan_create(village_id=origin.village_id, year=target_year, user=user)
    result.target = target
    lines_of = _fund_lines_of(rows)
    if target.is_approved:
        result.requested = [_request(user, target, row, lines_of.get(row.pk, []), reason, deadline) for row in rows]
    else:
        result.created = _create(user, target, rows, lines_of, reason, deadline)
    return result


def _chosen_rows(origin: Plan, task_ids, errors: dict) -> tuple[list[Task], list[tuple[Task, str]]]:
    """The rows to carry (``Task.objects.carryable()``), and those skipped because already carried (only when the
    caller named no rows). Rows the caller named that cannot be carried go to ``errors``, each named."""
    rows_of_plan = Task.objects.filter(plan=origin).select_related("household", "plan").order_by("id")
    if task_ids is None:
        rows = list(rows_of_plan.carryable())
        carried = rows_of_plan.open().filter(carried_q()).with_carry()
        return rows, [(task, _carried_problem(task)) for task in carried]
    wanted = list(dict.fromkeys(int(i) for i in task_ids))
    if not wanted:
        add_error(errors, "tasks", NO_ROWS_CHOSEN)
        return [], []
    rows = list(rows_of_plan.carryable().filter(pk__in=wanted))
    missing = [task_id for task_id in wanted if task_id not in {task.pk for task in rows}]
    if missing:
        found = {task.pk: task for task in rows_of_plan.filter(pk__in=missing).with_carry()}
        for task_id in missing:
            task = found.get(task_id)
            if task is None:
                add_error(errors, "tasks", NOT_IN_PLAN.format(id=task_id))
            elif task.is_removed:
                add_error(errors, "tasks", ROW_REMOVED.format(item=task.item, id=task.pk))
            elif is_done_status(task.status):
                add_error(errors, "tasks", ROW_DONE.format(item=task.item, id=task.pk))
            else:
                add_error(errors, "tasks", _carried_problem(task))
    return rows, []


def _carried_problem(task: Task) -> str:
    if task.carry_pending:
        return ROW_PENDING.format(item=task.item, id=task.pk)
    return ROW_CARRIED.format(item=task.item, id=task.pk)


def _fund_lines_of(rows: list[Task]) -> dict[int, list[tuple[str, Decimal]]]:
    lines: dict[int, list[tuple[str, Decimal]]] = {}
    for task_id, source, amount in FundLine.objects.filter(task__in=rows).values_list("task_id", "source", "amount"):
        lines.setdefault(task_id, []).append((source, amount))
    return lines


def _plan_values(origin: Task, year: int, deadline: datetime.date | None) -> dict:
    """The plan fields of the row carried from ``origin`` into a plan of ``year``."""
    return {
        "household": origin.household,
        "category": origin.category,
        "item": origin.item,
        "quantity": origin.quantity,
        "unit": origin.unit,
        "deadline": deadline or carried_deadline(origin.deadline, year),
        "deadline_text": origin.deadline_text,
        "planned_funds": remaining_funds(origin),
        "responsible_unit": origin.responsible_unit,
        "responsible_person": origin.responsible_person,
    }


def _why(origin: Task, reason: str) -> str:
    return f"结转自{origin.plan.year}年任务 #{origin.pk}：{reason}"


def _create(user, target: Plan, rows: list[Task], lines_of: dict, reason: str, deadline) -> list[Task]:
    """The carried rows of a draft target, checked all before any is saved."""
    errors: dict[str, list[str]] = {}
    created = []
    for origin in rows:
        task = Task(
            plan=target,
            created_by=user,
            carried_from=origin,
            carry_reason=reason,
            responsible_phone=origin.responsible_phone,
            responsible_email=origin.responsible_email,
            **_plan_values(origin, target.year, deadline),
        )
        row_errors: dict[str, list[str]] = {}
        collect_errors(row_errors, task.full_clean)  # Task.clean asks tasks.models.carry_errors
        for messages in row_errors.values():
            add_error(errors, NON_FIELD_ERRORS, *(f"“{origin.item}”（#{origin.pk}）：{m}" for m in messages))
        created.append(task)
    raise_if(errors)
    services.link_departments(created)
    for task in created:
        origin = task.carried_from
        sign(task, user, _why(origin, reason))
        task.save()
        lines = scaled_lines(lines_of.get(origin.pk, []), task.planned_funds)
        if lines:
            services._write_fund_lines(task, lines, user, _why(origin, reason))
    return created


def _request(user, target: Plan, origin: Task, lines, reason: str, deadline) -> ChangeRequest:
    """One pending change request (新增) carrying ``origin`` into the approved ``target``."""
    values = _plan_values(origin, target.year, deadline)
    try:
        return changes.change_request_create(
            user=user,
            plan=target,
            kind=ChangeRequest.Kind.ADD,
            changes=values,
            fund_lines=[{"source": s, "amount": a} for s, a in scaled_lines(lines, values["planned_funds"])],
            reason_category=ChangeRequest.ReasonCategory.OTHER,
            reason=_why(origin, reason),
            carried_from=origin,
            carry_reason=reason,
        )
    except ValidationError as error:
        messages = [m for ms in error.message_dict.values() for m in ms] if hasattr(error, "error_dict") else []
        messages = messages or error.messages
        raise ValidationError(
            {NON_FIELD_ERRORS: [f"“{origin.item}”（#{origin.pk}）：{m}" for m in messages]}
        ) from error
