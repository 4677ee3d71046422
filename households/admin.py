"""Admin for the registry (建档立卡): households, members, incomes, the poverty line and household helpers.

ID numbers are personal information: lists show them masked, and users whose role does not need them
(``access.sees_id_numbers``) see them masked on the forms too.

Households, members and incomes are registered and changed on the registry pages and the API, through
``households.services`` (version or fingerprint checks, reasons, history): here they are read-only, with their
history. The poverty line and household helpers (帮扶责任人) have no page of their own and are maintained here, under
the change rules of ``bazhou.core.admin`` (a 修改原因, no lost update, no delete).
"""

from django.contrib import admin, messages
from django.db.models import OuterRef, Subquery

from bazhou.core import access
from bazhou.core.access import AreaPaths
from bazhou.core.admin import REASON_FIELD, HistoryAdmin, ModelAdmin, SuperuserOnlyMixin, ViewOnlyMixin, count_of
from households import decisions
from households.forms import ID_SHAPED
from households.models import (
    BusinessEntity,
    Cause,
    DecisionAlert,
    HospitalStay,
    Household,
    HouseholdHelper,
    HouseholdIncome,
    IdNumberLookup,
    JobFair,
    JobFairAttendance,
    LandTransfer,
    LowRentHousing,
    Member,
    PovertyLine,
)
from households.services import MEMBER_FIELDS
from villages.admin import VillageAdmin, VillageIndicatorAdmin
from villages.models import Village, VillageIndicator

HOUSEHOLD_AREA = AreaPaths(
    district="household__village__township__district",
    township="household__village__township",
    village="household__village",
)


def sees_id_numbers(request) -> bool:
    return access.sees_id_numbers(request.user)


def search_fields_for(request, search_fields):
    """Never by ID number: the admin's search is a GET (``?q=``), and an ID number must not go into a URL or a
    log (and a user who sees them masked could confirm a guessed number). The household list page searches by
    ID number with a POST."""
    return tuple(f for f in search_fields if "id_number" not in f)


ID_SEARCH_ELSEWHERE = (
    "管理后台不按身份证号搜索（搜索内容会出现在网址和日志中）。请到“贫困户”列表页使用“按身份证号查找”。"
)


class NoIdNumberSearchMixin:
    """A search term shaped like an ID number finds nothing here and says where to search instead."""

    def get_search_results(self, request, queryset, search_term):
        if ID_SHAPED.search(search_term or ""):
            if not request.path.endswith("/autocomplete/"):
                messages.warning(request, ID_SEARCH_ELSEWHERE)
            return queryset.none(), False
        return super().get_search_results(request, queryset, search_term)


class MaskedIdNumberMixin:
    """Swap the ID number field for its masked value for users who may not see it in full."""

    @admin.display(description="身份证号")
    def masked_id_number(self, obj):
        return obj.masked_id_number if obj and obj.id_number else "—"

    def get_exclude(self, request, obj=None):
        exclude = list(super().get_exclude(request, obj) or [])
        if not sees_id_numbers(request):
            exclude.append("id_number")
        return exclude

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not sees_id_numbers(request):
            readonly.append("masked_id_number")
        return readonly


class MemberInline(ViewOnlyMixin, MaskedIdNumberMixin, admin.TabularInline):
    model = Member
    fields = (*MEMBER_FIELDS, "is_active")
    extra = 0
    show_change_link = True

    def get_fields(self, request, obj=None):
        fields = list(self.fields)
        if not sees_id_numbers(request):
            fields[fields.index("id_number")] = "masked_id_number"
        return fields


class HouseholdIncomeInline(ViewOnlyMixin, admin.TabularInline):
    model = HouseholdIncome
    fields = (
        "year",
        "wage",
        "business",
        "property_income",
        "dibao",
        "tekun",
        "pension",
        "eco_compensation",
        "other_transfer",
        "business_expenses",
        "net_income",
    )
    readonly_fields = ("net_income",)
    extra = 0

    @admin.display(description="纯收入（元）")
    def net_income(self, obj):
        return obj.net_income if obj else "—"


class HouseholdHelperInline(ViewOnlyMixin, admin.TabularInline):
    """Listed here; each helper is added or changed (ended with an end date) on its own page, with a reason."""

    model = HouseholdHelper
    fields = ("name", "unit", "post", "phone", "start_date", "end_date")
    extra = 0
    show_change_link = True


def head_name_subquery():
    heads = Member.objects.filter(household=OuterRef("pk"), relation=Member.Relation.HEAD, is_active=True)
    return Subquery(heads.order_by("id").values("name")[:1])


@admin.register(Household)
class HouseholdAdmin(ViewOnlyMixin, NoIdNumberSearchMixin, HistoryAdmin):
    list_display = (
        "number",
        "head_name",
        "member_count",
        "village",
        "township",
        "group",
        "attribute",
        "main_cause",
        "status",
        "identified_year",
        "planned_exit_year",
        "exit_year",
        "housing_grade",
    )
    list_filter = (
        "status",
        "attribute",
        "main_cause",
        "planned_exit_year",
        "exit_year",
        "identified_year",
        "housing_grade",
        "village__township",
    )
    list_select_related = ("village__township",)
    search_fields = ("number", "village__name", "^village__code", "members__name", "=members__id_number", "phone")
    autocomplete_fields = ("village",)
    ordering = ("number",)
    readonly_fields = ("other_causes_display", "version", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("number", "village", "group", "phone")}),
        ("贫困情况", {"fields": ("attribute", "main_cause", "other_causes_display", "identified_year")}),
        ("脱贫状态", {"fields": ("status", "planned_exit_year", "exit_year", "relapse_year")}),
        (
            "生产生活条件",
            {"fields": ("housing_grade", "safe_water", "electricity", "radio_tv", "road", "sanitary_toilet")},
        ),
        ("记录", {"fields": ("version", "created_at", "updated_at"), "classes": ["collapse"]}),
    )
    inlines = (MemberInline, HouseholdIncomeInline, HouseholdHelperInline)
    history_list_display = ("status",)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                head_name=head_name_subquery(),
                member_count=count_of(Member, "household", is_active=True),
            )
        )

    def get_search_fields(self, request):
        return search_fields_for(request, self.search_fields)

    @admin.display(description="其他致贫原因")
    def other_causes_display(self, obj):
        labels = dict(Cause.choices)
        return "、".join(str(labels.get(c, c)) for c in obj.other_causes or []) or "—"

    @admin.display(description="户主", ordering="head_name")
    def head_name(self, obj):
        return obj.head_name or "—"

    @admin.display(description="人口", ordering="member_count")
    def member_count(self, obj):
        return obj.member_count

    @admin.display(description="乡镇", ordering="village__township__name")
    def township(self, obj):
        return obj.village.township


@admin.register(Member)
class MemberAdmin(ViewOnlyMixin, NoIdNumberSearchMixin, MaskedIdNumberMixin, HistoryAdmin):
    list_display = (
        "name",
        "masked_id_number",
        "sex",
        "relation",
        "household",
        "village",
        "health",
        "labour",
        "work",
        "on_dibao",
        "is_active",
    )
    list_filter = (
        "is_active",
        "relation",
        "sex",
        "health",
        "labour",
        "education",
        "school",
        "work",
        "medical_insurance",
        "pension_insurance",
        "on_dibao",
        "household__village__township",
    )
    list_select_related = ("household__village",)
    search_fields = ("name", "=id_number", "household__number")
    autocomplete_fields = ("household",)
    ordering = ("household__number", "id")
    readonly_fields = ("version",)
    fieldsets = (
        (None, {"fields": ("household", "name", "sex", "id_number", "relation", "ethnicity", "is_active")}),
        ("教育与健康", {"fields": ("education", "school", "health")}),
        ("劳动与务工", {"fields": ("labour", "work", "work_months")}),
        ("保障", {"fields": ("medical_insurance", "pension_insurance", "on_dibao")}),
        ("记录", {"fields": ("version",), "classes": ["collapse"]}),
    )
    history_list_display = ("relation", "is_active")

    def get_fieldsets(self, request, obj=None):
        if sees_id_numbers(request):
            return self.fieldsets
        first = self.fieldsets[0][1]["fields"]
        masked = tuple("masked_id_number" if f == "id_number" else f for f in first)
        return ((None, {"fields": masked}), *self.fieldsets[1:])

    def get_search_fields(self, request):
        return search_fields_for(request, self.search_fields)

    def has_view_history_or_change_history_permission(self, request, obj=None):
        # The history page shows old values, ID numbers included, in full.
        return sees_id_numbers(request) and super().has_view_history_or_change_history_permission(request, obj)

    @admin.display(description="村", ordering="household__village__name")
    def village(self, obj):
        return obj.household.village


@admin.register(HouseholdIncome)
class HouseholdIncomeAdmin(ViewOnlyMixin, HistoryAdmin):
    list_display = (
        "household",
        "village",
        "year",
        "wage",
        "business",
        "property_income",
        "transfer",
        "business_expenses",
        "net_income",
        "per_capita",
    )
    list_filter = ("year", "household__village__township")
    list_select_related = ("household__village",)
    search_fields = ("household__number", "household__members__name")
    autocomplete_fields = ("household",)
    ordering = ("household__number", "-year")
    area_paths = HOUSEHOLD_AREA

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(member_count=count_of(Member, "household", outer="household", is_active=True))
        )

    @admin.display(description="村", ordering="household__village__name")
    def village(self, obj):
        return obj.household.village

    @admin.display(description="转移性收入（元）")
    def transfer(self, obj):
        return obj.transfer

    @admin.display(description="纯收入（元）")
    def net_income(self, obj):
        return obj.net_income

    @admin.display(description="人均纯收入（元）")
    def per_capita(self, obj):
        value = obj.per_capita(obj.member_count)
        return "—" if value is None else value


@admin.register(PovertyLine)
class PovertyLineAdmin(ModelAdmin):
    list_display = ("year", "yuan")
    ordering = ("-year",)


@admin.register(HouseholdHelper)
class HouseholdHelperAdmin(HistoryAdmin):
    list_display = ("name", "household", "village", "unit", "post", "phone", "start_date", "end_date")
    list_filter = ("household__village__township",)
    list_select_related = ("household__village",)
    search_fields = ("name", "unit", "phone", "household__number")
    autocomplete_fields = ("household",)
    date_hierarchy = "start_date"
    ordering = ("household__number", "-start_date")
    area_paths = HOUSEHOLD_AREA

    @admin.display(description="村", ordering="household__village__name")
    def village(self, obj):
        return obj.household.village


# ---------------------------------------------------------------------------------------------
# Exit decisions (households.decisions): the alerts are read here; a village's indicators and its population are
# maintained in the villages admin, whose saves are watched from here (villages sits below the registry it needs).
# ---------------------------------------------------------------------------------------------


@admin.register(DecisionAlert)
class DecisionAlertAdmin(ViewOnlyMixin, ModelAdmin):
    """Alerts are written by the edits that flip a decision, never by hand."""

    list_display = (
        "changed_at",
        "village",
        "household",
        "year",
        "criterion_name",
        "before",
        "after",
        "source",
        "changed_by",
        "reason",
    )
    list_filter = ("scope", "source", "year", "criterion", "village__township")
    list_select_related = ("village__township", "household", "changed_by")
    search_fields = ("household__number", "village__name", "criterion_name")
    date_hierarchy = "changed_on"
    ordering = ("-changed_at", "-id")


class WatchesExitDecisions:
    """A villages admin whose saves may flip a village's 一低七有: the save runs inside a watch, and a flip is an
    alert signed with the admin's 修改原因."""

    decision_source = ""

    def watched_villages(self, obj) -> list[tuple[int, int | None]]:
        raise NotImplementedError

    def save_model(self, request, obj, form, change):
        reason = getattr(form, "cleaned_data", {}).get(REASON_FIELD, "")
        with decisions.watching(user=request.user, source=self.decision_source, reason=reason, detail=str(obj)):
            for village, year in self.watched_villages(obj):
                decisions.watch_villages([village], year=year)
            super().save_model(request, obj, form, change)


admin.site.unregister(VillageIndicator)


@admin.register(VillageIndicator)
class WatchedVillageIndicatorAdmin(WatchesExitDecisions, VillageIndicatorAdmin):
    decision_source = decisions.Source.INDICATOR

    def watched_villages(self, obj):
        stored = VillageIndicator.objects.filter(pk=obj.pk).values_list("village", "indicator__year")
        return [*stored, (obj.village_id, obj.indicator.year)] if obj.pk else [(obj.village_id, obj.indicator.year)]


admin.site.unregister(Village)


@admin.register(Village)
class WatchedVillageAdmin(WatchesExitDecisions, VillageAdmin):
    decision_source = decisions.Source.VILLAGE

    def watched_villages(self, obj):
        return [(obj.pk, None)] if obj.pk else []


@admin.register(IdNumberLookup)
class IdNumberLookupAdmin(SuperuserOnlyMixin, ViewOnlyMixin, admin.ModelAdmin):
    """Who looked households up by a full ID number, and when (never the number): the rate limit's count
    (households.lookups), read by superusers only; never edited."""

    list_display = ("at", "user", "via")
    list_filter = ("via", "at")
    search_fields = ("user__username",)
    list_select_related = ("user",)
    list_per_page = 100
    show_full_result_count = False


# ---------------------------------------------------------------------------------------------
# The records behind the annual goals (households.models: job fairs, business entities, land transfer, hospital
# stays, low-rent housing): maintained here under 数据维护, area-scoped (``visible_to`` / ``editable_by``), with the
# change rules of ``bazhou.core.admin`` and the models' Chinese validation. The dashboard's goals count them.
# ---------------------------------------------------------------------------------------------


class JobFairAttendanceInline(ViewOnlyMixin, admin.TabularInline):
    """Who came, read here; each attendance is added and changed on its own page (with a 修改原因)."""

    model = JobFairAttendance
    extra = 0
    fields = ("member", "signed_intent", "employer")
    readonly_fields = fields


@admin.register(JobFair)
class JobFairAdmin(HistoryAdmin):
    list_display = ("name", "held_on", "township", "venue", "attendance", "intents")
    list_filter = ("held_on", "township")
    list_select_related = ("district", "township")
    search_fields = ("name", "venue")
    date_hierarchy = "held_on"
    ordering = ("-held_on",)
    inlines = (JobFairAttendanceInline,)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                attendance_n=count_of(JobFairAttendance, "fair"),
                intents_n=count_of(JobFairAttendance, "fair", signed_intent=True),
            )
        )

    @admin.display(description="登记人数", ordering="attendance_n")
    def attendance(self, obj):
        return obj.attendance_n

    @admin.display(description="签订意向", ordering="intents_n")
    def intents(self, obj):
        return obj.intents_n


@admin.register(JobFairAttendance)
class JobFairAttendanceAdmin(HistoryAdmin):
    list_display = ("fair", "member", "village", "signed_intent", "employer")
    list_filter = ("signed_intent", "fair")
    list_select_related = ("fair", "member__household__village")
    search_fields = ("fair__name", "member__name", "employer")
    autocomplete_fields = ("fair", "member")
    ordering = ("-fair__held_on", "member__name")

    @admin.display(description="村", ordering="member__household__village__name")
    def village(self, obj):
        return obj.member.household.village


@admin.register(BusinessEntity)
class BusinessEntityAdmin(HistoryAdmin):
    list_display = ("name", "kind", "village", "registered_on", "poor_households")
    list_filter = ("kind", "registered_on", "village__township")
    list_select_related = ("village__township",)
    search_fields = ("name", "village__name")
    autocomplete_fields = ("village",)
    date_hierarchy = "registered_on"
    ordering = ("-registered_on", "name")


@admin.register(LandTransfer)
class LandTransferAdmin(HistoryAdmin):
    list_display = ("village", "household", "area_mu", "signed_on", "transferee", "term_years")
    list_filter = ("signed_on", "village__township")
    list_select_related = ("village__township", "household")
    search_fields = ("village__name", "transferee", "household__number")
    autocomplete_fields = ("village", "household")
    date_hierarchy = "signed_on"
    ordering = ("-signed_on", "pk")


@admin.register(HospitalStay)
class HospitalStayAdmin(HistoryAdmin):
    list_display = ("member", "village", "hospital", "in_district", "discharged_on", "total_cost", "out_of_pocket")
    list_filter = ("in_district", "discharged_on", "member__household__village__township")
    list_select_related = ("member__household__village",)
    search_fields = ("member__name", "hospital", "member__household__number")
    autocomplete_fields = ("member",)
    date_hierarchy = "discharged_on"
    ordering = ("-discharged_on", "pk")

    @admin.display(description="村", ordering="member__household__village__name")
    def village(self, obj):
        return obj.member.household.village


@admin.register(LowRentHousing)
class LowRentHousingAdmin(HistoryAdmin):
    list_display = ("household", "village", "address", "allocated_on", "ended_on")
    list_filter = ("allocated_on", "household__village__township")
    list_select_related = ("household__village",)
    search_fields = ("household__number", "address")
    autocomplete_fields = ("household",)
    date_hierarchy = "allocated_on"
    ordering = ("household__number", "-allocated_on")

    @admin.display(description="村", ordering="household__village__name")
    def village(self, obj):
        return obj.household.village
