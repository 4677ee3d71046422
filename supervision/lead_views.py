"""Leads (线索) and progress observations (进度观察) from the villages' information officers, and supervision opinions
(督导意见) on findings.

- ``leads/``: the leads the user sees (``Lead.objects.visible_to``: an informant their village's, a supervisor,
  the 人大/政协 and the 纪委 the district's, a 挂包 leader their charge's), new first, filtered by state, kind,
  township and village; an informant also gets the button to file one.
- ``leads/new/``: the informant's phone-first form (one-time token: sending it twice files one lead).
- ``leads/<id>/``: the lead, what became of it, its history, and for a supervisor the handling form.
- ``leads/<id>/handle/`` (POST): turn into a finding, keep on file or dismiss (supervisors and district admins).
- ``findings/<id>/opinion/`` (POST): a 人大/政协 user records an opinion on a finding they see.

Pages someone may not use are a 404, as elsewhere in ``supervision.views``.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Case, IntegerField, Value, When
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from bazhou.core import access, clock
from bazhou.core.access import get_visible_or_404
from bazhou.core.pages import labels, page_of, querystring_without_page, render_list
from bazhou.core.timeline import history_entries, newest_first, records_of
from supervision import lead_services
from supervision.lead_forms import LeadFilterForm, LeadForm, LeadHandleForm, OpinionForm
from supervision.models import Lead
from supervision.views import _finding_page, _visible_finding, describe, put_errors

LEAD_RELATED = ("village__township", "task__plan", "task__household", "household", "filed_by", "handled_by", "finding")
LEAD_HISTORY_FIELDS = (
    "kind",
    "description",
    "observed_on",
    "task",
    "household",
    "state",
    "finding",
    "handling_note",
    "handled_by",
)


def _require_lead_reader(user) -> None:
    if not access.may_read_leads(user):
        raise Http404("页面不存在")


def _new_first(leads):
    """待处理 first, then the newest observed, then the newest filed."""
    return leads.annotate(
        handled=Case(When(state=Lead.State.NEW, then=Value(0)), default=Value(1), output_field=IntegerField())
    ).order_by("handled", "-observed_on", "-id")


@login_required
@require_GET
def lead_list(request):
    user = request.user
    _require_lead_reader(user)
    form = LeadFilterForm(request.GET, user=user)
    leads = form.filter(Lead.objects.visible_to(user)).select_related(*LEAD_RELATED)
    context = {
        "form": form,
        "page_obj": page_of(request, _new_first(leads)),
        "querystring": querystring_without_page(request),
        "labels": labels(Lead),
        "can_file": access.may_file_leads(user),
        "can_handle": access.may_handle_leads(user),
    }
    return render_list(request, "supervision/lead_list.html", "supervision/lead_list_results.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def lead_create(request):
    user = request.user
    if not access.may_file_leads(user) or not user.village_id:
        raise Http404("页面不存在")
    if request.method == "POST":
        form = LeadForm(request.POST, user=user)
        if form.is_valid():
            try:
                lead, created = lead_services.lead_file(
                    user=user, data=form.service_data(), token=form.cleaned_data["token"]
                )
            except ValidationError as error:
                put_errors(form, error)
            else:
                if created:
                    messages.success(request, f"已报送{lead.get_kind_display()}，督查人员处理后会通知您。")
                else:
                    messages.info(request, "这条线索已报送，没有重复报送。")
                return redirect("supervision:lead", pk=lead.pk)
    else:
        form = LeadForm(user=user, initial={"observed_on": clock.today()})
    return render(request, "supervision/lead_form.html", {"form": form, "village": user.village})


def _lead_page(request, lead, *, form=None, status=200):
    user = request.user
    can_handle = access.may_handle_leads(user) and (
        lead.state == Lead.State.NEW or (lead.state == Lead.State.NOTED and lead.finding_id is None)
    )
    if can_handle and form is None:
        form = LeadHandleForm(initial={"type": "delay" if lead.task_id else "", "severity": "minor"})
    context = {
        "lead": lead,
        "labels": labels(Lead),
        "can_handle": can_handle,
        "form": form if can_handle else None,
        "history": lead_timeline(lead),
    }
    return render(request, "supervision/lead_detail.html", context, status=status)


@login_required
@require_GET
def lead_detail(request, pk):
    _require_lead_reader(request.user)
    lead = get_visible_or_404(Lead.objects.select_related(*LEAD_RELATED), request.user, pk=pk)
    return _lead_page(request, lead)


@login_required
@require_POST
def lead_handle(request, pk):
    user = request.user
    if not access.may_handle_leads(user):
        raise Http404("页面不存在")
    lead = get_visible_or_404(Lead.objects.select_related(*LEAD_RELATED), user, pk=pk)
    form = LeadHandleForm(request.POST)
    if form.is_valid():
        try:
            lead = lead_services.lead_handle(
                user=user,
                lead_id=lead.pk,
                state=form.cleaned_data["state"],
                note=form.cleaned_data["note"],
                finding=form.finding_values(),
            )
        except ValidationError as error:
            put_errors(form, error)
            lead.refresh_from_db()
        else:
            if lead.finding_id:
                messages.success(request, "线索已转为问题，并下达整改。")
                return redirect("supervision:finding", pk=lead.finding_id)
            messages.success(request, f"线索已处理：{lead.get_state_display()}。")
            return redirect("supervision:lead", pk=lead.pk)
    if lead.state not in (Lead.State.NEW, Lead.State.NOTED) or lead.finding_id:  # no form on the page: say why
        messages.error(request, "；".join(m for errors in form.errors.values() for m in errors))
    return _lead_page(request, lead, form=form, status=400)


def lead_timeline(lead: Lead):
    """Who filed the lead and who handled it, newest first (one query)."""
    records = records_of(lead.history.all())
    # The rows the lead points to, as they are now (already fetched with the lead): no query per record.
    rows = {"task": lead.task, "household": lead.household, "finding": lead.finding, "handled_by": lead.handled_by}

    def shown(field, value):
        row = rows.get(field)
        if row is not None and value == row.pk:
            return f"{row.item}" if field == "task" else str(row)
        return None

    return newest_first(history_entries(records, model=Lead, fields=LEAD_HISTORY_FIELDS, shown=shown, kind="lead"))


# ---------------------------------------------------------------------------------------------
# Supervision opinions (督导意见) on a finding
# ---------------------------------------------------------------------------------------------


@login_required
@require_POST
def finding_opinion(request, pk):
    user = request.user
    if not access.may_give_opinions(user):
        raise Http404("页面不存在")
    finding = _visible_finding(request, pk)
    form = OpinionForm(request.POST)
    if form.is_valid():
        try:
            opinion, created = lead_services.opinion_give(
                user=user, finding_id=finding.pk, data=form.service_data(), token=form.cleaned_data["token"]
            )
        except ValidationError as error:
            put_errors(form, error)
        else:
            if created:
                messages.success(request, f"已记录{opinion.get_body_display()}督导意见，并通知责任单位和督查人员。")
            else:
                messages.info(request, "这条督导意见已提交，没有重复记录。")
            return redirect("supervision:finding", pk=finding.pk)
    today = clock.today()
    describe(finding, today)
    response = _finding_page(request, finding, finding.rect, today, opinion_form=form)
    response.status_code = 400
    return response
