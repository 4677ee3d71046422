"""Figures about the plan rows of many villages at once, as annotations for a Village queryset."""

from decimal import Decimal

from django.db.models import Count, DecimalField, IntegerField, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce

from tasks.models import Task


def plan_figures(today, year=None) -> dict:
    """Annotations counting each village's live plan rows (of ``year``, or all years): total, done, overdue, funds.

    Each is a correlated subquery over the village's own tasks, so no join multiplies another (households,
    other plans) and only the villages on the page are counted.
    """
    rows = Task.objects.live().filter(plan__village=OuterRef("pk"))
    if year:
        rows = rows.filter(plan__year=year)
    rows = rows.order_by().values("plan__village")

    def per_village(aggregate, output_field, zero):
        return Coalesce(Subquery(rows.annotate(v=aggregate).values("v")[:1], output_field=output_field), zero)

    done = Q(status__in=Task.DONE_STATUSES)
    money = DecimalField(max_digits=16, decimal_places=4)
    return {
        "row_count": per_village(Count("pk"), IntegerField(), 0),
        "done_count": per_village(Count("pk", filter=done), IntegerField(), 0),
        "overdue_count": per_village(Count("pk", filter=~done & Q(deadline__lt=today)), IntegerField(), 0),
        "planned_total": per_village(Sum("planned_funds"), money, Decimal(0)),
    }
