"""Supervision (督查): the review queue's questions, and every consequential write.

Reads shared by the pages (the queue of late and at-risk plan rows, its ranking counts, who may do what
to a finding) come first; then one function per write, in the style of ``tasks.services``:

- keyword-only arguments and the acting ``user``; what is changed is fetched through the access scope,
  so a row the user may not change raises ``Http404``, as if it did not exist;
- one transaction; the rectification is locked (``select_for_update``) and its ``version`` compared with
  the one the caller saw: if someone saved in between, :class:`RectificationConflict` and nothing changes;
- ``full_clean()`` and Chinese ``ValidationError``s keyed by field before anything is written (the model's
  named constraints are the backstop);
- simple-history records every save, signed with who (``_history_user``) and why (``_change_reason``).

Who may do what:

- file findings, inspections and accountability records: supervisors and district admins
  (``access.may_supervise``), on targets in their district;
- start and answer a rectification: those who may edit the finding's area (``access.may_answer_rectifications``
  in it: district admin, the township's staff, the village's cadre); a village cadre does not answer a
  township-level finding;
- recheck (销号 or 退回): a supervisor or district admin who did not answer it;
- leaders read only.
"""

from __future__ import annotations

import calendar
import datetime
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, F, Min, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone

from bazhou.core import access, clock
from bazhou.core.services import add_error, collect_errors, raise_if, sign
from bazhou.core.text import is_blank
from households.models import Household
from supervision import chain
from supervision.models import (
    FINDING_TARGET_PATHS,
    Accountability,
    Finding,
    Inspection,
    Rectification,
    RectificationEvidence,
    rectification_awaits_answer,
)
from tasks.models import Task, days_overdue
from tasks.services import store_evidence, validate_evidence_files
from villages.models import District, Township, Village

Status = Rectification.Status

FINDING_FIELDS = ("type", "severity", "description", "found_on", "escalate")
RECTIFICATION_FIELDS = (
    "requirement",
    "responsible_unit",
    "responsible_person",
    "responsible_phone",
    "responsible_email",
    "deadline",
)
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
INSPECTION_FIELDS = ("title", "kind", "organiser", "start_date", "end_date", "inspectors", "methods", "summary")
TARGETS = tuple(FINDING_TARGET_PATHS)  # "task", "village", "household", "township"

RESULT_REQUIRED = "请填写整改结果。"
NOTE_REQUIRED_TO_REJECT = "退回整改须填写复查意见，说明哪里没有整改到位。"
RECHECK_OWN_ANSWER = "复查人不能是整改结果的填报人，请由其他督查人员复查。"
CLOSED_ALREADY = "该问题已销号，不能再修改整改情况。"


class RectificationConflict(Exception):
    """Someone saved the rectification after the caller loaded it; nothing was changed."""

    def __init__(self, current: Rectification):
        self.current = current
        last = current.history.select_related("history_user").first()
        self.changed_by = last.history_user if last else None
        self.changed_at = last.history_date if last else None
        super().__init__(f"整改 {current.pk} 已被他人修改（当前版本 {current.version}）。")


# ---------------------------------------------------------------------------------------------
# Dates
# ---------------------------------------------------------------------------------------------


def add_months(day: datetime.date, months: int) -> datetime.date:
    """``day`` plus calendar ``months``, on the same day of the month or the month's last day (1-31 → 3-31,
    12-31 → 2-28 or 2-29)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return day.replace(year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1]))


def default_deadline(found_on: datetime.date) -> datetime.date:
    """The common rule: rectify within two months of the finding (Rectification.DEFAULT_MONTHS)."""
    return add_months(found_on, Rectification.DEFAULT_MONTHS)


# ---------------------------------------------------------------------------------------------
# Reads: the review queue
# ---------------------------------------------------------------------------------------------

QUEUE_VIEWS = {"overdue": "已逾期", "baseline": "原定逾期", "due": "即将到期", "stale": "长期未更新"}
QUEUE_SORTS = {
    "days": ("逾期天数（多→少）", ("deadline", "id")),
    "deadline": ("完成时限（晚→早）", ("-deadline", "id")),
    "township": ("乡镇、村", ("plan__village__township__code", "plan__village__code", "deadline", "id")),
    "progress": ("进度（低→高）", ("progress", "deadline", "id")),
}
RANKING_SIZE = 10


def queue_rows(*, user, today: datetime.date, view: str = "overdue", days: int | None = None) -> QuerySet:
    """The plan rows a supervisor reviews, of the user's area: past the deadline and not complete
    (``overdue``), past the original deadline and not completed by it, whatever the current deadline
    (``baseline``, 原定逾期), due within ``days`` days (``due``), or without progress for ``days`` days (``stale``)."""
    if not access.may_read_supervision(user):
        raise Http404("只有督查人员、区级管理员和督导、纪检、挂包领导可以查看督办清单。")
    rows = Task.objects.visible_to(user)
    if view == "due":
        return rows.due_within(today, days)
    if view == "stale":
        return rows.stale(today, days)
    if view == "baseline":
        return rows.baseline_overdue(today)
    return rows.overdue(today)


def queue_ranking(rows: QuerySet, today: datetime.date) -> dict[str, list[dict]]:
    """Where ``rows`` are, by township and by responsible unit (责任单位): how many each has and how long its oldest
    row is overdue (``longest``, days; ≤ 0 when none is overdue yet), most first, the first ``RANKING_SIZE`` of each.
    Equal counts share a rank (``rank``, dense: 1, 2, 2, 3; ``rank_tied`` says 并列). Two GROUP BY queries."""
    rows = rows.order_by()
    townships = (
        rows.values(code=F("plan__village__township__code"), name=F("plan__village__township__name"))
        .annotate(n=Count("id"), oldest=Min("deadline"))
        .order_by("-n", "oldest", "code")[: RANKING_SIZE + 1]
    )
    units = (
        rows.values("responsible_unit")
        .annotate(n=Count("id"), oldest=Min("deadline"))
        .order_by("-n", "oldest", "responsible_unit")[: RANKING_SIZE + 1]
    )
    units = [{"unit": row.pop("responsible_unit"), **row} for row in units]
    ranking = {"townships": list(townships), "units": units}
    for which, entries in ranking.items():
        for entry in entries:
            entry["longest"] = days_overdue(entry["oldest"], today)
        _dense_ranks(entries)  # one more than shown: a tie with the first left out is still said
        ranking[which] = entries[:RANKING_SIZE]
    return ranking


def _dense_ranks(entries: list[dict]) -> None:
    """Rank entries sorted by ``n`` (most first): equal counts share a rank, the next count takes the next rank."""
    counts = Counter(entry["n"] for entry in entries)
    rank, previous = 0, None
    for entry in entries:
        if entry["n"] != previous:
            rank, previous = rank + 1, entry["n"]
        entry["rank"], entry["rank_tied"] = rank, counts[entry["n"]] > 1


# ---------------------------------------------------------------------------------------------
# Reads: who may do what to a finding
# ---------------------------------------------------------------------------------------------


def answerable_findings(user) -> QuerySet:
    """The findings ``user`` may start and answer (see FindingQuerySet.editable_by)."""
    return Finding.objects.editable_by(user)


@dataclass(frozen=True)
class Allowed:
    """What ``user`` may do on a finding's page now (the pages show only these forms)."""

    start: bool
    answer: bool
    recheck: bool
    own_answer: bool  # a supervisor looking at the answer they filled in themselves
    account: bool


def allowed_actions(user, finding: Finding, rectification: Rectification | None) -> Allowed:
    if rectification is None:
        return Allowed(False, False, False, False, account=access.may_supervise(user))
    may_answer = answerable_findings(user).filter(pk=finding.pk).exists()
    status = rectification.status
    awaiting = status == Status.AWAITING_RECHECK
    own = awaiting and rectification.answered_by_id == user.pk
    return Allowed(
        start=may_answer and status == Status.PENDING,
        answer=may_answer and rectification_awaits_answer(status),
        recheck=access.may_supervise(user) and awaiting and not own,
        own_answer=access.may_supervise(user) and own,
        account=access.may_supervise(user),
    )


# ---------------------------------------------------------------------------------------------
# Inspections
# ---------------------------------------------------------------------------------------------


@transaction.atomic
def inspection_create(
    *, user, data: Mapping, townships: Iterable[Township] = (), villages: Iterable[Village] = ()
) -> Inspection:
    """Record an inspection (督查) of the user's district, with the townships and villages it went to."""
    _require_supervisor(user)
    district = _district_of(user)
    unknown = set(data) - set(INSPECTION_FIELDS)
    if unknown:
        raise ValueError(f"Not fields a person may set on an inspection: {sorted(unknown)}")
    townships, villages = list(townships), list(villages)
    errors: dict[str, list[str]] = {}
    visible_townships = set(
        Township.objects.visible_to(user)
        .filter(district=district, pk__in=[t.pk for t in townships])
        .values_list("pk", flat=True)
    )
    if any(t.pk not in visible_townships for t in townships):
        add_error(errors, "townships", "只能选择本区的乡镇。")
    visible_villages = set(
        Village.objects.visible_to(user)
        .filter(township__district=district, pk__in=[v.pk for v in villages])
        .values_list("pk", flat=True)
    )
    if any(v.pk not in visible_villages for v in villages):
        add_error(errors, "villages", "只能选择本区的村。")
    inspection = Inspection(district=district, created_by=user, **data)
    collect_errors(errors, inspection.full_clean)
    raise_if(errors)
    sign(inspection, user, "录入督查")
    inspection.save()
    inspection.townships.set(townships)
    inspection.villages.set(villages)
    return inspection


# ---------------------------------------------------------------------------------------------
# Findings and their rectification
# ---------------------------------------------------------------------------------------------


@transaction.atomic
def finding_create(
    *,
    user,
    target: Task | Village | Household | Township,
    data: Mapping,
    rectification: Mapping,
    inspection: Inspection | None = None,
) -> Finding:
    """File a finding (发现问题) against exactly one target, with its rectification (整改) demand.

    The rectification's deadline defaults to two calendar months after the finding (clamped to the end
    of the month). The target and the inspection must be visible to the user.
    """
    _require_supervisor(user)
    target_field = _target_field(target)
    target = _visible_target(user, target_field, target)
    if inspection is not None:
        inspection = get_object_or_404(Inspection.objects.visible_to(user), pk=inspection.pk)
    _check_fields(data, FINDING_FIELDS, "finding")
    _check_fields(rectification, RECTIFICATION_FIELDS, "rectification")

    finding = Finding(inspection=inspection, reported_by=user, **{target_field: target}, **data)
    errors: dict[str, list[str]] = {}
    collect_errors(errors, finding.full_clean)
    values = dict(rectification)
    if not values.get("deadline") and finding.found_on:
        values["deadline"] = default_deadline(finding.found_on)
    demand = Rectification(**values)
    if demand.deadline and finding.found_on and demand.deadline < finding.found_on:
        add_error(errors, "deadline", "整改时限不能早于发现日期。")
    collect_errors(errors, lambda: demand.full_clean(exclude=["finding"]))
    raise_if(errors)

    sign(finding, user, "发现问题")
    finding.save()
    demand.finding = finding
    sign(demand, user, "下达整改")
    demand.save()
    if finding.escalate:
        # 提请挂包领导协调: the leader of the finding's area answers by a deadline (supervision.chain).
        chain.escalate_finding(finding=finding, user=user)
    return finding


@transaction.atomic
def rectification_start(*, rectification_id: int, user, expected_version: int) -> Rectification:
    """待整改 → 整改中: the area's people say they are working on it."""
    rectification = _locked(rectification_id, answerable_findings(user), expected_version)
    if rectification.status != Status.PENDING:
        current = rectification.get_status_display()
        raise ValidationError({"status": f"只有“待整改”的问题可以开始整改（当前：{current}）。"})
    rectification.status = Status.IN_PROGRESS
    return _save(rectification, user, "开始整改")


@transaction.atomic
def rectification_answer(
    *, rectification_id: int, user, expected_version: int, result: str, files: Iterable = ()
) -> Rectification:
    """待整改/整改中 → 待复查: the area's people report what they did, with photos or PDFs as evidence.

    Records who answered and when. A previous recheck (a rejection) is cleared: the new answer waits for a
    new recheck; the rejection stays in the history.
    """
    rectification = _locked(rectification_id, answerable_findings(user), expected_version)
    if not rectification_awaits_answer(rectification.status):
        message = CLOSED_ALREADY if rectification.status == Status.CLOSED else "整改结果已提交，正在等待复查。"
        raise ValidationError({"status": message})
    errors: dict[str, list[str]] = {}
    result = (result or "").strip()
    if is_blank(result):
        add_error(errors, "result", RESULT_REQUIRED)
    uploads = []
    try:
        uploads = validate_evidence_files(files)
    except ValidationError as e:
        add_error(errors, "files", *e.messages)
    raise_if(errors)

    rectification.status = Status.AWAITING_RECHECK
    rectification.result = result
    rectification.answered_by = user
    rectification.answered_at = timezone.now()
    rectification.rechecked_by = None
    rectification.rechecked_at = None
    _save(rectification, user, "提交整改结果")
    # Files last: if anything above fails, nothing reaches the storage.
    store_evidence(RectificationEvidence, {"rectification": rectification}, uploads, user)
    return rectification


@transaction.atomic
def rectification_recheck(
    *, rectification_id: int, user, expected_version: int, approve: bool, note: str = ""
) -> Rectification:
    """待复查 → 已销号 (``approve``) or back to 整改中 (with a ``note`` saying what is missing).

    Only a supervisor or district admin who did not answer it may recheck; closing sets the closing date
    to today and records who rechecked and when.
    """
    scope = Finding.objects.visible_to(user) if access.may_supervise(user) else Finding.objects.none()
    rectification = _locked(rectification_id, scope, expected_version)
    if rectification.status != Status.AWAITING_RECHECK:
        if rectification.status == Status.CLOSED:
            raise ValidationError({"status": CLOSED_ALREADY})
        raise ValidationError({"result": "还没有提交整改结果，不能复查销号。"})
    if rectification.answered_by_id == user.pk:
        raise ValidationError({"rechecked_by": RECHECK_OWN_ANSWER})
    note = (note or "").strip()
    if not approve and is_blank(note):
        raise ValidationError({"recheck_note": NOTE_REQUIRED_TO_REJECT})
    if approve and not rectification.result.strip():
        raise ValidationError({"result": "没有整改结果，不能销号。"})

    rectification.recheck_note = note
    rectification.rechecked_by = user
    rectification.rechecked_at = timezone.now()
    if approve:
        rectification.status = Status.CLOSED
        rectification.closed_on = clock.today()
        return _save(rectification, user, "复查通过，销号")
    rectification.status = Status.IN_PROGRESS
    rectification.rejections += 1
    _save(rectification, user, f"复查未通过，退回整改：{note}")
    if rectification.rejections >= 2:
        # Rejected twice: referred to the 纪委 at once (supervision.chain; the daily run is the backstop).
        chain.open_rejection_case(rectification=rectification, user=user)
    return rectification


@transaction.atomic
def accountability_add(*, finding_id: int, user, data: Mapping) -> Accountability:
    """Record a measure taken against a person or unit for a finding (责任追究).

    The record's own history and the finding's both say who added it.
    """
    _require_supervisor(user)
    finding = get_object_or_404(Finding.objects.visible_to(user).select_for_update(of=("self",)), pk=finding_id)
    _check_fields(data, ACCOUNTABILITY_FIELDS, "accountability")
    record = Accountability(finding=finding, **data)
    errors: dict[str, list[str]] = {}
    collect_errors(errors, record.full_clean)
    raise_if(errors)
    sign(record, user, "录入责任追究")
    record.save()
    sign(finding, user, f"责任追究：{record.subject} {record.get_measure_display()}")
    finding.save()
    return record


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def _require_supervisor(user) -> None:
    if not access.may_supervise(user):
        raise Http404("只有督查人员和区级管理员可以录入督查记录。")


def _district_of(user) -> District:
    if user.district_id:
        return user.district
    # A superuser has no area (access.area_of is None): the instance's district (one instance serves one district).
    district = District.objects.order_by("code").first() if access.area_of(user) is None else None
    if district is None:
        raise Http404("没有所属区县。")
    return district


def _target_field(target) -> str:
    fields = {Task: "task", Village: "village", Household: "household", Township: "township"}
    if type(target) not in fields:
        raise ValidationError("问题须且只须对应一个对象：任务、村、户或乡镇之一。")
    return fields[type(target)]


def _visible_target(user, field: str, target):
    queryset = {
        "task": Task.objects.visible_to(user).live(),
        "village": Village.objects.visible_to(user),
        "household": Household.objects.visible_to(user),
        "township": Township.objects.visible_to(user),
    }[field]
    return get_object_or_404(queryset, pk=target.pk)


def _locked(rectification_id: int, findings: QuerySet, expected_version) -> Rectification:
    """The rectification, locked, if its finding is in ``findings`` (else Http404) and it is still at
    ``expected_version`` (else RectificationConflict)."""
    queryset = Rectification.objects.select_for_update(of=("self",)).select_related("finding")
    rectification = get_object_or_404(queryset.filter(finding__in=findings), pk=rectification_id)
    if expected_version is None or rectification.version != int(expected_version):
        raise RectificationConflict(rectification)
    return rectification


def _save(rectification: Rectification, user, reason: str) -> Rectification:
    rectification.full_clean()
    rectification.version += 1
    sign(rectification, user, reason)
    rectification.save()
    return rectification


def _check_fields(data: Mapping, allowed: tuple[str, ...], what: str) -> None:
    unknown = set(data) - set(allowed)
    if unknown:
        raise ValueError(f"Not fields a person may set on a {what}: {sorted(unknown)}")
