"""Excel pages of the plan table: the one table out (施工图 .xlsx), the import template, and the import itself
(upload → preview → confirm), with the uploaded workbook returned with its bad cells marked.

The upload is kept in the database (``ImportBatch``) between the preview and the confirmation, so any app server
can confirm what another previewed. Only people who may edit plans import, and only into their own area; a batch
is seen by its uploader alone (anyone else gets a 404). Every file handed out is written to the export log.

The same views serve the household register's import (``households.excel_views`` gives them its reader and
writer): :func:`import_views` makes the pages of an :class:`Importer` (template, upload, preview, marked workbook).
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

from bazhou import clock
from bazhou.models import ExportLog
from bazhou.xlsx import (
    AreaForm,
    ImportPreview,
    ImportRefused,
    check_upload,
    export_area,
    import_limits,
    marked_workbook,
    xlsx_download,
)
from households.services import RegistryConflict
from tasks import imports
from tasks.exports import PlanTableScope, render_plan_table, render_plan_template
from tasks.models import ImportBatch
from tasks.services import TaskConflict

YEAR_ERRORS = {
    "invalid": "请输入年度，如 2017。",
    "min_value": "年度不能早于 2000 年。",
    "max_value": "年度不能晚于 2100 年。",
}


class PlanTableForm(AreaForm):
    """Which one table: the year, and a township or a village (codes and ids as the pages link them)."""

    year = forms.IntegerField(min_value=2000, max_value=2100, required=False, error_messages=YEAR_ERRORS)


def plan_table_scope(user, params) -> PlanTableScope:
    """The one table ``params`` (year, township code, village id) ask for, of areas ``user`` may see; else 404."""
    form = PlanTableForm(params)
    area = export_area(user, form)
    return PlanTableScope(user=user, year=form.cleaned_data["year"] or clock.today().year, **area)


@login_required
@require_GET
def plan_table_xlsx(request):
    """The one table of the user's area (or the township / village asked for) and a year, as the office prints it."""
    scope = plan_table_scope(request.user, request.GET)
    file, rows = render_plan_table(scope, clock.today())
    return xlsx_download(request, file, scope.file_name, **scope.export_log(rows))


def plan_template_file(user, params) -> tuple[object, str, str]:
    """The import template of the one table ``params`` ask for: the file, its name, the area the export log names."""
    scope = plan_table_scope(user, params)
    name = f"{scope.area_name}{scope.year}年施工图导入模板.xlsx"
    return render_plan_template(scope), name, f"施工图任务 {scope.log_area}"


# ---------------------------------------------------------------------------------------------
# Upload → preview → confirm (shared with the household register)
# ---------------------------------------------------------------------------------------------


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
        except TaskConflict as conflict:
            refused = f"未导入任何数据：任务“{conflict.current.item}”刚被他人修改。请重新导出后再导入。"
        except RegistryConflict as conflict:
            what = f"{conflict.current._meta.verbose_name}“{conflict.current}”"
            refused = f"未导入任何数据：{what}刚被他人修改。请重新导出后再导入。"
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


def may_edit_plans(user) -> bool:
    """Who imports plan rows and the household register: people who may edit plans."""
    return bool(user.is_authenticated and user.can_edit_plans)


PLAN_IMPORTER = Importer(
    kind=ImportBatch.Kind.PLAN,
    title="施工图任务",
    url_name="tasks:plan_import",
    template_url="tasks:plan_template",
    template=plan_template_file,
    preview=imports.preview_plan_import,
    apply=imports.apply_plan_import,
    may_import=may_edit_plans,
    sheet_name=imports.SHEET,
    back_url="villages:list",
)

plan_template, plan_import, plan_import_batch, plan_import_marked = import_views(PLAN_IMPORTER)
