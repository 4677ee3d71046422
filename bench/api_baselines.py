"""The two baselines bench/api.py measures the plan-row list against, in the same run (issue 19). Bench code only:
they are mounted by bench/api_settings.py (``ROOT_URLCONF``) in the benchmark's gunicorn and never in the product.

- ``/bench/naive/tasks/`` — the textbook DRF way: a ``ReadOnlyModelViewSet`` over the user's live rows with
  ``select_related`` (plan, village, township, household, department), ``prefetch_related`` of the fund lines,
  DRF's ``CursorPagination`` (100 a page, by id) and a ``ModelSerializer`` with the fund lines nested: the product's
  ``TaskSerializer`` with ``FundLineSerializer(many=True)``. The same JSON rows as the product.
- ``/bench/raw/tasks/`` — the floor: a plain Django view, the token checked as the API checks it, then ONE SQL
  query (the user's scope compiled by the ORM as a subquery, the relations joined, the pending change request and
  the fund lines (``json_agg``) as subqueries, numbers and dates as text by PostgreSQL) and ``json.dumps``. No
  labels, no derived flags, no links: nothing but the rows. PostgreSQL only.
- ``/bench/before/tasks/`` — the product's own list as it was before issue 19, for a before/after in one run: the
  same viewset, but the page read as model instances (select_related, prefetch) through ``TaskSerializer``, and the
  filter set always built. ``/bench/before/households/`` likewise for the household list (instances through
  ``HouseholdSerializer``).

Both answer the same 100 rows (the first page by id) for the bench user as ``/api/v1/tasks/?page_size=100``.
"""

from __future__ import annotations

import json

from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.urls import include, path
from rest_framework import exceptions, viewsets
from rest_framework.pagination import CursorPagination

from bazhou.core import clock
from bazhou.core.api.authentication import TokenAuthentication
from bazhou.core.api.base import ApiViewSet
from households.api import HouseholdViewSet
from tasks.api import FundLineSerializer, TaskFilter, TaskSerializer, TaskViewSet, pending_request_of_row
from tasks.models import Task

# --- the naive DRF viewset ---------------------------------------------------------------------------------


class NaiveTaskSerializer(TaskSerializer):
    fund_lines = FundLineSerializer(many=True, read_only=True)


class NaiveCursor(CursorPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = "id"


class NaiveTaskViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = NaiveTaskSerializer
    pagination_class = NaiveCursor
    filter_backends = []

    def get_queryset(self):
        return (
            Task.objects.visible_to(self.request.user)
            .live()
            .select_related("plan__village__township", "household", "department")
            .prefetch_related("fund_lines")
            .annotate(pending_change_request=pending_request_of_row())
        )

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "today": clock.today()}


# --- the product's list before issue 19 ---------------------------------------------------------------------


class BeforeTaskFilter(TaskFilter):
    unfiltered = None  # always build the filter set, as before


class BeforeTaskViewSet(TaskViewSet):
    filterset_class = BeforeTaskFilter

    def list(self, request, *args, **kwargs):
        return ApiViewSet.list(self, request, *args, **kwargs)  # model instances through TaskSerializer


class BeforeHouseholdViewSet(HouseholdViewSet):
    def list(self, request, *args, **kwargs):
        return ApiViewSet.list(self, request, *args, **kwargs)  # model instances through HouseholdSerializer


# --- the raw-SQL floor -------------------------------------------------------------------------------------

RAW_SQL = """
SELECT t.id, t.plan_id AS plan, p.year AS plan_year, p.state AS plan_state, p.village_id AS village,
       v.name AS village_name, v.township_id AS township, tw.name AS township_name, t.household_id AS household,
       h.number AS household_number, t.category, t.item, t.quantity::text AS quantity, t.unit,
       t.deadline::text AS deadline, t.deadline_text, t.baseline_deadline::text AS baseline_deadline,
       t.baseline_planned_funds::text AS baseline_planned_funds, t.baseline_quantity::text AS baseline_quantity,
       t.change_count,
       (SELECT c.id FROM tasks_changerequest c WHERE c.task_id = t.id AND c.state = 'pending' LIMIT 1)
           AS pending_change_request,
       t.planned_funds::text AS planned_funds, t.invested_funds::text AS invested_funds,
       COALESCE((SELECT json_agg(json_build_object('source', f.source, 'amount', f.amount::text) ORDER BY f.source)
                 FROM tasks_fundline f WHERE f.task_id = t.id), '[]'::json) AS fund_lines,
       t.responsible_unit, t.department_id AS department, d.name AS department_name, t.responsible_person,
       t.responsible_phone, t.responsible_email, t.status, t.progress, t.completed_on::text AS completed_on,
       t.last_progress_on::text AS last_progress_on, t.is_removed, t.removed_reason,
       t.carried_from_id AS carried_from, t.carry_reason, t.version, t.created_by_id AS created_by,
       t.created_at::text AS created_at, t.updated_at::text AS updated_at
FROM tasks_task t
JOIN tasks_plan p ON p.id = t.plan_id
JOIN villages_village v ON v.id = p.village_id
JOIN villages_township tw ON tw.code = v.township_id
LEFT JOIN households_household h ON h.id = t.household_id
LEFT JOIN villages_department d ON d.id = t.department_id
WHERE t.id IN ({scope})
ORDER BY t.id
"""


def raw_tasks(request):
    try:
        signed_in = TokenAuthentication().authenticate(request)
    except exceptions.AuthenticationFailed as e:
        return JsonResponse({"detail": str(e.detail)}, status=401)
    if signed_in is None:
        return JsonResponse({"detail": "需要令牌。"}, status=401)
    if connection.vendor != "postgresql":
        return JsonResponse({"detail": "只在 PostgreSQL 上提供。"}, status=501)
    scope = Task.objects.visible_to(signed_in[0]).live().order_by("id").values("id")[:100]
    scope_sql, params = scope.query.get_compiler(connection=connection).as_sql()
    with connection.cursor() as cursor:
        cursor.execute(RAW_SQL.format(scope=scope_sql), params)
        columns = [column.name for column in cursor.description]
        results = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    body = json.dumps({"next": None, "previous": None, "results": results}, ensure_ascii=False)
    return HttpResponse(body.encode("utf-8"), content_type="application/json")


naive_list = NaiveTaskViewSet.as_view({"get": "list"})
before_list = BeforeTaskViewSet.as_view({"get": "list"})
before_households = BeforeHouseholdViewSet.as_view({"get": "list"})

urlpatterns = [
    path("bench/naive/tasks/", naive_list, name="bench-naive-tasks"),
    path("bench/raw/tasks/", raw_tasks, name="bench-raw-tasks"),
    path("bench/before/tasks/", before_list, name="bench-before-tasks"),
    path("bench/before/households/", before_households, name="bench-before-households"),
    path("", include("bazhou.surfaces.urls")),
]
