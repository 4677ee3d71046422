"""The monthly snapshots page (月度快照, ``/supervision/snapshots/``) and the district office's on-demand take.

Everyone who may view the dashboard (``access.may_view_dashboard``) reads the snapshots of their own area (or of a
township or village inside it, picked as on the dashboard: ``villages.areas.chosen_area``), month by month, newest
first, a correction marked 已更正 with its reason. The district office (``access.may_take_snapshots``) also gets the
form to take a month on demand or to correct one with a reason: it starts a background job (``supervision.snapshots
.snapshot_job``) and leads to its progress bar. A 挂包 leader's charge has no snapshot of its own: the page lists
the snapshots of its townships and villages.
"""

from __future__ import annotations

import datetime

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from bazhou.core import access, clock, jobs
from bazhou.core.pages import id_param
from supervision import snapshots
from supervision.models import MonthlySnapshot
from tasks.forms import StyledForm
from villages.areas import chosen_area

NO_DASHBOARD = "行业部门的用户没有驾驶舱和月度快照：请在“本部门任务”查看和填报本部门负责的任务。"
MONTH_FORMAT = "月份应为 YYYY-MM 格式，如 2017-09。"
PAGE_MONTHS = 24
TAKEN = "{month}已有月度快照，不再重新计算；如数字有误，请勾选“更正已有快照”并写明原因。"


class SnapshotTakeForm(StyledForm, forms.Form):
    month = forms.CharField(
        label="月份",
        max_length=7,
        help_text="格式 YYYY-MM，如 2017-09；不能是尚未到来的月份。",
        error_messages={"required": "请填写月份。"},
    )
    correct = forms.BooleanField(label="更正已有快照", required=False)
    reason = forms.CharField(label="更正原因", max_length=300, required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, today: datetime.date, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today

    def clean_month(self):
        text = self.cleaned_data["month"].strip()
        try:
            month = datetime.date.fromisoformat(f"{text}-01")
        except ValueError:
            raise forms.ValidationError(MONTH_FORMAT) from None
        if not 2000 <= month.year <= 2100:
            raise forms.ValidationError(MONTH_FORMAT)
        if month > snapshots.month_of(self.today):
            raise forms.ValidationError(snapshots.FUTURE_MONTH.format(month=snapshots.month_label(month)))
        return month

    def clean(self):
        data = super().clean()
        if data.get("correct") and not (data.get("reason") or "").strip():
            self.add_error("reason", snapshots.REASON_NEEDED)
        return data


def _area(request):
    if not access.may_view_dashboard(request.user):
        raise PermissionDenied(NO_DASHBOARD)
    asked = request.GET.get("village")
    village_id = id_param(asked)
    if asked and village_id is None:
        raise Http404
    return chosen_area(request.user, township=request.GET.get("township") or None, village=village_id)


def _page(request, area, form=None, status=200):
    today = clock.today()
    rows = MonthlySnapshot.objects.visible_to(request.user).select_related("township", "village", "corrects")
    if area.is_charge or area.district is None:
        rows = rows.exclude(township__isnull=True)
    else:
        rows = rows.filter(
            area_key=snapshots.area_key(district=area.district, township=area.township, village=area.village)
        )
    rows = list(
        rows.filter(month__gt=snapshots.months_back(snapshots.month_of(today), PAGE_MONTHS)).order_by(
            "-month", "area_key", "pk"
        )[:2000]
    )
    takes = access.may_take_snapshots(request.user) and not area.is_charge and area.level == "district"
    if takes and form is None:
        form = SnapshotTakeForm(today=today, initial={"month": f"{today:%Y-%m}"})
    context = {
        "area": area,
        "rows": rows,
        "form": form if takes else None,
        "today": today,
        "snapshot_day": snapshots.snapshot_day(),
        "figure_names": snapshots.FIGURES,
    }
    return render(request, "supervision/snapshot_list.html", context, status=status)


@login_required
@require_GET
def snapshot_list(request):
    return _page(request, _area(request))


@login_required
@require_POST
def snapshot_take(request):
    """Start the take (or correction) of a month for the user's district: the district office only (others 403);
    a bad month or a correction without a reason shows the form again with the message, and nothing starts."""
    if not access.may_take_snapshots(request.user):
        raise PermissionDenied(snapshots.NOT_ALLOWED)
    area = chosen_area(request.user)
    if area.district is None:
        raise Http404
    today = clock.today()
    form = SnapshotTakeForm(request.POST, today=today)
    if not form.is_valid():
        return _page(request, area, form)
    data = form.cleaned_data
    month = data["month"]
    exists = MonthlySnapshot.objects.filter(district=area.district, month=month).exists()
    if exists and not data["correct"]:
        form.add_error("month", TAKEN.format(month=snapshots.month_label(month)))
        return _page(request, area, form)
    if data["correct"] and not exists:
        form.add_error("month", snapshots.NOTHING_TO_CORRECT.format(month=snapshots.month_label(month)))
        return _page(request, area, form)
    params = {
        "district": area.district.pk,
        "month": month.isoformat(),
        "correct": bool(data["correct"]),
        "reason": (data.get("reason") or "").strip() if data["correct"] else "",
    }
    what = "更正" if data["correct"] else "生成"
    title = f"{what}{area.district.name}{snapshots.month_label(month)}的月度快照"
    job = jobs.start(request.user, snapshots.SNAPSHOT_JOB, params, title=title, request=request)
    return redirect("jobs:detail", pk=job.pk)
