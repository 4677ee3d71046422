"""The duplicates report (避免重复): rows of a year planned more than once for one village or one household, in the
user's area, grouped.

What counts as the same item is ``tasks.models.duplicate_groups`` (category and ``item_key``); the rows come
through ``Task.objects.visible_to``, so nothing of another area shows, and the page takes a fixed number of
queries however many groups there are (the years, the rows).
"""

from django import forms
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from bazhou.core import clock
from tasks.models import Category, Plan, Task

YEAR_RANGE = "年度应为 2000–2100 之间的整数，如 2017。"


class DuplicatesForm(forms.Form):
    year = forms.IntegerField(
        label="计划年度",
        required=False,
        min_value=2000,
        max_value=2100,
        error_messages={"invalid": YEAR_RANGE, "min_value": YEAR_RANGE, "max_value": YEAR_RANGE},
    )


@login_required
@require_GET
def duplicates(request):
    years = list(Plan.objects.visible_to(request.user).order_by("-year").values_list("year", flat=True).distinct())
    today_year = clock.today().year
    default = today_year if today_year in years or not years else years[0]
    form = DuplicatesForm(request.GET or None)
    year = default
    if form.is_bound and form.is_valid() and form.cleaned_data["year"]:
        year = form.cleaned_data["year"]
    groups = Task.objects.visible_to(request.user).duplicate_groups(year)
    labels = dict(Category.choices)
    statuses = dict(Task.Status.choices)
    shown = [
        {
            "first": group[0],
            "category": labels.get(group[0]["category"], group[0]["category"]),
            "rows": [{**row, "status_label": statuses.get(row["status"], row["status"])} for row in group],
        }
        for group in groups
    ]
    return render(
        request,
        "tasks/duplicates.html",
        {
            "form": form,
            "year": year,
            "years": years if year in years else sorted({*years, year}, reverse=True),
            "groups": shown,
            "row_count": sum(len(group) for group in groups),
        },
    )
