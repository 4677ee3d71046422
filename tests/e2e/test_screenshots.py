"""Screenshots of the main pages at the desk (1440×900) and on a phone (390×844), for people to look at.

Each page of ``main_pages.visits`` is saved whole (full page) as var/e2e/screens/<page>-<size>.png: var/ is CI's
output folder (kept out of git by .gitignore). On the phone no page scrolls sideways, and the header stays one
line (at most 60 px) with its 菜单 closed; one more picture shows the 菜单 open (todo-cadre-menu-phone.png).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.browser import login, no_sideways_scroll
from tests.e2e.main_pages import SIZES, visits, world

pytestmark = pytest.mark.e2e

SCREENS = Path(__file__).resolve().parent.parent.parent / "var" / "e2e" / "screens"
PNG = b"\x89PNG\r\n\x1a\n"


def shoot(page, name: str, size: str) -> Path:
    """Save the whole page. Chromium under load now and then answers a full-page capture with "Unable to capture
    screenshot" (seen once in CI on a loaded machine); the capture is tried once more after the page settles."""
    from playwright.sync_api import Error

    path = SCREENS / f"{name}-{size}.png"
    try:
        page.screenshot(path=str(path), full_page=True)
    except Error as error:
        if "Unable to capture screenshot" not in str(error):
            raise
        page.wait_for_timeout(500)
        page.screenshot(path=str(path), full_page=True)
    assert path.read_bytes()[:8] == PNG
    return path


@pytest.mark.parametrize("size", list(SIZES))
def test_the_main_pages_are_saved_as_screenshots_and_fit_a_phone(page, area, personas, size):
    SCREENS.mkdir(parents=True, exist_ok=True)
    w = world(area, personas)
    width = SIZES[size]["width"]
    page.set_viewport_size(SIZES[size])

    signed_in = None
    wide: list[str] = []
    broken: list[str] = []
    for name, username, path in visits(w):
        if username != signed_in:
            page.context.clear_cookies()
            if username:
                login(page, username)
            signed_in = username
        response = page.goto(path)
        if response is None or not response.ok:
            broken.append(f"{name}: {path} answered {response and response.status}")
            continue
        expect(page.locator("main")).to_be_visible()
        if size == "phone":
            if not no_sideways_scroll(page, width):
                wide.append(f"{name} ({path}): {page.evaluate('document.documentElement.scrollWidth')} px wide")
            if username:
                header = page.get_by_role("navigation", name="主导航").bounding_box()
                assert header is not None and header["height"] <= 60, f"{name}: the header is {header} on a phone"
        shoot(page, name, size)

    if size == "phone":
        # The 菜单 opens over the page with every link of the persona (the cadre: 消息, 村, 贫困户 …) and 退出.
        page.context.clear_cookies()
        login(page, w.users["cadre"])
        page.get_by_test_id("nav-menu-toggle").click()
        menu = page.get_by_test_id("nav-menu")
        expect(menu.get_by_test_id("nav-inbox")).to_be_visible()
        expect(menu.get_by_role("link", name="贫困户（一户一策）")).to_be_visible()
        expect(menu.get_by_role("button", name="退出")).to_be_visible()
        assert no_sideways_scroll(page, width)
        shoot(page, "todo-cadre-menu", size)
    problems = broken + wide
    assert not problems, "Pages that did not answer, or wider than the phone's screen:\n" + "\n".join(problems)
