"""The export log (导出记录): every export of the plan table or of personal data is written here.

Call :func:`record_export` from every page and API endpoint that hands out a file or the one table, inside
the request (its transaction), after the access checks and before the response is returned.
"""

from __future__ import annotations

from bazhou.core.models import ExportLog
from bazhou.core.security import client_ip


def client_address(request) -> str | None:
    """The client's address, as the login throttle judges it (the trusted proxy's X-Forwarded-For, else REMOTE_ADDR)."""
    if request is None:
        return None
    return client_ip(request) or None


def record_export(
    user,
    *,
    kind: str,
    area: str,
    rows: int = 0,
    personal: bool = False,
    unmasked: bool = False,
    fmt: str = "xlsx",
    via: str = "page",
    request=None,
    remote_addr: str | None = None,
) -> ExportLog:
    """Write one line of the export log: who (``user``), what (``kind``, ``fmt``), of which ``area``, how many rows.

    ``personal``: the file holds personal data (names, phones, ID numbers); ``unmasked``: ID numbers in full.
    A background job passes the ``remote_addr`` of the request that started it instead of the request.
    """
    return ExportLog.objects.create(
        user=user if getattr(user, "pk", None) else None,
        username=getattr(user, "username", "") or "",
        kind=kind,
        fmt=fmt,
        area=area[:200],
        rows=rows,
        personal=personal,
        unmasked=unmasked,
        via=via,
        remote_addr=client_address(request) if request is not None else remote_addr,
    )
