"""本部门任务: the plan rows of one sector department (行业部门) across the district, for its users to keep up to date.

A department's user sees their own department's rows (``Task.objects.visible_to``: nothing else of the plan) and
reaches each row's progress form in one tap. Anyone else who reads plan rows (district admins, supervisors,
leaders …) picks a department of their district with ``?department=<id>`` and sees its rows *of their own scope*
(``visible_to`` again); without one they get the departments with their row counts.

Filters: township, village, status, and 逾期 (at least N days) / 临期 (due within N days), through the Q factories
of ``tasks.models`` (``overdue_q``, ``overdue_by_at_least_q``, ``due_within_q``), which also mark each row's
countdown. A fixed number of queries whatever the number of rows (``tests/test_department_access.py`` pins it).
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db.models import BooleanField, Count, ExpressionWrapper
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from bazhou.core import access, clock
from bazhou.core.pages import id_param, page_of, querystring_without_page, render_list
from tasks.models import Task, days_overdue, due_within_q, live_q, overdue_by_at_least_q, overdue_q
from villages.areas import chosen_area
from villages.forms import ALL, FilterForm, choice_filter
from villages.models import Department, Township, Village

DUE_CHOICES = [ALL, ("overdue", "已逾期"), ("due", "临期（N 天内到期）")]
DAYS_ERRORS = {"min_value": "天数应在 1–3650 之间。", "max_value": "天数应在 1–3650 之间。", "invalid": "请输入天数。"}


class VillageChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.township.name} {obj.name}"


class DepartmentFilterForm(FilterForm):
    """Which of the department's rows: township, village, status, 逾期 / 临期 N 天."""

    township = forms.ModelChoiceField(
        label="乡镇", queryset=Township.objects.none(), required=False, empty_label="全部"
    )
    village = VillageChoiceField(label="村", queryset=Village.objects.none(), required=False, empty_label="全部")
    status = choice_filter(Task, "status")
    due = forms.ChoiceField(label="逾期/临期", choices=DUE_CHOICES, required=False)
    days = forms.IntegerField(
        label="天数 N",
        required=False,
        min_value=1,
        max_value=3650,
        error_messages=DAYS_ERRORS,
        help_text="已逾期：逾期至少 N 天（不填为全部逾期）；临期：N 天内到期。",
    )

    def __init__(self, data, *, user, district_id, department, **kwargs):
        super().__init__(data, user=user, **kwargs)
        # The district's townships and villages are reference data: names, not rows (the rows come from visible_to).
        townships = Township.objects.filter(district=district_id) if district_id else Township.objects.all()
        self.fields["township"].queryset = townships.order_by("code")
        self.fields["days"].widget.attrs["placeholder"] = str(settings.BAZHOU_DUE_SOON_DAYS)
        self.fields["days"].widget.attrs["inputmode"] = "numeric"
        # Villages: those of the chosen township, or else those where the department has rows (a short list).
        township = (self.data.get("township") or "").strip()  # not cleaned yet: the village choices depend on it
        villages = Village.objects.select_related("township").order_by("township__code", "code")
        if township:
            villages = villages.filter(township__code=township[:9], township__in=townships)
        else:
            villages = villages.filter(plans__tasks__department=department).distinct()
        self.fields["village"].queryset = villages

    @property
    def days_value(self) -> int | None:
        return self.value("days")

    def filter(self, queryset, today):
        if township := self.value("township"):
            queryset = queryset.filter(plan__village__township=township)
        if village := self.value("village"):
            queryset = queryset.filter(plan__village=village)
        if status := self.value("status"):
            queryset = queryset.filter(status=status)
        due, days = self.value("due"), self.days_value
        if due == "overdue":
            queryset = queryset.filter(overdue_q(today))
            if days:
                queryset = queryset.filter(overdue_by_at_least_q(today, days))
        elif due == "due":
            queryset = queryset.filter(due_within_q(today, days or settings.BAZHOU_DUE_SOON_DAYS))
        return queryset


def _district_id(user):
    """The district whose departments ``user`` may pick (None: a superuser of an instance with several)."""
    if user.district_id:
        return user.district_id
    area = chosen_area(user)
    return area.district.pk if area.district else None


def _departments(user, district_id):
    rows = Department.objects.select_related("district").order_by("district", "name")
    return rows.filter(district=district_id) if district_id else rows


def _department_summary(user, district_id, today) -> list[Department]:
    """The district's departments with the rows of each the user sees: live, overdue, due within N days (one query)."""
    prefix = "tasks__"
    seen = access.area_q(user, Task.objects.all().paths.prefixed("tasks")) & live_q(prefix)
    due_days = settings.BAZHOU_DUE_SOON_DAYS
    return list(
        _departments(user, district_id).annotate(
            total=Count("tasks", filter=seen),
            overdue=Count("tasks", filter=seen & overdue_q(today, prefix)),
            due=Count("tasks", filter=seen & due_within_q(today, due_days, prefix)),
        )
    )


@login_required
@require_GET
def department_tasks(request):
    user = request.user
    today = clock.today()
    own = access.department_of(user)
    asked = request.GET.get("department", "").strip()
    if own is not None:
        if asked and asked != str(own):
            raise Http404("页面不存在")  # another department's rows do not exist for a department's user
        department = Department.objects.select_related("district").get(pk=own)
        district_id = department.district_id
    else:
        district_id = _district_id(user)
        if not asked:
            context = {
                "department": None,
                "departments": _department_summary(user, district_id, today),
                "due_days": settings.BAZHOU_DUE_SOON_DAYS,
                "today": today,
            }
            return render_list(request, "tasks/department.html", "tasks/_department_list.html", context)
        if id_param(asked) is None:
            raise Http404("参数不正确")
        department = get_object_or_404(_departments(user, district_id), pk=id_param(asked))

    form = DepartmentFilterForm(request.GET, user=user, district_id=district_id, department=department)
    due_days = form.days_value or settings.BAZHOU_DUE_SOON_DAYS
    rows = (
        Task.objects.visible_to(user)
        .live()
        .filter(department=department)
        .select_related("plan__village__township", "household")
        .annotate(
            is_late=ExpressionWrapper(overdue_q(today), output_field=BooleanField()),
            is_due=ExpressionWrapper(due_within_q(today, due_days), output_field=BooleanField()),
        )
        .order_by("deadline", "plan__village__township__code", "plan__village__code", "id")
    )
    rows = form.filter(rows, today)
    page = page_of(request, rows)
    reportable = set(Task.objects.reportable_by(user).filter(pk__in=[t.pk for t in page]).values_list("pk", flat=True))
    for task in page:
        task.days_late = days_overdue(task.deadline, today) if task.is_late else 0
        task.days_left = (task.deadline - today).days if task.is_due else None
        task.reportable = task.pk in reportable
    context = {
        "department": department,
        "own": own is not None,
        "form": form,
        "page_obj": page,
        "querystring": querystring_without_page(request),
        "due_days": due_days,
        "today": today,
        "counts": _counts(Task.objects.visible_to(user).live().filter(department=department), today),
    }
    return render_list(request, "tasks/department.html", "tasks/_department_list.html", context)


def _counts(rows, today) -> dict:
    """The department's rows the user sees: live, overdue, due within N days (one query)."""
    return rows.aggregate(
        total=Count("id"),
        overdue=Count("id", filter=overdue_q(today)),
        due=Count("id", filter=due_within_q(today, settings.BAZHOU_DUE_SOON_DAYS)),
    )
