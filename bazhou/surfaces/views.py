"""The home page: the dashboard (领导驾驶舱) of the user's area, with drill-down and a print view."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, render

from bazhou.core import clock
from bazhou.surfaces.dashboard import Scope, dashboard
from villages.models import District, Township, Village


def dashboard_scope(request) -> Scope:
    """The area to show: the user's own (district, township or village), or a township or village inside it
    named by ``?township=<code>`` or ``?village=<id>``; anything outside it is a 404."""
    user = request.user
    village_id = request.GET.get("village")
    township_code = request.GET.get("township")
    if village_id:
        if not village_id.isdigit():
            raise Http404
        village = get_object_or_404(
            Village.objects.visible_to(user).select_related("township__district"), pk=village_id
        )
        return Scope(district=village.township.district, township=village.township, village=village)
    if user.village_id:
        if township_code:
            raise Http404  # A village cadre sees their village, not the township's figures.
        village = Village.objects.select_related("township__district").get(pk=user.village_id)
        return Scope(district=village.township.district, township=village.township, village=village)
    if township_code:
        township = get_object_or_404(Township.objects.visible_to(user).select_related("district"), pk=township_code)
        return Scope(district=township.district, township=township)
    if user.township_id:
        township = Township.objects.select_related("district").get(pk=user.township_id)
        return Scope(district=township.district, township=township)
    district = District.objects.filter(pk=user.district_id).first() if user.district_id else District.objects.first()
    if district is None:
        raise Http404
    return Scope(district=district)


def up_url(user, scope: Scope) -> str | None:
    """The link one level up from a drill-down, or None at the top of what the user may see."""
    own = "village" if user.village_id else "township" if user.township_id else "district"
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
