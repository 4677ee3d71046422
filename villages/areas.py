"""Which area a dashboard or an export covers, and the rows of an export: the user's own area, or a township or a
village they may pick (``?township=`` code, ``?village=`` id), chosen here once for the dashboard, every export
and every import template; what may be picked and which rows an export holds is decided by ``bazhou.core.access``."""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404

from bazhou.core import access
from bazhou.core.access import AreaPaths
from villages.models import District, Township, Village


@dataclass(frozen=True, kw_only=True)
class Area:
    """A district, one township or one village (the narrowest one given). ``district`` is None only for a superuser's
    view of an instance that holds several districts: the whole instance."""

    district: District | None = None
    township: Township | None = None
    village: Village | None = None

    @property
    def level(self) -> str:
        return "village" if self.village else "township" if self.township else "district"

    @property
    def area(self):
        return self.village or self.township or self.district

    @property
    def key(self) -> tuple[str, object] | None:
        """The level and key ``bazhou.core.access`` knows the area by; None for the whole instance."""
        area = self.area
        return None if area is None else (self.level, area.pk)

    @property
    def area_name(self) -> str:
        district = self.district.name if self.district else ""
        if self.village:
            return f"{district}{self.village.township.name}{self.village.name}"
        if self.township:
            return f"{district}{self.township.name}"
        return district or "全部区县"

    def q(self, paths: AreaPaths) -> Q:
        """A filter for the rows of a model (reached through ``paths``) inside this area."""
        key = self.key
        return access.EVERYTHING if key is None else access.within(paths, *key)


@dataclass(frozen=True, kw_only=True)
class AreaScope(Area):
    """What an export covers: an area, as ``user`` sees it. Build it from :func:`chosen_area` (or
    :func:`export_area`); its rows come from :meth:`rows` alone."""

    user: object

    def rows(self, queryset):
        """The rows of ``queryset`` (a QuerySet with ``visible_to`` and ``paths``) ``user`` sees inside the area
        (``bazhou.core.access.rows_in_area``: even an area the user should not have been given yields only theirs)."""
        return access.rows_in_area(self.user, queryset, self.key)


class AreaForm(forms.Form):
    """The area an export asks for: a township code or a village id, as the pages link them."""

    township = forms.CharField(max_length=9, required=False)
    village = forms.IntegerField(min_value=1, required=False)


def chosen_area(user, *, township: str | None = None, village: int | None = None) -> Area:
    """The area a dashboard or an export shows: the ``village`` (id) or else the ``township`` (code) asked for, among
    those ``user`` may pick (``choosable_by``: wholly inside their own area); else the user's own area (the district
    for district roles; for a superuser without one, the instance's only district, or None when it holds several).
    An area out of sight is a 404, like one that does not exist."""
    if village is not None:
        row = get_object_or_404(Village.objects.choosable_by(user).select_related("township__district"), pk=village)
        return Area(district=row.township.district, township=row.township, village=row)
    if township is not None:
        row = get_object_or_404(Township.objects.choosable_by(user).select_related("district"), code=township)
        return Area(district=row.district, township=row)
    own = access.area_of(user)
    if own is None:
        if not access.signed_in(user):
            raise Http404
        return Area(district=only_district())
    level, key = own
    if level == "village":
        row = Village.objects.select_related("township__district").get(pk=key)
        return Area(district=row.township.district, township=row.township, village=row)
    if level == "township":
        row = Township.objects.select_related("district").get(pk=key)
        return Area(district=row.district, township=row)
    return Area(district=District.objects.get(pk=key))


def export_area(user, form: AreaForm) -> dict:
    """:class:`AreaScope`'s area fields for what ``form`` asks (see :func:`chosen_area`). A bad parameter is a 404."""
    if not form.is_valid():
        raise Http404("参数不正确")
    data = form.cleaned_data
    area = chosen_area(user, township=data["township"] or None, village=data["village"])
    return {"district": area.district, "township": area.township, "village": area.village}


def only_district() -> District | None:
    districts = list(District.objects.all()[:2])
    return districts[0] if len(districts) == 1 else None
