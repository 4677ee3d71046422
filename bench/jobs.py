#!/usr/bin/env python3
"""Time the district's one table and the district's household register as background jobs at 10× the demo on
PostgreSQL, and print seconds, rows and peak memory.

It reuses the database bench/pages.py seeds (``bazhou_bench_pages``, ``seed_demo --scale 10``: 4,200 villages,
196k plan rows, ~700k members) and leaves it as it was: each run's job, its queue entry, its export log line and its
file are deleted afterwards. The user is the non-superuser district admin ``bench-admin``. Each measurement runs in
a fresh child process (so ``ru_maxrss`` is its own): the job is started as the export page starts it
(``bazhou.core.jobs.start``) and run by the code a worker runs (``bazhou.core.jobs.execute``), progress reports,
export log and the file's storage included. Repeated ``--runs`` times; the median printed, with the peak memory
(the issue's bound: the 10× register through a job under 150 MB) and the number of rows per second.

Run it with ``.venv/bin/python bench/jobs.py`` (``--help`` for options); it prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pages  # noqa: E402  (bench/pages.py, next to this file)

DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432/bazhou_bench_pages"
KINDS = {"plan_table": {"year": 2017, "township": "", "village": ""}, "register": {"township": "", "village": ""}}


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(kind: str, pg_url: str) -> dict:
    pages.setup_django(pg_url)
    import tempfile  # noqa: PLC0415

    from django.conf import settings  # noqa: PLC0415

    settings.MEDIA_ROOT = tempfile.mkdtemp(prefix="bench-jobs-")
    from django_tasks_db.models import DBTaskResult  # noqa: PLC0415

    from bazhou.core import jobs  # noqa: PLC0415
    from bazhou.core.models import Job  # noqa: PLC0415

    user = pages.bench_user(None)
    baseline = rss_mb()
    job = jobs.start(user, kind, dict(KINDS[kind]), title=f"bench {kind}")
    try:
        start = time.perf_counter()
        jobs.execute(job.pk)
        seconds = time.perf_counter() - start
        job.refresh_from_db()
        result = {
            "kind": kind,
            "state": job.state,
            "error": job.error,
            "rows": job.total or job.done,
            "bytes": job.result_size,
            "seconds": seconds,
            "baseline_mb": baseline,
            "peak_mb": rss_mb(),
        }
    finally:
        job.refresh_from_db()
        if job.result_file:
            from django.core.files.storage import default_storage  # noqa: PLC0415

            default_storage.delete(job.result_file)
        log = job.export_log
        DBTaskResult.objects.filter(pk=job.task_id).delete()
        Job.objects.filter(pk=job.pk).delete()
        if log is not None:
            log.delete()
    return result


def run_child(kind: str, pg_url: str) -> dict:
    command = [sys.executable, __file__, "--child", kind, "--pg-url", pg_url]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", DEFAULT_PG_URL))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", choices=list(KINDS), action="append")
    parser.add_argument("--child", choices=list(KINDS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.pg_url)))
        return 0
    kinds = args.only or list(KINDS)
    print(f"bench/jobs.py on {pages.redact(args.pg_url)} · {platform.python_version()} · {args.runs} runs each")
    results: dict[str, list[dict]] = {kind: [] for kind in kinds}
    for _ in range(args.runs):  # interleaved, so a slow period of the machine hits every kind alike
        for kind in kinds:
            results[kind].append(run_child(kind, args.pg_url))
    print(
        f"{'job':<12}{'state':>8}{'rows':>10}{'MB file':>9}{'median s':>10}{'min–max s':>14}{'rows/s':>9}{'peak MB':>9}"
    )
    for kind, runs in results.items():
        seconds = [r["seconds"] for r in runs]
        last = runs[-1]
        median = statistics.median(seconds)
        rate = last["rows"] / median if last["rows"] else 0
        print(
            f"{kind:<12}{last['state']:>8}{last['rows']:>10,}{last['bytes'] / 1e6:>9.1f}{median:>10.1f}"
            f"{min(seconds):>7.1f}–{max(seconds):<6.1f}{rate:>9,.0f}{max(r['peak_mb'] for r in runs):>9.0f}"
        )
        if last["error"]:
            print(f"  {kind}: {last['error']}")
    print(
        "peak MB: the child's maximum resident set (Python, Django and the connection included: ~"
        + f"{statistics.median(r['baseline_mb'] for rs in results.values() for r in rs):.0f} MB before the job)."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
