"""Village pages: the list of villages with their plan figures, and a village's page (一村一案).

Both read the plan (tasks), the registry (households) and supervision findings, so they are surfaces: they sit
on top of every app (docs/architecture.md), and ``bazhou.surfaces.urls`` gives them the ``villages:`` names.
"""

from decimal import Decimal

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Exists, OuterRef, Q
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode

from bazhou.core import clock
from bazhou.core.access import get_visible_or_404
from bazhou.core.pages import id_param, labels, page_of, querystring_without_page, render_list, year_param
from households.decisions import recent_decision_alerts
from households.models import Household
from supervision.models import Finding
from tasks.figures import plan_figures
from tasks.models import Plan, Task, done_q, overdue_q
from villages import exit_criteria
from villages.forms import VillageFilterForm, offer_years
from villages.history import village_timeline
from villages.models import AssistanceAssignment, ExitIndicator, Village


@login_required
def village_list(request):
    today = clock.today()
    form = VillageFilterForm(request.GET, user=request.user)
    # The years offered: the plan years the user sees and this year; none chosen counts every year's rows.
    offer_years(form, Plan.objects.visible_to(request.user).offered_years(today.year), all_label="全部年度")
    villages = Village.objects.visible_to(request.user).select_related("township")
    villages = form.filter(villages).annotate(**plan_figures(today, form.value("year")))
    context = {
        "form": form,
        "page_obj": page_of(request, villages),
        "querystring": querystring_without_page(request),
        **plan_table_link(form),
        "today": today,
        "year": form.value("year"),
        "labels": labels(Village),
    }
    return render_list(request, "villages/list.html", "villages/_list.html", context)


# The village list's filters the one table's export does not take: with one of them set, the list shows fewer
# villages than the export of its area holds, and the button says so.
NOT_EXPORTED = ("status", "is_poor", "planned_exit_year", "exit", "q")


def plan_table_link(form: VillageFilterForm) -> dict:
    """The village list's 导出施工图 link with the list's area and year (``?township=``, ``?village=``, ``?year=``,
    as ``tasks:plan_table_xlsx`` takes them), so that the export is of the villages listed; and whether other
    filters narrow the list further than the export."""
    params = {}
    if "township" in form.fields and (township := form.value("township")):
        params["township"] = township.pk
    if village := id_param(form.data.get("village")):
        params["village"] = village
    if year := form.value("year"):
        params["year"] = year
    return {
        "plan_table_url": reverse("tasks:plan_table_xlsx") + (f"?{urlencode(params)}" if params else ""),
        # The year the export is of (the one table takes one year): the one chosen, else the current year.
        "plan_table_year": year or clock.today().year,
        "plan_table_narrower": any(form.value(name) for name in NOT_EXPORTED),
    }


@login_required
def village_detail(request, pk):
    today = clock.today()
    village = get_visible_or_404(Village.objects.select_related("township"), request.user, pk=pk)
    plans = list(village.plans.select_related("approved_by").order_by("-year"))
    plan = choose_plan(plans, request.GET.get("year"))
    year = plan.year if plan else year_param(request.GET.get("year")) or today.year
    context = {
        "village": village,
        "today": today,
        "plans": plans,
        "plan": plan,
        "year": year,
        "can_edit": Village.objects.editable_by(request.user).filter(pk=village.pk).exists(),
        "labels": {"village": labels(Village), "task": labels(Task), "force": labels(AssistanceAssignment)},
        **plan_tables(plan, today),
        **exit_indicators(village, year),
        **assistance_forces(village, today),
        "household_statuses": household_statuses(request.user, village),
        "findings": open_findings(request.user, village, today),
        "decision_alerts": recent_decision_alerts(request.user, village=village),
        "history": village_timeline(village.pk),
    }
    return render(request, "villages/detail.html", context)


# The parts of the village page, one query (or two) each.


def choose_plan(plans, year):
    """The plan of the ``year`` asked for, else (no year asked, or a bad one) the latest; None if none."""
    year = year_param(year)
    if year is None:
        return plans[0] if plans else None
    return next((p for p in plans if p.year == year), None)


def plan_tables(plan, today) -> dict:
    """The plan's village rows with their totals, and a summary of its household rows."""
    if plan is None:
        return {"tasks": [], "totals": None, "household_rows": None}
    tasks = list(plan.tasks.live().village_rows().order_by("deadline", "id"))
    for task in tasks:
        task.overdue = task.is_overdue(today)
    household_rows = (
        plan.tasks.live()
        .household_rows()
        .aggregate(total=Count("pk"), done=Count("pk", filter=done_q()), overdue=Count("pk", filter=overdue_q(today)))
    )
    totals = {
        "planned": sum((t.planned_funds for t in tasks), Decimal(0)),
        "invested": sum((t.invested_funds for t in tasks), Decimal(0)),
        "done": sum(t.is_done for t in tasks),
        "count": len(tasks),
        "overdue": sum(t.overdue for t in tasks),
        "progress": round(sum(t.progress for t in tasks) / len(tasks)) if tasks else 0,
    }
    return {"tasks": tasks, "totals": totals, "household_rows": household_rows}


def exit_indicators(village, year) -> dict:
    """一低七有 of the year, each indicator judged by villages.exit_criteria (the incidence from the registry, the
    plan rows that deliver an indicator, the collective income, the assessments and overrides), and the incidence's
    figures as the dashboard judges them (4 queries)."""
    judgements = exit_criteria.judge_one(village, year)
    incidence = next((j.figures for j in judgements if j.indicator.source == ExitIndicator.Source.INCIDENCE), None)
    return {"indicators": judgements, "incidence": incidence}


def assistance_forces(village, today) -> dict:
    """五个一: who is assigned today, by role (plus anyone due to start), and who was before (历任).

    One query; "assigned today" is AssistanceAssignment.objects.current(today), asked of each row.
    """
    in_force = AssistanceAssignment.objects.current(today).filter(pk=OuterRef("pk"))
    assignments = village.assignments.annotate(in_force=Exists(in_force))
    current, former = [], []
    for a in assignments.order_by("role", "-start_date", "-id"):
        a.upcoming = not a.in_force and a.start_date > today
        if a.in_force or a.upcoming:
            current.append(a)
        else:
            former.append(a)
    order = list(AssistanceAssignment.Role.values)
    current.sort(key=lambda a: order.index(a.role))
    former.sort(key=lambda a: (order.index(a.role), -a.end_date.toordinal()))
    return {"current_forces": current, "former_forces": former}


def household_statuses(user, village) -> dict:
    """The village's registered households, counted by 脱贫状态."""
    rows = Household.objects.visible_to(user).filter(village=village).values("status").annotate(n=Count("pk"))
    counts = {r["status"]: r["n"] for r in rows.order_by()}
    return {
        "total": sum(counts.values()),
        "by_status": [(value, name, counts.get(value, 0)) for value, name in Household.Status.choices],
    }


def open_findings(user, village, today) -> list:
    """Findings against the village, its households or its plan rows whose rectification is not closed."""
    findings = (
        Finding.objects.visible_to(user)
        .open()
        .filter(Q(village=village) | Q(household__village=village) | Q(task__plan__village=village))
        .select_related("rectification", "household", "task")
        .order_by("-found_on", "-id")
    )
    rows = []
    for finding in findings:
        rectification = getattr(finding, "rectification", None)
        rows.append(
            {
                "finding": finding,
                "rectification": rectification,
                "overdue": rectification is not None and rectification.is_overdue(today),
            }
        )
    return rows
