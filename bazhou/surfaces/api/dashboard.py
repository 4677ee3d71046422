"""``GET /api/v1/dashboard/?township=<code>|village=<id>``: the figures of the home page's dashboard as JSON.

The area is chosen exactly as the page chooses it (``bazhou.surfaces.views.dashboard_scope``: the user's own, or a
township or village inside it; anything outside is a 404; a 挂包 leader's own is their charge, a department's user
has none: 403) and the figures are those of
``bazhou.surfaces.dashboard.dashboard`` for today: goals, plan rows, funds, rankings, exit readiness, supervision.

The figures are converted to JSON generically (model rows become ``{"id", "name"}``, amounts strings, dates ISO
strings), so a block the dashboard gains later appears here without a change.
"""

from __future__ import annotations

import dataclasses
import datetime
from decimal import Decimal

from django.db import models
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from bazhou.core import access, clock
from bazhou.core.api.permissions import require
from bazhou.core.pages import chosen_year
from bazhou.surfaces import trends
from bazhou.surfaces.dashboard import Scope, dashboard
from bazhou.surfaces.views import dashboard_scope

NO_DASHBOARD = "您的角色不能查看驾驶舱：行业部门的用户请查看“本部门任务”（/api/v1/tasks/ 只列本部门负责的任务）。"

# Blocks the page needs for drawing only (the chart series repeat the figures above them).
LEFT_OUT = ("charts",)


def to_json(value):
    """The dashboard's plain data (dicts, lists, Decimals, dates, model rows) as JSON values."""
    if isinstance(value, dict):
        return {str(key): to_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    if isinstance(value, Scope):
        return scope_json(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_json(dataclasses.asdict(value))
    if isinstance(value, models.Model):
        return {"id": value.pk, "name": str(value)}
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def scope_json(scope: Scope) -> dict:
    return {
        "level": scope.level,
        "district": {"code": scope.district.pk, "name": scope.district.name},
        "township": {"code": scope.township.pk, "name": scope.township.name} if scope.township else None,
        "village": {"id": scope.village.pk, "name": scope.village.name} if scope.village else None,
        # A 挂包 leader's charge (their dashboard's top level): its townships and villages.
        "charge": {
            "name": scope.charge.label,
            "townships": [{"code": t.pk, "name": t.name} for t in scope.charge.townships],
            "villages": [{"id": v.pk, "name": v.name, "township": v.township.name} for v in scope.charge.villages],
        }
        if scope.charge is not None
        else None,
    }


@extend_schema(
    tags=["驾驶舱"],
    summary="首页驾驶舱的数字：年度目标、任务与资金、排名、退出条件达标、督查整改",
    parameters=[
        OpenApiParameter("township", OpenApiTypes.STR, description="乡镇代码：看该乡镇（须在您的范围内）"),
        OpenApiParameter("village", OpenApiTypes.INT, description="村 id：看该村（须在您的范围内）"),
        OpenApiParameter(
            "year", OpenApiTypes.INT, description="计划年度（2000–2100，默认本年度）：看该年度施工图的数字"
        ),
    ],
    responses={
        200: inline_serializer(
            "Dashboard",
            {
                "scope": serializers.JSONField(
                    help_text="范围：level（district/township/village）及其区县、乡镇、村；"
                    "挂包领导另有 charge（挂包的乡镇和村）"
                ),
                "year": serializers.IntegerField(),
                "today": serializers.DateField(),
                "goals": serializers.JSONField(
                    help_text="年度目标：目标值、完成值、百分比；source（计算：… / 填报：…）、ceiling（上限目标）、"
                    "met（是否达标）、drill_url（计算得出的目标：其背后记录的页面）"
                ),
                "rows": serializers.JSONField(
                    help_text="任务行：合计、完成、进行中、逾期、原定逾期（baseline_overdue）、30 天内到期"
                ),
                "funds": serializers.JSONField(help_text="资金（万元）：按类别、按资金来源"),
                "township_ranking": serializers.JSONField(help_text="区级：各乡镇完成率排名"),
                "village_table": serializers.JSONField(help_text="乡镇级：各村的同样数字"),
                "village_readiness": serializers.JSONField(help_text="贫困村退出指标达标情况（一低七有）"),
                "household_readiness": serializers.JSONField(help_text="贫困户脱贫条件达标情况（一超六有）"),
                "supervision": serializers.JSONField(help_text="未销号问题、逾期整改、最近一期通报"),
                "overdue_weeks": serializers.JSONField(help_text="近 12 周每周末的逾期任务数"),
                "trend": serializers.JSONField(
                    help_text="月度趋势：最近 12 个月的月度快照（points，已更正的标 corrected 和 reason）、"
                    "较上月（change）；挂包片区没有（charge 为 true）"
                ),
            },
        ),
        403: OpenApiResponse(description="您的角色不能查看驾驶舱（行业部门的用户）"),
        404: OpenApiResponse(description="乡镇或村不存在，或不在您的范围内"),
    },
)
class DashboardView(APIView):
    def get(self, request):
        # A department's user sees their department's rows and nothing else of the plan: no district figures.
        require(access.may_view_dashboard(request.user), NO_DASHBOARD)
        scope = dashboard_scope(request._request)
        today = clock.today()
        figures = dashboard(scope, today, chosen_year(request._request, today.year))
        figures["trend"] = trends.trend(scope, today, figures["year"])  # the monthly snapshots: 1 query
        return Response({key: to_json(value) for key, value in figures.items() if key not in LEFT_OUT})
