"""Background jobs of supervision: generating a bulletin's draft (counting the period's figures over the whole
district takes seconds), with a progress bar that leads to the new draft."""

from __future__ import annotations

import datetime

from django.urls import reverse

import supervision.snapshots  # noqa: F401  (registers the snapshot job)
from bazhou.core import jobs
from supervision.bulletin_services import bulletin_generate
from supervision.bulletin_views import BULLETIN_JOB
from villages.models import District


@jobs.register(BULLETIN_JOB)
def bulletin(job, progress) -> jobs.Outcome:
    """A draft bulletin of the job's period, district and issuer, as of the day the user asked (rechecked: the
    user may no longer write bulletins, or the district may be out of their sight — then nothing is made)."""
    params = job.params
    progress(0, phase="统计本期数据")
    draft = bulletin_generate(
        user=job.user,
        period_start=datetime.date.fromisoformat(params["period_start"]),
        period_end=datetime.date.fromisoformat(params["period_end"]),
        issuer=params["issuer"],
        district=District.objects.filter(pk=params["district"]).first(),
        today=datetime.date.fromisoformat(params["today"]),
    )
    note = f"已生成通报草稿（{draft.year}年第{draft.number}期），请核对正文后发布。"
    return jobs.Outcome(url=reverse("supervision:bulletin", args=[draft.pk]), note=note)
