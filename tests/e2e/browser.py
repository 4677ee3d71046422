"""What the browser tests share: where chromium is, how it is launched, and the real login page.

Imports of Playwright stay inside the functions, so that ``tests/conftest.py`` can import the constants
on a machine without Playwright or chromium.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

# Debian's chromium (apt-get install chromium fonts-noto-cjk). Never `playwright install`: it downloads.
CHROMIUM = Path(os.environ.get("BAZHOU_CHROMIUM", "/usr/bin/chromium"))
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]

# Set by .ci/run: a missing browser fails the browser tests instead of skipping them.
REQUIRE_ENV = "BAZHOU_REQUIRE_BROWSER"

SKIP_MESSAGE = "未找到 chromium：浏览器端到端测试已跳过（apt-get install chromium fonts-noto-cjk）"
# The password tests.factories.user() gives every user it makes.
PASSWORD = "pw-for-tests-2017"


def browser_required() -> bool:
    return os.environ.get(REQUIRE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def browser_problem() -> str | None:
    """Why the browser tests cannot run here (chromium or Playwright missing), or None when they can."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        return f"chromium not found at {CHROMIUM}"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install -e '.[dev]')"
    return None


def skip_reason(problem: str) -> str:
    return f"{SKIP_MESSAGE} / {problem}: browser tests skipped"


def required_reason(problem: str) -> str:
    return (
        f"{REQUIRE_ENV}=1：必须运行浏览器测试，但无法运行（apt-get install chromium fonts-noto-cjk）"
        f" / the browser tests are required but cannot run: {problem}"
    )


def login(page, username: str, password: str = PASSWORD) -> None:
    """Sign in through the real login page (/login/) and wait until it has sent us on."""
    from playwright.sync_api import expect

    page.goto("/login/")
    page.locator('input[name="username"]').fill(username)
    page.locator('input[name="password"]').fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="登录").click()
    expect(page).not_to_have_url(re.compile(r"/login/"))


def open_menu(page) -> None:
    """On a phone (< 768 px) the header's links and 退出 are under 菜单: open it (nothing to do on a wider screen)."""
    from playwright.sync_api import expect

    toggle = page.get_by_test_id("nav-menu-toggle")
    if toggle.is_visible() and not page.get_by_test_id("nav-menu").is_visible():
        toggle.click()
        expect(page.get_by_test_id("nav-menu")).to_be_visible()


def logout(page) -> None:
    """Sign out with the header's 退出 button (a POST form; under 菜单 on a phone) and wait for the login page."""
    from playwright.sync_api import expect

    open_menu(page)
    with page.expect_navigation():
        page.get_by_role("button", name="退出").click()
    expect(page).to_have_url(re.compile(r"/login/$"))


def no_sideways_scroll(page, width: int) -> bool:
    """Once the page has loaded: nothing on it is wider than the screen (the page does not scroll sideways)."""
    page.wait_for_load_state()
    return page.evaluate("document.documentElement.scrollWidth") <= width
