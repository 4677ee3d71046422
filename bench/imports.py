#!/usr/bin/env python3
"""Time the plan-row import end to end (preview + confirm) for 10,000 new rows and 10,000 changed rows, on SQLite and
PostgreSQL, and print medians and peak memory (issue 19, “import once”).

For each engine (``--engines sqlite postgres``) the script builds its own database and drops it at the end:
SQLite a file in a temporary directory, PostgreSQL ``--pg-url`` (default
``postgres://postgres@127.0.0.1:5432/bazhou_bench_import``; the name must contain ``bench``). It runs ``migrate`` and
``seed_demo --scale N`` (``--scale``, default 1: about 20,000 plan rows of 2017), then makes the 2017 plans drafts
(so that a new row is added and a changed plan field written directly, not filed as a change request) and adds the
district admin ``bench-admin``. That seeded database is the template of every run: each run gets a fresh copy
(``CREATE DATABASE … TEMPLATE`` / a file copy), so every run starts from the same data and really commits.

Each run is a child process (its own peak RSS, ``ru_maxrss``): it exports the first ``--rows`` rows of the 2017 one
table (``tasks.exports.plan_table_rows``) into a workbook as a user would (untimed), either with 编号 and 版本
cleared and the item renamed (``new``: rows added) or with 项目 and 联系电话 changed (``changed``), stores the
upload as an ``ImportBatch`` and then times the two background jobs the pages start: ``preview_job`` (read, check,
store the preview) and ``apply_job`` (confirm: write everything in one transaction): wall-clock seconds, and the CPU
seconds of the process (``time.process_time``: less sensitive to a busy machine; on SQLite it includes the database's
work, on PostgreSQL not). Medians of ``--runs`` runs (default 3) are printed; the machine is shared, so wall-clock
figures vary by ±20–30 % or more.

``--src DIR`` runs the code of another checkout (e.g. ``git archive HEAD | tar -x -C DIR``: the code before a
change) with this script. Targets (issue 19): 10,000 new rows ≤ 10 s end to end; 10,000 changed rows ≤ 2× that.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

HERE = Path(__file__).resolve().parent
DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432/bazhou_bench_import"
YEAR = 2017
KINDS = ("new", "changed")
USERNAME = "bench-admin"


class BenchError(Exception):
    pass


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _with_db(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def _env(src: Path, url: str) -> dict:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "bazhou.settings",
            "DATABASE_URL": url,
            "DEBUG": "0",
            "SECRET_KEY": "bench-imports-only-not-a-secret-" + "x" * 32,
            "ALLOWED_HOSTS": "testserver",
            "BAZHOU_TODAY": "2017-09-15",
            "LOG_LEVEL": "ERROR",
            "PYTHONPATH": str(src),
        }
    )
    return env


def _manage(src: Path, url: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(src / "manage.py"), *args],
        env=_env(src, url),
        cwd=src,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"manage.py {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def _psql(url: str, sql: str) -> None:
    import psycopg2  # noqa: PLC0415

    conn = psycopg2.connect(_with_db(url, "postgres"))
    try:
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute(sql)
    finally:
        conn.close()


# --- databases ---------------------------------------------------------------------------------------


class Engine:
    """The template database of one engine and a fresh copy of it per run."""

    def __init__(self, name: str, pg_url: str, workdir: Path):
        self.name = name
        self.workdir = workdir
        if name == "postgres":
            db = urlsplit(pg_url).path.lstrip("/")
            if "bench" not in db:
                raise BenchError(f"refusing to use {db!r}: the database name must contain 'bench'")
            self.db = db
            self.template_url = pg_url
            self.run_url = _with_db(pg_url, f"{db}_run")
        else:
            self.template_path = workdir / "template.sqlite3"
            self.run_path = workdir / "run.sqlite3"
            self.template_url = f"sqlite:///{self.template_path}"
            self.run_url = f"sqlite:///{self.run_path}"

    def create(self, src: Path, scale: int) -> float:
        begin = time.perf_counter()
        if self.name == "postgres":
            _psql(self.template_url, f'DROP DATABASE IF EXISTS "{self.db}_run" WITH (FORCE)')
            _psql(self.template_url, f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')
            _psql(self.template_url, f'CREATE DATABASE "{self.db}"')
        _manage(src, self.template_url, "migrate", "--verbosity", "0")
        _manage(src, self.template_url, "seed_demo", "--scale", str(scale))
        _run_child(src, self.template_url, ["--prepare"])
        return time.perf_counter() - begin

    def fresh_copy(self) -> str:
        if self.name == "postgres":
            _psql(self.template_url, f'DROP DATABASE IF EXISTS "{self.db}_run" WITH (FORCE)')
            _psql(self.template_url, f'CREATE DATABASE "{self.db}_run" TEMPLATE "{self.db}"')
        else:
            shutil.copyfile(self.template_path, self.run_path)
        return self.run_url

    def drop(self) -> None:
        if self.name == "postgres":
            _psql(self.template_url, f'DROP DATABASE IF EXISTS "{self.db}_run" WITH (FORCE)')
            _psql(self.template_url, f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')


# --- the child: prepare the template, or one timed run ------------------------------------------------


def _setup() -> None:
    import django  # noqa: PLC0415

    django.setup()
    import logging  # noqa: PLC0415

    logging.getLogger("django.request").setLevel(logging.ERROR)
    from django.urls import get_resolver  # noqa: PLC0415

    get_resolver().url_patterns  # noqa: B018  (the URL conf registers the importers with the import jobs)


def prepare() -> dict:
    """In the template: the 2017 plans made drafts, the bench user added, the planner's statistics refreshed."""
    _setup()
    from django.db import connection  # noqa: PLC0415

    from bazhou.core.models import Role, User  # noqa: PLC0415
    from tasks.models import Plan  # noqa: PLC0415
    from villages.models import District  # noqa: PLC0415

    drafts = Plan.objects.filter(year=YEAR).exclude(state="draft").update(state="draft")
    if not User.objects.filter(username=USERNAME).exists():
        user = User(
            username=USERNAME,
            role=Role.DISTRICT_ADMIN,
            district=District.objects.order_by("code").first(),
            first_name="基准测试",
        )
        user.set_unusable_password()
        user.full_clean()
        user.save()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    from tasks.models import Task  # noqa: PLC0415

    return {"drafts": drafts, "rows_2017": Task.objects.filter(plan__year=YEAR).count()}


def workbook(kind: str, n: int) -> tuple[bytes, int]:
    """The first ``n`` rows of the 2017 one table as a user would upload them (not timed)."""
    import io  # noqa: PLC0415

    from openpyxl import Workbook  # noqa: PLC0415

    from bazhou.core import clock  # noqa: PLC0415
    from bazhou.core.models import User  # noqa: PLC0415
    from tasks import imports  # noqa: PLC0415
    from tasks.excel_views import plan_table_scope  # noqa: PLC0415
    from tasks.exports import COLUMNS, KEYS, plan_table_rows  # noqa: PLC0415

    user = User.objects.get(username=USERNAME)
    scope = plan_table_scope(user, {"year": str(YEAR)})
    rows = []
    for row in plan_table_rows(scope, clock.today()):
        if row["row_type"] != "task":
            continue
        values = [row[key] for key in KEYS]
        values[KEYS.index("overdue")] = "是" if row["overdue"] else None
        if kind == "new":
            values[KEYS.index("id")] = values[KEYS.index("version")] = None
            values[KEYS.index("item")] = f"{row['item']}（导入）"
        else:
            values[KEYS.index("item")] = f"{row['item']}（改）"
            values[KEYS.index("responsible_phone")] = f"139{len(rows):08d}"
        rows.append(values)
        if len(rows) >= n:
            break
    book = Workbook(write_only=True)
    sheet = book.create_sheet(imports.SHEET)
    sheet.append([scope.title])
    sheet.append([c.group or c.header for c in COLUMNS])
    sheet.append([c.header if c.group else None for c in COLUMNS])
    for values in rows:
        sheet.append(values)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue(), len(rows)


def one_run(kind: str, n: int) -> dict:
    _setup()
    import hashlib  # noqa: PLC0415
    from types import SimpleNamespace  # noqa: PLC0415

    from bazhou.core import jobs  # noqa: PLC0415
    from bazhou.core.models import ImportBatch, User  # noqa: PLC0415
    from bazhou.core.xlsx import import_views  # noqa: PLC0415
    from tasks.models import Task  # noqa: PLC0415

    content, rows = workbook(kind, n)
    user = User.objects.get(username=USERNAME)
    batch = ImportBatch.objects.create(
        user=user,
        kind="plan",
        year=YEAR,
        file_name="bench.xlsx",
        content=content,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        state=ImportBatch.State.CHECKING,
        preview={},
    )
    before_rows = Task.objects.count()
    baseline = rss_mb()

    def progress(done, total=None, phase=None):
        pass

    job = SimpleNamespace(user=user, params={"importer": "plan", "batch": batch.pk}, pk=None)
    begin, cpu = time.perf_counter(), time.process_time()
    import_views.preview_job(job, progress)
    preview_seconds, preview_cpu = time.perf_counter() - begin, time.process_time() - cpu
    batch.refresh_from_db()
    stored = batch.preview
    result = {
        "kind": kind,
        "rows": rows,
        "bytes": len(content),
        "creates": sum(1 for c in stored.get("changes", []) if c[1] == "create"),
        "updates": sum(1 for c in stored.get("changes", []) if c[1] == "update"),
        "errors": len(stored.get("problems", [])),
        "preview_json_kb": len(json.dumps(stored, ensure_ascii=False).encode()) / 1024,
        "preview_seconds": preview_seconds,
        "preview_cpu": preview_cpu,
        "preview_peak_mb": rss_mb(),
    }
    if batch.state != ImportBatch.State.PREVIEWED:
        raise BenchError(f"preview not clean: {stored.get('problems', [])[:3]}")
    job.params = {"importer": "plan", "batch": batch.pk, "fingerprint": batch.fingerprint}
    begin, cpu = time.perf_counter(), time.process_time()
    try:
        outcome = import_views.apply_job(job, progress)
    except jobs.JobFailed as error:
        raise BenchError(f"apply failed: {error}") from error
    result["apply_seconds"] = time.perf_counter() - begin
    result["apply_cpu"] = time.process_time() - cpu
    result["note"] = outcome.note
    result["added"] = Task.objects.count() - before_rows
    result["seconds"] = result["preview_seconds"] + result["apply_seconds"]
    result.update(baseline_mb=baseline, peak_mb=rss_mb())
    return result


# --- the parent ------------------------------------------------------------------------------------


def _run_child(src: Path, url: str, args: list[str]) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--src", str(src), *args]
    done = subprocess.run(command, env=_env(src, url), cwd=src, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BenchError(f"child {args} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", nargs="+", choices=("sqlite", "postgres"), default=["sqlite", "postgres"])
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_IMPORT_PG_URL", DEFAULT_PG_URL))
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--src", default=str(HERE.parent), help="the checkout whose code runs (default: this one)")
    parser.add_argument("--json", help="also save every run to this file")
    parser.add_argument("--keep", action="store_true", help="keep the databases (PostgreSQL) at the end")
    parser.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child", choices=KINDS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    src = Path(args.src).resolve()
    if args.prepare or args.child:
        sys.path.insert(0, str(src))
        os.chdir(src)
        result = prepare() if args.prepare else one_run(args.child, args.rows)
        print(json.dumps(result, ensure_ascii=False))
        return 0

    print(f"bench/imports.py: Python {platform.python_version()}, {os.cpu_count()} CPUs, code from {src}")
    print(f"  {args.rows:,} rows, {args.runs} runs each, seed scale {args.scale}; machine shared: ±20–30 %")
    all_runs: dict[str, list[dict]] = {}
    workdir = Path(tempfile.mkdtemp(prefix="bench-imports-"))
    try:
        for name in args.engines:
            engine = Engine(name, args.pg_url, workdir)
            seconds = engine.create(src, args.scale)
            print(f"  {name}: template database seeded in {seconds:.0f} s", flush=True)
            try:
                for kind in args.kinds:
                    for index in range(args.runs):
                        url = engine.fresh_copy()
                        result = _run_child(src, url, ["--child", kind, "--rows", str(args.rows)])
                        all_runs.setdefault(f"{name}:{kind}", []).append(result)
                        print(
                            f"  {name} {kind} #{index + 1}: preview {result['preview_seconds']:.2f} s + confirm "
                            f"{result['apply_seconds']:.2f} s = {result['seconds']:.2f} s; peak {result['peak_mb']:.0f}"
                            f" MB (baseline {result['baseline_mb']:.0f}); CPU of this process: preview "
                            f"{result['preview_cpu']:.2f} s + confirm {result['apply_cpu']:.2f} s; "
                            f"creates {result['creates']}, updates "
                            f"{result['updates']}, added {result['added']}; preview JSON "
                            f"{result['preview_json_kb']:.0f} KB",
                            flush=True,
                        )
            finally:
                if not args.keep:
                    engine.drop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print()
    print(
        "| engine | rows | kind | preview s | confirm s | total s | CPU s (preview + confirm) | peak RSS MB "
        "| growth MB | preview JSON KB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for key, results in all_runs.items():
        name, kind = key.split(":")

        def med(field, results=results):
            return statistics.median(r[field] for r in results)

        growth = statistics.median(r["peak_mb"] - r["baseline_mb"] for r in results)
        print(
            f"| {name} | {results[0]['rows']:,} | {kind} | {med('preview_seconds'):.2f} | {med('apply_seconds'):.2f} "
            f"| {med('seconds'):.2f} | {med('preview_cpu'):.2f} + {med('apply_cpu'):.2f} "
            f"| {med('peak_mb'):.0f} | {growth:.0f} | {med('preview_json_kb'):.0f} |"
        )
    for name in args.engines:
        new, changed = all_runs.get(f"{name}:new"), all_runs.get(f"{name}:changed")
        if new and changed:
            n = statistics.median(r["seconds"] for r in new)
            c = statistics.median(r["seconds"] for r in changed)
            print(f"{name}: new {n:.2f} s (target ≤ 10 s); changed {c:.2f} s = {c / n:.2f}× new (target ≤ 2×)")
    if args.json:
        Path(args.json).write_text(json.dumps(all_runs, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as error:
        print(f"bench/imports.py: {error}", file=sys.stderr)
        sys.exit(1)
