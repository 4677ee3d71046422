from django.apps import AppConfig


class SurfacesConfig(AppConfig):
    """The roof over every app: dashboard, URL map, pages that read several apps, the API router, the demo."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "bazhou.surfaces"
    label = "surfaces"
    verbose_name = "页面与接口"
