from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    """The shared ground every app stands on: users and their areas, access, clock, history, API and admin bases.

    The label stays ``bazhou`` (the app was ``bazhou`` before the package was split), so tables, migrations and
    ``AUTH_USER_MODEL = "bazhou.User"`` keep their names.
    """

    default_auto_field = "django.db.models.BigAutoField"
    name = "bazhou.core"
    label = "bazhou"
    verbose_name = _("系统与目标")

    def ready(self):
        from django.utils.module_loading import autodiscover_modules

        from bazhou.core import freshness  # noqa: F401  (installs the data-version bumper on every connection)

        # The kinds of background job each app declares in its ``jobs`` module (bazhou/core/jobs.py).
        autodiscover_modules("jobs")
