#!/usr/bin/env python3
"""Time the dashboard in-process on the 10× demo on PostgreSQL and print median, p95 and queries per request.

It reuses the database bench/pages.py seeds (``bazhou_bench_pages``, ``seed_demo --scale 10``) and never
drops it: run ``make bench-pages`` once first if it does not exist. Settings are production-like (DEBUG off,
persistent connections, BAZHOU_TODAY=2017-09-15, see bench/pages.py); the client is signed in as the
non-superuser district admin ``bench-admin`` (or ``--user``). Each URL is requested ``--warmup`` times
untimed, then ``--runs`` times timed: the district dashboard, a township drill-down (the township with the
most villages) and a village drill-down. Each is timed three ways: as people meet it, the figures stored since
the last write (bazhou/core/freshness.py); the first load after a plan-row edit (a row of the township saved and
committed before each request, ``--fresh-runs`` times: the edit refreshes its village's summary figures in its own
transaction, bazhou/core/summaries.py, and the load recomputes the dashboard parts that read plan rows from the
summary figures); and the first load after writes to every kind of data (every data version moved on), when every
part is recomputed from the summary figures. It prints figures and asserts nothing;
the target is 150 ms.

Run it with ``make bench-dashboard`` or ``.venv/bin/python bench/dashboard.py --help``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pages  # noqa: E402  (bench/pages.py, next to this file)

DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432/bazhou_bench_pages"
TARGET_MS = 150


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=int, default=10, help="the scale the database was seeded at (default 10)")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("BENCH_PG_URL"),
        help=f"default {DEFAULT_PG_URL}, and for --scale 30 {DEFAULT_PG_URL}_30 (seeded with seed_demo --scale 30)",
    )
    parser.add_argument("--user", help="username to sign in as (default: bench-admin, created if missing)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--fresh-runs", type=int, default=5, help="timed loads right after a write (default 5)")
    parser.add_argument("--queries", type=int, default=0, help="also print the N slowest queries of each URL")
    parser.add_argument("--no-analyze", action="store_true")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    args.pg_url = args.pg_url or (DEFAULT_PG_URL if args.scale == 10 else f"{DEFAULT_PG_URL}_{args.scale}")
    pages.TARGET_MS = TARGET_MS
    print(f"bench/dashboard.py: Python {platform.python_version()}, {os.cpu_count()} CPUs, {pages.redact(args.pg_url)}")
    pages.setup_django(args.pg_url)
    from django.db.models import Count
    from django.test import Client

    from villages.models import Township, Village

    if not args.no_analyze:
        print(f"  {pages.analyze()}")
    for line in pages.describe_data(args.scale):
        print(line)
    user = pages.bench_user(args.user)
    township = Township.objects.annotate(n=Count("villages")).order_by("-n", "code").first()
    village = Village.objects.filter(township=township, is_poor=True).order_by("code").first()
    print(f"user: {user.username} ({user.get_role_display()}, {user.area})")
    client = Client()
    client.force_login(user)
    urls = [("区级驾驶舱", "/dashboard/"), (f"乡镇 {township.name}", f"/dashboard/?township={township.pk}")]
    if village:
        urls.append((f"村 {village.name}", f"/dashboard/?village={village.pk}"))
    from bazhou.core import freshness
    from tasks.models import Task

    edited = Task.objects.live().filter(plan__village__township=township).order_by("pk").first()

    def edit():
        """A real plan-row edit, committed as a page's would be: the row saved (its history, the data version moved
        on, its village's summary figures refreshed in the same transaction), its invested funds moved by 1 元 and
        back on the next edit. Not timed: the page load after it is."""
        from decimal import Decimal

        from django.db import transaction

        with transaction.atomic():
            row = Task.objects.select_for_update().get(pk=edited.pk)
            step = Decimal("0.0001")
            row.invested_funds = (
                row.invested_funds + step if row.invested_funds < row.planned_funds else row.invested_funds - step
            )
            row.save()

    results = []
    for label, url in urls:
        # As people meet it: the figures stored since the last write (every request after the first).
        result = pages.time_page(client, f"{label}（已存）", url, args.warmup, args.runs)
        # The first load after a plan-row edit: the plan figures computed afresh, the others as stored.
        after_edit = pages.time_page(client, f"{label}（改任务后）", url, 1, args.fresh_runs, before=edit)
        # The first load after writes to every kind of data: every figure computed afresh.
        fresh = pages.time_page(client, f"{label}（全部重算）", url, 1, args.fresh_runs, before=freshness.bump)
        for r in (result, after_edit, fresh):
            print(f"  {url} {r.label}: {r.status}, median {r.median_ms:.1f} ms, {r.median_queries} queries", flush=True)
        results += [result, after_edit, fresh]
    print()
    pages.print_table(results)
    if args.queries:
        for result in results:
            print(f"\nslowest queries of {result.url}:")
            for ms, sql in pages.slowest_queries(client, result.url, args.queries):
                text = " ".join(sql.split())
                print(f"  {ms:8.1f} ms  {text[:300]}{' …' if len(text) > 300 else ''}")
    from django.db import connections

    connections.close_all()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except pages.BenchError as e:
        print(f"bench/dashboard.py: {e}", file=sys.stderr)
        sys.exit(1)
