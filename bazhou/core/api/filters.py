"""Ordering and search for every list, and the rule that an ID number never travels in a URL.

Each viewset names its ``ordering_fields`` (non-null columns, see pagination.py) and its default ``ordering``;
``?ordering=-deadline,id`` picks others, and an unknown field is a 400 in Chinese rather than silently ignored.
``?search=`` looks in the fields a viewset names in ``search_fields`` (or in its filter set's ``search``).

ID numbers (身份证号) are personal data and must never appear in a URL, where proxies and access logs keep
them: a search term that looks like one is refused with 400 (the lookup by ID number is a POST endpoint,
``/api/v1/households/lookup/``).
"""

from __future__ import annotations

import re

import django_filters
from django import forms
from django.db import models
from django_filters.filterset import FILTER_FOR_DBFIELD_DEFAULTS
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import filters
from rest_framework.exceptions import ValidationError

from bazhou.core.text import has_illegal, illegal_message

# 15 or 18 characters, digits with an optional final X: the two generations of citizen ID numbers.
ID_NUMBER_LIKE = re.compile(r"\d{14}[\dXx]|\d{17}[\dXx]")
ID_NUMBER_IN_URL = "身份证号不能放在网址中。按身份证号查询请用 POST /api/v1/households/lookup/，把号码放在请求体里。"
UNKNOWN_ORDERING = "不能按“{name}”排序。可用的排序字段：{fields}（前加 - 为倒序）。"


def refuse_id_numbers(params, names=("search",)) -> None:
    """400 if any of the query parameters ``names`` holds something that looks like an ID number."""
    for name in names:
        for value in params.getlist(name):
            if any(ID_NUMBER_LIKE.fullmatch(term) for term in re.split(r"[\s,]+", value.strip()) if term):
                raise ValidationError({name: [ID_NUMBER_IN_URL]})


class Search(filters.SearchFilter):
    """DRF's search, minus ID numbers in the URL."""

    def filter_queryset(self, request, queryset, view):
        refuse_id_numbers(request.query_params, (self.search_param,))
        return super().filter_queryset(request, queryset, view)


class Ordering(filters.OrderingFilter):
    """``?ordering=a,-b`` over the view's ``ordering_fields``; anything else is a 400 naming what is allowed."""

    def get_ordering(self, request, queryset, view):
        raw = request.query_params.get(self.ordering_param)
        if not raw:
            return self.get_default_ordering(view)
        allowed = list(view.ordering_fields)
        ordering = []
        for term in (t.strip() for t in raw.split(",")):
            if not term:
                continue
            name = term[1:] if term.startswith("-") else term  # one "-" (descending), no more: "--id" is no field
            if name not in allowed:
                raise ValidationError(
                    {self.ordering_param: [UNKNOWN_ORDERING.format(name=name, fields="、".join(allowed))]}
                )
            ordering.append(term)
        return ordering or self.get_default_ordering(view)


MAX_ID = 2**63 - 1
ID_ERRORS = {
    "invalid": "应为记录的编号（正整数）。",
    "min_value": "应为记录的编号（正整数）。",
    "max_value": "编号过大，没有这样的记录。",
}


class IdFilter(django_filters.NumberFilter):
    """``?village=<id>`` and the like: a whole number from 1 to the largest 64-bit key, else a 400 in Chinese
    (``²``, ``1.5`` and 2⁶⁴ never reach the database, where SQLite would raise OverflowError)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        kwargs.setdefault("error_messages", ID_ERRORS)
        super().__init__(*args, **kwargs)


MAX_INT = 2**63 - 1
INT_ERRORS = {
    "invalid": "应为整数。",
    "min_value": "不能小于 %(limit_value)s。",
    "max_value": "不能大于 %(limit_value)s。",
}
BOOL_INVALID = "应为 true 或 false。"
TRUE, FALSE = ("true", "True", "1"), ("false", "False", "0")


class IntegerFilter(django_filters.NumberFilter):
    """A whole number within bounds (by default those of a 64-bit column), else a 400 in Chinese: ``1.5``, ``²``,
    ``abc`` and 2⁶⁴ never reach the database."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", -MAX_INT)
        kwargs.setdefault("max_value", MAX_INT)
        kwargs.setdefault("error_messages", INT_ERRORS)
        super().__init__(*args, **kwargs)


class StrictBooleanField(forms.Field):
    """``true``/``false`` (or ``1``/``0``); empty is "not filtered"; anything else (``maybe``, ``-1``) a 400."""

    def to_python(self, value):
        if value in (None, ""):
            return None
        if value in TRUE:
            return True
        if value in FALSE:
            return False
        raise forms.ValidationError(BOOL_INVALID, code="invalid")

    def validate(self, value):
        pass


class BooleanFilter(django_filters.BooleanFilter):
    """django-filter's BooleanFilter silently ignores ``?overdue=maybe``; this one answers 400 naming the parameter."""

    field_class = StrictBooleanField


class FilterSet(django_filters.FilterSet):
    """Every list's filter set: the filters django-filter makes from ``Meta.fields`` parse with bounds too — a
    foreign key is an :class:`IdFilter` (an id outside the user's area and one that does not exist both give an
    empty list, never a 400 that tells them apart), a boolean a strict :class:`BooleanFilter`, an integer a
    bounded :class:`IntegerFilter`. Choices stay django-filter's ChoiceFilter (an unknown value is a 400)."""

    FILTER_DEFAULTS = {
        **FILTER_FOR_DBFIELD_DEFAULTS,
        models.BooleanField: {"filter_class": BooleanFilter},
        models.IntegerField: {"filter_class": IntegerFilter},
        models.SmallIntegerField: {"filter_class": IntegerFilter},
        models.PositiveIntegerField: {"filter_class": IntegerFilter, "extra": lambda f: {"min_value": 0}},
        models.PositiveSmallIntegerField: {"filter_class": IntegerFilter, "extra": lambda f: {"min_value": 0}},
        models.BigIntegerField: {"filter_class": IntegerFilter},
        models.AutoField: {"filter_class": IdFilter},
        models.BigAutoField: {"filter_class": IdFilter},
    }

    @classmethod
    def filter_for_lookup(cls, field, lookup_type):
        target = getattr(field, "target_field", None)
        if field.is_relation and lookup_type == "exact" and isinstance(target, models.AutoField | models.IntegerField):
            return IdFilter, {}
        return super().filter_for_lookup(field, lookup_type)


# Query parameters that are no filter's: the keyset pagination's, the ordering's and the search's.
NOT_FILTERS = frozenset({"cursor", "page_size", "ordering", "search"})


class Filters(DjangoFilterBackend):
    """django-filter's backend, refusing first (400, naming the parameter) a query parameter holding a character no
    text may hold (NUL would otherwise reach PostgreSQL, which refuses it with an error: a 500).

    A filter set that says what its rows are when no filter is given (a classmethod ``unfiltered(queryset)``) is not
    built at all for a request with no filter parameter: building it (deep copies of every filter, a form) was a
    tenth of a plain page of the plan-row list (issue 19)."""

    def filter_queryset(self, request, queryset, view):
        refuse_illegal(request.query_params)
        filterset_class = self.get_filterset_class(view, queryset)
        unfiltered = getattr(filterset_class, "unfiltered", None)
        if (
            unfiltered is not None
            and NOT_FILTERS.issuperset(request.query_params.keys())
            and NOT_FILTERS.isdisjoint(filterset_class.base_filters)  # a filter named "search" is a filter
        ):
            return unfiltered(queryset)
        return super().filter_queryset(request, queryset, view)


def refuse_illegal(params) -> None:
    for name, values in params.lists():
        if has_illegal(name):
            raise ValidationError({"non_field_errors": ["参数名" + illegal_message(name)]})
        for value in values:
            if has_illegal(value):
                raise ValidationError({name: [illegal_message(value)]})
