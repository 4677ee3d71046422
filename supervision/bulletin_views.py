"""The bulletin pages (通报): the list, generating a draft, a bulletin (a draft is also its edit form), publishing,
the print page and the Excel and Word downloads.

Publishing publishes what is on the screen: the draft's form has two buttons, 保存草稿 and 发布…; 发布… saves
the text as shown (the same checks as a save) and leads to the confirmation page (确认发布？发布后不可修改),
which shows the text once more and publishes it with its fingerprint, so nothing else is ever published.

The views read with ``supervision.bulletin_data``, change with ``supervision.bulletin_services`` and download
with ``supervision.exports``; a bulletin outside the user's district, or a draft for a user who may not edit
it, is a 404.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from bazhou.core import clock, jobs
from supervision.bulletin_data import Report, cn_date, districts_for_bulletins
from supervision.bulletin_docx import bulletin_docx_response
from supervision.bulletin_services import (
    EMPTY_BODY,
    PUBLISHED_READ_ONLY,
    BulletinConflict,
    bulletin_check,
    bulletin_publish_draft,
    bulletin_update_draft,
    fingerprint,
)
from supervision.exports import bulletin_xlsx_response, log_bulletin_export
from supervision.forms import BulletinCreateForm, BulletinEditForm
from supervision.history import bulletin_timeline
from supervision.models import Bulletin, Organiser
from tasks.forms import add_service_errors

EDITED_MEANWHILE = "该通报在您打开之后已被他人修改，未保存。下面是当前内容，请核对后重新修改。"
EDITED_BEFORE_PUBLISH = "该通报在您打开之后已被他人修改，未发布。请核对当前内容后再发布。"
PUBLISH_ACTION = "publish"
BULLETIN_JOB = "bulletin"  # the job that counts a period's figures into a draft (supervision.jobs)


@login_required
@require_GET
def bulletin_list(request):
    bulletins = Bulletin.objects.visible_to(request.user).select_related("district", "published_by")
    return render(
        request,
        "supervision/bulletin_list.html",
        {"bulletins": list(bulletins), "can_create": districts_for_bulletins(request.user).exists()},
    )


@login_required
@require_http_methods(["GET", "POST"])
def bulletin_create(request):
    if not districts_for_bulletins(request.user).exists():
        raise Http404("页面不存在")
    today = clock.today()
    if request.method == "POST":
        form = BulletinCreateForm(request.POST, user=request.user)
        if form.is_valid():
            data = form.cleaned_data
            asked = {
                "period_start": data["period_start"],
                "period_end": data["period_end"],
                "issuer": data["issuer"],
                "district": data.get("district"),
            }
            try:
                district = bulletin_check(user=request.user, today=today, **asked)
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                # Counting the period's figures takes seconds at district scale: a background job (supervision.jobs)
                # with a progress bar, which leads to the new draft.
                params = {
                    "period_start": data["period_start"].isoformat(),
                    "period_end": data["period_end"].isoformat(),
                    "issuer": data["issuer"],
                    "district": district.pk,
                    "today": today.isoformat(),
                }
                title = f"生成{district.name}督查通报（{cn_date(data['period_start'])}至{cn_date(data['period_end'])}）"
                job = jobs.start(request.user, BULLETIN_JOB, params, title=title, request=request)
                return redirect("jobs:detail", pk=job.pk)
    else:
        form = BulletinCreateForm(
            user=request.user,
            initial={"period_start": today.replace(day=1), "period_end": today, "issuer": Organiser.POVERTY_OFFICE},
        )
    return render(request, "supervision/bulletin_form.html", {"form": form, "today": today})


@login_required
@require_http_methods(["GET", "POST"])
def bulletin_detail(request, pk):
    """A bulletin; for supervisors and district admins, a draft is also its edit form."""
    bulletin = get_object_or_404(_visible(request.user), pk=pk)
    editor = Bulletin.objects.editable_by(request.user).filter(pk=bulletin.pk).exists()
    if request.method == "POST" and not editor:
        raise Http404("页面不存在")
    conflict = False
    form = BulletinEditForm.of(bulletin) if editor and bulletin.state == Bulletin.State.DRAFT else None
    if request.method == "POST":
        if bulletin.state != Bulletin.State.DRAFT:
            messages.error(request, PUBLISHED_READ_ONLY)
            return redirect("supervision:bulletin", pk=bulletin.pk)
        form = BulletinEditForm(request.POST)
        publishing = request.POST.get("action") == PUBLISH_ACTION
        if form.is_valid() and publishing and not form.cleaned_data["body"].strip():
            form.add_error("body", EMPTY_BODY)  # nothing to publish: not even saved
        if form.is_valid():
            data = form.cleaned_data
            try:
                bulletin_update_draft(
                    bulletin_id=bulletin.pk,
                    user=request.user,
                    expected=data["expected"],
                    title=data["title"],
                    issuer=data["issuer"],
                    issued_on=data["issued_on"],
                    body=data["body"],
                )
            except BulletinConflict as error:
                bulletin, conflict = error.current, True
                form = BulletinEditForm.of(bulletin)
            except ValidationError as error:
                if error.messages == [PUBLISHED_READ_ONLY]:
                    messages.error(request, PUBLISHED_READ_ONLY)
                    return redirect("supervision:bulletin", pk=bulletin.pk)
                add_service_errors(form, error)
            else:
                if publishing:
                    return redirect("supervision:bulletin_publish", pk=bulletin.pk)
                messages.success(request, "通报草稿已保存。")
                return redirect("supervision:bulletin", pk=bulletin.pk)
    context = {
        "report": Report.of(bulletin),
        "bulletin": bulletin,
        "form": form,
        "expected": fingerprint(bulletin),
        "conflict": EDITED_MEANWHILE if conflict else "",
        # Drafts are their writers' business: the history (drafts included) is shown to those who may edit them.
        "history": bulletin_timeline(bulletin.pk) if editor else None,
    }
    status = 409 if conflict else 200
    return render(request, "supervision/bulletin_detail.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def bulletin_publish(request, pk):
    """确认发布: the draft as it will be published (GET), and publishing it (POST, with the fingerprint of what
    the page showed)."""
    bulletin = get_object_or_404(Bulletin.objects.editable_by(request.user).select_related("district"), pk=pk)
    if bulletin.state != Bulletin.State.DRAFT:
        messages.info(request, PUBLISHED_READ_ONLY)
        return redirect("supervision:bulletin", pk=bulletin.pk)
    if request.method == "GET":
        context = {"report": Report.of(bulletin), "bulletin": bulletin, "expected": fingerprint(bulletin)}
        return render(request, "supervision/bulletin_publish.html", context)
    try:
        bulletin = bulletin_publish_draft(
            bulletin_id=bulletin.pk, user=request.user, expected=request.POST.get("expected", "")
        )
    except BulletinConflict:
        messages.error(request, EDITED_BEFORE_PUBLISH)
        return redirect("supervision:bulletin_publish", pk=bulletin.pk)
    except ValidationError as error:
        messages.error(request, "；".join(error.messages))
    else:
        messages.success(
            request,
            f"已发布{bulletin.year}年第{bulletin.number}期通报（{bulletin.doc_number}）。发布后不能再修改。",
        )
    return redirect("supervision:bulletin", pk=bulletin.pk)


@login_required
@require_GET
def bulletin_print(request, pk):
    """The 通报 on A4 (masthead, 文号, body, the two tables, signature, the list of attachments); with
    ``?annex=1`` the attachments (the full lists) follow, each from a new page."""
    bulletin = get_object_or_404(_visible(request.user), pk=pk)
    report = Report.of(bulletin)
    annex = request.GET.get("annex") == "1"
    log_bulletin_export(request, report, fmt="annex" if annex else "print")
    return render(request, "supervision/bulletin_print.html", {"report": report, "bulletin": bulletin, "annex": annex})


@login_required
@require_GET
def bulletin_xlsx(request, pk):
    return bulletin_xlsx_response(request, get_object_or_404(_visible(request.user), pk=pk))


@login_required
@require_GET
def bulletin_docx(request, pk):
    return bulletin_docx_response(request, get_object_or_404(_visible(request.user), pk=pk))


def _visible(user):
    return Bulletin.objects.visible_to(user).select_related("district", "published_by", "created_by")
