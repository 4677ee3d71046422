"""Background jobs (bazhou/core/jobs.py): progress, cancel, failure messages, a repeated click, kept files that
expire, workers that stop, and who may see a job. The queue is django-tasks-db's table and the worker its own loop
(tests/jobs.py), run in this process when a test asks."""

from __future__ import annotations

import datetime
import io

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from bazhou.core import jobs
from bazhou.core.models import Job, WorkerBeat
from tests.jobs import keeping_the_test_connection, run_jobs

pytestmark = pytest.mark.django_db

seen: dict[str, list] = {}


@jobs.register("test_count")
def _count(job, progress):
    """Counts to params["n"], reporting each step; fails or cancels itself on request."""
    n = job.params.get("n", 3)
    for i in range(1, n + 1):
        if job.params.get("cancel_at") == i:
            Job.objects.filter(pk=job.pk).update(cancel_requested=True)
        if job.params.get("fail_at") == i:
            raise jobs.JobFailed("第 3 行的村名不认识。")
        if job.params.get("crash_at") == i:
            raise KeyError("internal")
        progress(i, total=n, phase="计数")
        seen.setdefault(job.params.get("tag", ""), []).append(
            Job.objects.values_list("done", "total", "phase").get(pk=job.pk)
        )
    if job.params.get("file"):
        return jobs.Outcome(file=io.BytesIO(b"PK-content"), name="结果.xlsx", note=f"共 {n} 行")
    return jobs.Outcome(url="/villages/", note="完成")


@jobs.register("test_write")
def _write(job, progress):
    """Writes a job-less row inside a transaction, then reports progress (which may say: cancelled)."""
    from households.models import PovertyLine  # noqa: PLC0415

    with transaction.atomic():
        PovertyLine.objects.create(year=2031, yuan=4000)
        Job.objects.filter(pk=job.pk).update(cancel_requested=bool(job.params.get("cancel")))
        progress(1, total=1, phase="写入")
    return jobs.Outcome(note="写好了")


@pytest.fixture
def me(personas):
    return personas.district_admin


def test_a_job_reports_its_progress_as_it_goes_and_ends_done(me, monkeypatch):
    job = jobs.start(me, "test_count", {"n": 3, "tag": "progress"}, title="计数")
    assert job.state == Job.State.QUEUED and job.task_id
    monkeypatch.setattr(jobs.Progress, "INTERVAL", 0)  # every report written
    assert run_jobs() == 1
    job.refresh_from_db()
    assert job.state == Job.State.DONE and job.attempts == 1
    assert (job.done, job.total, job.result_url, job.result_note) == (3, 3, "/villages/", "完成")
    assert seen["progress"] == [(1, 3, "计数"), (2, 3, "计数"), (3, 3, "计数")]
    assert job.started_at and job.finished_at and job.finished_at >= job.started_at


def test_the_progress_page_shows_rows_done_of_total_and_polls_until_the_end(client, me):
    job = jobs.start(me, "test_count", {"n": 3}, title="导出巴州区 2017 年施工图")
    Job.objects.filter(pk=job.pk).update(
        state=Job.State.RUNNING,
        done=1200,
        total=4800,
        phase="写入 Excel",
        started_at=timezone.now() - datetime.timedelta(seconds=30),
        heartbeat_at=timezone.now(),
    )
    client.force_login(me)
    page = client.get(reverse("jobs:detail", args=[job.pk])).content.decode()
    assert "导出巴州区 2017 年施工图" in page and "进行中：写入 Excel" in page
    assert "已处理 1,200 / 4,800" in page and "预计还需 约 2 分钟" in page  # 30 s for a quarter: 90 s to go
    assert 'hx-trigger="every 1s"' in page and 'max="100" value="25"' in page
    Job.objects.filter(pk=job.pk).update(state=Job.State.DONE, done=4800, result_name="a.xlsx", result_file="x")
    box = client.get(reverse("jobs:progress", args=[job.pk])).content.decode()
    assert "hx-trigger" not in box and "下载 a.xlsx" in box  # ended: no more polling


def test_a_finished_job_that_leads_to_a_page_sends_htmx_there(client, me):
    job = jobs.start(me, "test_count", {"n": 1}, title="检查")
    run_jobs()
    client.force_login(me)
    response = client.get(reverse("jobs:progress", args=[job.pk]))
    assert response["HX-Redirect"] == "/villages/"
    assert client.get(reverse("jobs:detail", args=[job.pk]))["Location"] == "/villages/"


def test_a_second_click_attaches_to_the_running_job_and_other_parameters_start_another(me, personas):
    first = jobs.start(me, "test_count", {"n": 3, "year": 2017}, title="a")
    again = jobs.start(me, "test_count", {"year": 2017, "n": 3}, title="a")
    other_year = jobs.start(me, "test_count", {"n": 3, "year": 2016}, title="b")
    someone_else = jobs.start(personas.township_a, "test_count", {"n": 3, "year": 2017}, title="a")
    assert again.pk == first.pk
    assert len({first.pk, other_year.pk, someone_else.pk}) == 3
    assert DBTaskResult.objects.count() == 3  # one queue entry a job, none for the repeated click
    run_jobs()
    assert jobs.start(me, "test_count", {"n": 3, "year": 2017}, title="a").pk != first.pk  # ended: a new one


def test_a_waiting_job_cancelled_never_runs(client, me):
    job = jobs.start(me, "test_count", {"n": 2, "tag": "never"}, title="a")
    client.force_login(me)
    client.post(reverse("jobs:cancel", args=[job.pk]))
    run_jobs()
    job.refresh_from_db()
    assert job.state == Job.State.CANCELLED and "never" not in seen


def test_a_running_job_stops_at_its_next_report_when_cancelled(me, monkeypatch):
    monkeypatch.setattr(jobs.Progress, "INTERVAL", 0)  # the report right after the cancel is written and checked
    job = jobs.start(me, "test_count", {"n": 5, "cancel_at": 2, "file": True}, title="a")
    run_jobs()
    job.refresh_from_db()
    assert (job.state, job.done, job.result_file) == (Job.State.CANCELLED, 2, "")  # the report that saw it


def test_a_cancelled_job_inside_a_transaction_leaves_nothing_written(me):
    from households.models import PovertyLine  # noqa: PLC0415

    job = jobs.start(me, "test_write", {"cancel": True}, title="写入")
    run_jobs()
    job.refresh_from_db()
    assert job.state == Job.State.CANCELLED
    assert not PovertyLine.objects.filter(year=2031).exists()
    done = jobs.start(me, "test_write", {"cancel": False}, title="写入")
    run_jobs()
    done.refresh_from_db()
    assert done.state == Job.State.DONE and PovertyLine.objects.filter(year=2031).exists()


def test_a_failure_shows_its_reason_in_chinese_and_an_error_never_shows_its_exception(client, me):
    failed = jobs.start(me, "test_count", {"n": 5, "fail_at": 3}, title="a")
    crashed = jobs.start(me, "test_count", {"n": 5, "crash_at": 2}, title="b")
    run_jobs()
    failed.refresh_from_db()
    crashed.refresh_from_db()
    assert (failed.state, failed.error) == (Job.State.FAILED, "第 3 行的村名不认识。")
    assert crashed.state == Job.State.FAILED and crashed.error == jobs.INTERNAL_ERROR
    client.force_login(me)
    page = client.get(reverse("jobs:detail", args=[crashed.pk])).content.decode()
    assert "内部错误" in page and "KeyError" not in page and "internal" not in page


def test_a_file_is_kept_for_download_until_it_expires(client, me, media, settings):
    settings.BAZHOU_JOB_RESULT_HOURS = 24
    job = jobs.start(me, "test_count", {"n": 2, "file": True}, title="导出")
    run_jobs()
    job.refresh_from_db()
    assert job.result_size == len(b"PK-content") and job.result_note == "共 2 行"
    assert (
        timezone.now() + datetime.timedelta(hours=23) < job.expires_at <= timezone.now() + datetime.timedelta(hours=24)
    )
    client.force_login(me)
    response = client.get(reverse("jobs:download", args=[job.pk]))
    assert b"".join(response.streaming_content) == b"PK-content"
    assert "%E7%BB%93%E6%9E%9C.xlsx" in response["Content-Disposition"]  # 结果.xlsx
    assert "no-store" in response["Cache-Control"]
    assert jobs.purge_expired(now=timezone.now() + datetime.timedelta(hours=23)) == 0
    assert jobs.purge_expired(now=timezone.now() + datetime.timedelta(hours=25)) == 1
    assert not list((media / "jobs").iterdir())
    gone = client.get(reverse("jobs:download", args=[job.pk]))
    assert gone.status_code == 410 and "只保留 24 小时" in gone.content.decode()
    assert "请重新导出" in client.get(reverse("jobs:detail", args=[job.pk])).content.decode()


def test_another_users_job_is_a_404_everywhere(client, me, personas):
    job = jobs.start(me, "test_count", {"n": 1, "file": True}, title="a")
    client.force_login(personas.township_a)
    for name in ("detail", "progress", "download"):
        assert client.get(reverse(f"jobs:{name}", args=[job.pk])).status_code == 404
    assert client.post(reverse("jobs:cancel", args=[job.pk])).status_code == 404
    assert Job.objects.get(pk=job.pk).state == Job.State.QUEUED
    assert "a" not in [j.title for j in client.get(reverse("jobs:list")).context["jobs"]]


def _running(me, *, worker: str, attempts: int, seconds_ago: int) -> Job:
    job = jobs.start(me, "test_count", {"n": 2, "w": worker, "a": attempts}, title="a")
    entry = DBTaskResult.objects.get(pk=job.task_id)
    entry.claim(worker or "in-process")
    then = timezone.now() - datetime.timedelta(seconds=seconds_ago)
    Job.objects.filter(pk=job.pk).update(
        state=Job.State.RUNNING, worker=worker, attempts=attempts, started_at=then, heartbeat_at=then
    )
    return job


def test_a_job_whose_worker_was_killed_is_run_again_then_failed_never_running_for_ever(me, settings):
    settings.BAZHOU_JOB_STALE_SECONDS = 60
    settings.BAZHOU_JOB_MAX_ATTEMPTS = 2
    WorkerBeat.objects.create(worker_id="alive", host="h", pid=1)
    WorkerBeat.objects.create(
        worker_id="killed", host="h", pid=2, seen_at=timezone.now() - datetime.timedelta(minutes=5)
    )
    working = _running(me, worker="alive", attempts=1, seconds_ago=600)  # long step, worker still beating
    lost_once = _running(me, worker="killed", attempts=1, seconds_ago=5)
    lost_twice = _running(me, worker="killed", attempts=2, seconds_ago=5)
    old_entry = lost_once.task_id
    assert jobs.reap() == 2
    for job in (working, lost_once, lost_twice):
        job.refresh_from_db()
    assert working.state == Job.State.RUNNING
    assert lost_once.state == Job.State.QUEUED and lost_once.task_id != old_entry
    assert DBTaskResult.objects.get(pk=old_entry).status == "FAILED"  # the queue's record is not left running
    assert (lost_twice.state, lost_twice.error) == (Job.State.FAILED, jobs.WORKER_LOST)
    run_jobs()
    lost_once.refresh_from_db()
    assert (lost_once.state, lost_once.attempts) == (Job.State.DONE, 2)


def test_a_job_run_without_a_worker_id_is_judged_by_its_own_last_report(client, me, settings):
    settings.BAZHOU_JOB_STALE_SECONDS = 60
    fresh = _running(me, worker="", attempts=1, seconds_ago=10)
    stale = _running(me, worker="", attempts=2, seconds_ago=120)
    client.force_login(me)
    page = client.get(reverse("jobs:detail", args=[stale.pk])).content.decode()  # the page takes it up itself
    assert jobs.WORKER_LOST in page
    fresh.refresh_from_db()
    assert fresh.state == Job.State.RUNNING


def test_the_worker_health_check_says_503_when_no_worker_was_seen_lately(client, me, settings):
    settings.BAZHOU_JOB_STALE_SECONDS = 60
    jobs.start(me, "test_count", {"n": 1}, title="a")
    stopped = client.get(reverse("healthz_worker"))
    assert stopped.status_code == 503
    assert stopped.json()["status"] == "stopped" and stopped.json()["jobs_waiting"] == 1
    WorkerBeat.objects.create(worker_id="w", host="h", pid=3, seen_at=timezone.now() - datetime.timedelta(seconds=90))
    assert client.get(reverse("healthz_worker")).status_code == 503
    WorkerBeat.objects.filter(worker_id="w").update(seen_at=timezone.now())
    alive = client.get(reverse("healthz_worker"))
    assert alive.status_code == 200 and alive.json()["workers"] == 1
    assert client.get(reverse("healthz")).json()["worker"]["status"] == "ok"


def test_the_worker_command_beats_and_runs_the_queue(me):
    from django.core.management import call_command  # noqa: PLC0415

    job = jobs.start(me, "test_count", {"n": 2}, title="a")
    with keeping_the_test_connection():
        call_command("jobs_worker", "--batch", "--no-startup-delay", "--interval", "0", verbosity=0)
    job.refresh_from_db()
    assert job.state == Job.State.DONE and job.worker  # run by the command's worker, named
    assert not WorkerBeat.objects.exists()  # a worker that ends says goodbye


def test_the_daily_run_deletes_expired_files_and_forgets_jobs_ended_a_month_ago(me, media):
    from django.core.management import call_command  # noqa: PLC0415

    kept = jobs.start(me, "test_count", {"n": 1, "file": True}, title="今天的导出")
    old = jobs.start(me, "test_count", {"n": 2, "file": True}, title="上个月的导出")
    run_jobs()
    long_ago = timezone.now() - datetime.timedelta(days=31)
    Job.objects.filter(pk=old.pk).update(finished_at=long_ago, expires_at=long_ago)
    DBTaskResult.objects.filter(pk=old.task_id).update(finished_at=long_ago)
    out = io.StringIO()
    call_command("supervision_daily", stdout=out)
    assert "删除过了保留期的后台任务文件 1 个、30 天前结束的后台任务记录 1 条。" in out.getvalue()
    assert list(Job.objects.values_list("title", flat=True)) == ["今天的导出"]
    assert [p.name for p in (media / "jobs").iterdir()] == [Job.objects.get().result_file.split("/")[-1]]
    assert (
        DBTaskResult.objects.filter(pk=kept.task_id).exists()
        and not DBTaskResult.objects.filter(pk=old.task_id).exists()
    )


@pytest.mark.parametrize("pk", ["0", "99999999999999999999999", "9223372036854775808"])
def test_an_odd_job_id_is_a_404(client, me, pk):
    client.force_login(me)
    for name in ("detail", "progress", "download"):
        assert client.get(f"/jobs/{pk}/{'' if name == 'detail' else name + '/'}").status_code == 404
    assert client.post(f"/jobs/{pk}/cancel/").status_code == 404
