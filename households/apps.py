from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class HouseholdsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "households"
    verbose_name = _("建档立卡贫困户")

    def ready(self):
        # 一低: the registry judges the poverty incidence of village exit (villages.exit_criteria).
        from households.exit_criteria import incidence_facts
        from villages.exit_criteria import register
        from villages.models import ExitIndicator

        register(ExitIndicator.Source.INCIDENCE, incidence_facts)

        from households import summaries

        summaries.register()
