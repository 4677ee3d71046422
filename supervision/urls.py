from django.urls import path

from supervision import bulletins, exports, views

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
    path("bulletins/", bulletins.bulletin_list, name="bulletins"),
    path("bulletins/new/", bulletins.bulletin_create, name="bulletin_create"),
    path("bulletins/<int:pk>/", bulletins.bulletin_detail, name="bulletin"),
    path("bulletins/<int:pk>/publish/", bulletins.bulletin_publish, name="bulletin_publish"),
    path("bulletins/<int:pk>/print/", bulletins.bulletin_print, name="bulletin_print"),
    path("bulletins/<int:pk>/xlsx/", bulletins.bulletin_xlsx, name="bulletin_xlsx"),
]
