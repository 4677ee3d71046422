"""Who may read and change which rows: decided here and nowhere else.

Every model that belongs to an area has a QuerySet with ``visible_to(user)`` and
``editable_by(user)``; each of them only names the lookup paths from its rows to the district,
township and village, and asks :func:`area_q` for the filter. Pages, the API, exports and imports
fetch rows through those QuerySets, so a row outside a user's area simply does not exist for them.

Roles and areas (``User.role``, ``User.district``/``township``/``village``):

- 区级管理员 (district admin): reads and edits the whole district.
- 督查人员 (supervisor): reads the whole district; writes supervision records only.
- 区级领导 (leader): reads their area (district, township or village); writes nothing.
- 乡镇工作人员 (township staff): reads and edits their township.
- 村干部 (village cadre / first secretary): reads and edits their village.
- A superuser reads and edits everything; an inactive or anonymous user sees nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q
from django.shortcuts import get_object_or_404

NOTHING = Q(pk__in=[])
# Not ``Q()``: an empty Q vanishes when OR-ed with another, turning "everything" into "nothing".
EVERYTHING = Q(pk__isnull=False)


@dataclass(frozen=True)
class AreaPaths:
    """Lookup paths from a model's rows to the codes/ids of their district, township and village.

    ``village`` may be ``None`` for models that sit above villages (a township); a village cadre then
    sees the township their village belongs to.
    """

    district: str
    township: str
    village: str | None


def _area_of(user) -> tuple[str, object] | None:
    """The level and key of the area the user is scoped to, or None for the whole instance."""
    if user.village_id:
        return ("village", user.village_id)
    if user.township_id:
        return ("township", user.township_id)
    if user.district_id:
        return ("district", user.district_id)
    return None


def area_q(user, paths: AreaPaths, *, write: bool = False) -> Q:
    """A filter for the rows of a model that ``user`` may read (or, with ``write``, change)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return NOTHING
    if user.is_superuser:
        return EVERYTHING
    if write and not user.can_edit_plans:
        return NOTHING
    area = _area_of(user)
    if area is None:
        return NOTHING
    level, key = area
    if level == "district":
        return Q(**{f"{paths.district}": key})
    if level == "township":
        return Q(**{f"{paths.township}": key})
    if paths.village is None:
        return Q(**{f"{paths.township}": user.village_township_code})
    return Q(**{f"{paths.village}": key})


def get_visible_or_404(queryset, user, **lookup):
    """The row ``lookup`` names, if ``user`` may read it; otherwise a 404 (never a 403 that confirms it exists)."""
    return get_object_or_404(queryset.visible_to(user), **lookup)


def get_editable_or_404(queryset, user, **lookup):
    """The row ``lookup`` names, if ``user`` may change it; otherwise a 404.

    A user who may read a row but not change it (a supervisor, a leader) also gets a 404 here: the
    change pages do not exist for them. Views that show a read-only page use get_visible_or_404.
    """
    return get_object_or_404(queryset.editable_by(user), **lookup)


def may_edit_plans(user) -> bool:
    """Who imports plan rows and the household register: people who may edit plans."""
    return bool(user.is_authenticated and user.can_edit_plans)
