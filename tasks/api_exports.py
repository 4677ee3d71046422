"""``GET /api/v1/plan-table/?year=&township=&village=&format=json|xlsx``: the one table (施工图) through the API.

The area is chosen as the page export chooses it (``tasks.excel_views.plan_table_scope``: the user's own, or a
township or village they may see; anything else is a 404). ``format=xlsx`` (or ``Accept`` of the .xlsx type)
answers the same file as the page's 导出 button; the default JSON is the rows of
``tasks.exports.plan_table_rows``, streamed (amounts in 万元 as strings, dates ISO). Both are written to the
export log with ``via="api"``.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.core.serializers.json import DjangoJSONEncoder
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.views import APIView

from bazhou.core import clock
from bazhou.core.api.renderers import JSONRenderer
from bazhou.core.exportlog import record_export
from bazhou.core.xlsx.downloads import xlsx_download
from bazhou.core.xlsx.writer import XLSX_CONTENT_TYPE
from tasks.excel_views import plan_table_scope
from tasks.exports import KEYS, PlanTableScope, plan_table_rows, render_plan_table

ROW_KEYS = ["row_type", *KEYS, "rows"]


def _json_stream(scope: PlanTableScope, today, count: int) -> Iterator[bytes]:
    encoder = DjangoJSONEncoder(ensure_ascii=False)
    head = {
        "title": scope.title,
        "year": scope.year,
        "area": scope.area_name,
        "level": scope.level,
        "as_of": today.isoformat(),
        "count": count,
    }
    yield encoder.encode(head)[:-1].encode("utf-8") + b', "rows": ['
    first = True
    batch = []
    for row in plan_table_rows(scope, today):
        batch.append(("" if first else ",") + encoder.encode({key: row.get(key) for key in ROW_KEYS}))
        first = False
        if len(batch) >= 500:
            yield "".join(batch).encode("utf-8")
            batch.clear()
    batch.append("]}")
    yield "".join(batch).encode("utf-8")


ROW_FIELDS = {
    "row_type": serializers.ChoiceField(["task", "village_subtotal", "township_subtotal", "total"]),
    "seq": serializers.IntegerField(allow_null=True, help_text="序号（任务行）"),
    "township": serializers.CharField(allow_null=True),
    "village": serializers.CharField(allow_null=True),
    "kind": serializers.CharField(allow_null=True, help_text="一村一案 / 一户一策"),
    "household": serializers.CharField(allow_null=True, help_text="户编号"),
    "head": serializers.CharField(allow_null=True, help_text="户主"),
    "category": serializers.CharField(allow_null=True),
    "item": serializers.CharField(allow_null=True),
    "quantity": serializers.DecimalField(14, 2, allow_null=True),
    "unit": serializers.CharField(allow_null=True),
    "deadline": serializers.DateField(allow_null=True),
    "planned_funds": serializers.DecimalField(14, 4, allow_null=True, help_text="计划资金合计（万元）"),
    **{key: serializers.DecimalField(14, 4, allow_null=True) for key in KEYS if key.startswith("fund_")},
    "invested_funds": serializers.DecimalField(14, 4, allow_null=True),
    "responsible_unit": serializers.CharField(allow_null=True),
    "responsible_person": serializers.CharField(allow_null=True),
    "responsible_phone": serializers.CharField(allow_null=True),
    "status": serializers.CharField(allow_null=True),
    "progress": serializers.IntegerField(allow_null=True),
    "completed_on": serializers.DateField(allow_null=True),
    "overdue": serializers.BooleanField(allow_null=True),
    "id": serializers.IntegerField(allow_null=True, help_text="任务编号（任务行）"),
    "version": serializers.IntegerField(allow_null=True),
    "carried_from": serializers.CharField(allow_null=True, help_text="结转自：原任务的年度和编号，如“2016年 #123”"),
    "rows": serializers.IntegerField(
        required=False, allow_null=True, help_text="小计、合计行：所合计的任务行数；任务行为 null"
    ),
}
PLAN_TABLE = inline_serializer(
    "PlanTable",
    {
        "title": serializers.CharField(),
        "year": serializers.IntegerField(),
        "area": serializers.CharField(),
        "level": serializers.ChoiceField(["district", "township", "village"]),
        "as_of": serializers.DateField(),
        "count": serializers.IntegerField(help_text="任务行数"),
        "rows": inline_serializer("PlanTableRow", ROW_FIELDS, many=True),
    },
)


YEAR_RANGE = "应为 2000–2100 之间的年度。"
TOWNSHIP_CODE = "应为 9 位乡镇代码。"
VILLAGE_ID = "应为村的编号（正整数）。"
FORMATS = ("json", "xlsx")
FORMAT_CHOICE = "应为 json 或 xlsx。"


def valid_parameters(params) -> None:
    """400 naming each parameter that is not what the table takes (before the area is looked up: an area that
    exists elsewhere and one that does not exist are both the 404 of ``plan_table_scope``)."""
    errors = {}
    year = params.get("year", "")
    if year and not (year.isascii() and year.isdigit() and len(year) == 4 and 2000 <= int(year) <= 2100):
        errors["year"] = [YEAR_RANGE]
    township = params.get("township", "")
    if township and not (township.isascii() and township.isdigit() and len(township) == 9):
        errors["township"] = [TOWNSHIP_CODE]
    village = params.get("village", "")
    if village and not (village.isascii() and village.isdigit() and len(village) <= 18 and int(village) > 0):
        errors["village"] = [VILLAGE_ID]
    if params.get("format", "json") not in FORMATS:
        errors["format"] = [FORMAT_CHOICE]
    if errors:
        raise ValidationError(errors)


class PlanTableView(APIView):
    """The one table of an area and a year: JSON rows, or the .xlsx the office prints."""

    renderer_classes = [JSONRenderer]

    def perform_content_negotiation(self, request, force=False):
        # ``format=xlsx`` is this view's own parameter (answered with a file below), not a renderer's name.
        renderer = JSONRenderer()
        return renderer, renderer.media_type

    @extend_schema(
        operation_id="plan_table",
        summary="施工图（一张表）",
        description="区、乡镇或村某年度的施工图：任务行按乡镇、村分组，含各村小计、各乡镇合计和总计。"
        "format=xlsx 返回与页面导出相同的 Excel 文件。",
        parameters=[
            OpenApiParameter("year", int, description="计划年度，默认今年"),
            OpenApiParameter("township", str, description="乡镇代码（9位）"),
            OpenApiParameter("village", int, description="村 id"),
            OpenApiParameter("format", str, enum=["json", "xlsx"], description="json（默认）或 xlsx"),
        ],
        responses={
            (200, "application/json"): PLAN_TABLE,
            (200, XLSX_CONTENT_TYPE): OpenApiResponse(OpenApiTypes.BINARY, description="施工图 .xlsx"),
            400: OpenApiResponse(description="参数无效（年度、乡镇代码、村 id 或 format）"),
            404: OpenApiResponse(description="区域不存在或不在您的范围内"),
        },
    )
    def get(self, request):
        valid_parameters(request.query_params)
        scope = plan_table_scope(request.user, request.query_params)
        today = clock.today()
        wants_xlsx = request.query_params.get("format") == "xlsx" or XLSX_CONTENT_TYPE in request.headers.get(
            "Accept", ""
        )
        if wants_xlsx:
            file, rows = render_plan_table(scope, today)
            return xlsx_download(request, file, scope.file_name, via="api", **scope.export_log(rows))
        count = scope.tasks().count()
        record_export(request.user, fmt="json", via="api", request=request, **scope.export_log(count))
        return StreamingHttpResponse(_json_stream(scope, today, count), content_type="application/json")
