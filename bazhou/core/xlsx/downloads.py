"""A workbook handed out as a download, always written to the export log."""

from __future__ import annotations

from django.http import FileResponse

from bazhou.core.exportlog import record_export
from bazhou.core.xlsx.writer import XLSX_CONTENT_TYPE


def xlsx_response(file, name: str) -> FileResponse:
    return FileResponse(file, as_attachment=True, filename=name, content_type=XLSX_CONTENT_TYPE)


def xlsx_download(request, file, name: str, **log) -> FileResponse:
    """``file`` as the attachment ``name``, written to the export log (``log``: :func:`record_export`'s keywords)."""
    record_export(request.user, request=request, **log)
    return xlsx_response(file, name)
