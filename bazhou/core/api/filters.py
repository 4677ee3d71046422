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
from rest_framework import filters
from rest_framework.exceptions import ValidationError

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
