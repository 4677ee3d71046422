"""The pages of a background job (``/jobs/``): its progress bar (polled by htmx every second until it ends), its
cancel button, its file while it is kept, its failure reason; and the list of the user's recent jobs.

A job is seen by the user who started it alone (``access.jobs_q``): anyone else gets a 404, as if it did not exist.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.http import FileResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from bazhou.core import access, jobs
from bazhou.core.models import Job

app_name = "jobs"


def _own(user, pk) -> Job:
    return get_object_or_404(Job.objects.filter(access.jobs_q(user)), pk=pk)


def _seconds_left(job: Job) -> int | None:
    """Time left, from the pace so far (rows done since the job started); None until there is a pace to go by."""
    if job.state != Job.State.RUNNING or not job.total or not job.done or not job.started_at:
        return None
    elapsed = (timezone.now() - job.started_at).total_seconds()
    if elapsed <= 0 or job.done >= job.total:
        return None
    return max(1, round(elapsed / job.done * (job.total - job.done)))


def _context(job: Job) -> dict:
    expired = job.state == Job.State.DONE and job.result_name and not job.result_file
    return {"job": job, "seconds_left": _seconds_left(job), "expired": expired}


def _stale(job: Job) -> bool:
    """A running job whose worker is gone: taken up (retried or failed) before the page shows it."""
    return job.state == Job.State.RUNNING and (job.heartbeat_at is None or job.heartbeat_at < jobs.stale_before())


def _fresh(job: Job) -> Job:
    if _stale(job):
        jobs.reap()
        job.refresh_from_db()
    return job


@login_required
@require_GET
def job_list(request):
    recent = Job.objects.filter(access.jobs_q(request.user))[:30]
    return render(request, "jobs/list.html", {"jobs": recent, "hours": settings.BAZHOU_JOB_RESULT_HOURS})


@login_required
@require_GET
def job_page(request, pk):
    job = _fresh(_own(request.user, pk))
    if _leads_on(job):
        _say_done(request, job)
        return redirect(job.result_url)
    return render(request, "jobs/job.html", _context(job))


def _leads_on(job: Job) -> bool:
    """A finished job that made no file but leads to a page (an import's preview, a new draft) sends its user there."""
    return job.state == Job.State.DONE and bool(job.result_url) and not job.result_name


def _say_done(request, job: Job) -> None:
    if job.result_note:
        messages.success(request, job.result_note)


@login_required
@require_GET
def job_progress(request, pk):
    """The progress box alone, for htmx; when the job has ended with a page to go to, htmx is sent there."""
    job = _fresh(_own(request.user, pk))
    if _leads_on(job):
        _say_done(request, job)  # shown on the page htmx is sent to
        response = render(request, "jobs/_progress.html", _context(job))
        response["HX-Redirect"] = job.result_url
        return response
    return render(request, "jobs/_progress.html", _context(job))


@login_required
@require_POST
def job_cancel(request, pk):
    job = _own(request.user, pk)
    if job.active:
        jobs.cancel(job)
        messages.info(request, "已请求取消：进行中的任务会在下一步停止，已做的部分全部撤销。")
    return redirect("jobs:detail", pk=job.pk)


@login_required
@require_GET
def job_download(request, pk):
    job = _own(request.user, pk)
    if job.state != Job.State.DONE or not job.result_name:
        return redirect("jobs:detail", pk=job.pk)
    if not job.result_file or not default_storage.exists(job.result_file):
        hours = settings.BAZHOU_JOB_RESULT_HOURS
        return render(request, "jobs/expired.html", {"job": job, "hours": hours}, status=410)
    response = FileResponse(default_storage.open(job.result_file, "rb"), as_attachment=True, filename=job.result_name)
    response["Cache-Control"] = "private, no-store"
    return response


urlpatterns = [
    path("", job_list, name="list"),
    path("<int:pk>/", job_page, name="detail"),
    path("<int:pk>/progress/", job_progress, name="progress"),
    path("<int:pk>/cancel/", job_cancel, name="cancel"),
    path("<int:pk>/download/", job_download, name="download"),
]
