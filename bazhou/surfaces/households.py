"""A household's page (一户一策): members, incomes against the poverty line, helpers, exit readiness (一超六有) and
the household's own plan rows. It reads the registry and the plan, so it is a surface (docs/architecture.md);
``bazhou.surfaces.urls`` names it ``households:detail``."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from bazhou.core import clock
from bazhou.core.access import get_visible_or_404
from bazhou.core.pages import labels
from households.decisions import recent_decision_alerts
from households.history import household_timeline
from households.models import Household, HouseholdHelper, HouseholdIncome, Member, PovertyLine
from households.readiness import CRITERIA, age_on, household_readiness, plan_year
from tasks.models import Task


def income_rows(incomes) -> list[tuple[str, list]]:
    """Each income component (元) with its value in each year: one row per component, one column per year."""
    names = labels(HouseholdIncome)
    fields = (*HouseholdIncome.INCOME_FIELDS, "business_expenses")
    return [(names[f], [getattr(i, f) for i in incomes]) for f in fields]


@login_required
def household_detail(request, pk):
    today, year = clock.today(), plan_year()
    household = get_visible_or_404(Household.objects.select_related("village__township"), request.user, pk=pk)
    members = list(household.members.order_by("-is_active", "id"))
    for member in members:
        member.age = age_on(member.birth_date, today)
    active_count = sum(m.is_active for m in members)
    incomes = list(household.incomes.order_by("-year"))
    lines = {line.year: line for line in PovertyLine.objects.filter(year__in={year, *(i.year for i in incomes)})}
    for income in incomes:
        income.per_capita_net = income.per_capita(active_count)
        income.line = lines.get(income.year)
        income.above_line = None
        if income.line is not None and income.per_capita_net is not None:
            income.above_line = income.per_capita_net > income.line.yuan
    tasks = list(Task.objects.visible_to(request.user).live().filter(household=household).select_related("plan"))
    for task in tasks:
        task.overdue = task.is_overdue(today)
    helpers = list(household.helpers.all())
    for helper in helpers:
        helper.current = helper.is_in_post(today)
    context = {
        "household": household,
        "today": today,
        "year": year,
        "members": members,
        "active_count": active_count,
        "incomes": incomes,
        "helpers": helpers,
        "tasks": tasks,
        "decision_alerts": recent_decision_alerts(request.user, household=household),
        "can_edit": Household.objects.editable_by(request.user).filter(pk=household.pk).exists(),
        "readiness": household_readiness(
            household, year, members=members, incomes=incomes, poverty_line=lines.get(year)
        ),
        "labels": {
            "household": labels(Household),
            "member": labels(Member),
            "income": labels(HouseholdIncome),
            "helper": labels(HouseholdHelper),
            "task": labels(Task),
        },
        "income_rows": income_rows(incomes),
        "criteria": CRITERIA,
        "history": household_timeline(request.user, household.pk),
    }
    return render(request, "households/detail.html", context)
