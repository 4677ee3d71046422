"""Schemathesis against the live test server, for three roles: 0 server errors, 0 schema violations.

A small district is built by the factories (tests/api/conftest.py's ``world``: two townships, plans, rows, a
finding and its rectification …); each role gets an API token and schemathesis (the CLI, pinned in the dev
dependencies) reads /api/v1/schema/ from the live server and sends generated requests — valid and invalid — to
every operation with a fixed seed and a bounded number of examples. The checks: no 5xx
(``not_a_server_error``), and every response's status code, content type and body as the schema documents them.
What is left out is listed below (``EXCLUDED_OPERATIONS``, ``EXCLUDED_CHECKS``), each with its reason.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from django.db import connections

from bazhou.core.api.tokens import token_create

SEED = 17
# Bounded so that the three runs take about a minute each on a 2-core machine (~10 requests a second). The
# "coverage" phase (every boundary of every parameter) alone takes over ten minutes a role, so it is left to a
# longer run: BAZHOU_SCHEMATHESIS_PHASES=coverage,fuzzing BAZHOU_SCHEMATHESIS_EXAMPLES=20.
MAX_EXAMPLES = int(os.environ.get("BAZHOU_SCHEMATHESIS_EXAMPLES", "5"))
PHASES = os.environ.get("BAZHOU_SCHEMATHESIS_PHASES", "fuzzing")
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
]
# Operations left out, with the reason. Keep this list short and every line justified.
# (operation ids of /api/v1/schema/: ``tokens_create`` is POST /api/v1/tokens/, ``tokens_destroy`` DELETE …/{id}/)
EXCLUDED_OPERATIONS: dict[str, str] = {
    "tokens_create": "新建令牌：每人最多 20 个有效令牌，生成的请求会用完名额，之后都是 400（不是缺陷）",
    "tokens_destroy": "撤销令牌：会撤销本次测试自己使用的令牌（编号很小，容易被生成到），之后的请求都是 401",
}
EXCLUDED_CHECKS: dict[str, str] = {}
ROLES = ("district_admin", "village_cadre", "supervisor")
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


@pytest.fixture
def live_server(request):
    """pytest-django's live server, whose request threads open database connections of their own (as in
    tests/e2e/conftest.py): on SQLite the test database is an in-memory database with a shared cache."""
    from pytest_django.live_server_helper import LiveServer

    request.getfixturevalue("transactional_db")
    server = LiveServer("localhost", start=False)
    server.thread.connections_override = {}
    server.start()
    yield server
    server.stop()


def run_schemathesis(url: str, key: str, report: Path) -> subprocess.CompletedProcess:
    command = [
        str(SCHEMATHESIS),
        "run",
        f"{url}/api/v1/schema/",
        "--header",
        f"Authorization: Token {key}",
        "--checks",
        ",".join(CHECKS),
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--phases",
        PHASES,
        "--no-shrink",
        "--generation-database",
        "none",  # nothing kept between runs (no .schemathesis/ folder): the seed alone decides the requests
        "--workers",
        "1",
        "--request-timeout",
        "10",
        "--suppress-health-check",
        "all",
        "--report",
        "junit",
        "--report-junit-path",
        str(report),
    ]
    for operation_id in EXCLUDED_OPERATIONS:
        command += ["--exclude-operation-id", operation_id]
    if EXCLUDED_CHECKS:
        command += ["--exclude-checks", ",".join(EXCLUDED_CHECKS)]
    env = {**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_HOOKS": ""}
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, check=False)


def failures_of(report: Path) -> list[str]:
    tree = ET.parse(report)
    found = []
    for case in tree.iter("testcase"):
        for problem in [*case.findall("failure"), *case.findall("error")]:
            found.append(f"{case.get('name')}: {(problem.get('message') or problem.text or '')[:500]}")
    return found


@pytest.mark.django_db(transaction=True)
def test_schemathesis_finds_no_server_error_and_no_schema_violation(live_server, world, personas, tmp_path, capsys):
    keys = {role: token_create(user=getattr(personas, role), name="schemathesis")[1] for role in ROLES}
    for connection in connections.all():
        connection.close()  # on SQLite, let the server's threads write without waiting for this connection
    summary, problems = [], []
    for role, key in keys.items():
        report = tmp_path / f"{role}.xml"
        result = run_schemathesis(live_server.url, key, report)
        assert report.exists(), result.stdout[-3000:] + result.stderr[-3000:]
        sent = re.search(r"(\d+) generated", result.stdout)
        selected = re.search(r"Selected: (\d+)/(\d+)", result.stdout)
        failures = failures_of(report)
        summary.append(f"{role}: {sent.group(1) if sent else '?'} test cases, {len(failures)} failures")
        if selected:  # the exclusions took effect, and nothing else was left out
            assert int(selected.group(2)) - int(selected.group(1)) == len(EXCLUDED_OPERATIONS), selected.group(0)
        problems += [f"[{role}] {failure}" for failure in failures]
        if result.returncode not in (0, 1):
            problems.append(f"[{role}] schemathesis exited {result.returncode}: {result.stderr[-2000:]}")
    with capsys.disabled():
        print(f"\nschemathesis (seed {SEED}, {MAX_EXAMPLES} examples): " + "; ".join(summary))
    assert not problems, "\n".join(problems[:40])
