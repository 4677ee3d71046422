"""API for the plan table (施工图): plans, plan rows with their fund lines, progress reports with evidence files,
approval, and changes with a reason, through the same services as the pages (``tasks.services``).

- Reading: ``Plan.objects.visible_to`` / ``Task.objects.visible_to``; a row outside the area is a 404.
- Writing: district admins, township staff and village cadres (others: 403; a sector department's users report
  progress on their department's rows, ``Task.objects.reportable_by``, and write nothing else); the service fetches
  the row through ``editable_by`` (outside the area: 404), checks the version from ``If-Match`` under a row lock
  (stale: 412 with the row as it stands), validates the whole row with ``full_clean()`` (400, the messages the
  pages show) and writes the history. On an approved plan a change of deadline or funds, a new row and a
  withdrawal need a ``reason``, kept in the history.
- Not writable: ``id``, ``version``, ``plan`` after creation (a row never moves to another village),
  ``created_by``, ``is_removed`` (withdraw with ``POST …/remove/``), ``last_progress_on`` and the dates the
  services keep. Sending one is a 400 naming it, rather than silently ignored.

Queries: the plan-row list is one (the rows with plan, village and township joined; each row's household number,
department name, fund lines and pending change request as subqueries), the plan list one, the progress list two
(the reports; their evidence files).

The plan-row list is read as ``values()`` rows and written by :class:`TaskRows` (no model instance, no serializer
field per value, no query per row): the same JSON, byte for byte, as
:class:`TaskSerializer`, which still writes a single row and gives the schema (tests/api/test_task_rows.py compares
the two). See docs/api.md, 性能.
"""

from __future__ import annotations

import functools
from contextlib import contextmanager
from decimal import Decimal

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Aggregate, OuterRef, Subquery, TextField, Value
from django.db.models.functions import Cast, Concat
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import APIException
from rest_framework.response import Response

from bazhou.core import access, clock
from bazhou.core.api import history, rows
from bazhou.core.api.base import ApiViewSet
from bazhou.core.api.fields import Label, Overdue, StrictSerializer, VisibleRow, reason_field
from bazhou.core.api.files import WITH_FILES, EvidenceSerializer, evidence_download, evidence_files, file_response
from bazhou.core.api.filters import MAX_ID, BooleanFilter, FilterSet, IdFilter, IntegerFilter
from bazhou.core.api.permissions import DISTRICT_ADMINS_ONLY, READ_ONLY_ROLE, require
from bazhou.core.api.schema import changes, creates, documented, errors
from households.models import Household
from tasks import rollover, services
from tasks.figures import per_plan_figures
from tasks.forms import MONEY_ERRORS, NEGATIVE, PROGRESS_RANGE, QUANTITY_ERRORS
from tasks.models import (
    CARRY_REASON_REQUIRED,
    Category,
    ChangeRequest,
    FundLine,
    FundSource,
    Plan,
    ProgressEvidence,
    ProgressUpdate,
    Task,
    baseline_overdue_q,
    is_baseline_overdue_values,
    is_overdue_values,
    overdue_q,
)
from tasks.views import task_timeline
from villages.models import Department, Village

PLAN_TYPES = {"village": "一村一案", "household": "一户一策"}
DEPARTMENT_PROGRESS_ONLY = "行业部门的用户只能查看本部门负责的任务并填报其进度，不能修改施工图。"


def read_only_message(user) -> str:
    """The 403 of a write the user's role may not make: a department's user is told what they may do instead."""
    return DEPARTMENT_PROGRESS_ONLY if access.department_of(user) is not None else READ_ONLY_ROLE


FUND_SOURCES = dict(FundSource.choices)
PLAN_FIXED = "任务所属的施工图不能修改。"
ZERO = Decimal("0")

# DRF's error keys for numbers, with the forms' Chinese messages.
DRF_MONEY_ERRORS = {**MONEY_ERRORS, "max_string_length": MONEY_ERRORS["max_digits"]}
DRF_QUANTITY_ERRORS = {**QUANTITY_ERRORS, "max_string_length": QUANTITY_ERRORS["max_digits"]}


def money_field(name: str | None = None, **kwargs) -> serializers.DecimalField:
    """An amount in 万元 (4 decimals), never negative, with the forms' messages."""
    messages = {**DRF_MONEY_ERRORS, "min_value": NEGATIVE.get(name, "资金金额不能为负数。")}
    return serializers.DecimalField(max_digits=14, decimal_places=4, min_value=ZERO, error_messages=messages, **kwargs)


def progress_field(**kwargs) -> serializers.IntegerField:
    messages = {"min_value": PROGRESS_RANGE, "max_value": PROGRESS_RANGE, "invalid": "进度应为 0–100 的整数。"}
    return serializers.IntegerField(min_value=0, max_value=100, error_messages=messages, **kwargs)


# ---------------------------------------------------------------------------------------------
# Serializers: reading
# ---------------------------------------------------------------------------------------------


class FundLineSerializer(serializers.ModelSerializer):
    source_display = Label(FundSource.choices, source="source")

    class Meta:
        model = FundLine
        fields = ["source", "source_display", "amount"]
        read_only_fields = fields


class TaskSerializer(serializers.ModelSerializer):
    """A row of the one table as the plan page shows it."""

    plan_year = serializers.IntegerField(source="plan.year", read_only=True)
    plan_state = serializers.CharField(source="plan.state", read_only=True)
    village = serializers.IntegerField(source="plan.village_id", read_only=True)
    village_name = serializers.CharField(source="plan.village.name", read_only=True)
    township = serializers.CharField(source="plan.village.township_id", read_only=True)
    township_name = serializers.CharField(source="plan.village.township.name", read_only=True)
    household_number = serializers.CharField(source="household.number", read_only=True, allow_null=True, default=None)
    plan_type = serializers.SerializerMethodField(help_text="village：一村一案；household：一户一策")
    plan_type_display = serializers.SerializerMethodField(help_text="一村一案或一户一策")
    category_display = Label(Category.choices, source="category")
    status_display = Label(Task.Status.choices, source="status")
    overdue = Overdue(help_text="已逾期：过了完成时限仍未完成（按系统的“今天”）")
    fund_lines = serializers.SerializerMethodField(help_text="资金来源明细（万元）；合计等于计划资金")
    responsible_email = serializers.CharField(read_only=True, help_text="责任人电子邮箱，未填时为空字符串")
    department_name = serializers.CharField(
        source="department.name", read_only=True, allow_null=True, default=None, help_text="责任部门（行业部门）名称"
    )
    baseline_overdue = serializers.SerializerMethodField(
        help_text="原定逾期：按原定完成时限已逾期或延期完成（不论时限是否已变更；草稿施工图的任务为 false）"
    )
    pending_change_request = serializers.IntegerField(
        read_only=True, allow_null=True, default=None, help_text="待审批的变更申请 id；没有时为 null"
    )

    class Meta:
        model = Task
        fields = [
            "id",
            "plan",
            "plan_year",
            "plan_state",
            "village",
            "village_name",
            "township",
            "township_name",
            "household",
            "household_number",
            "plan_type",
            "plan_type_display",
            "category",
            "category_display",
            "item",
            "quantity",
            "unit",
            "deadline",
            "deadline_text",
            "baseline_deadline",
            "baseline_planned_funds",
            "baseline_quantity",
            "change_count",
            "pending_change_request",
            "planned_funds",
            "invested_funds",
            "fund_lines",
            "responsible_unit",
            "department",
            "department_name",
            "responsible_person",
            "responsible_phone",
            "responsible_email",
            "status",
            "status_display",
            "progress",
            "completed_on",
            "last_progress_on",
            "overdue",
            "baseline_overdue",
            "is_removed",
            "removed_reason",
            "carried_from",
            "carry_reason",
            "version",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_plan_type(self, task) -> str:
        return "household" if task.household_id else "village"

    def get_plan_type_display(self, task) -> str:
        return PLAN_TYPES[self.get_plan_type(task)]

    def get_baseline_overdue(self, task) -> bool:
        return task.is_baseline_overdue(self.context["today"])

    @extend_schema_field(FundLineSerializer(many=True))
    def get_fund_lines(self, task) -> list[dict]:
        # Plain dicts rather than a nested serializer per line: a tenth of the list's time at 100 rows.
        return [
            {
                "source": line.source,
                "source_display": str(FUND_SOURCES.get(line.source, line.source)),
                "amount": f"{line.amount:.4f}",
            }
            for line in task.fund_lines.all()
        ]


# The plan-row list as values(): the columns read, and the writer that gives each row TaskSerializer's output.
ROW_COLUMNS = (
    "id",
    "plan_id",
    "plan__year",
    "plan__state",
    "plan__village_id",
    "plan__village__name",
    "plan__village__township_id",
    "plan__village__township__name",
    "household_id",
    "category",
    "item",
    "quantity",
    "unit",
    "deadline",
    "deadline_text",
    "baseline_deadline",
    "baseline_planned_funds",
    "baseline_quantity",
    "change_count",
    "planned_funds",
    "invested_funds",
    "responsible_unit",
    "department_id",
    "responsible_person",
    "responsible_phone",
    "responsible_email",
    "status",
    "progress",
    "completed_on",
    "last_progress_on",
    "is_removed",
    "removed_reason",
    "carried_from_id",
    "carry_reason",
    "version",
    "created_by_id",
    "created_at",
    "updated_at",
)


class FundLinesText(Aggregate):
    """A row's fund lines as one text, ``source:amount`` joined by ``,`` (``STRING_AGG`` on PostgreSQL,
    ``GROUP_CONCAT`` on SQLite), in no particular order: :meth:`TaskRows.fund_lines` reads it. Sources are codes of
    letters (:class:`~tasks.models.FundSource`), amounts numbers: neither holds ``:`` or ``,``."""

    function = "STRING_AGG"
    template = "%(function)s(%(expressions)s, ',')"
    output_field = TextField()

    def as_sqlite(self, compiler, connection, **extra_context):
        return super().as_sql(compiler, connection, function="GROUP_CONCAT", **extra_context)


def fund_lines_of_row() -> Subquery:
    """The row's fund lines as :class:`FundLinesText`, or null when it has none (a subquery: no query per row)."""
    text = FundLinesText(Concat("source", Value(":"), Cast("amount", TextField()), output_field=TextField()))
    return Subquery(FundLine.objects.filter(task=OuterRef("pk")).order_by().values("task").annotate(t=text).values("t"))


def row_subqueries() -> dict[str, Subquery]:
    """What a page of the plan-row list reads beside the row's own columns, as subqueries of the page's query. The
    household and the department are not joined: with them joined, PostgreSQL took longer to plan the page than to
    run it (1.0 ms against 0.7 at 30× the demo); as subqueries the planning is 0.5 ms, and the whole query, sent, run
    and read, went from 2.7 to 1.8 ms."""
    return {
        "household_number": Subquery(Household.objects.filter(pk=OuterRef("household_id")).values("number")),
        "department_name": Subquery(Department.objects.filter(pk=OuterRef("department_id")).values("name")),
        "fund_lines_text": fund_lines_of_row(),
        "pending_change_request": pending_request_of_row(),
    }


@functools.cache
def _rows_template():
    """:meth:`TaskRows.queryset`'s template, never evaluated itself (``TaskRows.queryset`` hands out copies)."""
    extra = row_subqueries()
    return Task.objects.annotate(**extra).values(*ROW_COLUMNS, *extra)


class TaskRows:
    """Plan rows read by :meth:`queryset` (``values()`` dicts) written as :class:`TaskSerializer` writes them (same
    keys, order, text of numbers, dates and times, labels), for a page of a list: the labels evaluated and the time
    zone looked up once, and everything a row shows read in the page's own query (one query for the page, whatever
    its size)."""

    def __init__(self, today):
        self.today = today
        self.categories = rows.labels(Category.choices)
        self.statuses = rows.labels(Task.Status.choices)
        self.sources = rows.labels(FundSource.choices)
        self.plan_types = {False: ("village", PLAN_TYPES["village"]), True: ("household", PLAN_TYPES["household"])}
        self.moment = rows.datetime_text()

    @staticmethod
    def queryset():
        """All plan rows as the values() dicts :meth:`write` takes (filter it as any queryset of rows): the columns,
        and as subqueries the household's number, the department's name, the fund lines' text and the pending change
        request. A copy of a queryset built once: resolving the 40 columns and four subqueries took 0.6 ms a request
        (30× the demo), filtering a copy 0.1 ms; the SQL is the same."""
        return _rows_template().all()

    def fund_lines(self, text: str | None) -> list[dict]:
        """A row's fund lines from :class:`FundLinesText`, by source as the prefetch ordered them."""
        if not text:
            return []
        sources = self.sources
        return [
            {"source": source, "source_display": sources.get(source, source), "amount": MONEY_TEXT(Decimal(amount))}
            for source, amount in sorted(part.split(":", 1) for part in text.split(","))
        ]

    def write(self, page: list[dict]) -> list[dict]:
        return [self.row(row) for row in page]

    def row(self, r: dict) -> dict:
        today, moment = self.today, self.moment
        date, money, amount = rows.date_text, MONEY_TEXT, QUANTITY_TEXT
        plan_type, plan_type_display = self.plan_types[r["household_id"] is not None]
        status, category = r["status"], r["category"]
        return {
            "id": r["id"],
            "plan": r["plan_id"],
            "plan_year": r["plan__year"],
            "plan_state": r["plan__state"],
            "village": r["plan__village_id"],
            "village_name": r["plan__village__name"],
            "township": str(r["plan__village__township_id"]),
            "township_name": r["plan__village__township__name"],
            "household": r["household_id"],
            "household_number": r["household_number"],
            "plan_type": plan_type,
            "plan_type_display": plan_type_display,
            "category": category,
            "category_display": self.categories.get(category, category),
            "item": r["item"],
            "quantity": amount(r["quantity"]),
            "unit": r["unit"],
            "deadline": date(r["deadline"]),
            "deadline_text": r["deadline_text"],
            "baseline_deadline": date(r["baseline_deadline"]),
            "baseline_planned_funds": money(r["baseline_planned_funds"]),
            "baseline_quantity": amount(r["baseline_quantity"]),
            "change_count": r["change_count"],
            "pending_change_request": r["pending_change_request"],
            "planned_funds": money(r["planned_funds"]),
            "invested_funds": money(r["invested_funds"]),
            "fund_lines": self.fund_lines(r["fund_lines_text"]),
            "responsible_unit": r["responsible_unit"],
            "department": r["department_id"],
            "department_name": r["department_name"],
            "responsible_person": r["responsible_person"],
            "responsible_phone": r["responsible_phone"],
            "responsible_email": r["responsible_email"],
            "status": status,
            "status_display": self.statuses.get(status, status),
            "progress": r["progress"],
            "completed_on": date(r["completed_on"]),
            "last_progress_on": date(r["last_progress_on"]),
            "overdue": is_overdue_values(
                status=status, deadline=r["deadline"], is_removed=r["is_removed"], today=today
            ),
            "baseline_overdue": is_baseline_overdue_values(
                baseline_deadline=r["baseline_deadline"],
                completed_on=r["completed_on"],
                is_removed=r["is_removed"],
                today=today,
            ),
            "is_removed": r["is_removed"],
            "removed_reason": r["removed_reason"],
            "carried_from": r["carried_from_id"],
            "carry_reason": r["carry_reason"],
            "version": r["version"],
            "created_by": r["created_by_id"],
            "created_at": moment(r["created_at"]),
            "updated_at": moment(r["updated_at"]),
        }


MONEY_TEXT = rows.decimal_text(4)  # 万元: the model's decimal_places of planned_funds, invested_funds, baselines
QUANTITY_TEXT = rows.decimal_text(2)  # quantity, baseline_quantity


class PlanSerializer(serializers.ModelSerializer):
    village_name = serializers.CharField(source="village.name", read_only=True)
    township = serializers.CharField(source="village.township_id", read_only=True)
    township_name = serializers.CharField(source="village.township.name", read_only=True)
    state_display = Label(Plan.State.choices, source="state")
    row_count = serializers.IntegerField(read_only=True, help_text="任务行数（不含已撤销的）")
    done_count = serializers.IntegerField(read_only=True)
    overdue_count = serializers.IntegerField(read_only=True)
    planned_total = serializers.DecimalField(max_digits=16, decimal_places=4, read_only=True, help_text="万元")
    invested_total = serializers.DecimalField(max_digits=16, decimal_places=4, read_only=True, help_text="万元")

    class Meta:
        model = Plan
        fields = [
            "id",
            "village",
            "village_name",
            "township",
            "township_name",
            "year",
            "state",
            "state_display",
            "approved_by",
            "approved_at",
            "note",
            "row_count",
            "done_count",
            "overdue_count",
            "planned_total",
            "invested_total",
        ]
        read_only_fields = fields


class ProgressEvidenceSerializer(EvidenceSerializer):
    url_name, row_id = "api:progress-update-evidence", "update_id"

    class Meta(EvidenceSerializer.Meta):
        model = ProgressEvidence


class ProgressUpdateSerializer(serializers.ModelSerializer):
    status_display = Label(Task.Status.choices, source="status")
    evidence = ProgressEvidenceSerializer(many=True, read_only=True)

    class Meta:
        model = ProgressUpdate
        fields = [
            "id",
            "task",
            "reported_on",
            "progress",
            "status",
            "status_display",
            "invested_funds",
            "note",
            "reported_by",
            "created_at",
            "evidence",
        ]
        read_only_fields = fields


class ProgressReportSerializer(ProgressUpdateSerializer):
    """The answer to a progress report: the report, and the row as it now stands (its ETag is the header's)."""

    task_now = serializers.SerializerMethodField()

    class Meta(ProgressUpdateSerializer.Meta):
        fields = [*ProgressUpdateSerializer.Meta.fields, "task_now"]
        read_only_fields = fields

    @extend_schema_field(TaskSerializer)
    def get_task_now(self, update):
        return self.context["task_now"]


class HistoryEntrySerializer(history.HistoryEntrySerializer):
    kind = serializers.CharField(help_text="task（任务本身）、fund_line（资金来源）或 progress（进度填报）")


# ---------------------------------------------------------------------------------------------
# Serializers: writing (types only; the services judge the whole row)
# ---------------------------------------------------------------------------------------------


class FundLineInputSerializer(serializers.Serializer):
    source = serializers.ChoiceField(choices=FundSource.choices, error_messages={"invalid_choice": "资金来源无效。"})
    amount = money_field()


class TaskWriteSerializer(StrictSerializer):
    """What a person may set on a row (``tasks.services.TASK_FIELDS``), the fund lines and the reason."""

    plan = VisibleRow(Plan, "施工图")
    household = VisibleRow(
        Household,
        "该户",
        allow_null=True,
        required=False,
        help_text="一户一策的任务填所属户的 id；一村一案的任务留空（null）",
    )
    category = serializers.ChoiceField(choices=Category.choices)
    item = serializers.CharField(max_length=200)
    quantity = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=ZERO,
        allow_null=True,
        required=False,
        error_messages={**DRF_QUANTITY_ERRORS, "min_value": NEGATIVE["quantity"]},
    )
    unit = serializers.CharField(max_length=20, allow_blank=True, required=False)
    deadline = serializers.DateField()
    deadline_text = serializers.CharField(max_length=50, allow_blank=True, required=False)
    planned_funds = money_field("planned_funds", required=False)
    invested_funds = money_field("invested_funds", required=False)
    responsible_unit = serializers.CharField(max_length=100, allow_blank=True, required=False)
    responsible_person = serializers.CharField(max_length=50, allow_blank=True, required=False)
    responsible_phone = serializers.CharField(max_length=20, allow_blank=True, required=False)
    status = serializers.ChoiceField(choices=Task.Status.choices, required=False)
    progress = progress_field(required=False)
    completed_on = serializers.DateField(allow_null=True, required=False)
    fund_lines = FundLineInputSerializer(
        many=True,
        required=False,
        help_text="资金来源明细；给出时整体替换（空列表即删除全部），不给出则保持不变。合计须等于计划资金",
    )
    reason = reason_field("修改原因：已批准的施工图修改完成时限、资金或新增任务时必须填写，记入修改历史")

    fixed_fields = {"plan": PLAN_FIXED}

    def service_arguments(self) -> dict:
        data = dict(self.validated_data)
        lines = data.pop("fund_lines", None)
        return {
            "data": {name: value for name, value in data.items() if name in services.TASK_FIELDS},
            "fund_lines": None if lines is None else [dict(line) for line in lines],
            "reason": data.get("reason", ""),
        }


class TaskUpdateSerializer(TaskWriteSerializer):
    """A change to a row: the same fields but ``plan``, which a row keeps (a ``plan`` sent is refused by name)."""

    plan = None


class RemoveSerializer(StrictSerializer):
    reason = serializers.CharField(
        max_length=500, error_messages={"required": services.REASON_REMOVE, "blank": services.REASON_REMOVE}
    )


class ProgressInputSerializer(StrictSerializer):
    """A progress report (JSON, or multipart/form-data with evidence ``files``)."""

    reported_on = serializers.DateField(required=False, help_text="填报日期，默认今天；不能晚于今天")
    progress = progress_field()
    status = serializers.ChoiceField(choices=Task.Status.choices)
    invested_funds = money_field("invested_funds")
    note = serializers.CharField(allow_blank=True, required=False, default="")
    files = evidence_files(f"佐证材料：照片（JPG、PNG、WebP、HEIC）或 PDF，最多 {services.MAX_EVIDENCE_FILES} 个")


class RolloverInputSerializer(StrictSerializer):
    """A rollover (结转) of a plan's unfinished rows into the village's plan of the next year."""

    reason = serializers.CharField(
        max_length=rollover.REASON_MAX,
        help_text="结转原因（必填），记入每项结转任务及其修改历史",
        error_messages={
            "required": CARRY_REASON_REQUIRED,
            "blank": CARRY_REASON_REQUIRED,
            "max_length": rollover.REASON_TOO_LONG,
        },
    )
    tasks = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID, error_messages={"invalid": "任务 id 应为整数。"}),
        required=False,
        max_length=10000,
        help_text="要结转的任务 id；不给出时结转本施工图全部未完成且未结转过的任务",
    )
    deadline = serializers.DateField(
        required=False, help_text="结转任务的新完成时限；不给出时为原时限在新年度的同月同日"
    )


class RolloverSkippedSerializer(serializers.Serializer):
    task = serializers.IntegerField(help_text="未结转的任务 id")
    message = serializers.CharField(help_text="未结转的原因")


class RolloverResultSerializer(serializers.Serializer):
    """What a rollover did."""

    plan = serializers.IntegerField(source="origin.pk", help_text="原施工图 id")
    target_year = serializers.IntegerField(help_text="目标年度")
    target_plan = serializers.IntegerField(
        source="target.pk", allow_null=True, default=None, help_text="目标年度施工图 id；未结转任何任务且尚无时为 null"
    )
    target_state = serializers.CharField(
        source="target.state", allow_null=True, default=None, help_text="目标施工图状态：draft 或 approved"
    )
    created = serializers.SerializerMethodField(help_text="草稿施工图：新建的结转任务 id")
    change_requests = serializers.SerializerMethodField(
        help_text="已批准的施工图：提交的结转申请（变更申请，新增）id，批准后才加入施工图"
    )
    skipped = serializers.SerializerMethodField(help_text="已结转过而未重复结转的任务")
    message = serializers.SerializerMethodField(help_text="结果说明")

    def get_created(self, result) -> list[int]:
        return [task.pk for task in result.created]

    def get_change_requests(self, result) -> list[int]:
        return [request.pk for request in result.requested]

    @extend_schema_field(RolloverSkippedSerializer(many=True))
    def get_skipped(self, result) -> list[dict]:
        return [{"task": task.pk, "message": message} for task, message in result.skipped]

    def get_message(self, result) -> str:
        return result.message()


class PlanCreateSerializer(StrictSerializer):
    village = VisibleRow(Village, "该村")
    year = serializers.IntegerField(min_value=2000, max_value=2100)


# ---------------------------------------------------------------------------------------------
# Filters (what the plan pages and the supervisors' queue filter by)
# ---------------------------------------------------------------------------------------------


class TaskFilter(FilterSet):
    township = filters.CharFilter(field_name="plan__village__township", label="乡镇代码（9 位）")
    village = IdFilter(field_name="plan__village", label="村 id")
    plan_year = IntegerFilter(field_name="plan__year", min_value=2000, max_value=2100, label="施工图年度")
    plan_type = filters.ChoiceFilter(
        method="filter_plan_type",
        choices=list(PLAN_TYPES.items()),
        label="village：一村一案（村级任务）；household：一户一策（户级任务）",
    )
    status = filters.MultipleChoiceFilter(choices=Task.Status.choices, label="状态（可多选：?status=a&status=b）")
    category = filters.MultipleChoiceFilter(choices=Category.choices, label="类别（可多选）")
    deadline = filters.DateFromToRangeFilter(label="完成时限：deadline_after 起、deadline_before 止（含当天）")
    overdue = BooleanFilter(method="filter_overdue", label="true：只看已逾期的；false：只看未逾期的")
    baseline_overdue = BooleanFilter(
        method="filter_baseline_overdue", label="true：只看原定逾期（按原定完成时限逾期或延期完成）的；false：其余"
    )
    due_within = IntegerFilter(
        method="filter_due_within", min_value=1, max_value=3650, label="N 天内到期且未完成的（1–3650）"
    )
    stale_days = IntegerFilter(
        method="filter_stale", min_value=1, max_value=3650, label="N 天没有填报进度且未完成的（1–3650）"
    )
    responsible_person = filters.CharFilter(lookup_expr="icontains", label="责任人（包含）")
    responsible_unit = filters.CharFilter(lookup_expr="icontains", label="责任单位（包含）")
    removed = BooleanFilter(method="filter_removed", label="true：只看已撤销的；默认只列未撤销的")

    class Meta:
        model = Task
        fields = ["plan", "household", "department"]

    @property
    def qs(self):
        rows = super().qs
        if self.form.cleaned_data.get("removed") is None:
            rows = rows.live()
        return rows

    @classmethod
    def unfiltered(cls, queryset):
        """The rows when the request names no filter (the backend then builds no filter set): the live ones."""
        return queryset.live()

    @property
    def today(self):
        return clock.today()

    def filter_plan_type(self, queryset, name, value):
        return queryset.household_rows() if value == "household" else queryset.village_rows()

    def filter_overdue(self, queryset, name, value):
        overdue = overdue_q(self.today)
        return queryset.filter(overdue) if value else queryset.exclude(overdue)

    def filter_baseline_overdue(self, queryset, name, value):
        late = baseline_overdue_q(self.today)
        return queryset.filter(late) if value else queryset.exclude(late)

    def filter_due_within(self, queryset, name, value):
        return queryset.due_within(self.today, value)

    def filter_stale(self, queryset, name, value):
        return queryset.stale(self.today, value)

    def filter_removed(self, queryset, name, value):
        return queryset.filter(is_removed=value)


@functools.cache
def pending_request_of_row() -> Subquery:
    """The id of the row's pending change request, or null (a subquery: no query per row). Built once: a queryset's
    ``annotate`` resolves a copy of it."""
    return Subquery(ChangeRequest.objects.filter(task=OuterRef("pk")).pending().order_by().values("pk")[:1])


class PlanFilter(FilterSet):
    township = filters.CharFilter(field_name="village__township", label="乡镇代码（9 位）")

    class Meta:
        model = Plan
        fields = ["village", "township", "year", "state"]


class ProgressFilter(FilterSet):
    reported_on = filters.DateFromToRangeFilter(label="填报日期：reported_on_after 起、reported_on_before 止")
    village = IdFilter(field_name="task__plan__village", label="村 id")

    class Meta:
        model = ProgressUpdate
        fields = ["task", "village", "status"]


# ---------------------------------------------------------------------------------------------
# Viewsets
# ---------------------------------------------------------------------------------------------


@documented("施工图", list="村级施工图（一村一案）列表，含任务行数、完成、逾期、资金合计", retrieve="一张施工图")
class PlanViewSet(ApiViewSet):
    serializer_class = PlanSerializer
    filterset_class = PlanFilter
    ordering_fields = ("id", "year")
    ordering = ("id",)
    search_fields = ("village__name",)

    def visible(self):
        figures = per_plan_figures(clock.today())
        return Plan.objects.visible_to(self.request.user).select_related("village__township").annotate(**figures)

    @creates("新建一个村某年度的施工图（草稿）", request=PlanCreateSerializer, response=PlanSerializer)
    def create(self, request):
        require(access.may_edit_plans(request.user), read_only_message(request.user))
        data = self.valid_input(PlanCreateSerializer).validated_data
        plan = services.plan_create(village_id=data["village"].pk, year=data["year"], user=request.user)
        return self.created(plan)

    @extend_schema(
        summary="批准施工图（区级管理员）。此后修改完成时限、资金，新增或撤销任务都须填写原因",
        request=None,
        responses={200: PlanSerializer, **errors(400, 403, 404)},
    )
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        plan = self.get_object()
        require(access.may_approve_plans(request.user), DISTRICT_ADMINS_ONLY)
        return self.changed(plan, services.plan_approve, plan_id=plan.pk)

    @extend_schema(
        summary="结转：把本施工图未完成的任务结转到该村下一年度的施工图（草稿则直接加入，已批准则提交变更申请）",
        request=RolloverInputSerializer,
        responses={200: RolloverResultSerializer, **errors(400, 403, 404)},
    )
    @action(detail=True, methods=["post"])
    def rollover(self, request, pk=None):
        plan = self.get_object()
        require(access.may_edit_plans(request.user), read_only_message(request.user))
        data = self.valid_input(RolloverInputSerializer).validated_data
        result = rollover.roll_over(
            user=request.user,
            plan=plan,
            reason=data["reason"],
            task_ids=data.get("tasks"),
            deadline=data.get("deadline"),
        )
        return Response(RolloverResultSerializer(result).data)


@documented(
    "施工图", list="施工图任务（一村一案、一户一策的每一行），含资金来源", retrieve="一行任务（响应头 ETag 为其版本）"
)
class TaskViewSet(ApiViewSet):
    serializer_class = TaskSerializer
    filterset_class = TaskFilter
    versioned = True
    conflict = services.TaskConflict
    ordering_fields = (
        "id",
        "deadline",
        "planned_funds",
        "invested_funds",
        "progress",
        "status",
        "category",
        "created_at",
        "updated_at",
    )
    ordering = ("id",)
    search_fields = ("item", "responsible_person", "responsible_unit")
    parser_classes = WITH_FILES

    def visible(self):
        return (
            Task.objects.visible_to(self.request.user)
            .select_related("plan__village__township", "household", "department")
            .prefetch_related("fund_lines")
            .annotate(pending_change_request=pending_request_of_row())
        )

    def list(self, request, *args, **kwargs):
        """A page of rows read as values() and written by :class:`TaskRows`: one query (:func:`row_subqueries`),
        whatever the page size."""
        page = self.paginate_queryset(self.filter_queryset(TaskRows.queryset().visible_to(request.user)))
        return self.get_paginated_response(TaskRows(clock.today()).write(page))

    @creates("新增一行任务（已批准的施工图须填写 reason）", request=TaskWriteSerializer, response=TaskSerializer)
    def create(self, request):
        require(access.may_edit_plans(request.user), read_only_message(request.user))
        serializer = self.valid_input(TaskWriteSerializer)
        with change_request_needed():
            task = services.task_create(
                plan=serializer.validated_data["plan"], user=request.user, **serializer.service_arguments()
            )
        return self.created(task)

    @changes("修改一行任务的全部字段（If-Match 必填）", request=TaskUpdateSerializer, response=TaskSerializer)
    def update(self, request, pk=None):
        return self._update(request, partial=False)

    @changes("修改一行任务的部分字段（If-Match 必填）", request=TaskUpdateSerializer, response=TaskSerializer)
    def partial_update(self, request, pk=None):
        return self._update(request, partial=True)

    def _update(self, request, *, partial: bool):
        task, version = self.to_change(access.may_edit_plans(request.user), read_only_message(request.user))
        arguments = self.valid_input(TaskUpdateSerializer, partial=partial).service_arguments()
        with change_request_needed():
            return self.changed(task, services.task_update, task_id=task.pk, expected_version=version, **arguments)

    @changes(
        "标记完成：状态“已完成”、进度 100%、完成日期为今天（If-Match 必填）", request=None, response=TaskSerializer
    )
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        task, version = self.to_change(access.may_edit_plans(request.user), read_only_message(request.user))
        return self.changed(task, services.task_complete, task_id=task.pk, expected_version=version)

    @changes("撤销一行任务（不删除，须说明原因；If-Match 必填）", request=RemoveSerializer, response=TaskSerializer)
    @action(detail=True, methods=["post"])
    def remove(self, request, pk=None):
        task, version = self.to_change(access.may_edit_plans(request.user), read_only_message(request.user))
        reason = self.valid_input(RemoveSerializer).validated_data["reason"]
        with change_request_needed():
            return self.changed(task, services.task_remove, task_id=task.pk, expected_version=version, reason=reason)

    @changes(
        "填报进度，可附照片或 PDF（multipart/form-data 的 files；If-Match 必填）",
        request={"multipart/form-data": ProgressInputSerializer, "application/json": ProgressInputSerializer},
        response=ProgressReportSerializer,
        status=201,
    )
    @action(detail=True, methods=["post"])
    def progress(self, request, pk=None):
        # The area staff and a department's users (their department's rows: the service asks reportable_by).
        task, version = self.to_change(access.may_report_progress(request.user), read_only_message(request.user))
        data = self.valid_input(ProgressInputSerializer).validated_data
        with self.guarded():
            update = services.progress_record(
                task_id=task.pk,
                user=request.user,
                expected_version=version,
                progress=data["progress"],
                status=data["status"],
                invested_funds=data["invested_funds"],
                note=data.get("note", ""),
                reported_on=data.get("reported_on"),
                files=data.get("files", []),
            )
        task = self.reread(task.pk)
        task_data = self.represent(task)
        update = ProgressUpdate.objects.prefetch_related("evidence").get(pk=update.pk)
        context = {**self.get_serializer_context(), "task_now": task_data}
        body = ProgressReportSerializer(update, context=context).data
        return self._with_etag(body, self.etag(task, task_data), status.HTTP_201_CREATED)

    @extend_schema(
        summary="任务的修改历史：谁、何时、改前改后、原因", responses={200: HistoryEntrySerializer(many=True)}
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def history(self, request, pk=None):
        task = self.get_object()
        entries = task_timeline(task)
        return self._with_etag(HistoryEntrySerializer(entries, many=True).data, None, status.HTTP_200_OK)

    def _with_etag(self, body, etag, code):
        return Response(body, status=code, headers={"ETag": etag} if etag else None)


# An approved plan's plan fields change only by an approved change request: the API says where to ask.
CHANGE_REQUEST_NEEDED = (
    "施工图已批准：项目、类别、数量、单位、完成时限、计划资金、资金来源、责任单位和责任人只能通过变更申请修改；"
    "新增或撤销任务也是如此，批准后生效。请提交变更申请：POST /api/v1/change-requests/（修改、撤销：task、"
    "task_version；新增：plan、kind=add；以及 changes、reason_category、reason）。"
    "进度、状态、已投入资金、完成日期和联系电话仍可直接修改。"
)
CHANGE_REQUEST_MESSAGES = {services.APPROVED_CHANGE, services.APPROVED_NEW, services.APPROVED_REMOVE}


class ChangeRequestRequired(APIException):
    """409: the row is on an approved plan; the change has to be asked for (``/api/v1/change-requests/``)."""

    status_code = 409
    default_detail = CHANGE_REQUEST_NEEDED
    default_code = "change_request_required"


@contextmanager
def change_request_needed():
    """A service's refusal of a direct change to an approved plan as 409 naming the change-request endpoint."""
    try:
        yield
    except DjangoValidationError as e:
        messages = set(getattr(e, "message_dict", {}).get(NON_FIELD_ERRORS, []))
        if messages & CHANGE_REQUEST_MESSAGES:
            raise ChangeRequestRequired() from None
        raise


@documented("施工图", list="进度填报记录（含佐证材料）", retrieve="一次进度填报")
class ProgressUpdateViewSet(ApiViewSet):
    serializer_class = ProgressUpdateSerializer
    filterset_class = ProgressFilter
    ordering_fields = ("id", "reported_on")
    ordering = ("-id",)

    def visible(self):
        tasks = Task.objects.visible_to(self.request.user)
        return ProgressUpdate.objects.filter(task__in=tasks.values("pk")).prefetch_related("evidence")

    @evidence_download("下载一份佐证材料")
    def evidence(self, request, pk=None, evidence_id=None):
        update = self.get_object()
        return file_response(ProgressEvidence.objects.filter(update=update), evidence_id)
