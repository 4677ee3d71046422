"""Forms of the supervision chain's pages: the escalation and case lists' filters, the 挂包 leader's response
(协调意见) and the 纪委's decision on a case (追责 / 不予追责).

As elsewhere, a form reads what was typed and says what is wrong in Chinese beside the field; whether the
decision as a whole is right is decided by ``supervision.chain``.
"""

from __future__ import annotations

from django import forms

from bazhou.core import access
from supervision import chain
from supervision.forms import date_input, relabel_blank
from supervision.models import Accountability, AccountabilityCase, Escalation
from tasks.forms import StyledForm
from villages.forms import ALL, FilterForm, choice_filter, label

ESCALATION_STATES = [ALL, ("open", "待回复"), ("answered", "已回复")]
NO_LEADER = "none"


class EscalationFilterForm(FilterForm):
    state = forms.ChoiceField(label="状态", choices=ESCALATION_STATES, required=False)
    reason = choice_filter(Escalation, "reason")
    leader = forms.ChoiceField(label="挂包领导", choices=[ALL, (NO_LEADER, "无挂包领导")], required=False)

    def __init__(self, data, *, user, **kwargs):
        super().__init__(data, user=user, **kwargs)
        if access.charge_of(user) is not None:
            del self.fields["leader"]  # a 挂包 leader sees their own only

    def filter(self, queryset):
        state = self.value("state")
        if state == "open":
            queryset = queryset.filter(responded_at__isnull=True)
        elif state == "answered":
            queryset = queryset.filter(responded_at__isnull=False)
        if reason := self.value("reason"):
            queryset = queryset.filter(reason=reason)
        if "leader" in self.fields and self.value("leader") == NO_LEADER:
            queryset = queryset.filter(leader__isnull=True)
        return queryset


class CaseFilterForm(FilterForm):
    state = choice_filter(AccountabilityCase, "state")
    reason = choice_filter(AccountabilityCase, "reason")

    def filter(self, queryset):
        if state := self.value("state"):
            queryset = queryset.filter(state=state)
        if reason := self.value("reason"):
            queryset = queryset.filter(reason=reason)
        return queryset


class RespondForm(StyledForm, forms.Form):
    response = forms.CharField(
        label=label(Escalation, "response"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4, "data-testid": "response-text"}),
        error_messages={"required": chain.RESPONSE_REQUIRED, "max_length": "协调意见最多 2000 字。"},
    )


DECISIONS = [("hold", "追责"), ("dismiss", "不予追责")]
DECISION_REQUIRED = "请选择处理结论：追责或不予追责。"
HOLD_REQUIRED = {
    "subject": "追责须填写追责对象。",
    "measure": "追责须选择处理方式。",
    "decided_on": "追责须填写决定日期。",
}


class DecideForm(StyledForm, forms.Form):
    """追责 (an accountability record, decided by 区纪委) or 不予追责 (with a reason), on one form: the fields of the
    record are needed only to hold someone to account."""

    decision = forms.ChoiceField(
        label="处理结论",
        choices=DECISIONS,
        widget=forms.RadioSelect,
        error_messages={"required": DECISION_REQUIRED, "invalid_choice": DECISION_REQUIRED},
    )
    subject_kind = forms.ChoiceField(
        label=label(Accountability, "subject_kind"),
        choices=Accountability.SubjectKind.choices,
        initial=Accountability.SubjectKind.PERSON,
        required=False,
    )
    subject = forms.CharField(
        label=label(Accountability, "subject"),
        max_length=100,
        required=False,
        error_messages={"max_length": "追责对象最多 100 字。"},
    )
    subject_post = forms.CharField(
        label=label(Accountability, "subject_post"),
        max_length=200,
        required=False,
        error_messages={"max_length": "单位及职务最多 200 字。"},
    )
    measure = forms.ChoiceField(
        label=label(Accountability, "measure"),
        choices=[("", ""), *Accountability.Measure.choices],
        required=False,
        error_messages={"invalid_choice": "请从列表中选择处理方式。"},
    )
    decided_on = forms.DateField(
        label=label(Accountability, "decided_on"),
        required=False,
        widget=date_input(),
        error_messages={"invalid": "请输入有效的日期，如 2017-09-15。"},
    )
    document_number = forms.CharField(
        label=label(Accountability, "document_number"),
        max_length=100,
        required=False,
        error_messages={"max_length": "文号最多 100 字。"},
    )
    note = forms.CharField(
        label="处理意见",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3, "data-testid": "decision-note"}),
        help_text="不予追责时必须写明理由。",
        error_messages={"max_length": "处理意见最多 2000 字。"},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        relabel_blank(self.fields["measure"])
        self.fields["decision"].widget.attrs["class"] = "form-check-input"

    def clean(self):
        data = super().clean()
        decision = data.get("decision")
        if decision == "hold":
            for name, message in HOLD_REQUIRED.items():
                if not data.get(name) and not self.has_error(name):
                    self.add_error(name, message)
        elif decision == "dismiss" and not (data.get("note") or "").strip() and not self.has_error("note"):
            self.add_error("note", chain.DISMISS_REASON_REQUIRED)
        return data

    @property
    def hold(self) -> bool:
        return self.cleaned_data["decision"] == "hold"

    def record_data(self) -> dict:
        data = {name: self.cleaned_data[name] for name in chain.DECISION_FIELDS}
        data["subject_kind"] = data["subject_kind"] or Accountability.SubjectKind.PERSON
        return data
