"""axe-core on every main page, at the desk (1440×900) and on a phone (390×844): no serious or critical violation.

axe-core 4.14.1 is vendored beside this file (tests/e2e/vendor/axe.min.js, MPL-2.0) and injected into each page by
the test. The pages' Content-Security-Policy forbids injected scripts, so this test alone opens its browser
context with ``bypass_csp=True`` (the other browser tests keep the policy and fail on any violation of it).
The pages are filled with the data of ``main_pages.world``, so tables, badges, forms and the navigation's
counts are on the page when axe looks. On the phone each persona's first page is also checked with the
navigation's 菜单 opened, so the links hidden behind it are checked too.

A failure prints, per page, each violation's rule, impact and the selectors of the nodes at fault.
"""

from __future__ import annotations

import datetime
import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.e2e.browser import login
from tests.e2e.conftest import DEFAULT_TIMEOUT_MS, _wait_for_request_threads
from tests.e2e.main_pages import SIZES, visits, world

pytestmark = pytest.mark.e2e

AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
BLOCKING = ("serious", "critical")


@pytest.fixture
def axe_context(request, browser, live_server):
    """A browser context like the ``page`` fixture's, but with the CSP bypassed so that axe can be injected."""
    size = request.param
    context = browser.browser.new_context(
        base_url=live_server.url,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        viewport=SIZES[size],
        bypass_csp=True,
    )
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    try:
        yield size, context
    finally:
        context.close()
        _wait_for_request_threads()


def axe_violations(page) -> list[dict]:
    """Inject axe-core (once per document) and run it on the whole page; its violations, as axe reports them."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    return page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")


def blocking(violations: list[dict]) -> list[dict]:
    return [v for v in violations if v["impact"] in BLOCKING]


def rules(violations: list[dict]) -> str:
    """The rules a page breaks, with their impact and number of nodes: "  (color-contrast serious ×3)"."""
    if not violations:
        return ""
    return "  (" + ", ".join(f"{v['id']} {v['impact']} ×{len(v['nodes'])}" for v in violations) + ")"


def describe(name: str, path: str, violations: list[dict]) -> str:
    lines = [f"{name} ({path}):"]
    for v in violations:
        lines.append(f"  [{v['impact']}] {v['id']}: {v['help']}")
        for node in v["nodes"][:8]:
            summary = (node.get("failureSummary") or "").replace("\n", " ")[:240]
            lines.append(f"      {json.dumps(node['target'], ensure_ascii=False)}  {summary}")
        if len(v["nodes"]) > 8:
            lines.append(f"      … and {len(v['nodes']) - 8} more nodes")
    return "\n".join(lines)


@pytest.mark.parametrize("axe_context", list(SIZES), indirect=True)
def test_no_serious_or_critical_axe_violations_on_the_main_pages(axe_context, area, personas):
    size, context = axe_context
    w = world(area, personas)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    signed_in = None
    checked: list[tuple[str, str, list[dict], list[dict]]] = []
    for name, username, path in visits(w):
        if username != signed_in:
            context.clear_cookies()
            if username:
                login(page, username)
            signed_in = username
            first_of_persona = True
        else:
            first_of_persona = False
        response = page.goto(path)
        if response is None or not response.ok:
            errors.append(f"{name}: {path} answered {response and response.status}")
            continue
        expect(page.locator("main")).to_be_visible()
        found = axe_violations(page)
        checked.append((name, path, found, blocking(found)))

        toggle = page.get_by_test_id("nav-menu-toggle")
        if size == "phone" and username and first_of_persona and toggle.is_visible():
            toggle.click()
            expect(page.get_by_test_id("nav-menu")).to_be_visible()
            found = axe_violations(page)
            checked.append((f"{name}+菜单", path, found, blocking(found)))

    summary = "\n".join(
        f"  {name:<24} {len(bad):>2} serious/critical, {len(found):>2} in all{rules(found)}"
        for name, _path, found, bad in checked
    )
    print(f"\naxe-core 4.14.1 at {size} {SIZES[size]['width']}×{SIZES[size]['height']}:\n{summary}")
    failing = [describe(name, path, bad) for name, path, _found, bad in checked if bad]
    assert not errors, f"Pages that did not answer, or JavaScript errors: {errors}"
    assert not failing, f"axe-core: serious or critical violations at {size}:\n" + "\n".join(failing)


def test_on_a_phone_the_header_is_one_line_and_the_menu_opens_and_closes_by_keyboard(page, area, personas):
    """Under 768 px: brand, 我的待办 with its count and 菜单 on one line (≤ 60 px); the other links and 退出 are in
    the page but behind 菜单, which Escape closes (focus back on 菜单). From 768 px every link shows, no 菜单."""
    factories.task(factories.plan(area.village_a), item="村文化室", deadline=datetime.date(2017, 8, 31))
    page.set_viewport_size(SIZES["phone"])
    login(page, personas.village_cadre.username)
    nav = page.get_by_role("navigation", name="主导航")
    toggle, menu = page.get_by_test_id("nav-menu-toggle"), page.get_by_test_id("nav-menu")
    expect(page.get_by_test_id("nav-todo-count")).to_have_text("1")
    expect(toggle).to_be_visible()
    expect(menu).to_be_hidden()
    expect(page.get_by_test_id("nav-inbox")).to_have_count(1)
    expect(page.get_by_test_id("nav-inbox")).to_be_hidden()
    expect(page.get_by_role("button", name="退出")).to_be_hidden()
    assert nav.bounding_box()["height"] <= 60

    toggle.click()
    expect(menu).to_be_visible()
    expect(menu.get_by_role("button", name="退出")).to_be_visible()
    page.keyboard.press("Escape")
    expect(menu).to_be_hidden()
    assert page.evaluate("document.activeElement.dataset.testid") == "nav-menu-toggle"
    page.keyboard.press("Enter")
    expect(menu).to_be_visible()
    menu.get_by_role("link", name="贫困户（一户一策）").click()
    expect(page).to_have_url(re.compile(r"/households/$"))
    expect(menu).to_be_hidden()

    page.set_viewport_size(SIZES["desk"])
    expect(toggle).to_be_hidden()
    expect(page.get_by_test_id("nav-inbox")).to_be_visible()
    expect(page.get_by_role("button", name="退出")).to_be_visible()
    assert nav.bounding_box()["height"] <= 60
