"""The landing page 我的待办 (``/``, every role: ``bazhou.surfaces.todo``) and the dashboard (领导驾驶舱,
``/dashboard/``) of the user's area, with drill-down and a print view."""

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

from bazhou.core import access, clock
from bazhou.core.pages import chosen_year, id_param, page_of, querystring_without_page
from bazhou.surfaces import todo, trends
from bazhou.surfaces.dashboard import (
    ROW_STATES,
    Scope,
    dashboard,
    dashboard_page_figures,
    due_soon_days,
    figure_links,
    row_state_q,
    scope_params,
    store_body,
)
from villages.areas import chosen_area
from villages.models import District


def dashboard_scope(request) -> Scope:
    """The area to show: the user's own (district, township or village), or a township or village inside it
    named by ``?township=<code>`` or ``?village=<id>`` (``villages.areas.chosen_area``, as for the exports: a
    village cadre's township is not theirs to pick); anything else is a 404. A 挂包 leader's own area is their charge
    (its townships and villages, and only those to drill into). A department's user has no dashboard (403)."""
    if not access.may_view_dashboard(request.user):
        raise PermissionDenied("行业部门的用户没有驾驶舱：请在“本部门任务”查看和填报本部门负责的任务。")
    asked = request.GET.get("village")
    village_id = id_param(asked)
    if asked and village_id is None:
        raise Http404
    area = chosen_area(request.user, township=request.GET.get("township") or None, village=village_id)
    # A superuser's instance of several districts: the dashboard shows one, the first.
    district = area.district or District.objects.first()
    if district is None:
        raise Http404
    return Scope(district=district, township=area.township, village=area.village, charge=area.charge)


def up_url(user, scope: Scope) -> str | None:
    """The link one level up from a drill-down, or None at the top of what the user may see."""
    own_area = access.area_of(user)
    own = own_area[0] if own_area else "district"
    if scope.level == own:
        return None
    if scope.level == "village" and own == "district":
        # A village a 挂包 leader is charged with outside their townships: back to the charge.
        if scope.charge is not None and not scope.charge.holds_township(scope.township.pk):
            return "?"
        return f"?township={scope.township.pk}"
    return "?"


@login_required
def dashboard_page(request, print_view=False):
    """The dashboard of the user's area (or of a township or village inside it), at ``/dashboard/``.

    The screen's body (every block and the trend) is stored rendered with the figures (dashboard.store_body) and
    served as stored while its figures, the templates and what this view adds for the person are unchanged: the
    page then renders only its frame."""
    scope = dashboard_scope(request)
    today = clock.today()
    year = chosen_year(request, today.year)
    print_view = print_view or request.GET.get("print") == "1"
    person = {
        "print_view": print_view,
        "up_url": up_url(request.user, scope),
        "links": figure_links(request.user, scope, year),
        "scope_query": urlencode(scope_params(scope)),
    }
    if print_view:
        context = {**dashboard(scope, today, year), **person}
        context["trend"] = trends.trend(scope, today, year)  # monthly snapshots: 1 query (docs/snapshots.md)
        return render(request, "dashboard/print.html", context)
    viewer = (person["up_url"], sorted(person["links"].items()), person["scope_query"])
    context, body = dashboard_page_figures(scope, today, year, viewer)
    context.update(person)
    if body.html is None:
        context["trend"] = trends.trend(scope, today, year)
        html = render_to_string("dashboard/_body.html", context, request)
        store_body(body, html)
        body.html = html
    context["body"] = mark_safe(body.html)  # noqa: S308  (rendered by our own templates, escaped there)
    return render(request, "dashboard/index.html", context)


@login_required
def dashboard_print(request):
    return dashboard_page(request, print_view=True)


@login_required
@require_GET
def dashboard_rows(request):
    """The plan rows behind a figure of the dashboard (``/dashboard/rows/?state=overdue&township=…``): the year's live
    rows of the same area in the same state (dashboard.ROW_STATES), so the list counts what the figure says. An
    unknown state, like an area the user may not pick, is a 404."""
    scope = dashboard_scope(request)
    state = request.GET.get("state") or "all"
    if state not in ROW_STATES:
        raise Http404
    today = clock.today()
    year = chosen_year(request, today.year)
    rows = (
        scope.tasks(year)
        .filter(row_state_q(state, today))
        .select_related("plan__village__township", "household")
        .order_by("deadline", "plan__village__township__code", "plan__village__code", "id")
    )
    page_obj = page_of(request, rows)
    for task in page_obj:
        task.overdue = task.is_overdue(today)
    context = {
        "scope": scope,
        "state": state,
        "state_label": ROW_STATES[state][0],
        "due_soon_days": due_soon_days(),
        "year": year,
        "today": today,
        "page_obj": page_obj,
        "querystring": querystring_without_page(request),
        "back_query": urlencode(scope_params(scope)),
        "states": [(key, label) for key, (label, _q) in ROW_STATES.items()],
    }
    return render(request, "dashboard/rows.html", context)


# ---------------------------------------------------------------------------------------------
# 我的待办: the landing page of every role (bazhou.surfaces.todo)
# ---------------------------------------------------------------------------------------------


@login_required
@require_GET
def home(request):
    """我的待办 at ``/``: what is due, overdue or waiting for the user, each item one tap from its action."""
    today = clock.today()
    sections = todo.todo(request.user, today)
    context = {
        "today": today,
        "due_days": todo.due_days(),
        "files_leads": todo.files_leads(request.user),
        # A village's or township's people: their area's own figures at the top (the dashboard's, for that scope).
        "area_figures": todo.area_figures(request.user, today),
        "tiles": [s for s in sections if not s.listed],
        "sections": [s for s in sections if s.listed],
        # The navigation's numbers, from the totals just counted (the context processor's query is not needed).
        "nav_counts": todo.page_nav_counts(sections, request.user),
    }
    return render(request, "todo/index.html", context)


@login_required
@require_GET
def todo_section(request, key):
    """One section of the to-do in full (“全部 N 项”), paged; a section the user does not have is a 404."""
    today = clock.today()
    section = todo.section_of(request.user, key, today)
    if section is None:
        raise Http404("页面不存在")
    page_obj = page_of(request, section.rows)
    context = {
        "today": today,
        "section": section,
        "page_obj": page_obj,
        "items": todo.items_of(section, page_obj, today),
        "querystring": querystring_without_page(request),
    }
    return render(request, "todo/section.html", context)
