"""Admin for supervision (督查): inspections, findings, rectification, accountability and bulletins.

All of it is read-only here, with its history: inspections, findings and accountability are filed, rectification
answered and rechecked, bulletins generated, edited and published on the supervision pages and the API, through
``supervision.services`` and ``supervision.bulletin_services`` (version or fingerprint checks, reasons, history), and
the daily command keeps its own records. The admin adds, changes, deletes and reverts none of it.
"""

import json

from django.contrib import admin
from django.core.exceptions import ObjectDoesNotExist
from django.utils.html import format_html

from bazhou.core import clock
from bazhou.core.admin import HistoryAdmin, ModelAdmin, ViewOnlyMixin, count_of, titled_filter
from supervision.models import (
    Accountability,
    AccountabilityCase,
    Bulletin,
    DailyDigest,
    Escalation,
    Finding,
    Inspection,
    Lead,
    MonthlySnapshot,
    Opinion,
    OverdueRecord,
    Rectification,
    RectificationEvidence,
)
from tasks.admin import EvidenceAdminMixin, EvidenceInlineMixin


def rectification_of(finding):
    try:
        return finding.rectification
    except ObjectDoesNotExist:
        return None


# ---------------------------------------------------------------------------------------------
# Inspections
# ---------------------------------------------------------------------------------------------


@admin.register(Inspection)
class InspectionAdmin(ViewOnlyMixin, HistoryAdmin):
    list_display = (
        "title",
        "kind",
        "organiser",
        "start_date",
        "end_date",
        "inspectors",
        "methods_display",
        "finding_count",
    )
    list_filter = ("kind", "organiser", "district")
    search_fields = ("title", "inspectors", "summary")
    autocomplete_fields = ("villages", "households", "tasks")
    filter_horizontal = ("townships",)
    date_hierarchy = "start_date"
    ordering = ("-start_date", "-id")
    readonly_fields = ("methods_display", "created_by", "created_at")
    fieldsets = (
        (None, {"fields": ("district", "title", "kind", "organiser", ("start_date", "end_date"), "inspectors")}),
        ("督查对象与方法", {"fields": ("methods_display", "townships", "villages", "households", "tasks")}),
        ("督查情况", {"fields": ("summary",)}),
        ("记录", {"fields": ("created_by", "created_at"), "classes": ["collapse"]}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(finding_count=count_of(Finding, "inspection"))

    @admin.display(description="督查方法")
    def methods_display(self, obj):
        labels = dict(Inspection.Method.choices)
        return "、".join(str(labels.get(m, m)) for m in obj.methods or []) or "—"

    @admin.display(description="发现问题数", ordering="finding_count")
    def finding_count(self, obj):
        return obj.finding_count


# ---------------------------------------------------------------------------------------------
# Findings, with their rectification and accountability
# ---------------------------------------------------------------------------------------------


class RectificationInline(ViewOnlyMixin, admin.StackedInline):
    model = Rectification
    fields = (
        "requirement",
        ("responsible_unit", "responsible_person", "responsible_phone", "responsible_email"),
        ("deadline", "status"),
        "result",
        ("answered_by", "answered_at"),
        "recheck_note",
        ("rechecked_by", "rechecked_at"),
        "closed_on",
    )
    autocomplete_fields = ("answered_by", "rechecked_by")
    extra = 0
    max_num = 1
    show_change_link = True


class AccountabilityInline(ViewOnlyMixin, admin.TabularInline):
    model = Accountability
    fields = ("subject_kind", "subject", "subject_post", "measure", "decided_by", "decided_on", "document_number")
    extra = 0


class RectificationStatusFilter(admin.SimpleListFilter):
    title = "整改状态"
    parameter_name = "rectification"

    def lookups(self, request, model_admin):
        return [("none", "未下达整改"), *Rectification.Status.choices, ("overdue", "整改逾期")]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "none":
            return queryset.filter(rectification__isnull=True)
        if value == "overdue":
            return queryset.filter(rectification__in=Rectification.objects.overdue(clock.today()))
        if value in Rectification.Status.values:
            return queryset.filter(rectification__status=value)
        return queryset


class TargetKindFilter(admin.SimpleListFilter):
    title = "问题对象"
    parameter_name = "target"

    def lookups(self, request, model_admin):
        return [("task", "任务"), ("village", "村"), ("household", "户"), ("township", "乡镇")]

    def queryset(self, request, queryset):
        if self.value() in ("task", "village", "household", "township"):
            return queryset.filter(**{f"{self.value()}__isnull": False})
        return queryset


# Styles of the HTML these admins write (no inline style: the Content-Security-Policy forbids it).
ADMIN_CSS = {"all": ["css/admin.css"]}


@admin.register(Finding)
class FindingAdmin(ViewOnlyMixin, HistoryAdmin):
    class Media:
        css = ADMIN_CSS

    list_display = (
        "short_description",
        "type",
        "severity",
        "target_display",
        "found_on",
        "inspection",
        "rectification_status",
        "rectification_deadline",
    )
    list_filter = (
        "type",
        "severity",
        RectificationStatusFilter,
        TargetKindFilter,
        ("inspection__kind", titled_filter("督查方式")),
    )
    list_select_related = (
        "inspection",
        "task__plan__village",
        "village__township",
        "household__village",
        "township",
        "rectification",
    )
    search_fields = (
        "description",
        "task__item",
        "village__name",
        "household__number",
        "township__name",
        "inspection__title",
    )
    autocomplete_fields = ("inspection", "task", "village", "household", "reported_by")
    date_hierarchy = "found_on"
    ordering = ("-found_on", "-id")
    readonly_fields = ("created_at",)
    fieldsets = (
        (None, {"fields": ("inspection", "type", "severity", "description", "found_on")}),
        ("问题对象（任务、村、户、乡镇选其一）", {"fields": ("task", "village", "household", "township")}),
        ("记录", {"fields": ("reported_by", "created_at"), "classes": ["collapse"]}),
    )
    inlines = (RectificationInline, AccountabilityInline)
    history_list_display = ("type", "severity")

    @admin.display(description="问题描述", ordering="description")
    def short_description(self, obj):
        text = obj.description
        return text if len(text) <= 40 else text[:40] + "…"

    @admin.display(description="问题对象")
    def target_display(self, obj):
        if obj.task_id:
            return f"任务：{obj.task.plan.village.name} {obj.task.item}"
        if obj.village_id:
            return f"村：{obj.village.township.name} {obj.village.name}"
        if obj.household_id:
            return f"户：{obj.household.village.name} {obj.household.number}"
        if obj.township_id:
            return f"乡镇：{obj.township.name}"
        return "—"

    @admin.display(description="整改状态", ordering="rectification__status")
    def rectification_status(self, obj):
        rectification = rectification_of(obj)
        return rectification.get_status_display() if rectification else "未下达"

    @admin.display(description="整改时限", ordering="rectification__deadline")
    def rectification_deadline(self, obj):
        rectification = rectification_of(obj)
        if rectification is None:
            return "—"
        if rectification.is_overdue(clock.today()):
            return format_html('<strong class="overdue-deadline">{}（逾期）</strong>', rectification.deadline)
        return rectification.deadline


# ---------------------------------------------------------------------------------------------
# Rectification and its evidence
# ---------------------------------------------------------------------------------------------


class OverdueRectificationFilter(admin.SimpleListFilter):
    """逾期: past the deadline and not closed (Rectification.objects.overdue)."""

    title = "逾期"
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return [("yes", "已逾期"), ("no", "未逾期")]

    def queryset(self, request, queryset):
        today = clock.today()
        if self.value() == "yes":
            return queryset.overdue(today)
        if self.value() == "no":
            return queryset.exclude(pk__in=Rectification.objects.overdue(today).values("pk"))
        return queryset


class RectificationEvidenceInline(ViewOnlyMixin, EvidenceInlineMixin, admin.TabularInline):
    model = RectificationEvidence


@admin.register(Rectification)
class RectificationAdmin(ViewOnlyMixin, HistoryAdmin):
    list_display = (
        "finding_display",
        "finding_type",
        "status",
        "deadline",
        "is_overdue",
        "responsible_unit",
        "responsible_person",
        "answered_by",
        "rechecked_by",
        "closed_on",
    )
    list_filter = (OverdueRectificationFilter, "status", "finding__type", "finding__severity")
    list_select_related = ("finding", "answered_by", "rechecked_by")
    search_fields = ("finding__description", "responsible_person", "responsible_unit", "requirement")
    autocomplete_fields = ("finding", "answered_by", "rechecked_by")
    date_hierarchy = "deadline"
    ordering = ("deadline", "id")
    readonly_fields = ("version",)
    fieldsets = (
        (None, {"fields": ("finding", "requirement", "deadline", "status")}),
        ("责任", {"fields": ("responsible_unit", "responsible_person", "responsible_phone", "responsible_email")}),
        ("整改结果", {"fields": ("result", "answered_by", "answered_at")}),
        ("复查销号", {"fields": ("recheck_note", "rechecked_by", "rechecked_at", "closed_on")}),
        ("记录", {"fields": ("version",), "classes": ["collapse"]}),
    )
    inlines = (RectificationEvidenceInline,)
    history_list_display = ("status",)

    @admin.display(description="问题", ordering="finding__description")
    def finding_display(self, obj):
        text = obj.finding.description
        return text if len(text) <= 40 else text[:40] + "…"

    @admin.display(description="问题类型", ordering="finding__type")
    def finding_type(self, obj):
        return obj.finding.get_type_display()

    @admin.display(description="逾期", boolean=True)
    def is_overdue(self, obj):
        return obj.is_overdue(clock.today())


@admin.register(RectificationEvidence)
class RectificationEvidenceAdmin(ViewOnlyMixin, EvidenceAdminMixin, ModelAdmin):
    list_display = ("original_name", "rectification", "content_type", "size_display", "uploaded_by", "uploaded_at")
    list_select_related = ("rectification__finding", "uploaded_by")
    list_filter = ("content_type", "rectification__status")
    search_fields = ("original_name", "rectification__finding__description")
    autocomplete_fields = ("rectification",)

    def scope_queryset(self, request, qs):
        return qs.filter(rectification__in=Rectification.objects.visible_to(request.user))


# ---------------------------------------------------------------------------------------------
# Accountability and bulletins
# ---------------------------------------------------------------------------------------------


@admin.register(Accountability)
class AccountabilityAdmin(ViewOnlyMixin, HistoryAdmin):
    list_display = (
        "subject",
        "subject_kind",
        "subject_post",
        "measure",
        "decided_by",
        "decided_on",
        "document_number",
        "finding_display",
    )
    list_filter = ("measure", "subject_kind", "decided_by", "finding__type")
    list_select_related = ("finding",)
    search_fields = ("subject", "subject_post", "document_number", "finding__description")
    autocomplete_fields = ("finding",)
    date_hierarchy = "decided_on"
    ordering = ("-decided_on", "-id")

    def scope_queryset(self, request, qs):
        return qs.filter(finding__in=Finding.objects.visible_to(request.user))

    @admin.display(description="问题", ordering="finding__description")
    def finding_display(self, obj):
        text = obj.finding.description
        return text if len(text) <= 30 else text[:30] + "…"


@admin.register(Bulletin)
class BulletinAdmin(ViewOnlyMixin, HistoryAdmin):
    class Media:
        css = ADMIN_CSS

    list_display = ("__str__", "year", "number", "issuer", "issued_on", "period", "state", "published_by")
    list_display_links = ("__str__",)
    list_filter = ("year", "state", "issuer", "district")
    list_select_related = ("published_by",)
    search_fields = ("title", "body")
    autocomplete_fields = ("published_by",)
    date_hierarchy = "issued_on"
    ordering = ("-year", "-number")
    readonly_fields = ("snapshot_display", "created_by", "created_at")
    fieldsets = (
        (None, {"fields": ("district", ("year", "number"), "title", "issuer", "issued_on")}),
        ("通报期间", {"fields": (("period_start", "period_end"),)}),
        ("内容", {"fields": ("body", "snapshot_display")}),
        ("发布", {"fields": ("state", "published_by", "published_at")}),
        ("记录", {"fields": ("created_by", "created_at"), "classes": ["collapse"]}),
    )

    @admin.display(description="通报期间")
    def period(self, obj):
        return f"{obj.period_start} 至 {obj.period_end}"

    @admin.display(description="通报数据")
    def snapshot_display(self, obj):
        if not obj or not obj.snapshot:
            return "—"
        return format_html(
            '<pre class="snapshot-json">{}</pre>',
            json.dumps(obj.snapshot, ensure_ascii=False, indent=2, default=str),
        )


@admin.register(OverdueRecord)
class OverdueRecordAdmin(ViewOnlyMixin, ModelAdmin):
    """What the daily command recorded and whom it told; written only by the command."""

    list_display = ("__str__", "deadline", "recorded_on", "notified_to", "notified_at")
    list_filter = ("recorded_on",)
    list_select_related = ("task", "rectification__finding")
    date_hierarchy = "recorded_on"


@admin.register(DailyDigest)
class DailyDigestAdmin(ViewOnlyMixin, ModelAdmin):
    list_display = ("district", "day", "recipients", "sent_at")
    list_select_related = ("district",)
    date_hierarchy = "day"


@admin.register(MonthlySnapshot)
class MonthlySnapshotAdmin(ViewOnlyMixin, ModelAdmin):
    """月度快照: immutable (supervision.snapshots); a correction is taken on the snapshots page, never edited here."""

    list_display = ("month", "area_name", "as_of", "kind", "taken_by", "corrects_id", "correction_reason")
    list_filter = ("kind", "month")
    list_select_related = ("district", "township", "village", "taken_by")
    search_fields = ("area_key",)
    date_hierarchy = "month"


# ---------------------------------------------------------------------------------------------
# Leads (线索) and supervision opinions (督导意见): filed and handled on the supervision pages
# (``supervision.lead_services``), read here with their history.
# ---------------------------------------------------------------------------------------------


@admin.register(Lead)
class LeadAdmin(ViewOnlyMixin, HistoryAdmin):
    list_display = ("__str__", "kind", "village", "observed_on", "state", "filed_by", "handled_by", "handled_at")
    list_filter = ("state", "kind")
    list_select_related = ("village", "filed_by", "handled_by")
    search_fields = ("description", "handling_note", "village__name")
    date_hierarchy = "observed_on"
    ordering = ("-observed_on", "-id")
    readonly_fields = ("filed_at",)
    raw_id_fields = ("village", "task", "household", "finding", "filed_by", "handled_by")


@admin.register(Opinion)
class OpinionAdmin(ViewOnlyMixin, HistoryAdmin):
    list_display = ("__str__", "body", "finding", "given_on", "given_by", "created_at")
    list_filter = ("body",)
    list_select_related = ("finding", "given_by")
    search_fields = ("text",)
    date_hierarchy = "given_on"
    ordering = ("-given_on", "-id")
    readonly_fields = ("created_at",)
    raw_id_fields = ("finding", "given_by")


# ---------------------------------------------------------------------------------------------
# Escalations (提请协调) and the 纪委's cases (追责线索): opened by ``supervision.chain`` (the daily run, a
# finding filed with 提请挂包领导协调, a second rejection at recheck), answered and decided on the supervision
# pages; read here with their history.
# ---------------------------------------------------------------------------------------------


@admin.register(Escalation)
class EscalationAdmin(ViewOnlyMixin, HistoryAdmin):
    list_display = ("__str__", "reason", "leader", "opened_on", "respond_by", "responded_by", "responded_at")
    list_filter = ("reason", ("responded_at", admin.EmptyFieldListFilter))
    list_select_related = ("finding", "leader", "responded_by")
    search_fields = ("finding__description", "response")
    date_hierarchy = "opened_on"
    ordering = ("respond_by", "id")
    raw_id_fields = ("finding", "leader", "responded_by")


@admin.register(AccountabilityCase)
class AccountabilityCaseAdmin(ViewOnlyMixin, HistoryAdmin):
    list_display = ("__str__", "reason", "state", "opened_on", "detail", "decided_by", "decided_at")
    list_filter = ("state", "reason", "district")
    list_select_related = ("task", "rectification__finding", "decided_by")
    search_fields = ("detail", "decision_note", "task__item", "rectification__finding__description")
    date_hierarchy = "opened_on"
    ordering = ("-opened_on", "-id")
    raw_id_fields = ("task", "rectification", "accountability", "decided_by")
