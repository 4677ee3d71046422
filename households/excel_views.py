"""Excel pages of the registry: the household register out (花名册 .xlsx, ID numbers masked by role), its import
template, and the import (upload → preview → confirm), through the shared import pages of
``bazhou.core.xlsx.import_views`` (which keep the upload in the database between the preview and the confirmation)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.views.decorators.http import require_GET

from bazhou.core import access, clock, jobs
from bazhou.core.models import ExportLog, ImportBatch
from bazhou.core.xlsx.downloads import xlsx_download
from bazhou.core.xlsx.import_views import Importer, import_views
from households import imports
from households.exports import SHEET, RegisterScope, render_register, render_register_template
from villages.areas import AreaForm, export_area


def register_scope(user, params) -> RegisterScope:
    """The register ``params`` ask for (a township code or a village id), of areas ``user`` may see; else 404."""
    return RegisterScope(user=user, **export_area(user, AreaForm(params)))


REGISTER_JOB = "register"  # the job that writes a township's or the district's register (households.jobs)


def register_file_name(scope: RegisterScope) -> str:
    return f"{scope.area_name}贫困户花名册.xlsx"


def register_log(scope: RegisterScope, rows: int) -> dict:
    """What the export log says of a register of ``rows`` members (:func:`record_export`'s keywords)."""
    return {
        "kind": ExportLog.Kind.HOUSEHOLDS,
        "area": scope.area_name,
        "rows": rows,
        "personal": True,
        "unmasked": scope.unmasked,
    }


@login_required
@require_GET
def register_xlsx(request):
    """The register of the user's area (or a township / village), one row per member; ID numbers by role.

    A village's register is written at once; a township's or the district's is a background job
    (``households.jobs``): the user is sent to its progress bar, and a second click finds the same job."""
    scope = register_scope(request.user, request.GET)
    if scope.village is None:
        params = {"township": request.GET.get("township", ""), "village": request.GET.get("village", "")}
        title = f"导出{scope.area_name}贫困户花名册"
        job = jobs.start(request.user, REGISTER_JOB, params, title=title, request=request)
        return redirect("jobs:detail", pk=job.pk)
    file, rows = render_register(scope, clock.today())
    return xlsx_download(request, file, register_file_name(scope), **register_log(scope, rows))


def register_template_file(user, params) -> tuple[object, str, str]:
    """The import template of the register ``params`` ask for: the file, its name, the area the export log names."""
    scope = register_scope(user, params)
    name = f"{scope.area_name}贫困户花名册导入模板.xlsx"
    return render_register_template(scope), name, f"贫困户花名册 {scope.area_name}"


REGISTER_IMPORTER = Importer(
    kind=ImportBatch.Kind.HOUSEHOLDS,
    title="贫困户花名册",
    url_name="households:register_import",
    template_url="households:register_template",
    template=register_template_file,
    preview=imports.preview_register_import,
    apply=imports.apply_register_import,
    may_import=access.may_edit_registry,
    sheet_name=SHEET,
    uses_year=False,
    back_url="households:list",
)

register_template, register_import, register_import_batch, register_import_marked = import_views(REGISTER_IMPORTER)
