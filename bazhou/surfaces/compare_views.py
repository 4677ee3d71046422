"""The comparison page 年度对比 (``/dashboard/compare/?year=&township=&village=``): the year chosen beside the
year before, in the dashboard's area (``bazhou.surfaces.views.dashboard_scope``: same access, same drill-down),
figures from ``bazhou.surfaces.compare`` (a fixed number of queries)."""

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from bazhou.core import clock
from bazhou.core.pages import chosen_year
from bazhou.surfaces.compare import compare
from bazhou.surfaces.dashboard import scope_params
from bazhou.surfaces.views import dashboard_scope


@login_required
@require_GET
def compare_page(request):
    scope = dashboard_scope(request)
    today = clock.today()
    context = compare(scope, today, chosen_year(request, today.year))
    context["scope_query"] = urlencode(scope_params(scope))
    return render(request, "dashboard/compare.html", context)
