#!/usr/bin/env python3
"""Time the Excel export and import at 10× the demo on PostgreSQL, and print seconds and peak memory.

It reuses the database bench/pages.py seeds (``bazhou_bench_pages``, ``seed_demo --scale 10``: 4,200 villages,
196k plan rows) and leaves it as it was: run ``make bench-pages`` once first if it does not exist. Settings are
production-like (bench/pages.py: DEBUG off, BAZHOU_TODAY=2017-09-15); the user is the non-superuser district
admin ``bench-admin``. Every measurement runs in a fresh child process, so its peak memory (``ru_maxrss``) is its
own; each is repeated ``--runs`` times and the median printed:

- ``export``: the district's one table of 2017 (``tasks.exports.render_plan_table``: the rows' three queries,
  subtotals, styles, drop-down lists, print setup, the zip) into a temporary file;
- ``rows``: the same rows from the generator, not written anywhere (what the queries and the grouping cost);
- ``bare``: the same rows written with openpyxl's ``write_only`` mode, plain values, no styles, no subtotal
  formatting (the "bare streaming writer" the export is compared with, in the same run);
- ``import``: a workbook of ``--import-rows`` new plan rows (taken from the export: the first rows with their
  编号 and 版本 cleared), previewed (``tasks.imports.preview_plan_import``) and applied
  (``apply_plan_import``) inside a transaction that is rolled back: the database is left as it was. The 2017 plans
  of the demo are approved, where a new row becomes a 新增 change request (one by one); so that this measures rows
  added (``task_create_many``, what ``update`` is compared with), the plans of those rows' villages are set to draft
  first, inside the same rolled-back transaction;
- ``reimport``: the preview of the same number of exported rows unchanged (zero changes expected);
- ``update``: the same number of exported rows, each with its 联系电话 changed (a field written directly even on an
  approved plan), previewed and confirmed inside a transaction that is rolled back (the issue's target: the confirm
  of 10,000 changed rows ≤ 10 s, and ≤ 2× the confirm of as many new rows in the same run);
- ``refuse``: a workbook of 30,001 rows (the limit is 30,000) through ``check_upload`` and the preview until it is
  refused (target < 1 s); the file is built first, not timed.

It prints figures and asserts nothing. The export has to finish well within gunicorn's 30 s worker timeout.
Run it with ``make bench-excel`` or ``.venv/bin/python bench/excel.py --help``.
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
YEAR = 2017
KINDS = ("export", "rows", "bare", "import", "reimport", "update", "refuse")


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- the child: one measurement ---------------------------------------------------------------------


def child(kind: str, pg_url: str, import_rows: int) -> dict:
    pages.setup_django(pg_url)
    from bazhou.core import clock  # noqa: PLC0415
    from tasks.excel_views import plan_table_scope  # noqa: PLC0415

    user = pages.bench_user(None)
    scope = plan_table_scope(user, {"year": str(YEAR)})
    today = clock.today()
    scope.tasks().count()  # the connection opened and the planner warmed alike for every kind
    baseline = rss_mb()
    start = time.perf_counter()
    result: dict = {"kind": kind}
    if kind == "export":
        from tasks.exports import render_plan_table  # noqa: PLC0415

        file, rows = render_plan_table(scope, today)
        result.update(rows=rows, bytes=file.seek(0, 2))
        file.close()
    elif kind == "rows":
        from tasks.exports import plan_table_rows  # noqa: PLC0415

        result["rows"] = sum(1 for row in plan_table_rows(scope, today) if row["row_type"] == "task")
    elif kind == "bare":
        import tempfile  # noqa: PLC0415

        from openpyxl import Workbook  # noqa: PLC0415

        from tasks.exports import KEYS, plan_table_rows  # noqa: PLC0415

        book = Workbook(write_only=True)
        sheet = book.create_sheet("施工图")
        count = 0
        for row in plan_table_rows(scope, today):
            sheet.append([row[key] for key in KEYS])
            count += row["row_type"] == "task"
        with tempfile.TemporaryFile() as file:
            book.save(file)
            result.update(rows=count, bytes=file.seek(0, 2))
    else:
        result.update(import_run(kind, user, scope, today, import_rows))
        result.update(baseline_mb=baseline, peak_mb=rss_mb())
        return result
    result.update(seconds=time.perf_counter() - start, baseline_mb=baseline, peak_mb=rss_mb())
    return result


def import_run(kind: str, user, scope, today, n: int) -> dict:
    """Build the workbook first (not timed), then time preview (+ apply, rolled back)."""
    import io  # noqa: PLC0415

    from django.db import transaction  # noqa: PLC0415
    from openpyxl import Workbook  # noqa: PLC0415

    from tasks import imports  # noqa: PLC0415
    from tasks.exports import COLUMNS, KEYS, plan_table_rows  # noqa: PLC0415
    from tasks.models import Plan, Task  # noqa: PLC0415

    if kind == "refuse":
        return refuse_run(user, scope, today)
    rows, source_ids = [], []
    for row in plan_table_rows(scope, today):
        if row["row_type"] != "task":
            continue
        values = [row[key] for key in KEYS]
        values[KEYS.index("overdue")] = "是" if row["overdue"] else None
        source_ids.append(row["id"])
        if kind == "import":
            values[KEYS.index("id")] = values[KEYS.index("version")] = None
            values[KEYS.index("item")] = f"{row['item']}（导入）"
        if kind == "update":
            values[KEYS.index("responsible_phone")] = f"139{len(rows):08d}"
        rows.append(values)
        if len(rows) >= n:
            break
    book = Workbook(write_only=True)
    sheet = book.create_sheet(imports.SHEET)
    sheet.append([f"{scope.title}"])
    sheet.append([c.group or c.header for c in COLUMNS])
    sheet.append([c.header if c.group else None for c in COLUMNS])
    for values in rows:
        sheet.append(values)
    buffer = io.BytesIO()
    book.save(buffer)
    content = buffer.getvalue()
    before = Task.objects.count()
    timings = {}
    with transaction.atomic():
        if kind == "import":
            # New rows of an approved plan become 新增 change requests, one by one; the target compares the confirm
            # of changed rows with rows added (task_create_many): the plans are drafts for this rolled-back run.
            plans = Task.objects.filter(pk__in=source_ids).values("plan_id")
            result_drafts = Plan.objects.filter(pk__in=plans).update(state="draft")
        begin = time.perf_counter()
        preview = imports.preview_plan_import(user=user, content=content, file_name="bench.xlsx", year=YEAR)
        timings["preview_seconds"] = time.perf_counter() - begin
        result = {
            "rows": len(rows),
            "creates": len(preview.creates),
            "updates": len(preview.updates),
            "unchanged": preview.unchanged,
            "errors": len(preview.problems),
            "bytes": len(content),
        }
        if kind in ("import", "update") and preview.ok:
            begin = time.perf_counter()
            imports.apply_plan_import(
                user=user, content=content, file_name="bench.xlsx", year=YEAR, fingerprint=preview.fingerprint
            )
            timings["apply_seconds"] = time.perf_counter() - begin
            result["written"] = Task.objects.count() - before
            if kind == "update":
                result["written"] = len(preview.updates)
        if kind == "import":
            result["drafts"] = result_drafts
        transaction.set_rollback(True)
    result["left_as_it_was"] = Task.objects.count() == before
    result.update(timings)
    result["seconds"] = sum(timings.values())
    return result


def refuse_run(user, scope, today) -> dict:
    """A workbook of 30,001 rows (the exported rows, repeated), refused: check_upload, then the preview."""
    import io  # noqa: PLC0415

    from django.core.exceptions import ValidationError  # noqa: PLC0415
    from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: PLC0415
    from openpyxl import Workbook  # noqa: PLC0415

    from bazhou.core.xlsx.reader import check_upload, import_limits  # noqa: PLC0415
    from tasks import imports  # noqa: PLC0415
    from tasks.exports import COLUMNS, KEYS, plan_table_rows  # noqa: PLC0415

    n = import_limits()["max_rows"] + 1
    sample = []
    for row in plan_table_rows(scope, today):
        if row["row_type"] == "task":
            values = [row[key] for key in KEYS]
            values[KEYS.index("overdue")] = None
            sample.append(values)
        if len(sample) >= 1000:
            break
    book = Workbook(write_only=True)
    sheet = book.create_sheet(imports.SHEET)
    sheet.append([f"{scope.title}"])
    sheet.append([c.group or c.header for c in COLUMNS])
    sheet.append([c.header if c.group else None for c in COLUMNS])
    for index in range(n):
        sheet.append(sample[index % len(sample)])
    buffer = io.BytesIO()
    book.save(buffer)
    content = buffer.getvalue()
    begin = time.perf_counter()
    try:
        checked = check_upload(SimpleUploadedFile("bench.xlsx", content))
        imports.preview_plan_import(user=user, content=checked, file_name="bench.xlsx", year=YEAR)
        message = "accepted"
    except ValidationError as error:
        message = error.messages[0]
    seconds = time.perf_counter() - begin
    return {"rows": n, "bytes": len(content), "seconds": seconds, "refuse_seconds": seconds, "message": message}


# --- the parent: run the children, print the table ---------------------------------------------------


def run_child(kind: str, args) -> dict:
    command = [
        sys.executable,
        __file__,
        "--child",
        kind,
        "--pg-url",
        args.pg_url,
        "--import-rows",
        str(args.import_rows),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise pages.BenchError(f"{kind} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", DEFAULT_PG_URL))
    parser.add_argument("--runs", type=int, default=3, help="runs of each measurement (median printed; default 3)")
    parser.add_argument("--import-rows", type=int, default=10_000)
    parser.add_argument("--only", choices=KINDS, action="append", help="run only these measurements")
    parser.add_argument("--child", choices=KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--json", help="also save every run to this file")
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.pg_url, args.import_rows)))
        return 0

    print(f"bench/excel.py: Python {platform.python_version()}, {os.cpu_count()} CPUs, {pages.redact(args.pg_url)}")
    pages.setup_django(args.pg_url)
    print(f"  {pages.analyze()}")
    for line in pages.describe_data(10):
        print(line)
    runs: dict[str, list[dict]] = {}
    for kind in args.only or KINDS:
        for index in range(args.runs):
            result = run_child(kind, args)
            runs.setdefault(kind, []).append(result)
            extra = "".join(
                f" {key}={result[key]:.2f}" if isinstance(result[key], float) else f" {key}={result[key]}"
                for key in (
                    "preview_seconds",
                    "apply_seconds",
                    "creates",
                    "updates",
                    "unchanged",
                    "errors",
                    "written",
                    "message",
                )
                if key in result
            )
            print(
                f"  {kind} #{index + 1}: {result['seconds']:.2f} s, {result['rows']:,} rows, "
                f"peak {result['peak_mb']:.0f} MB (baseline {result['baseline_mb']:.0f} MB){extra}",
                flush=True,
            )
    print()
    print("| measurement | rows | seconds (median) | rows/s | peak MB | growth MB | file MB | vs bare |")
    print("|---|---|---|---|---|---|---|---|")
    bare = statistics.median(r["seconds"] for r in runs["bare"]) if "bare" in runs else None
    for kind, results in runs.items():
        seconds = statistics.median(r["seconds"] for r in results)
        peak = statistics.median(r["peak_mb"] for r in results)
        growth = statistics.median(r["peak_mb"] - r["baseline_mb"] for r in results)
        size = statistics.median(r.get("bytes", 0) for r in results) / 1024 / 1024
        rows = results[0]["rows"]
        ratio = f"{seconds / bare:.2f}×" if bare and kind in ("export", "rows", "bare") else ""
        label = kind
        if kind == "import":
            p = statistics.median(r.get("preview_seconds", 0) for r in results)
            a = statistics.median(r.get("apply_seconds", 0) for r in results)
            label = f"import (preview {p:.1f} s + apply {a:.1f} s, rolled back)"
        if kind == "update":
            p = statistics.median(r.get("preview_seconds", 0) for r in results)
            a = statistics.median(r.get("apply_seconds", 0) for r in results)
            label = f"update (preview {p:.1f} s + apply {a:.1f} s, rolled back)"
        if kind == "reimport":
            label = "re-import unchanged (preview)"
        if kind == "refuse":
            label = "30,001 rows refused (check_upload + preview)"
        print(
            f"| {label} | {rows:,} | {seconds:.2f} | {rows / seconds:,.0f} | {peak:.0f} | {growth:.0f} | {size:.1f} "
            f"| {ratio} |"
        )
    if "import" in runs and "update" in runs:
        new = statistics.median(r.get("apply_seconds", 0) for r in runs["import"])
        changed = statistics.median(r.get("apply_seconds", 0) for r in runs["update"])
        print()
        print(
            f"confirm of {runs['update'][0]['rows']:,} changed rows: {changed:.2f} s (target ≤ 10 s); "
            f"{changed / new:.2f}× the confirm of {runs['import'][0]['rows']:,} new rows ({new:.2f} s; target ≤ 2×)"
        )
    if "refuse" in runs:
        refused = statistics.median(r["seconds"] for r in runs["refuse"])
        print(f"30,001-row file refused in {refused:.2f} s (target < 1 s): {runs['refuse'][0]['message']}")
    if args.json:
        Path(args.json).write_text(json.dumps(runs, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
