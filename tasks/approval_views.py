"""待批准的施工图: the district office's list of draft plans of their district that have rows and wait for approval,
with each plan's rows and funds, one tap from the plan's page where 批准施工图 is.

Which plans: those the user may change (``Plan.objects.editable_by``: their district) for someone who approves plans
(``access.may_approve_plans``); anyone else gets a 404, as for the other pages only some roles use. The figures are
``tasks.figures.per_plan_figures`` (live rows, done, overdue, planned funds), the ones the plan pages show.
"""

from __future__ import annotations

import datetime

from django.contrib.auth.decorators import login_required
from django.db.models import Exists, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, NullIf
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from bazhou.core import access, clock
from bazhou.core.pages import page_of, querystring_without_page
from tasks.figures import per_plan_figures
from tasks.models import Plan, Task


def awaiting_approval(user, today: datetime.date) -> QuerySet:
    """The draft plans ``user`` may approve that have live rows (an empty plan cannot be approved:
    ``tasks.services.plan_approve``), with their figures, oldest year and township first. None for anyone who does
    not approve plans."""
    if not access.may_approve_plans(user):
        return Plan.objects.none()
    live_rows = Task.objects.live().filter(plan=OuterRef("pk"))
    return (
        Plan.objects.editable_by(user)
        .filter(state=Plan.State.DRAFT)
        .filter(Exists(live_rows))
        .select_related("village__township")
        .annotate(**per_plan_figures(today), **last_change())
        .order_by("year", "village__township__code", "village__code", "id")
    )


def last_change() -> dict:
    """Annotations for a Plan queryset: when its rows were last changed (``last_change_at``) and by whom
    (``last_change_by``, the person's name or user name): the plan has no "submitted" step, so the list shows
    who prepared it last and when, from the rows' history. Correlated subqueries: no extra query per plan."""
    latest = Task.history.filter(plan_id=OuterRef("pk")).order_by("-history_date", "-history_id")
    who = Coalesce(NullIf("history_user__name", Value("")), "history_user__username")
    return {
        "last_change_at": Subquery(latest.values("history_date")[:1]),
        "last_change_by": Subquery(latest.annotate(who=who).values("who")[:1]),
    }


@login_required
@require_GET
def awaiting_approval_list(request):
    if not access.may_approve_plans(request.user):
        raise Http404("只有区级管理员可以查看待批准的施工图。")
    today = clock.today()
    page_obj = page_of(request, awaiting_approval(request.user, today))
    context = {"page_obj": page_obj, "querystring": querystring_without_page(request), "today": today}
    return render(request, "tasks/awaiting_approval.html", context)
