"""A record's history as people read it: who, when, what changed from what to what, and why.

Shared by the plan-row and the finding pages; each builds its entries from django-simple-history records.
"""

import datetime
from dataclasses import dataclass, field

from django.db import models

from bazhou.core.templatetags.bazhou import wan


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
        return wan(value)
    if isinstance(value, datetime.date):
        return value.strftime("%Y-%m-%d")
    return str(value)
