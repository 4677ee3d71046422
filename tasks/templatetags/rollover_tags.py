"""The plan page's rollover panel (结转): the rows carried into this plan, with their origins, reasons and funds
(结转资金), and the rows of this plan carried into a later one (已结转至). One query whatever the rows."""

from decimal import Decimal

from django import template

from tasks.models import Task, live_q

register = template.Library()


def carry_links(plan) -> dict:
    """The live rows carried into ``plan`` (``carried_in``, each with ``carried_from`` and its plan) and the live rows
    of later plans carried from ``plan``'s rows (``carried_out``), and the carried funds (万元): one query."""
    # The two kinds by id, as a UNION: each part reads an index (the plan's rows; rows by carried_from). An OR across
    # the carried_from join instead scanned every plan row of every year (40 ms at 10×, growing with the data).
    carried_in = Task.objects.filter(plan=plan, carried_from__isnull=False).order_by().values("pk")
    carried_out = Task.objects.filter(carried_from__plan=plan).order_by().values("pk")
    rows = list(
        Task.objects.filter(live_q(), pk__in=carried_in.union(carried_out, all=True))
        .select_related("plan", "carried_from__plan")
        .order_by("carried_from__plan__year", "carried_from_id", "id")
    )
    carried_in = [task for task in rows if task.plan_id == plan.pk]
    carried_out = [task for task in rows if task.plan_id != plan.pk]
    return {
        "carried_in": carried_in,
        "carried_out": carried_out,
        "carried_funds": sum((task.planned_funds for task in carried_in), Decimal("0")),
    }


@register.inclusion_tag("tasks/rollover_panel.html")
def carry_panel(plan):
    return {"plan": plan, **carry_links(plan)}
