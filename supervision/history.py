"""Inspections', accountability records' and bulletins' history as people read it (``bazhou.core.timeline``):
who recorded or changed them, when, from what to what, and why. One query per model shown."""

from __future__ import annotations

from bazhou.core.timeline import Entry, history_entries, newest_first, records_of
from supervision.models import Accountability, Bulletin, Inspection

INSPECTION_FIELDS = ("title", "kind", "organiser", "start_date", "end_date", "inspectors", "methods", "summary")
ACCOUNTABILITY_FIELDS = (
    "subject_kind",
    "subject",
    "subject_post",
    "measure",
    "decided_by",
    "decided_on",
    "document_number",
    "note",
)
BULLETIN_FIELDS = ("title", "issuer", "issued_on", "period_start", "period_end", "body", "state", "published_at")


def inspection_timeline(inspection_id: int) -> list[Entry]:
    return newest_first(
        history_entries(
            records_of(Inspection.history.filter(id=inspection_id)), model=Inspection, fields=INSPECTION_FIELDS
        )
    )


def accountability_entries(finding_id: int) -> list[Entry]:
    """The accountability records of a finding (the finding page's timeline adds them)."""
    return history_entries(
        records_of(Accountability.history.filter(finding_id=finding_id)),
        model=Accountability,
        fields=ACCOUNTABILITY_FIELDS,
        label=lambda r: r.subject,
    )


def bulletin_timeline(bulletin_id: int) -> list[Entry]:
    return newest_first(
        history_entries(records_of(Bulletin.history.filter(id=bulletin_id)), model=Bulletin, fields=BULLETIN_FIELDS)
    )
