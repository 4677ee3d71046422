"""The registry list (建档立卡户), and the registry questions its page and the API share (the head, member counts).

A household's own page shows its plan rows too, so it reads ``tasks`` and lives with the surfaces
(``bazhou.surfaces.households``).
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.views.decorators.http import require_http_methods

from bazhou.core import access
from bazhou.core.idnumbers import mask
from bazhou.core.pages import choice_labels, counted_page, id_url, labels, querystring_without_page, render_list
from households import lookups
from households.forms import HouseholdFilterForm, IdNumberSearchForm
from households.models import Household, Member
from households.readiness import plan_year, readiness_for


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
    no URL, no browser history and no access log. The search is offered only to who sees full numbers
    (``access.may_look_up_id_numbers``: anyone else's POST is refused, 403) and counted (``households.lookups``:
    beyond the limit, 429)."""
    year = plan_year()
    visible = households = Household.objects.visible_to(request.user)
    may_look_up = access.may_look_up_id_numbers(request.user)
    id_form = IdNumberSearchForm(request.POST if request.method == "POST" and may_look_up else None)
    searched_id = None
    status = 200
    if request.method == "POST":
        form = HouseholdFilterForm({}, user=request.user)
        households = households.none()
        if not may_look_up:
            # Not offered to them (it would confirm a guessed number behind 511902********1234): refused.
            messages.error(request, access.ID_LOOKUP_REFUSED)
            status = 403
        elif id_form.is_valid():
            if lookups.take(request.user, via="page"):
                households, searched_id = id_form.filter(visible), id_form.cleaned_data["id_number"]
                id_form = IdNumberSearchForm()  # the box is emptied: the number shows only masked, in the note
            else:
                id_form.add_error("id_number", access.ID_LOOKUP_TOO_MANY)
                status = 429
    else:
        form = HouseholdFilterForm(request.GET, user=request.user)
        households = form.filter(households)
    households = households.select_related("village__township").annotate(
        head_name=head("name"), head_id_number=head("id_number"), member_count=active_member_count()
    )
    # The registry grows with the district (220,000 households at 10×): no full COUNT(*) per page; an exact count
    # up to pages.EXACT_COUNT_UP_TO, the planner's estimate beyond ("约 N 户"), exact on demand (?count=exact).
    # The planner estimates column filters well, not a search or the readiness subqueries: there, "超过 N 户".
    simple = not (request.method == "POST" or form.value("q") or form.value("readiness"))
    page_obj = counted_page(request, households, estimate=simple)
    readiness = readiness_for(list(page_obj), year)
    # Labels, links and the head's ID number (masked for who may not see it) once per list, not per row and cell.
    attributes, causes, statuses = (choice_labels(Household, f) for f in ("attribute", "main_cause", "status"))
    full_numbers = access.sees_id_numbers(request.user)
    for household in page_obj:
        household.readiness = readiness[household.pk]
        household.attribute_label = attributes.get(household.attribute, household.attribute)
        household.main_cause_label = causes.get(household.main_cause, household.main_cause)
        household.status_label = statuses.get(household.status, household.status)
        household.url = id_url("households:detail", household.pk)
        household.village_url = id_url("villages:detail", household.village_id)
        number = household.head_id_number
        household.head_id_shown = (number if full_numbers else mask(number)) if number else ""
    context = {
        "form": form,
        "id_form": id_form if may_look_up else None,
        "searched_id": searched_id,
        "page_obj": page_obj,
        "querystring": querystring_without_page(request),
        "exact_querystring": _with_exact_count(request),
        "year": year,
        "labels": labels(Household),
    }
    response = render_list(request, "households/list.html", "households/_list.html", context)
    response.status_code = status
    return response


def _with_exact_count(request) -> str:
    """The list's query string asking for the exact count (its first page)."""
    params = request.GET.copy()
    params.pop("page", None)
    params["count"] = "exact"
    return params.urlencode()
