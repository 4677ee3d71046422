"""Running background jobs in tests: the real queue (django-tasks-db's table) worked off by its real worker loop,
in this process, when the test asks — and following a page that started a job to the file it made."""

from __future__ import annotations

from contextlib import contextmanager
from unittest import mock

from django.urls import resolve
from django_tasks_db.management.commands.db_worker import Worker


@contextmanager
def keeping_the_test_connection():
    """The worker loop closes "old" connections as it wakes up; inside a test's transaction that would drop the
    test's own connection (on PostgreSQL), so it is told not to while a test runs it."""
    with mock.patch("django_tasks_db.management.commands.db_worker.close_old_connections"):
        yield


def run_jobs(max_tasks: int | None = None) -> int:
    """Run every queued job (the worker in batch mode: it stops when the queue is empty). Returns how many ran."""
    with keeping_the_test_connection():
        return _run(max_tasks)


def _run(max_tasks: int | None) -> int:
    worker = Worker(
        queue_names=["default"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=max_tasks,
        worker_id="tests",
        excluded_queue_names=[],
    )
    worker.run()
    return worker._run_tasks


def job_of(response):
    """The job a page sent its user to (a redirect to /jobs/<id>/), or None."""
    from bazhou.core.models import Job  # noqa: PLC0415

    if response.status_code != 302:
        return None
    match = resolve(response["Location"].split("?")[0])
    if match.url_name != "detail" or match.namespace != "jobs":
        return None
    return Job.objects.get(pk=match.kwargs["pk"])


def follow_job(client, response):
    """The response of a page that may have started a job: if it did, the job is run and its file (or its page)
    fetched; otherwise the response itself."""
    job = job_of(response)
    if job is None:
        return response
    run_jobs()
    job.refresh_from_db()
    if job.result_name:
        return client.get(f"/jobs/{job.pk}/download/")
    return client.get(f"/jobs/{job.pk}/", follow=True)


def get_file(client, url, data=None, **extra):
    """GET ``url`` and, if it started a job, run it and return the download (or the page it leads to)."""
    return follow_job(client, client.get(url, data, **extra))
