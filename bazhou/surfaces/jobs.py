"""Background jobs of the surfaces: the dashboard's figures computed again after a bulk change (an Excel import),
so the first district load after it reads stored figures instead of counting every row while a leader waits."""

from __future__ import annotations

from django.dispatch import receiver
from django.urls import reverse

from bazhou.core import clock, jobs
from bazhou.core.xlsx.import_views import import_applied
from bazhou.surfaces.dashboard import PARTS, Scope, stored_parts
from villages.areas import chosen_area

DASHBOARD_REFRESH = "dashboard_refresh"


@receiver(import_applied)
def refresh_after_import(sender, *, user, **kwargs) -> None:
    """Queue the refresh of the dashboards an import by ``user`` changed (their district's and their own area's).
    Sent when an import has written its rows; a refresh already waiting for the same user is reused."""
    jobs.start(user, DASHBOARD_REFRESH, {}, title="更新驾驶舱统计（导入之后）")


@jobs.register(DASHBOARD_REFRESH)
def dashboard_refresh(job, progress) -> jobs.Outcome:
    """Compute and store the dashboard figures of the job's user's district and of their own area (if narrower)."""
    area = chosen_area(job.user)
    today = clock.today()
    scopes = []
    if area.district is not None:
        scopes.append(Scope(district=area.district))
    if area.township is not None or area.village is not None:
        scopes.append(Scope(district=area.district, township=area.township, village=area.village))
    for done, scope in enumerate(scopes):
        progress(done, total=len(scopes), phase="计算驾驶舱统计")
        stored_parts(scope, today, tuple(PARTS), today.year)
    return jobs.Outcome(url=reverse("dashboard"), note="驾驶舱统计已更新。")
