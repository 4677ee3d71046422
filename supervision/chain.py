"""The supervision chain's escalations (提请挂包领导协调) and the 纪委's accountability inbox (追责线索): opening
them (the daily step called by ``supervision.notifications.run_daily``, a finding filed with ``escalate``, the
recheck that sends an answer back the second time), and the two writes people make on them: the 挂包 leader's
response and the 纪委's decision. See docs/supervision-chain.md.

- An escalation goes to the 挂包 leader whose charge holds the finding's village or its township
  (:func:`bazhou.core.access.charge_leaders_of`, the first by id; none: ``leader`` is null, shown as 无挂包领导),
  who answers by ``respond_by`` (opened on + ``BAZHOU_ESCALATION_RESPONSE_DAYS``).
- The daily step opens, for one district and day: an escalation for each rectification overdue by more than
  ``BAZHOU_ESCALATE_AFTER_DAYS`` days, and a case for each rectification overdue by more than
  ``BAZHOU_CASE_RECTIFICATION_DAYS`` days, each rectification rejected at recheck twice or more, and each plan row
  overdue by more than ``BAZHOU_CASE_TASK_DAYS`` days. Exactly N days overdue opens nothing; N + 1 days does.
  It reads what exists and inserts what is missing in a fixed number of queries whatever the number of rows; the
  unique constraints (one escalation per finding and reason, one case per object and reason) make a second run, or
  a concurrent one, insert nothing.
- Every opening tells someone (``bazhou.core.notify``, idempotent per recipient, object, reason and day): the
  escalation's leader (reason ``escalation``), the district's 纪委 users (reason ``accountability``); a response
  tells the district's supervisors (reason ``escalation``).
- Responding and deciding lock the row and act only while it is open: a second submission of the same form
  changes nothing and says so.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet, Subquery
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone

from bazhou.core import access, clock
from bazhou.core.models import Notification, User
from bazhou.core.notify import Message, Person, notify_people, target_of
from bazhou.core.services import collect_errors, raise_if, sign
from supervision.models import (
    Accountability,
    AccountabilityCase,
    Escalation,
    Finding,
    Organiser,
    Rectification,
    rectification_overdue_q,
)
from tasks.models import Task, days_overdue, overdue_by_at_least_q
from villages.models import District

Reason = AccountabilityCase.Reason
State = AccountabilityCase.State

SYSTEM = "每日督查"
RESPONSE_REQUIRED = "请填写协调意见。"
RESPONDED_ALREADY = "该事项已回复，不能重复回复。"
DECIDED_ALREADY = "该追责线索已处理，不能重复处理。"
DISMISS_REASON_REQUIRED = "不予追责须写明理由。"
DECISION_FIELDS = (
    "subject_kind",
    "subject",
    "subject_post",
    "measure",
    "decided_on",
    "document_number",
    "note",
)


@dataclass
class ChainResult:
    escalations: int = 0
    cases: int = 0


# ---------------------------------------------------------------------------------------------
# Where a finding is: its township and village, and the 挂包 leader of that place
# ---------------------------------------------------------------------------------------------


def _leader(prefix: str = "") -> Subquery:
    """The escalation's leader of a finding (reached through ``prefix``): the first (by id) active 挂包 leader whose
    charge holds its village or its township (:func:`access.charge_leaders_of`; the finding's kept area, ``area_*``);
    null when there is none."""
    leaders = User.objects.filter(
        access.charge_leaders_of(township=OuterRef(f"{prefix}area_township"), village=OuterRef(f"{prefix}area_village"))
    )
    return Subquery(leaders.order_by("pk").values("pk")[:1])


def _rectifications(district) -> QuerySet:
    return Rectification.objects.filter(finding__area_district=_code(district))


def _findings(district) -> QuerySet:
    return Finding.objects.filter(area_district=_code(district))


def _place_of_finding(finding_id: int) -> tuple[str, int | None]:
    """The district code, and the escalation leader's id (or None), of one finding (one query)."""
    return (
        Finding.objects.filter(pk=finding_id)
        .annotate(leader_key=_leader())
        .values_list("area_district", "leader_key")
        .get()
    )


def _without_history(model, queryset: QuerySet) -> list:
    """Rows of ``queryset`` that have no history record yet: those just inserted with ``bulk_create``."""
    records = model.history.filter(id=OuterRef("pk"))
    return list(queryset.filter(~Exists(records)))


def _history_for_inserted(model, queryset: QuerySet, reason: str) -> int:
    """Write the first history record (by the system, with ``reason``) of the rows ``bulk_create`` inserted."""
    rows = _without_history(model, queryset)
    if rows:
        model.history.bulk_history_create(rows, default_change_reason=reason, default_date=timezone.now())
    return len(rows)


# ---------------------------------------------------------------------------------------------
# The daily step
# ---------------------------------------------------------------------------------------------


def daily(*, district, today: datetime.date) -> ChainResult:
    """Open the escalations and accountability cases that are due on ``today`` for ``district`` (idempotent), and
    tell the leaders and the 纪委. A fixed number of queries, whatever the number of rows."""
    with transaction.atomic():
        escalations = _escalate_overdue(district, today)
        cases = _open_daily_cases(district, today)
    return ChainResult(escalations=escalations, cases=cases)


def _escalate_overdue(district, today: datetime.date) -> int:
    after = settings.BAZHOU_ESCALATE_AFTER_DAYS
    due = _rectifications(district).filter(rectification_overdue_q(today), overdue_by_at_least_q(today, after + 1))
    missing = due.exclude(finding__escalations__reason=Escalation.Reason.RECTIFICATION_OVERDUE).annotate(
        leader_key=_leader("finding__")
    )
    respond_by = today + datetime.timedelta(days=settings.BAZHOU_ESCALATION_RESPONSE_DAYS)
    new = [
        Escalation(
            finding_id=finding_id,
            reason=Escalation.Reason.RECTIFICATION_OVERDUE,
            leader_id=leader_id,
            opened_on=today,
            respond_by=respond_by,
        )
        for finding_id, leader_id in missing.values_list("finding_id", "leader_key")
    ]
    if not new:
        return 0
    # A concurrent run may have inserted some of them: the unique constraint drops those.
    Escalation.objects.bulk_create(new, ignore_conflicts=True, batch_size=500)
    opened = Escalation.objects.filter(
        opened_on=today,
        reason=Escalation.Reason.RECTIFICATION_OVERDUE,
        finding__in=_findings(district).values("pk"),
    )
    created = _history_for_inserted(Escalation, opened, f"{SYSTEM}：整改逾期超过 {after} 天，提请挂包领导协调")
    notify_leaders(opened.filter(leader__isnull=False), day=today, district=district)
    return created


def _open_daily_cases(district, today: datetime.date) -> int:
    rect_days = settings.BAZHOU_CASE_RECTIFICATION_DAYS
    task_days = settings.BAZHOU_CASE_TASK_DAYS
    rectifications = _rectifications(district)
    overdue = rectifications.filter(
        rectification_overdue_q(today), overdue_by_at_least_q(today, rect_days + 1)
    ).exclude(cases__reason=Reason.RECTIFICATION_OVERDUE)
    rejected = rectifications.filter(rejections__gte=2).exclude(cases__reason=Reason.RECHECK_REJECTED)
    tasks = (
        Task.objects.filter(plan__village__township__district=district)
        .overdue(today)
        .filter(overdue_by_at_least_q(today, task_days + 1))
        .exclude(cases__reason=Reason.TASK_OVERDUE)
    )
    new = [
        AccountabilityCase(
            district_id=_code(district),
            reason=Reason.RECTIFICATION_OVERDUE,
            rectification_id=pk,
            opened_on=today,
            detail=rectification_overdue_detail(deadline, today),
        )
        for pk, deadline in overdue.values_list("pk", "deadline")
    ]
    new += [
        AccountabilityCase(
            district_id=_code(district),
            reason=Reason.RECHECK_REJECTED,
            rectification_id=pk,
            opened_on=today,
            detail=rejected_detail(n),
        )
        for pk, n in rejected.values_list("pk", "rejections")
    ]
    new += [
        AccountabilityCase(
            district_id=_code(district),
            reason=Reason.TASK_OVERDUE,
            task_id=pk,
            opened_on=today,
            detail=task_overdue_detail(deadline, today),
        )
        for pk, deadline in tasks.values_list("pk", "deadline")
    ]
    if not new:
        return 0
    AccountabilityCase.objects.bulk_create(new, ignore_conflicts=True, batch_size=500)
    opened = AccountabilityCase.objects.filter(district=district, opened_on=today)
    created = _history_for_inserted(AccountabilityCase, opened, f"{SYSTEM}：移送区纪委")
    notify_discipline(opened.filter(state=State.OPEN), day=today, district=district)
    return created


def _code(district) -> str:
    return getattr(district, "pk", district)


def _district(district) -> District | None:
    """A District (for a notification's ``district``) from a District or its code."""
    if district is None or isinstance(district, District):
        return district
    return District(code=district)


def rectification_overdue_detail(deadline: datetime.date, today: datetime.date) -> str:
    return f"整改时限 {deadline:%Y-%m-%d}，已逾期 {days_overdue(deadline, today)} 天仍未销号。"


def rejected_detail(rejections: int) -> str:
    return f"整改结果复查 {rejections} 次未通过。"


def task_overdue_detail(deadline: datetime.date, today: datetime.date) -> str:
    return f"完成时限 {deadline:%Y-%m-%d}，已逾期 {days_overdue(deadline, today)} 天仍未完成。"


# ---------------------------------------------------------------------------------------------
# Opening one at once: a finding filed with escalate, a second rejection at recheck
# ---------------------------------------------------------------------------------------------


def escalate_finding(*, finding: Finding, user, today: datetime.date | None = None) -> Escalation:
    """Put a major finding (``escalate`` ticked) before the 挂包 leader of its area, once: a second call finds the
    escalation. Tells the leader."""
    today = today or clock.today()
    existing = Escalation.objects.filter(finding=finding, reason=Escalation.Reason.MAJOR_FINDING).first()
    if existing is not None:
        return existing
    district, leader_id = _place_of_finding(finding.pk)
    escalation = Escalation(
        finding=finding,
        reason=Escalation.Reason.MAJOR_FINDING,
        leader_id=leader_id,
        opened_on=today,
        respond_by=today + datetime.timedelta(days=settings.BAZHOU_ESCALATION_RESPONSE_DAYS),
    )
    sign(escalation, user, "重大问题，提请挂包领导协调")
    escalation.save()
    if leader_id is not None:
        notify_leaders(Escalation.objects.filter(pk=escalation.pk), day=today, district=district)
    return escalation


def open_rejection_case(*, rectification: Rectification, user, today: datetime.date | None = None):
    """The recheck that sent ``rectification`` back the second time (or more) refers it to the 纪委 at once, once.
    Returns the case (new or existing)."""
    today = today or clock.today()
    existing = AccountabilityCase.objects.filter(rectification=rectification, reason=Reason.RECHECK_REJECTED).first()
    if existing is not None:
        return existing
    district, _leader_id = _place_of_finding(rectification.finding_id)
    case = AccountabilityCase(
        district_id=district,
        reason=Reason.RECHECK_REJECTED,
        rectification=rectification,
        opened_on=today,
        detail=rejected_detail(rectification.rejections),
    )
    sign(case, user, "复查两次未通过，移送区纪委")
    case.save()
    notify_discipline(AccountabilityCase.objects.filter(pk=case.pk), day=today, district=district)
    return case


# ---------------------------------------------------------------------------------------------
# Notifications
# ---------------------------------------------------------------------------------------------


def _person(user) -> Person:
    return Person(name=str(user), phone=user.phone or "", email=user.email or "", user_id=user.pk)


def notify_leaders(escalations: QuerySet, *, day: datetime.date, district) -> int:
    """Tell each escalation's leader (reason ``escalation``): one query for the escalations, one insert."""
    pairs = []
    for escalation in escalations.select_related("leader", "finding"):
        leader = escalation.leader
        if leader is None or not leader.is_active:
            continue
        message = Message(
            reason=Notification.Reason.ESCALATION,
            target=target_of(escalation),
            title=f"提请协调（{escalation.get_reason_display()}）：{escalation.finding.description[:40]}",
            body=f"请于 {escalation.respond_by:%Y-%m-%d} 前回复协调意见。",
            url=reverse("supervision:escalation", args=[escalation.pk]),
        )
        pairs.append((_person(leader), message))
    return notify_people(pairs, day=day, district=_district(district)) if pairs else 0


def notify_discipline(cases: QuerySet, *, day: datetime.date, district) -> int:
    """Tell the district's 纪委 users of each case (reason ``accountability``): two queries and one insert."""
    users = list(User.objects.filter(access.discipline_of(district)).order_by("pk"))
    if not users:
        return 0
    pairs = []
    for case in cases.select_related("task", "rectification__finding"):
        message = Message(
            reason=Notification.Reason.ACCOUNTABILITY,
            target=target_of(case),
            title=f"追责线索（{case.get_reason_display()}）：{case_subject(case)}"[:200],
            body=case.detail,
            url=reverse("supervision:case", args=[case.pk]),
        )
        pairs.extend((_person(u), message) for u in users)
    return notify_people(pairs, day=day, district=_district(district)) if pairs else 0


def notify_supervisors(escalation: Escalation, *, day: datetime.date, district) -> int:
    users = User.objects.filter(access.supervisors_of(district)).order_by("pk")
    message = Message(
        reason=Notification.Reason.ESCALATION,
        target=target_of(escalation),
        title=f"挂包领导已回复协调意见：{escalation.finding.description[:40]}",
        body=escalation.response[:500],
        url=reverse("supervision:escalation", args=[escalation.pk]),
    )
    return notify_people([(_person(u), message) for u in users], day=day, district=_district(district))


def case_subject(case: AccountabilityCase) -> str:
    """What a case is about, in a few words (needs ``task`` / ``rectification__finding`` selected)."""
    if case.task_id:
        return case.task.item
    return case.rectification.finding.description[:40]


# ---------------------------------------------------------------------------------------------
# Who reads them
# ---------------------------------------------------------------------------------------------


def escalations_for(user) -> QuerySet:
    """The escalations ``user`` reads: a 挂包 leader those put before them, who reads supervision the district's
    (their findings' ``visible_to``), anyone else none (:func:`access.escalations_q`)."""
    return Escalation.objects.visible_to(user).filter(access.escalations_q(user))


def cases_for(user) -> QuerySet:
    """The cases ``user`` reads: the 纪委, the supervisors and the 人大/政协 their district's; anyone else none."""
    if not access.may_read_cases(user):
        return AccountabilityCase.objects.none()
    return AccountabilityCase.objects.visible_to(user)


# ---------------------------------------------------------------------------------------------
# Writes: the leader's response, the 纪委's decision
# ---------------------------------------------------------------------------------------------


@transaction.atomic
def respond(*, escalation_id: int, user, response: str) -> Escalation:
    """The 挂包 leader records their coordination (协调意见): the escalation is closed with who and when, and the
    district's supervisors are told. Only the leader it was put before; once only (a second submission raises a
    ValidationError and changes nothing)."""
    escalation = get_object_or_404(
        escalations_for(user).select_for_update(of=("self",)).select_related("finding"), pk=escalation_id
    )
    if escalation.leader_id != user.pk or not access.may_respond_to_escalations(user):
        raise Http404("只有被提请的挂包领导可以回复。")
    if escalation.responded_at is not None:
        raise ValidationError({"response": RESPONDED_ALREADY})
    response = (response or "").strip()
    if not response:
        raise ValidationError({"response": RESPONSE_REQUIRED})
    escalation.response = response
    escalation.responded_by = user
    escalation.responded_at = timezone.now()
    escalation.full_clean()
    sign(escalation, user, "回复协调意见")
    escalation.save()
    district, _leader_id = _place_of_finding(escalation.finding_id)
    notify_supervisors(escalation, day=clock.today(), district=district)
    return escalation


@transaction.atomic
def decide(*, case_id: int, user, hold: bool, data: Mapping | None = None, note: str = "") -> AccountabilityCase:
    """The 纪委 decides a case: 追责 (``hold``) records an accountability measure (decided by 区纪委) on the
    rectification's finding, or, for a plan row's case, on a finding of type 进度滞后 filed for the row by this
    decision; 不予追责 needs a reason (``note``). Once only: a second submission raises a ValidationError."""
    if not access.may_decide_cases(user):
        raise Http404("只有区纪委可以处理追责线索。")
    case = get_object_or_404(
        cases_for(user).select_for_update(of=("self",)).select_related("task", "rectification__finding"),
        pk=case_id,
    )
    if case.state != State.OPEN:
        raise ValidationError({"__all__": DECIDED_ALREADY})
    note = (note or "").strip()
    today = clock.today()
    if not hold:
        if not note:
            raise ValidationError({"decision_note": DISMISS_REASON_REQUIRED})
        case.state = State.DISMISSED
        case.decision_note = note
        return _decided(case, user, f"不予追责：{note}")

    data = dict(data or {})
    unknown = set(data) - set(DECISION_FIELDS)
    if unknown:
        raise ValueError(f"Not fields a person may set on a decision: {sorted(unknown)}")
    record = Accountability(decided_by=Organiser.DISCIPLINE, **data)
    errors: dict[str, list[str]] = {}
    collect_errors(errors, lambda: record.full_clean(exclude=["finding"]))
    raise_if(errors)

    finding = case.rectification.finding if case.rectification_id else _delay_finding(case, user, today)
    record.finding = finding
    sign(record, user, "区纪委追责")
    record.save()
    sign(finding, user, f"责任追究：{record.subject} {record.get_measure_display()}")
    finding.save()
    case.state = State.DECIDED
    case.accountability = record
    case.decision_note = note
    return _decided(case, user, f"追责：{record.subject} {record.get_measure_display()}")


def _delay_finding(case: AccountabilityCase, user, today: datetime.date) -> Finding:
    """The finding (进度滞后) a plan row's case is decided on, filed by the decision."""
    task = case.task
    finding = Finding(
        task=task,
        type=Finding.Type.DELAY,
        severity=Finding.Severity.SEVERE,
        description=f"“{task.item}”{case.detail or '严重逾期'}（区纪委追责线索）",
        found_on=today,
        reported_by=user,
    )
    finding.full_clean()
    sign(finding, user, "区纪委追责：任务严重逾期")
    finding.save()
    return finding


def _decided(case: AccountabilityCase, user, reason: str) -> AccountabilityCase:
    case.decided_by = user
    case.decided_at = timezone.now()
    case.full_clean()
    sign(case, user, reason)
    case.save()
    return case
