"""Browser tests: Playwright for Python drives Debian's chromium against pytest-django's live server.

- ``browser`` (session scope, so once per xdist worker): chromium from /usr/bin/chromium, headless.
- ``page``: a fresh browser context and page per test, pointed at the live server (``page.goto("/login/")``),
  in zh-CN and Asia/Shanghai. An uncaught JavaScript error on the page fails the test, and so does a
  Content-Security-Policy violation (a blocked inline script or style, eval, a resource from elsewhere:
  the browser's ``securitypolicyviolation`` event and its console message); a failing test leaves a
  screenshot in ``var/e2e/``.
- The live server (``live_server``) gives the test ``transactional_db`` semantics: the server threads and
  the test see the same committed rows, each through its own connection. On SQLite (an in-memory
  database with a shared cache) a write of the server locks the tables for the test's connection, so
  a test must not touch the ORM while a request is in flight: wait for what the page shows first
  (``expect(...)``), then read or change the database.

Every test in this folder gets the ``e2e`` marker. Without /usr/bin/chromium they are skipped (and
``make test`` says so at the end); with ``BAZHOU_REQUIRE_BROWSER=1`` (CI) they fail instead.

Playwright's sync API runs its asyncio loop in a greenlet of the main thread, so while it is started the
thread reports a *running* event loop, and Django then refuses ORM calls (SynchronousOnlyOperation) and
keeps its connections in a different store. The loop is therefore visible only during a browser test (see
``_browser_loop``) and hidden otherwise, so the tests that run on the same worker later are unaffected.
"""

from __future__ import annotations

import os
import re
import threading
import time
from asyncio import events
from pathlib import Path

import pytest

from bazhou.surfaces.demo.data import DEMO_TODAY
from tests.e2e.browser import CHROMIUM, LAUNCH_ARGS, browser_problem, browser_required, required_reason, skip_reason

E2E_DIR = Path(__file__).resolve().parent
FAILURE_DIR = E2E_DIR.parent.parent / "var" / "e2e"
DEFAULT_TIMEOUT_MS = 10_000


def pytest_collection_modifyitems(config, items):
    """Mark every test in tests/e2e with ``e2e``; skip them all when the browser is missing (unless required)."""
    ours = [item for item in items if E2E_DIR in Path(str(item.path)).parents]
    if not ours:
        return
    problem = browser_problem()
    for item in ours:
        item.add_marker(pytest.mark.e2e)
        if problem and not browser_required():
            item.add_marker(pytest.mark.skip(reason=skip_reason(problem)))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, so the ``page`` fixture knows whether the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


class Browser:
    """The running Playwright and chromium of this worker, and the asyncio loop Playwright's sync API runs in."""

    def __init__(self, playwright, browser, loop):
        self.playwright = playwright
        self.browser = browser
        self.loop = loop

    def show_loop(self) -> None:
        events._set_running_loop(self.loop)

    @staticmethod
    def hide_loop() -> None:
        events._set_running_loop(None)


@pytest.fixture(scope="session")
def browser():
    """Chromium, launched once per worker; fails (rather than skips) without it when the browser is required."""
    problem = browser_problem()
    if problem:
        if browser_required():
            pytest.fail(required_reason(problem), pytrace=False)
        pytest.skip(skip_reason(problem))
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=DEFAULT_TIMEOUT_MS)
    playwright = sync_playwright().start()
    loop = events._get_running_loop()
    try:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
    except Exception:
        playwright.stop()
        raise
    holder = Browser(playwright, chromium, loop)
    holder.hide_loop()
    yield holder
    holder.show_loop()
    try:
        chromium.close()
    finally:
        playwright.stop()  # also ends the loop: the thread has no running loop afterwards


@pytest.fixture(autouse=True)
def _browser_loop(request):
    """Make Playwright's loop visible for the length of one browser test, and the ORM usable beside it.

    Every sync Playwright call leaves the loop marked as running in the calling thread. Django then
    (1) refuses ORM calls unless ``DJANGO_ALLOW_ASYNC_UNSAFE`` is set, and (2) looks its database
    connections up in a per-context store instead of the per-thread one. So for the test the variable is
    set and the thread's connections are put into that store too: fixtures, the test body and
    pytest-django's flush all use the one connection pytest-django set up (and on PostgreSQL no second
    session is left open to block the DROP DATABASE at the end).

    Autouse, so it is set up before (and torn down after) every other function fixture of the test except
    pytest-django's own: the flush after a transactional test runs with the loop hidden again.
    """
    if "browser" not in request.fixturenames:
        yield
        return
    holder = request.getfixturevalue("browser")
    from django.db import connections

    thread_connections = {alias: connections[alias] for alias in connections}
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    holder.show_loop()
    for alias, connection in thread_connections.items():
        connections[alias] = connection
    try:
        yield
    finally:
        holder.hide_loop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(autouse=True)
def _e2e_settings(request, tmp_path):
    """The demo's "today" (2017-09-15), and uploads in a temporary folder instead of var/media."""
    if "browser" not in request.fixturenames:
        return
    settings = request.getfixturevalue("settings")
    settings.BAZHOU_TODAY = DEMO_TODAY.isoformat()
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(scope="session")
def live_server(request):
    """pytest-django's live server, whose request threads always open database connections of their own.

    pytest-django hands an in-memory SQLite connection to the server thread only if the test database
    already exists when the (session-scoped) server starts, which depends on fixture order. Here the
    threads never share the test's connection, on either engine: on SQLite the test database is an
    in-memory database with a shared cache, which every connection of the process sees, and a server
    thread has its own transaction state as in production.
    """
    from pytest_django.live_server_helper import LiveServer

    addr = request.config.getvalue("liveserver") or os.getenv("DJANGO_LIVE_TEST_SERVER_ADDRESS") or "localhost"
    server = LiveServer(addr, start=False)
    server.thread.connections_override = {}
    server.start()
    yield server
    server.stop()


@pytest.fixture
def page(request, browser, live_server):
    """A new browser context and page on the live server; closed after the test."""
    context = browser.browser.new_context(
        base_url=live_server.url,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        viewport={"width": 1280, "height": 900},
    )
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    js_errors: list[str] = []
    # Every page of the context reports each CSP violation to the test (before any script of the page runs).
    context.expose_binding("__bazhouCspViolation", lambda _source, text: js_errors.append(f"CSP: {text}"))
    context.add_init_script(CSP_LISTENER)
    page = context.new_page()
    page.on("pageerror", lambda error: js_errors.append(str(error)))
    page.on("console", lambda message: _note_csp_console(message, js_errors))
    page.bazhou_errors = js_errors  # what the test will fail on, for a test that checks the checking itself
    try:
        yield page
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            FAILURE_DIR.mkdir(parents=True, exist_ok=True)
            shot = FAILURE_DIR / (re.sub(r"[^\w.-]+", "_", request.node.nodeid) + ".png")
            page.screenshot(path=str(shot), full_page=True)
            print(f"\nscreenshot of the failing page: {shot}")
        elif js_errors:
            pytest.fail("JavaScript errors or CSP violations on the page:\n" + "\n".join(js_errors), pytrace=False)
    finally:
        context.close()
        _wait_for_request_threads()


CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", function (e) {
  window.__bazhouCspViolation(
    e.violatedDirective + " blocked " + (e.blockedURI || "inline") + " at " + e.sourceFile + ":" + e.lineNumber
  );
});
"""


def _note_csp_console(message, errors: list[str]) -> None:
    """Chromium also says “Refused to … because it violates the following Content Security Policy directive”."""
    if message.type == "error" and "Content Security Policy" in message.text:
        errors.append(f"CSP (console): {message.text}")


def _wait_for_request_threads(timeout: float = 5.0) -> None:
    """Wait until the live server has finished every request of the closed context.

    The server handles each connection in a thread that keeps its database connection until the browser
    closes the socket (keep-alive). Waiting here means that no server thread touches the database during
    the flush after the test (on SQLite they share the test's connection), and that none still holds a
    PostgreSQL session when pytest-django drops the test database at the end.
    """
    deadline = time.monotonic() + timeout
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and "process_request_thread" in thread.name:
            thread.join(max(0.0, deadline - time.monotonic()))
