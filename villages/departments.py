"""Recognising a sector department (行业部门) in a free-text responsible unit ("区交通局", "巴州区交通运输局 ", …).

One home for the rule, used by the migration that linked the older rows, the plan imports, the plan forms and
``manage.py link_departments``: a unit names a department when, once normalised (spaces removed, the district's
name and a leading "巴中市" dropped), it equals the department's name or one of its aliases, normalised the same way.
A unit that matches nothing keeps its text and no department (township governments, village committees, banks).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_SPACES = re.compile(r"\s+")

# What a district-level department's name looks like, for creating departments from older free text: "区…局",
# "区…分局", "区委…部", "区…委员会", "区…办公室". Township governments, courts, banks and companies are not.
DEPARTMENT_NAME = re.compile(r"^区.+(局|分局|委员会|办公室|办)$|^区委.+部$")


def normalise(text: str, district_name: str = "") -> str:
    """The unit as compared: no spaces, without "巴中市" or the district's own name in front
    ("巴州区水务局" → "区水务局")."""
    text = _SPACES.sub("", text or "")
    for prefix in ("巴中市",):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    if district_name and district_name.endswith("区") and text.startswith(district_name):
        text = "区" + text[len(district_name) :]
    return text


def looks_like_department(text: str, district_name: str = "") -> bool:
    """Whether a free-text unit reads like a district department's name (see :data:`DEPARTMENT_NAME`)."""
    return bool(DEPARTMENT_NAME.match(normalise(text, district_name)))


def index(departments: Iterable, district_name: str = "") -> dict[str, object]:
    """name/alias (normalised) → department, for :func:`match`; the name wins over another's alias."""
    found: dict[str, object] = {}
    departments = list(departments)
    for department in departments:
        for alias in department.alias_list():
            found.setdefault(normalise(alias, district_name), department)
    for department in departments:
        found[normalise(department.name, district_name)] = department
    return found


def match(known: dict[str, object], text: str, district_name: str = ""):
    """The department ``text`` names, from an :func:`index`; None if it names none."""
    key = normalise(text, district_name)
    return known.get(key) if key else None
