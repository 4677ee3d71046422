from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from bazhou.core import job_views
from bazhou.surfaces import account, compare_views, goal_views, health, households, views, villages
from bazhou.surfaces import inbox as inbox_views
from households import urls as household_urls

# Pages that read several apps live here; their names stay in the app's namespace ("villages:detail").
village_pages = [
    path("", villages.village_list, name="list"),
    path("<int:pk>/", villages.village_detail, name="detail"),
]
household_pages = [
    *household_urls.urlpatterns,
    path("<int:pk>/", households.household_detail, name="detail"),
]

admin.site.site_header = "巴州区脱贫攻坚施工图管理系统"
admin.site.site_title = "施工图管理"
admin.site.index_title = "数据维护"

urlpatterns = [
    path("", views.home, name="home"),
    path("todo/<slug:key>/", views.todo_section, name="todo_section"),
    path("dashboard/", views.dashboard_page, name="dashboard"),
    path("dashboard/print/", views.dashboard_print, name="dashboard_print"),
    path("dashboard/rows/", views.dashboard_rows, name="dashboard_rows"),
    # The rows behind an annual goal's figure, and a manual goal's figure entered (bazhou/surfaces/goal_views.py).
    path("dashboard/goals/<int:pk>/", goal_views.goal_detail, name="dashboard_goal"),
    path("dashboard/goals/<int:pk>/enter/", goal_views.goal_enter, name="dashboard_goal_enter"),
    # 年度对比: the year beside the year before (bazhou/surfaces/compare.py, docs/years.md).
    path("dashboard/compare/", compare_views.compare_page, name="dashboard_compare"),
    path("inbox/", inbox_views.inbox, name="inbox"),
    path("inbox/<int:pk>/", inbox_views.inbox_open, name="inbox_open"),
    path("inbox/read-all/", inbox_views.inbox_read_all, name="inbox_read_all"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # 修改密码, for every signed-in user (bazhou/surfaces/account.py).
    path("account/password/", account.PasswordChangeView.as_view(), name="password_change"),
    path("account/password/done/", account.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("villages/", include((village_pages, "villages"))),
    path("households/", include((household_pages, "households"))),
    path("tasks/", include("tasks.urls")),
    path("supervision/", include("supervision.urls")),
    # Background jobs: progress, cancel, the file they made (bazhou/core/jobs.py, docs/jobs.md).
    path("jobs/", include((job_views.urlpatterns, "jobs"))),
    # The REST API, its schema and its documentation page (bazhou/surfaces/api/, docs/api.md).
    path("api/v1/", include("bazhou.surfaces.api.urls")),
    path("admin/", admin.site.urls),
    # For the proxy and monitoring: no login; 503 when the database does not answer (bazhou/surfaces/health.py).
    path("healthz/", health.healthz, name="healthz"),
    # For monitoring the background workers: 503 when none has been seen lately.
    path("healthz/worker/", health.healthz_worker, name="healthz_worker"),
]

# The failure pages, in Chinese and in the site's layout; under /api/ the API's error shape (bazhou/surfaces/errors.py).
handler400 = "bazhou.surfaces.errors.bad_request"
handler403 = "bazhou.surfaces.errors.permission_denied"
handler404 = "bazhou.surfaces.errors.page_not_found"
handler500 = "bazhou.surfaces.errors.server_error"
# Uploaded files are never served from MEDIA_URL, not even in debug mode: only through the views that check who may
# see them and send them as downloads (bazhou/core/downloads.py, bazhou/core/job_views.py).
