"""The health check ``/healthz/`` for the reverse proxy, systemd and monitoring: is this app server able to
answer, and does its database? It also says whether a background worker is alive (``/healthz/worker/`` answers
503 when none is). No login, no session, no cookie; plain HTTP is not redirected to HTTPS
(``SECURE_REDIRECT_EXEMPT``), so a check on 127.0.0.1 works behind the proxy too.
"""

from __future__ import annotations

import logging

from django.db import DatabaseError, connection, transaction
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from bazhou.core import jobs

logger = logging.getLogger(__name__)


@never_cache
@require_GET
@transaction.non_atomic_requests  # with ATOMIC_REQUESTS a dead database would fail before the view could say so
def healthz(request):
    """200 ``{"status": "ok"}`` when the database answers ``SELECT 1``; 503 otherwise (the cause is logged)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        logger.exception("health check: the database does not answer")
        return JsonResponse({"status": "error", "database": "unavailable"}, status=503)
    # The app server answers even when the background workers stopped (it is not taken out of the proxy for
    # that): "worker" says so, and /healthz/worker/ answers 503 for the monitoring that watches the workers.
    return JsonResponse({"status": "ok", "database": "ok", "worker": _workers()})


def _workers() -> dict:
    try:
        return jobs.worker_health()
    except DatabaseError:
        logger.exception("health check: the job tables do not answer")
        return {"status": "unknown"}


@never_cache
@require_GET
@transaction.non_atomic_requests
def healthz_worker(request):
    """200 when a background worker has been seen within ``BAZHOU_JOB_STALE_SECONDS``; 503 ``"stopped"`` otherwise,
    with how many jobs wait and for how long."""
    workers = _workers()
    return JsonResponse(workers, status=200 if workers.get("status") == "ok" else 503)
