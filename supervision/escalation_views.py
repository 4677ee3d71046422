"""Escalations to the 挂包 leaders (提请挂包领导协调): the list (a leader's own, open first, with the countdown to
``respond_by``; the district's for those who read supervision), an escalation's page (the finding, its
rectification, the history) and the leader's response (协调意见).

Who: a 挂包 leader reads and answers the escalations put before them (``Escalation.leader``); supervisors, district
admins, the 人大/政协 and the 纪委 read the district's, read-only; for anyone else the pages do not exist (404).
"""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count, F, Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from bazhou.core import access, clock
from bazhou.core.pages import labels, page_of, querystring_without_page, render_list
from bazhou.core.timeline import history_entries, newest_first, records_of
from supervision import chain
from supervision.chain_forms import EscalationFilterForm, RespondForm
from supervision.models import Escalation, Finding, Rectification, escalation_late_q, escalation_open_q
from supervision.views import FINDING_RELATED, describe, put_errors, timeline

ESCALATION_RELATED = ("leader", "responded_by", *(f"finding__{path}" for path in FINDING_RELATED))
HISTORY_FIELDS = ("reason", "leader", "opened_on", "respond_by", "response", "responded_by")


def _require_reader(user) -> None:
    if not access.may_read_supervision(user):
        raise Http404("页面不存在")


def countdown(escalation: Escalation, today: datetime.date) -> Escalation:
    """The escalation with what its row shows: open or answered, and days left (临期) or late (逾期)."""
    escalation.is_open = escalation.responded_at is None
    days_left = (escalation.respond_by - today).days
    escalation.days_left = max(days_left, 0)
    escalation.days_late = max(-days_left, 0)
    escalation.is_late = escalation.is_open and days_left < 0
    return escalation


@login_required
@require_GET
def escalation_list(request):
    user = request.user
    _require_reader(user)
    today = clock.today()
    visible = chain.escalations_for(user)
    form = EscalationFilterForm(request.GET, user=user)
    rows = (
        form.filter(visible)
        .select_related(*ESCALATION_RELATED)
        # Open first, the most urgent on top; then the answered ones, the latest answer first.
        .order_by(F("responded_at").desc(nulls_first=True), "respond_by", "id")
    )
    page_obj = page_of(request, rows)
    for escalation in page_obj:
        countdown(escalation, today)
        describe(escalation.finding, today)
    counts = visible.aggregate(
        open=Count("pk", filter=escalation_open_q()),
        late=Count("pk", filter=escalation_late_q(today)),
        answered=Count("pk", filter=~escalation_open_q()),
        no_leader=Count("pk", filter=Q(leader__isnull=True)),
    )
    context = {
        "form": form,
        "page_obj": page_obj,
        "querystring": querystring_without_page(request),
        "counts": counts,
        "today": today,
        "is_leader": access.may_respond_to_escalations(user),
        "labels": labels(Escalation),
    }
    return render_list(request, "supervision/escalation_list.html", "supervision/_escalation_list.html", context)


def _visible_escalation(request, pk) -> Escalation:
    _require_reader(request.user)
    queryset = chain.escalations_for(request.user).select_related(
        *ESCALATION_RELATED,
        "finding__inspection",
        "finding__reported_by",
        "finding__rectification__answered_by",
        "finding__rectification__rechecked_by",
    )
    return get_object_or_404(queryset, pk=pk)


@login_required
@require_GET
def escalation_detail(request, pk):
    escalation = _visible_escalation(request, pk)
    return _page(request, escalation, RespondForm())


@login_required
@require_POST
def escalation_respond(request, pk):
    """回复协调意见: the leader the escalation was put before, once."""
    user = request.user
    escalation = _visible_escalation(request, pk)
    if escalation.leader_id != user.pk or not access.may_respond_to_escalations(user):
        raise Http404("页面不存在")
    if escalation.responded_at is not None:
        # A second submission of the same form (a double tap): the first one was recorded.
        messages.info(request, chain.RESPONDED_ALREADY)
        return redirect("supervision:escalation", pk=escalation.pk)
    form = RespondForm(request.POST)
    if form.is_valid():
        try:
            chain.respond(escalation_id=escalation.pk, user=user, response=form.cleaned_data["response"])
        except ValidationError as error:
            if chain.RESPONDED_ALREADY in error.messages:
                messages.info(request, chain.RESPONDED_ALREADY)
                return redirect("supervision:escalation", pk=escalation.pk)
            put_errors(form, error)
        else:
            messages.success(request, "已回复协调意见，督查人员将收到通知。")
            return redirect("supervision:escalation", pk=escalation.pk)
    return _page(request, escalation, form)


def _page(request, escalation: Escalation, form: RespondForm, status: int = 200):
    today = clock.today()
    countdown(escalation, today)
    finding = describe(escalation.finding, today)
    rectification = finding.rect
    entries = history_entries(
        records_of(escalation.history.all()),
        model=Escalation,
        fields=HISTORY_FIELDS,
        kind="escalation",
        related={escalation.leader_id: escalation.leader, escalation.responded_by_id: escalation.responded_by},
    )
    context = {
        "escalation": escalation,
        "finding": finding,
        "target": finding.target_info,
        "rectification": rectification,
        "overdue": finding.overdue,
        "may_respond": access.may_respond_to_escalation(request.user, escalation),
        "form": form,
        "timeline": newest_first(entries, timeline(finding, rectification)),
        "today": today,
        "labels": {
            "escalation": labels(Escalation),
            "finding": labels(Finding),
            "rectification": labels(Rectification),
        },
    }
    return render(request, "supervision/escalation_detail.html", context, status=status)
