"""The registry's own pages; ``bazhou.surfaces.urls`` mounts them as ``households:`` with the household page."""

from django.urls import path

from households import excel_views, views

urlpatterns = [
    path("", views.household_list, name="list"),
    # Excel: the register out, the import template, upload → preview → confirm.
    path("excel/register/", excel_views.register_xlsx, name="register_xlsx"),
    path("excel/template/", excel_views.register_template, name="register_template"),
    path("excel/import/", excel_views.register_import, name="register_import"),
    path("excel/import/<int:pk>/", excel_views.register_import_batch, name="register_import_batch"),
    path("excel/import/<int:pk>/marked/", excel_views.register_import_marked, name="register_import_marked"),
]
