#!/usr/bin/env python3
"""What routing reads through ``DATABASE_REPLICA_URL`` costs a page (docs/replica.md), read-only.

Times list pages in-process against an existing seeded PostgreSQL database (default ``bazhou_bench_pages``, which
``bench/pages.py`` seeds) in two kinds of child process, interleaved round by round:

- ``primary``: no replica (one database, no router);
- ``routed``: ``DATABASE_REPLICA_URL`` set to the same database, so every read of the page goes through the router
  and a second connection: the router's own cost, with no replication lag and no second machine.

It never writes to the database: the user is signed in through a signed-cookie session built in memory (no session
row, no last-login update), and only pages that read are timed. It prints medians per page and mode.
Usage: ``.venv/bin/python bench/replica.py [--pg-url URL] [--rounds 5] [--runs 15] [--user admin]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432/bazhou_bench_pages"
PAGES = ("/households/", "/villages/", "/tasks/awaiting-approval/")


def child(args) -> None:
    sys.path.insert(0, str(ROOT))
    import django  # noqa: PLC0415

    django.setup()
    from django.conf import settings  # noqa: PLC0415
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY  # noqa: PLC0415
    from django.contrib.sessions.backends.signed_cookies import SessionStore  # noqa: PLC0415
    from django.test import Client  # noqa: PLC0415

    from bazhou.core.models import User  # noqa: PLC0415

    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"  # no session row is written
    user = User.objects.get(username=args.user)
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = session.session_key
    timings = {}
    for page in args.pages:
        for _ in range(2):
            client.get(page)
        samples = []
        for _ in range(args.runs):
            start = time.perf_counter()
            response = client.get(page)
            samples.append((time.perf_counter() - start) * 1000)
        timings[page] = {"status": response.status_code, "ms": samples}
    print(json.dumps(timings))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--user", default="admin")
    parser.add_argument("--page", action="append", dest="pages", default=[])
    parser.add_argument("--child", choices=("primary", "routed"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.pages = args.pages or list(PAGES)
    if args.child:
        child(args)
        return
    base = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bazhou.settings",
        "DATABASE_URL": args.pg_url,
        "DEBUG": "0",
        "SECRET_KEY": "bench-replica",
        "ALLOWED_HOSTS": "testserver",
        "SECURE_COOKIES": "0",
        "CONN_MAX_AGE": "600",
        "BAZHOU_TODAY": "2017-09-15",
        "LOG_LEVEL": "WARNING",
    }
    base.pop("DATABASE_REPLICA_URL", None)
    results = {"primary": {}, "routed": {}}
    for _ in range(args.rounds):
        for mode in ("primary", "routed"):
            env = dict(base)
            if mode == "routed":
                env["DATABASE_REPLICA_URL"] = args.pg_url
            command = [sys.executable, __file__, "--child", mode, "--runs", str(args.runs), "--user", args.user]
            for page in args.pages:
                command += ["--page", page]
            out = subprocess.run(command, env=env, capture_output=True, text=True, check=True, cwd=ROOT).stdout
            for page, figures in json.loads(out.strip().splitlines()[-1]).items():
                entry = results[mode].setdefault(page, {"status": figures["status"], "ms": []})
                entry["ms"] += figures["ms"]
    print(f"{'page':<22}{'status':>7}{'primary ms':>12}{'routed ms':>12}{'routed/primary':>16}")
    for page in args.pages:
        a, b = results["primary"][page], results["routed"][page]
        ma, mb = statistics.median(a["ms"]), statistics.median(b["ms"])
        print(f"{page:<22}{a['status']:>7}{ma:>12.1f}{mb:>12.1f}{mb / ma:>16.2f}")
    print(f"medians of {args.rounds} interleaved rounds × {args.runs} requests; the machine is shared and noisy")


if __name__ == "__main__":
    main()
