"""``{% year_select year %}``: the year selector (年度) of a page that shows one plan year (docs/years.md).

It offers the plan years the user can see and the current year (``Plan.objects.visible_to(user).offered_years``,
1 query), marks ``year`` as chosen, and keeps the page's other query parameters (the area, the state …) so that
choosing a year shows the same page for that year; the page number is dropped (another year has other pages).
"""

from django import template

from bazhou.core import clock
from tasks.models import Plan

register = template.Library()

DROPPED = ("year", "page")


def offered_years(user) -> list[int]:
    """The years a selector offers ``user``: the plan years they can see and the current year, newest first."""
    return Plan.objects.visible_to(user).offered_years(clock.today().year)


@register.inclusion_tag("partials/year_select.html", takes_context=True)
def year_select(context, year, testid="year-form"):
    request = context["request"]
    years = offered_years(request.user)
    if year not in years:  # a year asked for by hand that has no plan yet: still shown as chosen
        years = sorted({*years, year}, reverse=True)
    keep = [(name, value) for name, values in request.GET.lists() if name not in DROPPED for value in values]
    return {"years": years, "year": year, "keep": keep, "testid": testid}
