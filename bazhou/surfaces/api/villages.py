"""API for areas and villages: townships, villages with their plan figures, exit indicators and each village's
assessment of them, and the assistance forces (五个一). Read-only, as the pages are: the reference data is
maintained in the admin.

Every list is one query (the rows with what they name, the plan figures as correlated subqueries).
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef
from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from bazhou.core import clock
from bazhou.core.api.base import ApiViewSet
from bazhou.core.api.fields import Label
from bazhou.core.api.filters import BooleanFilter, FilterSet, IntegerFilter
from bazhou.core.api.schema import documented
from bazhou.core.pages import chosen_year, year_param
from tasks.figures import plan_figures
from villages import exit_criteria
from villages.models import AssistanceAssignment, ExitIndicator, Township, Village, VillageIndicator

# ---------------------------------------------------------------------------------------------
# Serializers
# ---------------------------------------------------------------------------------------------


class TownshipSerializer(serializers.ModelSerializer):
    kind_display = Label(Township.Kind.choices, source="kind")

    class Meta:
        model = Township
        fields = ["code", "name", "kind", "kind_display", "district"]
        read_only_fields = fields


class VillageSerializer(serializers.ModelSerializer):
    township_name = serializers.CharField(source="township.name", read_only=True)
    status_display = Label(Village.Status.choices, source="status")
    row_count = serializers.IntegerField(read_only=True, help_text="施工图任务行数（不含已撤销的）")
    done_count = serializers.IntegerField(read_only=True, help_text="已完成（含已验收）的任务行数")
    overdue_count = serializers.IntegerField(read_only=True, help_text="已逾期的任务行数")
    planned_total = serializers.DecimalField(
        max_digits=16, decimal_places=4, read_only=True, help_text="计划资金合计（万元）"
    )

    class Meta:
        model = Village
        fields = [
            "id",
            "code",
            "name",
            "township",
            "township_name",
            "is_poor",
            "status",
            "status_display",
            "identified_year",
            "planned_exit_year",
            "exit_year",
            "registered_households",
            "registered_population",
            "collective_income",
            "row_count",
            "done_count",
            "overdue_count",
            "planned_total",
        ]
        read_only_fields = fields


class ExitIndicatorSerializer(serializers.ModelSerializer):
    class Meta:
        model = ExitIndicator
        fields = ["id", "year", "code", "name", "description", "threshold", "order", "source", "task_category"]
        read_only_fields = fields


class VillageIndicatorSerializer(serializers.ModelSerializer):
    indicator_code = serializers.CharField(source="indicator.code", read_only=True)
    indicator_name = serializers.CharField(source="indicator.name", read_only=True)
    year = serializers.IntegerField(source="indicator.year", read_only=True)

    class Meta:
        model = VillageIndicator
        fields = [
            "id",
            "village",
            "indicator",
            "indicator_code",
            "indicator_name",
            "year",
            "met",
            "evidence",
            "assessed_on",
            "overridden",
            "override_reason",
        ]
        read_only_fields = fields


class ExitCriterionSerializer(serializers.Serializer):
    """One village on one exit indicator as villages.exit_criteria judges it (the village page says the same)."""

    code = serializers.CharField(help_text="指标代码")
    name = serializers.CharField(help_text="指标名称")
    source = serializers.CharField(
        source="indicator.source", help_text="判定依据：incidence、collective_income、plan_rows、manual"
    )
    source_display = serializers.CharField(source="indicator.get_source_display", help_text="判定依据（中文）")
    met = serializers.BooleanField(help_text="是否达标（人工改判时以改判为准）")
    derived = serializers.BooleanField(help_text="是否由数据判定")
    derived_met = serializers.BooleanField(allow_null=True, help_text="数据判定的结果；人工核查的指标为 null")
    overridden = serializers.BooleanField(help_text="是否人工改判")
    text = serializers.CharField(help_text="判定说明，如“施工图任务“通村硬化路”已完成，2017-08-20完成”")
    url = serializers.CharField(help_text="说明所指的页面（如交付该指标的施工图任务），没有则为空")


class AssignmentSerializer(serializers.ModelSerializer):
    village_name = serializers.CharField(source="village.name", read_only=True)
    role_display = Label(AssistanceAssignment.Role.choices, source="role")
    in_force = serializers.BooleanField(read_only=True, help_text="今天在任")

    class Meta:
        model = AssistanceAssignment
        fields = [
            "id",
            "village",
            "village_name",
            "role",
            "role_display",
            "person",
            "unit",
            "post",
            "phone",
            "start_date",
            "end_date",
            "in_force",
        ]
        read_only_fields = fields


# ---------------------------------------------------------------------------------------------
# Filters (what the village list page filters by)
# ---------------------------------------------------------------------------------------------


class TownshipFilter(FilterSet):
    class Meta:
        model = Township
        fields = ["kind"]


class VillageFilter(FilterSet):
    township = filters.CharFilter(field_name="township", label="乡镇代码（9 位）")
    year = IntegerFilter(
        method="keep", min_value=2000, max_value=2100, label="施工图年度：任务行数、资金等统计只算这一年的施工图"
    )

    class Meta:
        model = Village
        fields = ["township", "status", "is_poor", "planned_exit_year"]

    def keep(self, queryset, name, value):
        return queryset  # read by VillageViewSet.visible() for the figures


class VillageIndicatorFilter(FilterSet):
    year = IntegerFilter(field_name="indicator__year", min_value=2000, max_value=2100, label="指标年度")

    class Meta:
        model = VillageIndicator
        fields = ["village", "indicator", "met"]


class AssignmentFilter(FilterSet):
    township = filters.CharFilter(field_name="village__township", label="乡镇代码（9 位）")
    current = BooleanFilter(field_name="in_force", label="只看今天在任的（true）或已离任、未到任的（false）")

    class Meta:
        model = AssistanceAssignment
        fields = ["village", "township", "role", "current"]


# ---------------------------------------------------------------------------------------------
# Viewsets
# ---------------------------------------------------------------------------------------------


@documented("村与区域", list="乡镇（街道）", retrieve="一个乡镇")
class TownshipViewSet(ApiViewSet):
    serializer_class = TownshipSerializer
    filterset_class = TownshipFilter
    lookup_value_regex = "[0-9]{9}"
    ordering_fields = ("code", "name")
    ordering = ("code",)
    search_fields = ("name", "code")

    def visible(self):
        return Township.objects.visible_to(self.request.user)


@documented("村与区域", list="村列表（含施工图任务行数、完成、逾期、计划资金）", retrieve="一个村")
class VillageViewSet(ApiViewSet):
    serializer_class = VillageSerializer
    filterset_class = VillageFilter
    ordering_fields = ("code", "name", "id")
    ordering = ("code",)
    search_fields = ("name", "code")

    def visible(self):
        year = year_param(self.request.query_params.get("year"))
        figures = plan_figures(self.get_serializer_context()["today"], year)
        return Village.objects.visible_to(self.request.user).select_related("township").annotate(**figures)

    @extend_schema(
        summary="一个村某年度的退出指标（一低七有）判定：每项指标是否达标、依据（数据计算或人工改判）和说明",
        parameters=[OpenApiParameter("year", OpenApiTypes.INT, description="指标年度（2000–2100，默认本年度）")],
        responses={200: ExitCriterionSerializer(many=True)},
    )
    @action(detail=True, methods=["get"], url_path="exit-criteria", filter_backends=[], pagination_class=None)
    def exit_criteria(self, request, pk=None):
        """The village's 一低七有 of ``?year=`` as villages.exit_criteria judges it: 5 queries."""
        year = chosen_year(request._request, clock.today().year)
        village = get_object_or_404(Village.objects.visible_to(request.user), pk=pk)
        return Response(ExitCriterionSerializer(exit_criteria.judge_one(village, year), many=True).data)


@documented("村与区域", list="贫困村退出指标（一低七有）", retrieve="一项指标")
class ExitIndicatorViewSet(ApiViewSet):
    """The criteria of village exit by year: reference data every signed-in user reads."""

    serializer_class = ExitIndicatorSerializer
    filterset_fields = ["year", "code"]
    ordering_fields = ("year", "order", "code", "id")
    ordering = ("year", "order", "id")

    def visible(self):
        return ExitIndicator.objects.all()


@documented("村与区域", list="各村退出指标达标情况", retrieve="一条达标记录")
class VillageIndicatorViewSet(ApiViewSet):
    serializer_class = VillageIndicatorSerializer
    filterset_class = VillageIndicatorFilter
    ordering_fields = ("id",)
    ordering = ("id",)

    def visible(self):
        villages = Village.objects.visible_to(self.request.user)
        return VillageIndicator.objects.filter(village__in=villages.values("pk")).select_related("indicator")


@documented("村与区域", list="帮扶力量（五个一）", retrieve="一条帮扶力量记录")
class AssignmentViewSet(ApiViewSet):
    serializer_class = AssignmentSerializer
    filterset_class = AssignmentFilter
    ordering_fields = ("id", "start_date")
    ordering = ("id",)
    search_fields = ("person", "unit")

    def visible(self):
        today = self.get_serializer_context()["today"]
        in_force = AssistanceAssignment.objects.current(today).filter(pk=OuterRef("pk"))
        return (
            AssistanceAssignment.objects.visible_to(self.request.user)
            .select_related("village")
            .annotate(in_force=Exists(in_force))
        )
