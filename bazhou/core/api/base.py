"""What every viewset of the API shares: the area scope, lists, ETag on reads and If-Match on writes.

- ``visible()`` is the viewset's rows for the user, always ``Model.objects.visible_to(user)`` (or the access
  function the pages use); retrieve, list and every action start from it, so a row outside the area is a 404.
- Lists are filtered (django-filter), searched, ordered and cut into keyset pages (pagination.py); a viewset
  may ``decorate`` the rows of a page in a fixed number of queries (e.g. household readiness).
- Reads carry an ``ETag``: the row's ``version`` for rows that have one (plan rows, rectifications), otherwise
  a digest of what was sent. Writes to a versioned row need ``If-Match`` with that value: missing → 428,
  unreadable → 400, stale → 412 with the row as it now stands (the services compare it under a row lock).
- Writes share their steps: ``valid_input`` (the request's body through a write serializer: 400), ``to_change``
  (the row, then the role: 404 before 403, then ``If-Match``), ``changed`` (run the service; its ``conflict`` is
  a 412; answer with the row as it now stands) and ``created`` (201 with the new row).
"""

from __future__ import annotations

import hashlib
import json
from contextlib import contextmanager

from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404
from django.shortcuts import get_object_or_404
from rest_framework import viewsets
from rest_framework.exceptions import ParseError
from rest_framework.response import Response

from bazhou.core import clock
from bazhou.core.api.errors import IF_MATCH_INVALID, PreconditionRequired, StaleVersion
from bazhou.core.api.filters import MAX_ID, Filters, Ordering, Search
from bazhou.core.api.permissions import require


def etag_of_data(data) -> str:
    text = json.dumps(data, sort_keys=True, cls=DjangoJSONEncoder, ensure_ascii=False)
    return '"' + hashlib.sha256(text.encode("utf-8")).hexdigest()[:20] + '"'


def etag_of_version(version: int) -> str:
    return f'"{version}"'


def if_match_value(request) -> str:
    """The opaque value of ``If-Match`` (quotes and a weak ``W/`` taken off); 428 if there is none."""
    raw = (request.headers.get("If-Match") or "").strip()
    if not raw:
        raise PreconditionRequired()
    if raw.startswith("W/"):
        raw = raw[2:]
    value = raw.strip('"')
    if not value or "," in value or raw == "*":
        raise ParseError(IF_MATCH_INVALID)
    return value


def expected_version(request) -> int:
    """The version ``If-Match`` names, for the services' ``expected_version``."""
    value = if_match_value(request)
    if not (len(value) <= 18 and value.isascii() and value.isdigit()):  # "²" passes isdigit, not int()
        raise ParseError(IF_MATCH_INVALID)
    return int(value)


class ApiViewSet(viewsets.GenericViewSet):
    """A read-only base: list and retrieve through the user's area. Subclasses add the writes as actions."""

    lookup_value_regex = "[0-9]+"
    filter_backends = [Filters, Search, Ordering]
    ordering_fields: tuple[str, ...] = ("id",)
    ordering: tuple[str, ...] = ("id",)
    search_fields: tuple[str, ...] = ()
    versioned = False  # the rows have a ``version`` column: ETag = version, writes need If-Match
    conflict: type[Exception] | tuple[type[Exception], ...] = ()  # the services' "changed since read" error

    def visible(self):
        raise NotImplementedError

    def get_queryset(self):
        return self.visible()

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "today": clock.today()}

    def get_ordering(self, request, queryset):
        return Ordering().get_ordering(request, queryset, self)

    def get_object(self):
        """The row the URL names, from the user's scope only: list filters (``?status=`` …) do not apply here. An id
        that is no whole number of a 64-bit key (``abc``, 10²³) is a 404 like any other row that is not there."""
        raw = str(self.kwargs[self.lookup_url_kwarg or self.lookup_field])
        if not (raw.isascii() and raw.isdigit() and 0 < int(raw) <= MAX_ID):
            raise Http404
        obj = get_object_or_404(self.get_queryset(), pk=raw)
        self.check_object_permissions(self.request, obj)
        return obj

    def decorate(self, rows: list) -> list:
        """Add to a page of rows what the serializer shows and a bulk query computes (default: nothing)."""
        return rows

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        rows = self.decorate(list(page))
        return self.get_paginated_response(self.get_serializer(rows, many=True).data)

    def retrieve(self, request, *args, **kwargs):
        return self.respond(self.get_object())

    # ETags

    def etag(self, obj, data) -> str:
        return etag_of_version(obj.version) if self.versioned else etag_of_data(data)

    def represent(self, obj, serializer_class=None) -> dict:
        serializer_class = serializer_class or self.get_serializer_class()
        (obj,) = self.decorate([obj])
        return serializer_class(obj, context=self.get_serializer_context()).data

    def respond(self, obj, *, status: int = 200, serializer_class=None) -> Response:
        """``obj`` as the client reads it, with its ETag."""
        data = self.represent(obj, serializer_class)
        return Response(data, status=status, headers={"ETag": self.etag(obj, data)})

    def reread(self, pk):
        """The row again after a write, through the same scope (and the same select_related) as a read."""
        return self.get_queryset().get(pk=pk)

    def stale(self, conflict) -> StaleVersion:
        """A service's conflict (TaskConflict, RectificationConflict) as 412 with the row as it now stands."""
        current = self.reread(conflict.current.pk)
        data = self.represent(current)
        return StaleVersion(
            current=data,
            etag=self.etag(current, data),
            changed_by=getattr(conflict, "changed_by", None),
            changed_at=getattr(conflict, "changed_at", None),
        )

    # Writes

    def valid_input(self, serializer_class, **kwargs):
        """The request's body through ``serializer_class`` (400 with the messages unless valid)."""
        serializer = serializer_class(data=self.request.data, context=self.get_serializer_context(), **kwargs)
        serializer.is_valid(raise_exception=True)
        return serializer

    def if_match(self):
        """What ``If-Match`` names: the version of a versioned row (an int), otherwise the ETag's opaque value."""
        return expected_version(self.request) if self.versioned else if_match_value(self.request)

    def to_change(self, allowed: bool, message: str) -> tuple:
        """The row the URL names and the ``If-Match`` value, for a write: a row outside the area is a 404 before
        a role that may not write (``allowed``) is a 403 with ``message``, and both come before ``If-Match``."""
        obj = self.get_object()
        require(allowed, message)
        return obj, self.if_match()

    @contextmanager
    def guarded(self):
        """The service's ``conflict`` (the row changed since the client read it) as 412 with the row as it stands."""
        try:
            yield
        except self.conflict as conflict:
            raise self.stale(conflict) from None

    def changed(self, obj, service, **arguments) -> Response:
        """Run the write ``service`` as the user and answer with ``obj`` as it now stands (stale: 412)."""
        with self.guarded():
            service(user=self.request.user, **arguments)
        return self.respond(self.reread(obj.pk))

    def created(self, obj) -> Response:
        """201 with the new row as the client reads it."""
        return self.respond(self.reread(obj.pk), status=201)
