"""Admin pages that read several apps: the annual goals (a goal counts finished plan rows of a category).

Goals are maintained here (no page of their own), under the change rules of ``bazhou.core.admin`` (a 修改原因 on
the change page, no lost update, no delete); there is no editing in the list, which would skip the reason.
"""

from django import forms
from django.contrib import admin

from bazhou.core.admin import HistoryAdmin
from bazhou.core.models import AnnualGoal
from tasks.models import Category


class AnnualGoalForm(forms.ModelForm):
    task_category = forms.ChoiceField(
        label="任务类别",
        choices=[("", "---------"), *Category.choices],
        required=False,
        help_text="统计口径为“已完成任务数量合计”时，按此类别和单位合计。",
    )


@admin.register(AnnualGoal)
class AnnualGoalAdmin(HistoryAdmin):
    form = AnnualGoalForm
    list_display = ("name", "year", "district", "metric", "target", "unit", "manual_actual", "order")
    list_display_links = ("name",)
    list_filter = ("year", "metric", "district")
    list_select_related = ("district",)
    search_fields = ("name",)
    ordering = ("district", "-year", "order")
