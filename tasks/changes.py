"""Change requests (变更申请): once a plan is approved (一张蓝图干到底), its rows change only through a request that
someone allowed to approve plans for the area approves, never the requester.

The plan fields of a row (:data:`tasks.models.PLAN_FIELDS`: item, quantity and unit, category, deadline, planned
funds and their fund lines, the responsible unit and person, the household) and adding or withdrawing a row go
through here; progress, status, invested funds, completion and the responsible person's phone and e-mail stay
direct (``tasks.services``). The functions follow the rules of ``tasks.services``: keyword-only arguments, rows
fetched through the user's area (a 404 outside it), one transaction with row locks, a version check that raises an
:class:`~bazhou.core.services.EditConflict` and changes nothing, Chinese ``ValidationError``s by field, and history
signed with who and why.

- :func:`change_request_create` checks the new values exactly as ``task_update``/``task_create`` would
  (``tasks.services.task_check``) and refuses a second pending request on a row.
- :func:`change_request_approve` applies the change to the row in the same transaction, signs the row's history
  with the request's reason, adds one to ``change_count`` and leaves the approved baseline (``baseline_*``) as it is.
- :func:`change_request_reject` (with a note) changes nothing on the row; :func:`change_request_withdraw` is the
  requester's.
"""

from __future__ import annotations

import copy
import datetime
from collections.abc import Iterable, Mapping
from decimal import Decimal

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone

from bazhou.core import access
from bazhou.core.access import get_editable_or_404
from bazhou.core.services import EditConflict, add_error, collect_errors, raise_if, save_checked, sign
from bazhou.core.text import is_blank
from tasks import services
from tasks.models import PLAN_FIELDS, ChangeRequest, ChangeRequestEvidence, Plan, Task

PENDING_EXISTS = "该任务已有一项待审批的变更申请，请等待审批或先撤回。"
NOTHING_CHANGED = "没有任何变更：请填写要修改的内容。"
DRAFT_PLAN = "该施工图尚未批准，可直接修改，不需要变更申请。"
NOT_PLAN_FIELDS = "进度、状态、已投入资金和联系方式不需要变更申请，请直接填报。"
REASON_REQUIRED = "请说明变更原因。"
NOTE_REQUIRED = "驳回变更申请须填写意见。"
NOT_PENDING = "该变更申请已处理（{state}），不能再{action}。"
OWN_REQUEST = "不能审批自己提交的变更申请。"
NOT_APPROVER = "只有可以批准施工图的人员（默认为区脱贫办）可以审批变更申请。"
ONLY_REQUESTER = "只有申请人可以撤回变更申请。"

# Amounts and dates are kept as text in the JSON (exact, and readable in the ledger).
DECIMAL_FIELDS = ("quantity", "planned_funds")
DATE_FIELDS = ("deadline",)


class ChangeRequestConflict(EditConflict):
    """Someone decided (or withdrew) the request after the caller loaded it; nothing was changed."""

    def __init__(self, current: ChangeRequest):
        super().__init__(current, f"变更申请 {current.pk} 已被他人处理（当前状态：{current.get_state_display()}）。")

    @property
    def what(self) -> str:
        return f"变更申请 #{self.current.pk}"


# ---------------------------------------------------------------------------------------------
# The plan fields as JSON (before / after)
# ---------------------------------------------------------------------------------------------


def plan_values(task: Task, lines: Iterable[tuple[str, Decimal]]) -> dict:
    """The row's plan fields and fund lines as JSON-ready values (the household as its id)."""
    values = {}
    for name in PLAN_FIELDS:
        value = getattr(task, Task._meta.get_field(name).attname)
        if isinstance(value, Decimal):
            value = str(value)
        elif isinstance(value, datetime.date):
            value = value.isoformat()
        values[name] = value
    values["fund_lines"] = [{"source": s, "amount": str(a)} for s, a in sorted(lines)]
    return values


def _parse(name: str, value):
    if value is None or value == "":
        return value
    if name in DECIMAL_FIELDS:
        return Decimal(value)
    if name in DATE_FIELDS:
        return datetime.date.fromisoformat(value)
    return value


def _lines(values: Mapping) -> list[tuple[str, Decimal]]:
    return [(line["source"], Decimal(line["amount"])) for line in values.get("fund_lines", [])]


def changed_fields(request: ChangeRequest) -> list[str]:
    """The plan fields (and ``"fund_lines"``) the request changes, in the order of the table."""
    names = [*PLAN_FIELDS, "fund_lines"]
    if request.kind != ChangeRequest.Kind.CHANGE:
        source = request.after or request.before
        return [n for n in names if source.get(n) not in (None, "", [])]
    return [n for n in names if request.before.get(n) != request.after.get(n)]


# ---------------------------------------------------------------------------------------------
# Asking
# ---------------------------------------------------------------------------------------------


@transaction.atomic
def change_request_create(
    *,
    user,
    task: Task | int | None = None,
    plan: Plan | int | None = None,
    kind: str | None = None,
    changes: Mapping | None = None,
    fund_lines: Iterable[Mapping] | None = None,
    reason_category: str,
    reason: str,
    attachments: Iterable = (),
    expected_version: int | None = None,
    carried_from: Task | None = None,
    carry_reason: str = "",
) -> ChangeRequest:
    """Ask for a change to a row of an approved plan.

    - ``task`` and ``kind`` 修改 (``"change"``, the default): ``changes`` maps plan fields to their new values
      (like ``task_update``'s ``data``); ``fund_lines`` None keeps the fund lines, a list replaces them.
    - ``task`` and ``kind`` 撤销 (``"remove"``): withdraw the row.
    - ``plan`` (no ``task``), ``kind`` 新增 (``"add"``): a new row, ``changes`` its fields as for ``task_create``.

    ``expected_version`` is the row's version the caller saw (not needed to add a row): a stale one raises
    ``TaskConflict``. A row outside the user's area is a 404; a second pending request on a row, a draft plan,
    values ``task_update`` would refuse, a change of nothing or a missing reason raise ``ValidationError``.

    A rollover (结转, ``tasks.rollover``) adds a row with ``carried_from`` (the earlier year's row) and
    ``carry_reason``: approving the request creates the row with the same link.
    """
    changes = dict(changes or {})
    reason = (reason or "").strip()
    errors: dict[str, list[str]] = {}
    if not access.may_request_changes(user):
        raise Http404("任务不存在或您无权修改。")

    if task is not None:
        kind = kind or ChangeRequest.Kind.CHANGE
        if kind not in (ChangeRequest.Kind.CHANGE, ChangeRequest.Kind.REMOVE):
            raise ValueError(f"kind {kind!r} needs a plan, not a task")
        task_id = task.pk if isinstance(task, Task) else int(task)
        locked = Task.objects.select_for_update(of=("self",)).select_related("plan")
        row = get_editable_or_404(locked, user, pk=task_id)
        target_plan = row.plan
        if not target_plan.is_approved:
            raise ValidationError({NON_FIELD_ERRORS: [DRAFT_PLAN]})
        if expected_version is None or row.version != int(expected_version):
            raise services.TaskConflict(row)
        if row.is_removed:
            raise ValidationError({NON_FIELD_ERRORS: [services.TASK_REMOVED]})
        if ChangeRequest.objects.pending().filter(task=row).exists():
            raise ValidationError({NON_FIELD_ERRORS: [PENDING_EXISTS]})
        current_lines = {line.source: line.amount for line in row.fund_lines.all()}
        before = plan_values(row, current_lines.items())
        if kind == ChangeRequest.Kind.REMOVE:
            after = {}
        else:
            candidate = copy.copy(row)
            after = _checked_values(candidate, changes, fund_lines, current_lines, reason, errors)
            if not errors and after == before:
                add_error(errors, NON_FIELD_ERRORS, NOTHING_CHANGED)
    else:
        if plan is None:
            raise ValueError("a change request names a task or a plan")
        kind = kind or ChangeRequest.Kind.ADD
        if kind != ChangeRequest.Kind.ADD:
            raise ValueError(f"kind {kind!r} needs a task")
        plan_id = plan.pk if isinstance(plan, Plan) else int(plan)
        target_plan = get_object_or_404(Plan.objects.editable_by(user), pk=plan_id)
        if not target_plan.is_approved:
            raise ValidationError({NON_FIELD_ERRORS: [DRAFT_PLAN]})
        row = None
        before = {}
        candidate = Task(plan=target_plan, created_by=user)
        after = _checked_values(candidate, changes, fund_lines, {}, reason, errors)

    if is_blank(reason):
        add_error(errors, "reason", REASON_REQUIRED)
    if reason_category not in ChangeRequest.ReasonCategory.values:
        add_error(errors, "reason_category", "请选择变更原因类别。")
    uploads = []
    try:
        uploads = services.validate_evidence_files(attachments)
    except ValidationError as e:
        add_error(errors, "attachments", *e.messages)
    raise_if(errors)

    if carried_from is not None and kind != ChangeRequest.Kind.ADD:
        raise ValueError("only a request to add a row carries a row")
    request = ChangeRequest(
        plan=target_plan,
        task=row,
        kind=kind,
        before=before,
        after=after,
        reason_category=reason_category,
        reason=reason,
        requested_by=user,
        carried_from=carried_from,
        carry_reason=(carry_reason or "").strip() if carried_from is not None else "",
    )
    collect_errors(errors, request.full_clean)
    raise_if(errors)
    sign(request, user, f"提交变更申请：{reason}")
    save_checked(request)
    # Files last: if anything above fails, nothing reaches the storage.
    services.store_evidence(ChangeRequestEvidence, {"request": request}, uploads, user)
    return request


def _checked_values(candidate: Task, changes: Mapping, fund_lines, current_lines: Mapping, reason: str, errors):
    """The plan values ``candidate`` would have after ``changes`` (checked as task_update / task_create check them);
    their problems go to ``errors``."""
    others = sorted(set(changes) - set(PLAN_FIELDS))
    if others:
        add_error(errors, NON_FIELD_ERRORS, NOT_PLAN_FIELDS)
        return {}
    check = services.task_check(
        task=candidate,
        data=changes,
        fund_lines=fund_lines,
        current_lines=current_lines,
        reason=reason or "变更申请",
        via_request=True,
    )
    for field, messages in check.errors.items():
        add_error(errors, field, *messages)
    lines = check.lines if check.lines is not None else list(current_lines.items())
    return plan_values(candidate, lines)


# ---------------------------------------------------------------------------------------------
# Deciding
# ---------------------------------------------------------------------------------------------


@transaction.atomic
def change_request_approve(*, user, request_id: int, expected_version: int) -> ChangeRequest:
    """Approve a pending request and apply it to the row, in one transaction: the row's history is signed with the
    request's reason, its ``change_count`` goes up by one, its approved baseline stays as it was. The approver may
    approve plans for the area (:func:`bazhou.core.access.may_decide_change_request`) and is never the requester."""
    request = _locked_request(user, request_id, expected_version, action="批准")
    if not access.may_decide_change_request(user, request):
        raise PermissionDenied(OWN_REQUEST if request.requested_by_id == user.pk else NOT_APPROVER)
    why = f"变更申请 #{request.pk}（{request.get_reason_category_display()}）：{request.reason}"
    if request.kind == ChangeRequest.Kind.ADD:
        task = Task(
            plan=request.plan,
            created_by=request.requested_by,
            carried_from_id=request.carried_from_id,
            carry_reason=request.carry_reason,
        )
        _apply(task, request.after, PLAN_FIELDS)
        _full_clean(task)
        services.set_baseline(task)
        services.link_departments([task])
        sign(task, user, why)
        task.save()
        lines = _lines(request.after)
        if lines:
            services._write_fund_lines(task, lines, user, why)
        request.task = task
    else:
        task = Task.objects.select_for_update(of=("self",)).select_related("plan").get(pk=request.task_id)
        if task.is_removed:
            raise ValidationError({NON_FIELD_ERRORS: [services.TASK_REMOVED]})
        if request.kind == ChangeRequest.Kind.REMOVE:
            task.is_removed = True
            task.removed_reason = request.reason
        else:
            names = [n for n in PLAN_FIELDS if request.before.get(n) != request.after.get(n)]
            _apply(task, request.after, names)
            if "responsible_unit" in names:
                services.link_departments([task])
        _full_clean(task)
        task.change_count += 1
        task.version += 1
        sign(task, user, why)
        task.save()
        if request.kind == ChangeRequest.Kind.CHANGE and request.before.get("fund_lines") != request.after.get(
            "fund_lines"
        ):
            services._write_fund_lines(task, _lines(request.after), user, why)
    return _decide(request, user, ChangeRequest.State.APPROVED, "批准变更申请")


@transaction.atomic
def change_request_reject(*, user, request_id: int, note: str, expected_version: int) -> ChangeRequest:
    """Reject a pending request with a note (required). The row is not touched."""
    note = (note or "").strip()
    request = _locked_request(user, request_id, expected_version, action="驳回")
    if not access.may_decide_change_request(user, request):
        raise PermissionDenied(OWN_REQUEST if request.requested_by_id == user.pk else NOT_APPROVER)
    if is_blank(note):
        raise ValidationError({"decision_note": [NOTE_REQUIRED]})
    request.decision_note = note
    return _decide(request, user, ChangeRequest.State.REJECTED, f"驳回变更申请：{note}")


@transaction.atomic
def change_request_withdraw(*, user, request_id: int, expected_version: int) -> ChangeRequest:
    """The requester withdraws their pending request. The row is not touched."""
    request = _locked_request(user, request_id, expected_version, action="撤回")
    if not access.may_withdraw_change_request(user, request):
        raise PermissionDenied(ONLY_REQUESTER)
    return _decide(request, user, ChangeRequest.State.WITHDRAWN, "撤回变更申请")


def _locked_request(user, request_id: int, expected_version: int, *, action: str) -> ChangeRequest:
    queryset = ChangeRequest.objects.select_for_update(of=("self",)).select_related("plan")
    request = get_editable_or_404(queryset, user, pk=request_id)
    if expected_version is None or request.version != int(expected_version):
        raise ChangeRequestConflict(request)
    if not request.is_pending:
        raise ValidationError(
            {NON_FIELD_ERRORS: [NOT_PENDING.format(state=request.get_state_display(), action=action)]}
        )
    return request


def _decide(request: ChangeRequest, user, state: str, why: str) -> ChangeRequest:
    request.state = state
    request.decided_by = user
    request.decided_at = timezone.now()
    request.version += 1
    request.full_clean(validate_constraints=False)
    sign(request, user, why)
    request.save()
    return request


def _apply(task: Task, values: Mapping, names: Iterable[str]) -> None:
    for name in names:
        setattr(task, Task._meta.get_field(name).attname, _parse(name, values.get(name)))


def _full_clean(task: Task) -> None:
    """The row as it would be after the change, checked again: it may have moved on since the request (progress
    reported, money invested)."""
    try:
        task.full_clean()
    except ValidationError as e:
        messages = [m for ms in e.message_dict.values() for m in ms]
        raise ValidationError({NON_FIELD_ERRORS: [f"该变更已不能应用：{'；'.join(messages)}"]}) from e
