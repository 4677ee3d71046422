"""Forms of the leads (线索) pages and of the supervision opinion (督导意见) on a finding's page.

As in ``supervision.forms``: a form reads and converts what was typed and says so in Chinese beside the field;
the record as a whole is decided by ``supervision.lead_services``. The filing forms carry a one-time ``token``
(a fresh one each time the empty form is shown) so that sending the same form twice records one row.
"""

from __future__ import annotations

import uuid

from django import forms

from bazhou.core import access
from supervision.forms import date_input, model_field
from supervision.lead_services import HANDLINGS, NOTE_REQUIRED_TO_DISMISS, lead_households, lead_tasks
from supervision.models import Finding, Lead, Opinion
from tasks.forms import StyledForm
from villages.forms import ALL, FilterForm
from villages.models import Township, Village

# The largest id a row may have (a 64-bit integer): anything larger is refused before it reaches the database.
MAX_ID = 2**63 - 1


def new_token() -> str:
    return uuid.uuid4().hex


class RowChoiceField(forms.ModelChoiceField):
    """A choice of one row by id that says "not in your list" (in Chinese) for an id out of range, a word, or a row
    outside its queryset, instead of reaching the database with a number it cannot hold."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            number = int(str(value).strip())
        except (TypeError, ValueError):
            raise forms.ValidationError(self.error_messages["invalid_choice"], code="invalid_choice") from None
        if not 1 <= number <= MAX_ID:
            raise forms.ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return super().to_python(number)


class TaskChoiceField(RowChoiceField):
    def label_from_instance(self, obj):
        household = f"（户 {obj.household.number}）" if obj.household_id else ""
        return f"{obj.plan.year}年 {obj.item}{household}"


class LeadForm(StyledForm, forms.Form):
    """报送线索 / 进度观察, on a phone: what kind, what was seen, when, and optionally which plan row or household."""

    token = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)
    kind = forms.ChoiceField(label="类别", choices=Lead.Kind.choices, widget=forms.RadioSelect, initial=Lead.Kind.LEAD)
    description = forms.CharField(
        label="情况描述",
        widget=forms.Textarea(attrs={"rows": 5, "data-testid": "lead-description"}),
        max_length=2000,
        error_messages={"required": "请填写情况描述。", "max_length": "情况描述最多 2000 字。"},
        help_text="看到了什么、在哪里、涉及谁；进度观察请写明目前的进度。",
    )
    observed_on = forms.DateField(
        label="发现日期",
        widget=date_input(),
        error_messages={"required": "请填写发现日期。", "invalid": "请输入有效日期，如 2017-09-01。"},
    )
    task = TaskChoiceField(
        label="涉及的施工图任务（可不选）",
        queryset=None,
        required=False,
        empty_label="（不涉及具体任务）",
        error_messages={"invalid_choice": "该任务不在您的村，请从列表中选择本村的任务。"},
    )
    household = RowChoiceField(
        label="涉及的户（可不选）",
        queryset=None,
        required=False,
        empty_label="（不涉及具体户）",
        error_messages={"invalid_choice": "该户不在您的村，请从列表中选择本村的户。"},
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["task"].queryset = (
            lead_tasks(user).select_related("plan", "household").order_by("-plan__year", "category", "id")
        )
        self.fields["household"].queryset = lead_households(user).order_by("number")
        self.fields["kind"].widget.attrs["class"] = "form-check-input"
        self.fields["kind"].error_messages["required"] = "请选择类别。"
        self.fields["kind"].error_messages["invalid_choice"] = "请选择类别：问题线索或进度观察。"
        if not self.is_bound and not self.initial.get("token"):
            self.initial["token"] = new_token()

    def service_data(self) -> dict:
        return {name: self.cleaned_data[name] for name in ("kind", "description", "observed_on", "task", "household")}


class LeadFilterForm(FilterForm):
    """The leads list: state, kind, township and village (those the user sees)."""

    state = forms.ChoiceField(label="处理状态", choices=[ALL, *Lead.State.choices], required=False)
    kind = forms.ChoiceField(label="类别", choices=[ALL, *Lead.Kind.choices], required=False)
    township = forms.ModelChoiceField(
        label="乡镇", queryset=Township.objects.none(), required=False, empty_label="全部"
    )
    village = RowChoiceField(label="村", queryset=Village.objects.none(), required=False, empty_label="全部")

    def __init__(self, data, *, user, **kwargs):
        super().__init__(data, user=user, **kwargs)
        if user.village_id:
            # One village: nothing to choose.
            del self.fields["township"]
            del self.fields["village"]
            return
        townships = Township.objects.all()
        self.fields["township"].queryset = townships.filter(access.area_choices_q(user, townships.paths))
        villages = Village.objects.select_related("township")
        villages = villages.filter(access.area_choices_q(user, villages.paths))
        self.fields["village"].queryset = villages.order_by("township__code", "code")
        self.fields["village"].label_from_instance = lambda v: f"{v.township.name} {v.name}"

    def filter(self, queryset):
        if state := self.value("state"):
            queryset = queryset.filter(state=state)
        if kind := self.value("kind"):
            queryset = queryset.filter(kind=kind)
        if "township" in self.fields and (township := self.value("township")):
            queryset = queryset.filter(village__township=township)
        if "village" in self.fields and (village := self.value("village")):
            queryset = queryset.filter(village=village)
        return queryset


class LeadHandleForm(StyledForm, forms.Form):
    """处理线索: turn into a finding (with its type and severity), keep on file, or dismiss (with a reason)."""

    state = forms.ChoiceField(
        label="处理方式",
        choices=list(HANDLINGS.items()),
        widget=forms.RadioSelect,
        error_messages={
            "required": "请选择处理方式：转为问题、已阅存档或不予采纳。",
            "invalid_choice": "请选择处理方式：转为问题、已阅存档或不予采纳。",
        },
    )
    type = model_field(Finding, "type", required=False)
    severity = model_field(Finding, "severity", required=False)
    note = forms.CharField(
        label="处理意见",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="不予采纳时必须填写理由。",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["type"].label = "问题类型（转为问题时）"
        self.fields["severity"].label = "严重程度（转为问题时）"
        self.fields["state"].widget.attrs["class"] = "form-check-input"

    def clean(self):
        data = super().clean()
        state = data.get("state")
        if state == Lead.State.FINDING and not data.get("type"):
            self.add_error("type", "转为问题须选择问题类型。")
        if state == Lead.State.DISMISSED and not (data.get("note") or "").strip():
            self.add_error("note", NOTE_REQUIRED_TO_DISMISS)
        return data

    def finding_values(self) -> dict:
        return {"type": self.cleaned_data.get("type"), "severity": self.cleaned_data.get("severity")}


class OpinionForm(StyledForm, forms.Form):
    """督导意见 on a finding (and its rectification): which body, the text, the date."""

    token = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)
    body = forms.ChoiceField(
        label="督导机关",
        choices=Opinion.Body.choices,
        error_messages={"required": "请选择督导机关。", "invalid_choice": "请选择督导机关：区人大或区政协。"},
    )
    text = forms.CharField(
        label="督导意见",
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3, "data-testid": "opinion-text"}),
        error_messages={"required": "请填写督导意见。", "max_length": "督导意见最多 4000 字。"},
    )
    given_on = forms.DateField(
        label="日期",
        widget=date_input(),
        error_messages={"required": "请填写日期。", "invalid": "请输入有效日期，如 2017-09-01。"},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, auto_id="id_opinion_%s", **kwargs)
        if not self.is_bound and not self.initial.get("token"):
            self.initial["token"] = new_token()

    def service_data(self) -> dict:
        return {name: self.cleaned_data[name] for name in ("body", "text", "given_on")}
