"""API for supervision (督查): inspections, findings with their accountability records, rectifications with their
lifecycle (start → answer with evidence → recheck: close or send back), and bulletins (generate, edit the draft,
publish, download the Excel file), through ``supervision.services`` and ``supervision.bulletin_services``.

- Reading: ``Finding.objects.visible_to`` (an area's user sees the findings against their area),
  ``Rectification.objects.visible_to``, ``Inspection.objects.visible_to``, ``Bulletin.objects.visible_to`` (drafts
  only for supervisors and district admins).
- Filing inspections, findings, accountability and rechecking: supervisors and district admins (others: 403).
  Starting and answering a rectification: the finding's area staff (district admin, township staff, village
  cadre); the service decides the area (outside: 404).
- A rectification's ETag is its version, a bulletin's the digest of its editable content (``fingerprint``);
  their writes need ``If-Match`` (missing: 428, stale: 412 with the record as it stands).

Queries: findings list two (the findings with their target, township and rectification; their accountability
records), rectifications two (with finding; evidence files), inspections three (the inspections with their
visible finding count; their townships; their villages), bulletins one.
"""

from __future__ import annotations

import datetime

from django import forms as django_forms
from django.db.models import Count, Exists, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from bazhou.core import access, clock
from bazhou.core.api.base import ApiViewSet
from bazhou.core.api.fields import Label, Overdue, StrictSerializer, VisibleRow
from bazhou.core.api.files import WITH_FILES, EvidenceSerializer, evidence_download, evidence_files, file_response
from bazhou.core.api.filters import BooleanFilter, FilterSet, IdFilter
from bazhou.core.api.permissions import AREA_STAFF_ONLY, SUPERVISORS_ONLY, require
from bazhou.core.api.schema import changes, creates, documented, download, errors
from households.models import Household
from supervision import bulletin_services, exports, services
from supervision.models import (
    Accountability,
    Bulletin,
    Finding,
    Inspection,
    MonthlySnapshot,
    Organiser,
    Rectification,
    RectificationEvidence,
    rectification_overdue_q,
)
from supervision.views import FINDING_RELATED
from tasks.models import Task
from villages.models import District, Township, Village

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ONE_TARGET = "问题须且只须对应一个对象：任务（task）、村（village）、户（household）或乡镇（township）之一。"


# ---------------------------------------------------------------------------------------------
# Serializers: reading
# ---------------------------------------------------------------------------------------------


class InspectionSerializer(serializers.ModelSerializer):
    kind_display = Label(Inspection.Kind.choices, source="kind")
    organiser_display = Label(Organiser.choices, source="organiser")
    methods = serializers.ListField(child=serializers.ChoiceField(choices=Inspection.Method.choices), read_only=True)
    finding_count = serializers.IntegerField(read_only=True, help_text="本次督查中您能看到的问题数")

    class Meta:
        model = Inspection
        fields = [
            "id",
            "district",
            "title",
            "kind",
            "kind_display",
            "organiser",
            "organiser_display",
            "start_date",
            "end_date",
            "inspectors",
            "methods",
            "townships",
            "villages",
            "summary",
            "finding_count",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields


class RectificationBriefSerializer(serializers.ModelSerializer):
    status_display = Label(Rectification.Status.choices, source="status")
    overdue = Overdue(help_text="逾期：过了整改时限仍未销号")

    class Meta:
        model = Rectification
        fields = ["id", "status", "status_display", "deadline", "overdue", "responsible_person", "version"]
        read_only_fields = fields


class AccountabilitySerializer(serializers.ModelSerializer):
    subject_kind_display = Label(Accountability.SubjectKind.choices, source="subject_kind")
    measure_display = Label(Accountability.Measure.choices, source="measure")
    decided_by_display = Label(Organiser.choices, source="decided_by")

    class Meta:
        model = Accountability
        fields = [
            "id",
            "finding",
            "subject_kind",
            "subject_kind_display",
            "subject",
            "subject_post",
            "measure",
            "measure_display",
            "decided_by",
            "decided_by_display",
            "decided_on",
            "document_number",
            "note",
        ]
        read_only_fields = fields


class FindingSerializer(serializers.ModelSerializer):
    target_type = serializers.SerializerMethodField(help_text="task、village、household 或 township")
    target_text = serializers.SerializerMethodField(help_text="问题对象，如“茅垭村 通村硬化路”")
    township = serializers.SerializerMethodField(help_text="问题所在乡镇的代码")
    township_name = serializers.SerializerMethodField()
    type_display = Label(Finding.Type.choices, source="type")
    severity_display = Label(Finding.Severity.choices, source="severity")
    rectification = RectificationBriefSerializer(read_only=True, allow_null=True, help_text="整改（没有时为空）")
    accountabilities = AccountabilitySerializer(many=True, read_only=True)

    class Meta:
        model = Finding
        fields = [
            "id",
            "inspection",
            "target_type",
            "task",
            "village",
            "household",
            "township",
            "township_name",
            "target_text",
            "type",
            "type_display",
            "severity",
            "severity_display",
            "description",
            "found_on",
            "reported_by",
            "created_at",
            "rectification",
            "accountabilities",
        ]
        read_only_fields = fields

    def get_target_type(self, finding) -> str:
        return next(name for name in services.TARGETS if getattr(finding, f"{name}_id"))

    def _township(self, finding) -> Township:
        if finding.task_id:
            return finding.task.plan.village.township
        if finding.village_id:
            return finding.village.township
        if finding.household_id:
            return finding.household.village.township
        return finding.township

    def get_township(self, finding) -> str:
        return self._township(finding).code

    def get_township_name(self, finding) -> str:
        return self._township(finding).name

    def get_target_text(self, finding) -> str:
        if finding.task_id:
            task = finding.task
            household = f"（户 {task.household.number}）" if task.household_id else ""
            return f"{task.plan.village.name} {task.item}{household}"
        if finding.village_id:
            return finding.village.name
        if finding.household_id:
            return f"{finding.household.village.name} {finding.household.number}"
        return finding.township.name


class RectificationEvidenceSerializer(EvidenceSerializer):
    url_name, row_id = "api:rectification-evidence", "rectification_id"

    class Meta(EvidenceSerializer.Meta):
        model = RectificationEvidence


class RectificationSerializer(serializers.ModelSerializer):
    finding_description = serializers.CharField(source="finding.description", read_only=True)
    status_display = Label(Rectification.Status.choices, source="status")
    overdue = Overdue(help_text="逾期：过了整改时限仍未销号")
    evidence = RectificationEvidenceSerializer(many=True, read_only=True)
    responsible_email = serializers.CharField(read_only=True, help_text="责任人电子邮箱，未填时为空字符串")

    class Meta:
        model = Rectification
        fields = [
            "id",
            "finding",
            "finding_description",
            "requirement",
            "responsible_unit",
            "responsible_person",
            "responsible_phone",
            "responsible_email",
            "deadline",
            "status",
            "status_display",
            "overdue",
            "result",
            "answered_by",
            "answered_at",
            "recheck_note",
            "rechecked_by",
            "rechecked_at",
            "closed_on",
            "evidence",
            "version",
        ]
        read_only_fields = fields


class BulletinSerializer(serializers.ModelSerializer):
    issuer_display = Label(Organiser.choices, source="issuer")
    state_display = Label(Bulletin.State.choices, source="state")
    totals = serializers.SerializerMethodField(help_text="逾期任务数、未销号整改数等合计（发布后不再变化）")

    class Meta:
        model = Bulletin
        fields = [
            "id",
            "district",
            "year",
            "number",
            "doc_number",
            "title",
            "issuer",
            "issuer_display",
            "issued_on",
            "period_start",
            "period_end",
            "state",
            "state_display",
            "totals",
            "published_by",
            "published_at",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields

    def get_totals(self, bulletin) -> dict[str, int]:
        return (bulletin.snapshot or {}).get("totals", {})


class BulletinDetailSerializer(BulletinSerializer):
    snapshot = serializers.JSONField(
        read_only=True, help_text="生成时的数据：乡镇排名、责任人排名、逾期任务、未销号整改（发布后不再变化）"
    )

    class Meta(BulletinSerializer.Meta):
        fields = [*BulletinSerializer.Meta.fields, "body", "snapshot"]
        read_only_fields = fields


# ---------------------------------------------------------------------------------------------
# Serializers: writing
# ---------------------------------------------------------------------------------------------


class InspectionWriteSerializer(StrictSerializer):
    title = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=Inspection.Kind.choices)
    organiser = serializers.ChoiceField(choices=Organiser.choices)
    start_date = serializers.DateField()
    end_date = serializers.DateField()
    inspectors = serializers.CharField(max_length=300, allow_blank=True, required=False)
    methods = serializers.ListField(
        child=serializers.ChoiceField(choices=Inspection.Method.choices), required=False, default=list
    )
    summary = serializers.CharField(allow_blank=True, required=False)
    townships = VisibleRow(Township, "该乡镇", many=True, required=False, default=list, help_text="乡镇代码")
    villages = VisibleRow(Village, "该村", many=True, required=False, default=list, help_text="村 id")


class RectificationDemandSerializer(serializers.Serializer):
    requirement = serializers.CharField(error_messages={"required": "请填写整改要求。", "blank": "请填写整改要求。"})
    responsible_unit = serializers.CharField(max_length=100, allow_blank=True, required=False)
    responsible_person = serializers.CharField(max_length=50, allow_blank=True, required=False)
    responsible_phone = serializers.CharField(max_length=20, allow_blank=True, required=False)
    responsible_email = serializers.EmailField(
        allow_blank=True, required=False, error_messages={"invalid": "请输入有效的电子邮箱地址。"}
    )
    deadline = serializers.DateField(
        required=False, allow_null=True, help_text=f"整改时限；不填则为发现日期后 {Rectification.DEFAULT_MONTHS} 个月"
    )


def live_tasks(user):
    return Task.objects.visible_to(user).live()


class FindingWriteSerializer(StrictSerializer):
    task = VisibleRow(Task, "该任务", rows=live_tasks, required=False, allow_null=True)
    village = VisibleRow(Village, "该村", required=False, allow_null=True)
    household = VisibleRow(Household, "该户", required=False, allow_null=True)
    township = VisibleRow(Township, "该乡镇", required=False, allow_null=True)
    inspection = VisibleRow(Inspection, "该督查", required=False, allow_null=True)
    type = serializers.ChoiceField(choices=Finding.Type.choices, error_messages={"required": "请选择问题类型。"})
    severity = serializers.ChoiceField(choices=Finding.Severity.choices, required=False)
    description = serializers.CharField(error_messages={"required": "请填写问题描述。", "blank": "请填写问题描述。"})
    found_on = serializers.DateField(error_messages={"required": "请填写发现日期。"})
    rectification = RectificationDemandSerializer(help_text="整改要求")

    def validate(self, data):
        if sum(1 for name in services.TARGETS if data.get(name) is not None) != 1:
            raise serializers.ValidationError({"non_field_errors": [ONE_TARGET]})
        return data

    def target(self):
        return next(self.validated_data[name] for name in services.TARGETS if self.validated_data.get(name) is not None)


class AccountabilityWriteSerializer(StrictSerializer):
    subject_kind = serializers.ChoiceField(choices=Accountability.SubjectKind.choices, required=False)
    subject = serializers.CharField(max_length=100, error_messages={"required": "请填写追责对象。"})
    subject_post = serializers.CharField(max_length=200, allow_blank=True, required=False)
    measure = serializers.ChoiceField(
        choices=Accountability.Measure.choices, error_messages={"required": "请选择处理方式。"}
    )
    decided_by = serializers.ChoiceField(choices=Organiser.choices, required=False)
    decided_on = serializers.DateField(error_messages={"required": "请填写决定日期。"})
    document_number = serializers.CharField(max_length=100, allow_blank=True, required=False)
    note = serializers.CharField(allow_blank=True, required=False)


class AnswerSerializer(StrictSerializer):
    result = serializers.CharField(
        error_messages={"required": services.RESULT_REQUIRED, "blank": services.RESULT_REQUIRED}
    )
    files = evidence_files("佐证材料：照片（JPG、PNG、WebP、HEIC）或 PDF（multipart/form-data）")


class RecheckSerializer(StrictSerializer):
    approve = serializers.BooleanField(
        help_text="true：复查通过，销号；false：退回整改（须填写 note）",
        error_messages={"required": "请选择复查结论（approve 为 true 或 false）。"},
    )
    note = serializers.CharField(allow_blank=True, required=False, default="", help_text="复查意见")


class BulletinCreateSerializer(StrictSerializer):
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    issuer = serializers.ChoiceField(choices=Organiser.choices, required=False, default=Organiser.POVERTY_OFFICE)
    district = serializers.PrimaryKeyRelatedField(
        queryset=District.objects.all(), required=False, allow_null=True, help_text="区县代码；只有超级用户需要填写"
    )


class BulletinEditSerializer(StrictSerializer):
    title = serializers.CharField(max_length=200, required=False)
    issuer = serializers.ChoiceField(choices=Organiser.choices, required=False)
    issued_on = serializers.DateField(required=False)
    body = serializers.CharField(allow_blank=True, required=False)


# ---------------------------------------------------------------------------------------------
# Filters (what the finding list and the queue filter by)
# ---------------------------------------------------------------------------------------------


class InspectionFilter(FilterSet):
    start_date = filters.DateFromToRangeFilter(label="开始日期：start_date_after 起、start_date_before 止")

    class Meta:
        model = Inspection
        fields = ["kind", "organiser"]


class FindingFilter(FilterSet):
    status = filters.ChoiceFilter(
        field_name="rectification__status", choices=Rectification.Status.choices, label="整改状态"
    )
    township = filters.CharFilter(
        method="filter_township", label="乡镇代码：问题对象在该乡镇（任务、村、户或乡镇本身）"
    )
    village = IdFilter(method="filter_village", label="村 id：问题对象在该村（任务、村或户）")
    overdue = BooleanFilter(method="filter_overdue", label="true：只看整改已逾期的")
    found_on = filters.DateFromToRangeFilter(label="发现日期：found_on_after 起、found_on_before 止")

    class Meta:
        model = Finding
        fields = ["type", "severity", "inspection", "task", "household"]

    def filter_township(self, queryset, name, value):
        return queryset.in_area("township", value)

    def filter_village(self, queryset, name, value):
        return queryset.in_area("village", value)

    def filter_overdue(self, queryset, name, value):
        overdue = Rectification.objects.overdue(clock.today()).values("pk")
        return queryset.filter(rectification__in=overdue) if value else queryset.exclude(rectification__in=overdue)


class RectificationFilter(FilterSet):
    status = filters.MultipleChoiceFilter(choices=Rectification.Status.choices, label="整改状态（可多选）")
    deadline = filters.DateFromToRangeFilter(label="整改时限：deadline_after 起、deadline_before 止")
    overdue = BooleanFilter(method="filter_overdue", label="true：只看逾期未销号的")
    responsible_person = filters.CharFilter(lookup_expr="icontains", label="责任人（包含）")
    township = filters.CharFilter(method="filter_township", label="乡镇代码")

    class Meta:
        model = Rectification
        fields = ["finding"]

    def filter_overdue(self, queryset, name, value):
        overdue = rectification_overdue_q(clock.today())
        return queryset.filter(overdue) if value else queryset.exclude(overdue)

    def filter_township(self, queryset, name, value):
        return queryset.filter(finding__in=Finding.objects.in_area("township", value).values("pk"))


class BulletinFilter(FilterSet):
    class Meta:
        model = Bulletin
        fields = ["year", "state", "district"]


# ---------------------------------------------------------------------------------------------
# Viewsets
# ---------------------------------------------------------------------------------------------


@documented("督查", list="督查（明察暗访等）", retrieve="一次督查")
class InspectionViewSet(ApiViewSet):
    serializer_class = InspectionSerializer
    filterset_class = InspectionFilter
    ordering_fields = ("id", "start_date")
    ordering = ("-start_date", "-id")
    search_fields = ("title", "inspectors")

    def visible(self):
        user = self.request.user
        findings = (
            Finding.objects.visible_to(user)
            .filter(inspection=OuterRef("pk"))
            .order_by()
            .values("inspection")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return (
            Inspection.objects.visible_to(user)
            .annotate(finding_count=Coalesce(Subquery(findings[:1], output_field=IntegerField()), 0))
            .prefetch_related("townships", "villages")
        )

    @creates("录入一次督查（督查人员、区级管理员）", request=InspectionWriteSerializer, response=InspectionSerializer)
    def create(self, request):
        require(access.may_supervise(request.user), SUPERVISORS_ONLY)
        data = dict(self.valid_input(InspectionWriteSerializer).validated_data)
        townships, villages = data.pop("townships", []), data.pop("villages", [])
        inspection = services.inspection_create(user=request.user, data=data, townships=townships, villages=villages)
        return self.created(inspection)


@documented("督查", list="发现问题（含整改状态）", retrieve="一个问题")
class FindingViewSet(ApiViewSet):
    serializer_class = FindingSerializer
    filterset_class = FindingFilter
    ordering_fields = ("id", "found_on")
    ordering = ("-found_on", "-id")
    search_fields = ("description",)

    def visible(self):
        return (
            Finding.objects.visible_to(self.request.user)
            .select_related(*FINDING_RELATED)
            .prefetch_related("accountabilities")
        )

    @creates(
        "立案：对一个任务、村、户或乡镇发现问题，同时下达整改要求（督查人员、区级管理员）",
        request=FindingWriteSerializer,
        response=FindingSerializer,
    )
    def create(self, request):
        require(access.may_supervise(request.user), SUPERVISORS_ONLY)
        serializer = self.valid_input(FindingWriteSerializer)
        data = serializer.validated_data
        demand = {k: v for k, v in data["rectification"].items() if v is not None}
        finding = services.finding_create(
            user=request.user,
            target=serializer.target(),
            data={name: data[name] for name in services.FINDING_FIELDS if name in data},
            rectification=demand,
            inspection=data.get("inspection"),
        )
        return self.created(finding)

    @extend_schema(
        summary="记录责任追究（督查人员、区级管理员）",
        request=AccountabilityWriteSerializer,
        responses={201: AccountabilitySerializer, **errors(400, 403, 404)},
    )
    @action(detail=True, methods=["post"])
    def accountabilities(self, request, pk=None):
        finding = self.get_object()
        require(access.may_supervise(request.user), SUPERVISORS_ONLY)
        data = self.valid_input(AccountabilityWriteSerializer).validated_data
        record = services.accountability_add(finding_id=finding.pk, user=request.user, data=data)
        return Response(AccountabilitySerializer(record).data, status=status.HTTP_201_CREATED)


@documented("督查", list="整改（含逾期）", retrieve="一项整改（响应头 ETag 为其版本）")
class RectificationViewSet(ApiViewSet):
    serializer_class = RectificationSerializer
    filterset_class = RectificationFilter
    versioned = True
    conflict = services.RectificationConflict
    ordering_fields = ("id", "deadline")
    ordering = ("deadline", "id")
    search_fields = ("requirement", "responsible_person", "responsible_unit")
    parser_classes = WITH_FILES

    def visible(self):
        return (
            Rectification.objects.visible_to(self.request.user).select_related("finding").prefetch_related("evidence")
        )

    def _run(self, write, **kwargs):
        rectification = self.get_object()
        version = self.if_match()
        return self.changed(rectification, write, rectification_id=rectification.pk, expected_version=version, **kwargs)

    @changes(
        "开始整改：待整改 → 整改中（问题所在区域的工作人员；If-Match 必填）",
        request=None,
        response=RectificationSerializer,
    )
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        self.get_object()
        require(access.may_answer_rectifications(request.user), AREA_STAFF_ONLY)
        return self._run(services.rectification_start)

    @changes(
        "填报整改结果，可附佐证材料：→ 待复查（问题所在区域的工作人员；If-Match 必填）",
        request={"multipart/form-data": AnswerSerializer, "application/json": AnswerSerializer},
        response=RectificationSerializer,
    )
    @action(detail=True, methods=["post"])
    def answer(self, request, pk=None):
        self.get_object()
        require(access.may_answer_rectifications(request.user), AREA_STAFF_ONLY)
        data = self.valid_input(AnswerSerializer).validated_data
        return self._run(services.rectification_answer, result=data["result"], files=data.get("files", []))

    @changes(
        "复查：通过则销号，不通过则退回整改并说明原因（另一名督查人员或区级管理员；If-Match 必填）",
        request=RecheckSerializer,
        response=RectificationSerializer,
    )
    @action(detail=True, methods=["post"])
    def recheck(self, request, pk=None):
        self.get_object()
        require(access.may_supervise(request.user), SUPERVISORS_ONLY)
        data = self.valid_input(RecheckSerializer).validated_data
        return self._run(services.rectification_recheck, approve=data["approve"], note=data.get("note", ""))

    @evidence_download("下载一份整改佐证材料")
    def evidence(self, request, pk=None, evidence_id=None):
        rectification = self.get_object()
        return file_response(RectificationEvidence.objects.filter(rectification=rectification), evidence_id)


@documented(
    "督查",
    list="通报（已发布的；督查人员、区级管理员还能看到草稿）",
    retrieve="一期通报（响应头 ETag 为其内容摘要）",
)
class BulletinViewSet(ApiViewSet):
    serializer_class = BulletinSerializer
    filterset_class = BulletinFilter
    conflict = bulletin_services.BulletinConflict
    ordering_fields = ("id", "year", "number", "issued_on")
    ordering = ("-id",)

    def visible(self):
        return Bulletin.objects.visible_to(self.request.user).select_related("district")

    def get_serializer_class(self):
        return BulletinSerializer if self.action == "list" else BulletinDetailSerializer

    def etag(self, obj, data) -> str:
        return f'"{bulletin_services.fingerprint(obj)}"'

    @creates(
        "生成通报草稿：第 N 期，列出期末的逾期任务和未销号整改（督查人员、区级管理员）",
        request=BulletinCreateSerializer,
        response=BulletinDetailSerializer,
    )
    def create(self, request):
        require(access.may_write_bulletins(request.user), SUPERVISORS_ONLY)
        data = self.valid_input(BulletinCreateSerializer).validated_data
        bulletin = bulletin_services.bulletin_generate(
            user=request.user,
            period_start=data["period_start"],
            period_end=data["period_end"],
            issuer=data["issuer"],
            district=data.get("district"),
        )
        return self.created(bulletin)

    @changes(
        "修改通报草稿的标题、发布单位、发布日期、正文（If-Match 必填）",
        request=BulletinEditSerializer,
        response=BulletinDetailSerializer,
    )
    def partial_update(self, request, pk=None):
        bulletin, expected = self.to_change(access.may_write_bulletins(request.user), SUPERVISORS_ONLY)
        edits = self.valid_input(BulletinEditSerializer, partial=True).validated_data
        values = {
            "title": bulletin.title,
            "issuer": bulletin.issuer,
            "issued_on": bulletin.issued_on,
            "body": bulletin.body,
            **edits,
        }
        return self.changed(
            bulletin, bulletin_services.bulletin_update_draft, bulletin_id=bulletin.pk, expected=expected, **values
        )

    @changes("发布通报：此后只读（If-Match 必填）", request=None, response=BulletinDetailSerializer)
    @action(detail=True, methods=["post"])
    def publish(self, request, pk=None):
        bulletin, expected = self.to_change(access.may_write_bulletins(request.user), SUPERVISORS_ONLY)
        return self.changed(
            bulletin, bulletin_services.bulletin_publish_draft, bulletin_id=bulletin.pk, expected=expected
        )

    @download("下载通报的 Excel 文件（记入导出记录）", XLSX)
    @action(detail=True, methods=["get"], filter_backends=[])
    def xlsx(self, request, pk=None):
        return exports.bulletin_xlsx_response(request, self.get_object(), via="api")


# ---------------------------------------------------------------------------------------------
# Monthly snapshots (月度快照): read-only
# ---------------------------------------------------------------------------------------------

MONTH_INVALID = "应为 YYYY-MM 格式的月份（2000–2100 年），如 2017-09。"


class MonthField(django_forms.CharField):
    """``YYYY-MM`` → the first day of that month; anything else a 400 in Chinese."""

    def to_python(self, value):
        text = (super().to_python(value) or "").strip()
        if not text:
            return None
        try:
            month = datetime.date.fromisoformat(f"{text}-01")
        except ValueError:
            raise django_forms.ValidationError(MONTH_INVALID) from None
        if len(text) != 7 or not 2000 <= month.year <= 2100:
            raise django_forms.ValidationError(MONTH_INVALID)
        return month


class MonthFilter(filters.Filter):
    field_class = MonthField


class MonthlySnapshotSerializer(serializers.ModelSerializer):
    month = serializers.SerializerMethodField(help_text="月份，YYYY-MM")
    level = serializers.CharField(read_only=True, help_text="区域级别：district / township / village")
    area_name = serializers.CharField(read_only=True, help_text="区域名称")
    kind_display = Label(MonthlySnapshot.Kind.choices, source="kind")
    is_correction = serializers.BooleanField(read_only=True, help_text="是否为更正快照（corrects 为被更正的快照 id）")
    superseded = serializers.SerializerMethodField(help_text="是否已被后来的更正快照取代（以更正快照为准）")
    figures = serializers.JSONField(
        read_only=True,
        help_text="数字：任务总数、已完成、进行中、已逾期、临期、完成率（%）、计划和已投入资金（万元，字符串）、"
        "计划退出村及全部达标的村、计划脱贫户及脱贫条件全部达标的户、未销号问题、当月销号问题、逾期整改；"
        "year（施工图年度）、as_of（统计截至）",
    )

    class Meta:
        model = MonthlySnapshot
        fields = [
            "id",
            "month",
            "level",
            "district",
            "township",
            "village",
            "area_name",
            "as_of",
            "kind",
            "kind_display",
            "taken_at",
            "is_correction",
            "corrects",
            "correction_reason",
            "superseded",
            "figures",
        ]
        read_only_fields = fields

    def get_month(self, obj) -> str:
        return f"{obj.month:%Y-%m}"

    def get_superseded(self, obj) -> bool:
        return getattr(obj, "is_superseded", False)


class MonthlySnapshotFilter(FilterSet):
    month = MonthFilter(label="月份：YYYY-MM，如 2017-09")
    township = filters.CharFilter(field_name="township", label="乡镇代码：该乡镇及其各村的快照")
    village = IdFilter(field_name="village", label="村 id：该村的快照")
    level = filters.ChoiceFilter(
        method="filter_level",
        choices=[("district", "区县"), ("township", "乡镇"), ("village", "村")],
        label="区域级别",
    )

    class Meta:
        model = MonthlySnapshot
        fields = ["kind"]

    def filter_level(self, queryset, name, value):
        if value == "district":
            return queryset.filter(township__isnull=True)
        if value == "township":
            return queryset.filter(township__isnull=False, village__isnull=True)
        return queryset.filter(village__isnull=False)


@documented(
    "月度快照",
    list="月度快照：各区域每月冻结的数字（只读；更正快照标 is_correction，被取代的标 superseded）",
    retrieve="一个区域一个月的快照",
)
class MonthlySnapshotViewSet(ApiViewSet):
    serializer_class = MonthlySnapshotSerializer
    filterset_class = MonthlySnapshotFilter
    ordering_fields = ("id", "month")
    ordering = ("-id",)

    def visible(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator: no user to check
            return MonthlySnapshot.objects.none()
        require(access.may_view_dashboard(self.request.user), NO_SNAPSHOTS)
        superseded = MonthlySnapshot.objects.filter(corrects=OuterRef("pk"))
        return (
            MonthlySnapshot.objects.visible_to(self.request.user)
            .select_related("district", "township", "village")
            .annotate(is_superseded=Exists(superseded))
        )


NO_SNAPSHOTS = "行业部门的用户不能查看月度快照（与驾驶舱相同）。"
