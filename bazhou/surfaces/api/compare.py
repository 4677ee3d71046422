"""``GET /api/v1/dashboard/compare/?year=&township=<code>|village=<id>``: the comparison page's figures (年度对比) as
JSON: the year (default this year) beside the year before, in the dashboard's area.

Same area and access as ``/api/v1/dashboard/`` (``bazhou.surfaces.views.dashboard_scope``; a department's user has
no dashboard: 403), figures from ``bazhou.surfaces.compare.compare`` (3 queries whatever the data size); a bad year is
a 400 in the API's error shape naming ``year``.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from bazhou.core import access, clock
from bazhou.core.api.permissions import require
from bazhou.core.pages import chosen_year
from bazhou.surfaces.api.dashboard import NO_DASHBOARD, scope_json, to_json
from bazhou.surfaces.compare import compare
from bazhou.surfaces.views import dashboard_scope


@extend_schema(
    tags=["驾驶舱"],
    summary="年度对比：所选年度与上一年度的贫困村、脱贫人数、任务、资金和逐月累计完成",
    parameters=[
        OpenApiParameter("year", OpenApiTypes.INT, description="计划年度（2000–2100，默认本年度），与上一年度对比"),
        OpenApiParameter("township", OpenApiTypes.STR, description="乡镇代码：看该乡镇（须在您的范围内）"),
        OpenApiParameter("village", OpenApiTypes.INT, description="村 id：看该村（须在您的范围内）"),
    ],
    responses={
        200: inline_serializer(
            "DashboardCompare",
            {
                "scope": serializers.JSONField(help_text="范围：同 /api/v1/dashboard/ 的 scope"),
                "year": serializers.IntegerField(help_text="所选年度"),
                "last_year": serializers.IntegerField(help_text="上一年度"),
                "today": serializers.DateField(),
                "figures": serializers.JSONField(
                    help_text="各项数字：key、label、unit、this（所选年度）、last（上一年度）、change（增减）、"
                    "ratio（倍数，上一年度为 0 时为 null）；金额为万元字符串。key："
                    "villages_planned（计划退出贫困村）、villages_exited（已退出贫困村）、people_lifted（脱贫人数）、"
                    "rows_total、rows_done、done_percent、funds_planned、funds_invested"
                ),
                "months": serializers.JSONField(
                    help_text="1–12 月：month、this / last（该年度施工图到月底累计完成的任务数，未到的月份为 null）、"
                    "this_percent / last_percent（累计完成率 %）"
                ),
            },
        ),
        400: OpenApiResponse(description="year 不是 2000–2100 之间的四位年份"),
        403: OpenApiResponse(description="您的角色不能查看驾驶舱（行业部门的用户）"),
        404: OpenApiResponse(description="乡镇或村不存在，或不在您的范围内"),
    },
)
class DashboardCompareView(APIView):
    def get(self, request):
        require(access.may_view_dashboard(request.user), NO_DASHBOARD)
        scope = dashboard_scope(request._request)
        today = clock.today()
        figures = compare(scope, today, chosen_year(request._request, today.year))
        return Response(
            {
                "scope": scope_json(scope),
                "year": figures["year"],
                "last_year": figures["last_year"],
                "today": today.isoformat(),
                "figures": to_json(figures["figures"]),
                "months": to_json(figures["months"]),
            }
        )
