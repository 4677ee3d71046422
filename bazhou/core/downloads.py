"""How an uploaded evidence file (佐证材料) is sent back: never as a page that could run in the site's origin.

A PDF may carry JavaScript (``/OpenAction /JavaScript``) that a browser's viewer runs when shown inline; HTML or SVG
would run as a page of the site. So every evidence file is sent with

- ``Content-Disposition: attachment`` (saved, not opened in the tab), except photos a browser only draws
  (INLINE_TYPES: JPEG, PNG, WebP, GIF), which may be looked at in the tab;
- ``Content-Security-Policy: sandbox`` (no script, no forms, a unique origin even if it were opened), replacing the
  site's own policy for that response;
- ``X-Content-Type-Options: nosniff`` (the browser keeps the declared type);

and, like every answer of the application, ``Cache-Control: private, no-store`` (bazhou/core/nostore.py).
"""

from __future__ import annotations

from django.http import FileResponse

INLINE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif"})
SANDBOX_POLICY = "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'"


def evidence_response(handle, evidence) -> FileResponse:
    """``handle`` (the opened file of ``evidence``) as a download; ``evidence`` has ``content_type`` and
    ``original_name``."""
    content_type = (evidence.content_type or "").split(";")[0].strip().lower()
    inline = content_type in INLINE_TYPES
    response = FileResponse(
        handle,
        content_type=content_type if inline else (content_type or "application/octet-stream"),
        as_attachment=not inline,
        filename=evidence.original_name,
    )
    response["Content-Security-Policy"] = SANDBOX_POLICY
    response["X-Content-Type-Options"] = "nosniff"
    return response
