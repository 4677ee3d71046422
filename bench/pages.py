#!/usr/bin/env python3
"""Time the plan-editing pages in-process at a given demo scale and print server time and queries per page.

The script

1. prepares a database seeded with ``manage.py seed_demo --scale N``: PostgreSQL, the database named in
   ``--pg-url`` (default ``bazhou_bench_pages``) dropped and created again; SQLite, the file
   ``var/bench/pages-scale-N.sqlite3`` made anew. With ``--reuse`` an existing database is kept (seeding
   10× takes several minutes): it is only migrated, and seeded if it holds no demo yet;
2. sets Django up in this process with production-like settings: ``DEBUG=0`` (no query logging),
   persistent connections (``CONN_MAX_AGE=600``), ``BAZHOU_TODAY=2017-09-15``; on PostgreSQL it runs
   ``ANALYZE`` first (``--no-analyze`` to skip), as autovacuum would have after the bulk load;
3. signs a district admin in with ``django.test.Client.force_login`` (a non-superuser ``bench-admin``
   the script creates, or ``--user``) and picks representative objects: the 2017 exit village with the
   most plan rows (or ``--village NAME``, e.g. 茅垭村), its 2017 plan, and the household with the most
   members;
4. requests each page ``--warmup`` times untimed, then ``--runs`` times timed (the whole request through
   the middleware, the view and the template, body read), counting the database queries of each request;

then prints a table: page, status, median and p95 milliseconds, queries per request, body size, and
whether the median is under the 200 ms target. A page that does not answer 200 (a placeholder's 404, a
redirect to the login page) is timed all the same and its status is shown. It prints figures and asserts
nothing.

Run it with ``make bench-pages`` or ``.venv/bin/python bench/pages.py --help``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sqlite3
import statistics
import sys
import time
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from seed import BenchError, PostgresDatabase, manage  # noqa: E402  (bench/seed.py, next to this file)

DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432/bazhou_bench_pages"
ENGINES = ("postgres", "sqlite")
TARGET_MS = 200
DEMO_TODAY = "2017-09-15"
PLAN_YEAR = 2017
BENCH_USERNAME = "bench-admin"


@dataclass
class PageResult:
    label: str
    url: str
    statuses: list[int] = field(default_factory=list)
    ms: list[float] = field(default_factory=list)
    queries: list[int] = field(default_factory=list)
    bytes: int = 0

    @property
    def status(self) -> str:
        return "/".join(str(s) for s in sorted(set(self.statuses)))

    @property
    def ok(self) -> bool:
        return set(self.statuses) == {200}

    @property
    def median_ms(self) -> float:
        return statistics.median(self.ms)

    @property
    def p95_ms(self) -> float:
        """Nearest-rank 95th percentile (with 20 runs: the 19th fastest)."""
        ordered = sorted(self.ms)
        return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]

    @property
    def median_queries(self) -> int:
        return int(statistics.median(self.queries))


# --- the database ----------------------------------------------------------------------------------


class ReusablePostgres(PostgresDatabase):
    """bench/seed.py's benchmark database (name must contain 'bench'), which may also be kept and reused."""

    def exists(self) -> bool:
        name = self.name.replace("'", "''")
        return bool(self._execute(f"SELECT 1 FROM pg_database WHERE datname = '{name}'"))

    def prepare(self, reuse: bool) -> str:
        if reuse and self.exists():
            return self.url
        return self.fresh()


class SQLiteFile:
    engine = "sqlite"

    def __init__(self, path: Path):
        self.path = path

    def check(self) -> str:
        return f"SQLite {sqlite3.sqlite_version}"

    def prepare(self, reuse: bool) -> str:
        if not (reuse and self.path.exists()):
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{self.path}"

    def drop(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)


def prepare_database(db, scale: int, reuse: bool) -> str:
    """Create (or with ``reuse`` keep) the database, migrate it, and seed it unless it holds the demo already."""
    url = db.prepare(reuse)
    print(f"database: {redact(url)}" + (" (reused if seeded)" if reuse else " (fresh)"), flush=True)
    seconds, _ = manage(["migrate", "--noinput", "-v", "0"], url, "migrate")
    print(f"  migrate: {seconds:.1f} s", flush=True)
    seconds, out = manage(["seed_demo", "--scale", str(scale)], url, f"seed_demo --scale {scale}")
    if "已存在" in out:
        print(f"  seed_demo: the demo is there already ({seconds:.1f} s)", flush=True)
    else:
        print(f"  seed_demo --scale {scale}: {seconds:.1f} s", flush=True)
    return url


def redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return unquote(url)


# --- Django in this process ------------------------------------------------------------------------


def setup_django(database_url: str) -> None:
    """Production-like settings for timing: no DEBUG (so no query log), persistent connections."""
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "bazhou.settings",
            "DATABASE_URL": database_url,
            "DEBUG": "0",
            "SECRET_KEY": os.environ.get("SECRET_KEY") or "bench-pages-only-not-a-secret-" + "x" * 32,
            "ALLOWED_HOSTS": "testserver",
            "CONN_MAX_AGE": "600",
            "SECURE_COOKIES": "0",
            "BAZHOU_TODAY": DEMO_TODAY,
            "LOG_LEVEL": "ERROR",
        }
    )
    os.chdir(ROOT)
    import logging

    import django

    django.setup()
    # A 404 or 403 logs a warning per request through django.request; errors still show.
    logging.getLogger("django.request").setLevel(logging.ERROR)


def analyze() -> str:
    """PostgreSQL: refresh the planner's statistics, as autovacuum would have done after the bulk load.

    seed_demo bulk-inserts millions of rows; until the tables are analyzed the planner believes them
    small and picks sequential scans (the village list took 12 s at 10× on a server with autovacuum off).
    """
    from django.db import connection

    if connection.vendor != "postgresql":
        return ""
    start = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return f"ANALYZE: {time.perf_counter() - start:.1f} s"


def describe_data(scale: int) -> list[str]:
    from households.models import Household, Member
    from tasks.models import Task
    from villages.models import Village

    villages = Village.objects.count()
    planned = Village.objects.filter(is_poor=True, planned_exit_year=PLAN_YEAR).count()
    lines = [
        f"data: {villages:,} villages ({planned:,} to exit in {PLAN_YEAR}), {Household.objects.count():,} households, "
        f"{Member.objects.count():,} members, {Task.objects.count():,} plan rows"
    ]
    if planned != 68 * scale:
        lines.append(
            f"  note: {planned} villages to exit in {PLAN_YEAR}, but scale {scale} seeds {68 * scale}: "
            "the reused database was seeded at another scale"
        )
    return lines


def bench_user(username: str | None):
    from bazhou.core.models import Role, User
    from villages.models import District

    if username:
        try:
            return User.objects.get(username=username)
        except User.DoesNotExist:
            raise BenchError(f"no user {username!r} in the benchmark database") from None
    user = User.objects.filter(username=BENCH_USERNAME).first()
    if user is None:
        user = User(
            username=BENCH_USERNAME,
            role=Role.DISTRICT_ADMIN,
            district=District.objects.order_by("code").first(),
            first_name="基准测试",
        )
        user.set_unusable_password()
        user.full_clean()
        user.save()
    return user


def pick_objects(village_name: str | None):
    """The village (most 2017 plan rows, or by name), its 2017 plan, and the household with the most members."""
    from django.db.models import Count, Q

    from households.models import Household
    from tasks.models import Plan
    from villages.models import Village

    villages = Village.objects.filter(is_poor=True, planned_exit_year=PLAN_YEAR)
    if village_name:
        villages = Village.objects.filter(name=village_name)
    village = (
        villages.annotate(rows=Count("plans__tasks", filter=Q(plans__year=PLAN_YEAR)))
        .select_related("township")
        .order_by("-rows", "code")
        .first()
    )
    if village is None:
        raise BenchError(f"no village {'named ' + repr(village_name) if village_name else 'to exit in 2017'}")
    plan = Plan.objects.filter(village=village, year=PLAN_YEAR).first()
    household = (
        Household.objects.annotate(n=Count("members", filter=Q(members__is_active=True)))
        .select_related("village")
        .order_by("-n", "number")
        .first()
    )
    return village, plan, household


def pages_to_time(village, plan, household, extra_urls: list[str]) -> list[tuple[str, str]]:
    from django.urls import reverse

    pages = [
        ("village list (villages:list)", reverse("villages:list")),
        (f"village detail {village.name} (villages:detail)", reverse("villages:detail", args=[village.pk])),
    ]
    if plan is not None:
        pages.append((f"plan {village.name} {plan.year} (tasks:plan)", reverse("tasks:plan", args=[plan.pk])))
    pages += [
        ("household list (households:list)", reverse("households:list")),
        (f"household detail {household.number} (households:detail)", reverse("households:detail", args=[household.pk])),
    ]
    pages += [(url, url) for url in extra_urls]
    return pages


def time_page(client, label: str, url: str, warmup: int, runs: int, before=None) -> PageResult:
    """Request ``url`` ``warmup`` times untimed, then ``runs`` times timed; ``before()``, if given, runs before each
    request, untimed."""
    from django.db import connection

    result = PageResult(label, url)
    count = 0

    def counter(execute, sql, params, many, context):
        nonlocal count
        count += 1
        return execute(sql, params, many, context)

    for i in range(warmup + runs):
        if before is not None:
            before()
        count = 0
        with connection.execute_wrapper(counter):
            start = time.perf_counter()
            response = client.get(url)
            body = response.content
            elapsed = time.perf_counter() - start
        if i >= warmup:
            result.statuses.append(response.status_code)
            result.ms.append(elapsed * 1000)
            result.queries.append(count)
            result.bytes = len(body)
    return result


def slowest_queries(client, url: str, top: int) -> list[tuple[float, str]]:
    """One more request to ``url``, timing each of its queries: the ``top`` slowest as (ms, SQL)."""
    from django.db import connection

    timed: list[tuple[float, str]] = []

    def timer(execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            timed.append(((time.perf_counter() - start) * 1000, sql))

    with connection.execute_wrapper(timer):
        client.get(url).content  # noqa: B018  (read the body: a streamed page queries while it is read)
    return sorted(timed, reverse=True)[:top]


# --- output ----------------------------------------------------------------------------------------


def width(text: str) -> int:
    """Columns the text takes in a terminal: Chinese characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def print_table(results: list[PageResult]) -> None:
    header = ("page", "status", "median ms", "p95 ms", "queries", "KB", f"< {TARGET_MS} ms")
    lines = []
    for r in results:
        verdict = ("yes" if r.median_ms < TARGET_MS else "NO") if r.ok else f"— ({r.status})"
        lines.append(
            (
                r.label,
                r.status,
                f"{r.median_ms:.1f}",
                f"{r.p95_ms:.1f}",
                str(r.median_queries),
                f"{r.bytes / 1024:.0f}",
                verdict,
            )
        )
    widths = [max(width(h), *(width(line[i]) for line in lines)) for i, h in enumerate(header)]

    def row(cells):
        padded = []
        for i, (cell, w) in enumerate(zip(cells, widths, strict=True)):
            pad = " " * (w - width(cell))
            padded.append(cell + pad if i in (0, 6) else pad + cell)
        return "| " + " | ".join(padded) + " |"

    print(row(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for line in lines:
        print(row(line))


# --- main ------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Time the village list/detail, plan, and household list/detail pages in-process (django.test.Client, "
            "a district admin, DEBUG off, persistent connections) on a demo seeded at --scale, and print median "
            f"and p95 ms and queries per page against the {TARGET_MS} ms target. Prints figures only."
        )
    )
    parser.add_argument("--scale", type=int, default=10, help="seed_demo --scale (1–100; default 10)")
    parser.add_argument("--engine", choices=ENGINES, default="postgres", help="database engine (default postgres)")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep an existing benchmark database (only migrate it, and seed it if empty) instead of a fresh one",
    )
    parser.add_argument("--runs", type=int, default=20, help="timed requests per page (default 20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed requests per page first (default 3)")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("BENCH_PAGES_PG_URL", DEFAULT_PG_URL),
        help=f"PostgreSQL benchmark database; its name must contain 'bench' (default: $BENCH_PAGES_PG_URL or "
        f"{DEFAULT_PG_URL})",
    )
    parser.add_argument(
        "--sqlite-path",
        type=Path,
        help="SQLite benchmark database file (default: var/bench/pages-scale-N.sqlite3)",
    )
    parser.add_argument("--user", metavar="USERNAME", help=f"time as this user instead of {BENCH_USERNAME!r}")
    parser.add_argument("--village", metavar="NAME", help="the village to open, e.g. 茅垭村 (default: most plan rows)")
    parser.add_argument("--url", action="append", default=[], metavar="PATH", help="also time this path (repeatable)")
    parser.add_argument(
        "--no-analyze",
        action="store_true",
        help="PostgreSQL: do not run ANALYZE before timing (default: run it, as autovacuum would have)",
    )
    parser.add_argument(
        "--queries",
        type=int,
        default=0,
        metavar="K",
        help="after the table, time each query of one more request per page and show the K slowest",
    )
    parser.add_argument("--drop", action="store_true", help="drop the benchmark database at the end")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write every measurement to FILE as JSON")
    args = parser.parse_args(argv)
    if not 1 <= args.scale <= 100:
        parser.error("--scale must be a whole number from 1 to 100")
    if args.runs < 1 or args.warmup < 0:
        parser.error("--runs must be at least 1 and --warmup at least 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.engine == "postgres":
        db = ReusablePostgres(args.pg_url, keep=True)
    else:
        db = SQLiteFile(args.sqlite_path or ROOT / "var" / "bench" / f"pages-scale-{args.scale}.sqlite3")
    print(
        f"bench/pages.py: Python {platform.python_version()}, {os.cpu_count()} CPUs, {db.check()}, scale {args.scale}"
    )
    url = prepare_database(db, args.scale, args.reuse)

    setup_django(url)
    from django.test import Client

    if not args.no_analyze:
        done = analyze()
        if done:
            print(f"  {done}")
    for line in describe_data(args.scale):
        print(line)
    user = bench_user(args.user)
    village, plan, household = pick_objects(args.village)
    rows = plan.tasks.count() if plan else 0
    print(f"user: {user.username} ({user.get_role_display()}, {user.area}{', superuser' if user.is_superuser else ''})")
    print(f"village: {village.township.name}{village.name} (id {village.pk}), its {PLAN_YEAR} plan has {rows} rows")
    print(
        f"household: {household.number} in {household.village.name} (id {household.pk}), {household.n} members; "
        f"BAZHOU_TODAY={DEMO_TODAY}; {args.warmup} warm-ups, {args.runs} timed runs per page"
    )
    if plan is None:
        print(f"  note: {village.name} has no {PLAN_YEAR} plan: the plan page is not timed")

    client = Client()
    client.force_login(user)
    results = []
    for label, path in pages_to_time(village, plan, household, args.url):
        result = time_page(client, label, path, args.warmup, args.runs)
        print(f"  {path}: {result.status}, median {result.median_ms:.1f} ms", flush=True)
        results.append(result)

    print()
    print_table(results)
    if args.queries:
        for result in results:
            print(f"\nslowest queries of {result.url}:")
            for ms, sql in slowest_queries(client, result.url, args.queries):
                text = " ".join(sql.split())
                print(f"  {ms:8.1f} ms  {text[:300]}{' …' if len(text) > 300 else ''}")
    failing = [r for r in results if not r.ok]
    if failing:
        print(
            "pages that did not answer 200 were timed all the same (404: not implemented yet or not visible to "
            "the user; 302: not signed in): " + ", ".join(f"{r.url} {r.status}" for r in failing)
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "engine": db.engine,
            "scale": args.scale,
            "runs": args.runs,
            "warmup": args.warmup,
            "user": user.username,
            "pages": [
                {**asdict(r), "median_ms": r.median_ms, "p95_ms": r.p95_ms, "median_queries": r.median_queries}
                for r in results
            ],
        }
        args.json.write_text(json.dumps(payload, ensure_ascii=False, indent=2), encoding="utf-8")
        print(f"wrote {args.json}")

    from django.db import connections

    connections.close_all()
    if args.drop:
        if isinstance(db, ReusablePostgres):
            db.created = True
            db.keep = False
            db.finish()
        else:
            db.drop()
        print("dropped the benchmark database")
    else:
        print(f"kept the benchmark database: {redact(url)} (next time: --reuse)")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as e:
        print(f"bench/pages.py: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
