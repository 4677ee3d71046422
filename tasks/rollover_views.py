"""The rollover page (结转到 N+1 年): a plan's unfinished rows, ticked, with a required reason (tasks.rollover)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from bazhou.core import access
from bazhou.core.access import get_visible_or_404
from bazhou.core.pages import id_param
from tasks import rollover
from tasks.forms import StyledForm, add_service_errors
from tasks.models import CARRY_REASON_REQUIRED, Plan, Task

BAD_IDS = "所选任务无效，请刷新页面后重新选择。"


class RolloverForm(StyledForm, forms.Form):
    reason = forms.CharField(
        label="结转原因",
        max_length=rollover.REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": CARRY_REASON_REQUIRED, "max_length": rollover.REASON_TOO_LONG},
    )
    deadline = forms.DateField(
        label="新的完成时限（可不填）",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="不填时，各项任务的完成时限为原时限在新年度的同月同日。",
        error_messages={"invalid": "请填写有效的日期。"},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.task_ids: list[int] = []

    def clean(self):
        data = super().clean()
        raw = self.data.getlist("tasks") if hasattr(self.data, "getlist") else []
        ids = [id_param(value) for value in raw]
        if any(value is None for value in ids) or len(ids) > 10000:
            self.add_error(None, BAD_IDS)
        elif not ids:
            self.add_error(None, rollover.NO_ROWS_CHOSEN)
        self.task_ids = [value for value in ids if value is not None]
        return data


def _plan_for_rollover(request, plan_id) -> Plan:
    """The plan, if the user may roll it over: outside their area a 404, a role that may not edit plans a 403."""
    plans = Plan.objects.select_related("village__township")
    plan = get_visible_or_404(plans, request.user, pk=plan_id)
    if not access.may_edit_plans(request.user):
        raise PermissionDenied("您的角色只能查看，不能结转施工图。")
    return get_object_or_404(plans.editable_by(request.user), pk=plan.pk)


@login_required
@require_http_methods(["GET", "POST"])
def plan_rollover(request, plan_id):
    plan = _plan_for_rollover(request, plan_id)
    if request.method == "POST":
        form = RolloverForm(request.POST)
        if form.is_valid():
            try:
                result = rollover.roll_over(
                    user=request.user,
                    plan=plan,
                    reason=form.cleaned_data["reason"],
                    task_ids=form.task_ids,
                    deadline=form.cleaned_data["deadline"],
                )
            except ValidationError as error:
                add_service_errors(form, error, elsewhere=None)
            else:
                messages.success(request, result.message())
                return redirect("tasks:plan", plan_id=(result.target or plan).pk)
    else:
        form = RolloverForm()
    rows = list(
        Task.objects.filter(plan=plan).open().with_carry().select_related("household").order_by("household", "id")
    )
    chosen = set(form.task_ids) if form.is_bound else {task.pk for task in rows}
    for task in rows:
        task.remaining = rollover.remaining_funds(task)
        task.carried = task.carried_live or task.carry_pending
        task.chosen = task.pk in chosen and not task.carried
    target_year = plan.year + 1
    target = Plan.objects.filter(village_id=plan.village_id, year=target_year).first()
    return render(
        request,
        "tasks/rollover.html",
        {
            "plan": plan,
            "form": form,
            "rows": rows,
            "carryable": [task for task in rows if not task.carried],
            "target": target,
            "target_year": target_year,
            "here": f"结转到{target_year}年",
        },
    )
