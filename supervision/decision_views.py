"""近期变动的脱贫判定: the supervisors' list of edits that flipped a household's 一超六有 or a village's 一低七有
(``households.models.DecisionAlert``, written by ``households.decisions``), newest first, within the user's area.

Filters: township, village, criterion, the last N days (default :data:`DEFAULT_DAYS`). One query for the page's
rows (with its count), and a fixed few for the filter choices, whatever the number of alerts.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.views.decorators.http import require_GET

from bazhou.core import access, clock
from bazhou.core.pages import labels, page_of, querystring_without_page, render_list
from households.models import DecisionAlert
from households.readiness import CRITERIA
from supervision.forms import VillageChoiceField, village_choices
from villages.forms import ALL, FilterForm, choice_filter
from villages.models import ExitIndicator, Township, Village

DEFAULT_DAYS = 30
MAX_DAYS = 3650


class DecisionAlertFilterForm(FilterForm):
    scope = choice_filter(DecisionAlert, "scope")
    township = forms.ModelChoiceField(
        label="乡镇", queryset=Township.objects.none(), required=False, empty_label="全部"
    )
    village = VillageChoiceField(label="村", queryset=Village.objects.none(), required=False, empty_label="全部")
    criterion = forms.ChoiceField(label="指标", choices=[ALL], required=False)
    days = forms.IntegerField(
        label="最近天数",
        required=False,
        min_value=1,
        max_value=MAX_DAYS,
        error_messages={"min_value": "天数应在 1–3650 之间。", "max_value": "天数应在 1–3650 之间。"},
    )

    def __init__(self, data, *, user, **kwargs):
        super().__init__(data, user=user, **kwargs)
        self.fields["township"].queryset = Township.objects.visible_to(user)
        self.fields["village"].queryset = village_choices(user)
        self.fields["days"].widget.attrs["placeholder"] = str(DEFAULT_DAYS)
        if not access.district_wide(user):
            del self.fields["township"]
        indicators = dict(ExitIndicator.objects.order_by("code", "-year").values_list("code", "name"))
        household = [(code, f"户：{name}") for code, name in CRITERIA]
        village = [(code, f"村：{name}") for code, name in sorted(indicators.items()) if code not in dict(CRITERIA)]
        self.fields["criterion"].choices = [ALL, *household, *village]

    @property
    def days_value(self) -> int:
        return self.value("days") or DEFAULT_DAYS

    def filter(self, queryset, today):
        queryset = queryset.changed_within(self.days_value, today)
        if scope := self.value("scope"):
            queryset = queryset.filter(scope=scope)
        if township := self.value("township"):
            queryset = queryset.filter(village__township=township)
        if village := self.value("village"):
            queryset = queryset.filter(village=village)
        if criterion := self.value("criterion"):
            queryset = queryset.filter(criterion=criterion)
        return queryset


@login_required
@require_GET
def decision_alert_list(request):
    user = request.user
    if not access.may_read_supervision(user):
        raise Http404("页面不存在")
    today = clock.today()
    form = DecisionAlertFilterForm(request.GET, user=user)
    alerts = form.filter(DecisionAlert.objects.visible_to(user), today).select_related(
        "village__township", "household", "changed_by"
    )
    context = {
        "form": form,
        "page_obj": page_of(request, alerts),
        "querystring": querystring_without_page(request),
        "today": today,
        "days": form.days_value,
        "labels": labels(DecisionAlert),
    }
    return render_list(request, "supervision/decision_alerts.html", "supervision/_decision_alert_list.html", context)
