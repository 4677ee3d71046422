"""Forms of the change-request pages (变更申请): asking, and the approver's decision.

As in ``tasks.forms``, a form only reads what was typed; ``tasks.changes`` decides whether the request is right.
"""

from django import forms

from tasks.forms import STALE_PAGE, EvidenceUploadForm, StyledForm, TaskForm
from tasks.models import PLAN_FIELDS, ChangeRequest


class ChangeRequestForm(TaskForm):
    """The new values of a row's plan fields, the kind of request, the reason and attachments."""

    kind = forms.ChoiceField(
        label="变更类型",
        choices=[(ChangeRequest.Kind.CHANGE, "修改本任务"), (ChangeRequest.Kind.REMOVE, "撤销本任务")],
        initial=ChangeRequest.Kind.CHANGE,
        widget=forms.RadioSelect,
    )
    reason_category = forms.ChoiceField(
        label="变更原因类别",
        choices=[("", "—— 请选择 ——"), *ChangeRequest.ReasonCategory.choices],
        error_messages={"required": "请选择变更原因类别。"},
    )
    reason = forms.CharField(
        label="变更原因",
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "请说明变更原因。"},
        help_text="写明为什么要变更，批准后记入该任务的修改历史。",
    )

    class Meta(TaskForm.Meta):
        fields = list(PLAN_FIELDS)

    def __init__(self, *args, adding: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields.pop("progress", None)
        if adding:
            self.fields.pop("kind")
        else:
            self.fields["kind"].widget.attrs["class"] = ""
        for name in PLAN_FIELDS:
            if name in self.fields and not adding:
                # Removing a row needs no new values: the service ignores them.
                self.fields[name].required = False

    def clean(self):
        data = super().clean()
        if data.get("kind") == ChangeRequest.Kind.REMOVE:
            for name in PLAN_FIELDS:
                self.errors.pop(name, None)
        return data


class AttachmentsForm(EvidenceUploadForm):
    """Attachments of a request (the approving document, photos): checked by ``validate_evidence_files``."""

    evidence_testid = "attachments-input"


class DecisionForm(forms.Form):
    """Approve, reject or withdraw: the version of the request the page showed, and the note (to reject)."""

    version = forms.IntegerField(widget=forms.HiddenInput, error_messages={"required": STALE_PAGE})
    note = forms.CharField(label="审批意见", required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2}))


class PendingFilterForm(StyledForm, forms.Form):
    """The pending list's and the ledger's filters; a value outside the user's choices is simply ignored."""

    township = forms.ChoiceField(label="乡镇", required=False)
    village = forms.TypedChoiceField(label="村", required=False, coerce=int, empty_value=None)
    kind = forms.ChoiceField(label="类型", required=False, choices=[("", "全部类型"), *ChangeRequest.Kind.choices])
    age = forms.IntegerField(label="已等待天数 ≥", required=False, min_value=0, max_value=3650)
    state = forms.ChoiceField(
        label="结果",
        required=False,
        choices=[("", "全部结果"), *[c for c in ChangeRequest.State.choices if c[0] != "pending"]],
    )

    def __init__(self, *args, townships, villages, ledger: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["township"].choices = [("", "全部乡镇"), *[(t.pk, t.name) for t in townships]]
        self.fields["village"].choices = [("", "全部村"), *[(v.pk, f"{v.township.name} {v.name}") for v in villages]]
        if ledger:
            self.fields.pop("age")
        else:
            self.fields.pop("state")
        for field in self.fields.values():
            css = field.widget.attrs.get("class", "")
            field.widget.attrs["class"] = f"{css} form-select-sm form-control-sm".strip()
