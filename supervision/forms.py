"""Forms for the supervision pages: the review queue's and the finding list's filters, filing an inspection
and a finding, the actions on a finding (start, answer, recheck, accountability), and generating and editing a
bulletin (通报).

As in ``tasks.forms``, a form reads and converts what was typed and says so in Chinese beside the field;
whether the record as a whole is right is decided once, by ``supervision.services``, whose messages the
views put back beside the fields with ``tasks.forms.add_service_errors``.
"""

from __future__ import annotations

import datetime

from django import forms
from django.conf import settings

from bazhou.core import access, clock
from bazhou.core.pages import id_param
from households.models import Household
from supervision import services
from supervision.bulletin_data import districts_for_bulletins
from supervision.bulletin_services import CHOOSE_DISTRICT, fingerprint
from supervision.models import Accountability, Bulletin, Finding, Inspection, Organiser, Rectification
from tasks.forms import EvidenceUploadForm, StyledForm, VersionForm
from tasks.models import Category, Plan, Task, baseline_overdue_q, overdue_by_at_least_q
from villages.forms import ALL, FilterForm, choice_filter, label, offer_years, plan_year_field
from villages.models import District, Township, Village

DATE = {"type": "date"}


def date_input() -> forms.DateInput:
    return forms.DateInput(attrs=DATE, format="%Y-%m-%d")


def model_field(model, name: str, **kwargs) -> forms.Field:
    """The form field Django makes for a model field (label and choices from the model), adjusted."""
    field = model._meta.get_field(name).formfield(**kwargs)
    if isinstance(field, forms.TypedChoiceField):
        relabel_blank(field)
    return field


def relabel_blank(field: forms.ChoiceField) -> None:
    """Django's "---------" as the page says it."""
    field.choices = [("", "—— 请选择 ——") if value == "" else (value, text) for value, text in field.choices]


class VillageChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.township.name} {obj.name}"


def village_choices(user):
    return Village.objects.visible_to(user).select_related("township").order_by("township__code", "code")


# ---------------------------------------------------------------------------------------------
# Filters
# ---------------------------------------------------------------------------------------------


class QueueFilterForm(FilterForm):
    """The review queue: which list (overdue / due soon / stale), N days, the filters and the order."""

    view = forms.ChoiceField(label="清单", choices=list(services.QUEUE_VIEWS.items()), required=False)
    days = forms.IntegerField(
        label="天数 N",
        required=False,
        min_value=1,
        max_value=3650,
        help_text="即将到期：N 天内到期；长期未更新：N 天没有填报进度。",
        error_messages={"min_value": "天数应在 1–3650 之间。", "max_value": "天数应在 1–3650 之间。"},
    )
    township = forms.ModelChoiceField(
        label=label(Village, "township"), queryset=Township.objects.none(), required=False, empty_label="全部"
    )
    village = VillageChoiceField(label="村", queryset=Village.objects.none(), required=False, empty_label="全部")
    category = forms.ChoiceField(label=label(Task, "category"), choices=[ALL, *Category.choices], required=False)
    responsible_unit = forms.CharField(label=label(Task, "responsible_unit"), required=False, max_length=100)
    responsible_person = forms.CharField(label=label(Task, "responsible_person"), required=False, max_length=50)
    min_days_overdue = forms.IntegerField(
        label="逾期至少（天）",
        required=False,
        min_value=0,
        max_value=3650,
        error_messages={"min_value": "逾期天数不能为负数。", "max_value": "逾期天数最多 3650 天。"},
    )
    # The plan year (年度): the current year unless another is chosen; a bad one is shown beside the field and the
    # current year's rows are listed (docs/years.md).
    year = plan_year_field()
    baseline_overdue = forms.BooleanField(
        label="只看原定逾期", required=False, help_text="按原定完成时限已逾期（或延期完成）的任务，不论时限是否已变更。"
    )
    sort = forms.ChoiceField(label="排序", choices=[(k, v[0]) for k, v in services.QUEUE_SORTS.items()], required=False)

    def __init__(self, data, *, user, **kwargs):
        super().__init__(data, user=user, **kwargs)
        self.fields["baseline_overdue"].widget.attrs["class"] = "form-check-input"
        self.fields["township"].queryset = Township.objects.visible_to(user)
        self.fields["village"].queryset = village_choices(user)
        self.fields["days"].widget.attrs["placeholder"] = str(self.days_default())
        self.current_year = clock.today().year
        if not self.data.get("year"):
            self.data = self.data.copy()
            self.data["year"] = str(self.current_year)
        offer_years(self, lambda: Plan.objects.visible_to(user).offered_years(self.current_year))

    @property
    def year_value(self) -> int:
        """The plan year listed: the one chosen, else (none, or a bad one) the current year."""
        return self.value("year") or self.current_year

    @property
    def view_name(self) -> str:
        return self.value("view") or "overdue"

    def days_default(self) -> int:
        return settings.BAZHOU_STALE_DAYS if self.view_name == "stale" else settings.BAZHOU_DUE_SOON_DAYS

    @property
    def days_value(self) -> int:
        return self.value("days") or self.days_default()

    def filter(self, queryset, today: datetime.date):
        if township := self.value("township"):
            queryset = queryset.filter(plan__village__township=township)
        if village := self.value("village"):
            queryset = queryset.filter(plan__village=village)
        if category := self.value("category"):
            queryset = queryset.filter(category=category)
        queryset = queryset.filter(plan__year=self.year_value)
        if unit := (self.value("responsible_unit") or "").strip():
            queryset = queryset.filter(responsible_unit__icontains=unit)
        if person := (self.value("responsible_person") or "").strip():
            queryset = queryset.filter(responsible_person__icontains=person)
        if min_days := self.value("min_days_overdue"):
            queryset = queryset.filter(overdue_by_at_least_q(today, min_days))
        if self.value("baseline_overdue"):
            queryset = queryset.filter(baseline_overdue_q(today))
        return queryset

    def ordering(self) -> tuple[str, ...]:
        return services.QUEUE_SORTS[self.value("sort") or "days"][1]


class FindingFilterForm(FilterForm):
    status = forms.ChoiceField(
        label=label(Rectification, "status"), choices=[ALL, *Rectification.Status.choices], required=False
    )
    type = choice_filter(Finding, "type")
    severity = choice_filter(Finding, "severity")
    township = forms.ModelChoiceField(
        label="乡镇", queryset=Township.objects.none(), required=False, empty_label="全部"
    )
    overdue = forms.BooleanField(label="只看逾期", required=False)
    open = forms.BooleanField(label="只看未销号", required=False)

    def __init__(self, data, *, user, **kwargs):
        super().__init__(data, user=user, **kwargs)
        self.fields["township"].queryset = Township.objects.visible_to(user)
        self.fields["overdue"].widget.attrs["class"] = "form-check-input"
        self.fields["open"].widget.attrs["class"] = "form-check-input"
        own = access.area_of(user)
        if (own and own[0] != "district") or access.department_of(user) is not None:
            del self.fields["township"]  # one township only: nothing to choose (a 挂包 leader chooses among theirs)

    def filter(self, queryset, today: datetime.date):
        if status := self.value("status"):
            queryset = queryset.filter(rectification__status=status)
        if kind := self.value("type"):
            queryset = queryset.filter(type=kind)
        if severity := self.value("severity"):
            queryset = queryset.filter(severity=severity)
        if township := self.value("township"):
            queryset = queryset.in_area("township", township)
        # One village (the dashboard of a village links here): a bounded id, anything else is ignored.
        if village := id_param(self.data.get("village")):
            queryset = queryset.in_area("village", village)
        if self.value("overdue"):
            queryset = queryset.filter(rectification__in=Rectification.objects.overdue(today))
        if self.value("open"):
            queryset = queryset.open()
        return queryset


# ---------------------------------------------------------------------------------------------
# Inspections
# ---------------------------------------------------------------------------------------------


class InspectionForm(StyledForm, forms.ModelForm):
    methods = forms.MultipleChoiceField(
        label=label(Inspection, "methods"),
        choices=Inspection.Method.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    townships = forms.ModelMultipleChoiceField(
        label=label(Inspection, "townships"), queryset=Township.objects.none(), required=False
    )
    villages = forms.ModelMultipleChoiceField(
        label=label(Inspection, "villages"), queryset=Village.objects.none(), required=False
    )

    class Meta:
        model = Inspection
        fields = ["title", "kind", "organiser", "start_date", "end_date", "inspectors", "methods", "summary"]
        widgets = {
            "start_date": date_input(),
            "end_date": date_input(),
            "summary": forms.Textarea(attrs={"rows": 4}),
        }
        error_messages = {
            "title": {"required": "请填写督查名称。"},
            "kind": {"required": "请选择督查方式。"},
            "organiser": {"required": "请选择组织单位。"},
            "start_date": {"required": "请填写开始日期。", "invalid": "请输入有效的日期。"},
            "end_date": {"required": "请填写结束日期。", "invalid": "请输入有效的日期。"},
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["townships"].queryset = Township.objects.visible_to(user)
        self.fields["villages"].queryset = village_choices(user)
        self.fields["villages"].label_from_instance = lambda v: f"{v.township.name} {v.name}"
        self.fields["villages"].widget.attrs["size"] = 8
        self.fields["townships"].widget.attrs["size"] = 8
        self.fields["methods"].widget.attrs["class"] = "form-check-input"

    def _post_clean(self):
        """No model validation here: supervision.services validates the whole record."""

    def service_data(self) -> dict:
        return {name: self.cleaned_data[name] for name in self._meta.fields if name in self.cleaned_data}


# ---------------------------------------------------------------------------------------------
# Findings
# ---------------------------------------------------------------------------------------------

TARGET_KINDS = [("task", "施工图任务"), ("village", "村"), ("household", "户"), ("township", "乡镇")]
TARGET_MISSING = {
    "task": "请填写任务编号。",
    "village": "请选择村。",
    "household": "请填写户编号。",
    "township": "请选择乡镇。",
}


class FindingForm(StyledForm, forms.Form):
    """A finding against exactly one target, with its rectification demand."""

    target_kind = forms.ChoiceField(
        label="问题对象",
        choices=TARGET_KINDS,
        widget=forms.RadioSelect,
        error_messages={"required": "请选择问题对象。"},
    )
    task = forms.ModelChoiceField(
        label="任务编号",
        queryset=Task.objects.none(),
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric"}),
        error_messages={"invalid_choice": "没有这个任务编号，或不在您的范围内。"},
    )
    village = VillageChoiceField(label="村", queryset=Village.objects.none(), required=False, empty_label="——")
    household = forms.ModelChoiceField(
        label="户编号",
        queryset=Household.objects.none(),
        to_field_name="number",
        required=False,
        widget=forms.TextInput(),
        error_messages={"invalid_choice": "没有这个户编号，或不在您的范围内。"},
    )
    township = forms.ModelChoiceField(label="乡镇", queryset=Township.objects.none(), required=False, empty_label="——")
    inspection = forms.ModelChoiceField(
        label=label(Finding, "inspection"),
        queryset=Inspection.objects.none(),
        required=False,
        empty_label="（不属于某次督查）",
    )
    type = model_field(Finding, "type")
    severity = model_field(Finding, "severity")
    description = model_field(Finding, "description", widget=forms.Textarea(attrs={"rows": 3}))
    found_on = model_field(Finding, "found_on", widget=date_input())
    escalate = forms.BooleanField(
        label=label(Finding, "escalate"), required=False, help_text=Finding._meta.get_field("escalate").help_text
    )
    requirement = model_field(Rectification, "requirement", widget=forms.Textarea(attrs={"rows": 2}))
    responsible_unit = model_field(Rectification, "responsible_unit")
    responsible_person = model_field(Rectification, "responsible_person")
    responsible_phone = model_field(
        Rectification, "responsible_phone", widget=forms.TextInput(attrs={"inputmode": "tel"})
    )
    responsible_email = model_field(Rectification, "responsible_email")
    deadline = forms.DateField(
        label=label(Rectification, "deadline"),
        required=False,
        widget=date_input(),
        help_text=f"留空则为发现日期后 {Rectification.DEFAULT_MONTHS} 个月。",
    )

    REQUIRED = {
        "type": "请选择问题类型。",
        "description": "请填写问题描述。",
        "found_on": "请填写发现日期。",
        "requirement": "请填写整改要求。",
    }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["task"].queryset = Task.objects.visible_to(user).live().select_related("plan__village")
        self.fields["village"].queryset = village_choices(user)
        self.fields["household"].queryset = Household.objects.visible_to(user)
        self.fields["township"].queryset = Township.objects.visible_to(user)
        self.fields["inspection"].queryset = Inspection.objects.visible_to(user)
        self.fields["target_kind"].widget.attrs["class"] = "form-check-input"
        for name, message in self.REQUIRED.items():
            self.fields[name].error_messages["required"] = message
        self.fields["responsible_email"].error_messages["invalid"] = "请输入有效的电子邮箱地址。"

    def clean(self):
        data = super().clean()
        kind = data.get("target_kind")
        if kind and not data.get(kind) and not self.has_error(kind):
            self.add_error(kind, TARGET_MISSING[kind])
        return data

    def target(self):
        return self.cleaned_data[self.cleaned_data["target_kind"]]

    def finding_data(self) -> dict:
        return {name: self.cleaned_data[name] for name in services.FINDING_FIELDS}

    def rectification_data(self) -> dict:
        return {name: self.cleaned_data[name] for name in services.RECTIFICATION_FIELDS}


# ---------------------------------------------------------------------------------------------
# Actions on a finding's rectification
# ---------------------------------------------------------------------------------------------


class AnswerForm(StyledForm, EvidenceUploadForm, VersionForm):
    evidence_testid = "answer-evidence"

    result = forms.CharField(
        label=label(Rectification, "result"),
        widget=forms.Textarea(attrs={"rows": 4, "data-testid": "answer-result"}),
        error_messages={"required": services.RESULT_REQUIRED},
    )


class RecheckForm(StyledForm, VersionForm):
    note = forms.CharField(
        label=label(Rectification, "recheck_note"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "data-testid": "recheck-note"}),
        help_text="退回整改时必须填写，说明哪里没有整改到位。",
    )
    decision = forms.ChoiceField(
        choices=[("approve", "复查通过，销号"), ("reject", "退回整改")],
        widget=forms.HiddenInput,
        error_messages={"required": "请选择复查结论。", "invalid_choice": "请选择复查结论。"},
    )

    @property
    def approve(self) -> bool:
        return self.cleaned_data["decision"] == "approve"


class AccountabilityForm(StyledForm, forms.ModelForm):
    class Meta:
        model = Accountability
        fields = list(services.ACCOUNTABILITY_FIELDS)
        widgets = {"decided_on": date_input(), "note": forms.Textarea(attrs={"rows": 2})}
        error_messages = {
            "subject": {"required": "请填写追责对象。"},
            "measure": {"required": "请选择处理方式。"},
            "decided_on": {"required": "请填写决定日期。", "invalid": "请输入有效的日期。"},
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        relabel_blank(self.fields["measure"])

    def _post_clean(self):
        """No model validation here: supervision.services validates the record."""

    def service_data(self) -> dict:
        return {name: self.cleaned_data[name] for name in self._meta.fields}


# ---------------------------------------------------------------------------------------------
# Bulletins (通报): generating a draft and editing it
# ---------------------------------------------------------------------------------------------

DATE_ERRORS = {"required": "请填写日期。", "invalid": "请输入有效日期，如 2017-09-01。"}


def _date_field(label: str, **kwargs) -> forms.DateField:
    return forms.DateField(
        label=label,
        widget=date_input(),
        error_messages=DATE_ERRORS,
        **kwargs,
    )


def _label(name: str) -> str:
    return str(Bulletin._meta.get_field(name).verbose_name)


class BulletinCreateForm(StyledForm, forms.Form):
    district = forms.ModelChoiceField(
        label="区县", queryset=District.objects.none(), error_messages={"required": CHOOSE_DISTRICT}
    )
    period_start = _date_field(_label("period_start"))
    period_end = _date_field(
        _label("period_end"), help_text="截至止日（本期尚未结束的截至今天）统计逾期任务和未销号问题。"
    )
    issuer = forms.ChoiceField(label=_label("issuer"), choices=Organiser.choices)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        if user.district_id:
            del self.fields["district"]
        else:
            self.fields["district"].queryset = districts_for_bulletins(user)


class BulletinEditForm(StyledForm, forms.Form):
    expected = forms.CharField(widget=forms.HiddenInput, error_messages={"required": "页面已过期，请刷新后重试。"})
    title = forms.CharField(
        label=_label("title"),
        max_length=200,
        error_messages={"required": "请填写标题。", "max_length": "标题最多 200 字。"},
    )
    issuer = forms.ChoiceField(label=_label("issuer"), choices=Organiser.choices)
    issued_on = _date_field(_label("issued_on"))
    body = forms.CharField(
        label=_label("body"),
        widget=forms.Textarea(attrs={"rows": 14}),
        required=False,
        strip=False,
        help_text="段落之间空一行。发布后不能再修改。",
    )

    @classmethod
    def of(cls, bulletin: Bulletin) -> BulletinEditForm:
        return cls(
            initial={
                "expected": fingerprint(bulletin),
                "title": bulletin.title,
                "issuer": bulletin.issuer,
                "issued_on": bulletin.issued_on,
                "body": bulletin.body,
            }
        )
