from django.conf import settings
from django.contrib import admin
from django.urls import path

admin.site.site_header = "巴州区脱贫攻坚施工图管理系统"
admin.site.site_title = "施工图管理"
admin.site.index_title = "数据维护"

urlpatterns = [
    path("admin/", admin.site.urls),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
