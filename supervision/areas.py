"""Findings keep their target's area (``Finding.area_district`` / ``area_township`` / ``area_village``) so that who
sees and answers them is decided on their own row. A finding sets it when saved; this module sets it again for the
findings whose target moved: a village to another township, a household to another village, a plan to another
village, a plan row to another plan (saved through the ORM: the admin, the services). A township cannot move to
another district: its code, its key, begins with the district's.

Each watched model remembers the key it was loaded with (``post_init``, from the instance's own values: no query) and,
when saved with another, has its findings' areas read again from their targets (``refresh_finding_areas``).
"""

from django.db.models.signals import post_init, post_save

from households.models import Household
from supervision.models import Finding, refresh_finding_areas
from tasks.models import Plan, Task
from villages.models import Village

# model → (the key that places it, the findings whose area follows it, as a filter on that model's id)
WATCHED = {
    Village: ("township_id", "area_village"),
    Household: ("village_id", "household"),
    Plan: ("village_id", "task__plan"),
    Task: ("plan_id", "task"),
}
MARK = "_finding_area_key"


def _loaded(sender, instance, **kwargs):
    instance.__dict__[MARK] = instance.__dict__.get(WATCHED[sender][0])


def _saved(sender, instance, created, raw=False, **kwargs):
    attname, findings = WATCHED[sender]
    now = instance.__dict__.get(attname)
    before = instance.__dict__.get(MARK)
    instance.__dict__[MARK] = now
    if created or raw or now is None or before is None or now == before:
        return
    refresh_finding_areas(Finding.objects.filter(**{findings: instance.pk}))


def connect() -> None:
    for model in WATCHED:
        post_init.connect(_loaded, sender=model, weak=False, dispatch_uid=f"finding-area-init-{model._meta.label}")
        post_save.connect(_saved, sender=model, weak=False, dispatch_uid=f"finding-area-save-{model._meta.label}")
