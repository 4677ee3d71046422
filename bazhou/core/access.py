"""Who may do what, on which rows: decided here and nowhere else.

Roles and areas (``User.role``, ``User.district``/``township``/``village``):

- 区级管理员 (district admin): reads and edits the whole district; supervises; approves plans.
- 督查人员 (supervisor): reads the whole district; writes supervision records and bulletins only.
- 区级领导 (leader): reads their area (district, township or village); writes nothing.
- 乡镇工作人员 (township staff): reads and edits their township.
- 村干部 (village cadre / first secretary): reads and edits their village; reads their township's own rows
  (a finding against the township) without answering for them.
- 区级挂包领导 (a leader responsible for a 片区): reads the townships and villages of their charge
  (``User.charge_townships``/``charge_villages``, :func:`charge_of`); answers the escalations put before them.
- 行业部门 (a sector department's user): reads the plan rows of their department (``Task.department``) across the
  district, with their findings, and reports those rows' progress (:func:`progress_q`); nothing else of the plan.
- 村督查信息员 (a village's supervision information officer): reads their village like its cadre; files leads
  (线索) and progress observations; changes nothing of the plan.
- 人大/政协督导: reads what the supervisors read (:func:`may_read_supervision`); records supervision opinions.
- 区纪委: reads what the supervisors read; decides the cases of the accountability inbox (:func:`may_decide_cases`).
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

import copy
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
# Who reads what the supervisors read (the queue, findings, rectifications, inspections, leads, bulletin drafts)
# without supervising: the people's congress / CPPCC and the discipline commission.
# A 挂包 leader reads them too, for their charge only (the rows come through ``visible_to``).
READING_SUPERVISION = SUPERVISING | frozenset({Role.OVERSIGHT, Role.DISCIPLINE, Role.PATCH_LEADER})
# Who reports progress on plan rows: the area staff (their area's rows) and the departments (their own rows).
REPORTING_PROGRESS = AREA_STAFF | frozenset({Role.DEPARTMENT})


@dataclass(frozen=True)
class AreaPaths:
    """Lookup paths from a model's rows to the codes/ids of their district, township and village.

    ``village`` may be ``None`` for models that sit above villages (a township); a village cadre then
    sees the township their village belongs to.
    """

    district: str
    township: str
    village: str | None
    # The path to the plan row's department (``Task.department``), for the rows a department's users see; None for
    # models that are not about a plan row (a department's user sees none of them).
    department: str | None = None

    def prefixed(self, prefix: str) -> AreaPaths:
        """The same paths from a row that reaches these rows through ``prefix`` (e.g. ``"task"``)."""
        return AreaPaths(
            district=f"{prefix}__{self.district}",
            township=f"{prefix}__{self.township}",
            village=f"{prefix}__{self.village}" if self.village is not None else None,
            department=f"{prefix}__{self.department}" if self.department is not None else None,
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


def charge_of(user) -> tuple[frozenset, frozenset] | None:
    """The township codes and village ids of a 挂包 leader's charge (分片挂包); None for every other user.

    Read once per user object (two small queries, none when prefetched) and kept on it for the rest of the
    request."""
    if not signed_in(user) or user.role != Role.PATCH_LEADER:
        return None
    cached = getattr(user, "_bazhou_charge", None)
    if cached is None:
        # ``.all()``, not ``values_list``: a caller that prefetched the charges (the daily digests) pays nothing.
        cached = (
            frozenset(t.pk for t in user.charge_townships.all()),
            frozenset(v.pk for v in user.charge_villages.all()),
        )
        user._bazhou_charge = cached
    return cached


def charge_q(paths: AreaPaths, charge: tuple[frozenset, frozenset]) -> Q:
    """A filter for the rows (reached through ``paths``) inside a charge: its townships' and its villages'. The
    rows of a township that sit above villages are inside it when the township is charged."""
    townships, villages = charge
    q = NOTHING
    if townships:
        q |= Q(**{f"{paths.township}__in": sorted(townships)})
    if villages and paths.village is not None:
        q |= Q(**{f"{paths.village}__in": sorted(villages)})
    return q


def department_of(user):
    """The id of the sector department a department's user works for; None for every other user."""
    if not signed_in(user) or user.role != Role.DEPARTMENT:
        return None
    return user.department_id


def as_role(user):
    """The person as their role alone: for a superuser with a role (the demo's ``admin`` is a district admin and a
    superuser) a copy without the superuser's "may do everything", so that a page listing a person's duties (我的待办)
    lists their role's work rather than every role's; anyone else unchanged. Fetch rows as the real user."""
    if not user.is_superuser or not user.role:
        return user
    duty = copy.copy(user)
    duty.is_superuser = False
    return duty


def district_wide(user) -> bool:
    """Whether the user reads a whole district (district roles, a district leader) or the whole instance (a
    superuser without an area). A 挂包 leader and a department's user do not: they read a part of it."""
    if not signed_in(user):
        return False
    if charge_of(user) is not None or department_of(user) is not None:
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


def may_take_snapshots(user) -> bool:
    """Takes a district's monthly snapshot on demand, or a correction of one with a reason (月度快照): the district
    office, who approve plans (for their district only: ``supervision.snapshots.take`` checks the district)."""
    return may_approve_plans(user) and (
        user.is_superuser or area_of(user) is not None and area_of(user)[0] == "district"
    )


def may_view_dashboard(user) -> bool:
    """Reads the dashboard (page, print view, API) of their area: everyone signed in but a department's user, who
    sees their department's rows and nothing else of the plan."""
    return signed_in(user) and department_of(user) is None


def may_enter_goal_figures(user, goal) -> bool:
    """Enters the figure of a manual annual goal (手工填报: value, evidence): the district office for the district's
    goals; for a township's or a village's own goal, the district office and the staff of that township, and for a
    village's, its cadres too. Nobody enters the figure of a goal the product computes."""
    if goal.metric != "manual" or not _keeps_area_rows(user):
        return False
    if user.is_superuser:
        return True
    area = area_of(user)
    if area is None:
        return False
    level, key = area
    if level == "district":
        return user.role == Role.DISTRICT_ADMIN and key == goal.district_id
    if goal.village_id is not None:
        return key == (goal.village_id if level == "village" else goal.village.township_id)
    return level == "township" and goal.township_id is not None and key == goal.township_id


def may_report_progress(user) -> bool:
    """Reports progress (and its evidence) on plan rows: which rows, :func:`progress_q`."""
    return _has_role(user, REPORTING_PROGRESS)


def may_read_supervision(user) -> bool:
    """Reads what the supervisors read: the queue of late rows, findings and rectifications, inspections, leads,
    accountability, bulletin drafts and the daily digest (of their district)."""
    return _has_role(user, READING_SUPERVISION)


def may_give_opinions(user) -> bool:
    """Records supervision opinions (督导意见) on findings and their rectification: the 人大/政协."""
    return _has_role(user, frozenset({Role.OVERSIGHT}))


def may_file_leads(user) -> bool:
    """Files leads (线索) and progress observations for their village: the information officer."""
    return _has_role(user, frozenset({Role.INFORMANT}))


def may_handle_leads(user) -> bool:
    """Turns a lead into a finding, keeps it on file, or dismisses it: whoever supervises."""
    return may_supervise(user)


def may_read_leads(user) -> bool:
    """Opens the leads (线索) list and pages: the information officers (their village's, through
    ``Lead.objects.visible_to``) and whoever reads what the supervisors read (:func:`may_read_supervision`)."""
    return may_file_leads(user) or may_read_supervision(user)


def may_decide_cases(user) -> bool:
    """Decides the cases of the accountability inbox (追责 or not): the 纪委."""
    return _has_role(user, frozenset({Role.DISCIPLINE}))


def may_respond_to_escalations(user) -> bool:
    """Answers the escalations put before them (``Escalation.leader``): a 挂包 leader."""
    return _has_role(user, frozenset({Role.PATCH_LEADER}))


def may_respond_to_escalation(user, escalation) -> bool:
    """Whether ``user`` answers this escalation: the 挂包 leader it was put before, while it is unanswered."""
    return may_respond_to_escalations(user) and escalation.leader_id == user.pk and escalation.responded_at is None


def escalations_q(user) -> Q:
    """A filter on escalations (on top of their findings' ``visible_to``): a 挂包 leader reads those put before
    them (``leader``), who reads supervision reads the district's; anyone else none (the pages are a 404)."""
    if not may_read_supervision(user):
        return NOTHING
    if charge_of(user) is not None:
        return Q(leader=user.pk)
    return EVERYTHING


def may_open_escalation(user, escalation) -> bool:
    """The Python twin of :func:`escalations_q`, for an escalation already fetched with its finding (the finding's
    page lists them): a 挂包 leader opens those put before them, who reads supervision opens any."""
    if not may_read_supervision(user):
        return False
    return charge_of(user) is None or escalation.leader_id == user.pk


def may_read_cases(user) -> bool:
    """Reads the accountability inbox (追责线索) of their district: the 纪委, the supervisors and the 人大/政协."""
    return _has_role(user, SUPERVISING | frozenset({Role.OVERSIGHT, Role.DISCIPLINE}))


def jobs_q(user) -> Q:
    """The background jobs ``user`` may follow, cancel and download: their own (a job's file may hold personal data
    chosen by its starter's area and masking). Anyone else's job answers 404."""
    return Q(user_id=user.pk) if signed_in(user) else Q(pk__in=[])


def sees_id_numbers(user) -> bool:
    """Sees ID numbers in full (pages, exports, the admin); everyone else sees them masked, and sees nothing else
    that narrows a masked number down: no age, no birth date (:func:`sees_ages`), no lookup by number
    (:func:`may_look_up_id_numbers`), no message naming a row outside their area."""
    return _keeps_area_rows(user)


def sees_ages(user) -> bool:
    """Sees members' ages and birth dates: only who sees the full ID numbers (the birth date is digits 7–14 of
    the number, and an age with the masked 511902********1234 leaves ~34 candidate numbers)."""
    return sees_id_numbers(user)


def may_look_up_id_numbers(user) -> bool:
    """Finds households by a full ID number (the list page's search, ``POST /api/v1/households/lookup/``): only who
    sees the full numbers; to anyone else an answer would confirm a guessed number. Rate-limited per user
    (:data:`ID_LOOKUP_LIMIT` in :data:`ID_LOOKUP_WINDOW`)."""
    return sees_id_numbers(user)


# At most this many lookups by ID number per user in this many seconds (the page's and the API's together).
ID_LOOKUP_LIMIT = 30
ID_LOOKUP_WINDOW = 600
ID_LOOKUP_REFUSED = "您的角色看到的身份证号是打码的，不能按身份证号查找贫困户；请按户主姓名或户编号查找。"
ID_LOOKUP_TOO_MANY = "按身份证号查找过于频繁：每人每 10 分钟最多查找 30 次，请稍后再试。"


def supervisors_of(district) -> Q:
    """The active users who supervise ``district`` (a District or its code): a filter on users."""
    return Q(is_active=True, district=district, role__in=sorted(SUPERVISING))


def area_staff_of(*, township, village=None) -> Q:
    """The active area staff who answer for a row of ``village`` (an id) or, above villages, of ``township`` (a
    code): that village's cadres and that township's staff; a township's row, its staff only. A filter on users."""
    q = Q(role=Role.TOWNSHIP_STAFF, township=township)
    if village is not None:
        q |= Q(role=Role.VILLAGE_CADRE, village=village)
    return Q(is_active=True) & q


def keepers_of_rows(*, departments=(), villages=(), townships=()) -> Q:
    """The active users who keep plan rows of these departments (ids), villages (ids) or townships (codes): the
    departments' users, the villages' cadres and the townships' staff (the daily run's in-app recipients, by
    :func:`keeper_key`). A filter on users."""
    return Q(is_active=True) & (
        Q(role=Role.DEPARTMENT, department__in=sorted(departments))
        | Q(role=Role.VILLAGE_CADRE, village__in=sorted(villages))
        | Q(role=Role.TOWNSHIP_STAFF, township__in=sorted(townships))
    )


def keeper_key(user) -> tuple[str, object] | None:
    """What a user found by :func:`keepers_of_rows` keeps: ("department", id), ("village", id), ("township", code)."""
    if user.role == Role.DEPARTMENT:
        return ("department", user.department_id)
    if user.role == Role.VILLAGE_CADRE:
        return ("village", user.village_id)
    if user.role == Role.TOWNSHIP_STAFF:
        return ("township", user.township_id)
    return None


def charge_leaders_in(district) -> Q:
    """The active 挂包 leaders of ``district`` (a District or its code): a filter on users (their charge digests)."""
    return Q(is_active=True, role=Role.PATCH_LEADER, district=district)


def discipline_of(district) -> Q:
    """The active 纪委 users of ``district`` (a District or its code): a filter on users (the cases' recipients)."""
    return Q(is_active=True, district=district, role=Role.DISCIPLINE)


def charge_leaders_of(*, township, village=None) -> Q:
    """The active 挂包 leaders whose charge holds ``village`` (an id) or its ``township`` (a code): a filter on users
    (add ``.distinct()``)."""
    q = Q(charge_townships=township)
    if village is not None:
        q |= Q(charge_villages=village)
    return Q(is_active=True, role=Role.PATCH_LEADER) & q


# ---------------------------------------------------------------------------------------------
# Which rows
# ---------------------------------------------------------------------------------------------


def inspections_q(user, paths: AreaPaths, *, targets: tuple[AreaPaths, ...], announced: Q, published: Q) -> Q:
    """A filter for the inspections (督查) ``user`` reads. District-wide records (``paths``), but a township's or a
    village's own users (township staff, village cadres, information officers) read only those that are announced
    (``announced``: not 暗访) and target their area (any of ``targets``: the inspected townships, villages,
    households, plan rows), and those whose results were published to them (``published``: e.g. a finding they
    read). Whoever reads the district or supervision (district roles, supervisors, leaders, the 人大/政协, the
    纪委, 挂包 leaders) reads them as :func:`area_q` says."""
    q = area_q(user, paths)
    if not signed_in(user) or user.is_superuser or district_wide(user) or may_read_supervision(user):
        return q
    if user.role not in (Role.TOWNSHIP_STAFF, Role.VILLAGE_CADRE, Role.INFORMANT):
        return q  # a leader of a township or a village reads as before; a department's user reads none (area_q)
    ours = NOTHING
    for target in targets:
        ours |= area_q(user, target)
    return q & ((announced & ours) | published)


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
    department = department_of(user)
    if department is not None:
        return NOTHING if paths.department is None else Q(**{paths.department: department})
    charge = charge_of(user)
    if charge is not None:
        return charge_q(paths, charge)
    area = area_of(user)
    if area is None:
        return NOTHING
    level, key = area
    if level == "village" and paths.village is None:
        return NOTHING if write else Q(**{paths.township: user.village_township_code})
    return within(paths, level, key)


def progress_q(user, paths: AreaPaths) -> Q:
    """A filter for the plan rows (reached through ``paths``) whose progress ``user`` may report: the rows they
    may change (:func:`area_q` with ``write``), and a department's user the rows of their department."""
    if not may_report_progress(user):
        return NOTHING
    department = department_of(user)
    if department is not None:
        return NOTHING if paths.department is None else Q(**{paths.department: department})
    return area_q(user, paths, write=True)


def public_notices_q(user, paths: AreaPaths) -> Q:
    """A filter for the district-wide public notices (published bulletins, 通报) ``user`` reads: those of their area
    (:func:`area_q`), and a department's user those of their district: a bulletin is sent to the district's
    departments too, though a department reads nothing else of the district. A 挂包 leader reads those of their
    district as well (a record of the whole district concerns their charge; filtering it by the charge's townships
    and villages would also repeat it once per charged place)."""
    if department_of(user) is not None or charge_of(user) is not None:
        return Q(**{paths.district: user.district_id})
    return area_q(user, paths)


def area_choices_q(user, paths: AreaPaths) -> Q:
    """A filter for the areas (townships or villages, reached through ``paths``) ``user`` may pick as the area
    of a dashboard or an export: those wholly inside their own, so that every row in them is one they see.

    A village cadre's township is not one of them (they see their village's rows, not the township's figures).
    """
    if not signed_in(user):
        return NOTHING
    if user.is_superuser:
        return EVERYTHING
    if department_of(user) is not None:
        return NOTHING
    charge = charge_of(user)
    if charge is not None:
        return charge_q(paths, charge)
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
