"""Plan-row pages: a plan's table with inline editing (htmx), the full edit and new-row pages, progress
reports with evidence, completing and withdrawing a row, and a row's history.

Every view fetches through ``bazhou.core.access`` (a row outside the user's area, or a change page for someone
who may only read, is a 404), validates a form, calls one service from ``tasks.services`` and redirects
or re-renders. The inline endpoints answer htmx requests (``HX-Request``) with a table-row fragment and
everyone else with a full page, so the product works without JavaScript too.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import models
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from bazhou.core import access, clock
from bazhou.core.access import get_editable_or_404, get_visible_or_404
from bazhou.core.downloads import evidence_response
from bazhou.core.pages import id_param
from bazhou.core.templatetags.bazhou import changer, is_user, wan
from bazhou.core.timeline import Change, Entry, display_value, field_label
from households.models import Household
from tasks import plan_rows, services, staging
from tasks.forms import (
    InlineTaskForm,
    PlanCreateForm,
    ProgressForm,
    RemoveForm,
    TaskForm,
    VersionForm,
    add_service_errors,
    fund_line_formset,
)
from tasks.models import ChangeRequest, FundLine, Plan, ProgressEvidence, Task

# ---------------------------------------------------------------------------------------------
# The plan's table
# ---------------------------------------------------------------------------------------------


@login_required
@require_GET
def plan_detail(request, plan_id):
    plan = get_object_or_404(
        Plan.objects.visible_to(request.user).select_related("village__township", "approved_by"), pk=plan_id
    )
    today = clock.today()
    can_edit = Plan.objects.editable_by(request.user).filter(pk=plan.pk).exists()
    # Plain values, labels resolved once, each row's HTML joined in Python (tasks/plan_rows.py): four queries.
    rows = plan_rows.plan_rows(plan, today, can_edit)
    live = [row for row in rows if not row.is_removed]
    return render(
        request,
        "tasks/plan.html",
        {
            "plan": plan,
            "can_edit": can_edit,
            "can_approve": can_edit and not plan.is_approved and access.may_approve_plans(request.user),
            "village_rows": [row for row in live if not row.household_id],
            "household_groups": plan_rows.household_groups([row for row in live if row.household_id]),
            "removed_rows": [row for row in rows if row.is_removed],
            "totals": services.plan_totals(plan, today),
            "today": today,
        },
    )


@login_required
@require_POST
def plan_create(request):
    """Open a village's plan for a year (the village page offers it when the year has none)."""
    form = PlanCreateForm(request.POST)
    if not form.is_valid():
        raise Http404("参数不正确")
    village_id, year = form.cleaned_data["village"], form.cleaned_data["year"]
    try:
        plan = services.plan_create(village_id=village_id, year=year, user=request.user)
    except ValidationError:
        existing = get_object_or_404(Plan.objects.visible_to(request.user), village_id=village_id, year=year)
        messages.info(request, f"该村{year}年的施工图已经存在。")
        return redirect("tasks:plan", existing.pk)
    messages.success(request, f"已新建{plan.village}{year}年施工图（草稿），请添加任务。")
    return redirect("tasks:plan", plan.pk)


@login_required
@require_POST
def plan_approve(request, plan_id):
    plan = get_object_or_404(Plan.objects.editable_by(request.user), pk=plan_id)
    try:
        services.plan_approve(plan_id=plan.pk, user=request.user)
    except ValidationError as error:
        messages.error(request, "；".join(error.messages))
    else:
        messages.success(request, "施工图已批准。此后计划内容的修改和新增、撤销任务都须提交变更申请，经批准后生效。")
    return _go(request, reverse("tasks:plan", args=[plan.pk]))


def _decorate(task: Task, today: datetime.date, can_edit: bool) -> Task:
    task.overdue = task.is_overdue(today)
    task.editable = can_edit and not task.is_removed
    # On an approved plan the plan fields change only through a change request (tasks.changes): the row offers
    # 申请变更 instead of 编辑, or shows its pending request (变更审批中).
    task.on_approved_plan = task.plan.is_approved
    pending = list(ChangeRequest.objects.pending().filter(task=task)) if task.on_approved_plan else []
    task.pending_change = pending[0] if pending else None
    return task


# ---------------------------------------------------------------------------------------------
# Inline editing (htmx): a read-only row, its form row, its conflict row
# ---------------------------------------------------------------------------------------------


@login_required
@require_GET
def task_row(request, pk):
    task = get_visible_or_404(_tasks(), request.user, pk=pk)
    if not _is_htmx(request):
        return redirect(_row_url(task))
    return _row_response(request, task)


@login_required
@require_http_methods(["GET", "POST"])
def task_inline(request, pk):
    task = get_editable_or_404(_tasks(), request.user, pk=pk)
    if not _is_htmx(request) and request.method == "GET":
        return redirect("tasks:task_edit", pk=task.pk)
    if task.is_removed:
        return _refuse_removed(request, task)
    if request.method == "GET":
        form = InlineTaskForm(instance=task, plan=task.plan, initial={"version": task.version}, auto_id=_auto_id(task))
        return _inline_response(request, task, form)

    form = InlineTaskForm(request.POST, instance=task, plan=task.plan, auto_id=_auto_id(task))
    if form.is_valid():
        try:
            task = services.task_update(
                task_id=task.pk,
                user=request.user,
                expected_version=form.cleaned_data["version"],
                data=form.service_data(),
                reason=form.cleaned_data["reason"],
            )
        except services.TaskConflict as conflict:
            context = {"task": conflict.current, "conflict": _conflict(form, conflict)}
            if _is_htmx(request):
                return render(request, "tasks/_task_conflict_row.html", context)
            return render(request, "tasks/task_inline_page.html", {**context, "fallback": True}, status=409)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            if _is_htmx(request):
                return _row_response(request, task, with_totals=True)
            messages.success(request, f"已保存“{task.item}”。")
            return redirect(_row_url(task))
    return _inline_response(request, task, form)


def _row_response(request, task: Task, *, with_totals: bool = False):
    today = clock.today()
    can_edit = Task.objects.editable_by(request.user).filter(pk=task.pk).exists()
    context = {"task": plan_rows.row_of(task, today, can_edit)}
    if with_totals:
        context["totals"] = services.plan_totals(task.plan, today)
    return render(request, "tasks/_task_row.html", context)


def _inline_response(request, task: Task, form):
    if _is_htmx(request):
        return render(request, "tasks/_task_inline.html", {"task": task, "form": form})
    return render(request, "tasks/task_inline_page.html", {"task": task, "form": form, "fallback": True})


def _auto_id(task: Task) -> str:
    """Field ids unique on the page, where several rows may be open for editing at once."""
    return f"id_task{task.pk}_%s"


# ---------------------------------------------------------------------------------------------
# Full pages: new row, edit row
# ---------------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def task_create(request, plan_id):
    plan = get_object_or_404(Plan.objects.editable_by(request.user).select_related("village__township"), pk=plan_id)
    fund_errors = {"fund_lines": []}
    if request.method == "POST":
        form = TaskForm(request.POST, plan=plan)
        formset = fund_line_formset(request.POST)
        if all([form.is_valid(), formset.is_valid()]) and not form.duplicates_to_confirm():
            try:
                task = services.task_create(
                    plan=plan,
                    user=request.user,
                    data=form.service_data(),
                    fund_lines=formset.lines(),
                    reason=form.cleaned_data["reason"],
                )
            except ValidationError as error:
                add_service_errors(form, error, elsewhere=fund_errors)
            else:
                messages.success(request, f"已新增任务“{task.item}”。")
                return redirect(_row_url(task))
    else:
        form = TaskForm(plan=plan, initial=_create_initial(request, plan))
        formset = fund_line_formset()
    return _form_page(request, plan=plan, task=None, form=form, formset=formset, fund_errors=fund_errors["fund_lines"])


@login_required
@require_http_methods(["GET", "POST"])
def task_edit(request, pk):
    task = get_editable_or_404(_tasks(), request.user, pk=pk)
    if task.is_removed:
        return _refuse_removed(request, task)
    fund_errors = {"fund_lines": []}
    if request.method == "POST":
        form = TaskForm(request.POST, instance=task, plan=task.plan)
        formset = fund_line_formset(request.POST, task=task)
        if all([form.is_valid(), formset.is_valid()]) and not form.duplicates_to_confirm():
            try:
                services.task_update(
                    task_id=task.pk,
                    user=request.user,
                    expected_version=form.cleaned_data["version"],
                    data=form.service_data(),
                    fund_lines=formset.lines(),
                    reason=form.cleaned_data["reason"],
                )
            except services.TaskConflict as conflict:
                context = {"conflict": _conflict(form, conflict, fund_lines=formset.lines())}
                return _form_page(request, plan=task.plan, task=conflict.current, form=form, formset=formset, **context)
            except ValidationError as error:
                add_service_errors(form, error, elsewhere=fund_errors)
            else:
                messages.success(request, f"已保存“{form.cleaned_data['item']}”。")
                return redirect(_row_url(task))
    else:
        form = TaskForm(instance=task, plan=task.plan, initial={"version": task.version})
        formset = fund_line_formset(task=task)
    return _form_page(
        request, plan=task.plan, task=task, form=form, formset=formset, fund_errors=fund_errors["fund_lines"]
    )


def _form_page(request, *, plan, task, form, formset, fund_errors=(), conflict=None):
    return render(
        request,
        "tasks/task_form.html",
        {
            "plan": plan,
            "task": task,
            "form": form,
            "formset": formset,
            "fund_total": _fund_total(formset),
            "fund_errors": fund_errors,
            "conflict": conflict,
        },
        status=409 if conflict else 200,
    )


def _create_initial(request, plan) -> dict:
    household_id = id_param(request.GET.get("household", ""))
    if household_id is not None:
        household = Household.objects.filter(village_id=plan.village_id, pk=household_id).first()
        if household:
            return {"household": household}
    return {}


def _fund_total(formset) -> Decimal | None:
    """The sum of the fund lines as shown: the saved ones, or those just typed when they are readable."""
    if formset.is_bound:
        if not formset.is_valid():
            return None
        return sum((line["amount"] for line in formset.lines()), Decimal("0"))
    return sum((line["amount"] for line in formset.initial or []), Decimal("0"))


# ---------------------------------------------------------------------------------------------
# Read-only row, progress, complete, remove
# ---------------------------------------------------------------------------------------------


@login_required
@require_GET
def task_detail(request, pk):
    task = get_visible_or_404(_tasks().select_related("created_by", "department"), request.user, pk=pk)
    can_edit = Task.objects.editable_by(request.user).filter(pk=task.pk).exists()
    # A department's user reports progress on their rows without editing them (Task.objects.reportable_by).
    can_report = can_edit or (
        not task.is_removed and Task.objects.reportable_by(request.user).filter(pk=task.pk).exists()
    )
    return render(
        request,
        "tasks/task_detail.html",
        {
            "task": _decorate(task, clock.today(), can_edit),
            "can_report": can_report,
            "department_user": access.department_of(request.user) is not None,
            "plan": task.plan,
            "fund_lines": list(task.fund_lines.all()),
            "updates": _progress_updates(task),
            "complete_form": VersionForm(initial={"version": task.version}),
            # The report just saved (the progress form redirects here with ?reported=<id>), highlighted.
            "reported": id_param(request.GET.get("reported")),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def task_progress(request, pk):
    """Report progress on a row, with photos: Post/Redirect/Get to the row's page with the new report highlighted.

    The form carries a submission key (``{% submission_key %}``): a double tap or a resend after a weak signal
    stores one report. When the form comes back (a field error, the service's refusal, a conflict), the photos that
    were acceptable in themselves are kept on the server (``tasks.staging``) and listed on the form, so sending it
    again attaches them; a file that was not acceptable says so beside its input ("请重新选择照片").
    """
    # Whose rows: those the user may report on (the area staff their area's, a department's user their department's).
    task = get_object_or_404(_tasks().reportable_by(request.user), pk=pk)
    if task.is_removed:
        return _refuse_removed(request, task)
    limit = settings.BAZHOU_MAX_UPLOAD_MB
    conflict = None
    kept, not_kept = [], []
    if request.method == "POST":
        form = ProgressForm(request.POST, request.FILES, max_upload_mb=limit)
        form.is_valid()
        claimed = staging.claim(request.user, request.POST.getlist(staging.FIELD))
        kept = claimed.uploads
        if claimed.error:
            form.add_error("files", claimed.error)
        chosen = []
        for name in ("files", "photo"):
            accepted, problems = staging.check(request.FILES.getlist(name))
            chosen.extend(accepted)
            if problems:
                form.add_error(name, [*problems, staging.CHOOSE_AGAIN])
        if form.is_valid():
            data = form.cleaned_data
            try:
                with staging.opened(kept) as staged_files:
                    update = services.progress_record(
                        task_id=task.pk,
                        user=request.user,
                        expected_version=data["version"],
                        progress=data["progress"],
                        status=data["status"],
                        invested_funds=data["invested_funds"],
                        note=data["note"],
                        reported_on=data["reported_on"],
                        files=[*chosen, *staged_files],
                    )
            except services.TaskConflict as error:
                conflict = _conflict(form, error, fields=("progress", "status", "invested_funds"))
                task = error.current
                form = ProgressForm(initial={**_progress_initial(task), "note": data["note"]}, max_upload_mb=limit)
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                staging.discard(kept)
                messages.success(request, "进度已保存。")
                detail = reverse("tasks:task_detail", args=[task.pk])
                return redirect(f"{detail}?reported={update.pk}#update-{update.pk}")
        more, not_kept = staging.keep(request.user, chosen, already=len(kept))
        kept = [*kept, *more]
    else:
        form = ProgressForm(initial=_progress_initial(task), max_upload_mb=limit)
    return render(
        request,
        "tasks/task_progress.html",
        {
            "task": task,
            "plan": task.plan,
            "form": form,
            "kept": kept,
            "not_kept": not_kept,
            "staged_field": staging.FIELD,
            "max_upload_mb": limit,
            "updates": _progress_updates(task),
            "conflict": conflict,
            "department_user": access.department_of(request.user) is not None,
        },
        status=409 if conflict else 200,
    )


def _progress_initial(task: Task) -> dict:
    return {
        "version": task.version,
        "reported_on": clock.today(),
        "progress": task.progress,
        "status": task.status,
        "invested_funds": task.invested_funds,
    }


def _progress_updates(task: Task):
    return list(task.progress_updates.select_related("reported_by").prefetch_related("evidence"))


@login_required
@require_POST
def task_complete(request, pk):
    """Mark a row done, then back to the row's page, or to the card list (我的任务) when the card sent ``next``."""
    task = get_editable_or_404(Task.objects.all(), request.user, pk=pk)
    back = _back_to_cards(request.POST.get("next")) or reverse("tasks:task_detail", args=[task.pk])
    form = VersionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "；".join(m for messages_ in form.errors.values() for m in messages_))
        return _go(request, back)
    try:
        services.task_complete(task_id=task.pk, user=request.user, expected_version=form.cleaned_data["version"])
    except services.TaskConflict as conflict:
        messages.error(request, f"未保存：{_who(conflict, request.user)}，请核对当前数据后再标记完成。")
    except ValidationError as error:
        messages.error(request, "；".join(error.messages))
    else:
        messages.success(request, f"“{task.item}”已标记为已完成。")
    return _go(request, back)


def _back_to_cards(value) -> str | None:
    """``next`` when it is the card list (with its filters) on this site; None for anything else."""
    mine = reverse("tasks:mine")
    if not isinstance(value, str) or len(value) > 500 or not value.startswith(mine):
        return None
    return value if url_has_allowed_host_and_scheme(value, allowed_hosts=None) else None


@login_required
@require_http_methods(["GET", "POST"])
def task_remove(request, pk):
    task = get_editable_or_404(_tasks(), request.user, pk=pk)
    if task.is_removed:
        return _refuse_removed(request, task)
    if request.method == "POST":
        form = RemoveForm(request.POST)
        if form.is_valid():
            try:
                services.task_remove(
                    task_id=task.pk,
                    user=request.user,
                    expected_version=form.cleaned_data["version"],
                    reason=form.cleaned_data["reason"],
                )
            except services.TaskConflict as conflict:
                task = conflict.current
                # The person's reason kept, the version now the current one; an unbound form takes no error.
                form = RemoveForm({"version": task.version, "reason": form.cleaned_data["reason"]})
                form.is_valid()
                form.add_error(None, f"{_who(conflict, request.user)}，请查看下面的当前数据后再确认撤销。")
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                messages.success(request, f"已撤销任务“{task.item}”。撤销的任务保留全部历史，不计入合计。")
                return redirect("tasks:plan", plan_id=task.plan_id)
    else:
        form = RemoveForm(initial={"version": task.version})
    return render(request, "tasks/task_remove.html", {"task": task, "plan": task.plan, "form": form})


# ---------------------------------------------------------------------------------------------
# History
# ---------------------------------------------------------------------------------------------


@login_required
@require_GET
def task_history(request, pk):
    task = get_visible_or_404(_tasks(), request.user, pk=pk)
    context = {
        "task": task,
        "plan": task.plan,
        "entries": task_timeline(task),
        "department_user": access.department_of(request.user) is not None,
    }
    return render(request, "tasks/task_history.html", context)


# Fields of a row whose changes the timeline shows, in the order of the table.
TIMELINE_FIELDS = [*services.TASK_FIELDS, "is_removed", "removed_reason"]


def task_timeline(task: Task) -> list[Entry]:
    """Who changed what, when and why: the row's history, its fund lines' history and its progress reports.

    A fixed number of queries however long the history is: the records, the households they name,
    the fund-line records, the progress reports and their evidence.
    """
    records = list(task.history.select_related("history_user").order_by("history_date", "history_id"))
    household_ids = {r.household_id for r in records if r.household_id}
    households = Household.objects.in_bulk(household_ids) if household_ids else {}
    entries = []
    previous = None
    for record in records:
        if previous is None:
            values = {name: getattr(record, name + _id(name)) for name in services.TASK_FIELDS}
            changes = [
                Change(name, field_label(Task, name), "–", display_value(Task, name, value, households))
                for name, value in values.items()
                if value not in (None, "")
            ]
            title = "新增任务"
        else:
            delta = record.diff_against(previous, included_fields=TIMELINE_FIELDS)
            changes = sorted(
                (
                    Change(
                        c.field,
                        field_label(Task, c.field),
                        display_value(Task, c.field, c.old, households),
                        display_value(Task, c.field, c.new, households),
                    )
                    for c in delta.changes
                ),
                key=lambda c: TIMELINE_FIELDS.index(c.field),
            )
            previous = record
            if not changes:
                # Only the version or the last progress date moved: the fund-line or progress entry beside it
                # says what happened, with the same who, when and why.
                continue
            title = _title(record, changes)
        entries.append(
            Entry("task", record.history_date, record.history_user, title, changes, record.history_change_reason or "")
        )
        previous = record

    last_line = {}
    for record in (
        FundLine.history.filter(task_id=task.pk).select_related("history_user").order_by("history_date", "history_id")
    ):
        source = record.get_source_display()
        before = last_line.get(record.id)
        if record.history_type == "+":
            title, change = "新增资金来源", Change("amount", source, "–", wan(record.amount))
        elif record.history_type == "-":
            title, change = "删除资金来源", Change("amount", source, wan(record.amount), "–")
        else:
            title = "修改资金来源"
            change = Change("amount", source, wan(before.amount) if before else "–", wan(record.amount))
        last_line[record.id] = record
        reason = record.history_change_reason or ""
        entries.append(Entry("fund_line", record.history_date, record.history_user, title, [change], reason))

    for update in _progress_updates(task):
        entries.append(
            Entry(
                "progress",
                update.created_at,
                update.reported_by,
                f"填报进度：{update.progress}%（{update.get_status_display()}）",
                reason=update.note,
                update=update,
            )
        )
    entries.sort(key=lambda e: e.when, reverse=True)
    return entries


def _title(record, changes) -> str:
    if any(c.field == "is_removed" for c in changes) and record.is_removed:
        return "撤销任务"
    titles = {"填报进度": "填报进度后更新任务", "标记完成": "标记完成"}
    return titles.get(record.history_change_reason or "", "修改任务")


def _id(name: str) -> str:
    return "_id" if isinstance(Task._meta.get_field(name), models.ForeignKey) else ""


# ---------------------------------------------------------------------------------------------
# Evidence files (served only to people who may see the row)
# ---------------------------------------------------------------------------------------------


@login_required
@require_GET
def evidence_file(request, pk):
    visible = ProgressEvidence.objects.filter(update__task__in=Task.objects.visible_to(request.user))
    evidence = get_object_or_404(visible, pk=pk)
    try:
        handle = evidence.file.open("rb")
    except FileNotFoundError as missing:
        raise Http404("文件不存在。") from missing
    return evidence_response(handle, evidence)


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def _tasks():
    return Task.objects.select_related("plan__village__township", "household")


def _is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


def _row_url(task: Task) -> str:
    return f"{reverse('tasks:plan', args=[task.plan_id])}#task-{task.pk}"


def _go(request, url: str):
    """Redirect; for an htmx request, let htmx load the page (HX-Redirect) instead of swapping it in."""
    if _is_htmx(request):
        return HttpResponse(status=204, headers={"HX-Redirect": url})
    return redirect(url)


def _refuse_removed(request, task: Task):
    if _is_htmx(request):
        return _row_response(request, task)
    messages.error(request, services.TASK_REMOVED)
    return redirect("tasks:task_detail", pk=task.pk)


def _who(conflict: services.TaskConflict, user) -> str:
    """Who saved the row since the person loaded it, as a sentence: another person by name ("该任务已由 秦和平 于
    2017-09-15 10:32 修改"), or the person themself ("您本人已于 10:32 保存过这次修改": a second tap, a resend, another
    tab) — never "someone else" for their own save."""
    when = ""
    if conflict.changed_at:
        local = timezone.localtime(conflict.changed_at)
        when = local.strftime("%H:%M" if local.date() == timezone.localdate() else "%Y-%m-%d %H:%M")
    if is_user(conflict.changed_by, user):
        return f"您本人已于 {when} 保存过这次修改"
    return f"该任务已由{changer(conflict.changed_by, user)}于{when}修改"


def _conflict(form, conflict: services.TaskConflict, *, fields=None, fund_lines=None) -> dict:
    """The person's values beside the row as it now stands, field by field, for the conflict box."""
    current = conflict.current
    names = fields or list(form._meta.fields)
    rows = []
    for name in names:
        mine, theirs = form.cleaned_data.get(name), getattr(current, name)
        rows.append(
            {
                "name": name,
                "label": form.fields[name].label,
                "mine": display_value(Task, name, mine),
                "current": display_value(Task, name, theirs),
                "differs": mine != theirs,
            }
        )
    if fund_lines is not None:
        labels = dict(FundLine._meta.get_field("source").flatchoices)
        mine = {line["source"]: line["amount"] for line in fund_lines}
        theirs = {line.source: line.amount for line in current.fund_lines.all()}
        rows.append(
            {
                "name": "fund_lines",
                "label": "资金来源",
                "mine": "；".join(f"{labels[s]} {wan(a)}" for s, a in mine.items()) or "–",
                "current": "；".join(f"{labels[s]} {wan(a)}" for s, a in theirs.items()) or "–",
                "differs": mine != theirs,
            }
        )
    return {"rows": rows, "changed_by": conflict.changed_by, "changed_at": conflict.changed_at, "task": current}
