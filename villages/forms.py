"""Filter forms for the village pages, and the base every list filter shares (GET, all fields optional)."""

from django import forms
from django.db.models import Q

from bazhou.core import access, clock
from bazhou.core.pages import YEAR_MAX, YEAR_MIN, id_param, year_param
from villages.models import Township, Village

ALL = ("", "全部")


def label(model, name: str) -> str:
    """A filter's label is the model field's verbose name, so pages and the admin say the same thing."""
    return model._meta.get_field(name).verbose_name


def choice_filter(model, name: str) -> forms.ChoiceField:
    """An optional select over a model field's choices, labelled with its verbose name."""
    field = model._meta.get_field(name)
    return forms.ChoiceField(label=field.verbose_name, choices=[ALL, *field.choices], required=False)


def year_filter(model, name: str) -> forms.IntegerField:
    return forms.IntegerField(
        label=label(model, name), required=False, min_value=2000, max_value=2100, widget=forms.NumberInput()
    )


YEAR_RANGE = f"年度应为 {YEAR_MIN}–{YEAR_MAX} 之间的四位年份。"


def plan_year_field() -> forms.IntegerField:
    """A list's plan year (年度): a select of the years offered (:func:`offer_years`), read as a year between 2000 and
    2100; anything else is shown as an error beside it and the list keeps its default year (docs/years.md)."""
    return forms.IntegerField(
        label="年度",
        required=False,
        min_value=YEAR_MIN,
        max_value=YEAR_MAX,
        widget=forms.Select,
        error_messages={"invalid": YEAR_RANGE, "min_value": YEAR_RANGE, "max_value": YEAR_RANGE},
    )


def offer_years(form: forms.Form, years, *, all_label: str | None = None, name: str = "year") -> None:
    """Offer ``years`` (newest first, e.g. ``Plan.objects.visible_to(user).offered_years(today.year)``; or a function
    returning them, called only when the select is drawn, so an export that reads the same form does not query them)
    in the form's year select, and a year typed into the address that has no plan yet; ``all_label``: a first choice
    of every year."""
    field = form.fields[name]
    asked = form.data.get(name)

    found: list[list] = []  # read once, however often the select is drawn

    def choices():
        if found:
            return found[0]
        offered = list(years() if callable(years) else years)
        if (year := year_param(asked)) is not None:
            offered = sorted({*offered, year}, reverse=True)
        pairs = [(str(y), f"{y}年") for y in offered]
        found.append([("", all_label), *pairs] if all_label else pairs)
        return found[0]

    field.widget.choices = choices
    field.widget.attrs["data-testid"] = "year-select"


class FilterForm(forms.Form):
    """A list filter: bound to ``request.GET``, every field optional, Bootstrap classes on the widgets.

    ``filter(queryset)`` applies the fields that are valid and ignores the others, so one bad
    parameter shows its error beside the field without emptying the list.
    """

    def __init__(self, data, *, user, **kwargs):
        super().__init__(data, **kwargs)
        self.user = user
        for field in self.fields.values():
            css = (
                "form-select form-select-sm"
                if isinstance(field.widget, forms.Select)
                else "form-control form-control-sm"
            )
            field.widget.attrs.setdefault("class", css)

    def value(self, name: str):
        """The cleaned value of ``name``, or None when empty or invalid."""
        if not hasattr(self, "cleaned_data"):
            self.is_valid()
        return self.cleaned_data.get(name) or None

    def filter(self, queryset):
        raise NotImplementedError


class VillageFilterForm(FilterForm):
    township = forms.ModelChoiceField(
        label=label(Village, "township"), queryset=Township.objects.none(), required=False, empty_label="全部"
    )
    status = choice_filter(Village, "status")
    is_poor = forms.ChoiceField(
        label=label(Village, "is_poor"), choices=[ALL, ("1", "是"), ("0", "否")], required=False
    )
    planned_exit_year = year_filter(Village, "planned_exit_year")
    # The plan year of the figures (年度; every year when none is chosen), offered by the view (offer_years).
    year = plan_year_field()
    # Exit in the plan year (年度, else this year): the dashboard's village figures link here.
    exit = forms.ChoiceField(
        label="退出", choices=[ALL, ("planned", "计划当年退出"), ("exited", "当年已退出")], required=False
    )
    q = forms.CharField(label="搜索", required=False, max_length=50)

    def __init__(self, data, *, user, **kwargs):
        super().__init__(data, user=user, **kwargs)
        self.fields["township"].queryset = Township.objects.visible_to(user)
        own = access.area_of(user)
        if (own and own[0] != "district") or access.department_of(user) is not None:
            # One township only: nothing to choose (and less to scroll on a phone); a 挂包 leader chooses among theirs.
            del self.fields["township"]
        self.fields["q"].widget.attrs["placeholder"] = "村名或代码"

    def filter(self, queryset):
        if township := self.value("township"):
            queryset = queryset.filter(township=township)
        if status := self.value("status"):
            queryset = queryset.filter(status=status)
        if is_poor := self.value("is_poor"):
            queryset = queryset.filter(is_poor=is_poor == "1")
        if year := self.value("planned_exit_year"):
            queryset = queryset.filter(planned_exit_year=year)
        if exit_ := self.value("exit"):
            year = self.value("year") or clock.today().year
            queryset = queryset.planned_to_exit(year) if exit_ == "planned" else queryset.exited_in(year)
        # One village (a dashboard drilled down to it links here): a bounded id, anything else is ignored.
        if village := id_param(self.data.get("village")):
            queryset = queryset.filter(pk=village)
        if q := (self.value("q") or "").strip():
            queryset = queryset.filter(Q(name__icontains=q) | Q(code__contains=q))
        return queryset
