"""Household pages: the registry list (建档立卡户) and a household's page (一户一策).

The household page shows the household's plan rows, so this module reads ``tasks`` models: pages are
surfaces on top of every app (see villages/views.py).
"""

from django.contrib.auth.decorators import login_required
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from bazhou import clock
from bazhou.access import get_visible_or_404
from households.forms import HouseholdFilterForm, IdNumberSearchForm
from households.models import Household, HouseholdHelper, HouseholdIncome, Member, PovertyLine
from households.readiness import CRITERIA, age_on, household_readiness, plan_year, readiness_for
from tasks.models import Task
from villages.views import labels, page_of, querystring_without_page, render_list


def head(field: str) -> Subquery:
    """A field of the household's active head (户主), as a correlated subquery."""
    heads = Member.objects.filter(household=OuterRef("pk"), is_active=True, relation=Member.Relation.HEAD)
    return Subquery(heads.order_by("id").values(field)[:1])


def active_member_count(outer: str = "pk"):
    """The number of active members of the household ``outer`` names (a correlated subquery; 0 when none)."""
    members = Member.objects.filter(household=OuterRef(outer), is_active=True).order_by().values("household")
    return Coalesce(Subquery(members.annotate(n=Count("pk")).values("n")[:1], output_field=IntegerField()), 0)


@login_required
@require_http_methods(["GET", "POST"])
def household_list(request):
    """The registry filtered by the GET parameters; a POST is the ID-number search, so that the number is in
    no URL, no browser history and no access log."""
    year = plan_year()
    households = Household.objects.visible_to(request.user)
    id_form = IdNumberSearchForm(request.POST if request.method == "POST" else None)
    searched_id = None
    if request.method == "POST":
        form = HouseholdFilterForm({}, user=request.user)
        if id_form.is_valid():
            households, searched_id = id_form.filter(households), id_form.cleaned_data["id_number"]
            id_form = IdNumberSearchForm()  # the box is emptied: the number shows only masked, in the note
        else:
            households = households.none()
    else:
        form = HouseholdFilterForm(request.GET, user=request.user)
        households = form.filter(households)
    households = households.select_related("village__township").annotate(
        head_name=head("name"), head_id_number=head("id_number"), member_count=active_member_count()
    )
    page_obj = page_of(request, households)
    readiness = readiness_for(list(page_obj), year)
    for household in page_obj:
        household.readiness = readiness[household.pk]
    context = {
        "form": form,
        "id_form": id_form,
        "searched_id": searched_id,
        "page_obj": page_obj,
        "querystring": querystring_without_page(request),
        "year": year,
        "labels": labels(Household),
    }
    return render_list(request, "households/list.html", "households/_list.html", context)


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
        helper.current = helper.start_date <= today and (helper.end_date is None or helper.end_date >= today)
    context = {
        "household": household,
        "today": today,
        "year": year,
        "members": members,
        "active_count": active_count,
        "incomes": incomes,
        "helpers": helpers,
        "tasks": tasks,
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
    }
    return render(request, "households/detail.html", context)
