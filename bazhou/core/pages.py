"""What every list and detail page shares: column labels from verbose names, pagination, the htmx fragment switch,
and the one parser of a ``?year=`` value."""

import json
from functools import cache

from django.core.exceptions import SuspiciousOperation
from django.core.paginator import Paginator
from django.db import connections
from django.shortcuts import render
from django.urls import get_script_prefix, reverse
from django.utils.cache import patch_vary_headers
from django.utils.translation import get_language

PAGE_SIZE = 50


def labels(model) -> dict[str, str]:
    """Column headings from the model's verbose names, so pages and the admin say the same thing."""
    return {f.name: f.verbose_name for f in model._meta.get_fields() if hasattr(f, "verbose_name")}


def page_of(request, queryset):
    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


def querystring_without_page(request) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


def render_list(request, template: str, fragment: str, context: dict):
    """The whole list page, or only its results for an htmx filter request (a history restore needs the
    whole page). The answer varies with HX-Request, so a cache never serves one for the other."""
    htmx = request.headers.get("HX-Request") and not request.headers.get("HX-History-Restore-Request")
    response = render(request, fragment if htmx else template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def id_param(value) -> int | None:
    """A record id from the query string (``?village=``, ``?department=``): ASCII digits only (``str.isdigit``
    accepts "²", which ``int`` refuses), 1 to 18 digits so it fits a 64-bit key; None for anything else."""
    if not isinstance(value, str) or not (value.isascii() and value.isdigit() and 1 <= len(value) <= 18):
        return None
    number = int(value)
    return number if number >= 1 else None


# The years a ``?year=`` may name: any plan year the product can hold (the models' YEAR_VALIDATORS say the same).
YEAR_MIN, YEAR_MAX = 2000, 2100


def year_param(value) -> int | None:
    """A year from the query string: 4 ASCII digits between :data:`YEAR_MIN` and :data:`YEAR_MAX`; None otherwise."""
    if not isinstance(value, str | int) or isinstance(value, bool):
        return None
    text = str(value).strip()
    if not (text.isascii() and text.isdigit() and len(text) == 4):
        return None
    year = int(text)
    return year if YEAR_MIN <= year <= YEAR_MAX else None


class BadParameter(SuspiciousOperation):
    """A query parameter that cannot be read: answered 400 with its message (bazhou/surfaces/errors.py), in the
    API's error shape under /api/."""

    def __init__(self, param: str, message: str):
        super().__init__(message)
        self.param = param
        self.message = message


def chosen_year(request, default: int, name: str = "year") -> int:
    """The plan year a page, export or API answer shows: ``?year=`` when given, else ``default`` (the current year).
    A year that is not one (``?year=abc``, ``?year=99999``) is a 400 naming the parameter, never a 500 or a silent
    fallback to another year's figures."""
    value = request.GET.get(name)
    if value in (None, ""):
        return default
    year = year_param(value)
    if year is None:
        raise BadParameter(name, f"“{name}”应为 {YEAR_MIN}–{YEAR_MAX} 之间的四位年份。")
    return year


# --- Lists that grow with the data: a page without a full COUNT (issue 19) -----------------------------------------

# Up to this many rows a list counts them exactly (a COUNT over at most this many rows: cheap); beyond, it shows the
# database's estimate ("约 N 户") and counts exactly only when asked (``?count=exact``).
EXACT_COUNT_UP_TO = 2000
# The highest page a ``?page=`` may name: beyond it a list is searched or filtered, not paged through.
PAGE_MAX = 100_000


def page_param(value) -> int:
    """A page number from the query string, clamped: 1 for anything that is not one (``?page=abc``, ``?page=-1``,
    ``?page=²``), :data:`PAGE_MAX` for a larger one, so a made-up address never reaches the database as an OFFSET
    it cannot hold."""
    text = value.strip() if isinstance(value, str) else ""
    if not (text.isascii() and text.isdigit()):
        return 1
    return max(1, min(int(text) if len(text) <= 7 else PAGE_MAX, PAGE_MAX))


def estimated_count(queryset) -> int | None:
    """The planner's estimate of how many rows ``queryset`` yields (PostgreSQL ``EXPLAIN``: one query, no rows
    read); None where the database gives none (SQLite)."""
    if connections[queryset.db].vendor != "postgresql":
        return None
    plan = json.loads(queryset.order_by().values("pk").explain(format="json"))
    return int(plan[0]["Plan"]["Plan Rows"])


def round_estimate(n: int) -> int:
    """An estimate to three significant figures (219,847 → 220,000): it does not pretend to be exact."""
    if n < 1000:
        return n
    magnitude = 10 ** (len(str(n)) - 3)
    return round(n / magnitude) * magnitude


class _ExactCount:
    """The ``paginator`` of a :class:`CountedPage` for code that asks for ``page_obj.paginator.count``: the exact
    count, counted (one COUNT) only when asked; the page's template shows ``page_obj.count`` instead."""

    def __init__(self, page: "CountedPage", queryset):
        self._page, self._queryset = page, queryset

    @property
    def count(self) -> int:
        if not self._page.count_is_exact:
            self._page.count, self._page.count_is_exact = self._queryset.count(), True
        return self._page.count

    @property
    def num_pages(self) -> int:
        return max(1, -(-self.count // self._page.size))


class CountedPage:
    """One page of a list that may hold hundreds of thousands of rows, read without a full ``COUNT(*)``.

    The page is read with one row more than it shows (so it knows whether there is a next page); the rows are
    counted over at most :data:`EXACT_COUNT_UP_TO` + 1 rows (so a village's or a filtered list says exactly
    "共 N 户"); beyond that the count is the planner's estimate (``count_is_exact`` False: "约 N 户") unless the user
    asked for the exact one (``?count=exact``). Queries: the page, the bounded count, and the estimate when the
    list is longer than that — the same whatever the size of the list.
    """

    def __init__(self, rows: list, *, number: int, size: int, has_next: bool, count: int, exact: bool, queryset):
        self.object_list = rows
        self.number = number
        self.size = size
        self.has_next = has_next
        self.has_previous = number > 1
        self.count = count
        self.count_is_exact = exact
        self.count_is_lower_bound = False  # "more than ``count``" (the list was counted only that far)
        self.paginator = _ExactCount(self, queryset)

    def __iter__(self):
        return iter(self.object_list)

    def __len__(self) -> int:
        return len(self.object_list)

    def next_page_number(self) -> int:
        return self.number + 1

    def previous_page_number(self) -> int:
        return self.number - 1

    def start_index(self) -> int:
        return (self.number - 1) * self.size + 1 if self.object_list else 0

    def end_index(self) -> int:
        return (self.number - 1) * self.size + len(self.object_list)

    @property
    def num_pages(self) -> int | None:
        """The number of pages when the count is exact; None when it is an estimate."""
        return max(1, -(-self.count // self.size)) if self.count_is_exact else None

    @property
    def shown_count(self) -> str:
        """The count as the page shows it: exact, or the estimate to three significant figures (220,000)."""
        if self.count_is_exact:
            return str(self.count)
        return f"{self.count:,}" if self.count_is_lower_bound else f"{round_estimate(self.count):,}"


def counted_page(
    request, queryset, *, size: int = PAGE_SIZE, up_to: int | None = None, estimate: bool = True
) -> CountedPage:
    """The page ``?page=`` (clamped, :func:`page_param`) of ``queryset`` as a :class:`CountedPage`; ``?count=exact``
    counts the whole list. A page past the end shows the last page, as ``Paginator.get_page`` does.

    ``estimate=False`` where the planner cannot estimate the filters well (a search, a subquery filter): beyond
    ``up_to`` the page then says only "more than ``up_to``" (``count_is_lower_bound``), which is true."""
    up_to = EXACT_COUNT_UP_TO if up_to is None else up_to
    number = page_param(request.GET.get("page"))
    want_exact = request.GET.get("count") == "exact"
    offset = (number - 1) * size
    rows = list(queryset[offset : offset + size + 1])
    if not rows and number > 1:
        # Past the end (an old link after a filter changed): the last page, counted exactly (this case only).
        total = queryset.count()
        number = max(1, -(-total // size))
        offset = (number - 1) * size
        rows = list(queryset[offset : offset + size + 1])
        return CountedPage(
            rows[:size], number=number, size=size, has_next=False, count=total, exact=True, queryset=queryset
        )
    has_next = len(rows) > size
    if want_exact:
        count, exact = queryset.count(), True
    else:
        count = queryset.order_by().values("pk")[: up_to + 1].count()
        exact = count <= up_to
        if not exact:
            guess = estimated_count(queryset) if estimate else None
            if estimate and guess is None:
                count, exact = queryset.count(), True  # SQLite: no estimate; its lists are small
            elif guess is None:
                count = up_to
            else:
                count = max(guess, up_to + 1, offset + len(rows))
    page = CountedPage(
        rows[:size], number=number, size=size, has_next=has_next, count=count, exact=exact, queryset=queryset
    )
    page.count_is_lower_bound = not exact and not estimate
    return page


# --- Labels and links resolved once per list, not once per row ---------------------------------------------------


@cache
def _choice_labels(model, field: str, language: str | None) -> dict[str, str]:
    return {str(k): str(v) for k, v in model._meta.get_field(field).flatchoices}


def choice_labels(model, field: str) -> dict[str, str]:
    """A choices field's labels as plain ``str``, resolved once per language: ``get_FOO_display`` hashes and
    translates every lazy label of the field on every call (40 % of the household list's rendering at 10×)."""
    return _choice_labels(model, field, get_language())


@cache
def _id_pattern(name: str, script_prefix: str) -> tuple[str, str]:
    head, _, tail = reverse(name, args=[987654321]).partition("987654321")
    return head, tail


def id_url(name: str, pk) -> str:
    """``reverse(name, args=[pk])`` for a URL whose one argument is a record id, the pattern resolved once."""
    head, tail = _id_pattern(name, get_script_prefix())
    return f"{head}{pk}{tail}"
