"""What every list and detail page shares: column labels from verbose names, pagination, the htmx fragment switch,
and the one parser of a ``?year=`` value."""

from django.core.exceptions import SuspiciousOperation
from django.core.paginator import Paginator
from django.shortcuts import render
from django.utils.cache import patch_vary_headers

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
