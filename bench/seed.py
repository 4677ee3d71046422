#!/usr/bin/env python3
"""Time ``manage.py seed_demo --scale N`` on fresh databases and print rows and rows per second.

For each engine and scale, and for each repetition, the script

1. creates a fresh database: SQLite, a new file in a temporary directory; PostgreSQL, the database
   named in ``--pg-url`` (default ``bazhou_bench_seed``) dropped and created again;
2. runs ``manage.py migrate`` (not timed in the table);
3. times ``manage.py seed_demo --scale N`` as a subprocess (wall clock, including Django's start-up);
4. counts the rows of every model of the apps villages, households, tasks, supervision and bazhou,
   including history tables and many-to-many tables,

then prints one table line per engine and scale with the median of the repetitions. It prints
figures and asserts nothing. The issue's target is scale 1 in under 60 s on a 2-core machine.

Run it with ``make bench-seed`` or ``.venv/bin/python bench/seed.py --help``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
APPS = ("villages", "households", "tasks", "supervision", "bazhou")
ENGINES = ("sqlite", "postgres")
DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432/bazhou_bench_seed"
TARGET_SCALE, TARGET_SECONDS = "1", 60

# Runs inside ``manage.py shell`` against the freshly seeded database; prints one JSON line.
COUNT_CODE = f"""
import json
from django.apps import apps
counts = {{}}
for label in {APPS!r}:
    for model in apps.get_app_config(label).get_models(include_auto_created=True):
        counts[model._meta.label] = model._base_manager.count()
print("BENCH_COUNTS " + json.dumps(counts, sort_keys=True))
"""


class BenchError(Exception):
    pass


@dataclass
class Run:
    migrate_seconds: float
    seed_seconds: float | None
    rows: int
    counts: dict[str, int]
    seed_tail: str = ""


@dataclass
class Result:
    engine: str
    scale: str
    runs: list[Run] = field(default_factory=list)

    @property
    def seconds(self) -> float | None:
        values = [r.seed_seconds for r in self.runs if r.seed_seconds is not None]
        return statistics.median(values) if values else None

    @property
    def rows(self) -> int:
        return int(statistics.median(r.rows for r in self.runs))

    @property
    def rows_per_second(self) -> float | None:
        return self.rows / self.seconds if self.seconds else None


# --- databases -------------------------------------------------------------------------------------


class SQLiteDatabase:
    engine = "sqlite"

    def __init__(self, keep: bool):
        self.keep = keep
        self.dir: Path | None = None

    def check(self) -> str:
        return f"SQLite {sqlite3.sqlite_version}"

    def fresh(self) -> str:
        self._remove()
        self.dir = Path(tempfile.mkdtemp(prefix="bazhou-bench-seed-"))
        return f"sqlite:///{self.dir / 'bench.sqlite3'}"

    def _remove(self) -> None:
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def finish(self) -> None:
        if self.dir is not None and self.keep:
            print(f"kept the last SQLite database: {self.dir / 'bench.sqlite3'}")
        else:
            self._remove()


class PostgresDatabase:
    """The benchmark database named in ``url``, dropped and created through the ``postgres`` database."""

    engine = "postgres"

    def __init__(self, url: str, keep: bool):
        parts = urlsplit(url)
        if parts.scheme not in ("postgres", "postgresql", "pgsql"):
            raise BenchError(f"--pg-url must be a postgres:// URL, not {url!r}")
        self.name = unquote(parts.path.lstrip("/"))
        if "bench" not in self.name:
            # The database is dropped at every run: refuse names that could be someone's real data.
            raise BenchError(f"the benchmark database name must contain 'bench' (it is dropped): {self.name!r}")
        self.url = url
        self.maintenance_url = urlunsplit(parts._replace(path="/postgres"))
        self.keep = keep
        self.created = False

    def _execute(self, *statements: str) -> list:
        import psycopg2

        try:
            conn = psycopg2.connect(self.maintenance_url, connect_timeout=5)
        except psycopg2.OperationalError as e:
            raise BenchError(
                f"cannot connect to PostgreSQL at {self.maintenance_url}: {str(e).strip()}\n"
                "Start it, pass --pg-url, or run with --engines sqlite."
            ) from e
        conn.autocommit = True  # CREATE/DROP DATABASE cannot run in a transaction
        rows = []
        try:
            with conn.cursor() as cur:
                for statement in statements:
                    cur.execute(statement)
                    if cur.description:
                        rows.extend(cur.fetchall())
        finally:
            conn.close()
        return rows

    def _quoted(self) -> str:
        return '"' + self.name.replace('"', '""') + '"'

    def check(self) -> str:
        (version,) = self._execute("SHOW server_version")[0]
        return f"PostgreSQL {version}"

    def fresh(self) -> str:
        self._execute(f"DROP DATABASE IF EXISTS {self._quoted()} WITH (FORCE)", f"CREATE DATABASE {self._quoted()}")
        self.created = True
        return self.url

    def finish(self) -> None:
        if not self.created:
            return
        if self.keep:
            print(f"kept the last PostgreSQL database: {self.url}")
        else:
            self._execute(f"DROP DATABASE IF EXISTS {self._quoted()} WITH (FORCE)")
            self.created = False


# --- one measurement -------------------------------------------------------------------------------


def manage(args: list[str], database_url: str, what: str) -> tuple[float, str]:
    """Run ``manage.py`` with ``args`` on ``database_url``; return (wall seconds, stdout)."""
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONUNBUFFERED": "1"}
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise BenchError(
            f"{what} failed (exit {proc.returncode}): manage.py {' '.join(args)}\n"
            f"--- stdout ---\n{proc.stdout[-3000:]}\n--- stderr ---\n{proc.stderr[-3000:]}"
        )
    return seconds, proc.stdout


def count_rows(database_url: str) -> dict[str, int]:
    _, out = manage(["shell", "--no-imports", "-v", "0", "-c", COUNT_CODE], database_url, "counting rows")
    for line in out.splitlines():
        if line.startswith("BENCH_COUNTS "):
            return json.loads(line.removeprefix("BENCH_COUNTS "))
    raise BenchError(f"counting rows printed no counts:\n{out[-2000:]}")


def measure(db, scale: str, migrate_only: bool) -> Run:
    url = db.fresh()
    migrate_seconds, _ = manage(["migrate", "--noinput", "-v", "0"], url, "migrate")
    seed_seconds, tail = None, ""
    if not migrate_only:
        seed_seconds, out = manage(["seed_demo", "--scale", scale], url, f"seed_demo --scale {scale}")
        # The command's own summary line, e.g. 共创建 N 条记录，用时 S 秒.
        tail = " ".join(line.strip() for line in out.splitlines() if "共创建" in line)
    counts = count_rows(url)
    return Run(migrate_seconds, seed_seconds, sum(counts.values()), counts, tail)


# --- output ----------------------------------------------------------------------------------------


def fmt(value: float | None, pattern: str) -> str:
    return "—" if value is None else format(value, pattern)


def print_table(results: list[Result]) -> None:
    header = ("engine", "scale", "runs", "rows", "seconds", "rows/s", "migrate s")
    lines = [
        (
            r.engine,
            r.scale,
            str(len(r.runs)),
            f"{r.rows:,}",
            fmt(r.seconds, ".1f"),
            fmt(r.rows_per_second, ",.0f"),
            fmt(statistics.median(x.migrate_seconds for x in r.runs), ".1f"),
        )
        for r in results
    ]
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]

    def row(cells):
        return (
            "| "
            + " | ".join(
                c.rjust(w) if i >= 1 else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            )
            + " |"
        )

    print(row(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for line in lines:
        print(row(line))


def print_breakdown(result: Result) -> None:
    counts = result.runs[-1].counts
    print(f"\nrows by model ({result.engine}, scale {result.scale}):")
    for label, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        if n:
            print(f"  {n:>10,}  {label}")


# --- main ------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Time `manage.py seed_demo --scale N` on a fresh database per engine, scale and repetition, "
            "count the rows it created, and print a table of medians (engine, scale, rows, seconds, rows/s). "
            f"Prints figures only; the target is scale {TARGET_SCALE} under {TARGET_SECONDS} s on a 2-core machine."
        )
    )
    parser.add_argument("--scales", nargs="+", default=["1", "10"], metavar="N", help="scales to seed (default: 1 10)")
    parser.add_argument(
        "--engines", nargs="+", choices=ENGINES, default=list(ENGINES), help="engines (default: sqlite postgres)"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        metavar="K",
        help="measurements per engine and scale; the table shows the median (default: 3 for scale 1, 1 otherwise)",
    )
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("BENCH_PG_URL", DEFAULT_PG_URL),
        help=f"PostgreSQL database to drop and create for each run; its name must contain 'bench' "
        f"(default: $BENCH_PG_URL or {DEFAULT_PG_URL})",
    )
    parser.add_argument(
        "--migrate-only",
        action="store_true",
        help="create the fresh databases and migrate them, count rows, but do not run seed_demo (checks the script)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the last database of each engine instead of dropping it"
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write every measurement to FILE as JSON")
    parser.add_argument("--breakdown", action="store_true", help="also print the rows per model")
    args = parser.parse_args(argv)
    for scale in args.scales:
        if not scale.isdigit() or int(scale) < 1:
            parser.error(f"a scale must be a positive whole number (seed_demo takes 1–100), not {scale!r}")
    if args.repeat is not None and args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def repeats_for(scale: str, repeat: int | None) -> int:
    if repeat is not None:
        return repeat
    return 3 if int(scale) == 1 else 1


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    scales = sorted(dict.fromkeys(args.scales), key=int)
    databases = []
    for engine in args.engines:
        db = SQLiteDatabase(args.keep) if engine == "sqlite" else PostgresDatabase(args.pg_url, args.keep)
        databases.append(db)

    print(
        f"bench/seed.py: Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        + ", ".join(db.check() for db in databases)
        + (", migrate only (no seed_demo)" if args.migrate_only else "")
    )
    results: list[Result] = []
    for db in databases:
        try:
            for scale in scales:
                result = Result(db.engine, scale)
                n = repeats_for(scale, args.repeat)
                for i in range(1, n + 1):
                    run = measure(db, scale, args.migrate_only)
                    result.runs.append(run)
                    print(
                        f"  {db.engine} scale {scale} run {i}/{n}: migrate {run.migrate_seconds:.1f} s, "
                        f"seed_demo {fmt(run.seed_seconds, '.1f')} s, {run.rows:,} rows"
                        + (f"  [{run.seed_tail}]" if run.seed_tail else ""),
                        flush=True,
                    )
                if len({r.rows for r in result.runs}) > 1:
                    print(f"  note: the runs created different row counts: {[r.rows for r in result.runs]}")
                results.append(result)
        finally:
            db.finish()

    print()
    print_table(results)
    if args.breakdown:
        for result in results:
            print_breakdown(result)
    for result in results:
        if result.scale == TARGET_SCALE and result.seconds is not None:
            print(
                f"{result.engine}: scale {TARGET_SCALE} took {result.seconds:.1f} s "
                f"(target: under {TARGET_SECONDS} s on a 2-core machine; this one has {os.cpu_count()} CPUs)"
            )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = [
            {
                **{"engine": r.engine, "scale": r.scale, "median_seconds": r.seconds, "rows": r.rows},
                "runs": [asdict(x) for x in r.runs],
            }
            for r in results
        ]
        args.json.write_text(json.dumps(payload, ensure_ascii=False, indent=2), encoding="utf-8")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as e:
        print(f"bench/seed.py: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
