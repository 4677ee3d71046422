from django.urls import path

from supervision import (
    bulletin_views,
    case_views,
    decision_views,
    escalation_views,
    exports,
    lead_views,
    snapshot_views,
    views,
)

app_name = "supervision"

# URL names are fixed: other pages link to them.
urlpatterns = [
    path("queue/", views.review_queue, name="queue"),
    path("queue/xlsx/", exports.queue_xlsx, name="queue_xlsx"),
    path("inspections/", views.inspection_list, name="inspections"),
    path("inspections/new/", views.inspection_create, name="inspection_create"),
    path("inspections/<int:pk>/", views.inspection_detail, name="inspection"),
    path("findings/", views.finding_list, name="findings"),
    path("findings/new/", views.finding_create, name="finding_create"),
    path("findings/<int:pk>/", views.finding_detail, name="finding"),
    path("findings/<int:pk>/start/", views.finding_start, name="finding_start"),
    path("findings/<int:pk>/answer/", views.finding_answer, name="finding_answer"),
    path("findings/<int:pk>/recheck/", views.finding_recheck, name="finding_recheck"),
    path("findings/<int:pk>/accountability/", views.finding_accountability, name="finding_accountability"),
    path("findings/<int:pk>/evidence/<int:evidence_id>/", views.finding_evidence, name="finding_evidence"),
    path("findings/<int:pk>/opinion/", lead_views.finding_opinion, name="finding_opinion"),
    path("leads/", lead_views.lead_list, name="leads"),
    path("leads/new/", lead_views.lead_create, name="lead_create"),
    path("leads/<int:pk>/", lead_views.lead_detail, name="lead"),
    path("leads/<int:pk>/handle/", lead_views.lead_handle, name="lead_handle"),
    path("escalations/", escalation_views.escalation_list, name="escalations"),
    path("escalations/<int:pk>/", escalation_views.escalation_detail, name="escalation"),
    path("escalations/<int:pk>/respond/", escalation_views.escalation_respond, name="escalation_respond"),
    path("cases/", case_views.case_list, name="cases"),
    path("cases/<int:pk>/", case_views.case_detail, name="case"),
    path("cases/<int:pk>/decide/", case_views.case_decide, name="case_decide"),
    path("decision-alerts/", decision_views.decision_alert_list, name="decision_alerts"),
    path("bulletins/", bulletin_views.bulletin_list, name="bulletins"),
    path("bulletins/new/", bulletin_views.bulletin_create, name="bulletin_create"),
    path("bulletins/<int:pk>/", bulletin_views.bulletin_detail, name="bulletin"),
    path("bulletins/<int:pk>/publish/", bulletin_views.bulletin_publish, name="bulletin_publish"),
    path("bulletins/<int:pk>/print/", bulletin_views.bulletin_print, name="bulletin_print"),
    path("bulletins/<int:pk>/xlsx/", bulletin_views.bulletin_xlsx, name="bulletin_xlsx"),
    path("bulletins/<int:pk>/docx/", bulletin_views.bulletin_docx, name="bulletin_docx"),
    path("snapshots/", snapshot_views.snapshot_list, name="snapshots"),
    path("snapshots/take/", snapshot_views.snapshot_take, name="snapshot_take"),
]
