"""The plan page's rows (施工图) as plain values, and their HTML, built in one pass.

A village's plan has hundreds of rows. The page reads them with ``values()`` (no model instances, no per-row related
managers), their fund lines, the households' heads and the pending change requests in one query each, grouped in
Python; labels (choices) are resolved once into plain ``str`` dicts; and each row's HTML is joined from plain
strings escaped with :func:`html.escape` — what ``django.utils.html.escape`` does, without its lazy-string wrapper
on every call (issue 19: the per-row tag and the lazy-string wrappers were half of the page's time at 10×).

The markup (classes, ``data-testid``s, ``data-sort-value``s) is the contract the pages' tests, the browser tests and
``static/js/tables.js`` rely on; ``tests/test_plan_page_rows.py`` pins the rows' visible content.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from html import escape
from itertools import groupby

from django.db.models import F
from django.urls import get_script_prefix, reverse

from bazhou.core.templatetags.bazhou import money
from households.models import Member
from tasks.models import ChangeRequest, FundLine, Task, is_overdue_values

_SENTINEL = 987654321

# The columns ``values()`` reads for a row (the household's and the department's through their joins).
ROW_FIELDS = (
    "id",
    "version",
    "category",
    "item",
    "quantity",
    "unit",
    "deadline",
    "deadline_text",
    "planned_funds",
    "invested_funds",
    "responsible_unit",
    "department_id",
    "department__name",
    "responsible_person",
    "responsible_phone",
    "status",
    "progress",
    "is_removed",
    "change_count",
    "baseline_deadline",
    "household_id",
    "household__number",
    "household__group",
)


@dataclass(slots=True)
class PlanRow:
    """One row of the plan's table: plain values, labels already resolved."""

    pk: int
    version: int
    category: str
    item: str
    quantity: Decimal | None
    unit: str
    deadline: datetime.date
    deadline_text: str
    planned_funds: Decimal
    invested_funds: Decimal
    unit_name: str  # 责任单位: the department's name when the row belongs to one, else the unit's text
    responsible_person: str
    responsible_phone: str
    status: str
    progress: int
    is_removed: bool
    change_count: int
    baseline_deadline: datetime.date | None
    household_id: int | None
    household_number: str = ""
    household_group: str = ""
    head_name: str | None = None  # the household's active head, when known
    fund_lines: list[tuple[str, Decimal]] = field(default_factory=list)  # (source, amount)
    overdue: bool = False
    editable: bool = False
    on_approved_plan: bool = False
    pending_change_id: int | None = None


@dataclass(slots=True)
class HouseholdGroup:
    """The rows of one household (一户一策) and its heading."""

    pk: int
    number: str
    group: str
    head_name: str | None
    rows: list[PlanRow]


# --- reading ---------------------------------------------------------------------------------------------------------


def plan_rows(plan, today: datetime.date, can_edit: bool) -> list[PlanRow]:
    """The plan's rows, village rows first, then by household number, deadline and id: four queries whatever the
    rows (the rows with household and department, their fund lines, the heads, the pending change requests)."""
    values = list(
        Task.objects.filter(plan=plan)
        .order_by(F("household__number").asc(nulls_first=True), "deadline", "id")
        .values(*ROW_FIELDS)
    )
    ids = [v["id"] for v in values]
    lines: dict[int, list] = {}
    household_ids = sorted({v["household_id"] for v in values if v["household_id"]})
    heads: dict[int, str] = {}
    pending: dict[int, int] = {}
    if ids:
        fund_lines = FundLine.objects.filter(task__plan=plan).order_by("task", "source")
        for task_id, source, amount in fund_lines.values_list("task_id", "source", "amount"):
            lines.setdefault(task_id, []).append((source, amount))
        requests = ChangeRequest.objects.pending().filter(task__plan=plan).order_by("-requested_at", "-id")
        for task_id, request_id in requests.values_list("task_id", "id"):
            pending.setdefault(task_id, request_id)
    if household_ids:
        members = Member.objects.filter(household__in=household_ids, relation=Member.Relation.HEAD, is_active=True)
        for household_id, name in members.order_by("household", "id").values_list("household_id", "name"):
            heads.setdefault(household_id, name)
    approved = plan.is_approved
    rows = []
    for v in values:
        pk = v["id"]
        rows.append(
            _row(
                v,
                today,
                can_edit,
                approved,
                head_name=heads.get(v["household_id"]),
                fund_lines=lines.get(pk, []),
                pending_change_id=pending.get(pk),
            )
        )
    return rows


def row_of(task: Task, today: datetime.date, can_edit: bool) -> PlanRow:
    """One row from a model instance (the htmx answers after an inline edit); its pending change request, if the plan
    is approved, and its fund lines are read here."""
    approved = task.plan.is_approved
    pending = (
        ChangeRequest.objects.pending().filter(task=task).order_by("-requested_at", "-id").values_list("id", flat=True)
    )
    pending_id = pending.first() if approved else None
    department = task.department if task.department_id else None
    values = {name: getattr(task, name, None) for name in ROW_FIELDS if "__" not in name}
    values.update(
        id=task.pk,
        department__name=department.name if department is not None else None,
        household__number=task.household.number if task.household_id else "",
        household__group=task.household.group if task.household_id else "",
    )
    heads = getattr(task.household, "heads", None) if task.household_id else None
    lines = [(line.source, line.amount) for line in task.fund_lines.all()]
    return _row(
        values,
        today,
        can_edit,
        approved,
        head_name=heads[0].name if heads else None,
        fund_lines=lines,
        pending_change_id=pending_id,
    )


def _row(v: dict, today, can_edit, approved, *, head_name, fund_lines, pending_change_id) -> PlanRow:
    removed = v["is_removed"]
    return PlanRow(
        pk=v["id"],
        version=v["version"],
        category=v["category"],
        item=v["item"],
        quantity=v["quantity"],
        unit=v["unit"],
        deadline=v["deadline"],
        deadline_text=v["deadline_text"],
        planned_funds=v["planned_funds"],
        invested_funds=v["invested_funds"],
        unit_name=(v["department__name"] if v["department_id"] else v["responsible_unit"]) or "",
        responsible_person=v["responsible_person"],
        responsible_phone=v["responsible_phone"],
        status=v["status"],
        progress=v["progress"],
        is_removed=removed,
        change_count=v["change_count"],
        baseline_deadline=v["baseline_deadline"],
        household_id=v["household_id"],
        household_number=v["household__number"] or "",
        household_group=v["household__group"] or "",
        head_name=head_name,
        fund_lines=fund_lines,
        overdue=is_overdue_values(status=v["status"], deadline=v["deadline"], is_removed=removed, today=today),
        editable=can_edit and not removed,
        on_approved_plan=approved,
        pending_change_id=pending_change_id,
    )


def household_groups(rows: list[PlanRow]) -> list[HouseholdGroup]:
    """The live household rows grouped by household (they come ordered by household number)."""
    groups = []
    for household_id, members in groupby(rows, key=lambda r: r.household_id):
        members = list(members)
        first = members[0]
        groups.append(
            HouseholdGroup(household_id, first.household_number, first.household_group, first.head_name, members)
        )
    return groups


# --- labels and URLs, resolved once ----------------------------------------------------------------------------------


@cache
def labels(model, field_name: str) -> dict[str, str]:
    """A choices field's labels as plain ``str`` (resolved once per process: the labels never change)."""
    return {str(k): str(v) for k, v in model._meta.get_field(field_name).flatchoices}


@cache
def _pattern(name: str, script_prefix: str) -> tuple[str, str]:
    head, _, tail = reverse(name, args=[_SENTINEL]).partition(str(_SENTINEL))
    return head, tail


def url(name: str, pk) -> str:
    """``reverse(name, args=[pk])`` for a URL with one integer argument, the pattern resolved once per name."""
    head, tail = _pattern(name, get_script_prefix())
    return f"{head}{pk}{tail}"


# The row's links; the script prefix is read once per table (it is a thread-local: slow to read per link).
ROW_URLS = (
    "tasks:task_detail",
    "tasks:task_history",
    "tasks:task_progress",
    "tasks:task_edit",
    "tasks:task_inline",
    "tasks:change_request",
    "tasks:change_request_create",
    "tasks:task_create",
    "households:detail",
)


class Links:
    __slots__ = ("patterns",)

    def __init__(self):
        prefix = get_script_prefix()
        self.patterns = {name: _pattern(name, prefix) for name in ROW_URLS}

    def __call__(self, name: str, pk) -> str:
        head, tail = self.patterns[name]
        return f"{head}{pk}{tail}"


@cache
def _status_order() -> dict[str, int]:
    return {str(value): index for index, value in enumerate(Task.Status.values)}


def qty(value) -> str:
    """A quantity as the plan tables show it: thousands separators, no trailing zeros (3, 850, 1,200, 2.5); "–"
    when there is none. Money has its own format (``wan``: always two decimals)."""
    if value is None or value == "":
        return "–"
    try:
        number = Decimal(value)
    except (ArithmeticError, TypeError, ValueError):
        return "–"
    text = f"{number:,.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


# --- HTML ------------------------------------------------------------------------------------------------------------


def _sort(value) -> str:
    return "" if value is None else escape(str(value))


def _cell(css: str, content: str, testid: str = "", sort: str | None = None) -> str:
    attrs = f' class="{css}"' if css else ""
    if testid:
        attrs += f' data-testid="{testid}"'
    if sort is not None:
        attrs += f' data-sort-value="{sort}"'
    return f"<td{attrs}>{content}</td>"


def row_html(row: PlanRow, url=None) -> str:
    """One read-only row of the plan's table. Every value from the database is escaped here."""
    url = url or Links()
    pk = row.pk
    classes = " ".join(c for c in ("row-overdue" if row.overdue else "", "row-removed" if row.is_removed else "") if c)
    item_name = escape(row.item)
    item = f'<a href="{url("tasks:task_detail", pk)}" data-testid="task-item">{item_name}</a>'
    if row.is_removed:
        item += ' <span class="badge text-bg-secondary">已撤销</span>'
    if row.change_count:
        item += (
            ' <span class="badge text-bg-light border" data-testid="change-count" title="变更次数">'
            f"已变更 {row.change_count} 次</span>"
        )
    if row.household_id:
        # The household of a 一户一策 row, shown only when tables.js sorts the table flat (group headings hidden).
        head = f" 户主 {row.head_name}" if row.head_name else ""
        item += (
            '<div class="small text-muted tbl-group-label">'
            f"一户一策：{escape(row.household_number)}{escape(head)}</div>"
        )
    quantity = f"{escape(qty(row.quantity))} {escape(row.unit)}" if row.quantity is not None else "–"
    deadline_iso = row.deadline.isoformat()
    deadline = deadline_iso
    if row.overdue:
        deadline += ' <span class="badge badge-overdue" data-testid="overdue-badge">逾期</span>'
    if row.deadline_text:
        deadline += f'<div class="small text-muted">{escape(row.deadline_text)}</div>'
    if row.baseline_deadline is not None and row.baseline_deadline != row.deadline:  # Task.deadline_moved
        deadline += (
            '<div class="small text-muted" data-testid="baseline-deadline">'
            f"原定 {row.baseline_deadline.isoformat()}</div>"
        )
    sources = labels(FundLine, "source")
    lines = (
        "".join(
            f'<div>{escape(sources.get(source, source))} <span class="text-nowrap">{money(amount)}</span></div>'
            for source, amount in row.fund_lines
        )
        or "–"
    )
    phone = ""
    if row.responsible_phone:
        number = escape(row.responsible_phone)
        phone = f'<div class="small"><a href="tel:{number}">{number}</a></div>'
    actions = ""
    if row.pending_change_id is not None:
        actions = (
            f'<a href="{url("tasks:change_request", row.pending_change_id)}" '
            'class="badge text-bg-warning text-decoration-none" data-testid="change-pending">变更审批中</a> '
        )
    if row.editable and row.on_approved_plan:
        # An approved plan: the plan fields change only through a change request (tasks.changes).
        if row.pending_change_id is None:
            actions += (
                f'<a href="{url("tasks:change_request_create", pk)}" class="btn btn-sm btn-outline-primary" '
                'data-testid="request-change">申请变更</a> '
            )
        actions += (
            f'<a href="{url("tasks:task_progress", pk)}" class="btn btn-sm btn-outline-success" '
            'data-testid="progress-link">进度</a> '
        )
    elif row.editable:
        actions = (
            f'<a href="{url("tasks:task_edit", pk)}" class="btn btn-sm btn-outline-primary" '
            f'hx-get="{url("tasks:task_inline", pk)}" hx-target="closest tr" hx-swap="outerHTML" '
            'data-testid="inline-edit">编辑</a> '
            f'<a href="{url("tasks:task_progress", pk)}" class="btn btn-sm btn-outline-success" '
            'data-testid="progress-link">进度</a> '
        )
    history = url("tasks:task_history", pk)
    actions += f'<a href="{history}" class="btn btn-sm btn-link px-1" data-testid="history-link">历史</a>'
    status_sort = _status_order().get(row.status, "")
    cells = (
        _cell("d-none d-md-table-cell", escape(labels(Task, "category").get(row.category, row.category))),
        _cell("item", item, sort=item_name),
        _cell("num", quantity, "quantity", sort=_sort(row.quantity)),
        _cell("", deadline, "deadline", sort=deadline_iso),
        _cell("num", money(row.planned_funds), "planned-funds", sort=_sort(row.planned_funds)),
        _cell("small fund-lines d-none d-md-table-cell", lines),
        _cell("num", money(row.invested_funds), "invested-funds", sort=_sort(row.invested_funds)),
        _cell("small unit d-none d-md-table-cell", escape(row.unit_name or "–"), "responsible-unit"),
        _cell("d-none d-md-table-cell", f"{escape(row.responsible_person or '–')}{phone}"),
        _cell("", escape(labels(Task, "status").get(row.status, row.status)), "status", sort=str(status_sort)),
        _cell("num", f"{row.progress}%", "progress", sort=str(row.progress)),
        _cell("actions", actions),
    )
    return (
        f'<tr id="task-{pk}" data-testid="task-row" data-task-id="{pk}" data-version="{row.version}" '
        f'class="{classes}">{"".join(cells)}</tr>'
    )


def rows_html(rows, url=None) -> str:
    url = url or Links()
    return "\n".join(row_html(row, url) for row in rows)


def household_group_html(group: HouseholdGroup, *, plan_id: int, can_edit: bool, url=None) -> str:
    """One household's ``<tbody>``: its heading (number, head, group, 为本户新增任务) and its rows."""
    url = url or Links()
    heading = f'一户一策：<a href="{url("households:detail", group.pk)}">{escape(group.number)}</a>'
    if group.head_name:
        heading += f" 户主 {escape(group.head_name)}"
    if group.group:
        heading += f" （{escape(group.group)}）"
    if can_edit:
        heading += (
            f' <a class="ms-2 small fw-normal" href="{url("tasks:task_create", plan_id)}?household={group.pk}" '
            'data-testid="new-household-task">为本户新增任务</a>'
        )
    return (
        f'<tbody data-testid="household-group" data-household-id="{group.pk}">\n'
        f'<tr class="table-group" data-table-group><th colspan="12">{heading}</th></tr>\n'
        f"{rows_html(group.rows, url)}\n</tbody>"
    )
