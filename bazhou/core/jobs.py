"""Long work off the request: background jobs with progress, cancel, a kept result and a Chinese failure reason.

The engine is Django's Tasks API through the ``django-tasks`` backport and its database backend
(``django-tasks-db``): the queue is a table, so it works on SQLite for ``make run`` and on PostgreSQL with several
workers on several machines (``manage.py jobs_worker``, docs/jobs.md). Moving to Django 6's ``django.tasks`` changes
the imports of this module only. The product's own record of a job is :class:`~bazhou.core.models.Job`: what the
user asked, how far it is, its file or its page, why it failed.

An app declares a kind of job with :func:`register` (in its ``jobs`` module, found when Django starts) and a page
starts one with :func:`start`; the page then sends the user to ``/jobs/<id>/``, which shows the progress bar until
the job ends. The runner gets the :class:`Job` and a :class:`Progress` to call now and then; it returns an
:class:`Outcome` (a file and/or a page), raises :class:`JobFailed` with a message for the user, or is stopped by
:class:`JobCancelled` (raised by the progress call once the user cancelled).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import File
from django.core.files.storage import default_storage
from django.db import DatabaseError, IntegrityError, OperationalError, connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone
from django_tasks import task

from bazhou.core import replica
from bazhou.core.exportlog import client_address
from bazhou.core.models import Job, WorkerBeat

logger = logging.getLogger(__name__)

INTERNAL_ERROR = "处理时出错（内部错误，已记录）。请稍后重试；如仍失败，请联系系统管理员。"
WORKER_LOST = "后台处理进程中断，任务未完成。请重新发起。"
NOT_ALLOWED = "您现在没有查看或处理这些数据的权限（所属区域或角色已变化），任务未执行。"
RESULT_DIR = "jobs"


class JobCancelled(Exception):
    """Raised by :class:`Progress` once the user asked to cancel: the runner stops (its transaction rolls back)."""


class JobFailed(Exception):
    """Raised by a runner with a message for the user (in Chinese): the job ends failed with that message."""

    def __init__(self, message: str, *, url: str = ""):
        super().__init__(message)
        self.message = message
        self.url = url


@dataclass
class Outcome:
    """What a finished job leaves: a file to download (``file``: an open binary file, ``name``: its download name),
    a page to go to (``url``), a line for the user (``note``), and the export log entry written for the file."""

    file: object | None = None
    name: str = ""
    url: str = ""
    note: str = ""
    export_log: object | None = None


@dataclass(frozen=True)
class JobKind:
    name: str
    run: Callable[[Job, Progress], Outcome]
    """(job, progress) → outcome."""


KINDS: dict[str, JobKind] = {}


def register(name: str):
    """Decorator: ``fn(job, progress) -> Outcome`` runs jobs of kind ``name``."""

    def wrap(fn):
        KINDS[name] = JobKind(name=name, run=fn)
        return fn

    return wrap


def job_key(kind: str, user, params: dict) -> str:
    """Jobs with the same kind, user and parameters are the same job: a second click attaches to the first.
    Parameters whose name starts with ``_`` (where the request came from) do not count."""
    asked = {name: value for name, value in params.items() if not name.startswith("_")}
    text = json.dumps([kind, getattr(user, "pk", None), asked], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


# --- starting, cancelling ---------------------------------------------------------------------------------------


def active_job(key: str) -> Job | None:
    return Job.objects.filter(key=key, state__in=Job.ACTIVE).first()


def start(user, kind: str, params: dict, *, title: str, request=None) -> Job:
    """The job of ``kind`` with ``params`` for ``user``: the one already waiting or running, else a new one queued.

    The queue entry is written in the caller's transaction: a worker sees the job once the request commits.
    ``request``: where it was asked from, kept for the export log (``params["_client"]``)."""
    if kind not in KINDS:
        raise KeyError(kind)
    key = job_key(kind, user, params)
    if request is not None:
        params = {**params, "_client": client_address(request)}
    if existing := active_job(key):
        return existing
    purge_expired()
    try:
        with transaction.atomic():
            job = Job.objects.create(kind=kind, user=user, title=title[:200], params=params, key=key)
            _enqueue(job)
    except IntegrityError:  # the same click, a moment earlier, from another request
        existing = active_job(key)
        if existing is None:
            raise
        return existing
    return job


def _enqueue(job: Job) -> None:
    result = run_job.enqueue(job.pk)
    job.task_id = str(result.id)
    job.save(update_fields=["task_id"])


def cancel(job: Job) -> Job:
    """Cancel ``job``: a waiting job at once; a running one at its next progress report (its work is rolled back)."""
    now = timezone.now()
    updated = Job.objects.filter(pk=job.pk, state=Job.State.QUEUED).update(
        state=Job.State.CANCELLED, cancel_requested=True, finished_at=now
    )
    if not updated:
        Job.objects.filter(pk=job.pk, state=Job.State.RUNNING).update(cancel_requested=True)
    job.refresh_from_db()
    return job


# --- running ------------------------------------------------------------------------------------------------------

current_worker_id = ""
"""Set by ``manage.py jobs_worker``: the worker a running job belongs to (empty when run in this process)."""


@task()
def run_job(job_id: int) -> None:
    """The one task the queue knows: run the :class:`Job` ``job_id`` (whatever its kind)."""
    execute(job_id)


def execute(job_id: int) -> Job | None:
    """Run the job ``job_id`` if it is still waiting: its runner, then its outcome or its failure, recorded.
    With a replica (docs/replica.md) the job reads from it until it writes, then from the primary; from the primary
    throughout if the replica has not caught up with the job's start within 2 seconds."""
    with replica.scope(replica=True):
        replica.reads_after_now()  # the job's data, written with it, is on the replica (else: the primary)
        return _execute(job_id)


def _execute(job_id: int) -> Job | None:
    now = timezone.now()
    claimed = Job.objects.filter(pk=job_id, state=Job.State.QUEUED, cancel_requested=False).update(
        state=Job.State.RUNNING,
        started_at=now,
        heartbeat_at=now,
        worker=current_worker_id[:64],
        attempts=F("attempts") + 1,
    )
    job = Job.objects.filter(pk=job_id).first()
    if not claimed or job is None:
        return job
    kind = KINDS.get(job.kind)
    progress = Progress(job)
    try:
        if kind is None:
            raise JobFailed("不认识的任务类别，无法处理。")
        outcome = kind.run(job, progress)
    except JobCancelled:
        _finish(job, state=Job.State.CANCELLED)
    except JobFailed as failure:
        _finish(job, state=Job.State.FAILED, error=failure.message, result_url=failure.url[:300])
    except ValidationError as error:
        _finish(job, state=Job.State.FAILED, error="；".join(error.messages))
    except (Http404, PermissionDenied):  # rechecked when run: the user's area or role changed since they asked
        _finish(job, state=Job.State.FAILED, error=NOT_ALLOWED)
    except Exception:
        logger.exception("job %s (%s) failed", job.pk, job.kind)
        _finish(job, state=Job.State.FAILED, error=INTERNAL_ERROR)
    else:
        _keep(job, outcome or Outcome())
    finally:
        _close_side()
    job.refresh_from_db()
    return job


def _finish(job: Job, *, state: str, error: str = "", **fields) -> None:
    Job.objects.filter(pk=job.pk, state=Job.State.RUNNING).update(
        state=state, error=error[:2000], finished_at=timezone.now(), **fields
    )


def _keep(job: Job, outcome: Outcome) -> None:
    fields = {"result_url": outcome.url[:300], "result_note": outcome.note[:300]}
    if outcome.export_log is not None:
        fields["export_log"] = outcome.export_log
    if outcome.file is not None:
        try:
            stored = default_storage.save(f"{RESULT_DIR}/{job.pk}-{int(time.time())}.bin", File(outcome.file))
        finally:
            outcome.file.close()
        fields |= {
            "result_file": stored,
            "result_name": outcome.name[:255],
            "result_size": default_storage.size(stored),
            "expires_at": timezone.now() + datetime.timedelta(hours=settings.BAZHOU_JOB_RESULT_HOURS),
        }
    # The last report may lag behind the end (reports are throttled): a finished job has done all it counted.
    _finish(job, state=Job.State.DONE, phase="", done=Coalesce(F("total"), F("done")), **fields)


class Progress:
    """What a runner calls as it goes: ``progress(done, total=None, phase=None)``.

    Writes at most every ``interval`` seconds (and always when the phase changes), and each time looks whether the
    user cancelled: then it raises :class:`JobCancelled`. A runner inside a transaction (an import's write) reports
    through a connection of its own on PostgreSQL, so the page sees it at once; on SQLite, whose one writer is the
    runner itself, those reports show when the transaction ends."""

    INTERVAL = 0.5  # seconds between two writes of the same phase

    def __init__(self, job: Job, *, interval: float | None = None):
        self.job = job
        self.interval = self.INTERVAL if interval is None else interval
        self.done = 0
        self.total = job.total
        self.phase = job.phase
        self._written_at = 0.0

    def __call__(self, done: int, total: int | None = None, phase: str | None = None) -> None:
        self.done = max(0, int(done))
        if total is not None:
            self.total = max(0, int(total))
        changed_phase = phase is not None and phase != self.phase
        if phase is not None:
            self.phase = phase
        if changed_phase or time.monotonic() - self._written_at >= self.interval:
            self.flush()

    def flush(self) -> None:
        self._written_at = time.monotonic()
        values = {
            "done": min(self.done, 2**31 - 1),
            "total": None if self.total is None else min(self.total, 2**31 - 1),
            "phase": (self.phase or "")[:60],
            "heartbeat_at": timezone.now(),
        }
        cancelled = None
        if connection.in_atomic_block and connection.vendor == "postgresql":
            cancelled = _side_write(self.job.pk, values)
        if cancelled is None:  # not in a transaction; SQLite (one writer); or a job not yet committed (tests)
            try:
                Job.objects.filter(pk=self.job.pk).update(**values)
                cancelled = Job.objects.filter(pk=self.job.pk, cancel_requested=True).exists()
            except OperationalError:
                if connection.vendor != "sqlite":
                    raise
                # SQLite refuses a write from a connection whose read (the runner's open cursor) began before another
                # connection's write ("database is locked" at once, no waiting): skip this report, the next one
                # will do. PostgreSQL has no such case.
                logger.info("job %s: progress report skipped (SQLite busy)", self.job.pk)
                cancelled = False
        if cancelled:
            raise JobCancelled


_side = threading.local()


def _side_write(job_id: int, values: dict) -> bool | None:
    """Write a job's progress outside the runner's open transaction (a second PostgreSQL connection of this
    thread) and say whether it was cancelled; None when that connection cannot see the job (not committed)."""
    try:
        side = getattr(_side, "connection", None)
        if side is None or side.closed:
            side = connection.get_new_connection(connection.get_connection_params())
            side.autocommit = True
            _side.connection = side
        with side.cursor() as cursor:
            cursor.execute(
                f"UPDATE {Job._meta.db_table} SET done = %s, total = %s, phase = %s, heartbeat_at = %s "
                "WHERE id = %s RETURNING cancel_requested",
                [values["done"], values["total"], values["phase"], values["heartbeat_at"], job_id],
            )
            row = cursor.fetchone()
    except Exception:  # progress is a courtesy: never let it break the work
        logger.warning("job %s: progress not written", job_id, exc_info=True)
        _side.connection = None
        return False
    return None if row is None else bool(row[0])


def _close_side() -> None:
    side = getattr(_side, "connection", None)
    _side.connection = None
    if side is not None and not side.closed:
        side.close()


# --- keeping: results that expire, workers that stop -----------------------------------------------------------


def purge_expired(now=None) -> int:
    """Delete the files of jobs past ``expires_at`` (the job stays, its file gone). A fixed number of queries plus one
    file deletion a job."""
    now = now or timezone.now()
    expired = list(Job.objects.filter(expires_at__lt=now).exclude(result_file="").values_list("pk", "result_file"))
    for _pk, name in expired:
        try:
            default_storage.delete(name)
        except OSError:
            logger.warning("job file %s could not be deleted", name, exc_info=True)
    if expired:
        Job.objects.filter(pk__in=[pk for pk, _ in expired]).update(result_file="")
    return len(expired)


def forget_old(now=None, *, days: int = 30) -> int:
    """Delete the records of jobs that ended more than ``days`` days ago (their files are gone already) and the
    queue's records of finished tasks as old. Returns how many jobs were forgotten. A fixed number of queries."""
    from django_tasks_db.models import DBTaskResult  # noqa: PLC0415  (the backend's model: only when needed)

    cutoff = (now or timezone.now()) - datetime.timedelta(days=days)
    ended = Job.objects.filter(finished_at__lt=cutoff).exclude(state__in=Job.ACTIVE)
    for name in ended.exclude(result_file="").values_list("result_file", flat=True):
        default_storage.delete(name)
    count = ended.delete()[0]
    DBTaskResult.objects.filter(status__in=["SUCCESSFUL", "FAILED"], finished_at__lt=cutoff).delete()
    return count


def stale_before(now=None) -> datetime.datetime:
    return (now or timezone.now()) - datetime.timedelta(seconds=settings.BAZHOU_JOB_STALE_SECONDS)


def live_workers(now=None):
    return WorkerBeat.objects.filter(seen_at__gte=stale_before(now))


def reap(now=None) -> int:
    """Take up the running jobs whose worker stopped (killed, machine gone): started again while they have attempts
    left (``BAZHOU_JOB_MAX_ATTEMPTS``), else failed with a reason. A job is judged by its worker's heartbeat when
    it has one, else by its own last progress report. Returns how many jobs it took up."""
    now = now or timezone.now()
    cutoff = stale_before(now)
    alive = live_workers(now).values("worker_id")
    lost = Job.objects.filter(state=Job.State.RUNNING).filter(
        (~Q(worker="") & ~Q(worker__in=alive)) | (Q(worker="") & (Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at=None)))
    )
    count = 0
    for job in lost:
        with transaction.atomic():
            _fail_queue_entry(job.task_id)
            if job.attempts < settings.BAZHOU_JOB_MAX_ATTEMPTS and not job.cancel_requested:
                moved = Job.objects.filter(pk=job.pk, state=Job.State.RUNNING).update(
                    state=Job.State.QUEUED, worker="", phase="重新排队（上次处理中断）"
                )
                if moved:
                    job.refresh_from_db()
                    _enqueue(job)
            else:
                state = Job.State.CANCELLED if job.cancel_requested else Job.State.FAILED
                moved = Job.objects.filter(pk=job.pk, state=Job.State.RUNNING).update(
                    state=state, error="" if job.cancel_requested else WORKER_LOST, finished_at=now
                )
            count += moved
    if count:
        logger.warning("jobs: %d job(s) whose worker stopped were taken up", count)
    WorkerBeat.objects.filter(seen_at__lt=now - datetime.timedelta(days=1)).delete()
    return count


def _fail_queue_entry(task_id: str) -> None:
    """Mark the queue's own record of a lost task failed, so the queue never shows it running for ever."""
    if not task_id:
        return
    from django_tasks_db.models import DBTaskResult  # noqa: PLC0415  (the backend's model: only when needed)

    try:
        DBTaskResult.objects.filter(pk=task_id, status="RUNNING").update(status="FAILED", finished_at=timezone.now())
    except (ValidationError, ValueError, DatabaseError):
        logger.warning("queue entry %s not marked failed", task_id, exc_info=True)


def worker_health(now=None) -> dict:
    """What ``/healthz/`` says of the workers: how many are alive, how many jobs wait, and since when."""
    now = now or timezone.now()
    workers = live_workers(now).count()
    waiting = Job.objects.filter(state=Job.State.QUEUED)
    oldest = waiting.order_by("created_at").values_list("created_at", flat=True).first()
    return {
        "workers": workers,
        "jobs_waiting": waiting.count(),
        "oldest_waiting_seconds": int((now - oldest).total_seconds()) if oldest else 0,
        "status": "ok" if workers else "stopped",
    }


def worker_identity() -> tuple[str, str, int]:
    host = socket.gethostname()[:60]
    pid = os.getpid()
    return f"{host}-{pid}-{int(time.time())}"[:64], host[:100], pid


@dataclass
class Beat:
    """A worker's heartbeat: a thread that writes its :class:`WorkerBeat` and reaps lost jobs every ``every``
    seconds, until stopped."""

    worker_id: str
    host: str
    pid: int
    every: float = 10.0
    _stop: threading.Event = field(default_factory=threading.Event)

    def beat(self) -> None:
        now = timezone.now()
        WorkerBeat.objects.update_or_create(
            worker_id=self.worker_id, defaults={"host": self.host, "pid": self.pid, "seen_at": now}
        )

    def loop(self) -> None:
        from django.db import close_old_connections  # noqa: PLC0415

        while not self._stop.wait(self.every):
            try:
                close_old_connections()
                self.beat()
                reap()
            except Exception:  # a locked SQLite file or a database restart: try again next time
                logger.warning("worker heartbeat failed", exc_info=True)
        connection.close()

    def start(self) -> threading.Thread:
        self.beat()
        reap()
        self._thread = threading.Thread(target=self.loop, name="jobs-heartbeat", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self) -> None:
        self._stop.set()
        thread = getattr(self, "_thread", None)
        if thread is not None:
            thread.join(timeout=30)
        WorkerBeat.objects.filter(worker_id=self.worker_id).delete()
