"""Fast pieces for the plan table, which renders hundreds of rows: the rows themselves (built in Python by
``tasks.plan_rows``, one string per table body), choice labels, row URLs and the quantity format.

Django's ``get_FOO_display`` rebuilds the choices mapping on every call, ``{% url %}`` resolves the pattern every
time, and ``format_html`` / ``escape`` wrap every call in a lazy-string check; on a 200-row plan at 10× these were
half of the page's time (issue 19).
"""

from django import template
from django.utils.safestring import mark_safe

from tasks import plan_rows

register = template.Library()


@register.filter
def label(obj, field: str) -> str:
    """The display label of ``obj.<field>`` (a choices field): ``{{ task|label:"status" }}``."""
    value = getattr(obj, field)
    return plan_rows.labels(type(obj), field).get(str(value), value)


@register.simple_tag
def row_url(name: str, pk) -> str:
    """``{% url name pk %}`` for a URL with one integer argument, resolved once per name."""
    return plan_rows.url(name, pk)


@register.filter
def qty(value) -> str:
    """A quantity as the plan tables show it: thousands separators, no trailing zeros (3, 850, 1,200, 2.5); "–"
    when there is none. Money has its own format (``wan``: always two decimals)."""
    return plan_rows.qty(value)


@register.filter
def unit_of(task) -> str:
    """The row's responsible unit (责任单位): the department's name when the row belongs to one, else the text."""
    department = task.department if task.department_id else None
    return department.name if department is not None else task.responsible_unit


@register.simple_tag
def task_row(row: plan_rows.PlanRow) -> str:
    """One read-only row of the plan's table (``tasks/_task_row.html`` wraps it for the htmx responses)."""
    return mark_safe(plan_rows.row_html(row))  # every value is escaped in row_html


@register.simple_tag
def task_rows(rows) -> str:
    """Rows of the plan's table, one after another."""
    return mark_safe(plan_rows.rows_html(rows))  # every value is escaped in row_html


@register.simple_tag
def household_groups(groups, plan, can_edit) -> str:
    """Each household's ``<tbody>`` (一户一策): its heading and its rows."""
    url = plan_rows.Links()
    return mark_safe(  # every value is escaped in household_group_html
        "\n".join(plan_rows.household_group_html(g, plan_id=plan.pk, can_edit=bool(can_edit), url=url) for g in groups)
    )
