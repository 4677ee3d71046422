from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TasksConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "tasks"
    verbose_name = _("施工图（一村一案、一户一策）")

    def ready(self):
        # 七有: a finished village row of the plan delivers the exit indicator mapped to its category
        # (villages.exit_criteria).
        from tasks.exit_criteria import plan_row_facts
        from villages.exit_criteria import register
        from villages.models import ExitIndicator

        register(ExitIndicator.Source.PLAN_ROWS, plan_row_facts)

        from tasks import summaries

        summaries.register()

        # The annual goals' figures measured from the registry's records and the plan rows.
        from tasks import goal_summaries

        goal_summaries.register()

        # The exit verdicts (一低七有) read the registry's poor people and the plan rows: registered after both keepers,
        # so a flush refreshes them last.
        from tasks import exit_summaries

        exit_summaries.register()
