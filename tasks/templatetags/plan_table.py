"""Fast pieces for the plan table, which renders hundreds of rows: choice labels, row URLs, the quantity format.

Django's ``get_FOO_display`` rebuilds the choices mapping on every call and ``{% url %}`` resolves the
pattern every time; on a 200-row plan those two were a third of the page's time.
"""

from decimal import Decimal, InvalidOperation
from functools import cache

from django import template
from django.urls import get_script_prefix, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from bazhou.core.templatetags.bazhou import wan

register = template.Library()

_SENTINEL = 987654321


@cache
def _labels(model, field: str) -> dict:
    return {str(k): str(v) for k, v in model._meta.get_field(field).flatchoices}


@register.filter
def label(obj, field: str) -> str:
    """The display label of ``obj.<field>`` (a choices field): ``{{ task|label:"status" }}``."""
    value = getattr(obj, field)
    return _labels(type(obj), field).get(str(value), value)


@cache
def _pattern(name: str, script_prefix: str) -> str:
    return reverse(name, args=[_SENTINEL])


@register.simple_tag
def row_url(name: str, pk) -> str:
    """``{% url name pk %}`` for a URL with one integer argument, resolved once per name."""
    return _pattern(name, get_script_prefix()).replace(str(_SENTINEL), str(pk))


@register.filter
def qty(value) -> str:
    """A quantity as the plan tables show it: thousands separators, no trailing zeros (3, 850, 1,200, 2.5); "–"
    when there is none. Money has its own format (``wan``: always two decimals)."""
    if value is None or value == "":
        return "–"
    try:
        number = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        return "–"
    text = f"{number:,.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _sort_key(value) -> str:
    """A cell's ``data-sort-value`` for static/js/tables.js: the raw number, "" when there is none."""
    return "" if value is None else str(value)


def _cell(css: str, content, testid: str = "", sort=None) -> str:
    attrs = f' class="{css}"' if css else ""
    if testid:
        attrs += f' data-testid="{testid}"'
    if sort is not None:
        attrs += format_html(' data-sort-value="{}"', sort)
    return format_html("<td{}>{}</td>", mark_safe(attrs), content)  # attrs are our own literals or escaped


@cache
def _status_order() -> dict:
    from tasks.models import Task

    return {str(value): index for index, value in enumerate(Task.Status.values)}


@register.filter
def unit_of(task) -> str:
    """The row's responsible unit (责任单位): the department's name when the row belongs to one, else the text."""
    department = task.department if task.department_id else None
    return department.name if department is not None else task.responsible_unit


@register.simple_tag
def task_row(task) -> str:
    """One read-only row of the plan's table, built in Python: the page renders hundreds of them.

    The markup (classes, ``data-testid``s) is the contract the pages' tests and the browser tests rely on;
    ``tasks/_task_row.html`` wraps it for the htmx responses.
    """
    classes = " ".join(
        c for c in ("row-overdue" if task.overdue else "", "row-removed" if task.is_removed else "") if c
    )
    removed = mark_safe(' <span class="badge text-bg-secondary">已撤销</span>') if task.is_removed else ""
    changed = (
        format_html(
            ' <span class="badge text-bg-light border" data-testid="change-count" title="变更次数">已变更 {} 次</span>',
            task.change_count,
        )
        if task.change_count
        else ""
    )
    # The household of a 一户一策 row, shown only when tables.js sorts the table flat (the group headings hidden).
    group = ""
    if task.household_id:
        heads = getattr(task.household, "heads", None)
        group = format_html(
            '<div class="small text-muted tbl-group-label">一户一策：{}{}</div>',
            task.household.number,
            f" 户主 {heads[0].name}" if heads else "",
        )
    item = format_html(
        '<a href="{}" data-testid="task-item">{}</a>{}{}{}',
        row_url("tasks:task_detail", task.pk),
        task.item,
        removed,
        changed,
        group,
    )
    quantity = format_html("{} {}", qty(task.quantity), task.unit) if task.quantity is not None else "–"
    overdue = (
        mark_safe(' <span class="badge badge-overdue" data-testid="overdue-badge">逾期</span>') if task.overdue else ""
    )
    text = format_html('<div class="small text-muted">{}</div>', task.deadline_text) if task.deadline_text else ""
    baseline = (
        format_html(
            '<div class="small text-muted" data-testid="baseline-deadline">原定 {}</div>', task.baseline_deadline
        )
        if task.deadline_moved
        else ""
    )
    deadline = format_html("{}{}{}{}", task.deadline.isoformat(), overdue, text, baseline)
    lines = (
        format_html_join(
            "",
            '<div>{} <span class="text-nowrap">{}</span></div>',
            ((label(line, "source"), wan(line.amount)) for line in task.fund_lines.all()),
        )
        or "–"
    )
    phone = (
        format_html('<div class="small"><a href="tel:{0}">{0}</a></div>', task.responsible_phone)
        if task.responsible_phone
        else ""
    )
    actions = ""
    pending = getattr(task, "pending_change", None)
    if pending is not None:
        actions = format_html(
            '<a href="{}" class="badge text-bg-warning text-decoration-none" data-testid="change-pending">'
            "变更审批中</a> ",
            row_url("tasks:change_request", pending.pk),
        )
    if task.editable and getattr(task, "on_approved_plan", False):
        # An approved plan: the plan fields change only through a change request (tasks.changes).
        request_link = (
            format_html(
                '<a href="{}" class="btn btn-sm btn-outline-primary" data-testid="request-change">申请变更</a> ',
                row_url("tasks:change_request_create", task.pk),
            )
            if pending is None
            else ""
        )
        actions = format_html(
            '{}{}<a href="{}" class="btn btn-sm btn-outline-success" data-testid="progress-link">进度</a> ',
            actions,
            request_link,
            row_url("tasks:task_progress", task.pk),
        )
    elif task.editable:
        actions = format_html(
            '<a href="{}" class="btn btn-sm btn-outline-primary" hx-get="{}" hx-target="closest tr" '
            'hx-swap="outerHTML" data-testid="inline-edit">编辑</a> '
            '<a href="{}" class="btn btn-sm btn-outline-success" data-testid="progress-link">进度</a> ',
            row_url("tasks:task_edit", task.pk),
            row_url("tasks:task_inline", task.pk),
            row_url("tasks:task_progress", task.pk),
        )
    actions = format_html(
        '{}<a href="{}" class="btn btn-sm btn-link px-1" data-testid="history-link">历史</a>',
        actions,
        row_url("tasks:task_history", task.pk),
    )
    cells = [
        _cell("d-none d-md-table-cell", label(task, "category")),
        _cell("item", item, sort=task.item),
        _cell("num", quantity, "quantity", sort=_sort_key(task.quantity)),
        _cell("", deadline, "deadline", sort=task.deadline.isoformat()),
        _cell("num", wan(task.planned_funds), "planned-funds", sort=_sort_key(task.planned_funds)),
        _cell("small fund-lines d-none d-md-table-cell", lines),
        _cell("num", wan(task.invested_funds), "invested-funds", sort=_sort_key(task.invested_funds)),
        _cell("small unit d-none d-md-table-cell", unit_of(task) or "–", "responsible-unit"),
        _cell("d-none d-md-table-cell", format_html("{}{}", task.responsible_person or "–", phone)),
        _cell("", label(task, "status"), "status", sort=_status_order().get(str(task.status), "")),
        _cell("num", f"{task.progress}%", "progress", sort=task.progress),
        _cell("actions", actions),
    ]
    return format_html(
        '<tr id="task-{0}" data-testid="task-row" data-task-id="{0}" data-version="{1}" class="{2}">{3}</tr>',
        task.pk,
        task.version,
        classes,
        mark_safe("".join(cells)),  # each cell is escaped above
    )
