"""The real login page in a real browser: a township's staff member signs in, sees their area, signs out."""

import pytest
from playwright.sync_api import expect

from tests.e2e.browser import login, logout

pytestmark = pytest.mark.e2e


def test_township_staff_signs_in_sees_their_area_and_signs_out(page, personas, tmp_path):
    login(page, personas.township_a.username)

    area = page.get_by_test_id("user-area")
    expect(area).to_contain_text("白庙乡")
    expect(area).to_contain_text("乡镇工作人员")
    expect(area).not_to_contain_text("寺岭乡")

    shot = tmp_path / "signed-in.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 0
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    logout(page)
    expect(page.get_by_test_id("user-area")).to_have_count(0)
    # Signed out for real: a page behind the login sends us back to it.
    page.goto("/")
    expect(page).to_have_url("/login/?next=/")


def test_wrong_password_stays_on_the_login_page_with_a_chinese_message(page, personas):
    page.goto("/login/")
    page.locator('input[name="username"]').fill(personas.township_a.username)
    page.locator('input[name="password"]').fill("not-the-password")
    page.get_by_role("button", name="登录").click()

    # the form's own message (the page also holds the hidden alert that shows a failed htmx request)
    expect(page.locator(".alert-danger:not(.htmx-error)")).to_contain_text("密码")
    expect(page).to_have_url("/login/")
    expect(page.get_by_test_id("user-area")).to_have_count(0)
