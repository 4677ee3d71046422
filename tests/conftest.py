"""Shared fixtures: a small two-township district and the personas who use it."""

import pytest

from bazhou.core.models import Role
from tests import factories

DEMO_TODAY = "2017-09-15"


@pytest.fixture
def pinned_today(settings):
    """The product's today is the demo's, 15 September 2017 (modules opt in with ``usefixtures``)."""
    settings.BAZHOU_TODAY = DEMO_TODAY


@pytest.fixture
def media(settings, tmp_path):
    """Uploaded files go to a temporary folder."""
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Real hashing takes a second per persona; tests check permissions, not the hasher."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def area(db):
    """District 巴州区 with township A (白庙乡) and B (寺岭乡), a poor village in each, a household in each."""

    class Area:
        district = factories.district()
        township_a = factories.township(number=204, name="白庙乡")
        township_b = factories.township(number=212, name="寺岭乡")
        village_a = factories.poor_village(township_a, number=7, name="茅垭村")
        village_a2 = factories.village(township_a, number=8, name="百花村")
        village_b = factories.poor_village(township_b, number=1, name="大寺村")
        household_a = factories.household(village_a)
        household_b = factories.household(village_b)

    return Area


@pytest.fixture
def personas(area):
    """Everyone who signs in: district admin, township A and B staff, village cadre, supervisor, leader."""

    class Personas:
        district_admin = factories.user(Role.DISTRICT_ADMIN, area.district, username="admin")
        township_a = factories.user(Role.TOWNSHIP_STAFF, area.township_a, username="baimiao")
        township_b = factories.user(Role.TOWNSHIP_STAFF, area.township_b, username="siling")
        village_cadre = factories.user(Role.VILLAGE_CADRE, area.village_a, username="maoya")
        supervisor = factories.user(Role.SUPERVISOR, area.district, username="ducha")
        leader = factories.user(Role.LEADER, area.district, username="lingdao")

    return Personas


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter):
    """Say plainly at the end of the run when the browser tests were skipped for want of chromium."""
    from tests.e2e.browser import SKIP_MESSAGE

    skipped = [r for r in terminalreporter.stats.get("skipped", []) if SKIP_MESSAGE in str(r.longrepr)]
    if skipped:
        terminalreporter.write_sep("-", "browser tests / 浏览器测试", yellow=True)
        terminalreporter.write_line(SKIP_MESSAGE, yellow=True, bold=True)
        n = len(skipped)
        terminalreporter.write_line(f"（{n} 个浏览器测试跳过 / {n} browser tests skipped）", yellow=True)
