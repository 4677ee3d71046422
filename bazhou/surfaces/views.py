"""The home page: the dashboard (领导驾驶舱) of the user's area, with drill-down and a print view."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render

from bazhou.core import access, clock
from bazhou.surfaces.dashboard import Scope, dashboard
from villages.areas import chosen_area
from villages.models import District


def dashboard_scope(request) -> Scope:
    """The area to show: the user's own (district, township or village), or a township or village inside it
    named by ``?township=<code>`` or ``?village=<id>`` (``villages.areas.chosen_area``, as for the exports: a
    village cadre's township is not theirs to pick); anything else is a 404."""
    village_id = request.GET.get("village")
    if village_id and not village_id.isdigit():
        raise Http404
    area = chosen_area(
        request.user, township=request.GET.get("township") or None, village=int(village_id) if village_id else None
    )
    # A superuser's instance of several districts: the dashboard shows one, the first.
    district = area.district or District.objects.first()
    if district is None:
        raise Http404
    return Scope(district=district, township=area.township, village=area.village)


def up_url(user, scope: Scope) -> str | None:
    """The link one level up from a drill-down, or None at the top of what the user may see."""
    own_area = access.area_of(user)
    own = own_area[0] if own_area else "district"
    if scope.level == own:
        return None
    if scope.level == "village" and own == "district":
        return f"?township={scope.township.pk}"
    return "?"


@login_required
def home(request, print_view=False):
    """The dashboard of the user's area (or of a township or village inside it)."""
    scope = dashboard_scope(request)
    context = dashboard(scope, clock.today())
    context["print_view"] = print_view or request.GET.get("print") == "1"
    context["up_url"] = up_url(request.user, scope)
    template = "dashboard/print.html" if context["print_view"] else "dashboard/index.html"
    return render(request, template, context)


@login_required
def home_print(request):
    return home(request, print_view=True)
