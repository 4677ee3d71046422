from django.urls import path

from supervision import bulletin_views, decision_views, exports, views

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
    path("decision-alerts/", decision_views.decision_alert_list, name="decision_alerts"),
    path("bulletins/", bulletin_views.bulletin_list, name="bulletins"),
    path("bulletins/new/", bulletin_views.bulletin_create, name="bulletin_create"),
    path("bulletins/<int:pk>/", bulletin_views.bulletin_detail, name="bulletin"),
    path("bulletins/<int:pk>/publish/", bulletin_views.bulletin_publish, name="bulletin_publish"),
    path("bulletins/<int:pk>/print/", bulletin_views.bulletin_print, name="bulletin_print"),
    path("bulletins/<int:pk>/xlsx/", bulletin_views.bulletin_xlsx, name="bulletin_xlsx"),
]
