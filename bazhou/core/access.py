"""Who may do what, on which rows: decided here and nowhere else.

Roles and areas (``User.role``, ``User.district``/``township``/``village``):

- 区级管理员 (district admin): reads and edits the whole district; supervises; approves plans.
- 督查人员 (supervisor): reads the whole district; writes supervision records and bulletins only.
- 区级领导 (leader): reads their area (district, township or village); writes nothing.
- 乡镇工作人员 (township staff): reads and edits their township.
- 村干部 (village cadre / first secretary): reads and edits their village; reads their township's own rows
  (a finding against the township) without answering for them.
- A superuser reads and edits everything and may do everything; an inactive or anonymous user nothing at all.

The vocabulary has three parts.

**What a role may do**, whatever the row: :func:`may_edit_plans`, :func:`may_edit_registry`,
:func:`may_answer_rectifications`, :func:`may_supervise`, :func:`may_write_bulletins`,
:func:`may_approve_plans`, :func:`sees_id_numbers`. Pages, the API (the 403 that names the role), the import
pages, the services, the context processor (and through its ``nav`` the templates) ask these;
:func:`supervisors_of` names the people of a district who supervise (the daily digest's recipients).

**Which rows**: every model that belongs to an area has a QuerySet with ``visible_to(user)`` and
``editable_by(user)``; each of them only names the lookup paths from its rows to the district, township and
village (:class:`AreaPaths`) and asks :func:`area_q` for the filter. Pages, the API, exports and imports fetch rows
through those QuerySets, so a row outside a user's area simply does not exist for them (a 404, never a 403).

**Which area** a dashboard or an export covers: :func:`area_of` is the user's own, :func:`area_choices_q` the
townships and villages they may pick instead (those wholly inside their own), :func:`within` the filter for the
rows inside an area, and :func:`rows_in_area` the rows of an export: ``visible_to(user)`` ∩ the area, always both.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q
from django.shortcuts import get_object_or_404

from bazhou.core.models import Role

NOTHING = Q(pk__in=[])
# Not ``Q()``: an empty Q vanishes when OR-ed with another, turning "everything" into "nothing".
EVERYTHING = Q(pk__isnull=False)

LEVELS = ("district", "township", "village")

# Who keeps the rows of their own area up to date (plans, the registry, village records, rectification answers).
AREA_STAFF = frozenset({Role.DISTRICT_ADMIN, Role.TOWNSHIP_STAFF, Role.VILLAGE_CADRE})
# Who supervises: files inspections, findings and accountability, rechecks, reviews the queue, writes bulletins.
SUPERVISING = frozenset({Role.SUPERVISOR, Role.DISTRICT_ADMIN})
# Who approves a plan (一村一案) of a village they may edit.
APPROVING = frozenset({Role.DISTRICT_ADMIN})


@dataclass(frozen=True)
class AreaPaths:
    """Lookup paths from a model's rows to the codes/ids of their district, township and village.

    ``village`` may be ``None`` for models that sit above villages (a township); a village cadre then
    sees the township their village belongs to.
    """

    district: str
    township: str
    village: str | None

    def prefixed(self, prefix: str) -> AreaPaths:
        """The same paths from a row that reaches these rows through ``prefix`` (e.g. ``"task"``)."""
        return AreaPaths(
            district=f"{prefix}__{self.district}",
            township=f"{prefix}__{self.township}",
            village=f"{prefix}__{self.village}" if self.village is not None else None,
        )


# ---------------------------------------------------------------------------------------------
# Who: signed in, and the user's own area
# ---------------------------------------------------------------------------------------------


def signed_in(user) -> bool:
    """An active, signed-in user: anyone else may do nothing and sees nothing."""
    return bool(user is not None and user.is_authenticated and user.is_active)


def area_of(user) -> tuple[str, object] | None:
    """The level ("district", "township", "village") and key (code or id) of the user's area; None for a
    superuser without one (the whole instance) and for anyone not signed in."""
    if not signed_in(user):
        return None
    if user.village_id:
        return ("village", user.village_id)
    if user.township_id:
        return ("township", user.township_id)
    if user.district_id:
        return ("district", user.district_id)
    return None


def district_wide(user) -> bool:
    """Whether the user reads a whole district (district roles, a district leader) or the whole instance (a
    superuser without an area)."""
    if not signed_in(user):
        return False
    area = area_of(user)
    if area is None:
        return bool(user.is_superuser)
    return area[0] == "district"


# ---------------------------------------------------------------------------------------------
# What a role may do, whatever the row (the rows themselves: visible_to / editable_by)
# ---------------------------------------------------------------------------------------------


def _has_role(user, roles: frozenset) -> bool:
    return signed_in(user) and (user.is_superuser or user.role in roles)


def _keeps_area_rows(user) -> bool:
    return _has_role(user, AREA_STAFF)


def may_edit_plans(user) -> bool:
    """Opens plans, adds, changes and removes plan rows, reports progress, imports plan rows (in their area)."""
    return _keeps_area_rows(user)


def may_edit_registry(user) -> bool:
    """Registers and changes households, members and incomes, imports the register (in their area)."""
    return _keeps_area_rows(user)


def may_answer_rectifications(user) -> bool:
    """Starts and answers the rectification of a finding in their area (``Finding.objects.editable_by``)."""
    return _keeps_area_rows(user)


def may_supervise(user) -> bool:
    """Reviews the queue of late rows; files inspections, findings and accountability; rechecks answers."""
    return _has_role(user, SUPERVISING)


def may_write_bulletins(user) -> bool:
    """Generates, edits and publishes bulletins of their district, and reads its drafts."""
    return _has_role(user, SUPERVISING)


def may_approve_plans(user) -> bool:
    """Approves a plan; which plans: those ``Plan.objects.editable_by(user)`` holds (their district)."""
    return _has_role(user, APPROVING)


def may_request_changes(user) -> bool:
    """Requests a change (变更申请) to a row of an approved plan: change, add or withdraw a row (in their area:
    ``ChangeRequest.objects.editable_by``), and withdraws their own pending request."""
    return _keeps_area_rows(user)


def may_decide_change_requests(user) -> bool:
    """Approves or rejects change requests: whoever approves plans (the district office by default); which
    requests: ``ChangeRequest.objects.decidable_by(user)`` (their area, never their own)."""
    return may_approve_plans(user)


def may_decide_change_request(user, request) -> bool:
    """Whether ``user`` may approve or reject this change request, already fetched through
    ``ChangeRequest.objects.editable_by(user)``: an approver, and never the person who asked for it."""
    return may_decide_change_requests(user) and request.requested_by_id != user.pk


def may_withdraw_change_request(user, request) -> bool:
    """Only the person who asked for a change withdraws it."""
    return signed_in(user) and request.requested_by_id == user.pk


def sees_id_numbers(user) -> bool:
    """Sees ID numbers in full (pages, exports, the admin); everyone else sees them masked."""
    return _keeps_area_rows(user)


def supervisors_of(district) -> Q:
    """The active users who supervise ``district`` (a District or its code): a filter on users."""
    return Q(is_active=True, district=district, role__in=sorted(SUPERVISING))


# ---------------------------------------------------------------------------------------------
# Which rows
# ---------------------------------------------------------------------------------------------


def within(paths: AreaPaths, level: str, key) -> Q:
    """A filter for the rows (reached through ``paths``) inside the area ``level`` / ``key``.

    Rows that sit above the area (a township's, for a village) are not inside it.
    """
    if level not in LEVELS:
        raise ValueError(f"unknown area level {level!r}")
    path = getattr(paths, level)
    if path is None:
        return NOTHING
    return Q(**{path: key})


def area_q(user, paths: AreaPaths, *, write: bool = False) -> Q:
    """A filter for the rows of a model that ``user`` may read (or, with ``write``, change).

    Changing needs a role that keeps its area's rows (:data:`AREA_STAFF`); a village cadre reads, but does not
    change, the rows of their township that sit above villages.
    """
    if not signed_in(user):
        return NOTHING
    if user.is_superuser:
        return EVERYTHING
    if write and not _keeps_area_rows(user):
        return NOTHING
    area = area_of(user)
    if area is None:
        return NOTHING
    level, key = area
    if level == "village" and paths.village is None:
        return NOTHING if write else Q(**{paths.township: user.village_township_code})
    return within(paths, level, key)


def area_choices_q(user, paths: AreaPaths) -> Q:
    """A filter for the areas (townships or villages, reached through ``paths``) ``user`` may pick as the area
    of a dashboard or an export: those wholly inside their own, so that every row in them is one they see.

    A village cadre's township is not one of them (they see their village's rows, not the township's figures).
    """
    if not signed_in(user):
        return NOTHING
    if user.is_superuser:
        return EVERYTHING
    area = area_of(user)
    if area is None:
        return NOTHING
    return within(paths, *area)


def rows_in_area(user, rows, area: tuple[str, object] | None):
    """The rows of an export: those of ``rows`` (a QuerySet with ``visible_to`` and ``paths``) ``user`` sees,
    inside ``area`` (a level and key; None: the whole instance). Both filters, always, so an area the user
    should not have been given still yields only rows they see."""
    rows = rows.visible_to(user)
    if area is None:
        return rows
    return rows.filter(within(rows.paths, *area))


def get_visible_or_404(queryset, user, **lookup):
    """The row ``lookup`` names, if ``user`` may read it; otherwise a 404 (never a 403 that confirms it exists)."""
    return get_object_or_404(queryset.visible_to(user), **lookup)


def get_editable_or_404(queryset, user, **lookup):
    """The row ``lookup`` names, if ``user`` may change it; otherwise a 404.

    A user who may read a row but not change it (a supervisor, a leader) also gets a 404 here: the
    change pages do not exist for them. Views that show a read-only page use get_visible_or_404.
    """
    return get_object_or_404(queryset.editable_by(user), **lookup)
