"""The 纪委's accountability inbox (追责线索): the list (open first, filters by reason and state, counts), a case's
page (the plan row or the rectification, days overdue, rejections, history) and the decision (追责 / 不予追责).

Who: the 纪委 reads and decides their district's cases; supervisors, district admins and the 人大/政协 read them;
for anyone else the pages do not exist (404).
"""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Case, Count, IntegerField, Q, Value, When
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from bazhou.core import access, clock
from bazhou.core.notify import mask_phone, notices_about
from bazhou.core.pages import labels, page_of, querystring_without_page, render_list
from bazhou.core.timeline import history_entries, newest_first, records_of
from supervision import chain
from supervision.chain_forms import CaseFilterForm, DecideForm
from supervision.models import Accountability, AccountabilityCase, Rectification
from supervision.views import FINDING_RELATED, describe, put_errors, timeline
from tasks.models import days_overdue

State = AccountabilityCase.State
CASE_RELATED = (
    "task__plan__village__township",
    "task__household",
    "task__department",
    "accountability",
    "decided_by",
    *(f"rectification__finding__{path}" for path in FINDING_RELATED if path != "rectification"),
)
HISTORY_FIELDS = ("reason", "opened_on", "detail", "state", "decision_note", "decided_by")
# Service error keys that the decision form names differently.
FIELD_NAMES = {"decision_note": "note"}


def _require_reader(user) -> None:
    if not access.may_read_cases(user):
        raise Http404("页面不存在")


def facts(case: AccountabilityCase, today: datetime.date) -> AccountabilityCase:
    """The case with what its row shows: its object's deadline and days overdue (while open), its rejections."""
    if case.task_id:
        task = case.task
        case.deadline = task.deadline
        case.still_overdue = task.is_overdue(today)
        case.rejections = None
        case.subject_text = f"{task.plan.village.township.name} {task.plan.village.name} {task.item}"
    else:
        rectification = case.rectification
        case.deadline = rectification.deadline
        case.still_overdue = rectification.is_overdue(today)
        case.rejections = rectification.rejections
        finding = describe(rectification.finding, today)
        place = finding.target_info
        case.subject_text = f"{place.township.name if place.township else ''} {place.text}：{finding.description[:40]}"
    case.days_overdue = days_overdue(case.deadline, today) if case.still_overdue else None
    return case


@login_required
@require_GET
def case_list(request):
    user = request.user
    _require_reader(user)
    today = clock.today()
    visible = chain.cases_for(user)
    form = CaseFilterForm(request.GET, user=user)
    open_first = Case(When(state=State.OPEN, then=Value(0)), default=Value(1), output_field=IntegerField())
    rows = form.filter(visible).select_related(*CASE_RELATED).order_by(open_first, "-opened_on", "-id")
    page_obj = page_of(request, rows)
    for case in page_obj:
        facts(case, today)
    counts = visible.aggregate(
        open=Count("pk", filter=Q(state=State.OPEN)),
        decided=Count("pk", filter=Q(state=State.DECIDED)),
        dismissed=Count("pk", filter=Q(state=State.DISMISSED)),
        **{reason: Count("pk", filter=Q(state=State.OPEN, reason=reason)) for reason in AccountabilityCase.Reason},
    )
    reasons = [(reason.value, reason.label, counts[reason]) for reason in AccountabilityCase.Reason]
    context = {
        "form": form,
        "page_obj": page_obj,
        "querystring": querystring_without_page(request),
        "counts": counts,
        "reasons": reasons,
        "today": today,
        "may_decide": access.may_decide_cases(user),
        "labels": labels(AccountabilityCase),
    }
    return render_list(request, "supervision/case_list.html", "supervision/_case_list.html", context)


def _visible_case(request, pk) -> AccountabilityCase:
    _require_reader(request.user)
    queryset = chain.cases_for(request.user).select_related(
        *CASE_RELATED, "rectification__answered_by", "rectification__rechecked_by"
    )
    return get_object_or_404(queryset, pk=pk)


@login_required
@require_GET
def case_detail(request, pk):
    case = _visible_case(request, pk)
    return _page(request, case, DecideForm(initial={"decided_on": clock.today()}))


@login_required
@require_POST
def case_decide(request, pk):
    """追责 or 不予追责: the 纪委, once."""
    user = request.user
    case = _visible_case(request, pk)
    if not access.may_decide_cases(user):
        raise Http404("页面不存在")
    if case.state != State.OPEN:
        # A second submission of the same form (a double tap): the first one was recorded.
        messages.info(request, chain.DECIDED_ALREADY)
        return redirect("supervision:case", pk=case.pk)
    form = DecideForm(request.POST)
    if form.is_valid():
        try:
            decided = chain.decide(
                case_id=case.pk,
                user=user,
                hold=form.hold,
                data=form.record_data() if form.hold else None,
                note=form.cleaned_data["note"],
            )
        except ValidationError as error:
            if chain.DECIDED_ALREADY in error.messages:
                messages.info(request, chain.DECIDED_ALREADY)
                return redirect("supervision:case", pk=case.pk)
            _put_errors(form, error)
        else:
            if decided.state == State.DECIDED:
                record = decided.accountability
                messages.success(request, f"已追责：{record.subject} {record.get_measure_display()}。")
            else:
                messages.success(request, "已记录不予追责及理由。")
            return redirect("supervision:case", pk=case.pk)
    return _page(request, case, form)


def _put_errors(form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        error = ValidationError({FIELD_NAMES.get(k, k): v for k, v in error.error_dict.items()})
    put_errors(form, error)


def _page(request, case: AccountabilityCase, form: DecideForm):
    today = clock.today()
    facts(case, today)
    entries = history_entries(
        records_of(case.history.all()),
        model=AccountabilityCase,
        fields=HISTORY_FIELDS,
        kind="case",
        related={case.decided_by_id: case.decided_by},
    )
    rectification = case.rectification
    finding = rectification.finding if rectification is not None else None
    groups = [entries]
    if finding is not None:
        groups.append(timeline(finding, rectification))
    notices = list(notices_about(case.task or rectification))
    for notice in notices:
        notice.masked_phone = mask_phone(notice.phone) if notice.phone else ""
    context = {
        "notices": notices,
        "case": case,
        "finding": finding,
        "target": finding.target_info if finding is not None else None,
        "rectification": rectification,
        "task": case.task,
        "may_decide": access.may_decide_cases(request.user) and case.state == State.OPEN,
        "form": form,
        "timeline": newest_first(*groups),
        "today": today,
        "labels": {
            "case": labels(AccountabilityCase),
            "rectification": labels(Rectification),
            "accountability": labels(Accountability),
        },
    }
    return render(request, "supervision/case_detail.html", context)
