"""A record's history as people read it: who, when, what changed from what to what, and why.

Shared by the plan-row and the finding pages; each builds its entries from django-simple-history records.
"""

import datetime
from dataclasses import dataclass, field

from django.db import models

from bazhou.core.templatetags.bazhou import wan_exact


@dataclass
class Change:
    field: str
    label: str
    before: str
    after: str


@dataclass
class Entry:
    kind: str
    when: datetime.datetime
    who: object
    title: str
    changes: list[Change] = field(default_factory=list)
    reason: str = ""
    update: object = None


def field_label(model, name: str) -> str:
    return str(model._meta.get_field(name).verbose_name)


def display_value(model, name: str, value, related: dict | None = None) -> str:
    """A field's value as a person reads it: choice labels, 万元 amounts, dates, 是/否.

    A foreign key's raw id is looked up in ``related`` (id → object) when given.
    """
    if value is None or value == "":
        return "–"
    model_field = model._meta.get_field(name)
    if isinstance(model_field, models.ForeignKey):
        if hasattr(value, "pk"):
            return str(value)
        found = (related or {}).get(value)
        return str(found) if found else f"#{value}"
    if model_field.choices:
        return str(dict(model_field.flatchoices).get(value, value))
    if isinstance(model_field, models.BooleanField):
        return "是" if value else "否"
    if isinstance(model_field, models.DecimalField):
        return wan_exact(value)
    if isinstance(value, datetime.date):
        return value.strftime("%Y-%m-%d")
    return str(value)


# ---------------------------------------------------------------------------------------------
# Any record's history: entries from its django-simple-history records
# ---------------------------------------------------------------------------------------------

VERBS = {"+": "新增", "~": "修改", "-": "删除"}


def history_entries(
    records,
    *,
    model,
    fields: tuple[str, ...],
    label=None,
    related: dict | None = None,
    shown=None,
    kind: str | None = None,
) -> list[Entry]:
    """Who changed what, when and why, from the history ``records`` of one or more rows of ``model``.

    ``records`` are read oldest first (they may mix several rows: a household's incomes); each record is compared
    with the previous record *of the same row*. A first record shows every field that has a value (– → value);
    a change shows the ``fields`` that differ (before → after), and a record that changed none of them (only a
    version) is left out. ``label(record)`` names the row in the title ("2017年"), ``related`` maps a foreign key's
    id to the object it shows, ``shown(field, value)`` may replace a value's display (a masked ID number).
    No queries beyond reading ``records`` (select their ``history_user``)."""
    kind = kind or model._meta.model_name
    name = str(model._meta.verbose_name)
    attnames = {f: model._meta.get_field(f).attname for f in fields}

    def show(field, value):
        if shown is not None:
            replaced = shown(field, value)
            if replaced is not None:
                return replaced
        return display_value(model, field, value, related)

    entries = []
    last: dict = {}
    for record in records:
        values = {f: getattr(record, attnames[f]) for f in fields}
        before = last.get(record.id)
        if record.history_type == "-":
            changes = [
                Change(f, field_label(model, f), show(f, v), "–") for f, v in values.items() if v not in (None, "", [])
            ]
        elif before is None:
            changes = [
                Change(f, field_label(model, f), "–", show(f, v)) for f, v in values.items() if v not in (None, "", [])
            ]
        else:
            changes = [
                Change(f, field_label(model, f), show(f, before[f]), show(f, v))
                for f, v in values.items()
                if v != before[f]
            ]
            if not changes:
                last[record.id] = values
                continue
        last[record.id] = values
        verb = VERBS.get(record.history_type, "修改")
        if before is None and record.history_type == "~":
            verb = "记录"
        title = f"{verb}{name}" + (f"：{label(record)}" if label else "")
        reason = record.history_change_reason or ""
        entries.append(Entry(kind, record.history_date, record.history_user, title, changes, reason))
    return entries


def newest_first(*groups: list[Entry]) -> list[Entry]:
    """Several rows' entries as one timeline, the newest first."""
    return sorted((e for g in groups for e in g), key=lambda e: e.when, reverse=True)


def records_of(history_queryset):
    """A model's history records, oldest first, with who made them (one query)."""
    return history_queryset.select_related("history_user").order_by("history_date", "history_id")
