"""A village's history as people read it: who changed the village record (status, figures), its exit indicators
(一低七有) and its assistance forces (五个一), when, from what to what, and why (``bazhou.core.timeline``).

A fixed number of queries however long the history is: one per model."""

from __future__ import annotations

from bazhou.core.timeline import Entry, history_entries, newest_first, records_of
from villages.models import AssistanceAssignment, Village, VillageIndicator

VILLAGE_FIELDS = (
    "name",
    "is_poor",
    "status",
    "identified_year",
    "planned_exit_year",
    "exit_year",
    "registered_households",
    "registered_population",
    "collective_income",
)
INDICATOR_FIELDS = ("met", "evidence", "assessed_on")
ASSIGNMENT_FIELDS = ("role", "person", "unit", "post", "phone", "start_date", "end_date")


def village_timeline(village_id: int) -> list[Entry]:
    """The village record, its indicators and its assignments, the newest first. Three queries."""
    indicator_records = records_of(VillageIndicator.history.filter(village_id=village_id)).select_related("indicator")

    def indicator_label(record):
        found = record.indicator
        return f"{found.year} {found.name}" if found else f"#{record.indicator_id}"

    def assignment_label(record):
        role = AssistanceAssignment.Role(record.role).label if record.role in AssistanceAssignment.Role.values else ""
        return f"{role} {record.person or record.unit}".strip()

    return newest_first(
        history_entries(records_of(Village.history.filter(id=village_id)), model=Village, fields=VILLAGE_FIELDS),
        history_entries(indicator_records, model=VillageIndicator, fields=INDICATOR_FIELDS, label=indicator_label),
        history_entries(
            records_of(AssistanceAssignment.history.filter(village_id=village_id)),
            model=AssistanceAssignment,
            fields=ASSIGNMENT_FIELDS,
            label=assignment_label,
        ),
    )
