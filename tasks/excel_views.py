"""Excel pages of the plan table: the one table out (施工图 .xlsx), the import template, and the import itself
(upload → preview → confirm, on the shared pages of ``bazhou.core.xlsx.import_views``).

The upload is kept in the database (``ImportBatch``) between the preview and the confirmation, so any app server
can confirm what another previewed. Only people who may edit plans import, and only into their own area; a batch
is seen by its uploader alone (anyone else gets a 404). Every file handed out is written to the export log.

The same views serve the household register's import (``households.excel_views`` gives them its reader and
writer): :func:`import_views` makes the pages of an :class:`Importer` (template, upload, preview, marked workbook).
"""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.views.decorators.http import require_GET

from bazhou.core import access, clock, jobs
from bazhou.core.models import ImportBatch
from bazhou.core.xlsx.downloads import xlsx_download
from bazhou.core.xlsx.import_views import YEAR_ERRORS, Importer, import_views
from tasks import imports
from tasks.exports import PlanTableScope, render_plan_table, render_plan_template
from villages.areas import AreaForm, export_area

PLAN_TABLE_JOB = "plan_table"  # the job that writes a township's or the district's one table (tasks.jobs)


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
    """The one table of the user's area (or the township / village asked for) and a year, as the office prints it.

    A village's table is written at once; a township's or the district's is a background job (``tasks.jobs``):
    the user is sent to its progress bar, and a second click finds the same job."""
    scope = plan_table_scope(request.user, request.GET)
    if scope.village is None:
        params = {
            "year": scope.year,
            "township": request.GET.get("township", ""),
            "village": request.GET.get("village", ""),
        }
        job = jobs.start(request.user, PLAN_TABLE_JOB, params, title=f"导出{scope.title}", request=request)
        return redirect("jobs:detail", pk=job.pk)
    file, rows = render_plan_table(scope, clock.today())
    return xlsx_download(request, file, scope.file_name, **scope.export_log(rows))


def plan_template_file(user, params) -> tuple[object, str, str]:
    """The import template of the one table ``params`` ask for: the file, its name, the area the export log names."""
    scope = plan_table_scope(user, params)
    name = f"{scope.area_name}{scope.year}年施工图导入模板.xlsx"
    return render_plan_template(scope), name, f"施工图任务 {scope.log_area}"


NO_IMPORT_FOR_DEPARTMENTS = "行业部门的用户不能导入施工图：请在“本部门任务”中逐项填报本部门任务的进度。"


def may_import_plans(user) -> bool:
    """Who imports plan rows: whoever edits plans (their area). A department's user is told why not (a 403 in
    Chinese) rather than shown a missing page: their rows are updated one by one through the progress form."""
    if access.department_of(user) is not None:
        raise PermissionDenied(NO_IMPORT_FOR_DEPARTMENTS)
    return access.may_edit_plans(user)


PLAN_IMPORTER = Importer(
    kind=ImportBatch.Kind.PLAN,
    title="施工图任务",
    url_name="tasks:plan_import",
    template_url="tasks:plan_template",
    template=plan_template_file,
    preview=imports.preview_plan_import,
    apply=imports.apply_plan_import,
    may_import=may_import_plans,
    sheet_name=imports.SHEET,
    back_url="villages:list",
    written_back=imports.written_back,
)

plan_template, plan_import, plan_import_batch, plan_import_marked = import_views(PLAN_IMPORTER)
