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


def make_worker(*, batch: bool = True, interval: float = 0, max_tasks: int | None = None, worker_id: str = "tests"):
    """django-tasks-db's own worker loop on the default queue (batch: it stops when the queue is empty)."""
    return Worker(
        queue_names=["default"],
        interval=interval,
        batch=batch,
        backend_name="default",
        startup_delay=False,
        max_tasks=max_tasks,
        worker_id=worker_id,
        excluded_queue_names=[],
    )


def _run(max_tasks: int | None) -> int:
    worker = make_worker(max_tasks=max_tasks)
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


def upload_and_check(client, url, data):
    """Upload through an import page, run the checking job, and return (the upload's response, the preview page's
    URL): the page the job leads to when it ends."""
    response = client.post(url, data)
    job = job_of(response)
    assert job is not None, f"the upload was not taken: {response.status_code}"
    run_jobs()
    job.refresh_from_db()
    assert job.state == "done", job.error
    return response, job.result_url
