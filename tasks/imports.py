"""Plan rows in from Excel: read an uploaded one table (an export, or the template filled in), preview every row
to create or update and every error, and apply all of it in one transaction, or nothing.

Which row is which: a row with 编号 is the plan row of that id, changed only if the user may change it and only if
its 版本 is still the one in the file (otherwise it is a conflict, never overwritten); a row without 编号 is new,
in the plan of its village (its 村 and 乡镇, or its household's village) for the chosen year, a draft plan being
opened where the village has none. Re-importing an exported table therefore updates rows instead of duplicating
them, and a table nobody edited changes nothing. A new row is added with its import key (:func:`new_row_key`, kept in
``Task.import_key``): a row without 编号 whose key an earlier import added is taken as that row at version 1, so a
table imported twice adds its new rows once. Subtotal, total and empty rows are skipped; 序号, 户主, 是否逾期,
原定完成时限 and 变更次数 are not read.

:func:`preview_plan_import` reads and checks everything without writing (the rules of ``tasks.services``, checked
in Python with :func:`tasks.services.task_check`: a fixed number of queries however many rows).
:func:`apply_plan_import` reads the file again against the data as it then is and, if that gives exactly the
previewed changes without an error, writes them through the services (task_create_many, task_update, plan_create)
with the reason “Excel 导入：<file name>”.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import re
import tempfile
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import F
from openpyxl import load_workbook

from bazhou.core import access
from bazhou.core.pages import id_param
from bazhou.core.templatetags.bazhou import wan_exact
from bazhou.core.xlsx.importing import (
    ImportPreview,
    ImportRefused,
    ImportRow,
    Problem,
    RowChange,
    already_imported,
    chunks,
    digest,
    import_reason,
    in_column_order,
    refuse_unless_previewed,
    unsaved_copy,
    villages_by_name,
)
from bazhou.core.xlsx.reader import (
    HEAD_ROWS,
    SheetData,
    as_choice,
    as_date,
    as_decimal,
    as_int,
    as_text,
    locate_header,
    read_sheet,
)
from households.models import Household
from tasks import changes as change_services
from tasks import services, summaries
from tasks.exports import (
    CATEGORY_LABELS,
    COLUMNS,
    KIND_HOUSEHOLD,
    KIND_VILLAGE,
    SHEET,
    SOURCE_SHORT,
    SOURCES,
    STATUS_LABELS,
    is_summary_label,
)
from tasks.models import (
    PLAN_FIELDS,
    ChangeRequest,
    FundLine,
    FundSource,
    Plan,
    Task,
    duplicate_groups,
    item_key,
    live_q,
)
from villages.models import Village

# Header texts the import knows: the one table's own, and a few a hand-made table may use.
# Not read: what the system computes or keeps (the baseline changes only by plan approval, the count by requests).
NOT_READ = ("seq", "head", "overdue", "baseline_deadline", "change_count", "carried_from")
KNOWN = {c.header: c.key for c in COLUMNS if c.key not in NOT_READ}
KNOWN.update({str(label): f"fund_{value}" for value, label in FundSource.choices})
KNOWN.update(
    {
        "计划资金": "planned_funds",
        "计划资金（万元）": "planned_funds",
        "资金合计": "planned_funds",
        "乡镇（街道）": "township",
        "已投入资金": "invested_funds",
        "进度": "progress",
        "责任单位名称": "responsible_unit",
    }
)
REQUIRED = ("item", "category", "deadline")
HEADERS = {c.key: c.header for c in COLUMNS}
CATEGORY_VALUES = {label: value for value, label in CATEGORY_LABELS.items()}
STATUS_VALUES = {label: value for value, label in STATUS_LABELS.items()}
SIMPLE_TEXT = ("item", "unit", "responsible_unit", "responsible_person", "responsible_phone")
NOT_YOURS = "编号为 {id} 的任务不存在，或不在您可以修改的范围内。"
# An approved plan: its rows' plan changes and new rows become change requests (tasks.changes), applied when approved.
REQUESTS_NOTE = (
    "已批准的施工图：以下修改将提交为变更申请，批准后生效（标有“变更申请”的行）。进度、状态等其余内容直接导入。"
)
REQUEST_MARK = "〔变更申请〕"
IMPORTED_VERSION = 1  # the version of a row an import adds: a row found by its import key is taken at it
AGAIN = "再次导入不会重复新增：此前新增的行按已有任务核对，没有修改的算作“没有变化”。"
PROGRESS_EVERY = 500


@dataclass
class _Create:
    row: int
    village: Village
    plan: Plan | None  # None: the village has no plan of the year yet; confirming opens one
    data: dict
    lines: list[dict] | None
    requested: bool = False  # an approved plan: a change request to add the row, not the row
    key: str = ""  # Task.import_key: how importing the file again finds the row (new_row_key)


@dataclass
class _Update:
    row: int
    task_id: int
    version: int
    data: dict
    lines: list[dict] | None
    fields: set[str]
    lines_changed: bool
    requested: bool = False  # an approved plan: the plan fields go to a change request, the rest are written
    village_id: int | None = None  # the row's village (set when the stored result is applied)


@dataclass
class _Plan:
    """What an upload amounts to: the preview and the operations it lists."""

    preview: ImportPreview
    creates: list[_Create] = field(default_factory=list)
    updates: list[_Update] = field(default_factory=list)
    found: dict[int, int] = field(default_factory=dict)  # Excel row → task, rows without 编号 found by import key

    @property
    def village_ids(self) -> set[int]:
        """The villages whose rows the import writes."""
        return {op.village.pk for op in self.creates} | {op.village_id for op in self.updates if op.village_id}


NOT_AREA_STAFF = "只有区级管理员、乡镇工作人员和村干部可以导入施工图（行业部门的用户请逐项填报本部门任务的进度）。"


def _refuse_unless_area_staff(user) -> None:
    """Imports are the area staff's (their area's rows); anyone else, a department's user included, is refused
    before anything is read (the pages say so too: ``tasks.excel_views.may_import_plans``)."""
    if not access.may_edit_plans(user):
        raise PermissionDenied(NOT_AREA_STAFF)


def preview_plan_import(*, user, content: bytes, file_name: str, year: int, progress=None) -> ImportPreview:
    """Every row the upload would create or update and every error, by row and column; writes nothing. Rows that
    name a sector department in 责任单位 are linked to it when written (``tasks.services.link_departments``). A file
    imported before (the same bytes) is said so in the notes. ``progress(done, total, phase)`` is called every few
    hundred rows (phases “读取文件”, “检查”)."""
    _refuse_unless_area_staff(user)
    preview = _evaluate(user=user, content=content, file_name=file_name, year=year, progress=progress).preview
    note = already_imported("plan", content, AGAIN)
    if note:
        preview.notes.insert(0, note)
    return preview


@transaction.atomic
def apply_plan_import(
    *,
    user,
    file_name: str,
    year: int,
    fingerprint: str,
    content: bytes | None = None,
    stored: ImportPreview | None = None,
    progress=None,
) -> ImportPreview:
    """Write the previewed changes in one transaction, or nothing.

    The confirmation of an upload applies ``stored``, the preview kept in its batch with the validated result
    (``ImportPreview.apply``, see :func:`_stored_result`): the workbook is not read again. Under lock it checks that
    each row to update is still at the version the preview checked it against and still the user's to change, and
    that each plan written to (or village whose plan is opened) is still there, the user's, and as approved or not
    as it was: otherwise :class:`ImportRefused` names the rows and nothing is written. Without ``stored`` (or with a
    preview kept before the result was stored) the file ``content`` is read and checked now, and refused if that
    gives errors or other changes than the preview with ``fingerprint``.

    New rows are added in bulk (``task_create_many``) with their import key; rows updated directly in bulk
    (``task_update_many``), both with ``checked``: the rows' own rules were checked at the preview (``task_check``),
    and what can change since is checked under lock here and by the services; rows of approved plans whose plan
    fields change become change requests one by one. The
    history is signed “Excel 导入：<file name>”. The returned preview's ``written`` lists (row, id, version) for the
    workbook handed back (:func:`written_back`). ``progress(done, total, phase)`` is called every few hundred rows
    (phases “核对”, “写入”; “读取文件” and “检查” too when the file is read again).
    """
    _refuse_unless_area_staff(user)
    if stored is None or stored.apply.get("v") != STORED_VERSION:
        stored = _evaluate(user=user, content=content, file_name=file_name, year=year, progress=progress).preview
    refuse_unless_previewed(stored, fingerprint)
    if progress is not None:
        progress(0, total=None, phase="核对")
    plan = _locked_operations(user, stored, year)
    preview = plan.preview
    reason = import_reason(file_name)
    total = len(plan.creates) + len(plan.updates)
    if progress is not None:
        progress(0, total=total, phase="写入")
    opened: dict[int, Plan] = {}
    rows, keys, created_rows = [], [], []
    for op in plan.creates:
        if op.requested:
            change_services.change_request_create(
                user=user,
                plan=op.plan,
                kind=ChangeRequest.Kind.ADD,
                # A new row starts not started: its progress is reported once it is approved.
                changes={name: value for name, value in op.data.items() if name in PLAN_FIELDS},
                fund_lines=op.lines,
                reason_category=ChangeRequest.ReasonCategory.OTHER,
                reason=reason,
            )
            continue
        target = op.plan
        if target is None:
            if op.village.pk not in opened:
                opened[op.village.pk] = services.plan_create(village_id=op.village.pk, year=year, user=user)
            target = opened[op.village.pk]
        rows.append((target, op.data, op.lines))
        keys.append(op.key)
        created_rows.append(op.row)
    try:
        with transaction.atomic():
            # checked: the rules were checked at the preview (task_check); what can change since, just above.
            created = services.task_create_many(user=user, rows=rows, reason=reason, import_keys=keys, checked=True)
    except IntegrityError as error:  # the same rows added by another import of this table in the meantime
        if "import_key" not in str(error):
            raise
        message = "表中新增的行刚被另一次导入写入，未导入任何数据。请重新上传，核对新的预览。"
        raise ImportRefused(preview, message) from None
    if progress is not None:
        progress(len(created), total=total, phase="写入")

    def updated(done, total=None, phase=None):
        if progress is not None:
            progress(len(created) + done, total=len(plan.creates) + len(plan.updates), phase=phase)

    services.task_update_many(
        user=user,
        rows=[
            (op.task_id, op.version, op.data, op.lines if op.lines_changed else None)
            for op in plan.updates
            if not op.requested
        ],
        reason=reason,
        progress=updated,
        checked=True,
    )
    requested = [op for op in plan.updates if op.requested]
    for index, op in enumerate(requested, start=1):
        _request_and_write_facts(op, user=user, reason=reason)
        if index % PROGRESS_EVERY == 0:
            updated(len(plan.updates) - len(requested) + index, phase="写入")
    # The per-village summary figures of every village written, refreshed before this transaction commits (the bulk
    # services name theirs too; naming them again costs nothing).
    summaries.refresh_villages(plan.village_ids)
    preview.written = _written(plan, dict(zip(created_rows, (task.pk for task in created), strict=True)))
    preview.apply = {}  # applied: the stored result is not needed any more (the rows' history keeps what changed)
    if progress is not None:
        progress(total, total=total, phase="写入")
    return preview


# ---------------------------------------------------------------------------------------------
# The validated result kept between the preview and the confirmation
# ---------------------------------------------------------------------------------------------

STORED_VERSION = 1  # of the layout of ImportPreview.apply below; a preview with another is read again from the file
_DATES = ("deadline", "completed_on")
_DECIMALS = ("quantity", "planned_funds", "invested_funds")


def _encode(data: dict) -> dict:
    """A row's normalised values as JSON: dates as ISO text, amounts as exact decimal text, the household by id."""
    encoded = {}
    for name, value in data.items():
        if name == "household":
            value = value.pk if value is not None else None
        elif isinstance(value, Decimal):
            value = str(value)
        elif isinstance(value, datetime.date):
            value = value.isoformat()
        encoded[name] = value
    return encoded


def _decode(data: dict, households: dict[int, Household]) -> dict:
    decoded = {}
    for name, value in data.items():
        if value is not None:
            if name == "household":
                value = households[value]
            elif name in _DECIMALS:
                value = Decimal(value)
            elif name in _DATES:
                value = datetime.date.fromisoformat(value)
        decoded[name] = value
    return decoded


def _encode_lines(lines: list[dict] | None) -> list | None:
    return None if lines is None else [[line["source"], str(line["amount"])] for line in lines]


def _decode_lines(lines: list | None) -> list[dict] | None:
    return None if lines is None else [{"source": source, "amount": Decimal(amount)} for source, amount in lines]


def _stored_result(result: _Plan, context: _Context) -> dict:
    """What the confirmation applies, kept in the batch (``ImportPreview.apply``): for each row to create its
    village, plan (None: to be opened), normalised values, fund lines, import key and whether it is a change
    request; for each row to update its id, the version it was checked against, whether its plan was approved, its
    values and fund lines; and the rows found by their import key."""
    return {
        "v": STORED_VERSION,
        "creates": [
            [
                op.row,
                op.village.pk,
                op.plan.pk if op.plan else None,
                _encode(op.data),
                _encode_lines(op.lines),
                op.key,
                op.requested,
            ]
            for op in result.creates
        ],
        "updates": [
            [
                op.row,
                op.task_id,
                op.version,
                context.tasks[op.task_id].plan.is_approved,
                _encode(op.data),
                _encode_lines(op.lines),
                sorted(op.fields),
                op.lines_changed,
                op.requested,
            ]
            for op in result.updates
        ],
        "found": sorted([row, task_id] for row, task_id in result.found.items()),
    }


def _locked_operations(user, preview: ImportPreview, year: int) -> _Plan:
    """The stored result of ``preview`` as operations to write, after checking under lock (the plans, then the rows
    to update, ``select_for_update``) that it still holds: each row to update still the user's, not withdrawn and at
    the version the preview checked; each plan written to still the user's and approved or not as it was; each
    village whose plan is to be opened still the user's, and each household named still the user's. Otherwise
    :class:`ImportRefused` naming the rows (nothing is written). A fixed number of queries per chunk of rows."""
    stored = preview.apply
    result = _Plan(preview, found=dict(stored["found"]))
    # Excel row → (why it no longer holds, the row's id or 0): "changed" (saved by someone since the preview),
    # "gone" (withdrawn, or no longer the user's), "approved" (its plan approved or reopened since), "lost" (its
    # plan, village or household no longer there or the user's).
    stale: dict[int, tuple[str, int]] = {}
    task_ids = [op[1] for op in stored["updates"]]
    # The plans first (plan_approve locks the plan, then writes its rows), then the rows.
    tasks: dict[int, tuple[int, bool, int]] = {}
    rows = Task.objects.editable_by(user)
    plan_ids = {op[2] for op in stored["creates"] if op[2] is not None}
    for chunk in chunks(sorted(task_ids)):
        plan_ids.update(Task.objects.filter(pk__in=chunk).order_by().values_list("plan_id", flat=True).distinct())
    plans: dict[int, Plan] = {}
    locked_plans = Plan.objects.editable_by(user).select_for_update(of=("self",)).select_related("village__township")
    for chunk in chunks(sorted(plan_ids)):
        plans.update((p.pk, p) for p in locked_plans.filter(pk__in=chunk))
    for chunk in chunks(sorted(task_ids)):
        locked = rows.select_for_update(of=("self",)).filter(pk__in=chunk).order_by()
        tasks.update(
            (pk, (version, removed, plan_id))
            for pk, version, removed, plan_id in locked.values_list("pk", "version", "is_removed", "plan_id")
        )
    household_ids = {op[3].get("household") for op in stored["creates"]}
    household_ids |= {op[4].get("household") for op in stored["updates"]}
    household_ids.discard(None)
    households: dict[int, Household] = {}
    for chunk in chunks(sorted(household_ids)):
        households.update((h.pk, h) for h in Household.objects.editable_by(user).filter(pk__in=chunk))
    # Villages whose plan of the year the import opens: still the user's, and still without an approved plan.
    opening = {op[1] for op in stored["creates"] if op[2] is None}
    villages: dict[int, Village] = {}
    opened: dict[int, Plan] = {}
    if opening:
        villages = {
            v.pk: v for v in Village.objects.editable_by(user).select_related("township").filter(pk__in=opening)
        }
        opened = {
            p.village_id: p
            for p in Plan.objects.editable_by(user)
            .select_for_update(of=("self",))
            .select_related("village__township")
            .filter(village_id__in=opening, year=year)
        }
    for row, village_id, plan_id, data, lines, key, requested in stored["creates"]:
        if data.get("household") is not None and data["household"] not in households:
            stale[row] = ("lost", 0)
            continue
        if plan_id is None:
            plan = opened.get(village_id)  # opened by someone else since the preview: the rows go into it if a draft
            village = villages.get(village_id)
            if village is None:
                stale[row] = ("lost", 0)
                continue
            if plan is not None and plan.is_approved:
                stale[row] = ("approved", 0)
                continue
        else:
            plan = plans.get(plan_id)
            if plan is None:
                stale[row] = ("lost", 0)
                continue
            village = plan.village
            if plan.is_approved != requested:
                stale[row] = ("approved", 0)
                continue
        result.creates.append(
            _Create(row, village, plan, _decode(data, households), _decode_lines(lines), requested=requested, key=key)
        )
    for row, task_id, version, was_approved, data, lines, fields, lines_changed, requested in stored["updates"]:
        found = tasks.get(task_id)
        if found is None or found[1]:
            stale[row] = ("gone", task_id)
            continue
        if found[0] != version:
            stale[row] = ("changed", task_id)
            continue
        plan = plans.get(found[2])
        if plan is None or (data.get("household") is not None and data["household"] not in households):
            stale[row] = ("lost", 0)
            continue
        if plan.is_approved != was_approved:
            stale[row] = ("approved", 0)
            continue
        result.updates.append(
            _Update(
                row,
                task_id,
                version,
                _decode(data, households),
                _decode_lines(lines),
                set(fields),
                lines_changed,
                requested=requested,
                village_id=plan.village_id,
            )
        )
    why = {
        "changed": (
            "的任务（编号 {ids}）在预览之后已被他人修改",
            "该任务在预览之后已被他人修改，为免覆盖他人的修改未导入：请重新导出后再修改。",
        ),
        "gone": (
            "的任务（编号 {ids}）已撤销，或已不在您可以修改的范围内",
            "该任务已撤销，或已不在您可以修改的范围内。",
        ),
        "approved": (
            "所在的施工图在预览之后已批准（或已退回草稿）",
            "所在的施工图在预览之后已批准（或已退回草稿），须重新核对。",
        ),
        "lost": (
            "所在的施工图、村或户已不存在，或已不在您可以修改的范围内",
            "所在的施工图、村或户已不存在，或已不在您可以修改的范围内。",
        ),
    }
    if not stale:
        return result
    said, refused = [], ImportPreview.from_json({**preview.to_json(), "apply": {}})
    for cause, (summary, detail) in why.items():
        found = sorted((row, task_id) for row, (c, task_id) in stale.items() if c == cause)
        if found:
            ids = _ids_text([task_id for _, task_id in found if task_id])
            said.append(_rows_text([row for row, _ in found]) + summary.format(ids=ids))
            refused.problems.extend(Problem(row, "", "", detail) for row, _ in found)
    refused.problems.sort(key=lambda p: p.row)
    refused.fingerprint = ""
    raise ImportRefused(refused, f"未导入任何数据：{'；'.join(said)}。请重新导出后修改，再上传导入。")


def _rows_text(rows: list[int]) -> str:
    rows = sorted(rows)
    shown = "、".join(str(r) for r in rows[:10])
    return f"第 {shown} 等 {len(rows)} 行" if len(rows) > 10 else f"第 {shown} 行"


def _ids_text(ids: list[int]) -> str:
    ids = sorted(ids)
    return "、".join(str(i) for i in ids[:10]) + ("…" if len(ids) > 10 else "")


def _written(plan: _Plan, created: dict[int, int]) -> list[list[int]]:
    """(row, id, version now) of the rows whose 编号 or 版本 in the file are no longer what the row is: the rows
    added, the rows found by their import key, the rows updated. One query per chunk of rows."""
    rows = {**created, **plan.found, **{op.row: op.task_id for op in plan.updates}}
    versions: dict[int, int] = {}
    for chunk in chunks(sorted(set(rows.values()))):
        versions.update(Task.objects.filter(pk__in=chunk).order_by().values_list("pk", "version"))
    return [[row, task_id, versions[task_id]] for row, task_id in sorted(rows.items()) if task_id in versions]


def written_back(content: bytes, preview: ImportPreview):
    """The uploaded workbook as it was (its styles, drop-down lists and other sheets kept: opened and saved with
    openpyxl), with 编号 and 版本 filled in for the rows the import added or changed (``preview.written``), so that
    the user goes on from this file: importing it again changes nothing, and edits to it are updates of the same rows.
    A table without those columns gets them after its last column. Returns a rewound temporary file."""
    book = load_workbook(io.BytesIO(content))
    sheet = book[SHEET] if SHEET in book.sheetnames else book.worksheets[0]
    head = SheetData(title=sheet.title)
    for cells in sheet.iter_rows():
        values = [cell.value for cell in cells]
        if any(as_text(v) for v in values):
            head.rows.append((cells[0].row, values))
        if len(head.rows) >= HEAD_ROWS:
            break
    header = _header(head)
    columns = {}
    next_free = sheet.max_column
    for key in ("id", "version"):
        if key in header.columns:
            columns[key] = header.columns[key] + 1
        else:
            next_free += 1
            columns[key] = next_free
            sheet.cell(header.last_row, next_free).value = HEADERS[key]
    status = header.columns.get("status")
    for row, task_id, version in preview.written:
        sheet.cell(row, columns["id"]).value = task_id
        sheet.cell(row, columns["version"]).value = version
        # A new row's blank 状态 was taken as 未启动; a row with 编号 must say it.
        if status is not None and not as_text(sheet.cell(row, status + 1).value):
            sheet.cell(row, status + 1).value = STATUS_LABELS[Task.Status.NOT_STARTED]
    file = tempfile.TemporaryFile()  # noqa: SIM115  (handed to the response, which closes it)
    book.save(file)
    file.seek(0)
    return file


def _request_and_write_facts(op: _Update, *, user, reason: str) -> None:
    """A row of an approved plan: its plan fields (and fund lines) as a change request, the other fields (progress,
    status, invested funds, completion, phone) written directly, as the pages do."""
    plan_changes = {name: value for name, value in op.data.items() if name in PLAN_FIELDS}
    change_services.change_request_create(
        user=user,
        task=op.task_id,
        changes=plan_changes,
        fund_lines=op.lines if op.lines_changed else None,
        reason_category=ChangeRequest.ReasonCategory.OTHER,
        reason=reason,
        expected_version=op.version,
    )
    facts = {name: value for name, value in op.data.items() if name not in PLAN_FIELDS}
    if op.fields - set(PLAN_FIELDS):
        services.task_update(task_id=op.task_id, user=user, expected_version=op.version, data=facts, reason=reason)


# ---------------------------------------------------------------------------------------------
# Reading and checking
# ---------------------------------------------------------------------------------------------


@dataclass
class _Context:
    """What the rows are checked against, fetched in a fixed number of queries."""

    year: int
    tasks: dict[int, Task]
    lines: dict[int, dict[str, Decimal]]
    households: dict[str, Household]
    villages: dict[tuple[str, str], list[Village]]
    villages_by_id: dict[int, Village]
    plans: dict[int, Plan]
    pending: set[int] = field(default_factory=set)  # rows with a change request waiting for a decision
    found: dict[str, int] = field(default_factory=dict)  # import key → the row an earlier import added


def _header(sheet: SheetData):
    return locate_header(sheet, KNOWN, REQUIRED, anchor="项目")


def _evaluate(*, user, content: bytes, file_name: str, year: int, progress=None) -> _Plan:
    preview = ImportPreview(kind="plan", file_name=file_name, year=year)
    result = _Plan(preview)
    sheet = read_sheet(content, sheet_name=SHEET, header=_header, progress=progress)
    header = sheet.header
    title_year = _title_year(sheet, header.last_row)
    if title_year and title_year != year:
        preview.problems.append(
            Problem(0, "", "", f"表格标题是{title_year}年的施工图，与所选的计划年度{year}年不一致。请核对年度。")
        )
    parsed = _Row.rows_of(sheet, header)
    for row in parsed:
        row.read()
    context = _context(user, year, parsed)
    seen: dict[int, int] = {}
    for index, row in enumerate(parsed, start=1):
        if progress is not None and index % PROGRESS_EVERY == 0:
            progress(index, total=len(parsed), phase="检查")
        if row.problems:
            preview.problems.extend(row.problems)
            continue
        if row.id is None and row.key in context.found:
            row.id, row.version, row.by_key = context.found[row.key], IMPORTED_VERSION, True
            result.found[row.number] = row.id
        if row.id is not None:
            if row.id in seen:
                row.problem("id", f"编号 {row.id} 与第 {seen[row.id]} 行重复：同一任务只能出现一次。")
            else:
                seen[row.id] = row.number
                _check_update(row, context, result)
        else:
            _check_create(row, context, result)
        preview.problems.extend(row.problems)
    if progress is not None:
        progress(len(parsed), total=len(parsed), phase="检查")
    preview.warnings = _duplicate_warnings(result, context)
    preview.notes = sorted(
        {
            f"{op.village.township.name}{op.village.name}还没有{year}年施工图：确认后新建（草稿）。"
            for op in result.creates
            if op.plan is None
        }
    )
    requested_rows = sorted(op.row for op in [*result.creates, *result.updates] if op.requested)
    if requested_rows:
        preview.notes.insert(0, REQUESTS_NOTE)
    if result.found:
        preview.notes.insert(0, _found_note(result.found))
    preview.fingerprint = digest(
        {
            # Which rows become change requests (the plan approved after the preview changes the fingerprint).
            **({"requests": requested_rows} if requested_rows else {}),
            "creates": [
                (op.row, op.village.pk, op.plan.pk if op.plan else None, op.data, op.lines, op.key)
                for op in result.creates
            ],
            "updates": [
                (
                    op.task_id,
                    op.version,
                    {k: op.data.get(k) for k in sorted(op.fields)},
                    op.lines if op.lines_changed else None,
                )
                for op in result.updates
            ],
        }
    )
    if preview.ok:
        preview.apply = _stored_result(result, context)
    return result


def _found_note(found: dict[int, int]) -> str:
    rows = sorted(found)
    shown = "、".join(str(r) for r in rows[:10]) + (f" 等 {len(rows)} 行" if len(rows) > 10 else " 行")
    ids = "、".join(str(found[r]) for r in rows[:10]) + ("…" if len(rows) > 10 else "")
    return (
        f"第 {shown}没有编号，但此前已从 Excel 导入（编号 {ids}）：按已有任务核对，不再新增。"
        "导入后可下载填好编号的表格，以后在那份表格上修改。"
    )


def new_row_key(year: int, village_id: int, household: str, category: str, item: str, ordinal: int) -> str:
    """The import key of a new row (``Task.import_key``): a SHA-256 of the year, the village, the household number,
    the category, the normalised item (``tasks.models.item_key``) and which such row of the file it is (the first,
    the second…). The same row of the same table (or of a copy with other rows changed, or its cells retyped as the
    same values) gives the same key, so importing it again finds the row instead of adding it twice; two rows of one
    table that are the same item stay two rows."""
    identity = [year, village_id, household, category or "", item_key(item or ""), ordinal]
    return hashlib.sha256(json.dumps(identity, ensure_ascii=False).encode("utf-8")).hexdigest()


def _title_year(sheet: SheetData, header_last: int) -> int | None:
    for number, values in sheet.rows:
        if number >= header_last:
            break
        match = re.search(r"(20\d{2})年", " ".join(as_text(v) for v in values if v is not None))
        if match:
            return int(match.group(1))
    return None


class _Row(ImportRow):
    """One data row of the upload: its cells by field, their values as the model takes them, and its problems."""

    HEADERS = HEADERS
    ERROR_CELLS = {"fund_lines": "planned_funds"}  # fund-line errors go on 合计

    def __init__(self, number: int, values: list, columns: dict[str, int], headers: dict[str, str]):
        super().__init__(number, values, columns, headers)
        self.values: dict = {}
        self.id = None
        self.version = None
        self.key = ""  # a row without 编号: its new_row_key (set by _context)
        self.by_key = False  # a row without 编号 found by its key (then id and version are the found row's)
        summary = any(is_summary_label(self.texts.get(k, "")) for k in ("township", "village"))
        self.skip = self.skip or (summary and not self.texts.get("id"))  # subtotal and total rows

    def _missing(self, key: str) -> bool:
        """The cell is there, empty, and not already reported."""
        return key in self.raw and key not in self.failed and not self.texts.get(key)

    def read(self) -> None:
        """Convert every cell; conversion errors become problems of this row."""
        self.id = self.take("id", as_int)
        self.version = self.take("version", as_int)
        values = self.values
        for key in SIMPLE_TEXT:
            if key in self.raw:
                values[key] = self.texts[key]
        values["category"] = self.take("category", as_choice, choices=CATEGORY_VALUES)
        if self._missing("category"):
            self.problem("category", "请选择类别。")
        if self._missing("item"):
            self.problem("item", "请填写项目。")
        if "quantity" in self.raw:
            values["quantity"] = self.take("quantity", as_decimal, places=2)
        values["deadline"] = self.take("deadline", as_date)
        if self._missing("deadline"):
            self.problem("deadline", "请填写完成时限（日期，如 2017-08-31）。")
        for key in ("planned_funds", "invested_funds"):
            if key in self.raw:
                values[key] = self.take(key, as_decimal, places=4) or Decimal("0")
        if "status" in self.raw:
            values["status"] = self.take("status", as_choice, choices=STATUS_VALUES)
            if self._missing("status"):
                if self.texts.get("id"):
                    self.problem("status", "请选择状态。")
                else:
                    values["status"] = Task.Status.NOT_STARTED  # a new row not yet started
        if "progress" in self.raw:
            values["progress"] = self.take("progress", as_int) or 0
        if "completed_on" in self.raw:
            values["completed_on"] = self.take("completed_on", as_date)
        self.fund_lines = None
        if any(f"fund_{s}" in self.raw for s in SOURCES):
            self.fund_lines = {}
            for source in SOURCES:
                key = f"fund_{source}"
                if key in self.raw:
                    amount = self.take(key, as_decimal, places=4)
                    if amount is not None:
                        self.fund_lines[source] = amount
        self.kind = self.take("kind", as_choice, choices={KIND_VILLAGE: "village", KIND_HOUSEHOLD: "household"})
        if self.id is not None and self.version is None and not self.problems:
            self.problem("version", "有编号的行须保留导出时的版本，请勿删除。")

    def lines_for(self, current: dict[str, Decimal]) -> list[dict] | None:
        """The fund lines the row asks for: its source cells, and the current amounts of sources without a column."""
        if self.fund_lines is None:
            return None
        lines = dict(self.fund_lines)
        for source, amount in current.items():
            if f"fund_{source}" not in self.raw:
                lines[source] = amount
        return [{"source": s, "amount": lines[s]} for s in SOURCES if s in lines]


def _context(user, year: int, rows: list[_Row]) -> _Context:
    ids, numbers = set(), set()
    for row in rows:
        id_text = row.texts.get("id", "")
        if id_param(id_text) is not None:
            ids.add(id_param(id_text))
        if row.texts.get("household"):
            numbers.add(row.texts["household"])
    households: dict[str, Household] = {}
    for chunk in chunks(sorted(numbers)):
        households.update((h.number, h) for h in Household.objects.editable_by(user).filter(number__in=chunk))
    villages = list(Village.objects.editable_by(user).select_related("township"))
    by_name = villages_by_name(villages)
    # Rows without 编号 that an earlier import of this table added: found by their key (one query per chunk, none
    # when every row has its 编号), then checked as those rows.
    keys = _new_row_keys(rows, year, households, by_name)
    found: dict[str, int] = {}
    for chunk in chunks(sorted(keys)):
        found.update(Task.objects.filter(import_key__in=chunk).values_list("import_key", "pk"))
    ids |= set(found.values())
    tasks: dict[int, Task] = {}
    lines: dict[int, dict[str, Decimal]] = {}
    editable = Task.objects.editable_by(user)
    for chunk in chunks(sorted(ids)):
        tasks.update((t.pk, t) for t in editable.filter(pk__in=chunk))
        for task_id, source, amount in FundLine.objects.filter(task_id__in=chunk).values_list(
            "task_id", "source", "amount"
        ):
            lines.setdefault(task_id, {})[source] = amount
    # Each plan and household once, shared by its rows (select_related would make one copy per row).
    plans_by_id = _by_id(
        Plan.objects.editable_by(user).select_related("village__township"), {t.plan_id for t in tasks.values()}
    )
    households_by_id = _by_id(Household.objects.editable_by(user), {t.household_id for t in tasks.values()} - {None})
    for task in tasks.values():
        task.plan = plans_by_id[task.plan_id]
        task.household = households_by_id.get(task.household_id) if task.household_id else None
    plans = {p.village_id: p for p in Plan.objects.editable_by(user).filter(year=year)}
    pending = set()
    for chunk in chunks(sorted(t.pk for t in tasks.values() if t.plan.is_approved)):
        pending.update(ChangeRequest.objects.pending().filter(task_id__in=chunk).values_list("task_id", flat=True))
    return _Context(year, tasks, lines, households, by_name, {v.pk: v for v in villages}, plans, pending, found)


def _new_row_keys(rows: list[_Row], year: int, households: dict[str, Household], villages) -> set[str]:
    """Set each row without 编号 its :func:`new_row_key` (when its place can be told: its household, or exactly one
    village of its 乡镇 and 村 among ``villages``); the keys. The rows' problems are reported later, not here."""
    seen: dict[tuple, int] = {}
    for row in rows:
        if row.problems or row.id is not None or row.texts.get("id"):
            continue
        number = row.texts.get("household", "")
        if number:
            household = households.get(number)
            village_ids = [household.village_id] if household else []
        else:
            township, name = row.texts.get("township", ""), row.texts.get("village", "")
            village_ids = [
                v.pk for (t, n), vs in villages.items() if n == name and (not township or t == township) for v in vs
            ]
        if len(village_ids) != 1:
            continue
        identity = (village_ids[0], number, row.values.get("category") or "", item_key(row.values.get("item") or ""))
        seen[identity] = seen.get(identity, 0) + 1
        row.key = new_row_key(year, *identity, seen[identity])
    return {row.key for row in rows if row.key}


def _by_id(queryset, ids: set) -> dict:
    found = {}
    for chunk in chunks(sorted(ids)):
        found.update((obj.pk, obj) for obj in queryset.filter(pk__in=chunk))
    return found


def _household(row: _Row, context: _Context) -> Household | None | bool:
    """The row's household (None for a village row); False when the 户编号 names none the user may change."""
    number = row.texts.get("household", "")
    if row.kind == "household" and not number:
        row.problem("household", "一户一策的任务须填写户编号。")
        return False
    if row.kind == "village" and number:
        row.problem("kind", "填写了户编号的任务是一户一策，请把计划类型改为“一户一策”或清空户编号。")
        return False
    if not number:
        return None
    household = context.households.get(number)
    if household is None:
        row.problem("household", f"户编号 {number} 不存在，或不在您可以修改的范围内。")
        return False
    return household


def _check_update(row: _Row, context: _Context, result: _Plan) -> None:
    task = context.tasks.get(row.id)
    if task is None:
        row.problem("id", NOT_YOURS.format(id=row.id))
        return
    if task.is_removed:
        if row.by_key:  # added by an earlier import of this table and withdrawn since: not added again
            result.preview.unchanged += 1
            return
        row.problem("id", f"编号为 {row.id} 的任务已撤销，不能再修改。")
        return
    if task.plan.year != context.year:
        row.problem("id", f"编号为 {row.id} 的任务属于{task.plan.year}年施工图，与所选的计划年度不一致。")
        return
    village = task.plan.village
    if row.names_another_village(
        village, f"该任务属于{village.township.name}{village.name}，导入不能把任务改到另一个村。"
    ):
        return
    data = dict(row.values)
    if "household" in row.columns or row.kind:
        household = _household(row, context)
        if household is False:
            return
        data["household"] = household
    current = context.lines.get(task.pk, {})
    approved = task.plan.is_approved
    check = services.task_check(
        task=_copy(task),
        data=data,
        fund_lines=row.lines_for(current),
        current_lines=current,
        reason="导入",
        via_request=approved,
    )
    if not check.changed and not check.lines_changed:
        result.preview.unchanged += 1
        return
    # On an approved plan the plan fields change by a change request (approved later); the rest directly.
    requested = approved and bool(check.changed & set(PLAN_FIELDS) or check.lines_changed)
    if requested and task.pk in context.pending:
        row.problem("id", f"编号为 {row.id} 的任务已有一项待审批的变更申请，请等待审批或先撤回后再导入修改。")
        return
    if row.version != task.version and row.by_key:
        row.problem(
            "id",
            f"此行此前已导入为编号 {task.pk} 的任务，之后该任务已被修改（当前版本 {task.version}），为免覆盖他人的修改"
            "未导入此行：请重新导出后再修改，或删去此行。",
        )
        return
    if row.version != task.version:
        row.problem(
            "version",
            f"该任务在导出后已被修改（表中版本 {row.version}，当前版本 {task.version}），为免覆盖他人的修改未导入此行："
            "请重新导出后再修改。",
        )
        return
    if row.report(check.errors):
        return
    fields = [
        (HEADERS.get(name, name), _show(name, getattr(task, name)), _show(name, getattr(check.task, name)))
        for name in in_column_order(check.changed, ORDER)
    ]
    if check.lines_changed:
        before, after = dict(current), dict(check.lines)
        for source in SOURCES:
            if before.get(source) != after.get(source):
                fields.append((SOURCE_SHORT[source], _money(before.get(source)), _money(after.get(source))))
    label = _label(village, task.household, check.task.item)
    result.preview.changes.append(
        RowChange(row.number, "update", str(task.pk), f"{REQUEST_MARK}{label}" if requested else label, fields)
    )
    result.updates.append(
        _Update(
            row.number,
            task.pk,
            task.version,
            data,
            row.lines_for(current),
            check.changed,
            check.lines_changed,
            requested=requested,
        )
    )


def _check_create(row: _Row, context: _Context, result: _Plan) -> None:
    household = _household(row, context)
    if household is False:
        return
    township, village_name = row.texts.get("township", ""), row.texts.get("village", "")
    if household is not None:
        village = context.villages_by_id.get(household.village_id)
        if village is None or (village_name and village_name != village.name):
            row.problem("household", f"户编号 {household.number} 不属于{township}{village_name}。")
            return
    else:
        if not village_name:
            row.problem("village", "新增任务须填写村（户级任务可只填户编号）。")
            return
        village = row.pick_village(context.villages)
        if village is None:
            return
    plan = context.plans.get(village.pk)
    data = {"status": Task.Status.NOT_STARTED, **row.values, "household": household}
    requested = plan is not None and plan.is_approved
    check = services.task_check(
        task=Task(plan=plan or Plan(village=village, year=context.year)),
        data=data,
        fund_lines=row.lines_for({}),
        current_lines={},
        reason="导入",
        via_request=requested,
    )
    if row.report(check.errors):
        return
    new = check.task
    fields = [
        (HEADERS.get(name, name), "", _show(name, getattr(new, name)))
        for name in in_column_order(data, ORDER)
        if getattr(new, name) not in (None, "")
    ]
    label = _label(village, household, new.item)
    result.preview.changes.append(
        RowChange(row.number, "create", "", f"{REQUEST_MARK}{label}" if requested else label, fields)
    )
    result.creates.append(_Create(row.number, village, plan, data, row.lines_for({}), requested=requested, key=row.key))


def _duplicate_warnings(result: _Plan, context: _Context) -> list[Problem]:
    """Rows of the upload that are the same item as a live row of the year, or as another row of the upload, in the
    same village (or household): warnings that do not block (``tasks.models.duplicate_groups``). One query (per
    chunk of villages) for the rows already there."""
    file_rows = []
    for op in result.creates:
        household = op.data.get("household")
        file_rows.append(
            {
                "row": op.row,
                "id": None,
                "year": context.year,
                "village_id": op.village.pk,
                "household_id": household.pk if household else None,
                "category": op.data.get("category"),
                "item": op.data.get("item", ""),
            }
        )
    for op in result.updates:
        task = context.tasks[op.task_id]
        household = op.data.get("household", task.household)
        file_rows.append(
            {
                "row": op.row,
                "id": task.pk,
                "year": context.year,
                "village_id": task.plan.village_id,
                "household_id": household.pk if household else None,
                "category": op.data.get("category") or task.category,
                "item": op.data.get("item") or task.item,
            }
        )
    if not file_rows:
        return []
    updated = {r["id"] for r in file_rows if r["id"] is not None}  # these rows are in the upload as they will be
    keys = sorted({item_key(r["item"]) for r in file_rows} - {""})
    same_names = {"item_key__in": keys} if len(keys) <= 1000 else {}  # few names: ask only for them
    existing = []
    for chunk in chunks(sorted({r["village_id"] for r in file_rows})):
        rows = Task.objects.filter(live_q(), plan__year=context.year, plan__village_id__in=chunk, **same_names)
        existing.extend(
            row
            for row in rows.values(
                "id", "item", "category", "household_id", year=F("plan__year"), village_id=F("plan__village_id")
            )
            if row["id"] not in updated
        )
    warnings = []
    for group in duplicate_groups([*existing, *file_rows]):
        for row in group:
            if row.get("row") is None:
                continue
            there = "、".join(f"编号 {o['id']}“{o['item']}”" for o in group if o is not row and o.get("row") is None)
            here = "、".join(f"第 {o['row']} 行“{o['item']}”" for o in group if o is not row and o.get("row"))
            said = [
                f"本村（户）本年度已有同类同名任务：{there}" if there else "",
                f"与本表{here}同类同名" if here else "",
            ]
            message = "；".join(part for part in said if part)
            warnings.append(Problem(row["row"], "", "", f"{message}。确认导入仍会保存此行，请核对是否重复。"))
    return sorted(warnings, key=lambda p: p.row)


def _copy(task: Task) -> Task:
    """A copy of ``task`` to change in memory (with its plan and household), so the fetched one stays as read."""
    copy = unsaved_copy(task)
    copy.plan = task.plan
    copy.household = task.household
    copy._state.adding = False
    return copy


ORDER = [c.key for c in COLUMNS]


def _money(value) -> str:
    return "" if value is None else wan_exact(value)


def _show(name: str, value) -> str:
    if value is None or value == "":
        return ""
    if name in ("planned_funds", "invested_funds"):
        return wan_exact(value)
    if name == "quantity":
        return format(value.normalize(), "f")
    if name == "category":
        return CATEGORY_LABELS.get(value, value)
    if name == "status":
        return STATUS_LABELS.get(value, value)
    if name == "household":
        return value.number if isinstance(value, Household) else str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _label(village: Village, household: Household | None, item: str) -> str:
    where = f"{village.township.name} {village.name}"
    if household is not None:
        where += f" 户 {household.number}"
    return f"{where}：{item}"
