"""The pages of any import (upload → preview → confirm), with the uploaded workbook returned with its bad cells marked.

The upload is kept in the database (``ImportBatch``) between the preview and the confirmation, so any app server
can confirm what another previewed. A batch is seen by its uploader alone (anyone else gets a 404). Every file
handed out is written to the export log. Each kind of import (the plan rows, the household register) is an
:class:`Importer` (its reader and writer, who may use it); :func:`import_views` makes its pages.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.dispatch import Signal
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from bazhou.core import access, clock, jobs
from bazhou.core.models import ExportLog, ImportBatch, Job
from bazhou.core.services import EditConflict
from bazhou.core.xlsx.downloads import xlsx_download
from bazhou.core.xlsx.importing import ImportPreview, ImportRefused
from bazhou.core.xlsx.reader import check_upload, import_limits, marked_workbook

YEAR_ERRORS = {
    "invalid": "请输入年度，如 2017。",
    "min_value": "年度不能早于 2000 年。",
    "max_value": "年度不能晚于 2100 年。",
}


@dataclass(frozen=True)
class Importer:
    """One kind of import: its batch kind, its pages' names and URLs, its template, and its reader and writer."""

    kind: str
    title: str
    url_name: str  # the upload page; the batch page is url_name + "_batch", the marked workbook + "_marked"
    template_url: str
    template: Callable[..., tuple[object, str, str]]  # (user, query) → (file, file name, area for the export log)
    preview: Callable[..., ImportPreview]  # (user, content, file_name, year) → preview; writes nothing
    # (user, content, file_name, year, fingerprint, stored) → preview; writes. ``stored`` is the preview kept in the
    # batch: an importer that keeps its validated result there (ImportPreview.apply) writes it without the file.
    apply: Callable[..., ImportPreview]
    may_import: Callable[[object], bool]
    sheet_name: str
    uses_year: bool = True
    back_url: str = ""
    # (content, applied preview) → the uploaded workbook with the ids of the rows it added filled in; None: none
    written_back: Callable[..., object] | None = None


class UploadForm(forms.Form):
    file = forms.FileField(label="Excel 文件（.xlsx）", error_messages={"required": "请选择要上传的 Excel 文件。"})
    year = forms.IntegerField(label="计划年度", min_value=2000, max_value=2100, error_messages=YEAR_ERRORS)

    def __init__(self, *args, uses_year: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if not uses_year:
            del self.fields["year"]
        for field in self.fields.values():
            field.widget.attrs["class"] = "form-control"
        self.fields["file"].widget.attrs["accept"] = (
            ".xlsx,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        )


def _check_may_import(user, importer: Importer) -> None:
    if not importer.may_import(user):
        raise Http404("页面不存在")


def _own_batch(user, pk, importer: Importer) -> ImportBatch:
    """An upload of ``importer``'s kind by ``user`` (anyone else's is a 404, as if it did not exist)."""
    _check_may_import(user, importer)
    return get_object_or_404(ImportBatch.objects.filter(user=user, kind=importer.kind), pk=pk)


def template_download(request, importer: Importer):
    """The import template of the area asked for (see :attr:`Importer.template`), written to the export log."""
    _check_may_import(request.user, importer)
    file, name, area = importer.template(request.user, request.GET)
    return xlsx_download(request, file, name, kind=ExportLog.Kind.TEMPLATE, area=area)


def import_page(request, importer: Importer):
    user = request.user
    _check_may_import(user, importer)
    if request.method == "POST":
        form = UploadForm(request.POST, request.FILES, uses_year=importer.uses_year)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            year = form.cleaned_data.get("year")
            name = os.path.basename(upload.name or "")[:255]
            try:
                content = check_upload(upload)
            except ValidationError as error:
                form.add_error("file", error.messages)
            else:
                # The file is kept; reading and checking every row is a background job (PREVIEW_JOB) with a
                # progress bar, which leads to the batch's preview page when it ends.
                ImportBatch.purge_expired()
                batch = ImportBatch.objects.create(
                    user=user,
                    kind=importer.kind,
                    year=year,
                    file_name=name,
                    content=content,
                    size=len(content),
                    sha256=hashlib.sha256(content).hexdigest(),
                    state=ImportBatch.State.CHECKING,
                    preview={},
                )
                params = {"importer": importer.kind, "batch": batch.pk}
                title = f"检查导入文件“{name}”（{importer.title}）"
                job = jobs.start(user, PREVIEW_JOB, params, title=title, request=request)
                return redirect("jobs:detail", pk=job.pk)
    else:
        form = UploadForm(initial={"year": clock.today().year}, uses_year=importer.uses_year)
    limits = import_limits()
    recent = ImportBatch.objects.filter(user=user, kind=importer.kind).defer("content", "preview")[:10]
    return render(
        request,
        "excel/import.html",
        {
            "importer": importer,
            "form": form,
            "recent": recent,
            "max_mb": limits["max_bytes"] // (1024 * 1024),
            "max_rows": limits["max_rows"],
        },
    )


def batch_page(request, pk, importer: Importer):
    """The preview of an upload; POST confirms it: a background job (APPLY_JOB) writes all of it in one
    transaction, or nothing, and comes back here saying what it did."""
    user = request.user
    batch = _own_batch(user, pk, importer)
    preview = ImportPreview.from_json(batch.preview)
    if request.method == "POST":
        if batch.state == ImportBatch.State.APPLIED:
            messages.info(request, "该文件已经导入，不能重复确认。")
            return redirect(f"{importer.url_name}_batch", pk=batch.pk)
        if batch.state != ImportBatch.State.PREVIEWED:
            messages.error(request, "该文件还没有通过检查，不能导入。")
            return redirect(f"{importer.url_name}_batch", pk=batch.pk)
        fingerprint = request.POST.get("fingerprint", "")[:64]
        params = {"importer": importer.kind, "batch": batch.pk, "fingerprint": fingerprint}
        title = f"导入“{batch.file_name}”（{importer.title}）"
        job = jobs.start(user, APPLY_JOB, params, title=title, request=request)
        return redirect("jobs:detail", pk=job.pk)
    # An upload still being checked: the job doing it (its progress page), or None when that job ended without a
    # preview (a crash: the upload is to be sent again).
    checking = None
    if batch.state == ImportBatch.State.CHECKING:
        checking = Job.objects.filter(
            access.jobs_q(user), kind=PREVIEW_JOB, params__batch=batch.pk, state__in=Job.ACTIVE
        ).first()
    return render(
        request,
        "excel/preview.html",
        {
            "importer": importer,
            "batch": batch,
            "preview": preview,
            "checking": checking,
            "marked_url": reverse(f"{importer.url_name}_marked", args=[batch.pk]),
        },
    )


# --- the jobs: check an upload, write it ------------------------------------------------------------------------

PREVIEW_JOB = "import_preview"
import_applied = Signal()
"""Sent (``kind``, ``user``) when an import has written its rows: the dashboard's figures are computed again in the
background (``bazhou.surfaces.jobs``)."""
APPLY_JOB = "import_apply"
IMPORTERS: dict[str, Importer] = {}
"""Every kind of import, by :attr:`Importer.kind`, for the jobs (filled by :func:`import_views`)."""


def _job_batch(job) -> tuple[Importer, ImportBatch, str]:
    importer = IMPORTERS.get(job.params.get("importer"))
    if importer is None:
        raise jobs.JobFailed("不认识的导入类别。")
    try:
        _check_may_import(job.user, importer)
    except (Http404, PermissionDenied) as error:
        raise jobs.JobFailed("您没有导入这类数据的权限。") from error
    batch = ImportBatch.objects.filter(pk=job.params.get("batch"), user=job.user, kind=importer.kind).first()
    if batch is None:
        days = getattr(settings, "BAZHOU_IMPORT_KEEP_DAYS", 7)
        raise jobs.JobFailed(f"上传的文件已不在系统中（上传的文件保留 {days} 天），请重新上传。")
    return importer, batch, reverse(f"{importer.url_name}_batch", args=[batch.pk])


@jobs.register(PREVIEW_JOB)
def preview_job(job, progress) -> jobs.Outcome:
    """Read and check every row of an uploaded workbook (writes nothing but the preview), then show it."""
    importer, batch, batch_url = _job_batch(job)
    try:
        preview = importer.preview(
            user=job.user,
            content=bytes(batch.content),
            file_name=batch.file_name,
            year=batch.year,
            progress=progress,
        )
    except ValidationError as error:
        batch.delete()  # nothing in it can be read: there is no preview to keep
        raise jobs.JobFailed("；".join(error.messages), url=reverse(importer.url_name)) from error
    batch.preview = preview.to_json()
    batch.fingerprint = preview.fingerprint
    batch.state = ImportBatch.State.PREVIEWED if preview.ok else ImportBatch.State.INVALID
    batch.save(update_fields=["preview", "fingerprint", "state"])
    return jobs.Outcome(url=batch_url)


@jobs.register(APPLY_JOB)
def apply_job(job, progress) -> jobs.Outcome:
    """Write what the preview listed, in one transaction: the validated result kept with the preview, re-checked under
    lock against the data as it now is (an importer without one reads the file again and compares)."""
    importer, batch, batch_url = _job_batch(job)
    if batch.state == ImportBatch.State.APPLIED:
        raise jobs.JobFailed("该文件已经导入，不能重复确认。", url=batch_url)
    try:
        with transaction.atomic():
            applied = importer.apply(
                user=job.user,
                content=bytes(batch.content),
                file_name=batch.file_name,
                year=batch.year,
                fingerprint=job.params.get("fingerprint", ""),
                stored=ImportPreview.from_json(batch.preview),
                progress=progress,
            )
            batch.state = ImportBatch.State.APPLIED
            batch.applied_at = timezone.now()
            batch.preview = applied.to_json()  # with the rows written (their ids), for the workbook handed back
            batch.save(update_fields=["state", "applied_at", "preview"])
    except ImportRefused as error:
        preview = error.preview
        batch.preview = preview.to_json()
        batch.fingerprint = preview.fingerprint
        batch.state = ImportBatch.State.PREVIEWED if preview.ok else ImportBatch.State.INVALID
        batch.save(update_fields=["preview", "fingerprint", "state"])
        raise jobs.JobFailed(error.message, url=batch_url) from error
    except EditConflict as conflict:
        message = f"未导入任何数据：{conflict.what}刚被他人修改。请重新导出后再导入。"
        raise jobs.JobFailed(message, url=batch_url) from conflict
    except (ValidationError, Http404) as error:
        detail = "；".join(error.messages) if isinstance(error, ValidationError) else "有的行不在您可以修改的范围内"
        raise jobs.JobFailed(f"未导入任何数据：{detail}。", url=batch_url) from error
    import_applied.send(sender=Importer, kind=importer.kind, user=job.user)
    note = (
        f"已导入“{batch.file_name}”：新增 {len(applied.creates)} 行，修改 {len(applied.updates)} 行"
        f"（{applied.changed_cells} 处），{applied.unchanged} 行没有变化。"
    )
    return jobs.Outcome(url=batch_url, note=note)


def marked_download(request, pk, importer: Importer):
    """The uploaded workbook with its bad cells marked red and an error list, to correct and upload again; after
    the import, the workbook with the ids of the rows it added (and the new versions) filled in, to go on from."""
    batch = _own_batch(request.user, pk, importer)
    preview = ImportPreview.from_json(batch.preview)
    stem = os.path.splitext(batch.file_name)[0] or "导入"
    if batch.state == ImportBatch.State.APPLIED and importer.written_back is not None:
        file = importer.written_back(bytes(batch.content), preview)
        log = {"kind": ExportLog.Kind.OTHER, "area": f"导入后的表格：{batch.file_name}", "personal": True}
        return xlsx_download(request, file, f"{stem}（已导入，含编号）.xlsx", **log)
    file = marked_workbook(bytes(batch.content), preview.problems, sheet_name=importer.sheet_name)
    log = {"kind": ExportLog.Kind.OTHER, "area": f"导入检查：{batch.file_name}", "personal": True}
    return xlsx_download(request, file, f"{stem}（错误标注）.xlsx", **log)


def import_views(importer: Importer):
    """The template, the upload page, the batch page (preview, confirm) and the marked workbook of ``importer``,
    for its URLs; and ``importer`` known to the import jobs."""
    IMPORTERS[importer.kind] = importer

    @login_required
    @require_GET
    def template(request):
        return template_download(request, importer)

    @login_required
    @require_http_methods(["GET", "POST"])
    def upload(request):
        return import_page(request, importer)

    @login_required
    @require_http_methods(["GET", "POST"])
    def batch(request, pk):
        return batch_page(request, pk, importer)

    @login_required
    @require_GET
    def marked(request, pk):
        return marked_download(request, pk, importer)

    return template, upload, batch, marked
