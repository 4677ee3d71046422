"""Admin for the plan table (施工图): plans, tasks, fund-source lines, progress reports and their evidence.

All read-only, with their history: plan rows are added, changed, removed and reported on the plan pages, the API
and the imports, through ``tasks.services`` (version checks, reasons on approved plans, history, no hard delete).
"""

from django import forms
from django.conf import settings
from django.contrib import admin
from django.db.models import DecimalField
from django.urls import reverse
from django.utils.html import format_html

from bazhou.core import clock
from bazhou.core.access import AreaPaths
from bazhou.core.admin import HistoryAdmin, ModelAdmin, SuperuserOnlyMixin, ViewOnlyMixin, count_of, sum_of
from tasks.models import (
    Category,
    ChangeRequest,
    ChangeRequestEvidence,
    FundLine,
    Plan,
    ProgressEvidence,
    ProgressUpdate,
    StagedUpload,
    Task,
)
from villages.admin import ExitIndicatorAdmin
from villages.models import ExitIndicator

TASK_AREA = AreaPaths(
    district="task__plan__village__township__district",
    township="task__plan__village__township",
    village="task__plan__village",
)

# ---------------------------------------------------------------------------------------------
# Evidence files (shared with supervision.admin)
# ---------------------------------------------------------------------------------------------

EVIDENCE_META_FIELDS = ("original_name", "content_type", "size", "uploaded_by", "uploaded_at")


class EvidenceInlineMixin:
    """Evidence files are uploaded with a progress report or a rectification answer (the pages check the file's
    type and bytes); here they are listed, never uploaded or replaced."""

    fields = ("file", *EVIDENCE_META_FIELDS)
    readonly_fields = EVIDENCE_META_FIELDS
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("uploaded_by")


class EvidenceAdminMixin:
    readonly_fields = EVIDENCE_META_FIELDS
    date_hierarchy = "uploaded_at"
    search_fields = ("original_name",)
    ordering = ("-uploaded_at", "-id")

    @admin.display(description="大小", ordering="size")
    def size_display(self, obj):
        if obj.size < 1024 * 1024:
            return f"{obj.size / 1024:.0f} KB"
        return f"{obj.size / 1024 / 1024:.1f} MB"


# ---------------------------------------------------------------------------------------------
# Plans
# ---------------------------------------------------------------------------------------------


@admin.register(Plan)
class PlanAdmin(ViewOnlyMixin, HistoryAdmin):
    list_display = (
        "__str__",
        "village",
        "township",
        "year",
        "state",
        "task_count",
        "planned_funds",
        "approved_by",
        "approved_at",
        "tasks_link",
    )
    list_filter = ("year", "state", "village__township")
    list_select_related = ("village__township", "approved_by")
    search_fields = ("village__name", "^village__code")
    autocomplete_fields = ("village", "approved_by")
    ordering = ("-year", "village__code")
    area_paths = AreaPaths(district="village__township__district", township="village__township", village="village")
    history_list_display = ("state",)

    def get_queryset(self, request):
        live = {"is_removed": False}
        return (
            super()
            .get_queryset(request)
            .annotate(
                task_count=count_of(Task, "plan", **live),
                planned_funds=sum_of(
                    Task, "plan", "planned_funds", DecimalField(max_digits=16, decimal_places=4), **live
                ),
            )
        )

    @admin.display(description="乡镇", ordering="village__township__name")
    def township(self, obj):
        return obj.village.township

    @admin.display(description="任务数", ordering="task_count")
    def task_count(self, obj):
        return obj.task_count

    @admin.display(description="计划资金（万元）", ordering="planned_funds")
    def planned_funds(self, obj):
        return obj.planned_funds if obj.planned_funds is not None else 0

    @admin.display(description="任务")
    def tasks_link(self, obj):
        url = reverse("admin:tasks_task_changelist") + f"?plan__id__exact={obj.pk}"
        return format_html('<a href="{}">查看任务</a>', url)


# ---------------------------------------------------------------------------------------------
# Tasks
# ---------------------------------------------------------------------------------------------


class DeadlineFilter(admin.SimpleListFilter):
    """逾期: past the deadline and not complete (Task.objects.overdue), plus due-soon and stale rows."""

    title = "逾期"
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return [
            ("overdue", "已逾期"),
            ("due_soon", f"{settings.BAZHOU_DUE_SOON_DAYS}天内到期"),
            ("stale", f"{settings.BAZHOU_STALE_DAYS}天未报进度"),
        ]

    def queryset(self, request, queryset):
        today = clock.today()
        if self.value() == "overdue":
            return queryset.overdue(today)
        if self.value() == "due_soon":
            return queryset.due_within(today, settings.BAZHOU_DUE_SOON_DAYS)
        if self.value() == "stale":
            return queryset.stale(today, settings.BAZHOU_STALE_DAYS)
        return queryset


class KindFilter(admin.SimpleListFilter):
    title = "任务类型"
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        return [("village", "一村一案"), ("household", "一户一策")]

    def queryset(self, request, queryset):
        if self.value() == "village":
            return queryset.village_rows()
        if self.value() == "household":
            return queryset.household_rows()
        return queryset


class FundLineInline(ViewOnlyMixin, admin.TabularInline):
    model = FundLine
    fields = ("source", "amount")
    extra = 0


class ProgressUpdateInline(ViewOnlyMixin, admin.TabularInline):
    """Read-only: progress is reported (with evidence) through the 进度填报 pages, not edited here."""

    model = ProgressUpdate
    fields = ("reported_on", "progress", "status", "invested_funds", "note", "reported_by", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ("-reported_on", "-id")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("reported_by")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Task)
class TaskAdmin(ViewOnlyMixin, HistoryAdmin):
    list_display = (
        "item",
        "village",
        "township",
        "plan_year",
        "household",
        "category",
        "quantity_display",
        "planned_funds",
        "invested_funds",
        "fund_lines_total",
        "status",
        "progress_display",
        "deadline",
        "is_overdue",
        "responsible_person",
    )
    list_filter = (
        DeadlineFilter,
        "status",
        "category",
        KindFilter,
        "plan__year",
        "plan__state",
        "is_removed",
        "plan__village__township",
    )
    list_select_related = ("plan__village__township", "household")
    search_fields = (
        "item",
        "responsible_person",
        "responsible_unit",
        "plan__village__name",
        "^plan__village__code",
        "household__number",
    )
    autocomplete_fields = ("plan", "household")
    date_hierarchy = "deadline"
    ordering = ("-plan__year", "plan__village__code", "deadline", "id")
    readonly_fields = ("last_progress_on", "version", "created_by", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("plan", "household", "category", "item", ("quantity", "unit"))}),
        ("完成时限", {"fields": ("deadline", "deadline_text")}),
        ("资金", {"fields": ("planned_funds", "invested_funds")}),
        ("责任", {"fields": ("responsible_unit", "responsible_person", "responsible_phone")}),
        ("进度", {"fields": ("status", "progress", "completed_on", "last_progress_on")}),
        ("撤销", {"fields": ("is_removed", "removed_reason"), "classes": ["collapse"]}),
        ("记录", {"fields": ("version", "created_by", "created_at", "updated_at"), "classes": ["collapse"]}),
    )
    inlines = (FundLineInline, ProgressUpdateInline)
    history_list_display = ("status", "progress", "deadline", "planned_funds")

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                fund_lines_total=sum_of(FundLine, "task", "amount", DecimalField(max_digits=16, decimal_places=4))
            )
        )

    @admin.display(description="村", ordering="plan__village__name")
    def village(self, obj):
        return obj.plan.village

    @admin.display(description="乡镇", ordering="plan__village__township__name")
    def township(self, obj):
        return obj.plan.village.township

    @admin.display(description="年度", ordering="plan__year")
    def plan_year(self, obj):
        return obj.plan.year

    @admin.display(description="数量")
    def quantity_display(self, obj):
        if obj.quantity is None:
            return "—"
        return f"{obj.quantity.normalize():f} {obj.unit}".strip()

    @admin.display(description="资金来源合计（万元）", ordering="fund_lines_total")
    def fund_lines_total(self, obj):
        return "—" if obj.fund_lines_total is None else obj.fund_lines_total

    @admin.display(description="进度", ordering="progress")
    def progress_display(self, obj):
        return f"{obj.progress}%"

    @admin.display(description="逾期", boolean=True)
    def is_overdue(self, obj):
        return obj.is_overdue(clock.today())


@admin.register(FundLine)
class FundLineAdmin(ViewOnlyMixin, HistoryAdmin):
    list_display = ("task", "village", "plan_year", "source", "amount")
    list_filter = ("source", "task__plan__year", "task__plan__village__township")
    list_select_related = ("task__plan__village",)
    search_fields = ("task__item", "task__plan__village__name", "^task__plan__village__code")
    autocomplete_fields = ("task",)
    ordering = ("-task__plan__year", "task__plan__village__code", "task_id", "source")
    area_paths = TASK_AREA

    @admin.display(description="村", ordering="task__plan__village__name")
    def village(self, obj):
        return obj.task.plan.village

    @admin.display(description="年度", ordering="task__plan__year")
    def plan_year(self, obj):
        return obj.task.plan.year


# ---------------------------------------------------------------------------------------------
# Progress reports and their evidence
# ---------------------------------------------------------------------------------------------


class ProgressEvidenceInline(ViewOnlyMixin, EvidenceInlineMixin, admin.TabularInline):
    model = ProgressEvidence


@admin.register(ProgressUpdate)
class ProgressUpdateAdmin(ViewOnlyMixin, ModelAdmin):
    list_display = (
        "task",
        "village",
        "reported_on",
        "progress_display",
        "status",
        "invested_funds",
        "reported_by",
        "evidence_count",
    )
    list_filter = ("status", "task__plan__year", "task__category", "task__plan__village__township")
    list_select_related = ("task__plan__village", "reported_by")
    search_fields = ("task__item", "note", "task__plan__village__name", "^task__plan__village__code")
    autocomplete_fields = ("task", "reported_by")
    date_hierarchy = "reported_on"
    ordering = ("-reported_on", "-id")
    readonly_fields = ("created_at",)
    inlines = (ProgressEvidenceInline,)
    area_paths = TASK_AREA

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(evidence_count=count_of(ProgressEvidence, "update"))

    @admin.display(description="村", ordering="task__plan__village__name")
    def village(self, obj):
        return obj.task.plan.village

    @admin.display(description="进度", ordering="progress")
    def progress_display(self, obj):
        return f"{obj.progress}%"

    @admin.display(description="佐证材料", ordering="evidence_count")
    def evidence_count(self, obj):
        return obj.evidence_count


@admin.register(ProgressEvidence)
class ProgressEvidenceAdmin(ViewOnlyMixin, EvidenceAdminMixin, ModelAdmin):
    list_display = ("original_name", "update", "village", "content_type", "size_display", "uploaded_by", "uploaded_at")
    list_select_related = ("update__task__plan__village", "uploaded_by")
    list_filter = ("content_type", "update__task__plan__village__township")
    search_fields = ("original_name", "update__task__item", "update__task__plan__village__name")
    autocomplete_fields = ("update",)
    area_paths = AreaPaths(
        district="update__task__plan__village__township__district",
        township="update__task__plan__village__township",
        village="update__task__plan__village",
    )

    @admin.display(description="村", ordering="update__task__plan__village__name")
    def village(self, obj):
        return obj.update.task.plan.village


# ---------------------------------------------------------------------------------------------
# Change requests (变更申请): asked, approved, rejected and withdrawn on the pages (tasks.changes); read here.
# ---------------------------------------------------------------------------------------------

CHANGE_AREA = AreaPaths(
    district="plan__village__township__district", township="plan__village__township", village="plan__village"
)


class ChangeRequestEvidenceInline(ViewOnlyMixin, EvidenceInlineMixin, admin.TabularInline):
    model = ChangeRequestEvidence


@admin.register(ChangeRequest)
class ChangeRequestAdmin(ViewOnlyMixin, HistoryAdmin):
    list_display = ("__str__", "plan", "task", "kind", "reason_category", "state", "requested_by", "requested_at")
    list_filter = ("state", "kind", "reason_category", "plan__village__township")
    list_select_related = ("plan__village", "task", "requested_by")
    search_fields = ("reason", "task__item", "plan__village__name")
    autocomplete_fields = ("plan", "task", "requested_by", "decided_by")
    ordering = ("-requested_at", "-id")
    inlines = (ChangeRequestEvidenceInline,)
    area_paths = CHANGE_AREA
    history_list_display = ("state",)


@admin.register(ChangeRequestEvidence)
class ChangeRequestEvidenceAdmin(ViewOnlyMixin, EvidenceAdminMixin, ModelAdmin):
    list_display = ("original_name", "request", "content_type", "size_display", "uploaded_by", "uploaded_at")
    list_select_related = ("request__plan__village", "request__task", "uploaded_by")
    search_fields = ("original_name", "request__reason")
    autocomplete_fields = ("request",)
    area_paths = CHANGE_AREA.prefixed("request")


@admin.register(StagedUpload)
class StagedUploadAdmin(SuperuserOnlyMixin, ViewOnlyMixin, admin.ModelAdmin):
    """Photos kept for progress forms that came back with an error (tasks.staging): who, what, when; never edited,
    deleted after a day by the daily run."""

    list_display = ("created_at", "user", "original_name", "content_type", "size")
    search_fields = ("user__username", "original_name")
    list_select_related = ("user",)
    list_per_page = 100
    show_full_result_count = False


# ---------------------------------------------------------------------------------------------
# Exit indicators (villages): the plan-row category that delivers an indicator is one of the plan's categories,
# offered as a choice here (villages sits below the plan and does not know its categories).
# ---------------------------------------------------------------------------------------------


class ExitIndicatorForm(forms.ModelForm):
    task_category = forms.ChoiceField(
        label="对应任务类别",
        required=False,
        choices=[("", "—")] + list(Category.choices),
        help_text="判定依据为“施工图任务”时填写：该类别的村级任务完成即达标（如道路 → 有硬化路）。",
    )

    class Meta:
        model = ExitIndicator
        fields = ("year", "code", "name", "description", "threshold", "order", "source", "task_category")


admin.site.unregister(ExitIndicator)


@admin.register(ExitIndicator)
class PlanExitIndicatorAdmin(ExitIndicatorAdmin):
    form = ExitIndicatorForm
