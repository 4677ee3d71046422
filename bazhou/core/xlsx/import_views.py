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
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from bazhou.core import clock
from bazhou.core.models import ExportLog, ImportBatch
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
    apply: Callable[..., ImportPreview]  # (user, content, file_name, year, fingerprint) → preview; writes
    may_import: Callable[[object], bool]
    sheet_name: str
    uses_year: bool = True
    back_url: str = ""


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
                preview = importer.preview(user=user, content=content, file_name=name, year=year)
            except ValidationError as error:
                form.add_error("file", error.messages)
            else:
                ImportBatch.purge_expired()
                batch = ImportBatch.objects.create(
                    user=user,
                    kind=importer.kind,
                    year=year,
                    file_name=name,
                    content=content,
                    size=len(content),
                    sha256=hashlib.sha256(content).hexdigest(),
                    state=ImportBatch.State.PREVIEWED if preview.ok else ImportBatch.State.INVALID,
                    preview=preview.to_json(),
                    fingerprint=preview.fingerprint,
                )
                return redirect(f"{importer.url_name}_batch", pk=batch.pk)
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
    """The preview of an upload; POST confirms it (all of it in one transaction, or nothing)."""
    user = request.user
    batch = _own_batch(user, pk, importer)
    preview = ImportPreview.from_json(batch.preview)
    refused = ""
    if request.method == "POST":
        if batch.state == ImportBatch.State.APPLIED:
            messages.info(request, "该文件已经导入，不能重复确认。")
            return redirect(f"{importer.url_name}_batch", pk=batch.pk)
        try:
            with transaction.atomic():
                applied = importer.apply(
                    user=user,
                    content=bytes(batch.content),
                    file_name=batch.file_name,
                    year=batch.year,
                    fingerprint=request.POST.get("fingerprint", ""),
                )
        except ImportRefused as error:
            refused = error.message
            preview = error.preview
            batch.preview = preview.to_json()
            batch.fingerprint = preview.fingerprint
            batch.state = ImportBatch.State.PREVIEWED if preview.ok else ImportBatch.State.INVALID
            batch.save(update_fields=["preview", "fingerprint", "state"])
        except EditConflict as conflict:
            refused = f"未导入任何数据：{conflict.what}刚被他人修改。请重新导出后再导入。"
        except (ValidationError, Http404) as error:
            detail = "；".join(error.messages) if isinstance(error, ValidationError) else "有的行不在您可以修改的范围内"
            refused = f"未导入任何数据：{detail}。"
        else:
            batch.state = ImportBatch.State.APPLIED
            batch.applied_at = timezone.now()
            batch.save(update_fields=["state", "applied_at"])
            messages.success(
                request,
                f"已导入“{batch.file_name}”：新增 {len(applied.creates)} 行，修改 {len(applied.updates)} 行"
                f"（{applied.changed_cells} 处），{applied.unchanged} 行没有变化。",
            )
            return redirect(f"{importer.url_name}_batch", pk=batch.pk)
    return render(
        request,
        "excel/preview.html",
        {
            "importer": importer,
            "batch": batch,
            "preview": preview,
            "refused": refused,
            "marked_url": reverse(f"{importer.url_name}_marked", args=[batch.pk]),
        },
        status=409 if refused else 200,
    )


def marked_download(request, pk, importer: Importer):
    """The uploaded workbook with its bad cells marked red and an error list, to correct and upload again."""
    batch = _own_batch(request.user, pk, importer)
    preview = ImportPreview.from_json(batch.preview)
    file = marked_workbook(bytes(batch.content), preview.problems, sheet_name=importer.sheet_name)
    stem = os.path.splitext(batch.file_name)[0] or "导入"
    log = {"kind": ExportLog.Kind.OTHER, "area": f"导入检查：{batch.file_name}", "personal": True}
    return xlsx_download(request, file, f"{stem}（错误标注）.xlsx", **log)


def import_views(importer: Importer):
    """The template, the upload page, the batch page (preview, confirm) and the marked workbook of ``importer``,
    for its URLs."""

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
