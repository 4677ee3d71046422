"""Which area a dashboard or an export covers, and the rows of an export: the user's own area, or a township or a
village they may pick (``?township=`` code, ``?village=`` id), chosen here once for the dashboard, every export
and every import template; what may be picked and which rows an export holds is decided by ``bazhou.core.access``.
A 挂包 leader's own area is their charge (:class:`Charge`: the townships and villages they are responsible for)."""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404

from bazhou.core import access
from bazhou.core.access import AreaPaths
from villages.models import District, Township, Village


@dataclass(frozen=True)
class Charge:
    """A 挂包 leader's charge (分片挂包): the townships and the villages they are responsible for, as
    ``bazhou.core.access.charge_of`` reads them (the rows they see), with the names a page or a file shows."""

    townships: tuple[Township, ...] = ()
    villages: tuple[Village, ...] = ()

    @property
    def keys(self) -> tuple[frozenset, frozenset]:
        """The township codes and village ids, as ``bazhou.core.access.charge_q`` takes them."""
        return frozenset(t.pk for t in self.townships), frozenset(v.pk for v in self.villages)

    @property
    def token(self) -> str:
        """A short stable key of the charge (cached figures are stored under it)."""
        townships, villages = self.keys
        return "t" + ",".join(sorted(townships)) + ";v" + ",".join(str(pk) for pk in sorted(villages))

    def holds_township(self, code) -> bool:
        return any(t.pk == code for t in self.townships)

    @property
    def names(self) -> list[str]:
        """The charged townships by name, then the charged villages outside them (“白庙乡”, “寺岭乡”, “大寺村”)."""
        codes = self.keys[0]
        return [t.name for t in self.townships] + [v.name for v in self.villages if v.township_id not in codes]

    @property
    def label(self) -> str:
        """“挂包片区（白庙乡、寺岭乡、茅垭村）”, at most three names; “挂包片区（未分配）” for an empty charge."""
        names = self.names
        if not names:
            return "挂包片区（未分配）"
        shown = "、".join(names[:3])
        return f"挂包片区（{shown}{f'等{len(names)}处' if len(names) > 3 else ''}）"


def charge_for(user) -> Charge | None:
    """The charge of a 挂包 leader (``access.charge_of``; 2 more queries for the names); None for anyone else."""
    keys = access.charge_of(user)
    if keys is None:
        return None
    townships, villages = keys
    return Charge(
        townships=tuple(Township.objects.filter(code__in=sorted(townships)).order_by("code")),
        villages=tuple(Village.objects.filter(pk__in=sorted(villages)).select_related("township").order_by("code")),
    )


@dataclass(frozen=True, kw_only=True)
class Area:
    """A district, one township or one village (the narrowest one given). ``district`` is None only for a superuser's
    view of an instance that holds several districts: the whole instance.

    For a 挂包 leader ``charge`` is their charge: at district level the area is the charge (its townships and
    villages, not the whole district), and a township or a village is one they picked inside it. For a department's
    user ``department`` names their department (the rows they see are its rows; the name goes into titles)."""

    district: District | None = None
    township: Township | None = None
    village: Village | None = None
    charge: Charge | None = None
    department: object | None = None

    @property
    def is_charge(self) -> bool:
        """Whether the area is a 挂包 leader's whole charge (not the district, not one township or village)."""
        return self.charge is not None and self.township is None and self.village is None

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
        if self.is_charge:
            return f"{district}{self.charge.label}"
        if self.department is not None:
            # 巴州区 + 区交通运输局 → 巴州区交通运输局
            name = self.department.name
            return f"{district}{name[1:] if district.endswith('区') and name.startswith('区') else name}"
        return district or "全部区县"

    @property
    def title(self) -> str:
        """What a page calls the area: the township's or village's name, the district's, or the charge's."""
        if self.is_charge:
            return f"{self.district.name if self.district else ''}{self.charge.label}"
        return str(self.area or "全部区县")

    def q(self, paths: AreaPaths) -> Q:
        """A filter for the rows of a model (reached through ``paths``) inside this area."""
        if self.is_charge:
            return access.charge_q(paths, self.charge.keys)
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
    charge = charge_for(user)
    if village is not None:
        row = get_object_or_404(Village.objects.choosable_by(user).select_related("township__district"), pk=village)
        return Area(district=row.township.district, township=row.township, village=row, charge=charge)
    if township is not None:
        row = get_object_or_404(Township.objects.choosable_by(user).select_related("district"), code=township)
        return Area(district=row.district, township=row, charge=charge)
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
    # A 挂包 leader's own area is their charge; a department's user's, their department's rows of the district.
    department = user.department if access.department_of(user) is not None else None
    return Area(district=District.objects.get(pk=key), charge=charge, department=department)


def export_area(user, form: AreaForm) -> dict:
    """:class:`AreaScope`'s area fields for what ``form`` asks (see :func:`chosen_area`). A bad parameter is a 404."""
    if not form.is_valid():
        raise Http404("参数不正确")
    data = form.cleaned_data
    area = chosen_area(user, township=data["township"] or None, village=data["village"])
    return {
        "district": area.district,
        "township": area.township,
        "village": area.village,
        "charge": area.charge,
        "department": area.department,
    }


def only_district() -> District | None:
    districts = list(District.objects.all()[:2])
    return districts[0] if len(districts) == 1 else None
