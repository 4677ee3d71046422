"""Admin for districts, townships, villages, exit indicators and assistance forces (五个一).

These have no pages of their own: the admin is where they are maintained, under the project's change rules
(``bazhou.core.admin.ChangeRulesMixin``: a 修改原因, no lost update, no delete). A village's indicators and forces are
listed on its page and each changed on its own, with its own reason.
"""

from django.contrib import admin
from django.db.models import Count

from bazhou.core import clock
from bazhou.core.access import AreaPaths
from bazhou.core.admin import HistoryAdmin, ModelAdmin, ViewOnlyMixin, count_of
from villages.models import (
    AssistanceAssignment,
    Department,
    District,
    ExitIndicator,
    Township,
    Village,
    VillageIndicator,
)


class CodeFixedMixin:
    """The code is the primary key: changing it on the change page would add a second row, not rename this one."""

    def get_readonly_fields(self, request, obj=None):
        readonly = tuple(super().get_readonly_fields(request, obj))
        return (*readonly, "code") if obj is not None else readonly


@admin.register(District)
class DistrictAdmin(CodeFixedMixin, ModelAdmin):
    list_display = ("code", "name", "township_count")
    search_fields = ("name", "^code")
    ordering = ("code",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(township_count=count_of(Township, "district"))

    @admin.display(description="乡镇数", ordering="township_count")
    def township_count(self, obj):
        return obj.township_count


@admin.register(Department)
class DepartmentAdmin(HistoryAdmin):
    """行业部门: the sector departments of a district, with the other spellings (其他写法) of their names that the plan
    rows' free-text responsible units use. Plan rows are linked to a department from their unit
    (``tasks.services.link_departments``); after adding a department or an alias, run
    ``manage.py link_departments`` to link the older rows."""

    list_display = ("name", "district", "alias_count", "phone", "task_count", "user_count")
    list_filter = ("district",)
    list_select_related = ("district",)
    search_fields = ("name", "aliases", "phone")
    ordering = ("district", "name")
    fields = ("district", "name", "aliases", "phone")
    history_list_display = ("name", "aliases", "phone")
    # A district's departments are read by its users; only a district-wide role changes them (Django's permissions
    # decide who may at all; ``ProjectAdminMixin.may_write`` keeps them to their own district).
    area_paths = AreaPaths(district="district", township="district__townships", village="district__townships__villages")

    def get_queryset(self, request):
        return (
            super().get_queryset(request).annotate(task_count=count_of_rows("tasks"), user_count=count_of_rows("users"))
        )

    @admin.display(description="其他写法")
    def alias_count(self, obj):
        return "、".join(obj.alias_list()) or "–"

    @admin.display(description="关联任务数", ordering="task_count")
    def task_count(self, obj):
        return obj.task_count

    @admin.display(description="用户数", ordering="user_count")
    def user_count(self, obj):
        return obj.user_count


def count_of_rows(relation: str):
    """How many rows point to the department (a distinct count: the two annotations join side by side)."""
    return Count(relation, distinct=True)


@admin.register(Township)
class TownshipAdmin(CodeFixedMixin, ModelAdmin):
    list_display = ("code", "name", "kind", "district", "village_count", "poor_village_count")
    list_filter = ("kind", "district")
    list_select_related = ("district",)
    search_fields = ("name", "^code")
    ordering = ("code",)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                village_count=count_of(Village, "township"),
                poor_village_count=count_of(Village, "township", is_poor=True),
            )
        )

    @admin.display(description="村数", ordering="village_count")
    def village_count(self, obj):
        return obj.village_count

    @admin.display(description="贫困村数", ordering="poor_village_count")
    def poor_village_count(self, obj):
        return obj.poor_village_count


class VillageIndicatorInline(ViewOnlyMixin, admin.TabularInline):
    """Listed here; each assessment is changed on its own page (with its reason)."""

    model = VillageIndicator
    fields = ("indicator", "met", "evidence", "assessed_on")
    extra = 0
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("indicator")


class AssistanceAssignmentInline(ViewOnlyMixin, admin.TabularInline):
    """Listed here; each assignment is added or changed (ended with an end date) on its own page."""

    model = AssistanceAssignment
    fields = ("role", "person", "unit", "post", "phone", "start_date", "end_date")
    extra = 0
    show_change_link = True


@admin.register(Village)
class VillageAdmin(HistoryAdmin):
    list_display = (
        "code",
        "name",
        "township",
        "is_poor",
        "status",
        "identified_year",
        "planned_exit_year",
        "exit_year",
        "registered_households",
        "registered_population",
        "poor_household_count",
        "collective_income",
    )
    list_display_links = ("code", "name")
    list_filter = ("township", "is_poor", "status", "planned_exit_year", "exit_year", "identified_year")
    list_select_related = ("township",)
    search_fields = ("name", "^code")
    ordering = ("code",)
    fieldsets = (
        (None, {"fields": ("township", "code", "name")}),
        ("贫困村状态", {"fields": ("is_poor", "status", "identified_year", "planned_exit_year", "exit_year")}),
        ("基本情况", {"fields": ("registered_households", "registered_population", "collective_income")}),
    )
    inlines = (VillageIndicatorInline, AssistanceAssignmentInline)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(poor_household_count=Count("households"))

    @admin.display(description="建档立卡户数", ordering="poor_household_count")
    def poor_household_count(self, obj):
        return obj.poor_household_count


@admin.register(ExitIndicator)
class ExitIndicatorAdmin(ModelAdmin):
    list_display = ("year", "order", "code", "name", "source", "task_category", "threshold")
    list_display_links = ("code", "name")
    list_filter = ("year",)
    search_fields = ("name", "code")
    ordering = ("-year", "order", "code")


@admin.register(VillageIndicator)
class VillageIndicatorAdmin(HistoryAdmin):
    list_display = ("village", "township", "indicator", "met", "assessed_on")
    list_filter = ("met", "indicator__year", "indicator", "village__township")
    list_select_related = ("village__township", "indicator")
    search_fields = ("village__name", "^village__code", "indicator__name")
    autocomplete_fields = ("village",)
    date_hierarchy = "assessed_on"
    ordering = ("village__code", "indicator__order")
    area_paths = AreaPaths(district="village__township__district", township="village__township", village="village")

    @admin.display(description="乡镇", ordering="village__township__name")
    def township(self, obj):
        return obj.village.township


class CurrentAssignmentFilter(admin.SimpleListFilter):
    title = "在任情况"
    parameter_name = "current"

    def lookups(self, request, model_admin):
        return [("yes", "在任"), ("no", "已离任")]

    def queryset(self, request, queryset):
        today = clock.today()
        if self.value() == "yes":
            return queryset.current(today)
        if self.value() == "no":
            return queryset.exclude(pk__in=AssistanceAssignment.objects.current(today).values("pk"))
        return queryset


@admin.register(AssistanceAssignment)
class AssistanceAssignmentAdmin(HistoryAdmin):
    list_display = (
        "village",
        "township",
        "role",
        "person",
        "unit",
        "post",
        "phone",
        "start_date",
        "end_date",
        "is_current",
    )
    list_filter = (CurrentAssignmentFilter, "role", "village__township")
    list_select_related = ("village__township",)
    search_fields = ("person", "unit", "phone", "village__name", "^village__code")
    autocomplete_fields = ("village",)
    date_hierarchy = "start_date"
    ordering = ("village__code", "role", "-start_date")

    @admin.display(description="乡镇", ordering="village__township__name")
    def township(self, obj):
        return obj.village.township

    @admin.display(description="在任", boolean=True)
    def is_current(self, obj):
        return obj.is_in_post(clock.today())
