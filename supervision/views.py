"""Supervision pages (督查): the review queue of late and at-risk plan rows, inspections, findings with their
rectification (start, answer with evidence, recheck and close) and accountability.

Thin function views, as in ``tasks.views``: fetch through the access scope (a row outside the user's area
is a 404, and so is a page only supervisors use), validate a form, call one service from
``supervision.services``, redirect. Each action on a finding has its own URL and view, POST only
(``findings/<id>/start/``, ``answer/``, ``recheck/``, ``accountability/``), and its evidence files have theirs
(``findings/<id>/evidence/<file id>/``), all behind the same access check as the finding's page. Bulletin pages
live in ``supervision.bulletin_views``.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from bazhou.core import access, clock
from bazhou.core.access import get_visible_or_404
from bazhou.core.downloads import evidence_response
from bazhou.core.pages import labels, page_of, querystring_without_page, render_list
from bazhou.core.timeline import Change, Entry, display_value, field_label
from households.models import Household
from supervision import services
from supervision.forms import (
    AccountabilityForm,
    AnswerForm,
    FindingFilterForm,
    FindingForm,
    InspectionForm,
    QueueFilterForm,
    RecheckForm,
)
from supervision.history import inspection_timeline
from supervision.lead_forms import OpinionForm
from supervision.lead_services import opinions_of
from supervision.models import Finding, Inspection, Rectification, RectificationEvidence
from tasks.forms import VersionForm
from tasks.models import Task, days_overdue
from villages.models import Township, Village

# What a finding row shows besides itself: its rectification, and each possible target with its township.
FINDING_RELATED = (
    "rectification",
    "task__plan__village__township",
    "task__household",
    "village__township",
    "household__village__township",
    "township",
)


def _require_supervisor(user) -> None:
    """Pages only supervisors and district admins use do not exist for anyone else."""
    if not access.may_supervise(user):
        raise Http404("页面不存在")


def _require_reader(user) -> None:
    """Pages that read what the supervisors read (the queue) do not exist for anyone else; the oversight,
    discipline and 挂包 leaders read them too, their rows always through ``visible_to``."""
    if not access.may_read_supervision(user):
        raise Http404("页面不存在")


# ---------------------------------------------------------------------------------------------
# The review queue (逾期督办)
# ---------------------------------------------------------------------------------------------


@login_required
@require_GET
def review_queue(request):
    user = request.user
    _require_reader(user)
    today = clock.today()
    form = QueueFilterForm(request.GET, user=user)
    rows = services.queue_rows(user=user, today=today, view=form.view_name, days=form.days_value)
    rows = form.filter(rows, today)
    page_obj = page_of(request, rows.select_related("plan__village__township", "household").order_by(*form.ordering()))
    for task in page_obj:
        task.overdue = task.is_overdue(today)
        task.baseline_overdue = task.is_baseline_overdue(today)
        task.days_overdue = days_overdue(task.deadline, today)
        task.days_left = max(-task.days_overdue, 0)
    context = {
        "form": form,
        "view": form.view_name,
        "view_label": services.QUEUE_VIEWS[form.view_name],
        "days": form.days_value,
        "page_obj": page_obj,
        "querystring": querystring_without_page(request),
        "ranking": _ranking_links(request, services.queue_ranking(rows, today)),
        "today": today,
        "labels": labels(Task),
        "can_file": access.may_supervise(user),
    }
    return render_list(request, "supervision/queue.html", "supervision/_queue_list.html", context)


def _ranking_links(request, ranking: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """Each figure of the queue's ranking leads to the queue filtered by it: the current filters, and the township
    (or the responsible unit) of the figure; ``longest_url`` also sorts the longest overdue first."""

    def url(**params) -> str:
        query = request.GET.copy()
        for name in ("page", *params):
            query.pop(name, None)
        for name, value in params.items():
            query[name] = value
        return f"{reverse('supervision:queue')}?{query.urlencode()}"

    for entry in ranking["townships"]:
        entry["url"] = url(township=entry["code"])
        entry["longest_url"] = url(township=entry["code"], sort="days")
    for entry in ranking["units"]:
        if entry["unit"]:  # rows without a unit cannot be filtered on it
            entry["url"] = url(responsible_unit=entry["unit"])
            entry["longest_url"] = url(responsible_unit=entry["unit"], sort="days")
    return ranking


# ---------------------------------------------------------------------------------------------
# Inspections (督查)
# ---------------------------------------------------------------------------------------------


@login_required
@require_GET
def inspection_list(request):
    user = request.user
    # Each inspection's findings that the user may see (an area's user sees their own), as a subquery.
    findings = (
        Finding.objects.visible_to(user)
        .filter(inspection=OuterRef("pk"))
        .order_by()
        .values("inspection")
        .annotate(n=Count("pk"))
        .values("n")
    )
    inspections = Inspection.objects.visible_to(user).annotate(
        finding_count=Coalesce(Subquery(findings[:1], output_field=IntegerField()), 0)
    )
    context = {
        "page_obj": page_of(request, inspections),
        "querystring": querystring_without_page(request),
        "labels": labels(Inspection),
        "can_create": access.may_supervise(user),
    }
    return render(request, "supervision/inspection_list.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def inspection_create(request):
    user = request.user
    _require_supervisor(user)
    if request.method == "POST":
        form = InspectionForm(request.POST, user=user)
        if form.is_valid():
            try:
                inspection = services.inspection_create(
                    user=user,
                    data=form.service_data(),
                    townships=form.cleaned_data["townships"],
                    villages=form.cleaned_data["villages"],
                )
            except ValidationError as error:
                put_errors(form, error)
            else:
                messages.success(request, f"已录入督查“{inspection.title}”。")
                return redirect("supervision:inspection", pk=inspection.pk)
    else:
        today = clock.today()
        form = InspectionForm(user=user, initial={"start_date": today, "end_date": today})
    return render(request, "supervision/inspection_form.html", {"form": form})


@login_required
@require_GET
def inspection_detail(request, pk):
    user = request.user
    inspection = get_visible_or_404(Inspection.objects.select_related("created_by"), user, pk=pk)
    today = clock.today()
    findings = [
        describe(f, today)
        for f in Finding.objects.visible_to(user).filter(inspection=inspection).select_related(*FINDING_RELATED)
    ]
    method_names = dict(Inspection.Method.choices)
    context = {
        "inspection": inspection,
        "methods": [method_names.get(m, m) for m in inspection.methods or []],
        "townships": list(inspection.townships.order_by("code")),
        "villages": list(inspection.villages.select_related("township").order_by("code")),
        "findings": findings,
        "labels": labels(Inspection),
        "can_file": access.may_supervise(user),
        "today": today,
        "history": inspection_timeline(inspection.pk),
    }
    return render(request, "supervision/inspection_detail.html", context)


# ---------------------------------------------------------------------------------------------
# Findings (发现问题) and their rectification (整改)
# ---------------------------------------------------------------------------------------------


@dataclass
class Target:
    kind: str  # "task", "village", "household", "township"
    kind_label: str
    text: str
    url: str | None
    township: Township | None


def target_of(finding: Finding) -> Target:
    """What a finding is against, as the pages show it, from the rows FINDING_RELATED fetched."""
    if finding.task_id:
        task = finding.task
        village = task.plan.village
        text = f"{village.name} {task.item}" + (f"（户 {task.household.number}）" if task.household_id else "")
        return Target("task", "任务", text, reverse("tasks:task_detail", args=[task.pk]), village.township)
    if finding.village_id:
        village = finding.village
        return Target("village", "村", village.name, reverse("villages:detail", args=[village.pk]), village.township)
    if finding.household_id:
        household = finding.household
        text = f"{household.village.name} {household.number}"
        return Target(
            "household", "户", text, reverse("households:detail", args=[household.pk]), household.village.township
        )
    return Target("township", "乡镇", finding.township.name, None, finding.township)


def describe(finding: Finding, today: datetime.date) -> Finding:
    """The finding with what its row shows: target, rectification (or None) and whether it is 逾期."""
    finding.target_info = target_of(finding)
    finding.rect = getattr(finding, "rectification", None)
    finding.overdue = finding.rect is not None and finding.rect.is_overdue(today)
    return finding


@login_required
@require_GET
def finding_list(request):
    user = request.user
    today = clock.today()
    form = FindingFilterForm(request.GET, user=user)
    findings = form.filter(Finding.objects.visible_to(user), today).select_related(*FINDING_RELATED)
    page_obj = page_of(request, findings)
    for finding in page_obj:
        describe(finding, today)
    context = {
        "form": form,
        "page_obj": page_obj,
        "querystring": querystring_without_page(request),
        "today": today,
        "labels": labels(Finding),
        "can_create": access.may_supervise(user),
    }
    return render_list(request, "supervision/finding_list.html", "supervision/_finding_list.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def finding_create(request):
    user = request.user
    _require_supervisor(user)
    today = clock.today()
    if request.method == "POST":
        form = FindingForm(request.POST, user=user)
        if form.is_valid():
            try:
                finding = services.finding_create(
                    user=user,
                    target=form.target(),
                    data=form.finding_data(),
                    rectification=form.rectification_data(),
                    inspection=form.cleaned_data["inspection"],
                )
            except ValidationError as error:
                put_errors(form, error)
            else:
                deadline = finding.rectification.deadline
                messages.success(request, f"已立案，并下达整改：整改时限 {deadline:%Y-%m-%d}。")
                return redirect("supervision:finding", pk=finding.pk)
        prefilled = None
    else:
        initial, prefilled = _finding_initial(request, user, today)
        form = FindingForm(user=user, initial=initial)
    return render(request, "supervision/finding_form.html", {"form": form, "prefilled": prefilled, "today": today})


DEFAULT_REQUIREMENT = "限期整改到位，并报送整改结果和佐证材料。"


def _finding_initial(request, user, today) -> tuple[dict, Target | None]:
    """The form's first values: today, and the target (and inspection) the link named (?task=, ?village=,
    ?household=, ?township=, ?inspection=); a target the user may not see is a 404."""
    initial = {"found_on": today, "requirement": DEFAULT_REQUIREMENT, "target_kind": "task"}
    params = request.GET
    if params.get("inspection"):
        initial["inspection"] = get_object_or_404(Inspection.objects.visible_to(user), pk=_int(params["inspection"]))
    prefilled = None
    if params.get("task"):
        task = get_object_or_404(
            Task.objects.visible_to(user).live().select_related("plan__village__township", "household"),
            pk=_int(params["task"]),
        )
        initial.update(
            target_kind="task",
            task=task,
            type=Finding.Type.DELAY,
            responsible_unit=task.responsible_unit,
            responsible_person=task.responsible_person,
            responsible_phone=task.responsible_phone,
            responsible_email=task.responsible_email,
        )
        if task.is_overdue(today):
            initial["description"] = (
                f"“{task.item}”超过完成时限（{task.deadline:%Y-%m-%d}）"
                f"{days_overdue(task.deadline, today)} 天仍未完成，进度 {task.progress}%。"
            )
        prefilled = target_of(Finding(task=task))
    elif params.get("village"):
        village = get_object_or_404(
            Village.objects.visible_to(user).select_related("township"), pk=_int(params["village"])
        )
        initial.update(target_kind="village", village=village)
        prefilled = target_of(Finding(village=village))
    elif params.get("household"):
        household = get_object_or_404(
            Household.objects.visible_to(user).select_related("village__township"), pk=_int(params["household"])
        )
        initial.update(target_kind="household", household=household)
        prefilled = target_of(Finding(household=household))
    elif params.get("township"):
        township = get_object_or_404(Township.objects.visible_to(user), pk=params["township"])
        initial.update(target_kind="township", township=township)
        prefilled = target_of(Finding(township=township))
    return initial, prefilled


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise Http404("参数不正确") from None


def _visible_finding(request, pk) -> Finding:
    """The finding with everything its page shows, if the user's area holds it (else 404: never a 403 that would
    tell the finding exists)."""
    queryset = Finding.objects.select_related(
        *FINDING_RELATED, "inspection", "reported_by", "rectification__answered_by", "rectification__rechecked_by"
    )
    return get_visible_or_404(queryset, request.user, pk=pk)


@login_required
@require_GET
def finding_detail(request, pk):
    finding = _visible_finding(request, pk)
    today = clock.today()
    describe(finding, today)
    return _finding_page(request, finding, finding.rect, today)


# Each action on a finding has its own URL and view, and only takes POST: the page's forms post there. A valid
# action redirects to the finding's page; a form with mistakes, or a refusal from the service, shows the page again
# with the form as typed and the reason beside its fields; a page out of date (the rectification's version moved
# on since it was loaded, e.g. a second click) is a 409 showing the rectification as it stands, and changes nothing.


@login_required
@require_POST
def finding_start(request, pk):
    """开始整改: the rectification goes from 待整改 to 整改中 (the finding's area staff)."""
    return _act(request, pk, "start")


@login_required
@require_POST
def finding_answer(request, pk):
    """填报整改结果 with evidence files: the rectification awaits recheck (the finding's area staff)."""
    return _act(request, pk, "answer")


@login_required
@require_POST
def finding_recheck(request, pk):
    """复查: approve (销号) or send back (退回整改, with a note), by a supervisor other than the one who answered."""
    return _act(request, pk, "recheck")


@login_required
@require_POST
def finding_accountability(request, pk):
    """记录责任追究 on the finding (supervisors and district admins)."""
    return _act(request, pk, "accountability")


# Who may ever take each action (which findings: the services decide); for anyone else its URL does not exist, whatever
# they send (a reader of the supervision records gets a 404, not the page with their form's mistakes).
MAY_ACT = {
    "start": access.may_answer_rectifications,
    "answer": access.may_answer_rectifications,
    "recheck": access.may_supervise,
    "accountability": access.may_supervise,
}


def _act(request, pk, name: str):
    if not MAY_ACT[name](request.user):
        raise Http404("页面不存在")
    finding = _visible_finding(request, pk)
    today = clock.today()
    describe(finding, today)
    rectification = finding.rect
    if rectification is None and name != "accountability":
        raise Http404("参数不正确")
    action = ACTIONS[name]
    bound, conflict = {}, None
    form = action.form(request, None)
    if form.is_valid():
        try:
            done = action.run(request, finding, rectification, form)
        except services.RectificationConflict as error:
            conflict = error
            rectification = error.current
        except ValidationError as error:
            put_errors(form, error)
            bound[name] = form
        else:
            messages.success(request, done)
            return redirect("supervision:finding", pk=finding.pk)
    else:
        bound[name] = form
    return _finding_page(request, finding, rectification, today, bound=bound, conflict=conflict)


def _finding_page(request, finding, rectification, today, *, bound=None, conflict=None, opinion_form=None):
    """The finding's page: its rectification's lifecycle, evidence, accountability, opinions, history, and the forms
    of the actions the user may take (``bound``: a form sent back with its mistakes, by action name;
    ``opinion_form``: the 督导意见 form sent back with its mistakes)."""
    bound = bound or {}
    allowed = services.allowed_actions(request.user, finding, rectification)
    shown = {
        "start": allowed.start,
        "answer": allowed.answer,
        "recheck": allowed.recheck,
        "accountability": allowed.account,
    }
    for name, form in bound.items():
        if not shown[name]:  # its form is not on the page (no longer, or never was): say why above it
            messages.error(request, "；".join(m for errors in form.errors.values() for m in errors))
    version = {"version": rectification.version} if rectification else {}
    action_forms = {name: bound.get(name) or action.form(None, version) for name, action in ACTIONS.items()}
    context = {
        "finding": finding,
        "target": finding.target_info,
        "rectification": rectification,
        "overdue": rectification is not None and rectification.is_overdue(today),
        "steps": _lifecycle(rectification),
        "allowed": allowed,
        "forms": action_forms,
        "conflict": conflict,
        "evidence": list(rectification.evidence.select_related("uploaded_by")) if rectification else [],
        "accountabilities": list(finding.accountabilities.all()),
        "opinions": opinions_of(finding),
        "escalations": escalations_of(request.user, finding),
        "opinion_form": (opinion_form or OpinionForm(initial={"given_on": today}))
        if access.may_give_opinions(request.user)
        else None,
        "timeline": timeline(finding, rectification),
        "today": today,
        "labels": {"finding": labels(Finding), "rectification": labels(Rectification)},
    }
    return render(request, "supervision/finding_detail.html", context, status=409 if conflict else 200)


def escalations_of(user, finding) -> list:
    """The finding's escalations for the page of whoever reads supervision (one query, with the people named), each
    with ``openable``: whether the user may open it (``access.may_open_escalation``)."""
    if not access.may_read_supervision(user):
        return []
    escalations = list(finding.escalations.select_related("leader", "responded_by").order_by("opened_on", "pk"))
    for escalation in escalations:
        escalation.openable = access.may_open_escalation(user, escalation)
    return escalations


@dataclass(frozen=True)
class Action:
    """One thing a finding's page lets a person do: its form, and what to run when the form is valid."""

    form: Callable[..., forms.BaseForm]  # (request or None, initial) -> bound or unbound form
    run: Callable[..., str]  # (request, finding, rectification, form) -> the success message


def _start(request, finding, rectification, form):
    services.rectification_start(
        rectification_id=rectification.pk, user=request.user, expected_version=form.cleaned_data["version"]
    )
    return "已开始整改，状态为“整改中”。"


def _answer(request, finding, rectification, form):
    services.rectification_answer(
        rectification_id=rectification.pk,
        user=request.user,
        expected_version=form.cleaned_data["version"],
        result=form.cleaned_data["result"],
        files=form.uploads(),
    )
    return "整改结果已提交，等待督查人员复查。"


def _recheck(request, finding, rectification, form):
    services.rectification_recheck(
        rectification_id=rectification.pk,
        user=request.user,
        expected_version=form.cleaned_data["version"],
        approve=form.approve,
        note=form.cleaned_data["note"],
    )
    return "复查通过，问题已销号。" if form.approve else "复查未通过，已退回整改。"


def _account(request, finding, rectification, form):
    record = services.accountability_add(finding_id=finding.pk, user=request.user, data=form.service_data())
    return f"已记录责任追究：{record.subject} {record.get_measure_display()}。"


def _bind(form_class, **extra):
    def make(request, initial):
        auto_id = f"id_{form_class.__name__.lower()}_%s"
        if request is None:
            return form_class(initial=initial, auto_id=auto_id, **extra)
        return form_class(request.POST, request.FILES, auto_id=auto_id, **extra)

    return make


def _answer_form(request, initial):
    return _bind(AnswerForm, max_upload_mb=settings.BAZHOU_MAX_UPLOAD_MB)(request, initial)


ACTIONS = {
    "start": Action(_bind(VersionForm), _start),
    "answer": Action(_answer_form, _answer),
    "recheck": Action(_bind(RecheckForm), _recheck),
    "accountability": Action(_bind(AccountabilityForm), _account),
}


@login_required
@require_GET
def finding_evidence(request, pk, evidence_id):
    """An evidence file of the finding's rectification, to those who see the finding (else 404)."""
    finding = get_visible_or_404(Finding.objects.all(), request.user, pk=pk)
    evidence = get_object_or_404(RectificationEvidence.objects.filter(rectification__finding=finding), pk=evidence_id)
    try:
        handle = evidence.file.open("rb")
    except FileNotFoundError as missing:
        raise Http404("文件不存在。") from missing
    return evidence_response(handle, evidence)


LIFECYCLE = [Rectification.Status.PENDING, Rectification.Status.IN_PROGRESS, Rectification.Status.AWAITING_RECHECK]
LIFECYCLE.append(Rectification.Status.CLOSED)


def _lifecycle(rectification) -> list[dict]:
    """待整改 → 整改中 → 待复查 → 已销号, with the steps passed, the current one and those to come."""
    if rectification is None:
        return []
    current = LIFECYCLE.index(rectification.status)
    return [
        {"value": s.value, "label": s.label, "state": "done" if i < current else "current" if i == current else "todo"}
        for i, s in enumerate(LIFECYCLE)
    ]


# ---------------------------------------------------------------------------------------------
# History: the finding's and its rectification's records, merged
# ---------------------------------------------------------------------------------------------

FINDING_HISTORY_FIELDS = ["type", "severity", "description", "found_on"]
RECTIFICATION_HISTORY_FIELDS = [
    "status",
    "requirement",
    "responsible_unit",
    "responsible_person",
    "responsible_phone",
    "responsible_email",
    "deadline",
    "result",
    "recheck_note",
    "closed_on",
]


def timeline(finding: Finding, rectification: Rectification | None) -> list[Entry]:
    """Who did what and when, newest first, in two queries (the finding's records, the rectification's)."""
    entries = _entries(finding, "finding", FINDING_HISTORY_FIELDS, Finding)
    if rectification is not None:
        entries += _entries(rectification, "rectification", RECTIFICATION_HISTORY_FIELDS, Rectification)
    entries.sort(key=lambda e: e.when, reverse=True)
    return entries


def _entries(obj, kind: str, fields: list[str], model) -> list[Entry]:
    records = list(obj.history.select_related("history_user").order_by("history_date", "history_id"))
    entries, previous = [], None
    for record in records:
        if previous is None:
            changes = [
                Change(name, field_label(model, name), "–", display_value(model, name, getattr(record, name)))
                for name in fields
                if getattr(record, name) not in (None, "")
            ]
            title = record.history_change_reason or ("发现问题" if kind == "finding" else "下达整改")
        else:
            delta = record.diff_against(previous, included_fields=fields)
            changes = [
                Change(
                    c.field,
                    field_label(model, c.field),
                    display_value(model, c.field, c.old),
                    display_value(model, c.field, c.new),
                )
                for c in sorted(delta.changes, key=lambda c: fields.index(c.field))
            ]
            title = record.history_change_reason or "修改"
        entries.append(Entry(kind, record.history_date, record.history_user, title, changes))
        previous = record
    return entries


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------

# Service error keys that a form names differently.
FIELD_NAMES = {"recheck_note": "note"}


def put_errors(form, error: ValidationError) -> None:
    """A service's ValidationError back on the form: beside the field it names, or above the form."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error.messages)
        return
    for key, messages_ in error.message_dict.items():
        name = FIELD_NAMES.get(key, key)
        form.add_error(name if name in form.fields and name != NON_FIELD_ERRORS else None, messages_)
