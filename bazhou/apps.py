from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BazhouConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "bazhou"
    verbose_name = _("系统与目标")

    def ready(self):
        from bazhou import freshness  # noqa: F401  (installs the data-version bumper on every connection)
