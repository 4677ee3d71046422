from django.urls import path

from households import excel_views, views

app_name = "households"

urlpatterns = [
    path("", views.household_list, name="list"),
    path("<int:pk>/", views.household_detail, name="detail"),
    # Excel: the register out, the import template, upload → preview → confirm.
    path("excel/register/", excel_views.register_xlsx, name="register_xlsx"),
    path("excel/template/", excel_views.register_template, name="register_template"),
    path("excel/import/", excel_views.register_import, name="register_import"),
    path("excel/import/<int:pk>/", excel_views.register_import_batch, name="register_import_batch"),
    path("excel/import/<int:pk>/marked/", excel_views.register_import_marked, name="register_import_marked"),
]
