"""Fast pieces for the plan table, which renders hundreds of rows: choice labels and row URLs.

Django's ``get_FOO_display`` rebuilds the choices mapping on every call and ``{% url %}`` resolves the
pattern every time; on a 200-row plan those two were a third of the page's time.
"""

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


def _cell(css: str, content, testid: str = "") -> str:
    attrs = f' class="{css}"' if css else ""
    if testid:
        attrs += f' data-testid="{testid}"'
    return format_html("<td{}>{}</td>", mark_safe(attrs), content)  # attrs are our own literals


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
    item = format_html(
        '<a href="{}" data-testid="task-item">{}</a>{}{}',
        row_url("tasks:task_detail", task.pk),
        task.item,
        removed,
        changed,
    )
    quantity = format_html("{} {}", wan(task.quantity), task.unit) if task.quantity is not None else "–"
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
            "", "<div>{} {}</div>", ((label(line, "source"), wan(line.amount)) for line in task.fund_lines.all())
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
        _cell("item", item),
        _cell("num", quantity, "quantity"),
        _cell("", deadline, "deadline"),
        _cell("num", wan(task.planned_funds), "planned-funds"),
        _cell("small fund-lines d-none d-md-table-cell", lines),
        _cell("num", wan(task.invested_funds), "invested-funds"),
        _cell("d-none d-md-table-cell", format_html("{}{}", task.responsible_person or "–", phone)),
        _cell("", label(task, "status"), "status"),
        _cell("num", f"{task.progress}%", "progress"),
        _cell("actions", actions),
    ]
    return format_html(
        '<tr id="task-{0}" data-testid="task-row" data-task-id="{0}" data-version="{1}" class="{2}">{3}</tr>',
        task.pk,
        task.version,
        classes,
        mark_safe("".join(cells)),  # each cell is escaped above
    )
