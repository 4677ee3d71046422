"""The one shape of every error body the API answers, with no import of DRF: the middlewares and Django's error
handlers (which may load before DRF's views) answer in it too."""

from __future__ import annotations

from django.http import JsonResponse


def error_body(detail, code: str, errors: dict | None = None) -> dict:
    """A Chinese sentence, a machine code, and the messages per field (dotted paths for nested fields,
    ``non_field_errors`` for the rest; ``{}`` when none)."""
    return {"detail": str(detail), "code": code, "errors": errors or {}}


def error_response(detail, code: str, status: int, errors: dict | None = None) -> JsonResponse:
    """:func:`error_body` as a JSON response outside DRF, written as DRF writes it: UTF-8, Chinese as it is."""
    return JsonResponse(error_body(detail, code, errors), status=status, json_dumps_params={"ensure_ascii": False})
