"""API for the registry (建档立卡): households with their head and 一超六有, members, yearly incomes.

- Reading: ``visible_to`` as the registry pages; a row outside the area is a 404. ID numbers are shown as the
  pages show them: in full to district admins, township staff and village cadres, masked (511902********1234) to
  supervisors and leaders, who get no age either (``access.sees_ages``: an age narrows a masked number down). An ID
  number never goes in a URL: ``?search=`` refuses one, and the lookup by ID number is
  ``POST /api/v1/households/lookup/`` with the number in the body, only for the roles that see full numbers
  (``access.may_look_up_id_numbers``; others 403) and at most ``access.ID_LOOKUP_LIMIT`` a user in ten minutes
  (``households.lookups``; beyond, 429); a member's number is written in the body too, and a member's URL is its id.
- Writing, as the plan rows are written (tasks/api.py) and through the services the Excel import uses
  (``households.services``): district admins, township staff and village cadres (others: 403); the service
  fetches the row through ``editable_by`` (outside the area: 404), compares the version from ``If-Match`` under a
  row lock (stale: 412 with the row as it stands), validates with ``full_clean()`` (400, Chinese messages) and
  writes the history with the optional ``reason``. A household's and a member's ETag is their ``version``; a
  year's income has none, so its ETag is the digest of its figures (``services.income_fingerprint``), compared
  in the same way. Nothing is deleted: a member leaves the register by ``is_active: false`` with a reason.
- Not writable: ``id``, ``version`` and whatever the services keep; a household's ``village`` and ``number``, a
  member's ``household``, an income's ``household`` and ``year`` once created. Sending one is a 400 naming it.

Queries: the household list is the page of households (head name, head ID number and member count as
subqueries) plus three for their readiness (active members, the year's incomes, the poverty line); the member
and income lists are one query each. The household list is read as ``values()`` rows and written by
:class:`HouseholdRows` (the same JSON as :class:`HouseholdSerializer`, which still writes single rows and gives the
schema; tests/api/test_household_rows.py compares the two).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Exists, OuterRef, Q
from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.fields import empty
from rest_framework.response import Response

from bazhou.core import access, clock, idnumbers
from bazhou.core.api import rows
from bazhou.core.api.base import ApiViewSet
from bazhou.core.api.errors import error_body
from bazhou.core.api.fields import Label, StrictSerializer, VisibleRow, reason_field
from bazhou.core.api.filters import FilterSet, IdFilter, refuse_id_numbers
from bazhou.core.api.history import PARAMETERS as HISTORY_PARAMETERS
from bazhou.core.api.history import RecordHistoryPage, history_response
from bazhou.core.api.permissions import require
from bazhou.core.api.schema import changes, creates, documented
from bazhou.core.templatetags.bazhou import id_number_for
from households import history, lookups, services
from households.models import WORK_MONTHS_VALIDATORS, Cause, Household, HouseholdIncome, Member
from households.readiness import HouseholdRow, age_on, plan_year, readiness_for
from households.views import active_member_count, head
from villages.models import Village

REGISTRY_READ_ONLY = "您的角色只能查看，不能修改建档立卡信息。"
VILLAGE_FIXED = "户所属的村不能修改。"
NUMBER_FIXED = "户编号不能修改。"
MEMBER_HOUSEHOLD_FIXED = "成员所属的户不能修改。"
NEW_MEMBER_ACTIVE = "新登记的成员总是在册的；成员离开时用修改（PATCH）把 is_active 设为 false，并填写原因。"
INCOME_HOUSEHOLD_FIXED = "收入所属的户不能修改。"
INCOME_YEAR_FIXED = "收入的年度不能修改；另一年度的收入请新增一条。"
YEAR_RANGE = "年度应为 2000–2100 之间的年份。"
WORK_MONTHS = WORK_MONTHS_VALIDATORS[0].message
REASON_HELP = "变更原因，连同修改人、时间、改前改后记入修改历史"

# ---------------------------------------------------------------------------------------------
# Serializers
# ---------------------------------------------------------------------------------------------


class CriterionSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    met = serializers.BooleanField()
    reason = serializers.CharField()


class ReadinessSerializer(serializers.Serializer):
    year = serializers.IntegerField()
    met = serializers.BooleanField(help_text="一超六有全部达到")
    criteria = CriterionSerializer(many=True)


class HouseholdSerializer(serializers.ModelSerializer):
    village_name = serializers.CharField(source="village.name", read_only=True)
    township = serializers.CharField(source="village.township_id", read_only=True)
    township_name = serializers.CharField(source="village.township.name", read_only=True)
    attribute_display = Label(Household.Attribute.choices, source="attribute")
    main_cause_display = Label(Cause.choices, source="main_cause")
    other_causes = serializers.ListField(child=serializers.ChoiceField(choices=Cause.choices), read_only=True)
    status_display = Label(Household.Status.choices, source="status")
    head_name = serializers.CharField(read_only=True, allow_null=True, help_text="户主姓名")
    head_id_number = serializers.SerializerMethodField(help_text="户主身份证号（督查人员、领导看到的是打码的）")
    member_count = serializers.IntegerField(read_only=True, help_text="在册成员人数")
    readiness = serializers.SerializerMethodField(help_text="本年度一超六有逐项判断")

    class Meta:
        model = Household
        fields = [
            "id",
            "number",
            "village",
            "village_name",
            "township",
            "township_name",
            "group",
            "phone",
            "attribute",
            "attribute_display",
            "main_cause",
            "main_cause_display",
            "other_causes",
            "identified_year",
            "status",
            "status_display",
            "planned_exit_year",
            "exit_year",
            "relapse_year",
            "housing_grade",
            "safe_water",
            "electricity",
            "radio_tv",
            "road",
            "sanitary_toilet",
            "head_name",
            "head_id_number",
            "member_count",
            "readiness",
            "version",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(ReadinessSerializer)
    def get_readiness(self, household) -> dict:
        return readiness_data(household.readiness)

    def get_head_id_number(self, household) -> str | None:
        number = getattr(household, "head_id_number", None)
        return id_number_for(number, self.context["request"].user) if number else None


def readiness_data(readiness) -> dict:
    """A household's 一超六有 as the API writes it (plain dicts: 8 nested serializers a row were a third of the list's
    time)."""
    return {
        "year": readiness.year,
        "met": readiness.met,
        "criteria": [{"code": c.code, "name": c.name, "met": c.met, "reason": c.reason} for c in readiness.criteria],
    }


# The household list as values(): the columns read, and the writer that gives each row HouseholdSerializer's output.
HOUSEHOLD_COLUMNS = (
    "id",
    "number",
    "village_id",
    "village__name",
    "village__township_id",
    "village__township__name",
    *services.HOUSEHOLD_FIELDS,
    "head_name",
    "head_id_number",
    "member_count",
    "version",
    "updated_at",
)


class HouseholdRows:
    """Households read as ``values(*HOUSEHOLD_COLUMNS)`` written as :class:`HouseholdSerializer` writes them, for a
    page of the list: labels evaluated and the time zone looked up once, the ID-number rule asked once
    (``access.sees_id_numbers``: masked for who may not see numbers in full), readiness in three queries."""

    def __init__(self, user):
        self.full_numbers = access.sees_id_numbers(user)
        self.attributes = rows.labels(Household.Attribute.choices)
        self.causes = rows.labels(Cause.choices)
        self.statuses = rows.labels(Household.Status.choices)
        self.moment = rows.datetime_text()

    def write(self, page: list[dict]) -> list[dict]:
        judged = readiness_for(
            [HouseholdRow(r["id"], r["housing_grade"], r["safe_water"], r["electricity"], r["radio_tv"]) for r in page],
            plan_year(),
        )
        return [self.row(r, judged[r["id"]]) for r in page]

    def id_number(self, number: str | None) -> str | None:
        if not number:
            return None
        return number if self.full_numbers else idnumbers.mask(number)

    def row(self, r: dict, readiness) -> dict:
        attribute, cause, status = r["attribute"], r["main_cause"], r["status"]
        return {
            "id": r["id"],
            "number": r["number"],
            "village": r["village_id"],
            "village_name": r["village__name"],
            "township": str(r["village__township_id"]),
            "township_name": r["village__township__name"],
            "group": r["group"],
            "phone": r["phone"],
            "attribute": attribute,
            "attribute_display": self.attributes.get(attribute, attribute),
            "main_cause": cause,
            "main_cause_display": self.causes.get(cause, cause),
            "other_causes": None if r["other_causes"] is None else list(r["other_causes"]),
            "identified_year": r["identified_year"],
            "status": status,
            "status_display": self.statuses.get(status, status),
            "planned_exit_year": r["planned_exit_year"],
            "exit_year": r["exit_year"],
            "relapse_year": r["relapse_year"],
            "housing_grade": r["housing_grade"],
            "safe_water": r["safe_water"],
            "electricity": r["electricity"],
            "radio_tv": r["radio_tv"],
            "road": r["road"],
            "sanitary_toilet": r["sanitary_toilet"],
            "head_name": rows.text(r["head_name"]),
            "head_id_number": self.id_number(r["head_id_number"]),
            "member_count": r["member_count"],
            "readiness": readiness_data(readiness),
            "version": r["version"],
            "updated_at": self.moment(r["updated_at"]),
        }


class MemberSerializer(serializers.ModelSerializer):
    id_number = serializers.SerializerMethodField(help_text="身份证号（督查人员、领导看到的是打码的）")
    age = serializers.SerializerMethodField(
        help_text="周岁（按系统的“今天”）；看到打码身份证号的角色为 null（年龄可用来推算身份证号）"
    )
    sex_display = Label(Member.Sex.choices, source="sex")
    relation_display = Label(Member.Relation.choices, source="relation")
    education_display = Label(Member.Education.choices, source="education")
    school_display = Label(Member.School.choices, source="school")
    health_display = Label(Member.Health.choices, source="health")
    labour_display = Label(Member.Labour.choices, source="labour")
    work_display = Label(Member.Work.choices, source="work")

    class Meta:
        model = Member
        fields = [
            "id",
            "household",
            "name",
            "sex",
            "sex_display",
            "id_number",
            "age",
            "relation",
            "relation_display",
            "ethnicity",
            "education",
            "education_display",
            "school",
            "school_display",
            "health",
            "health_display",
            "labour",
            "labour_display",
            "work",
            "work_display",
            "work_months",
            "medical_insurance",
            "pension_insurance",
            "on_dibao",
            "is_active",
            "version",
        ]
        read_only_fields = fields

    def get_id_number(self, member) -> str:
        return id_number_for(member.id_number, self.context["request"].user)

    def get_age(self, member) -> int | None:
        # An age narrows a masked number down to a few dozen: only for who sees the numbers in full.
        if not access.sees_ages(self.context["request"].user):
            return None
        return age_on(member.birth_date, self.context["today"])


class IncomeSerializer(serializers.ModelSerializer):
    transfer = serializers.DecimalField(
        max_digits=14, decimal_places=2, read_only=True, help_text="转移性收入合计（元）"
    )
    net_income = serializers.DecimalField(max_digits=14, decimal_places=2, read_only=True, help_text="家庭纯收入（元）")
    member_count = serializers.IntegerField(read_only=True, help_text="在册成员人数")
    per_capita_net = serializers.SerializerMethodField(help_text="人均纯收入（元）；无在册成员时为空")

    class Meta:
        model = HouseholdIncome
        fields = [
            "id",
            "household",
            "year",
            *HouseholdIncome.INCOME_FIELDS,
            "business_expenses",
            "transfer",
            "net_income",
            "member_count",
            "per_capita_net",
        ]
        read_only_fields = fields

    def get_per_capita_net(self, income) -> str | None:
        value = income.per_capita(income.member_count)
        return None if value is None else f"{value:.2f}"


class IdNumberField(serializers.CharField):
    """An ID number checked as the registry checks it (18 characters, birth date, check character), upper-cased."""

    def __init__(self, **kwargs):
        super().__init__(max_length=32, **kwargs)

    def to_internal_value(self, data):
        value = idnumbers.normalize(super().to_internal_value(data))
        try:
            idnumbers.validate_id_number(value, today=clock.today())
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.messages) from None
        return value


class LookupSerializer(serializers.Serializer):
    id_number = IdNumberField(help_text="要查找的身份证号（18 位）")


# ---------------------------------------------------------------------------------------------
# Serializers: writing (types only; the services judge the whole row)
# ---------------------------------------------------------------------------------------------


class OptionalBoolean(serializers.BooleanField):
    """A yes/no that stays as it is when left out, in a form as in JSON (DRF's BooleanField reads a field missing
    from a form as false: a household registered by a form would lose its safe water without a word)."""

    default_empty_html = empty

    def __init__(self, **kwargs):
        super().__init__(required=False, **kwargs)


def choice_field(choices, **kwargs) -> serializers.ChoiceField:
    return serializers.ChoiceField(choices=choices, required=False, **kwargs)


def year_field(**kwargs) -> serializers.IntegerField:
    """A year, bounded as the plans' years are (the column would take any number the database allows)."""
    messages = {"min_value": YEAR_RANGE, "max_value": YEAR_RANGE}
    return serializers.IntegerField(min_value=2000, max_value=2100, error_messages=messages, **kwargs)


def service_arguments(serializer, fields: tuple[str, ...]) -> dict:
    """The validated input as a service takes it: the fields a person may set, and the reason."""
    data = serializer.validated_data
    return {"data": {name: value for name, value in data.items() if name in fields}, "reason": data.get("reason", "")}


class HouseholdChangeSerializer(StrictSerializer):
    """What a person may set on a household (``households.services.HOUSEHOLD_FIELDS``) and the reason."""

    group = serializers.CharField(max_length=20, allow_blank=True, required=False)
    phone = serializers.CharField(max_length=20, allow_blank=True, required=False)
    attribute = choice_field(Household.Attribute.choices)
    main_cause = serializers.ChoiceField(choices=Cause.choices)
    other_causes = serializers.ListField(
        child=serializers.ChoiceField(choices=Cause.choices),
        required=False,
        help_text="其他致贫原因（多选，不含主要致贫原因）",
    )
    identified_year = year_field()
    status = choice_field(Household.Status.choices)
    planned_exit_year = year_field(allow_null=True, required=False, help_text="计划脱贫的户必填")
    exit_year = year_field(allow_null=True, required=False, help_text="已脱贫或返贫的户必填")
    relapse_year = year_field(allow_null=True, required=False, help_text="返贫户必填，须晚于脱贫年度")
    housing_grade = choice_field(Household.HousingGrade.choices)
    safe_water = OptionalBoolean()
    electricity = OptionalBoolean()
    radio_tv = OptionalBoolean()
    road = choice_field(Household.Road.choices)
    sanitary_toilet = OptionalBoolean()
    reason = reason_field(REASON_HELP)

    fixed_fields = {"village": VILLAGE_FIXED, "number": NUMBER_FIXED}

    def service_arguments(self) -> dict:
        return service_arguments(self, services.HOUSEHOLD_FIELDS)


class HouseholdCreateSerializer(HouseholdChangeSerializer):
    """A new household: its village (one the user may change) and its number (unique in the district)."""

    village = VisibleRow(Village, "该村")
    number = serializers.CharField(max_length=30, help_text="户编号（全区唯一，登记后不能修改）")


class MemberChangeSerializer(StrictSerializer):
    """What a person may set on a member (``households.services.MEMBER_FIELDS``), leaving, and the reason."""

    name = serializers.CharField(max_length=50)
    sex = serializers.ChoiceField(choices=Member.Sex.choices)
    id_number = IdNumberField(help_text="身份证号（18 位，须与性别相符；不能与另一在册成员相同）。响应中按角色打码")
    relation = serializers.ChoiceField(choices=Member.Relation.choices, help_text="与户主关系；每户只能有一名户主")
    ethnicity = serializers.CharField(max_length=20, required=False)
    education = choice_field(Member.Education.choices)
    school = choice_field(Member.School.choices)
    health = choice_field(Member.Health.choices)
    labour = choice_field(Member.Labour.choices)
    work = choice_field(Member.Work.choices)
    work_months = serializers.IntegerField(
        min_value=0,
        max_value=12,
        required=False,
        error_messages={"min_value": WORK_MONTHS, "max_value": WORK_MONTHS},
    )
    medical_insurance = OptionalBoolean()
    pension_insurance = OptionalBoolean()
    on_dibao = OptionalBoolean()
    is_active = OptionalBoolean(
        help_text="false：该成员不再在册（迁出、死亡或注销），须填写 reason，成员不删除；不在册的成员不能再修改",
    )
    reason = reason_field(REASON_HELP)

    fixed_fields = {"household": MEMBER_HOUSEHOLD_FIXED}

    def service_arguments(self) -> dict:
        return service_arguments(self, services.MEMBER_FIELDS)

    @property
    def leaving(self) -> bool:
        return self.validated_data.get("is_active") is False


class MemberCreateSerializer(MemberChangeSerializer):
    """A new member of a household of the user's area (always active)."""

    household = VisibleRow(Household, "该户")
    is_active = None

    fixed_fields = {"is_active": NEW_MEMBER_ACTIVE}


def yuan_field(name: str) -> serializers.DecimalField:
    """An amount in 元 (2 decimals), never negative, with the registry's messages."""
    return serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=0,
        required=False,
        help_text=str(HouseholdIncome._meta.get_field(name).verbose_name),
        error_messages={
            "min_value": "收入和支出金额不能为负数。",
            "max_decimal_places": "金额以元为单位，最多两位小数。",
            "max_digits": "金额过大，请核对。",
            "max_whole_digits": "金额过大，请核对。",
            "max_string_length": "金额过大，请核对。",
        },
    )


class IncomeChangeSerializer(StrictSerializer):
    """The figures of a year's income (元); those not given stay as they are (0 on a new record)."""

    wage = yuan_field("wage")
    business = yuan_field("business")
    property_income = yuan_field("property_income")
    dibao = yuan_field("dibao")
    tekun = yuan_field("tekun")
    pension = yuan_field("pension")
    eco_compensation = yuan_field("eco_compensation")
    other_transfer = yuan_field("other_transfer")
    business_expenses = yuan_field("business_expenses")
    reason = reason_field("修改原因：修改金额时必填，记入修改历史")

    fixed_fields = {"household": INCOME_HOUSEHOLD_FIXED, "year": INCOME_YEAR_FIXED}

    def figures(self) -> dict:
        return {name: value for name, value in self.validated_data.items() if name in services.INCOME_FIELDS}

    def change_reason(self) -> str:
        return self.validated_data.get("reason", "")


class IncomeCreateSerializer(IncomeChangeSerializer):
    """A household's income for a year: one a household and year."""

    household = VisibleRow(Household, "该户")
    year = year_field(help_text="年度（每户每年一条）")


# ---------------------------------------------------------------------------------------------
# Filters (what the household list page filters by)
# ---------------------------------------------------------------------------------------------


class HouseholdFilter(FilterSet):
    township = filters.CharFilter(field_name="village__township", label="乡镇代码（9 位）")
    search = filters.CharFilter(method="search_households", label="户主姓名或户编号（包含）；身份证号请用 lookup")

    class Meta:
        model = Household
        fields = ["township", "village", "status", "attribute", "main_cause", "planned_exit_year"]

    def search_households(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        heads = Member.objects.filter(
            household=OuterRef("pk"), is_active=True, relation=Member.Relation.HEAD, name__icontains=value
        )
        return queryset.filter(Q(Exists(heads)) | Q(number__icontains=value))


class MemberFilter(FilterSet):
    village = IdFilter(field_name="household__village", label="村 id")

    class Meta:
        model = Member
        fields = ["household", "village", "is_active", "relation", "health"]


class IncomeFilter(FilterSet):
    class Meta:
        model = HouseholdIncome
        fields = ["household", "year"]


# ---------------------------------------------------------------------------------------------
# Viewsets
# ---------------------------------------------------------------------------------------------


class RegistryWrites:
    """What the registry's writes share: a service's conflict as 412 naming who changed the row last (from its
    history)."""

    def stale(self, conflict):
        error = super().stale(conflict)
        history = getattr(conflict.current, "history", None)
        last = history.select_related("history_user").first() if history is not None else None
        if last is not None:
            error.changed_by, error.changed_at = last.history_user, last.history_date
        return error


@documented("建档立卡", list="贫困户列表（含户主、在册人数、一超六有）", retrieve="一户（响应头 ETag 为其版本）")
class HouseholdViewSet(RegistryWrites, ApiViewSet):
    serializer_class = HouseholdSerializer
    filterset_class = HouseholdFilter
    versioned = True
    conflict = services.RegistryConflict
    ordering_fields = ("number", "id", "identified_year")
    ordering = ("number",)

    def visible(self):
        return (
            Household.objects.visible_to(self.request.user)
            .select_related("village__township")
            .annotate(head_name=head("name"), head_id_number=head("id_number"), member_count=active_member_count())
        )

    def list(self, request, *args, **kwargs):
        """A page of households read as values() and written by :class:`HouseholdRows`: the page (head and member
        count as subqueries) and three queries for its readiness, whatever the page size."""
        listed = Household.objects.visible_to(request.user).annotate(
            head_name=head("name"), head_id_number=head("id_number"), member_count=active_member_count()
        )
        page = self.paginate_queryset(self.filter_queryset(listed).values(*HOUSEHOLD_COLUMNS))
        return self.get_paginated_response(HouseholdRows(request.user).write(page))

    def filter_queryset(self, queryset):
        refuse_id_numbers(self.request.query_params)
        return super().filter_queryset(queryset)

    def decorate(self, rows):
        readiness = readiness_for(rows, plan_year())
        for household in rows:
            household.readiness = readiness[household.pk]
        return rows

    @extend_schema(
        summary="按身份证号查找贫困户（号码放在请求体里，不放在网址中）",
        request=LookupSerializer,
        responses={
            200: inline_serializer("HouseholdLookup", {"results": HouseholdSerializer(many=True)}),
            400: OpenApiResponse(description="身份证号格式、出生日期或校验码不对"),
            403: OpenApiResponse(description="看到打码身份证号的角色（督查人员、领导等）不能按身份证号查找"),
            429: OpenApiResponse(
                description=f"每人每 {access.ID_LOOKUP_WINDOW // 60} 分钟最多查找 {access.ID_LOOKUP_LIMIT} 次"
            ),
        },
    )
    @action(detail=False, methods=["post"])
    def lookup(self, request):
        """Households of the user's area with an active member whose ID number is the one given: only for the roles
        that see full numbers (to anyone else an answer would confirm a guess), rate-limited per user."""
        if not access.may_look_up_id_numbers(request.user):
            return Response(error_body(access.ID_LOOKUP_REFUSED, "permission_denied"), status=403)
        id_number = self.valid_input(LookupSerializer).validated_data["id_number"]
        if not lookups.take(request.user, via="api"):
            return Response(error_body(access.ID_LOOKUP_TOO_MANY, "throttled"), status=429)
        with_member = Member.objects.filter(household=OuterRef("pk"), is_active=True, id_number=id_number)
        rows = self.decorate(list(self.get_queryset().filter(Exists(with_member)).order_by("number")))
        return Response({"results": HouseholdSerializer(rows, many=True, context=self.get_serializer_context()).data})

    @creates(
        "登记一户（村须在您的范围内；户编号全区唯一）", request=HouseholdCreateSerializer, response=HouseholdSerializer
    )
    def create(self, request):
        require(access.may_edit_registry(request.user), REGISTRY_READ_ONLY)
        serializer = self.valid_input(HouseholdCreateSerializer)
        data = serializer.validated_data
        household = services.household_create(
            user=request.user, village_id=data["village"].pk, number=data["number"], **serializer.service_arguments()
        )
        return self.created(household)

    @changes("修改一户的全部字段（If-Match 必填）", request=HouseholdChangeSerializer, response=HouseholdSerializer)
    def update(self, request, pk=None):
        return self._update(request, partial=False)

    @changes("修改一户的部分字段（If-Match 必填）", request=HouseholdChangeSerializer, response=HouseholdSerializer)
    def partial_update(self, request, pk=None):
        return self._update(request, partial=True)

    def _update(self, request, *, partial: bool):
        household, version = self.to_change(access.may_edit_registry(request.user), REGISTRY_READ_ONLY)
        arguments = self.valid_input(HouseholdChangeSerializer, partial=partial).service_arguments()
        return self.changed(
            household, services.household_update, household_id=household.pk, expected_version=version, **arguments
        )

    @extend_schema(
        summary="一户的修改历史：户本身（含生产生活条件）、成员、收入、帮扶责任人；谁、何时、改前改后、原因",
        parameters=HISTORY_PARAMETERS,
        responses={200: RecordHistoryPage},
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def history(self, request, pk=None):
        """The household's timeline as its page shows it, newest first: 1 query for the household, 4 for the history."""
        household = get_object_or_404(Household.objects.visible_to(request.user).only("pk"), pk=pk)
        return history_response(request, history.household_timeline(request.user, household.pk))


@documented("建档立卡", list="家庭成员", retrieve="一名家庭成员（响应头 ETag 为其版本）")
class MemberViewSet(RegistryWrites, ApiViewSet):
    serializer_class = MemberSerializer
    filterset_class = MemberFilter
    versioned = True
    conflict = services.RegistryConflict
    ordering_fields = ("id", "household")
    ordering = ("id",)
    search_fields = ("name",)

    def visible(self):
        return Member.objects.visible_to(self.request.user)

    def get_ordering(self, request, queryset):
        # ``household`` orders by its id (a column of this table, so the cursor reads it without a query).
        return [name.replace("household", "household_id") for name in super().get_ordering(request, queryset)]

    @creates(
        "为一户登记一名成员（身份证号不能与另一在册成员相同）",
        request=MemberCreateSerializer,
        response=MemberSerializer,
    )
    def create(self, request):
        require(access.may_edit_registry(request.user), REGISTRY_READ_ONLY)
        serializer = self.valid_input(MemberCreateSerializer)
        member = services.member_create(
            household_id=serializer.validated_data["household"].pk, user=request.user, **serializer.service_arguments()
        )
        return self.created(member)

    @changes("修改一名成员的全部字段（If-Match 必填）", request=MemberChangeSerializer, response=MemberSerializer)
    def update(self, request, pk=None):
        return self._update(request, partial=False)

    @changes(
        "修改一名成员的部分字段；is_active 为 false 时该成员不再在册，须填写原因（If-Match 必填）",
        request=MemberChangeSerializer,
        response=MemberSerializer,
    )
    def partial_update(self, request, pk=None):
        return self._update(request, partial=True)

    def _update(self, request, *, partial: bool):
        member, version = self.to_change(access.may_edit_registry(request.user), REGISTRY_READ_ONLY)
        serializer = self.valid_input(MemberChangeSerializer, partial=partial)
        if not serializer.leaving and not member.is_active:
            raise DjangoValidationError({"is_active": services.MEMBER_LEFT})
        write = services.member_leave if serializer.leaving else services.member_update
        arguments = serializer.service_arguments()
        return self.changed(member, write, member_id=member.pk, expected_version=version, **arguments)

    @extend_schema(
        summary="一名成员的修改历史：谁、何时、改前改后、原因（身份证号按您的权限显示或打码）",
        parameters=HISTORY_PARAMETERS,
        responses={200: RecordHistoryPage},
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def history(self, request, pk=None):
        """The member's history, newest first: 1 query for the member, 1 for the history."""
        member = get_object_or_404(Member.objects.visible_to(request.user).only("pk"), pk=pk)
        return history_response(request, history.member_timeline(request.user, member.pk))


@documented("建档立卡", list="家庭年收入（元）", retrieve="一户一年的收入（响应头 ETag 为其各项金额的摘要）")
class IncomeViewSet(RegistryWrites, ApiViewSet):
    serializer_class = IncomeSerializer
    filterset_class = IncomeFilter
    conflict = services.IncomeConflict
    ordering_fields = ("id", "year")
    ordering = ("id",)

    def visible(self):
        households = Household.objects.visible_to(self.request.user)
        return HouseholdIncome.objects.filter(household__in=households.values("pk")).annotate(
            member_count=active_member_count("household")
        )

    def etag(self, obj, data) -> str:
        return f'"{services.income_fingerprint(obj)}"'

    @creates(
        "登记一户某年度的收入（每户每年一条；未给出的金额为 0）",
        request=IncomeCreateSerializer,
        response=IncomeSerializer,
    )
    def create(self, request):
        require(access.may_edit_registry(request.user), REGISTRY_READ_ONLY)
        serializer = self.valid_input(IncomeCreateSerializer)
        data = serializer.validated_data
        income = services.income_create(
            household_id=data["household"].pk,
            user=request.user,
            year=data["year"],
            data=serializer.figures(),
            reason=serializer.change_reason(),
        )
        return self.created(income)

    @changes(
        "修改一年的收入（未给出的金额保持不变；If-Match 必填）",
        request=IncomeChangeSerializer,
        response=IncomeSerializer,
    )
    def update(self, request, pk=None):
        return self._update(request, partial=False)

    @changes("修改一年收入的部分金额（If-Match 必填）", request=IncomeChangeSerializer, response=IncomeSerializer)
    def partial_update(self, request, pk=None):
        return self._update(request, partial=True)

    def _update(self, request, *, partial: bool):
        income, expected = self.to_change(access.may_edit_registry(request.user), REGISTRY_READ_ONLY)
        serializer = self.valid_input(IncomeChangeSerializer, partial=partial)
        return self.changed(
            income,
            services.income_update,
            income_id=income.pk,
            expected=expected,
            data=serializer.figures(),
            reason=serializer.change_reason(),
        )

    @extend_schema(
        summary="一年收入的修改历史：谁、何时、各项金额改前改后、原因",
        parameters=HISTORY_PARAMETERS,
        responses={200: RecordHistoryPage},
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def history(self, request, pk=None):
        """The income's history, newest first: 1 query for the income, 1 for the history."""
        households = Household.objects.visible_to(request.user)
        income = get_object_or_404(HouseholdIncome.objects.filter(household__in=households).only("pk"), pk=pk)
        return history_response(request, history.income_timeline(income.pk))
