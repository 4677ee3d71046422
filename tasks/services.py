"""Writes to the plan table (施工图): every consequential change is one function here.

Pages, the API and imports all call these functions, so none of them is trusted to have checked
anything. Each function:

- takes keyword-only arguments and the acting ``user``, and fetches what it changes through
  ``bazhou.core.access``: a row the user may not change raises ``Http404``, as if it did not exist;
- runs in one transaction, locks the row (``select_for_update``) and compares the version the caller
  last saw: if someone saved in between it raises :class:`TaskConflict` and changes nothing;
- validates with ``full_clean()`` and raises ``ValidationError`` keyed by field name, in Chinese,
  before anything is written;
- writes the history in the same step: simple-history records every ``save()``/``delete()``, signed
  with who (``_history_user``) and why (``_change_reason``).
"""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import connections, transaction
from django.db.models import Count, DecimalField, F, Sum, Value
from django.db.models.functions import Coalesce
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone

from bazhou.core import access, clock, dates, summaries
from bazhou.core.access import get_editable_or_404
from bazhou.core.history import record_in_bulk
from bazhou.core.services import EditConflict, add_error, collect_errors, raise_if, sign
from bazhou.core.templatetags.bazhou import wan_exact
from bazhou.core.uploads import storing_files
from tasks import exit_criteria
from tasks import summaries as plan_summaries
from tasks.models import (
    PLAN_FIELDS,
    FundLine,
    FundSource,
    Plan,
    ProgressEvidence,
    ProgressUpdate,
    Task,
    done_q,
    is_done_status,
    item_key,
    overdue_q,
)
from villages import departments as department_rules
from villages.models import Department, Village

# The fields of a row a person may set (the rest are kept by these functions: version, removal, dates).
TASK_FIELDS = (
    "household",
    "category",
    "item",
    "quantity",
    "unit",
    "deadline",
    "deadline_text",
    "planned_funds",
    "invested_funds",
    "responsible_unit",
    "responsible_person",
    "responsible_phone",
    "status",
    "progress",
    "completed_on",
)
# On an approved plan the plan fields (tasks.models.PLAN_FIELDS) and the fund lines change, and rows are added or
# withdrawn, only through an approved change request (tasks.changes); progress, status, invested funds, completion
# and the responsible person's phone and e-mail stay direct.
APPROVED_CHANGE = (
    "施工图已批准：项目、类别、数量、单位、完成时限、计划资金、资金来源、责任单位和责任人只能通过变更申请修改，"
    "请在该任务上点“申请变更”。"
)
APPROVED_NEW = "施工图已批准：新增任务须提交变更申请（新增），批准后生效。"
APPROVED_REMOVE = "施工图已批准：撤销任务须提交变更申请（撤销），批准后生效。"
REASON_REMOVE = "撤销任务须说明原因。"
TASK_REMOVED = "该任务已撤销，不能再修改。"

MAX_EVIDENCE_FILES = 5
EVIDENCE_TYPE_MESSAGE = "只能上传照片（JPG、PNG、WebP、HEIC）或 PDF 文件。"


class TaskConflict(EditConflict):
    """Someone saved the row after the caller loaded it; nothing was changed.

    ``current`` is the row as it now stands, ``changed_by``/``changed_at`` who last saved it and when,
    so the page can show the caller's values beside the current ones.
    """

    def __init__(self, current: Task):
        last = current.history.select_related("history_user").first()
        self.changed_by = last.history_user if last else None
        self.changed_at = last.history_date if last else current.updated_at
        super().__init__(current, f"任务 {current.pk} 已被他人修改（当前版本 {current.version}）。")

    @property
    def what(self) -> str:
        return f"任务“{self.current.item}”"


# ---------------------------------------------------------------------------------------------
# Reads shared by the pages and the writes below
# ---------------------------------------------------------------------------------------------


def plan_totals(plan: Plan, today) -> dict:
    """The totals row of a plan's table, in one query: funds (万元), rows done, rows overdue on ``today``."""
    zero = Value(Decimal("0"), output_field=DecimalField(max_digits=14, decimal_places=4))
    return (
        Task.objects.filter(plan=plan)
        .live()
        .aggregate(
            planned=Coalesce(Sum("planned_funds"), zero),
            invested=Coalesce(Sum("invested_funds"), zero),
            total=Count("id"),
            done=Count("id", filter=done_q()),
            overdue=Count("id", filter=overdue_q(today)),
        )
    )


# ---------------------------------------------------------------------------------------------
# Plan rows
# ---------------------------------------------------------------------------------------------


@transaction.atomic
def task_create(*, plan: Plan, user, data: Mapping, fund_lines: Iterable[Mapping] | None = None, reason: str = ""):
    """Add a row to a draft ``plan``. On an approved plan a row is added only by an approved change request."""
    plan = get_object_or_404(Plan.objects.editable_by(user), pk=plan.pk)
    if plan.is_approved:
        raise ValidationError({NON_FIELD_ERRORS: [APPROVED_NEW]})
    reason = (reason or "").strip()
    task = Task(plan=plan, created_by=user)
    _assign(task, data)
    errors: dict[str, list[str]] = {}
    lines = _clean_fund_lines(task.planned_funds, fund_lines, errors)
    collect_errors(errors, task.full_clean)
    raise_if(errors)

    link_departments([task])
    sign(task, user, reason or "新增任务")
    task.save()
    if lines:
        _write_fund_lines(task, lines, user, reason or "新增任务")
    return task


def _update_rules(task: Task, changed: set, fund_lines, current_lines: dict, errors: dict):
    """The rules of a change to ``task`` (its fields ``changed``, its fund lines replaced by ``fund_lines`` unless
    None, ``current_lines`` by source) that its own ``full_clean`` does not know, for :func:`task_update` and
    :func:`task_update_many` alike: the fund lines add up, a planned total does not drift from its lines, and an
    approved plan's plan fields and lines change only through a change request. Returns the clean lines (None: kept)
    and whether they change; errors go to ``errors``."""
    lines = _clean_fund_lines(task.planned_funds, fund_lines, errors)
    lines_changed = lines is not None and dict(lines) != current_lines
    if not changed and not lines_changed:
        return lines, lines_changed
    if lines is None and current_lines and "planned_funds" in changed:
        total = sum(current_lines.values(), Decimal("0"))
        if task.planned_funds is not None and total != task.planned_funds:
            add_error(
                errors,
                "planned_funds",
                f"计划资金（{wan_exact(task.planned_funds)}万元）与各资金来源合计（{wan_exact(total)}万元）不一致，"
                "请在完整编辑页同时修改资金来源。",
            )
    if task.plan.is_approved and (changed & set(PLAN_FIELDS) or lines_changed):
        add_error(errors, NON_FIELD_ERRORS, APPROVED_CHANGE)
    return lines, lines_changed


@transaction.atomic
def task_update(
    *,
    task_id: int,
    user,
    expected_version: int,
    data: Mapping,
    fund_lines: Iterable[Mapping] | None = None,
    reason: str = "",
):
    """Change a row. ``fund_lines`` None keeps the fund lines as they are; a list (even empty) replaces them.

    Raises TaskConflict if the row is no longer at ``expected_version``. On an approved plan the plan fields
    (``PLAN_FIELDS``) and the fund lines are refused: they change only through a change request (tasks.changes);
    progress, status, invested funds, completion and contact details stay direct. ``reason`` goes to the history.
    Saving without any change writes nothing.
    """
    task = _locked_task(task_id=task_id, user=user, expected_version=expected_version)
    reason = (reason or "").strip()
    before = _snapshot(task)
    delivered = exit_criteria.delivers(task)
    _assign(task, data)
    changed = {name for name, value in _snapshot(task).items() if value != before[name]}
    current_lines = {line.source: line.amount for line in task.fund_lines.all()}

    errors: dict[str, list[str]] = {}
    lines, lines_changed = _update_rules(task, changed, fund_lines, current_lines, errors)
    if not changed and not lines_changed and not errors:
        return task
    collect_errors(errors, task.full_clean)
    raise_if(errors)

    if "responsible_unit" in changed:
        link_departments([task])
    # The fund lines are part of the row: a change to them alone also moves the version on.
    task.version += 1
    sign(task, user, reason)
    with exit_criteria.watching_village_exit(task, delivered_before=delivered, user=user, reason=reason):
        task.save()
    if lines_changed:
        _write_fund_lines(task, lines, user, reason)
    return task


@transaction.atomic
def task_complete(*, task_id: int, user, expected_version: int):
    """Mark a row done today: status 已完成, progress 100 %, completion date today."""
    task = _locked_task(task_id=task_id, user=user, expected_version=expected_version)
    if task.is_done:
        raise ValidationError({"status": "该任务已完成。"})
    task.status = Task.Status.DONE
    task.progress = 100
    task.completed_on = clock.today()
    task.full_clean()
    task.version += 1
    sign(task, user, "标记完成")
    with exit_criteria.watching_village_exit(task, delivered_before=False, user=user, reason="标记完成"):
        task.save()
    return task


@transaction.atomic
def task_remove(*, task_id: int, user, expected_version: int, reason: str):
    """Withdraw a row (撤销). Rows are never deleted: the row stays, marked removed, with the reason."""
    task = _locked_task(task_id=task_id, user=user, expected_version=expected_version)
    if task.plan.is_approved:
        raise ValidationError({NON_FIELD_ERRORS: [APPROVED_REMOVE]})
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": REASON_REMOVE})
    delivered = exit_criteria.delivers(task)
    task.is_removed = True
    task.removed_reason = reason
    task.full_clean()
    task.version += 1
    sign(task, user, f"撤销：{reason}")
    with exit_criteria.watching_village_exit(task, delivered_before=delivered, user=user, reason=f"撤销：{reason}"):
        task.save()
    return task


@transaction.atomic
def progress_record(
    *,
    task_id: int,
    user,
    expected_version: int,
    progress: int,
    status: str,
    invested_funds: Decimal,
    note: str = "",
    reported_on=None,
    files: Iterable = (),
):
    """Report progress on a row, with photos or PDFs as evidence.

    Writes a ProgressUpdate and its evidence files and brings the row up to date (progress, status,
    invested to date, last progress date; the completion date when it becomes done). Whose rows:
    ``Task.objects.reportable_by(user)`` (the area staff their area's, a department's user their department's).
    """
    task = _locked_task(task_id=task_id, user=user, expected_version=expected_version, reporting=True)
    today = clock.today()
    reported_on = reported_on or today
    errors: dict[str, list[str]] = {}
    date_error = dates.done_date_error(reported_on, "填报日期", floor=dates.plan_floor(task.plan.year), today=today)
    if date_error:
        add_error(errors, "reported_on", date_error)
    uploads = []
    try:
        uploads = validate_evidence_files(files)
    except ValidationError as e:
        add_error(errors, "files", *e.messages)

    update = ProgressUpdate(
        task=task,
        reported_on=reported_on,
        progress=progress,
        status=status,
        invested_funds=invested_funds,
        note=(note or "").strip(),
        reported_by=user,
    )
    collect_errors(errors, update.full_clean)
    was_done = task.is_done
    task.progress = progress
    task.status = status
    task.invested_funds = invested_funds
    if is_done_status(status):
        task.completed_on = task.completed_on if was_done and task.completed_on else reported_on
    else:
        task.completed_on = None
    task.last_progress_on = max(task.last_progress_on or reported_on, reported_on)
    collect_errors(errors, task.full_clean)
    raise_if(errors)

    task.version += 1
    sign(task, user, "填报进度")
    delivered = was_done and not task.is_removed
    with exit_criteria.watching_village_exit(
        task, delivered_before=delivered, user=user, reason=update.note or "填报进度"
    ):
        task.save()
    update.save()
    # Files last: if anything above fails, nothing reaches the storage.
    store_evidence(ProgressEvidence, {"update": update}, uploads, user)
    return update


# ---------------------------------------------------------------------------------------------
# Many rows at once (the Excel import)
# ---------------------------------------------------------------------------------------------


@dataclass
class TaskCheck:
    """What :func:`task_update` (or :func:`task_create`, for a row without ``pk``) would do with a row: the fields
    that change, the fund lines to write (None = kept) and whether they change, and the errors by field."""

    task: Task
    changed: set[str]
    lines: list[tuple[str, Decimal]] | None
    lines_changed: bool
    errors: dict[str, list[str]]


def task_check(
    *, task: Task, data: Mapping, fund_lines, current_lines: Mapping, reason: str, via_request: bool = False
) -> TaskCheck:
    """The rules of task_create / task_update for one row, checked in Python without a query (for the import's
    preview of thousands of rows). ``task`` carries its plan and household objects and is changed in memory
    (never saved); ``current_lines`` are its fund lines (source → amount), empty for a new row. On an approved
    plan a change of a plan field or a new row is refused, unless the caller files it as a change request
    (``via_request``, tasks.changes), which checks the new values with these same rules.

    The database constraints are not asked (Task.clean and the field validators say the same things); the
    writes themselves (task_update, task_create_many) still check everything.
    """
    reason = (reason or "").strip()
    before = _snapshot(task)
    _assign(task, data)
    changed = {name for name, value in _snapshot(task).items() if value != before[name]}
    errors: dict[str, list[str]] = {}
    lines = _clean_fund_lines(task.planned_funds, fund_lines, errors)
    lines_changed = lines is not None and dict(lines) != dict(current_lines)
    if task.pk is None:
        if task.plan.is_approved and not via_request:
            add_error(errors, NON_FIELD_ERRORS, APPROVED_NEW)
    else:
        if lines is None and current_lines and "planned_funds" in changed:
            total = sum(current_lines.values(), Decimal("0"))
            if task.planned_funds is not None and total != task.planned_funds:
                add_error(
                    errors,
                    "planned_funds",
                    f"计划资金（{wan_exact(task.planned_funds)}万元）与各资金来源合计（{wan_exact(total)}万元）不一致。",
                )
        if task.plan.is_approved and not via_request and (changed & set(PLAN_FIELDS) or lines_changed):
            add_error(errors, NON_FIELD_ERRORS, APPROVED_CHANGE)
    _household_rule(task, errors)
    collect_errors(
        errors,
        lambda: task.full_clean(
            # The related rows are the caller's, already fetched (the department: link_departments picks it).
            exclude=["plan", "household", "created_by", "department"],
            validate_unique=False,
            validate_constraints=False,
        ),
    )
    return TaskCheck(task, changed, lines, lines_changed, errors)


@transaction.atomic
def task_create_many(
    *,
    user,
    rows: Iterable[tuple[Plan, Mapping, Iterable[Mapping] | None]],
    reason: str,
    import_keys: Sequence[str] | None = None,
    checked: bool = False,
) -> list[Task]:
    """Add many rows at once (the Excel import): each ``(plan, data, fund_lines)`` under the rules of task_create,
    then one INSERT per batch and the history in bulk (:func:`bazhou.core.history.record_in_bulk`), signed with ``user``
    and ``reason``. A plan ``user`` may not change is a 404; any row's error raises ValidationError with keys
    ``"<index>.<field>"``, and nothing is written. ``import_keys`` (one per row, "" for none) are kept on the rows
    (``Task.import_key``: how a re-imported file finds them).

    ``checked``: the caller checked these very values with :func:`task_check` (the import's preview, whose validated
    result the confirmation applies), so the per-row rules are not run again; what can change since is checked here
    all the same: each plan still the user's (a 404) and still a draft, each row's household still of its plan's
    village (ValidationError, keyed as above).
    """
    rows = list(rows)
    keys = list(import_keys) if import_keys is not None else [""] * len(rows)
    plan_ids = {plan.pk for plan, _, _ in rows}
    editable, approved = set(), set()
    for chunk in _chunks(sorted(plan_ids)):
        for pk, state in Plan.objects.editable_by(user).filter(pk__in=chunk).values_list("pk", "state"):
            editable.add(pk)
            if state == Plan.State.APPROVED:
                approved.add(pk)
    if plan_ids - editable:
        raise Http404("施工图不存在或您无权修改。")
    tasks, all_lines, errors = [], [], {}
    for index, (plan, data, fund_lines) in enumerate(rows):
        if checked:
            task, row_errors = Task(plan=plan, created_by=user), {}
            _assign(task, data)
            if plan.pk in approved:
                add_error(row_errors, NON_FIELD_ERRORS, APPROVED_NEW)
            _household_rule(task, row_errors)
            lines = [(line["source"], line["amount"]) for line in fund_lines or ()]
        else:
            check = task_check(
                task=Task(plan=plan, created_by=user), data=data, fund_lines=fund_lines, current_lines={}, reason=reason
            )
            task, row_errors, lines = check.task, check.errors, check.lines
        for field, messages in row_errors.items():
            add_error(errors, f"{index}.{field}", *messages)
        task.import_key = keys[index]
        tasks.append(task)
        all_lines.append(lines or [])
    raise_if(errors)
    if not tasks:
        return []
    link_departments(tasks)
    now = timezone.now()
    # Written in bulk, so no signal names the villages: they are named here, and their summary figures are
    # refreshed before the transaction commits (bazhou/core/summaries.py).
    with summaries.bulk():
        Task.objects.bulk_create(tasks, batch_size=_insert_batch(Task))
        fund_lines = [
            FundLine(task=t, source=s, amount=a) for t, lines in zip(tasks, all_lines, strict=True) for s, a in lines
        ]
        FundLine.objects.bulk_create(fund_lines, batch_size=_insert_batch(FundLine))
        for chunk in _chunks([t.pk for t in tasks]):
            record_in_bulk(Task.objects.filter(pk__in=chunk), when=now, user=user, reason=reason)
            record_in_bulk(FundLine.objects.filter(task_id__in=chunk), when=now, user=user, reason=reason)
        summaries.touched(plan_summaries.NAME, "plans", plan_ids)
    return tasks


UPDATE_BATCH = 1000  # rows per UPDATE of task_update_many (one round trip each)


def _insert_batch(model) -> int | None:
    """Rows per INSERT of a bulk_create: on SQLite as many as its limit of query parameters allows (None: Django
    works that out), elsewhere 2,000 (one round trip each, statements of a reasonable size)."""
    return None if connections[model.objects.db].vendor == "sqlite" else 2000


@transaction.atomic
def task_update_many(
    *,
    user,
    rows: Iterable[tuple[int, int, Mapping, Iterable[Mapping] | None]],
    reason: str = "",
    progress=None,
    checked: bool = False,
) -> list[Task]:
    """See :func:`_task_update_many`; written in bulk, so the rows' villages are named to the summary figures here
    (bazhou/core/summaries.py) and refreshed before the transaction commits."""
    rows = list(rows)
    with summaries.bulk():
        changed = _task_update_many(user=user, rows=rows, reason=reason, progress=progress, checked=checked)
        summaries.touched(plan_summaries.NAME, "tasks", [task_id for task_id, _, _, _ in rows])
    return changed


def _task_update_many(
    *,
    user,
    rows: Iterable[tuple[int, int, Mapping, Iterable[Mapping] | None]],
    reason: str = "",
    progress=None,
    checked: bool = False,
) -> list[Task]:
    """Change many rows at once (the Excel import): each ``(task_id, expected_version, data, fund_lines)`` exactly as
    :func:`task_update` would change it, and the same history, in a fixed number of queries per chunk of rows instead
    of a dozen per row: the rows locked in one query per chunk, checked in Python (the rules of task_update;
    the database's constraints are left to the database, as in task_create_many), written with one UPDATE per
    UPDATE_BATCH rows, their history copied in one INSERT … SELECT per chunk (``record_in_bulk``), and their fund
    lines deleted, changed and added in bulk with their history. Rows that do not change are left alone.

    All or nothing: a row ``user`` may not change is a 404, a row no longer at its version a TaskConflict, a withdrawn
    row or a row's errors a ValidationError (keyed by field, as task_update raises for that row), and nothing is
    written. ``progress(done, total, phase)`` is called after each chunk (phase “写入”).

    ``checked``: the caller checked these very values against these very versions with :func:`task_check` (the
    import's preview), so each row's own ``full_clean`` is not run again; the rest still is, under lock: its
    version, withdrawal, the rules of :func:`_update_rules` (the plan approved since, the fund lines) and its
    household's village.
    """
    rows = list(rows)
    reason = (reason or "").strip()
    locked: dict[int, Task] = {}
    current: dict[int, dict[str, FundLine]] = {}
    queryset = Task.objects.editable_by(user).select_for_update(of=("self",)).select_related("plan", "household")
    for chunk in _chunks(sorted({task_id for task_id, _, _, _ in rows})):
        locked.update((task.pk, task) for task in queryset.filter(pk__in=chunk))
        for line in FundLine.objects.filter(task_id__in=chunk):
            current.setdefault(line.task_id, {})[line.source] = line
    changed_rows: list[Task] = []
    fields: set[str] = set()
    new_lines: dict[int, list[tuple[str, Decimal]]] = {}
    unit_changed: list[Task] = []
    for task_id, expected_version, data, fund_lines in rows:
        task = locked.get(task_id)
        if task is None:
            raise Http404("任务不存在或您无权修改。")
        if expected_version is None or task.version != int(expected_version):
            raise TaskConflict(task)
        if task.is_removed:
            raise ValidationError(TASK_REMOVED)
        before = _snapshot(task)
        _assign(task, data)
        changed = {name for name, value in _snapshot(task).items() if value != before[name]}
        lines_now = {source: line.amount for source, line in current.get(task_id, {}).items()}
        errors: dict[str, list[str]] = {}
        lines, lines_changed = _update_rules(task, changed, fund_lines, lines_now, errors)
        if not changed and not lines_changed and not errors:
            continue
        if checked:
            _household_rule(task, errors)
        else:
            collect_errors(
                errors,
                lambda task=task: task.full_clean(
                    exclude=["plan", "household", "created_by", "department"],
                    validate_unique=False,
                    validate_constraints=False,
                ),
            )
        raise_if(errors)
        if "responsible_unit" in changed:
            unit_changed.append(task)
        task.version += 1
        fields |= changed
        changed_rows.append(task)
        if lines_changed:
            new_lines[task.pk] = lines
    if not changed_rows:
        return []
    if link_departments(unit_changed):
        fields.add("department")
    now = timezone.now()
    for task in changed_rows:
        task.updated_at = now
        task.item_key = item_key(task.item)
    fields |= {"version", "updated_at", "item_key"}
    done = 0
    for chunk in _chunks(changed_rows, 5000):
        _update_rows(chunk, sorted(fields))
        record_in_bulk(
            Task.objects.filter(pk__in=[t.pk for t in chunk]), when=now, user=user, reason=reason, history_type="~"
        )
        done += len(chunk)
        if progress is not None:
            progress(done, total=len(changed_rows), phase="写入")
    if new_lines:
        _write_fund_lines_many(new_lines, current, user=user, reason=reason, when=now)
    return changed_rows


def _update_rows(rows: list[Task], fields: list[str]) -> None:
    """Write ``fields`` of ``rows`` as one ``UPDATE … FROM (VALUES …)`` joined on the id per batch of rows (Django's
    ``bulk_update`` builds a CASE of Django expressions for every field of every row: half a second of Python per
    thousand rows, and a CASE the database walks row by row; 10,000 changed rows of an import spent 7 of their 10
    seconds there on SQLite). PostgreSQL casts each value to its column's type; SQLite (3.33 and later) names a
    VALUES list's columns ``column1``, ``column2``, … and needs no cast: the column's affinity applies to the value
    as in any UPDATE. Other databases: ``bulk_update``."""
    connection = connections[Task.objects.db]
    quote = connection.ops.quote_name
    columns = [Task._meta.get_field(name) for name in fields]
    table = quote(Task._meta.db_table)
    if connection.vendor == "postgresql":
        row_sql = "(%s, " + ", ".join(f"CAST(%s AS {f.cast_db_type(connection)})" for f in columns) + ")"
        names = ", ".join(["_pk", *(quote(f.column) for f in columns)])
        source, key = f"AS v({names})", "v._pk"
        sets = ", ".join(f"{quote(f.column)} = v.{quote(f.column)}" for f in columns)
        per_statement = UPDATE_BATCH
    elif connection.vendor == "sqlite" and connection.Database.sqlite_version_info >= (3, 33):
        row_sql = "(" + ", ".join(["%s"] * (len(columns) + 1)) + ")"
        source, key = "AS v", "v.column1"
        sets = ", ".join(f"{quote(f.column)} = v.column{i}" for i, f in enumerate(columns, start=2))
        limit = connection.connection.getlimit(connection.Database.SQLITE_LIMIT_VARIABLE_NUMBER)
        per_statement = max(1, min(UPDATE_BATCH, limit // (len(columns) + 1)))
    else:
        Task.objects.bulk_update(rows, fields, batch_size=UPDATE_BATCH)
        return
    with connection.cursor() as cursor:
        for batch in _chunks(rows, per_statement):
            params = []
            for task in batch:
                params.append(task.pk)
                params.extend(f.get_db_prep_save(getattr(task, f.attname), connection) for f in columns)
            values = ", ".join([row_sql] * len(batch))
            cursor.execute(
                f"UPDATE {table} SET {sets} FROM (VALUES {values}) {source} WHERE {table}.{quote('id')} = {key}",
                params,
            )


def _write_fund_lines_many(wanted: dict[int, list], current: dict[int, dict[str, FundLine]], *, user, reason, when):
    """The fund lines of many rows as :func:`_write_fund_lines` writes them one row at a time, and the same history
    (a "-" record of each line removed, "~" of each changed, "+" of each added), in a fixed number of queries."""
    removed, changed, added = [], [], []
    for task_id, lines in wanted.items():
        existing = current.get(task_id, {})
        amounts = dict(lines)
        removed.extend(line.pk for source, line in existing.items() if source not in amounts)
        for source, amount in lines:
            line = existing.get(source)
            if line is None:
                added.append(FundLine(task_id=task_id, source=source, amount=amount))
            elif line.amount != amount:
                line.amount = amount
                changed.append(line)
    for chunk in _chunks(removed):
        record_in_bulk(FundLine.objects.filter(pk__in=chunk), when=when, user=user, reason=reason, history_type="-")
        # Without signals: QuerySet.delete() would fetch the lines and have simple-history record each one again.
        doomed = FundLine.objects.filter(pk__in=chunk)
        doomed._raw_delete(doomed.db)
    if changed:
        FundLine.objects.bulk_update(changed, ["amount"], batch_size=UPDATE_BATCH)
        for chunk in _chunks([line.pk for line in changed]):
            record_in_bulk(FundLine.objects.filter(pk__in=chunk), when=when, user=user, reason=reason, history_type="~")
    if added:
        FundLine.objects.bulk_create(added, batch_size=UPDATE_BATCH)
        for chunk in _chunks([line.pk for line in added]):
            record_in_bulk(FundLine.objects.filter(pk__in=chunk), when=when, user=user, reason=reason)


def _chunks(values: list, size: int = 5000):
    for start in range(0, len(values), size):
        yield values[start : start + size]


# ---------------------------------------------------------------------------------------------
# Sector departments (行业部门): derived from the responsible unit, never typed separately
# ---------------------------------------------------------------------------------------------


def department_matcher(district_ids) -> dict:
    """district id → (the :func:`villages.departments.index` of its departments, the district's name), in one query
    (districts without departments are missing: nothing in them matches)."""
    found: dict = {}
    for department in Department.objects.filter(district__in=sorted(set(district_ids))).select_related("district"):
        found.setdefault(department.district_id, (department.district.name, []))[1].append(department)
    return {key: (department_rules.index(rows, name), name) for key, (name, rows) in found.items()}


def link_departments(tasks: Iterable[Task]) -> list[Task]:
    """Set each row's ``department`` from its ``responsible_unit`` (:func:`villages.departments.match` against the
    departments of the row's district): the one place the link is made, for the pages, the API, imports, approved
    change requests and ``manage.py link_departments``. A unit that names no department keeps its text and no
    department. Assigns only (the caller saves); at most two queries whatever the number of rows, none when no row
    names a unit. Returns the rows whose department changed."""
    tasks = list(tasks)
    named = [task for task in tasks if (task.responsible_unit or "").strip()]
    village_ids = {task.plan.village_id for task in named}
    districts = dict(
        Village.objects.filter(pk__in=sorted(village_ids)).values_list("pk", "township__district_id")
        if village_ids
        else []
    )
    matchers = department_matcher(districts.values()) if districts else {}
    changed = []
    for task in tasks:
        department = None
        if (task.responsible_unit or "").strip():
            known, name = matchers.get(districts.get(task.plan.village_id), ({}, ""))
            department = department_rules.match(known, task.responsible_unit, name)
        if task.department_id != (department.pk if department else None):
            task.department = department
            changed.append(task)
    return changed


LINK_REASON = "关联行业部门（按责任单位识别）"


@dataclass
class DepartmentLinks:
    """What :func:`link_unlinked_departments` did (or, in a dry run, would do): rows linked per department, and
    the units still unmatched with their row counts."""

    linked: dict = dataclasses.field(default_factory=dict)  # Department → rows
    unmatched: dict = dataclasses.field(default_factory=dict)  # unit text → rows

    @property
    def total(self) -> int:
        return sum(self.linked.values())


@transaction.atomic
def link_unlinked_departments(*, user=None, district=None, dry_run: bool = False) -> DepartmentLinks:
    """Link the rows without a department whose ``responsible_unit`` now names one (after departments or aliases
    were added): the rule of :func:`link_departments`, applied in bulk (one UPDATE per department), with a history
    row for each linked row signed ``LINK_REASON``. ``district`` limits it to one district; ``dry_run`` only counts.
    Rows that already have a department are left alone."""
    rows = Task.objects.filter(department__isnull=True).exclude(responsible_unit="")
    if district is not None:
        rows = rows.filter(plan__village__township__district=district)
    district_path = "plan__village__township__district_id"
    units = list(
        rows.values_list(district_path, "responsible_unit").annotate(n=Count("id")).order_by(district_path, "n")
    )
    matchers = department_matcher({district_id for district_id, _, _ in units})
    result = DepartmentLinks()
    targets: dict = {}
    for district_id, unit, count in units:
        known, name = matchers.get(district_id, ({}, ""))
        department = department_rules.match(known, unit, name)
        if department is None:
            if unit.strip():
                result.unmatched[unit] = result.unmatched.get(unit, 0) + count
            continue
        result.linked[department] = result.linked.get(department, 0) + count
        targets.setdefault(department, (district_id, []))[1].append(unit)
    if dry_run:
        return result
    now = timezone.now()
    for department, (district_id, texts) in targets.items():
        batch = rows.filter(**{district_path: district_id, "responsible_unit__in": texts})
        ids = list(batch.values_list("pk", flat=True))
        with summaries.bulk():  # a department is no figure: nothing for the summary figures to refresh
            Task.objects.filter(pk__in=ids).update(department=department, updated_at=now)
        for chunk in _chunks(ids):
            record_in_bulk(Task.objects.filter(pk__in=chunk), when=now, user=user, reason=LINK_REASON, history_type="~")
    return result


# ---------------------------------------------------------------------------------------------
# Plans
# ---------------------------------------------------------------------------------------------


@transaction.atomic
def plan_create(*, village_id: int, year: int, user) -> Plan:
    """Open the plan (一村一案) of a village for a year, as a draft, for someone who may edit the village."""
    village = get_object_or_404(Village.objects.editable_by(user), pk=village_id)
    plan = Plan(village=village, year=year)
    errors: dict[str, list[str]] = {}
    collect_errors(errors, plan.full_clean)
    raise_if(errors)
    sign(plan, user, "新建施工图")
    plan.save()
    return plan


@transaction.atomic
def plan_approve(*, plan_id: int, user):
    """Approve a plan (district admins only, in their district). From then on it changes only with reasons."""
    plan = get_object_or_404(Plan.objects.editable_by(user).select_for_update(of=("self",)), pk=plan_id)
    if not access.may_approve_plans(user):
        raise PermissionDenied("只有区级管理员可以批准施工图。")
    if plan.is_approved:
        raise ValidationError("该施工图已经批准。")
    if not Task.objects.filter(plan=plan).live().exists():
        raise ValidationError("施工图还没有任务，不能批准。")
    plan.state = Plan.State.APPROVED
    plan.approved_by = user
    plan.approved_at = timezone.now()
    plan.full_clean()
    sign(plan, user, "批准施工图")
    plan.save()
    rows = Task.objects.filter(plan=plan)
    with summaries.bulk():
        rows.update(**BASELINE_FROM_CURRENT)
        summaries.touched(plan_summaries.NAME, "plans", [plan.pk])
    record_in_bulk(rows, when=plan.approved_at, user=user, reason="批准施工图：记录原定基线", history_type="~")
    return plan


# The approved baseline (原定) and the current field it copies.
BASELINE_FIELDS = {
    "baseline_deadline": "deadline",
    "baseline_planned_funds": "planned_funds",
    "baseline_quantity": "quantity",
}
BASELINE_FROM_CURRENT = {baseline: F(current) for baseline, current in BASELINE_FIELDS.items()}


def set_baseline(task: Task) -> None:
    """Set ``task``'s approved baseline to its current values (a row added to an approved plan by an approved change
    request). The caller saves the row (in its transaction, signed): this only assigns."""
    for baseline, current in BASELINE_FIELDS.items():
        setattr(task, baseline, getattr(task, current))


# ---------------------------------------------------------------------------------------------
# Evidence files
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Kind:
    extensions: tuple[str, ...]
    content_types: tuple[str, ...]


EVIDENCE_KINDS = {
    "jpeg": _Kind((".jpg", ".jpeg"), ("image/jpeg", "image/jpg", "image/pjpeg")),
    "png": _Kind((".png",), ("image/png",)),
    "webp": _Kind((".webp",), ("image/webp",)),
    "heif": _Kind((".heic", ".heif"), ("image/heic", "image/heif", "image/heic-sequence", "image/heif-sequence")),
    "pdf": _Kind((".pdf",), ("application/pdf",)),
}
# What browsers send when they do not know the type (HEIC on many desktops): the bytes decide.
UNKNOWN_CONTENT_TYPES = ("", "application/octet-stream")
HEIC_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs"}
HEIF_BRANDS = HEIC_BRANDS | {b"mif1", b"msf1", b"heif"}


def sniff(head: bytes) -> tuple[str, str] | None:
    """The kind and canonical content type the file's first bytes (magic numbers) say it is, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg", "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png", "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp", "image/webp"
    if head[4:8] == b"ftyp" and head[8:12] in HEIF_BRANDS:
        return "heif", "image/heic" if head[8:12] in HEIC_BRANDS else "image/heif"
    if head.startswith(b"%PDF-"):
        return "pdf", "application/pdf"
    return None


def validate_evidence_files(files: Iterable) -> list[tuple[object, str]]:
    """Check uploaded evidence: photos (JPEG, PNG, WebP, HEIC) or PDF, by extension, declared type AND bytes.

    At most MAX_EVIDENCE_FILES files of at most settings.BAZHOU_MAX_UPLOAD_MB each. Returns each file
    with the content type to store; raises ValidationError with one Chinese message per bad file.
    """
    files = [f for f in files if f]
    if len(files) > MAX_EVIDENCE_FILES:
        raise ValidationError(f"一次最多上传 {MAX_EVIDENCE_FILES} 个文件，您选择了 {len(files)} 个。")
    limit_mb = settings.BAZHOU_MAX_UPLOAD_MB
    accepted, messages = [], []
    for upload in files:
        name = os.path.basename(upload.name or "")
        if upload.size > limit_mb * 1024 * 1024:
            messages.append(f"文件“{name}”超过 {limit_mb} MB。")
            continue
        content_type = _evidence_type(upload, name)
        if content_type is None:
            messages.append(f"文件“{name}”无法接受：{EVIDENCE_TYPE_MESSAGE}")
            continue
        accepted.append((upload, content_type))
    if messages:
        raise ValidationError(messages)
    return accepted


def store_evidence(model, owner: dict, uploads: list[tuple[object, str]], user) -> None:
    """Save checked uploads (from validate_evidence_files) as ``model`` rows under a random stored name.

    Call it last in a service, so that nothing reaches the storage when anything before it fails.
    """
    with storing_files() as stored:  # a storage that cannot write: a Chinese ValidationError, no file left behind
        for upload, content_type in uploads:
            original_name = os.path.basename(upload.name)[:255]
            size = upload.size
            upload.name = f"{uuid.uuid4().hex}{_extension(original_name)}"
            row = model.objects.create(
                **owner,
                file=upload,
                original_name=original_name,
                content_type=content_type,
                size=size,
                uploaded_by=user,
            )
            stored.append(row.file)


def _evidence_type(upload, name: str) -> str | None:
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    found = sniff(head)
    if found is None:
        return None
    kind, canonical = found
    declared = (getattr(upload, "content_type", "") or "").split(";")[0].strip().lower()
    expected = EVIDENCE_KINDS[kind]
    if _extension(name) not in expected.extensions:
        return None
    if declared not in expected.content_types and declared not in UNKNOWN_CONTENT_TYPES:
        return None
    return canonical


def _extension(name: str) -> str:
    return os.path.splitext(name)[1].lower()


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def _locked_task(*, task_id: int, user, expected_version: int, reporting: bool = False) -> Task:
    """The row, locked, if ``user`` may change it (else Http404) and it is still at ``expected_version``. With
    ``reporting``: if ``user`` may report its progress (``Task.objects.reportable_by``)."""
    queryset = Task.objects.select_for_update(of=("self",)).select_related("plan")
    if reporting:
        task = get_object_or_404(queryset.reportable_by(user), pk=task_id)
    else:
        task = get_editable_or_404(queryset, user, pk=task_id)
    if expected_version is None or task.version != int(expected_version):
        raise TaskConflict(task)
    if task.is_removed:
        raise ValidationError(TASK_REMOVED)
    return task


def _assign(task: Task, data: Mapping) -> None:
    unknown = set(data) - set(TASK_FIELDS)
    if unknown:
        raise ValueError(f"Not fields a person may set on a task: {sorted(unknown)}")
    for name, value in data.items():
        setattr(task, name, value)
    # The completion date follows the status unless it was given: today when done, none otherwise.
    if is_done_status(task.status):
        if not task.completed_on:
            task.completed_on = clock.today()
    elif "completed_on" not in data:
        task.completed_on = None


def _household_rule(task: Task, errors: dict) -> None:
    """A household row's household lives in its plan's village (``Task.clean`` says so too, for a saved row)."""
    if task.household is not None and task.household.village_id != task.plan.village_id:
        add_error(errors, "household", "该户不属于本施工图所在的村。")


def _snapshot(task: Task) -> dict[str, object]:
    return {name: getattr(task, Task._meta.get_field(name).attname) for name in TASK_FIELDS}


def _clean_fund_lines(planned, fund_lines, errors) -> list[tuple[str, Decimal]] | None:
    """The fund lines as (source, amount) pairs; their problems go to ``errors["fund_lines"]``."""
    if fund_lines is None:
        return None
    lines, seen = [], set()
    labels = dict(FundSource.choices)
    for line in fund_lines:
        source, amount = line.get("source"), line.get("amount")
        candidate = FundLine(source=source, amount=amount)
        try:
            candidate.full_clean(exclude=["task"], validate_constraints=False)
        except ValidationError as e:
            for messages in e.message_dict.values():
                add_error(errors, "fund_lines", *(f"{labels.get(source, source or '')}：{m}" for m in messages))
            continue
        if source in seen:
            add_error(errors, "fund_lines", "同一任务的资金来源不能重复。")
            continue
        seen.add(source)
        lines.append((source, candidate.amount))
    if lines and "fund_lines" not in errors and planned is not None:
        total = sum((amount for _, amount in lines), Decimal("0"))
        if total != planned:
            add_error(
                errors,
                "fund_lines",
                f"各资金来源合计（{wan_exact(total)}万元）与计划资金（{wan_exact(planned)}万元）不一致。",
            )
    return lines


def _write_fund_lines(task: Task, lines: list[tuple[str, Decimal]], user, reason: str) -> None:
    existing = {line.source: line for line in task.fund_lines.all()}
    wanted = dict(lines)
    for source, line in existing.items():
        if source not in wanted:
            sign(line, user, reason)
            line.delete()
    for source, amount in lines:
        line = existing.get(source)
        if line is None:
            line = FundLine(task=task, source=source, amount=amount)
        elif line.amount == amount:
            continue
        line.amount = amount
        line.full_clean()
        sign(line, user, reason)
        line.save()
