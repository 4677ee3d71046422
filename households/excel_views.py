"""Excel pages of the registry: the household register out (花名册 .xlsx, ID numbers masked by role), its import
template, and the import (upload → preview → confirm), through the shared import pages of ``tasks.excel_views``
(which keep the upload in the database between the preview and the confirmation)."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET, require_http_methods

from bazhou import clock
from bazhou.exportlog import record_export
from bazhou.models import ExportLog
from households import imports
from households.exports import SHEET, RegisterScope, render_register, render_register_template
from tasks.excel_views import Importer, batch_page, import_page, marked_download, only_district, xlsx_response
from tasks.models import ImportBatch
from villages.models import Township, Village


class RegisterForm(forms.Form):
    township = forms.CharField(max_length=9, required=False)
    village = forms.IntegerField(min_value=1, required=False)


def register_scope(user, params) -> RegisterScope:
    """The register ``params`` ask for (a township code or a village id), of areas ``user`` may see; else 404."""
    form = RegisterForm(params)
    if not form.is_valid():
        raise Http404("参数不正确")
    data = form.cleaned_data
    if data["village"]:
        village = get_object_or_404(
            Village.objects.visible_to(user).select_related("township__district"), pk=data["village"]
        )
        return RegisterScope(user=user, district=village.township.district, village=village)
    if data["township"]:
        township = get_object_or_404(
            Township.objects.visible_to(user).select_related("district"), code=data["township"]
        )
        return RegisterScope(user=user, district=township.district, township=township)
    if user.village_id:
        village = Village.objects.select_related("township__district").get(pk=user.village_id)
        return RegisterScope(user=user, district=village.township.district, village=village)
    if user.township_id:
        township = Township.objects.select_related("district").get(pk=user.township_id)
        return RegisterScope(user=user, district=township.district, township=township)
    return RegisterScope(user=user, district=user.district or only_district())


@login_required
@require_GET
def register_xlsx(request):
    """The register of the user's area (or a township / village), one row per member; ID numbers by role."""
    scope = register_scope(request.user, request.GET)
    file, rows = render_register(scope, clock.today())
    record_export(
        request.user,
        kind=ExportLog.Kind.HOUSEHOLDS,
        area=scope.area_name,
        rows=rows,
        personal=True,
        unmasked=scope.unmasked,
        request=request,
    )
    return xlsx_response(file, f"{scope.area_name}贫困户花名册.xlsx")


@login_required
@require_GET
def register_template(request):
    if not request.user.can_edit_plans:
        raise Http404("页面不存在")
    scope = register_scope(request.user, request.GET)
    record_export(request.user, kind=ExportLog.Kind.TEMPLATE, area=f"贫困户花名册 {scope.area_name}", request=request)
    return xlsx_response(render_register_template(scope), f"{scope.area_name}贫困户花名册导入模板.xlsx")


REGISTER_IMPORTER = Importer(
    kind=ImportBatch.Kind.HOUSEHOLDS,
    title="贫困户花名册",
    url_name="households:register_import",
    template_url="households:register_template",
    preview=imports.preview_register_import,
    apply=imports.apply_register_import,
    may_import=lambda user: bool(user.is_authenticated and user.can_edit_plans),
    sheet_name=SHEET,
    uses_year=False,
    back_url="households:list",
)


@login_required
@require_http_methods(["GET", "POST"])
def register_import(request):
    return import_page(request, REGISTER_IMPORTER)


@login_required
@require_http_methods(["GET", "POST"])
def register_import_batch(request, pk):
    return batch_page(request, pk, REGISTER_IMPORTER)


@login_required
@require_GET
def register_import_marked(request, pk):
    return marked_download(request, pk, REGISTER_IMPORTER)
