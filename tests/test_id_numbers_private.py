"""ID numbers (身份证号) never in a URL: no page renders a link, a form target, an htmx address or a redirect
with one in it, for a user who sees ID numbers in full, on the product's pages and in the admin.

The pages are crawled: from the dashboard (and from the admin's index) every same-site link is followed,
each address once, up to a cap, and every address-like attribute of every page is checked.
"""

from __future__ import annotations

import datetime
import re
from collections import deque
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest

from bazhou.core.models import User
from households.forms import ID_SHAPED
from households.models import Member
from supervision import bulletin_services
from tests import factories
from tests.e2e.browser import PASSWORD

pytestmark = pytest.mark.usefixtures("pinned_today")

# Attributes that hold an address the browser may request or show in its address bar.
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "hx-get", "hx-post", "hx-put", "hx-delete", "hx-push-url"}
SKIP = ("/static/", "/media/", "/logout/", "/admin/logout/", "/admin/jsi18n/", "/admin/autocomplete/")


class Addresses(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if value and (name in URL_ATTRIBUTES or (name.startswith("data-") and "url" in name)):
                self.found.append(value)


def addresses(html: str) -> list[str]:
    parser = Addresses()
    parser.feed(html)
    return parser.found


def crawl(client, start: list[str], limit: int, prefix: str = "/") -> tuple[list[str], list[str], int]:
    """Visit same-site pages from ``start`` (GET, each address once, at most ``limit``): the problems found,
    the addresses visited, and how many pages showed an ID number in full (so the check has something to find)."""
    problems, visited, seen, full_numbers = [], [], set(start), 0
    queue = deque(start)
    while queue and len(visited) < limit:
        url = queue.popleft()
        response = client.get(url)
        visited.append(url)
        location = response.get("Location", "")
        if ID_SHAPED.search(location):
            problems.append(f"{url}: redirects to {location}")
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            continue
        html = response.content.decode()
        full_numbers += bool(ID_SHAPED.search(html))
        for address in addresses(html):
            if ID_SHAPED.search(address):
                problems.append(f"{url}: links to {address}")
            target = urljoin(url, address)
            parts = urlsplit(target)
            if parts.scheme or parts.netloc or not parts.path.startswith(prefix) or parts.path.startswith(SKIP):
                continue
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            if target not in seen and not target.endswith(("/xlsx/", "/delete/")):
                seen.add(target)
                queue.append(target)
    return problems, visited, full_numbers


@pytest.fixture
def district(area, personas):
    """The small district with a plan of every kind of row, progress, findings on a household, and a bulletin."""
    plan = factories.plan(area.village_a)
    road = factories.task(plan, item="通村硬化路", responsible_person="吴玉峰")
    factories.task(plan, area.household_a, item="危房改造", category="housing", deadline=datetime.date(2017, 9, 1))
    factories.done_task(plan, item="安全饮用水", category="water")
    factories.rectification(factories.finding(area.household_a, type="housing", description="仍住C级危房"))
    factories.rectification(factories.finding(road))
    factories.income(area.household_a, 2017, wage=9000)
    factories.helper(area.household_a)
    bulletin_services.bulletin_generate(
        user=personas.supervisor,
        today=datetime.date(2017, 9, 15),
        period_start=datetime.date(2017, 9, 1),
        period_end=datetime.date(2017, 9, 30),
    )
    return area


def test_no_page_links_to_an_address_with_an_id_number(client, personas, district):
    client.force_login(personas.district_admin)  # sees ID numbers in full
    problems, visited, full_numbers = crawl(client, ["/"], limit=250)
    assert problems == []
    assert len(visited) > 30
    assert full_numbers, "the crawl never met a page showing an ID number: the check proves nothing"
    for path in ("/households/", f"/households/{district.household_a.pk}/", "/tasks/plans/", "/supervision/findings/"):
        assert any(url.startswith(path) for url in visited), f"the crawl missed {path}"


def test_the_id_number_search_result_links_to_no_address_with_an_id_number(client, personas, district):
    head = Member.objects.get(household=district.household_a, relation=Member.Relation.HEAD)
    client.force_login(personas.district_admin)
    response = client.post("/households/", {"id_number": head.id_number})
    assert response.status_code == 200
    assert [a for a in addresses(response.content.decode()) if ID_SHAPED.search(a)] == []
    problems, _visited, _full = crawl(client, [f"/households/{district.household_a.pk}/"], limit=20)
    assert problems == []


def test_no_admin_page_links_to_an_address_with_an_id_number(client, district):
    root = User.objects.create_superuser(username="root", password=PASSWORD)
    client.force_login(root)
    start = ["/admin/", "/admin/households/member/", "/admin/households/household/"]
    problems, visited, full_numbers = crawl(client, start, limit=120, prefix="/admin/")
    assert problems == []
    assert any(re.match(r"/admin/households/member/\d+/change/", url) for url in visited)
    assert full_numbers  # the superuser's member forms hold ID numbers in full
