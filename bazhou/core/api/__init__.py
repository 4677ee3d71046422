"""The REST API under /api/v1/: the same data, access rules, validation and services as the pages.

The shared pieces live here (authentication by token, permissions, pagination, ETag/If-Match, errors, the
dashboard, schema and docs); each app's serializers, filters and viewsets are in its own ``api.py``.
docs/api.md is the guide for the people who write programs against it.
"""
