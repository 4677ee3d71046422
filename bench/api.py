#!/usr/bin/env python3
"""Load the API's main lists through gunicorn on the 10× demo (PostgreSQL) and print requests/s and latency.

The script

1. reuses the database bench/pages.py seeds (``bazhou_bench_pages``, ``seed_demo --scale 10``; run
   ``make bench-pages`` once first if it does not exist; ``--scale 30`` reads ``bazhou_bench_pages_30``, any other
   scale N ``bazhou_bench_pages_N``, ``--pg-url`` names another). It never drops it; it only applies the bazhou app's
   migration for API tokens if the database does not have it yet, and runs ``ANALYZE`` (``--no-analyze`` to skip);
2. signs in as the non-superuser district admin ``bench-admin`` (bench/pages.py makes it, or ``--user``) with an
   API token made for this run (revoked at the end), and counts the database queries of one request per URL
   in this process (``django.test.Client``, the same settings);
3. starts gunicorn with the project's gunicorn.conf.py and 2 sync workers (``--workers``) on a free port of
   127.0.0.1, production-like: ``DEBUG=0``, persistent database connections (``CONN_MAX_AGE=600``),
   ``BAZHOU_TODAY=2017-09-15``, workers never recycled during the run (``--max-requests 0``);
4. from this process (threads with ``http.client``, ``--concurrency`` of them, one connection per request as
   gunicorn's sync workers close it), sends GETs to each URL for ``--seconds`` seconds, ``--repeat`` times, after
   a one-second warm-up: the plan rows, households, villages and findings lists with 100 rows a page, the plan
   rows 50 pages deep (the keyset cursor), and ``/healthz/`` (one ``SELECT 1``: the ceiling of this server and
   client on this machine, the baseline the lists are compared with); and the plan rows' two baselines of issue 19
   (bench/api_baselines.py, mounted only in this benchmark's server by bench/api_settings.py): a naive DRF
   ``ReadOnlyModelViewSet`` (select_related, prefetch, nested serializer, DRF's CursorPagination) and a raw-SQL
   floor (one query, ``json.dumps``). The runs are interleaved: round 1 of every URL, then round 2 …;

then prints, per URL, the median over the runs of requests/s, p50 and p95 milliseconds, the queries per request,
the response size and requests/s as a share of the baseline; then the product's plan rows against the naive
viewset and the raw floor (ratio of the medians and the range of the per-round ratios). Load runs only against
127.0.0.1 and stops by itself. The machine has 2 cores shared by the client, gunicorn and PostgreSQL: read the
figures as orders of magnitude. It prints figures and asserts nothing.

Run it with ``make bench-api`` or ``.venv/bin/python bench/api.py --help``.
"""

from __future__ import annotations

import argparse
import http.client
import math
import os
import platform
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pages  # noqa: E402  (bench/pages.py, next to this file)
from server import free_port, start_gunicorn, stop_gunicorn  # noqa: E402  (bench/server.py)

ROOT = pages.ROOT
PG_SERVER = "postgres://postgres@127.0.0.1:5432/"
BENCH_DIR = Path(__file__).resolve().parent
BASELINE_SETTINGS = "api_settings"  # bench/api_settings.py: the product's settings, the baselines' URLs in front
BASELINE_URLCONF = "api_baselines"  # bench/api_baselines.py
PRODUCT = "plan rows (tasks)"
NAIVE = "naive DRF viewset (bench)"
RAW = "raw SQL floor (bench)"
BEFORE = "plan rows before issue 19 (bench)"
HOST = "127.0.0.1"
TOKEN_MIGRATION = ("bazhou", "0004_api_token")
DEEP_PAGE = 50


@dataclass
class Run:
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0

    @property
    def ok(self) -> int:
        return self.statuses.get(200, 0)

    @property
    def rps(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return float("nan")
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass
class Target:
    label: str
    path: str
    queries: int = 0
    kb: float = 0.0
    runs: list[Run] = field(default_factory=list)

    def median(self, measure) -> float:
        return statistics.median(measure(run) for run in self.runs)

    @property
    def status(self) -> str:
        seen = sorted({code for run in self.runs for code in run.statuses} | ({0} if self.errors else set()))
        return "/".join("err" if code == 0 else str(code) for code in seen)

    @property
    def errors(self) -> int:
        return sum(run.errors for run in self.runs)


# --- the database and the token ------------------------------------------------------------------------


def ensure_token_table() -> str:
    """Apply the API-token migration if this database does not have it (nothing else is migrated)."""
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.recorder import MigrationRecorder

    if TOKEN_MIGRATION in MigrationRecorder(connection).applied_migrations():
        return "API tokens: table present"
    call_command("migrate", *TOKEN_MIGRATION, verbosity=0)
    return f"API tokens: applied migration {'.'.join(TOKEN_MIGRATION)}"


def make_token(user) -> tuple[object, str]:
    from bazhou.core.api.tokens import token_create

    return token_create(user=user, name=f"bench/api.py {time.strftime('%Y-%m-%d %H:%M:%S')}")


def revoke(token) -> None:
    from bazhou.core.api.tokens import token_revoke

    token_revoke(user=token.user, token_id=token.pk)


def database_url(scale: int) -> str:
    """The database bench/pages.py seeds at ``scale``: ``bazhou_bench_pages`` at 10×, ``bazhou_bench_pages_N``
    otherwise."""
    return PG_SERVER + ("bazhou_bench_pages" if scale == 10 else f"bazhou_bench_pages_{scale}")


def same_rows(client) -> str:
    """Whether the baselines answer the product's first page (the same row ids, in order), and whether the product's
    rows are, key for key and value for value, those of its list before issue 19 (``/bench/before/tasks/``)."""
    bodies = {}
    for label, path in (
        (PRODUCT, "/api/v1/tasks/?page_size=100"),
        (NAIVE, "/bench/naive/tasks/"),
        (RAW, "/bench/raw/tasks/"),
        (BEFORE, "/bench/before/tasks/?page_size=100"),
    ):
        response = client.get(path)
        bodies[label] = response.json()["results"] if response.status_code == 200 else None
    ids = {label: [row["id"] for row in rows] if rows is not None else None for label, rows in bodies.items()}
    same = ids[NAIVE] == ids[PRODUCT] == ids[RAW]
    identical = bodies[PRODUCT] is not None and [list(row.items()) for row in bodies[PRODUCT]] == [
        list(row.items()) for row in bodies[BEFORE] or []
    ]
    return (
        f"baselines answer the product's first page (same {len(ids[PRODUCT] or [])} row ids): {'yes' if same else 'NO'}"
        f"; product rows identical to the pre-issue-19 path's: {'yes' if identical else 'NO'}"
    )


def targets(client) -> list[Target]:
    """The URLs to load; the deep page's cursor is found by following ``next`` links in this process."""
    lists = [
        Target(PRODUCT, "/api/v1/tasks/?page_size=100"),
        Target(NAIVE, "/bench/naive/tasks/"),
        Target(RAW, "/bench/raw/tasks/"),
        Target(BEFORE, "/bench/before/tasks/?page_size=100"),
        Target("households", "/api/v1/households/?page_size=100"),
        Target("households before issue 19 (bench)", "/bench/before/households/?page_size=100"),
        Target("villages", "/api/v1/villages/?page_size=100"),
        Target("findings", "/api/v1/findings/?page_size=100"),
    ]
    link = lists[0].path
    for _ in range(DEEP_PAGE - 1):
        response = client.get(link)
        nxt = response.json().get("next") if response.status_code == 200 else None
        if not nxt:
            break
        link = nxt.replace("http://testserver", "")
    else:
        lists.insert(4, Target(f"plan rows, page {DEEP_PAGE} (cursor)", link))
    return [Target("/healthz/ (baseline)", "/healthz/"), *lists]


def count_queries(client, target: Target) -> None:
    result = pages.time_page(client, target.label, target.path, warmup=1, runs=3)
    target.queries = result.median_queries
    target.kb = result.bytes / 1024


# --- load --------------------------------------------------------------------------------------------


def get(port: int, path: str, headers: dict) -> tuple[int, int]:
    connection = http.client.HTTPConnection(HOST, port, timeout=60)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read()
        return response.status, len(body)
    finally:
        connection.close()


def load(port: int, path: str, headers: dict, seconds: float, concurrency: int) -> Run:
    """``concurrency`` threads GET ``path`` back to back until ``seconds`` have passed (a bounded loop)."""
    stop_at = time.monotonic() + seconds
    lock = threading.Lock()
    run = Run(seconds)

    def worker():
        while time.monotonic() < stop_at:
            start = time.perf_counter()
            try:
                status, _ = get(port, path, headers)
            except OSError:
                with lock:
                    run.errors += 1
                continue
            elapsed = (time.perf_counter() - start) * 1000
            with lock:
                run.statuses[status] = run.statuses.get(status, 0) + 1
                if status == 200:
                    run.latencies_ms.append(elapsed)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run.seconds = time.monotonic() - started
    return run


# --- output ------------------------------------------------------------------------------------------


def print_comparison(results: list[Target]) -> None:
    """The product's plan rows against the two baselines: ratio of the median req/s, and of each round's."""
    by_label = {t.label: t for t in results}
    product = by_label.get(PRODUCT)
    if product is None:
        return
    for label, target in ((NAIVE, "≥ 3×"), (RAW, "≥ 0.5×"), (BEFORE, "—")):
        other = by_label.get(label)
        if other is None or not other.runs:
            continue
        median = product.median(lambda r: r.rps) / (other.median(lambda r: r.rps) or float("nan"))
        rounds = [a.rps / b.rps for a, b in zip(product.runs, other.runs, strict=True) if b.rps]
        spread = f"{min(rounds):.2f}–{max(rounds):.2f}" if rounds else "–"
        goal = f"; issue 19 target {target}" if target != "—" else ""
        print(f"product ÷ {label}: {median:.2f}× (per round {spread}{goal})")


def print_table(results: list[Target]) -> None:
    baseline = results[0].median(lambda r: r.rps) if results else 0
    header = ("endpoint", "status", "req/s", "p50 ms", "p95 ms", "queries", "KB", "vs baseline")
    lines = []
    for t in results:
        rps = t.median(lambda r: r.rps)
        lines.append(
            (
                t.label,
                t.status,
                f"{rps:.1f}",
                f"{t.median(lambda r: r.percentile(0.50)):.1f}",
                f"{t.median(lambda r: r.percentile(0.95)):.1f}",
                str(t.queries),
                f"{t.kb:.0f}",
                f"{rps / baseline:.2f}" if baseline else "–",
            )
        )
    widths = [max(pages.width(h), *(pages.width(line[i]) for line in lines)) for i, h in enumerate(header)]

    def row(cells):
        padded = []
        for i, (cell, w) in enumerate(zip(cells, widths, strict=True)):
            pad = " " * (w - pages.width(cell))
            padded.append(cell + pad if i == 0 else pad + cell)
        return "| " + " | ".join(padded) + " |"

    print(row(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for line in lines:
        print(row(line))


# --- main --------------------------------------------------------------------------------------------


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=int, default=10, help="the seeded scale to read (default 10; 30: …_30)")
    parser.add_argument(
        "--pg-url", default=os.environ.get("BENCH_PG_URL"), help="database URL (default: the --scale database)"
    )
    parser.add_argument(
        "--only",
        action="append",
        metavar="WORD",
        help="load only the URLs whose label contains WORD (repeatable; e.g. --only 'plan rows' --only bench)",
    )
    parser.add_argument("--user", help="username whose token is used (default: bench-admin, created if missing)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers (default 2)")
    parser.add_argument("--concurrency", type=int, default=4, help="client threads (default 4)")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds of load per run (default 5)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per URL; the table shows the medians (default 3)")
    parser.add_argument("--no-analyze", action="store_true", help="do not run ANALYZE first")
    args = parser.parse_args(argv)
    args.pg_url = args.pg_url or database_url(args.scale)
    if args.workers < 1 or args.concurrency < 1 or args.repeat < 1 or not 0.5 <= args.seconds <= 120:
        parser.error("--workers, --concurrency and --repeat must be at least 1, --seconds 0.5–120")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    print(
        f"bench/api.py: Python {platform.python_version()}, {os.cpu_count()} CPUs, {pages.redact(args.pg_url)}, "
        f"gunicorn {args.workers} sync workers, {args.concurrency} client threads, "
        f"{args.repeat} × {args.seconds:g} s per URL"
    )
    pages.setup_django(args.pg_url)
    from django.conf import settings
    from django.db import connections
    from django.test import Client

    settings.ROOT_URLCONF = BASELINE_URLCONF  # in this process too, for the query counts and the same-rows check

    print(f"  {ensure_token_table()}")
    if not args.no_analyze:
        print(f"  {pages.analyze()}")
    for line in pages.describe_data(args.scale):
        print(line)
    user = pages.bench_user(args.user)
    token, key = make_token(user)
    headers = {"Authorization": f"Token {key}", "Host": HOST}
    print(f"user: {user.username} ({user.get_role_display()}, {user.area}), token {token.prefix}… (revoked at the end)")
    process = None
    try:
        client = Client(HTTP_AUTHORIZATION=f"Token {key}")
        urls = targets(client)
        if args.only:
            urls = [urls[0], *(t for t in urls[1:] if any(word in t.label for word in args.only))]
        print(f"  {same_rows(client)}")
        for target in urls:
            count_queries(client, target)
        connections.close_all()

        port = free_port()
        log_path = ROOT / "var" / "bench" / "api-gunicorn.log"
        python_path = os.pathsep.join(filter(None, [str(BENCH_DIR), os.environ.get("PYTHONPATH")]))
        process = start_gunicorn(
            args.pg_url, port, args.workers, log_path, DJANGO_SETTINGS_MODULE=BASELINE_SETTINGS, PYTHONPATH=python_path
        )
        print(f"gunicorn on {HOST}:{port} (log: {log_path.relative_to(ROOT)})")
        for target in urls:
            load(port, target.path, headers, 1.0, args.concurrency)  # warm-up: workers, connections, caches
        for round_number in range(1, args.repeat + 1):  # interleaved: every URL once per round
            for target in urls:
                run = load(port, target.path, headers, args.seconds, args.concurrency)
                target.runs.append(run)
                print(
                    f"  round {round_number} {target.label}: {'/'.join(map(str, sorted(run.statuses)))}, "
                    f"{run.rps:.1f} req/s, p50 {run.percentile(0.5):.1f} ms",
                    flush=True,
                )
    finally:
        if process is not None:
            stop_gunicorn(process)
        revoke(token)
        connections.close_all()
    print()
    print_table(urls)
    print()
    print_comparison(urls)
    print(
        "req/s, p50, p95: medians over the runs; queries: per request, counted in-process; vs baseline: req/s ÷ "
        "those of /healthz/ in the same run."
    )
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except pages.BenchError as e:
        print(f"bench/api.py: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
