"""Figures about the plan rows of many villages or plans at once, as annotations for a Village or Plan queryset."""

from decimal import Decimal

from django.db.models import Count, DecimalField, IntegerField, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce

from tasks.models import Task, done_q, overdue_q

MONEY = DecimalField(max_digits=16, decimal_places=4)


def _figures(rows, today, *, invested: bool) -> dict:
    """Annotations over ``rows`` (live plan rows correlated with the outer row and grouped by it): the row count,
    done (:func:`tasks.models.done_q`), overdue on ``today`` (:func:`tasks.models.overdue_q`), planned funds and,
    if ``invested``, invested funds. Each is a correlated subquery, so no join multiplies another."""

    def per_row(aggregate, output_field, zero):
        return Coalesce(Subquery(rows.annotate(v=aggregate).values("v")[:1], output_field=output_field), zero)

    figures = {
        "row_count": per_row(Count("pk"), IntegerField(), 0),
        "done_count": per_row(Count("pk", filter=done_q()), IntegerField(), 0),
        "overdue_count": per_row(Count("pk", filter=overdue_q(today)), IntegerField(), 0),
        "planned_total": per_row(Sum("planned_funds"), MONEY, Decimal(0)),
    }
    if invested:
        figures["invested_total"] = per_row(Sum("invested_funds"), MONEY, Decimal(0))
    return figures


def plan_figures(today, year=None) -> dict:
    """Annotations counting each village's live plan rows (of ``year``, or all years): total, done, overdue, funds.

    Each is a correlated subquery over the village's own tasks, so no join multiplies another (households,
    other plans) and only the villages on the page are counted.
    """
    rows = Task.objects.live().filter(plan__village=OuterRef("pk"))
    if year:
        rows = rows.filter(plan__year=year)
    return _figures(rows.order_by().values("plan__village"), today, invested=False)


def per_plan_figures(today) -> dict:
    """Annotations for a Plan queryset: each plan's live rows, done, overdue on ``today``, planned and invested
    funds."""
    rows = Task.objects.live().filter(plan=OuterRef("pk")).order_by().values("plan")
    return _figures(rows, today, invested=True)
