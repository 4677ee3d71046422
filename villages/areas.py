"""Which area an export covers: the user's own area, or a township or village they may see (``?township=`` code,
``?village=`` id), with the file's title and the rows of that area."""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.http import Http404
from django.shortcuts import get_object_or_404

from villages.models import District, Township, Village

# ---------------------------------------------------------------------------------------------
# Exports: which area, and the file handed out
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AreaScope:
    """Which area an export covers: ``user``'s view of the district, a township or a village (fetched through the
    access scope by :func:`export_area`; the rows are read through ``visible_to(user)`` in any case)."""

    user: object
    district: District | None = None
    township: Township | None = None
    village: Village | None = None

    @property
    def level(self) -> str:
        return "village" if self.village else "township" if self.township else "district"

    @property
    def area_name(self) -> str:
        district = self.district.name if self.district else ""
        if self.village:
            return f"{district}{self.village.township.name}{self.village.name}"
        if self.township:
            return f"{district}{self.township.name}"
        return district or "全部区县"

    def in_area(self, rows, village: str):
        """``rows`` (a queryset) of this area; ``village`` is the path from a row to its village."""
        if self.village:
            return rows.filter(**{village: self.village})
        if self.township:
            return rows.filter(**{f"{village}__township": self.township})
        if self.district:
            return rows.filter(**{f"{village}__township__district": self.district})
        return rows


class AreaForm(forms.Form):
    """The area an export asks for: a township code or a village id, as the pages link them."""

    township = forms.CharField(max_length=9, required=False)
    village = forms.IntegerField(min_value=1, required=False)


def export_area(user, form: AreaForm) -> dict:
    """:class:`AreaScope`'s area fields for what ``form`` asks: its village or township, of those ``user`` may see,
    else the user's own area (the district for district roles). A bad parameter or an area out of sight is a 404."""
    if not form.is_valid():
        raise Http404("参数不正确")
    data = form.cleaned_data
    if data["village"]:
        village = get_object_or_404(
            Village.objects.visible_to(user).select_related("township__district"), pk=data["village"]
        )
        return {"district": village.township.district, "village": village}
    if data["township"]:
        township = get_object_or_404(
            Township.objects.visible_to(user).select_related("district"), code=data["township"]
        )
        return {"district": township.district, "township": township}
    if user.village_id:
        village = Village.objects.select_related("township__district").get(pk=user.village_id)
        return {"district": village.township.district, "village": village}
    if user.township_id:
        township = Township.objects.select_related("district").get(pk=user.township_id)
        return {"district": township.district, "township": township}
    return {"district": user.district or only_district()}


def only_district() -> District | None:
    districts = list(District.objects.all()[:2])
    return districts[0] if len(districts) == 1 else None
