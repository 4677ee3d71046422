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
    """The district's goals, and a township's or a village's own (the dashboard and landing page of that area show
    them); manual goals say who fills in their figure (填报单位)."""

    form = AnnualGoalForm
    fields = (
        "district",
        "township",
        "village",
        "year",
        "name",
        "target",
        "unit",
        "metric",
        "task_category",
        "is_ceiling",
        "manual_actual",
        "reported_by",
        "evidence",
        "order",
    )
    list_display = (
        "name",
        "year",
        "area_label",
        "metric",
        "target",
        "unit",
        "manual_actual",
        "reported_by",
        "order",
    )
    list_display_links = ("name",)
    list_filter = ("year", "metric", "district", "township")
    list_select_related = ("district", "township", "village__township")
    search_fields = ("name", "village__name", "township__name")
    autocomplete_fields = ("township", "village")
    ordering = ("district", "-year", "township", "village", "order")

    @admin.display(description="区域")
    def area_label(self, goal):
        if goal.village_id:
            return f"{goal.village.township.name} {goal.village.name}"
        return goal.township.name if goal.township_id else f"{goal.district.name}（全区）"
