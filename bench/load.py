#!/usr/bin/env python3
"""Load the product through gunicorn on the 10× demo (PostgreSQL) as people use it, then race two edits.

The script

1. reuses the benchmark database ``bazhou_bench_pages`` (``make bench-pages`` seeds it; never dropped here):
   migrates it, runs ``ANALYZE`` (``--no-analyze`` to skip) and collects the static files into var/bench/static;
2. makes (or refreshes) four users with a password of this run: ``load-admin`` (district admin),
   ``load-township`` and ``load-village`` (the staff of the township and the cadre of the village with the most
   2017 plan rows) and ``load-leader`` (district leader, read only);
3. starts gunicorn with the repository's gunicorn.conf.py, 2 sync workers (``--workers``), production settings
   (DEBUG off, persistent connections, logs with the access log to var/bench/load-gunicorn.log) but plain HTTP on
   127.0.0.1 (``SECURE_COOKIES=0``);
4. ``--repeat`` times (default 3): first a baseline, the same number of clients on ``/healthz/`` for 5 s (the
   floor of the stack: gunicorn, the middleware, one ``SELECT 1``); then ``--clients`` threads for ``--seconds``
   (a bounded loop), each signed in through the real login page (CSRF token, session cookie) as one of the
   users, requesting a weighted mix: the dashboard, the village list, the household list, the plan page, a
   household's page, and edits of plan rows through the real inline form (GET the form with ``HX-Request``,
   POST it back with its version and the CSRF header, a new contact phone). A version conflict answered
   as designed is counted apart, not as an error. The table gives the median of the runs, and each page's
   p50 as a multiple of the baseline's p50 in the same run;
5. races: two clients (two users) read the same row's form, then post different values at the same moment,
   ``--race-rounds`` times; afterwards the database must show every accepted edit in the row's history, exactly
   one accepted per round, and the version moved on once per accepted edit (no lost update);
6. checks the gunicorn log for anything shaped like an ID number, stops gunicorn, and puts the edited rows back
   as they were (values and version) and removes the history the run wrote, so the shared database is left as
   it was found.

It prints requests/s, p50/p95 per page, the error count (expected 0), the conflicts, and the race's verdict.
It asserts nothing. The machine has 2 cores shared by the load threads, gunicorn and PostgreSQL: the figures
are orders of magnitude. Run it with ``make bench-load`` or ``.venv/bin/python bench/load.py --help``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import platform
import random
import re
import secrets
import statistics
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pages  # noqa: E402  (bench/pages.py: Django set-up, ANALYZE, the object picks)
from seed import BenchError, manage  # noqa: E402
from server import free_port, start_gunicorn, stop_gunicorn  # noqa: E402  (bench/server.py)

HOST = "127.0.0.1"
DEFAULT_PG_URL = pages.DEFAULT_PG_URL
ID_SHAPED = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")
LOG_PATH = ROOT / "var" / "bench" / "load-gunicorn.log"
STATIC_ROOT = ROOT / "var" / "bench" / "static"
USERS = {
    "load-admin": "district_admin",
    "load-township": "township_staff",
    "load-village": "village_cadre",
    "load-leader": "leader",
}
EDITORS = ("load-admin", "load-township", "load-village")
BASELINE_SECONDS = 5
# The mix: page -> weight. An edit is two requests (the form, then the save).
MIX = {
    "dashboard": 15,
    "village list": 15,
    "household list": 15,
    "plan": 15,
    "household detail": 20,
    "edit": 20,
}


# --- the database, in this process -------------------------------------------------------------------------


@dataclass
class Setting:
    """What the run works on: the users, the plan and its rows, the households to open."""

    password: str
    village_id: int
    village_name: str
    township_name: str
    plan_id: int
    rows: list[int]
    households: list[int]
    race_row: int
    snapshot: list = field(default_factory=list)


def prepare(url: str, analyze: bool) -> Setting:
    seconds, _ = manage(["migrate", "--noinput", "-v", "0"], url, "migrate")
    print(f"  migrate: {seconds:.1f} s", flush=True)
    pages.setup_django(url)
    from django.core.management import call_command

    if analyze:
        print(f"  {pages.analyze()}", flush=True)
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
    os.environ["STATIC_ROOT"] = str(STATIC_ROOT)
    from django.conf import settings

    settings.STATIC_ROOT = STATIC_ROOT
    call_command("collectstatic", "--noinput", verbosity=0)

    from households.models import Household
    from tasks.models import Task

    for line in pages.describe_data(10):
        if not line.lstrip().startswith("note"):
            print(line)
    village, plan, _household = pages.pick_objects(None)
    if plan is None:
        raise BenchError(f"{village.name} has no {pages.PLAN_YEAR} plan: is the benchmark database seeded?")
    rows = list(Task.objects.filter(plan=plan, is_removed=False).order_by("id").values_list("id", flat=True))
    households = list(Household.objects.filter(village=village).order_by("id").values_list("id", flat=True)[:50])
    if len(rows) < 3 or not households:
        raise BenchError(f"{village.name}'s plan has {len(rows)} live rows and {len(households)} households: too few")
    password = secrets.token_urlsafe(16)
    make_users(village, password)
    setting = Setting(
        password=password,
        village_id=village.pk,
        village_name=village.name,
        township_name=village.township.name,
        plan_id=plan.pk,
        rows=rows[1:],
        households=households,
        race_row=rows[0],
    )
    # Everything the run may change, to put it back afterwards.
    setting.snapshot = list(Task.objects.filter(plan=plan))
    return setting


def make_users(village, password: str) -> None:
    from bazhou.core.models import Role, User

    areas = {
        Role.DISTRICT_ADMIN: {"district": village.township.district},
        Role.TOWNSHIP_STAFF: {"township": village.township},
        Role.VILLAGE_CADRE: {"village": village},
        Role.LEADER: {"district": village.township.district},
    }
    for username, role in USERS.items():
        user = User.objects.filter(username=username).first() or User(username=username)
        user.role, user.district, user.township, user.village = role, None, None, None
        for name, area in areas[role].items():
            setattr(user, name, area)
        user.name = f"负载测试{username[5:]}"
        user.is_active = True
        user.set_password(password)
        user.full_clean()
        user.save()


def restore(setting: Setting, started_at) -> str:
    """Put the plan's rows back as they were, remove the history this run wrote and its login records."""
    from axes.models import AccessAttempt, AccessLog
    from django.db import transaction

    from bazhou.core.models import User
    from tasks.models import Task

    users = User.objects.filter(username__in=USERS)
    fields = [f.name for f in Task._meta.concrete_fields if not f.primary_key]
    from bazhou.core import summaries

    with transaction.atomic(), summaries.bulk():
        history = Task.history.filter(history_user__in=users, history_date__gte=started_at).delete()[0]
        Task.objects.bulk_update(setting.snapshot, fields, batch_size=500)
        # The summary figures of the village are refreshed as the rows go back (not all dropped and rebuilt by the
        # next reader, which the bulk update alone would cause: bazhou/core/summaries.py).
        summaries.touched("plan", "villages", [setting.village_id])
    AccessLog.objects.filter(username__in=USERS).delete()
    AccessAttempt.objects.filter(username__in=USERS).delete()
    return f"restored {len(setting.snapshot)} plan rows as they were, removed {history} history records of the run"


# --- a browser, as far as the server can tell ------------------------------------------------------------------


@dataclass
class Response:
    status: int
    body: str
    location: str
    ms: float


class Client:
    """One signed-in person: cookies (session, CSRF), one connection per request (gunicorn's sync workers close)."""

    def __init__(self, port: int):
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, data: dict | None = None, headers: dict | None = None) -> Response:
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if data is not None:
            body = urlencode(data, doseq=True).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection = http.client.HTTPConnection(HOST, self.port, timeout=120)
        start = time.perf_counter()
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            text = response.read().decode("utf-8", "replace")
            elapsed = (time.perf_counter() - start) * 1000
            for header in response.headers.get_all("Set-Cookie") or []:
                name, _, rest = header.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
            return Response(response.status, text, response.getheader("Location") or "", elapsed)
        finally:
            connection.close()

    def login(self, username: str, password: str) -> None:
        page = self.request("GET", "/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.body)
        if page.status != 200 or token is None:
            raise BenchError(f"the login page answered {page.status} without a CSRF token")
        data = {"csrfmiddlewaretoken": token.group(1), "username": username, "password": password, "next": "/"}
        done = self.request("POST", "/login/", data)
        if done.status != 302 or "sessionid" not in self.cookies:
            raise BenchError(f"{username} could not sign in: {done.status}")

    def htmx_headers(self) -> dict:
        return {"HX-Request": "true", "X-CSRFToken": self.cookies.get("csrftoken", "")}


class FormFields(HTMLParser):
    """The values a browser would send for the inputs, selects and textareas of an HTML fragment."""

    def __init__(self):
        super().__init__()
        self.values: dict[str, str] = {}
        self._select: str | None = None
        self._first_option: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "input" and a.get("name") and a.get("type") not in ("submit", "button", "file"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            self.values[a["name"]] = a.get("value") or ""
        elif tag == "select" and a.get("name"):
            self._select, self._first_option = a["name"], None
        elif tag == "option" and self._select:
            if self._first_option is None:
                self._first_option = a.get("value", "")
            if "selected" in a:
                self.values[self._select] = a.get("value", "")
        elif tag == "textarea" and a.get("name"):
            self._textarea = a["name"]
            self.values[a["name"]] = ""

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "select" and self._select:
            self.values.setdefault(self._select, self._first_option or "")
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def form_values(html: str) -> dict[str, str]:
    parser = FormFields()
    parser.feed(html)
    return parser.values


def edit_outcome(response: Response) -> str:
    """accepted (the saved row came back), conflict (the conflict row, as designed), or what went wrong."""
    if response.status == 200 and 'data-testid="task-row"' in response.body:
        return "accepted"
    if response.status == 200 and 'data-testid="conflict-row"' in response.body:
        return "conflict"
    if response.status == 200 and 'data-testid="inline-form-row"' in response.body:
        errors = re.findall(r'data-field-error="(\w+)">([^<]+)<', response.body)
        return f"refused: {errors[:3]}"
    return f"HTTP {response.status}"


# --- the load ----------------------------------------------------------------------------------------------------


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    samples: list[str] = field(default_factory=list)
    conflicts: int = 0
    accepted: list[tuple[int, str]] = field(default_factory=list)  # (row, value) of every accepted edit
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, page: str, response: Response, ok: bool, problem: str = "") -> None:
        with self.lock:
            self.latencies[page].append(response.ms)
            if not ok:
                self.errors[page] += 1
                if len(self.samples) < 10:
                    self.samples.append(f"{page}: {problem or response.status}")


def paths(setting: Setting, username: str, rng: random.Random) -> dict[str, str]:
    return {
        "dashboard": "/dashboard/",
        "village list": "/villages/",
        "household list": "/households/" + (f"?page={rng.randint(1, 5)}" if rng.random() < 0.3 else ""),
        "plan": f"/tasks/plans/{setting.plan_id}/",
        "household detail": f"/households/{rng.choice(setting.households)}/",
    }


def client_loop(port: int, setting: Setting, username: str, stop_at: float, stats: Stats, seed: int) -> None:
    rng = random.Random(seed)
    client = Client(port)
    client.login(username, setting.password)
    mix = {page: weight for page, weight in MIX.items() if page != "edit" or username in EDITORS}
    names, weights = list(mix), list(mix.values())
    n = 0
    while time.monotonic() < stop_at:
        page = rng.choices(names, weights)[0]
        try:
            if page == "edit":
                n += 1
                # A new contact phone (a field written directly even on an approved plan, as the demo's 2017 plans
                # are; the others would have to go through a change request), unique per edit.
                edit(client, rng.choice(setting.rows), f"139{seed % 1000:03d}{n:05d}", stats)
                continue
            response = client.request("GET", paths(setting, username, rng)[page])
        except OSError as e:
            with stats.lock:
                stats.errors[page] += 1
                stats.samples.append(f"{page}: {type(e).__name__} {e}")
            continue
        stats.add(page, response, response.status == 200)


# The field the edits change: the contact phone, which the inline form writes directly even on an approved plan (the
# demo's 2017 plans are approved; a new responsible person there is a change request, not an edit).
FIELD = "responsible_phone"


def edit(client: Client, row: int, value: str, stats: Stats) -> None:
    form = client.request("GET", f"/tasks/{row}/inline/", headers=client.htmx_headers())
    ok = form.status == 200 and 'name="version"' in form.body
    stats.add("edit: form", form, ok)
    if not ok:
        return
    data = form_values(form.body)
    data[FIELD] = value
    saved = client.request("POST", f"/tasks/{row}/inline/", data, headers=client.htmx_headers())
    outcome = edit_outcome(saved)
    stats.add("edit: save", saved, outcome in ("accepted", "conflict"), outcome)
    with stats.lock:
        if outcome == "conflict":
            stats.conflicts += 1
        elif outcome == "accepted":
            stats.accepted.append((row, value))


def run_load(port: int, setting: Setting, clients: int, seconds: float) -> tuple[Stats, float]:
    stats = Stats()
    usernames = [list(USERS)[i % len(USERS)] for i in range(clients)]
    stop_at = time.monotonic() + seconds
    threads = [
        threading.Thread(target=client_loop, args=(port, setting, name, stop_at, stats, i), daemon=True)
        for i, name in enumerate(usernames)
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 300)
    return stats, time.monotonic() - started


# --- the race ----------------------------------------------------------------------------------------------------


def race(port: int, setting: Setting, rounds: int) -> list[dict]:
    """Two people read the same row's form, then both save at the same moment, with the version each read."""
    racers = [Client(port), Client(port)]
    racers[0].login("load-admin", setting.password)
    racers[1].login("load-township", setting.password)
    row = setting.race_row
    results = []
    for n in range(1, rounds + 1):
        forms = [c.request("GET", f"/tasks/{row}/inline/", headers=c.htmx_headers()) for c in racers]
        data = [form_values(f.body) for f in forms]
        versions = [d.get("version") for d in data]
        values = [f"1370000{n:04d}", f"1380000{n:04d}"]
        for d, value in zip(data, values, strict=True):
            d[FIELD] = value
        barrier = threading.Barrier(2)
        outcomes: list[str] = ["", ""]
        threads = [threading.Thread(target=save, args=(racers[i], row, data[i], barrier, outcomes, i)) for i in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        results.append({"round": n, "versions": versions, "values": values, "outcomes": outcomes})
    return results


def save(client: Client, row: int, data: dict, barrier: threading.Barrier, outcomes: list[str], i: int) -> None:
    """One racer: wait for the other, then post the form read before (its version) with a value of its own."""
    barrier.wait()
    outcomes[i] = edit_outcome(client.request("POST", f"/tasks/{row}/inline/", data, headers=client.htmx_headers()))


def check_race(setting: Setting, results: list[dict], version_before: int, started_at) -> list[str]:
    """From the database: every accepted edit is in the history, one per round, and nothing was lost."""
    from tasks.models import Task

    task = Task.objects.get(pk=setting.race_row)
    accepted = [r["values"][i] for r in results for i in (0, 1) if r["outcomes"][i] == "accepted"]
    history = list(
        Task.history.filter(id=task.pk, history_date__gte=started_at)
        .order_by("history_date", "history_id")
        .values_list(FIELD, flat=True)
    )
    both = sum(1 for r in results if r["outcomes"].count("accepted") == 2)
    neither = sum(1 for r in results if r["outcomes"].count("accepted") == 0)
    odd = [r for r in results if set(r["outcomes"]) - {"accepted", "conflict"}]
    lines = [
        f"rounds: {len(results)}, accepted: {len(accepted)}, answered with the conflict: "
        f"{sum(r['outcomes'].count('conflict') for r in results)}, other answers: {len(odd)}",
        f"rounds where both saves were accepted (a lost update): {both}; where neither was: {neither}",
        f"history records written: {len(history)}; accepted edits missing from the history: "
        f"{len([v for v in accepted if v not in history])}",
        f"version: {version_before} -> {task.version} (moved {task.version - version_before}, "
        f"accepted {len(accepted)}); the row now holds {getattr(task, FIELD)!r}, "
        f"the last accepted edit was {accepted[-1] if accepted else None!r}",
    ]
    lost = (
        both or len(history) != len(accepted) or history != accepted or task.version - version_before != len(accepted)
    )
    lines.append("verdict: " + ("LOST UPDATES" if lost or odd else "no update lost; every loser got the conflict"))
    for r in odd[:5]:
        lines.append(f"  round {r['round']}: {r['outcomes']}")
    return lines


def check_load_history(accepted: list[tuple[int, str]], started_at) -> str:
    from tasks.models import Task

    values = [value for _row, value in accepted]
    recorded = set(
        Task.history.filter(history_date__gte=started_at, **{f"{FIELD}__in": values}).values_list("id", FIELD)
    )
    missing = [pair for pair in accepted if pair not in recorded]
    return f"load edits accepted: {len(accepted)}, found in the history: {len(accepted) - len(missing)}"


# --- output ------------------------------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p * len(ordered)) - 1)] if ordered else float("nan")


BASELINE = "baseline: /healthz/"


def summarize(stats: Stats, seconds: float) -> dict[str, dict]:
    """Per page (and "all"): requests, requests per second, p50 and p95 in ms, errors."""
    pages_ = {**stats.latencies, "all": [ms for v in stats.latencies.values() for ms in v]}
    summary = {}
    for page, ms in pages_.items():
        errors = sum(stats.errors.values()) if page == "all" else stats.errors.get(page, 0)
        summary[page] = {
            "requests": len(ms),
            "rps": len(ms) / seconds,
            "p50_ms": statistics.median(ms) if ms else float("nan"),
            "p95_ms": percentile(ms, 0.95) if ms else float("nan"),
            "errors": errors,
        }
    return summary


def run_baseline(port: int, clients: int, seconds: float) -> dict[str, dict]:
    """The floor of the stack in the same run: the same number of clients on /healthz/ (one SELECT 1, no login)."""
    stats = Stats()
    stop_at = time.monotonic() + seconds

    def loop():
        client = Client(port)
        while time.monotonic() < stop_at:
            try:
                response = client.request("GET", "/healthz/")
            except OSError as e:
                with stats.lock:
                    stats.errors[BASELINE] += 1
                    stats.samples.append(f"{BASELINE}: {e}")
                continue
            stats.add(BASELINE, response, response.status == 200)

    threads = [threading.Thread(target=loop, daemon=True) for _ in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 120)
    summary = summarize(stats, time.monotonic() - started)
    summary.pop("all")
    return summary


def print_table(runs: list[dict[str, dict]]) -> None:
    """The median over the runs of each page's figures; errors are added up. ``× baseline``: p50 over the
    baseline's p50 in the same run (median of the runs' ratios)."""
    header = ("page", "requests", "req/s", "p50 ms", "p95 ms", "× baseline", "errors")
    order = [BASELINE, *[p for p in MIX if p != "edit"], "edit: form", "edit: save", "all"]

    def median_of(page, key):
        values = [run[page][key] for run in runs if page in run and not math.isnan(run[page][key])]
        return statistics.median(values) if values else float("nan")

    rows = []
    for page in order:
        if not any(page in run for run in runs):
            continue
        ratio = statistics.median(
            run[page]["p50_ms"] / run[BASELINE]["p50_ms"] for run in runs if page in run and run[BASELINE]["p50_ms"]
        )
        rows.append(
            (
                page,
                str(sum(run.get(page, {}).get("requests", 0) for run in runs)),
                f"{median_of(page, 'rps'):.1f}",
                f"{median_of(page, 'p50_ms'):.0f}",
                f"{median_of(page, 'p95_ms'):.0f}",
                f"{ratio:.0f}",
                str(sum(run.get(page, {}).get("errors", 0) for run in runs)),
            )
        )
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]

    def line(cells) -> str:
        padded = (c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True)))
        return "| " + " | ".join(padded) + " |"

    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print(line(r))


def scan_log() -> str:
    text = LOG_PATH.read_text(encoding="utf-8", errors="replace") if LOG_PATH.exists() else ""
    access = text.count("gunicorn.access")
    server_errors = len(re.findall(r'" 5\d\d ', text))
    return (
        f"gunicorn log: {access} access lines, {server_errors} with a 5xx status, "
        f"{len(ID_SHAPED.findall(text))} ID-number-shaped strings ({LOG_PATH.relative_to(ROOT)})"
    )


# --- main --------------------------------------------------------------------------------------------------------


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Load gunicorn (2 sync workers, production settings, plain HTTP on 127.0.0.1) with a mix of "
        "pages and inline edits by signed-in users on the 10x demo database, then race two edits on one row. "
        "Prints figures; asserts nothing."
    )
    parser.add_argument("--seconds", type=float, default=60, help="length of each run of the mix (default 60)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the mix; medians are printed (default 3)")
    parser.add_argument("--clients", type=int, default=4, help="client threads, each a signed-in user (default 4)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers (default 2)")
    parser.add_argument("--race-rounds", type=int, default=30, help="rounds of two racing edits (default 30)")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("BENCH_PAGES_PG_URL", DEFAULT_PG_URL),
        help=f"the seeded benchmark database (default: $BENCH_PAGES_PG_URL or {DEFAULT_PG_URL})",
    )
    parser.add_argument("--no-analyze", action="store_true", help="do not run ANALYZE first")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures to FILE as JSON")
    args = parser.parse_args(argv)
    if not (0 < args.seconds <= 600 and 1 <= args.repeat <= 10 and 1 <= args.clients <= 32 and args.race_rounds >= 0):
        parser.error("--seconds must be in (0, 600], --repeat in [1, 10], --clients in [1, 32], --race-rounds ≥ 0")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    db = pages.ReusablePostgres(args.pg_url, keep=True)
    print(f"bench/load.py: Python {platform.python_version()}, {os.cpu_count()} CPUs, {db.check()}")
    if not db.exists():
        raise BenchError(f"{pages.redact(args.pg_url)} does not exist: run `make bench-pages` first to seed it")
    print(f"database: {pages.redact(args.pg_url)} (reused, not dropped)", flush=True)
    setting = prepare(args.pg_url, analyze=not args.no_analyze)
    print(
        f"village: {setting.township_name}{setting.village_name}, plan {setting.plan_id} with {len(setting.rows) + 1} "
        f"live rows; {len(setting.households)} of its households; users {', '.join(USERS)}"
    )
    from django.db import connections
    from django.utils import timezone

    from tasks.models import Task

    connections.close_all()
    started_at = timezone.now()
    port = free_port()
    process = start_gunicorn(args.pg_url, port, args.workers, LOG_PATH, LOG_LEVEL="INFO", STATIC_ROOT=str(STATIC_ROOT))
    print(
        f"gunicorn: {args.workers} sync workers on {HOST}:{port}; {args.clients} client threads; each run: "
        f"{BASELINE_SECONDS} s of /healthz/ (the baseline), then {args.seconds:g} s of the mix"
    )
    runs: list[dict[str, dict]] = []
    accepted: list[tuple[int, str]] = []
    conflicts, samples = 0, []
    try:
        for n in range(1, args.repeat + 1):
            baseline = run_baseline(port, args.clients, BASELINE_SECONDS)
            stats, elapsed = run_load(port, setting, args.clients, args.seconds)
            summary = {**baseline, **summarize(stats, elapsed)}
            runs.append(summary)
            accepted += stats.accepted
            conflicts += stats.conflicts
            samples += stats.samples
            print(
                f"  run {n}: {summary['all']['rps']:.1f} req/s, p50 {summary['all']['p50_ms']:.0f} ms, "
                f"{summary['all']['errors']} errors; baseline {baseline[BASELINE]['rps']:.0f} req/s",
                flush=True,
            )
        print(f"\nmedian of {len(runs)} run(s) of {args.seconds:g} s ({args.clients} clients, {args.workers} workers):")
        print_table(runs)
        errors = sum(run["all"]["errors"] for run in runs)
        print(f"errors: {errors}; version conflicts answered as designed (not errors): {conflicts}")
        for sample in samples[:10]:
            print(f"  {sample}")
        version_before = Task.objects.get(pk=setting.race_row).version
        race_started = timezone.now()
        results = race(port, setting, args.race_rounds) if args.race_rounds else []
    finally:
        stop_gunicorn(process)
    print(f"\nthe race: {args.race_rounds} rounds of two users saving the same row at once")
    race_lines = check_race(setting, results, version_before, race_started) if results else []
    for line in race_lines:
        print(f"  {line}")
    print(check_load_history(accepted, started_at))
    print(scan_log())
    print(restore(setting, started_at))
    report = {
        "seconds": args.seconds,
        "repeat": args.repeat,
        "clients": args.clients,
        "workers": args.workers,
        "runs": runs,
        "errors": errors,
        "conflicts": conflicts,
        "race": race_lines,
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
        print(f"wrote {args.json}")
    connections.close_all()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as e:
        print(f"bench/load.py: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
