"""Change-request pages (变更申请): ask for a change to a row of an approved plan (or a new row), the request itself,
the approvers' pending list with approve / reject, withdraw, and the change ledger (变更台账).

Thin as the other plan pages: rows come through ``visible_to`` / ``editable_by``, every write is one function of
``tasks.changes``, every button is its own POST carrying the version it saw (a second submit is told the request was
already handled and changes nothing).
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from bazhou.core import access, clock
from bazhou.core.access import get_editable_or_404, within
from bazhou.core.downloads import evidence_response
from bazhou.core.templatetags.bazhou import wan_exact
from tasks import changes, services
from tasks.change_forms import AttachmentsForm, ChangeRequestForm, DecisionForm, PendingFilterForm
from tasks.forms import add_service_errors, fund_line_formset
from tasks.models import (
    PLAN_FIELDS,
    Category,
    ChangeRequest,
    ChangeRequestEvidence,
    FundSource,
    Plan,
    Task,
    pending_q,
)
from villages.models import Township, Village

LIST_LIMIT = 500

# ---------------------------------------------------------------------------------------------
# Asking
# ---------------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def change_request_create(request, pk):
    """申请变更 on a row of an approved plan: change it or withdraw it."""
    task = get_editable_or_404(Task.objects.select_related("plan__village__township", "household"), request.user, pk=pk)
    if not task.plan.is_approved:
        return redirect("tasks:task_edit", pk=task.pk)
    if task.is_removed:
        messages.error(request, services.TASK_REMOVED)
        return redirect("tasks:task_detail", pk=task.pk)
    pending = ChangeRequest.objects.pending().filter(task=task).first()
    if pending:
        messages.info(request, "该任务已有一项待审批的变更申请。")
        return redirect("tasks:change_request", pk=pending.pk)
    return _ask(request, plan=task.plan, task=task)


@login_required
@require_http_methods(["GET", "POST"])
def change_request_add(request, plan_id):
    """申请新增任务 on an approved plan."""
    plan = get_object_or_404(Plan.objects.editable_by(request.user).select_related("village__township"), pk=plan_id)
    if not plan.is_approved:
        return redirect("tasks:task_create", plan_id=plan.pk)
    return _ask(request, plan=plan, task=None)


def _ask(request, *, plan, task):
    adding = task is None
    fund_errors = {"fund_lines": []}
    if request.method == "POST":
        form = ChangeRequestForm(request.POST, instance=task, plan=plan, adding=adding)
        formset = fund_line_formset(request.POST, task=task)
        files = AttachmentsForm(request.POST, request.FILES, max_upload_mb=_limit())
        if all([form.is_valid(), formset.is_valid(), files.is_valid()]):
            kind = ChangeRequest.Kind.ADD if adding else form.cleaned_data["kind"]
            lines = formset.lines()
            if task is not None and _same_lines(task, lines):
                lines = None
            try:
                created = changes.change_request_create(
                    user=request.user,
                    task=task,
                    plan=plan if adding else None,
                    kind=kind,
                    changes=form.service_data() if kind != ChangeRequest.Kind.REMOVE else {},
                    fund_lines=lines if kind != ChangeRequest.Kind.REMOVE else None,
                    reason_category=form.cleaned_data["reason_category"],
                    reason=form.cleaned_data["reason"],
                    attachments=files.uploads(),
                    expected_version=form.cleaned_data.get("version"),
                )
            except services.TaskConflict:
                form.add_error(None, "该任务刚被他人修改，请刷新页面，核对当前数据后再提交。")
            except ValidationError as error:
                pending = ChangeRequest.objects.pending().filter(task=task).first() if task else None
                if pending:  # the same form, submitted twice
                    messages.info(request, "该任务已有一项待审批的变更申请。")
                    return redirect("tasks:change_request", pk=pending.pk)
                if hasattr(error, "error_dict") and "attachments" in error.message_dict:
                    files.add_error("files", error.message_dict.pop("attachments"))
                    error = ValidationError(error.message_dict) if error.message_dict else None
                if error is not None:
                    add_service_errors(form, error, elsewhere=fund_errors)
            else:
                messages.success(request, f"已提交变更申请 #{created.pk}，批准后生效。")
                return redirect("tasks:change_request", pk=created.pk)
    else:
        initial = {"version": task.version} if task else {}
        form = ChangeRequestForm(instance=task, plan=plan, adding=adding, initial=initial)
        formset = fund_line_formset(task=task)
        files = AttachmentsForm(max_upload_mb=_limit())
    return render(
        request,
        "tasks/change_request_form.html",
        {
            "plan": plan,
            "task": task,
            "form": form,
            "formset": formset,
            "files": files,
            "fund_errors": fund_errors["fund_lines"],
            "current": _rows(task) if task else [],
        },
    )


def _same_lines(task: Task, lines: list[dict]) -> bool:
    return {line.source: line.amount for line in task.fund_lines.all()} == {
        line["source"]: line["amount"] for line in lines
    }


def _rows(task: Task) -> list[tuple[str, str]]:
    values = changes.plan_values(task, [(line.source, line.amount) for line in task.fund_lines.all()])
    return [(_label(name), _show(name, values.get(name))) for name in [*PLAN_FIELDS, "fund_lines"]]


def _limit() -> int:
    return settings.BAZHOU_MAX_UPLOAD_MB


# ---------------------------------------------------------------------------------------------
# One request: what it changes, and its buttons
# ---------------------------------------------------------------------------------------------


@login_required
@require_GET
def change_request_detail(request, pk):
    change = get_object_or_404(_requests(request.user).prefetch_related("attachments"), pk=pk)
    return render(
        request,
        "tasks/change_request.html",
        {"change": _decorate(change, request.user, clock.today()), "plan": change.plan},
    )


@login_required
@require_POST
def change_request_approve(request, pk):
    return _decide(request, pk, "approve")


@login_required
@require_POST
def change_request_reject(request, pk):
    return _decide(request, pk, "reject")


@login_required
@require_POST
def change_request_withdraw(request, pk):
    return _decide(request, pk, "withdraw")


DONE = {"approve": ChangeRequest.State.APPROVED, "reject": ChangeRequest.State.REJECTED, "withdraw": "withdrawn"}
SAID = {"approve": "已批准", "reject": "已驳回", "withdraw": "已撤回"}


def _decide(request, pk, action: str):
    change = get_editable_or_404(ChangeRequest.objects.all(), request.user, pk=pk)
    back = _back(request, change)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "；".join(m for ms in form.errors.values() for m in ms))
        return redirect(back)
    version, note = form.cleaned_data["version"], form.cleaned_data["note"]
    try:
        if action == "approve":
            changes.change_request_approve(user=request.user, request_id=change.pk, expected_version=version)
        elif action == "reject":
            changes.change_request_reject(user=request.user, request_id=change.pk, note=note, expected_version=version)
        else:
            changes.change_request_withdraw(user=request.user, request_id=change.pk, expected_version=version)
    except changes.ChangeRequestConflict as conflict:
        current = conflict.current
        if current.state == DONE[action]:
            messages.info(request, f"变更申请 #{current.pk} 已经{SAID[action]}，无需重复提交。")
        else:
            messages.error(request, f"未处理：变更申请 #{current.pk} 已被处理（{current.get_state_display()}）。")
    except PermissionDenied as denied:
        messages.error(request, str(denied) or "您不能处理该变更申请。")
    except ValidationError as error:
        messages.error(request, "；".join(error.messages))
    else:
        messages.success(request, f"变更申请 #{change.pk} {SAID[action]}。")
    return redirect(back)


def _back(request, change) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return reverse("tasks:change_request", args=[change.pk])


@login_required
@require_GET
def change_evidence(request, pk):
    visible = ChangeRequestEvidence.objects.filter(request__in=ChangeRequest.objects.visible_to(request.user))
    evidence = get_object_or_404(visible, pk=pk)
    try:
        handle = evidence.file.open("rb")
    except FileNotFoundError as missing:
        raise Http404("文件不存在。") from missing
    return evidence_response(handle, evidence)


# ---------------------------------------------------------------------------------------------
# The pending list and the change ledger
# ---------------------------------------------------------------------------------------------


@login_required
@require_GET
def change_requests(request):
    """待审批的变更申请 of the user's area, oldest first; approve / reject buttons where the user may decide."""
    form, rows = _filtered(request, pending_q())
    if form.is_valid() and form.cleaned_data.get("age") is not None:
        cutoff = timezone.now() - datetime.timedelta(days=form.cleaned_data["age"])
        rows = rows.filter(requested_at__lte=cutoff)
    today = clock.today()
    rows = [_decorate(c, request.user, today) for c in rows.order_by("requested_at", "id")[:LIST_LIMIT]]
    return render(
        request,
        "tasks/change_requests.html",
        {
            "form": form,
            "rows": rows,
            "limit": LIST_LIMIT,
            "may_decide": access.may_decide_change_requests(request.user),
        },
    )


@login_required
@require_GET
def change_ledger(request):
    """变更台账: every decided (approved, rejected) or withdrawn request of the user's area, newest first; a village's,
    a township's or the whole district's through the filters."""
    form, rows = _filtered(request, ~pending_q())
    if form.is_valid() and form.cleaned_data.get("state"):
        rows = rows.filter(state=form.cleaned_data["state"])
    today = clock.today()
    rows = [_decorate(c, request.user, today) for c in rows.order_by("-decided_at", "-id")[:LIST_LIMIT]]
    return render(request, "tasks/change_ledger.html", {"form": form, "rows": rows, "limit": LIST_LIMIT})


def _filtered(request, state: Q):
    """The user's requests in ``state``, narrowed by the township, village and kind filters (each township or village
    one the user may choose; anything else is ignored), and the filter form."""
    user = request.user
    ledger = state != pending_q()
    townships = list(Township.objects.choosable_by(user).order_by("code"))
    villages = list(Village.objects.choosable_by(user).select_related("township").order_by("township", "code"))
    form = PendingFilterForm(request.GET, townships=townships, villages=villages, ledger=ledger)
    rows = _requests(user).filter(state)
    if form.is_valid():
        paths = rows.paths
        if form.cleaned_data.get("township"):
            rows = rows.filter(within(paths, "township", form.cleaned_data["township"]))
        if form.cleaned_data.get("village"):
            rows = rows.filter(within(paths, "village", form.cleaned_data["village"]))
        if form.cleaned_data.get("kind"):
            rows = rows.filter(kind=form.cleaned_data["kind"])
    return form, rows


def _requests(user):
    return ChangeRequest.objects.visible_to(user).select_related(
        "plan__village__township", "task", "requested_by", "decided_by"
    )


def _decorate(change: ChangeRequest, user, today) -> ChangeRequest:
    """What the pages show of a request, from its JSON (no query): the changed fields before and after, the buttons."""
    before, after = change.before or {}, change.after or {}
    change.rows = [
        {"label": _label(name), "before": _show(name, before.get(name)), "after": _show(name, after.get(name))}
        for name in changes.changed_fields(change)
    ]
    change.item = (after or before).get("item", "")
    change.waited = (today - timezone.localtime(change.requested_at).date()).days
    change.may_decide = change.is_pending and access.may_decide_change_request(user, change)
    change.may_withdraw = change.is_pending and access.may_withdraw_change_request(user, change)
    return change


def _label(name: str) -> str:
    if name == "fund_lines":
        return "资金来源"
    return str(Task._meta.get_field(name).verbose_name)


def _show(name: str, value) -> str:
    if value in (None, "", []):
        return "–"
    if name == "fund_lines":
        sources = dict(FundSource.choices)
        return "；".join(
            f"{sources.get(line['source'], line['source'])} {wan_exact(Decimal(line['amount']))}" for line in value
        )
    if name in ("planned_funds", "quantity"):
        return wan_exact(Decimal(value))
    if name == "category":
        return str(dict(Category.choices).get(value, value))
    if name == "household":
        return f"户 #{value}"
    return str(value)
