"""The household list pages through the registry without a full COUNT(*) (issue 19): an exact count for a short
list, the planner's estimate ("约 N 户") or a lower bound ("超过 N 户") for a long one, the exact count on demand
(``?count=exact``), page numbers clamped, and the same queries whatever the size of the registry."""

import re

import pytest

from bazhou.core import pages
from households.models import Household
from tests import factories

LIST = "/households/"

pytestmark = pytest.mark.usefixtures("pinned_today")


def count_line(response) -> str:
    page = response.content.decode()
    found = re.search(r'data-testid="household-count">(.*?)</p>', page, re.S).group(1)
    return " ".join(re.sub(r"<[^>]+>", " ", found).split())


def numbers(response) -> list[str]:
    return [h.number for h in response.context["page_obj"]]


@pytest.fixture
def registry(area):
    """Sixty more households in 茅垭村 (62 in the district): two pages of 50."""
    for _ in range(60):
        factories.household(area.village_a, members=1)
    return Household.objects.order_by("number").values_list("number", flat=True)


def test_a_short_list_is_counted_exactly(client, personas, area):
    client.force_login(personas.district_admin)
    response = client.get(LIST)
    assert count_line(response).startswith("共 2 户；")
    assert 'data-testid="exact-count"' not in response.content.decode()


def test_a_long_list_shows_the_estimate_and_counts_exactly_on_demand(client, personas, registry, monkeypatch):
    monkeypatch.setattr(pages, "EXACT_COUNT_UP_TO", 10)
    monkeypatch.setattr(pages, "estimated_count", lambda queryset: 61_234)  # what PostgreSQL's EXPLAIN would say
    client.force_login(personas.district_admin)
    response = client.get(LIST, {"status": "planned"})
    assert count_line(response) == "约 61,200 户（估算） 精确计数 ；脱贫条件（一超六有）按 2017 年计。"
    assert 'href="?status=planned&amp;count=exact"' in response.content.decode()
    assert response.context["page_obj"].paginator.count == 62  # code that asks gets the exact number

    exact = client.get(LIST, {"status": "planned", "count": "exact"})
    assert count_line(exact).startswith("共 62 户；")
    assert "第 1 / 2 页，第 1–50 户" in exact.content.decode()


def test_a_search_beyond_the_bound_says_more_than(client, personas, registry, monkeypatch):
    monkeypatch.setattr(pages, "EXACT_COUNT_UP_TO", 10)
    client.force_login(personas.district_admin)
    response = client.get(LIST, {"q": "511902"})  # every household number: the planner cannot estimate a search
    assert count_line(response).startswith("超过 10 户 精确计数 ；")
    assert len(response.context["page_obj"]) == 50


def test_pages_go_forward_and_back_keeping_the_filters(client, personas, registry):
    client.force_login(personas.district_admin)
    first = client.get(LIST, {"village": personas.village_cadre.village_id})
    assert numbers(first) == list(registry)[:50]
    page = first.content.decode()
    assert "下一页" in page and "上一页" not in page
    assert f"?village={personas.village_cadre.village_id}&page=2" in page  # the filter is kept

    second = client.get(LIST, {"page": "2"})
    assert numbers(second) == list(registry)[50:]
    assert "上一页" in second.content.decode() and "下一页" not in second.content.decode()
    assert "第 2 / 2 页，第 51–62 户" in second.content.decode()


@pytest.mark.parametrize("value", ["abc", "-3", "0", "²", "1.5", "", " "])
def test_a_page_that_is_not_a_number_is_the_first(client, personas, registry, value):
    client.force_login(personas.district_admin)
    response = client.get(LIST, {"page": value})
    assert response.status_code == 200
    assert response.context["page_obj"].number == 1


@pytest.mark.parametrize("value", ["3", "99999", "99999999999999999999999"])
def test_a_page_past_the_end_is_the_last(client, personas, registry, value):
    client.force_login(personas.district_admin)
    response = client.get(LIST, {"page": value})
    assert response.status_code == 200
    assert response.context["page_obj"].number == 2
    assert numbers(response) == list(registry)[50:]


def test_the_page_parameter_is_clamped():
    assert [pages.page_param(v) for v in (None, "", "x", "-1", "0", "7", "0007", "1" * 30)] == [
        1,
        1,
        1,
        1,
        1,
        7,
        7,
        pages.PAGE_MAX,
    ]


def test_masking_and_the_export_link_stay(client, personas, area):
    head = area.household_a.members.get(relation="head")
    client.force_login(personas.supervisor)
    page = client.get(LIST).content.decode()
    assert head.id_number not in page and head.id_number[-4:] in page
    assert 'data-testid="register-xlsx"' in page


# Query counts: the same for a registry ten times larger, below and beyond the exact-count bound ------------------


def list_queries(bound_exceeded: bool) -> int:
    # savepoint, session, user; the villages and the chosen township (the filter's options, its validation); the
    # page of households (one row more than it shows) with village, township, head and member counts; the count
    # over at most EXACT_COUNT_UP_TO + 1 rows; beyond it, the planner's estimate (PostgreSQL EXPLAIN) or, on
    # SQLite, the exact count; readiness: the page's active members, their incomes, the poverty line; the user's
    # district, the townships (navigation, options); the navigation's 变更审批, 我的待办 and 消息 (the data having
    # changed: the data versions with the stored numbers, the numbers counted in one query, stored); release.
    return 16 + bound_exceeded


@pytest.mark.parametrize("bound", [1000, 5], ids=["exact", "estimated"])
def test_the_list_makes_the_same_queries_for_ten_times_the_households(
    client, personas, area, django_assert_num_queries, monkeypatch, bound
):
    monkeypatch.setattr(pages, "EXACT_COUNT_UP_TO", bound)
    factories.poverty_line()
    factories.populate(area.township_a, villages=1, households=6)
    client.force_login(personas.district_admin)
    params = {"township": area.township_a.pk}
    with django_assert_num_queries(list_queries(bound == 5)):
        small = client.get(LIST, params)
    factories.populate(area.township_a, villages=6, households=10)
    with django_assert_num_queries(list_queries(bound == 5)):
        large = client.get(LIST, params)
    assert len(small.context["page_obj"]) == 7 and len(large.context["page_obj"]) == 50
    assert large.context["page_obj"].has_next
    assert large.context["page_obj"].paginator.count == 67
