from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from bazhou import health, views

admin.site.site_header = "巴州区脱贫攻坚施工图管理系统"
admin.site.site_title = "施工图管理"
admin.site.index_title = "数据维护"

urlpatterns = [
    path("", views.home, name="home"),
    path("dashboard/print/", views.home_print, name="dashboard_print"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("villages/", include("villages.urls")),
    path("households/", include("households.urls")),
    path("tasks/", include("tasks.urls")),
    path("supervision/", include("supervision.urls")),
    # The REST API, its schema and its documentation page (bazhou/api/, docs/api.md).
    path("api/v1/", include("bazhou.api.urls")),
    path("admin/", admin.site.urls),
    # For the proxy and monitoring: no login; 503 when the database does not answer (bazhou/health.py).
    path("healthz/", health.healthz, name="healthz"),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
