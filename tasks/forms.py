"""Forms for the plan-row pages.

A form here only reads and converts what the person typed (numbers, dates, choices) and says so in
Chinese beside the field. Whether the row as a whole is right (invested ≤ planned, done means 100 %,
fund lines add up, a reason on an approved plan …) is decided once, by ``tasks.services`` with
``full_clean()``, for the pages, the API and imports alike; the views put its messages back beside
the fields with :func:`add_service_errors`.
"""

from decimal import Decimal

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from bazhou.core.pages import id_param
from households.models import Household
from tasks.models import FundSource, Task
from tasks.services import MAX_EVIDENCE_FILES, TASK_FIELDS

MONEY_ERRORS = {
    "max_decimal_places": "金额最多保留 4 位小数（万元，即精确到元）。",
    "max_digits": "金额位数过多。",
    "max_whole_digits": "金额位数过多。",
    "invalid": "请输入数字金额（单位：万元）。",
}
QUANTITY_ERRORS = {
    "max_decimal_places": "数量最多保留 2 位小数。",
    "max_digits": "数量位数过多。",
    "max_whole_digits": "数量位数过多。",
    "invalid": "请输入数字。",
}
NEGATIVE = {
    "planned_funds": "计划资金不能为负数。",
    "invested_funds": "已投入资金不能为负数。",
    "quantity": "数量不能为负数。",
}
PROGRESS_RANGE = "进度应在 0–100 之间。"
STALE_PAGE = "页面已过期，请刷新后重试。"


def plain(value):
    """A Decimal as a person types it: 3 rather than 3.00, 0.5 rather than 0.5000."""
    return format(value.normalize(), "f") if isinstance(value, Decimal) else value


class StyledForm:
    """Bootstrap classes on the widgets, and ``is-invalid`` on every field that gets an error."""

    small = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _style(self, small=self.small)
        self.initial = {name: plain(value) for name, value in self.initial.items()}

    def add_error(self, field, error):
        super().add_error(field, error)
        for name in self.errors:
            widget = self.fields[name].widget if name in self.fields else None
            if widget is not None and "is-invalid" not in widget.attrs.get("class", ""):
                widget.attrs["class"] = f"{widget.attrs.get('class', '')} is-invalid".strip()


def _style(form: forms.BaseForm, small: bool = False) -> None:
    """Bootstrap classes on every widget (``small`` for the inline row)."""
    size = " form-control-sm" if small else ""
    select_size = " form-select-sm" if small else ""
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, forms.HiddenInput):
            continue
        if isinstance(widget, forms.CheckboxInput):
            css = "form-check-input"
        elif isinstance(widget, forms.Select):
            css = "form-select" + select_size
        else:
            css = "form-control" + size
        widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()


class TaskForm(StyledForm, forms.ModelForm):
    """Every field of a plan row: the full edit page and the new-row page."""

    version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    reason = forms.CharField(
        label="修改原因",
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="已批准的施工图修改完成时限、资金或新增任务时必须填写，记入修改历史。",
    )
    progress = forms.IntegerField(
        label="进度（%）",
        initial=0,
        min_value=0,
        max_value=100,
        error_messages={"min_value": PROGRESS_RANGE, "max_value": PROGRESS_RANGE},
        widget=forms.NumberInput(attrs={"min": "0", "max": "100", "inputmode": "numeric"}),
    )

    # Duplicate projects (避免重复): a warning the person confirms, never a refusal. The ids of the rows the warning
    # showed come back with the confirmation; a row that became a duplicate since (a second submit of the same form)
    # is warned about again, so submitting twice never saves twice.
    confirm_duplicate = forms.BooleanField(label="已核对，不是重复，仍然保存", required=False)
    duplicates_seen = forms.CharField(required=False, max_length=2000, widget=forms.HiddenInput)

    class Meta:
        model = Task
        fields = list(TASK_FIELDS)
        widgets = {
            "deadline": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "completed_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "quantity": forms.NumberInput(attrs={"step": "0.01", "min": "0"}),
            "planned_funds": forms.NumberInput(attrs={"step": "0.0001", "min": "0", "inputmode": "decimal"}),
            "invested_funds": forms.NumberInput(attrs={"step": "0.0001", "min": "0", "inputmode": "decimal"}),
            "responsible_phone": forms.TextInput(attrs={"inputmode": "tel"}),
        }
        help_texts = {
            # The department is derived from this text (tasks.services.link_departments), never chosen separately.
            "responsible_unit": "填写行业部门的名称（如“区交通运输局”）时，任务自动关联该部门，"
            "部门的用户可以查看并填报进度；乡镇、村等其他单位照原文保存。",
        }

    def __init__(self, *args, plan, **kwargs):
        super().__init__(*args, **kwargs)
        self.plan = plan
        self.duplicates: list[Task] = []
        self.duplicate_ids = ""
        if "household" in self.fields:
            self.fields["household"].queryset = Household.objects.filter(village_id=plan.village_id).order_by("number")
            self.fields["household"].empty_label = "（一村一案：村级任务）"
        for name in ("quantity", "planned_funds", "invested_funds"):
            if name in self.fields:
                field = self.fields[name]
                field.validators.append(_not_negative(NEGATIVE[name]))
                field.error_messages.update(QUANTITY_ERRORS if name == "quantity" else MONEY_ERRORS)

    def _post_clean(self):
        """No model validation here: tasks.services validates the whole row (see the module docstring)."""

    def clean_version(self):
        version = self.cleaned_data.get("version")
        if self.instance.pk and version is None:
            raise ValidationError(STALE_PAGE)
        return version

    def service_data(self) -> dict:
        return {name: self.cleaned_data[name] for name in self._meta.fields if name in self.cleaned_data}

    def duplicates_to_confirm(self) -> list[Task]:
        """The live rows of the plan's year that are the same item as this one (``Task.objects.duplicates_of``) and
        that the person has not yet confirmed; also kept on ``self.duplicates`` for the warning. An edit that keeps
        the row's category, item and household asks nothing (the row was accepted as it is)."""
        data = self.cleaned_data
        household = data.get("household") if "household" in self.fields else self.instance.household
        category = data.get("category", self.instance.category)
        item = data.get("item", self.instance.item)
        if self.instance.pk and (
            category == self.instance.category
            and item == self.instance.item
            and (household.pk if household else None) == self.instance.household_id
        ):
            return []
        found = Task.objects.duplicates_of(
            year=self.plan.year,
            village_id=self.plan.village_id,
            household_id=household.pk if household else None,
            category=category,
            item=item,
            exclude_pk=self.instance.pk,
        )
        seen = {id_param(part.strip()) for part in data.get("duplicates_seen", "")[:2000].split(",")} - {None}
        if not found or (data.get("confirm_duplicate") and {task.pk for task in found} <= seen):
            return []
        self.duplicates = found
        self.duplicate_ids = ",".join(str(task.pk) for task in found)
        return found


class InlineTaskForm(TaskForm):
    """The fields edited in the table row itself; the rest are on the full edit page.

    A row with fund lines (资金来源) keeps its planned funds equal to their sum (``tasks.services``), and the row
    does not edit the lines: there the planned funds are shown, not offered (``funds_from_lines``; the field is
    disabled, so a posted value is ignored and the row's own kept), and the row links to the full edit page, which
    changes both together. A row without fund lines edits its planned funds here.
    """

    small = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.funds_from_lines = bool(self.instance.pk) and bool(list(self.instance.fund_lines.all()))
        if self.funds_from_lines:
            self.fields["planned_funds"].disabled = True

    class Meta(TaskForm.Meta):
        fields = [
            "item",
            "quantity",
            "unit",
            "deadline",
            "planned_funds",
            "invested_funds",
            "responsible_person",
            "responsible_phone",
            "status",
            "progress",
        ]


class FundLineForm(StyledForm, forms.Form):
    source = forms.ChoiceField(
        label="资金来源", choices=[("", "—— 选择资金来源 ——"), *FundSource.choices], required=False
    )
    amount = forms.DecimalField(
        label="金额（万元）",
        required=False,
        max_digits=14,
        decimal_places=4,
        min_value=0,
        error_messages={**MONEY_ERRORS, "min_value": "资金金额不能为负数。"},
        widget=forms.NumberInput(attrs={"step": "0.0001", "min": "0", "inputmode": "decimal"}),
    )

    def clean(self):
        data = super().clean()
        source, amount = data.get("source"), data.get("amount")
        if source and amount is None and not self.has_error("amount"):
            self.add_error("amount", "请填写金额。")
        if amount is not None and not source:
            self.add_error("source", "请选择资金来源。")
        return data


class BaseFundLineFormSet(forms.BaseFormSet):
    def clean(self):
        if any(self.errors):
            return
        sources = [line["source"] for line in self.lines()]
        if len(sources) != len(set(sources)):
            raise ValidationError("同一任务的资金来源不能重复。")

    def lines(self) -> list[dict]:
        """The filled-in, not deleted lines, as the service takes them."""
        return [
            {"source": form.cleaned_data["source"], "amount": form.cleaned_data["amount"]}
            for form in self.forms
            if form.cleaned_data.get("source") and not (self.can_delete and self._should_delete_form(form))
        ]


FundLineFormSet = forms.formset_factory(
    FundLineForm,
    formset=BaseFundLineFormSet,
    extra=2,
    can_delete=True,
    max_num=len(FundSource.choices),
    validate_max=True,
)


def fund_line_formset(data=None, *, task: Task | None = None) -> BaseFundLineFormSet:
    initial = [{"source": line.source, "amount": line.amount} for line in task.fund_lines.all()] if task else []
    return FundLineFormSet(data, initial=initial, prefix="fund")


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one field; an empty list when none were chosen."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data if item]
        return [single(data, initial)] if data else []


class EvidenceUploadForm(forms.Form):
    """Evidence files: photos or PDFs chosen from the device, and a photo taken on the spot with a phone's camera.

    The files themselves are checked by ``tasks.services.validate_evidence_files`` (type, bytes, size).
    """

    evidence_testid = "evidence-input"

    files = MultipleFileField(
        label="佐证材料（照片或 PDF）",
        widget=MultipleFileInput(attrs={"accept": "image/*,application/pdf"}),
    )
    photo = MultipleFileField(
        label="现场拍照（手机）",
        widget=forms.FileInput(attrs={"accept": "image/*", "capture": "environment", "data-testid": "camera-input"}),
        help_text="在手机上点此直接打开相机拍照。",
    )

    def __init__(self, *args, max_upload_mb: int, **kwargs):
        super().__init__(*args, **kwargs)
        files = self.fields["files"]
        files.widget.attrs["data-testid"] = self.evidence_testid
        files.help_text = (
            f"照片（JPG、PNG、WebP、HEIC）或 PDF，每个不超过 {max_upload_mb} MB，连同拍照最多 {MAX_EVIDENCE_FILES} 个。"
        )

    def uploads(self) -> list:
        return [*self.cleaned_data.get("files", []), *self.cleaned_data.get("photo", [])]


class ProgressForm(StyledForm, EvidenceUploadForm):
    """A progress report from the field: progress, status, money invested so far, a note, photos or PDFs."""

    version = forms.IntegerField(widget=forms.HiddenInput, error_messages={"required": STALE_PAGE})
    reported_on = forms.DateField(label="填报日期", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    progress = forms.IntegerField(
        label="进度（%）",
        min_value=0,
        max_value=100,
        error_messages={"min_value": PROGRESS_RANGE, "max_value": PROGRESS_RANGE},
        widget=forms.NumberInput(attrs={"min": "0", "max": "100", "inputmode": "numeric"}),
    )
    status = forms.ChoiceField(label="状态", choices=Task.Status.choices)
    invested_funds = forms.DecimalField(
        label="累计投入（万元）",
        max_digits=14,
        decimal_places=4,
        min_value=0,
        error_messages={**MONEY_ERRORS, "min_value": "投入资金不能为负数。"},
        widget=forms.NumberInput(attrs={"step": "0.0001", "min": "0", "inputmode": "decimal"}),
    )
    note = forms.CharField(label="进展说明", required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, max_upload_mb: int, **kwargs):
        super().__init__(*args, max_upload_mb=max_upload_mb, **kwargs)
        # Made for a thumb on a phone: large inputs, and the size limit beside the camera too.
        self.fields["photo"].help_text = f"在手机上点此直接打开相机拍照；每张不超过 {max_upload_mb} MB。"
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.HiddenInput | forms.FileInput):
                continue
            size = "form-select-lg" if isinstance(widget, forms.Select) else "form-control-lg"
            widget.attrs["class"] = f"{widget.attrs.get('class', '')} {size}".strip()


class VersionForm(forms.Form):
    """A button that changes a row (mark complete): carries the version the page showed."""

    version = forms.IntegerField(widget=forms.HiddenInput, error_messages={"required": STALE_PAGE})


class RemoveForm(StyledForm, VersionForm):
    reason = forms.CharField(
        label="撤销原因",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "撤销任务须说明原因。"},
    )


def add_service_errors(form: forms.BaseForm, error: ValidationError, *, elsewhere: dict | None = None) -> None:
    """Put a service's ValidationError back on the form: beside each field, or above the form.

    Messages for keys in ``elsewhere`` (a dict key → list) are collected there instead (the fund lines).
    """
    if not hasattr(error, "error_dict"):
        form.add_error(None, error.messages)
        return
    for field, messages in error.message_dict.items():
        if elsewhere is not None and field in elsewhere:
            elsewhere[field].extend(messages)
        elif field in form.fields and field != NON_FIELD_ERRORS:
            form.add_error(field, messages)
        elif field == NON_FIELD_ERRORS:
            form.add_error(None, messages)
        else:
            label = _label(field)
            form.add_error(None, [f"{label}：{m}" if label else m for m in messages])


def _label(field: str) -> str:
    try:
        return str(Task._meta.get_field(field).verbose_name)
    except Exception:
        return ""


def _not_negative(message):
    def validate(value):
        if value is not None and value < 0:
            raise ValidationError(message, code="negative")

    return validate


class PlanCreateForm(forms.Form):
    village = forms.IntegerField(min_value=1)
    year = forms.IntegerField(label="计划年度", min_value=2000, max_value=2100)
