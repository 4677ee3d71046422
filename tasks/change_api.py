"""API for change requests (变更申请) on approved plans: the list (the approvers' pending list, with the same filters
as the page), asking, approving, rejecting, withdrawing, and the change ledger (变更台账), through the services of
``tasks.changes`` and the decisions of ``bazhou.core.access``.

- Reading: ``ChangeRequest.objects.visible_to``; a request outside the area is a 404.
- Asking (``POST /change-requests/``): a change or a withdrawal of a row names the ``task`` and the row's version
  the client read (``task_version``, the task's ETag); a new row names the ``plan``. Only the plan fields change by
  request (``tasks.models.PLAN_FIELDS`` and ``fund_lines``); a stale ``task_version`` is a 412 with the row as it
  now stands.
- Deciding (``POST …/approve/``, ``…/reject/`` with a ``note``) and withdrawing (``…/withdraw/``): ``If-Match`` with
  the request's version (its ETag). The requester never approves their own request (403).

Queries: the list is one (the requests with their plan, village, township and people).
"""

from __future__ import annotations

import datetime

from django.utils import timezone
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action

from bazhou.core import access
from bazhou.core.access import within
from bazhou.core.api.base import ApiViewSet, etag_of_version
from bazhou.core.api.errors import StaleVersion
from bazhou.core.api.fields import Label, StrictSerializer, VisibleRow
from bazhou.core.api.filters import FilterSet
from bazhou.core.api.permissions import READ_ONLY_ROLE, require
from bazhou.core.api.schema import changes as documented_change
from bazhou.core.api.schema import creates, documented
from tasks import changes as change_services
from tasks import services
from tasks.api import FundLineInputSerializer, IntegerFilter, TaskSerializer
from tasks.models import PLAN_FIELDS, ChangeRequest, Plan, Task

ONLY_APPROVERS = "只有可以批准施工图的人员（默认为区脱贫办）可以审批变更申请。"


class ChangeRequestSerializer(serializers.ModelSerializer):
    village = serializers.IntegerField(source="plan.village_id", read_only=True)
    village_name = serializers.CharField(source="plan.village.name", read_only=True)
    township = serializers.CharField(source="plan.village.township_id", read_only=True)
    township_name = serializers.CharField(source="plan.village.township.name", read_only=True)
    plan_year = serializers.IntegerField(source="plan.year", read_only=True)
    kind_display = Label(ChangeRequest.Kind.choices, source="kind")
    state_display = Label(ChangeRequest.State.choices, source="state")
    reason_category_display = Label(ChangeRequest.ReasonCategory.choices, source="reason_category")
    changed_fields = serializers.SerializerMethodField(help_text="变更的计划字段（新增、撤销：填写了的字段）")
    requested_by = serializers.CharField(source="requested_by.username", read_only=True)
    decided_by = serializers.CharField(source="decided_by.username", read_only=True, allow_null=True, default=None)

    class Meta:
        model = ChangeRequest
        fields = [
            "id",
            "plan",
            "plan_year",
            "village",
            "village_name",
            "township",
            "township_name",
            "task",
            "kind",
            "kind_display",
            "before",
            "after",
            "changed_fields",
            "reason_category",
            "reason_category_display",
            "reason",
            "state",
            "state_display",
            "requested_by",
            "requested_at",
            "decided_by",
            "decided_at",
            "decision_note",
            "version",
        ]
        read_only_fields = fields

    def get_changed_fields(self, request) -> list[str]:
        return change_services.changed_fields(request)


class ChangeRequestCreateSerializer(StrictSerializer):
    """A request: a change or withdrawal of ``task`` (with ``task_version``), or a new row of ``plan``."""

    task = VisibleRow(Task, "该任务", required=False, allow_null=True, help_text="修改或撤销：任务 id")
    task_version = serializers.IntegerField(
        required=False, allow_null=True, help_text="修改或撤销：您读取该任务时的版本（任务的 ETag）"
    )
    plan = VisibleRow(Plan, "施工图", required=False, allow_null=True, help_text="新增任务：施工图 id")
    kind = serializers.ChoiceField(
        choices=ChangeRequest.Kind.choices,
        required=False,
        help_text="change（修改，默认）、remove（撤销）、add（新增）",
    )
    changes = serializers.DictField(
        required=False, default=dict, help_text=f"要修改（或新增任务）的计划字段及新值：{'、'.join(PLAN_FIELDS)}"
    )
    fund_lines = FundLineInputSerializer(many=True, required=False, allow_null=True, help_text="资金来源；不给出则不变")
    reason_category = serializers.ChoiceField(
        choices=ChangeRequest.ReasonCategory.choices, error_messages={"invalid_choice": "请选择变更原因类别。"}
    )
    reason = serializers.CharField(
        max_length=2000,
        error_messages={"required": change_services.REASON_REQUIRED, "blank": change_services.REASON_REQUIRED},
    )

    def validate(self, attrs):
        if not attrs.get("task") and not attrs.get("plan"):
            raise serializers.ValidationError("请给出要修改或撤销的任务（task），或要新增任务的施工图（plan）。")
        if attrs.get("task") and attrs.get("task_version") is None:
            raise serializers.ValidationError({"task_version": "请给出您读取该任务时的版本（任务的 ETag）。"})
        return attrs


class RejectSerializer(StrictSerializer):
    note = serializers.CharField(
        max_length=1000,
        error_messages={"required": change_services.NOTE_REQUIRED, "blank": change_services.NOTE_REQUIRED},
    )


class ChangeRequestFilter(FilterSet):
    """The pending list's filters (the page's): township, village, kind, how long it has waited; and the state."""

    township = filters.CharFilter(method="filter_township", label="乡镇代码（9 位）")
    village = IntegerFilter(method="filter_village", min_value=1, max_value=2**63 - 1, label="村 id")
    kind = filters.ChoiceFilter(choices=ChangeRequest.Kind.choices, label="类型：change、add、remove")
    state = filters.MultipleChoiceFilter(
        choices=ChangeRequest.State.choices, label="状态（可多选）：pending 待审批、approved、rejected、withdrawn"
    )
    min_age = IntegerFilter(method="filter_min_age", min_value=0, max_value=3650, label="已等待至少 N 天")

    class Meta:
        model = ChangeRequest
        fields = ["plan", "task"]

    def filter_township(self, queryset, name, value):
        return queryset.filter(within(ChangeRequest.objects.all().paths, "township", value))

    def filter_village(self, queryset, name, value):
        return queryset.filter(within(ChangeRequest.objects.all().paths, "village", value))

    def filter_min_age(self, queryset, name, value):
        return queryset.filter(requested_at__lte=timezone.now() - datetime.timedelta(days=value))


@documented(
    "变更申请",
    list="变更申请：待审批清单（?state=pending）和全部记录，可按乡镇、村、类型、等待天数筛选",
    retrieve="一项变更申请（响应头 ETag 为其版本）",
)
class ChangeRequestViewSet(ApiViewSet):
    serializer_class = ChangeRequestSerializer
    filterset_class = ChangeRequestFilter
    versioned = True
    conflict = change_services.ChangeRequestConflict
    ordering_fields = ("id", "requested_at", "decided_at")
    ordering = ("id",)
    search_fields = ("reason", "task__item")

    def visible(self):
        return ChangeRequest.objects.visible_to(self.request.user).select_related(
            "plan__village__township", "requested_by", "decided_by"
        )

    @creates(
        "提交变更申请：修改或撤销一行任务（task、task_version），或新增任务（plan）",
        request=ChangeRequestCreateSerializer,
        response=ChangeRequestSerializer,
    )
    def create(self, request):
        require(access.may_request_changes(request.user), READ_ONLY_ROLE)
        data = self.valid_input(ChangeRequestCreateSerializer).validated_data
        task = data.get("task")
        lines = data.get("fund_lines")
        try:
            change = change_services.change_request_create(
                user=request.user,
                task=task,
                plan=None if task else data["plan"],
                kind=data.get("kind"),
                changes=data.get("changes") or {},
                fund_lines=None if lines is None else [dict(line) for line in lines],
                reason_category=data["reason_category"],
                reason=data["reason"],
                expected_version=data.get("task_version"),
            )
        except services.TaskConflict as conflict:
            current = conflict.current
            body = TaskSerializer(current, context=self.get_serializer_context()).data
            raise StaleVersion(current=body, etag=etag_of_version(current.version)) from None
        return self.created(change)

    @extend_schema(
        summary="变更台账：已批准、已驳回、已撤回的申请，最近处理的在前（可按乡镇、村、类型、状态筛选）",
        responses={200: ChangeRequestSerializer(many=True)},
    )
    @action(detail=False, methods=["get"])
    def ledger(self, request):
        rows = self.filter_queryset(self.get_queryset().closed()).order_by("-decided_at", "-id")
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @documented_change(
        "批准：变更生效，计入变更次数（If-Match 必填；不能批准自己的申请）",
        request=None,
        response=ChangeRequestSerializer,
    )
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        change, version = self.to_change(access.may_decide_change_requests(request.user), ONLY_APPROVERS)
        return self.changed(
            change, change_services.change_request_approve, request_id=change.pk, expected_version=version
        )

    @documented_change(
        "驳回（须填写 note；If-Match 必填）：任务不变", request=RejectSerializer, response=ChangeRequestSerializer
    )
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        change, version = self.to_change(access.may_decide_change_requests(request.user), ONLY_APPROVERS)
        note = self.valid_input(RejectSerializer).validated_data["note"]
        return self.changed(
            change, change_services.change_request_reject, request_id=change.pk, note=note, expected_version=version
        )

    @documented_change("撤回自己的申请（If-Match 必填）", request=None, response=ChangeRequestSerializer)
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        change, version = self.to_change(access.signed_in(request.user), READ_ONLY_ROLE)
        return self.changed(
            change, change_services.change_request_withdraw, request_id=change.pk, expected_version=version
        )
