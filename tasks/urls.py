from django.urls import path

from tasks import (
    approval_views,
    cards,
    change_exports,
    change_views,
    department_views,
    duplicate_views,
    excel_views,
    rollover_views,
    views,
)

app_name = "tasks"

urlpatterns = [
    path("plans/new/", views.plan_create, name="plan_create"),
    path("plans/<int:plan_id>/", views.plan_detail, name="plan"),
    path("plans/<int:plan_id>/approve/", views.plan_approve, name="plan_approve"),
    # 结转: next year's plan from this plan's unfinished rows (tasks.rollover).
    path("plans/<int:plan_id>/rollover/", rollover_views.plan_rollover, name="plan_rollover"),
    path("awaiting-approval/", approval_views.awaiting_approval_list, name="awaiting_approval"),
    path("duplicates/", duplicate_views.duplicates, name="duplicates"),
    path("department/", department_views.department_tasks, name="department"),
    # 我的任务: the user's rows of this year as cards grouped by urgency (a phone's view of the plan).
    path("mine/", cards.my_rows, name="mine"),
    path("plans/<int:plan_id>/new/", views.task_create, name="task_create"),
    path("<int:pk>/", views.task_detail, name="task_detail"),
    path("<int:pk>/edit/", views.task_edit, name="task_edit"),
    path("<int:pk>/row/", views.task_row, name="task_row"),
    path("<int:pk>/inline/", views.task_inline, name="task_inline"),
    path("<int:pk>/progress/", views.task_progress, name="task_progress"),
    path("<int:pk>/complete/", views.task_complete, name="task_complete"),
    path("<int:pk>/remove/", views.task_remove, name="task_remove"),
    path("<int:pk>/history/", views.task_history, name="task_history"),
    # Change requests (变更申请) on approved plans: ask, the request, decide (each its own POST), pending list, ledger.
    path("<int:pk>/change/", change_views.change_request_create, name="change_request_create"),
    path("plans/<int:plan_id>/change/new/", change_views.change_request_add, name="change_request_add"),
    path("changes/", change_views.change_requests, name="change_requests"),
    path("changes/ledger/", change_views.change_ledger, name="change_ledger"),
    path("changes/<int:pk>/", change_views.change_request_detail, name="change_request"),
    path("changes/<int:pk>/approve/", change_views.change_request_approve, name="change_request_approve"),
    path("changes/<int:pk>/reject/", change_views.change_request_reject, name="change_request_reject"),
    path("changes/<int:pk>/withdraw/", change_views.change_request_withdraw, name="change_request_withdraw"),
    path("changes/evidence/<int:pk>/", change_views.change_evidence, name="change_evidence"),
    path("changes/ledger.xlsx", change_exports.change_ledger_xlsx, name="change_ledger_xlsx"),
    # Evidence files are served through the access check, not from MEDIA_URL.
    path("evidence/<int:pk>/", views.evidence_file, name="evidence"),
    # Excel: the one table out, the import template, upload → preview → confirm.
    path("excel/plan-table/", excel_views.plan_table_xlsx, name="plan_table_xlsx"),
    path("excel/template/", excel_views.plan_template, name="plan_template"),
    path("excel/import/", excel_views.plan_import, name="plan_import"),
    path("excel/import/<int:pk>/", excel_views.plan_import_batch, name="plan_import_batch"),
    path("excel/import/<int:pk>/marked/", excel_views.plan_import_marked, name="plan_import_marked"),
]
