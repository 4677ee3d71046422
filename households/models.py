"""The registry (建档立卡): households, members, yearly incomes, the poverty line, household helpers."""

import datetime
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Substr
from django.db.models.lookups import Exact
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from bazhou.core import clock, idnumbers
from bazhou.core.access import AreaPaths, area_q
from bazhou.core.constraints import at_most, check, not_negative, unique
from bazhou.core.text import text_errors
from villages.models import YEAR_VALIDATORS, Township, Village, in_post

WORK_MONTHS_VALIDATORS = [at_most(12, "务工时间应在 0–12 个月之间。")]
MONEY_YUAN = {"max_digits": 12, "decimal_places": 2, "default": 0, "validators": [not_negative("收入和支出金额")]}


class Cause(models.TextChoices):
    """致贫原因 (national list)."""

    ILLNESS = "illness", _("因病")
    DISABILITY = "disability", _("因残")
    SCHOOLING = "schooling", _("因学")
    DISASTER = "disaster", _("因灾")
    MARRIAGE = "marriage", _("因婚")
    LAND = "land", _("缺土地")
    WATER = "water", _("缺水")
    SKILLS = "skills", _("缺技术")
    LABOUR = "labour", _("缺劳力")
    CAPITAL = "capital", _("缺资金")
    TRANSPORT = "transport", _("交通条件落后")
    MOTIVATION = "motivation", _("自身发展动力不足")
    OTHER = "other", _("其他")


# ---------------------------------------------------------------------------------------------
# Derived states of the registry, each defined once (docs/architecture.md, "派生状态的家"): a ``Q`` factory
# with an optional relation ``prefix`` (``still_poor_q("household__")`` for members), the queryset method built
# on it, and where a Python value is needed, its twin beside it.
# ---------------------------------------------------------------------------------------------


def still_poor_q(prefix: str = "") -> Q:
    """Still poor: 未脱贫, 计划脱贫 or 返贫 (Household.STILL_POOR_STATUSES); their active members are the poor
    people of the poverty incidence (贫困发生率)."""
    return Q(**{f"{prefix}status__in": Household.STILL_POOR_STATUSES})


def exited_in_q(year: int, prefix: str = "") -> Q:
    """Lifted out of poverty in ``year``: 已脱贫 (either kind, Household.EXITED_STATUSES) with that exit year."""
    return Q(**{f"{prefix}exit_year": year, f"{prefix}status__in": Household.EXITED_STATUSES})


INCIDENCE_PLACES = Decimal("0.01")


def poverty_incidence(poor_people: int, population: int | None) -> Decimal | None:
    """The poverty incidence (贫困发生率) in %, to two decimals, as the village page shows it: people still poor
    (:func:`still_poor_q`, active members) ÷ registered rural population; None without a population."""
    if not population:
        return None
    return (Decimal(poor_people * 100) / population).quantize(INCIDENCE_PLACES)


def incidence_below(poor_people: int, population: int | None, threshold: Decimal) -> bool | None:
    """Whether the poverty incidence is below ``threshold`` % (一低: e.g. below 3 %), judged on the figure
    :func:`poverty_incidence` shows; None without a population. The village page and the dashboard both ask this."""
    rate = poverty_incidence(poor_people, population)
    return None if rate is None else rate < threshold


class HouseholdQuerySet(models.QuerySet):
    paths = AreaPaths(district="village__township__district", township="village__township", village="village")

    def visible_to(self, user):
        return self.filter(area_q(user, self.paths))

    def editable_by(self, user):
        return self.filter(area_q(user, self.paths, write=True))

    def exited_in(self, year: int):
        """Lifted out of poverty in ``year`` (:func:`exited_in_q`)."""
        return self.filter(exited_in_q(year))


class Household(models.Model):
    """A registered poor household (建档立卡贫困户)."""

    class Attribute(models.TextChoices):
        GENERAL = "general", _("一般贫困户")
        DIBAO = "dibao", _("低保贫困户")
        TEKUN = "tekun", _("特困供养贫困户")

    class Status(models.TextChoices):
        POOR = "poor", _("未脱贫")
        PLANNED = "planned", _("计划脱贫")
        EXITED = "exited", _("已脱贫")
        EXITED_NO_POLICY = "exited_no_policy", _("已脱贫（不再享受政策）")
        RELAPSED = "relapsed", _("返贫")

    class HousingGrade(models.TextChoices):
        A = "A", _("A级（安全）")
        B = "B", _("B级（基本安全）")
        C = "C", _("C级（局部危险）")
        D = "D", _("D级（整体危险）")

    class Road(models.TextChoices):
        HARDENED = "hardened", _("硬化路")
        GRAVEL = "gravel", _("砂石路")
        DIRT = "dirt", _("泥土路")
        NONE = "none", _("未通路")

    EXITED_STATUSES = (Status.EXITED, Status.EXITED_NO_POLICY)
    # Statuses whose people still count as poor in the poverty incidence (贫困发生率): see still_poor_q.
    STILL_POOR_STATUSES = (Status.POOR, Status.PLANNED, Status.RELAPSED)

    number = models.CharField(_("户编号"), max_length=30, unique=True)
    village = models.ForeignKey(Village, on_delete=models.PROTECT, related_name="households", verbose_name=_("村"))
    group = models.CharField(_("组（社）"), max_length=20, blank=True)
    phone = models.CharField(_("联系电话"), max_length=20, blank=True)
    attribute = models.CharField(_("贫困户属性"), max_length=12, choices=Attribute.choices, default=Attribute.GENERAL)
    main_cause = models.CharField(_("主要致贫原因"), max_length=12, choices=Cause.choices)
    other_causes = models.JSONField(_("其他致贫原因"), default=list, blank=True)
    identified_year = models.PositiveSmallIntegerField(_("识别年度"), validators=YEAR_VALIDATORS)
    status = models.CharField(_("脱贫状态"), max_length=20, choices=Status.choices, default=Status.POOR)
    planned_exit_year = models.PositiveSmallIntegerField(
        _("计划脱贫年度"), null=True, blank=True, validators=YEAR_VALIDATORS
    )
    exit_year = models.PositiveSmallIntegerField(_("脱贫年度"), null=True, blank=True, validators=YEAR_VALIDATORS)
    relapse_year = models.PositiveSmallIntegerField(_("返贫年度"), null=True, blank=True, validators=YEAR_VALIDATORS)
    # Living conditions (生产生活条件).
    housing_grade = models.CharField(
        _("住房安全等级"), max_length=1, choices=HousingGrade.choices, default=HousingGrade.A
    )
    safe_water = models.BooleanField(_("饮水安全"), default=True)
    electricity = models.BooleanField(_("通生活用电"), default=True)
    radio_tv = models.BooleanField(_("通广播电视"), default=True)
    road = models.CharField(_("入户路类型"), max_length=10, choices=Road.choices, default=Road.HARDENED)
    sanitary_toilet = models.BooleanField(_("卫生厕所"), default=False)

    version = models.PositiveIntegerField(_("版本"), default=1, editable=False)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    objects = HouseholdQuerySet.as_manager()
    history = HistoricalRecords(excluded_fields=["created_at", "updated_at"])

    class Meta:
        verbose_name = _("贫困户")
        verbose_name_plural = _("贫困户")
        ordering = ["number"]
        indexes = [
            # The household list of a village, filtered by status.
            models.Index(fields=["village", "status"], name="household_village_status_idx"),
            # The year's target: households planned to exit in a year, by village (dashboard, seed tests).
            models.Index(fields=["planned_exit_year", "village"], name="household_target_idx"),
        ]
        constraints = [
            check(
                "household_exit_not_before_identified",
                Q(exit_year__isnull=True) | Q(exit_year__gte=F("identified_year")),
                "脱贫年度不能早于识别年度。",
            ),
            check(
                "household_planned_exit_not_before_identified",
                Q(planned_exit_year__isnull=True) | Q(planned_exit_year__gte=F("identified_year")),
                "计划脱贫年度不能早于识别年度。",
            ),
            check(
                "household_relapse_after_exit",
                Q(relapse_year__isnull=True) | Q(exit_year__isnull=False, relapse_year__gt=F("exit_year")),
                "返贫年度须晚于脱贫年度。",
            ),
            check(
                "household_exited_has_year",
                ~Q(status__in=["exited", "exited_no_policy", "relapsed"]) | Q(exit_year__isnull=False),
                "已脱贫或返贫的户须填写脱贫年度。",
            ),
            check(
                "household_relapsed_has_year",
                ~Q(status="relapsed") | Q(relapse_year__isnull=False),
                "返贫户须填写返贫年度。",
            ),
            check(
                "household_planned_has_year",
                ~Q(status="planned") | Q(planned_exit_year__isnull=False),
                "计划脱贫的户须填写计划脱贫年度。",
            ),
        ]

    def __str__(self):
        return self.number

    def clean(self):
        errors = text_errors(self, required=("number",))
        others = self.other_causes or []
        valid = set(Cause.values)
        if not isinstance(others, list) or any(c not in valid for c in others):
            errors["other_causes"] = _("其他致贫原因只能从致贫原因列表中选择。")
        elif self.main_cause and self.main_cause in others:
            errors["other_causes"] = _("其他致贫原因不能包含主要致贫原因。")
        elif len(set(others)) != len(others):
            errors["other_causes"] = _("其他致贫原因有重复。")
        if self.identified_year:
            if self.exit_year and self.exit_year < self.identified_year:
                errors["exit_year"] = _("脱贫年度不能早于识别年度。")
            if self.planned_exit_year and self.planned_exit_year < self.identified_year:
                errors["planned_exit_year"] = _("计划脱贫年度不能早于识别年度。")
        if self.relapse_year and (not self.exit_year or self.relapse_year <= self.exit_year):
            errors["relapse_year"] = _("返贫年度须晚于脱贫年度。")
        if self.status in (*self.EXITED_STATUSES, self.Status.RELAPSED) and not self.exit_year:
            errors.setdefault("exit_year", _("已脱贫或返贫的户须填写脱贫年度。"))
        if self.status == self.Status.RELAPSED and not self.relapse_year:
            errors.setdefault("relapse_year", _("返贫户须填写返贫年度。"))
        if self.status == self.Status.PLANNED and not self.planned_exit_year:
            errors.setdefault("planned_exit_year", _("计划脱贫的户须填写计划脱贫年度。"))
        if errors:
            raise ValidationError(errors)

    def get_other_causes_display(self) -> str:
        labels = dict(Cause.choices)
        return "、".join(str(labels.get(c, c)) for c in self.other_causes or [])


class MemberQuerySet(models.QuerySet):
    paths = AreaPaths(
        district="household__village__township__district",
        township="household__village__township",
        village="household__village",
    )

    def visible_to(self, user):
        return self.filter(area_q(user, self.paths))


class Member(models.Model):
    """A member of a registered household (家庭成员)."""

    class Sex(models.TextChoices):
        MALE = "male", _("男")
        FEMALE = "female", _("女")

    class Relation(models.TextChoices):
        HEAD = "head", _("户主")
        SPOUSE = "spouse", _("配偶")
        SON = "son", _("之子")
        DAUGHTER = "daughter", _("之女")
        DAUGHTER_IN_LAW = "daughter_in_law", _("之儿媳")
        SON_IN_LAW = "son_in_law", _("之女婿")
        GRANDSON = "grandson", _("之孙子")
        GRANDDAUGHTER = "granddaughter", _("之孙女")
        FATHER = "father", _("之父")
        MOTHER = "mother", _("之母")
        GRANDFATHER = "grandfather", _("之祖父")
        GRANDMOTHER = "grandmother", _("之祖母")
        SIBLING = "sibling", _("之兄弟姐妹")
        OTHER = "other", _("其他")

    class Education(models.TextChoices):
        ILLITERATE = "illiterate", _("文盲或半文盲")
        PRIMARY = "primary", _("小学")
        JUNIOR = "junior", _("初中")
        SENIOR = "senior", _("高中")
        COLLEGE = "college", _("大专及以上")
        PRESCHOOL = "preschool", _("学龄前儿童")

    class School(models.TextChoices):
        NOT_IN_SCHOOL = "none", _("非在校生")
        PRESCHOOL = "preschool", _("学前教育")
        PRIMARY = "primary", _("小学")
        GRADE_7 = "grade7", _("七年级")
        GRADE_8 = "grade8", _("八年级")
        GRADE_9 = "grade9", _("九年级")
        SENIOR_1 = "senior1", _("高中一年级")
        SENIOR_2 = "senior2", _("高中二年级")
        SENIOR_3 = "senior3", _("高中三年级")
        VOCATIONAL_1 = "vocational1", _("中职一年级")
        VOCATIONAL_2 = "vocational2", _("中职二年级")
        VOCATIONAL_3 = "vocational3", _("中职三年级")
        POLYTECHNIC_1 = "polytechnic1", _("高职一年级")
        POLYTECHNIC_2 = "polytechnic2", _("高职二年级")
        POLYTECHNIC_3 = "polytechnic3", _("高职三年级")
        COLLEGE = "college", _("大专及以上")

    class Health(models.TextChoices):
        HEALTHY = "healthy", _("健康")
        CHRONIC = "chronic", _("长期慢性病")
        SERIOUS = "serious", _("患有大病")
        DISABLED = "disabled", _("残疾")

    class Labour(models.TextChoices):
        ORDINARY = "ordinary", _("普通劳动力")
        SKILLED = "skilled", _("技能劳动力")
        WEAK = "weak", _("弱劳动力或半劳动力")
        LOST = "lost", _("丧失劳动力")
        NONE = "none", _("无劳动力")

    class Work(models.TextChoices):
        HOME = "home", _("未外出务工")
        TOWNSHIP = "township", _("乡（镇）内务工")
        COUNTY = "county", _("县内乡外务工")
        PROVINCE = "province", _("省内县外务工")
        OUTSIDE = "outside", _("省外务工")

    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="members", verbose_name=_("户"))
    name = models.CharField(_("姓名"), max_length=50)
    sex = models.CharField(_("性别"), max_length=6, choices=Sex.choices)
    id_number = models.CharField(_("身份证号"), max_length=18)
    relation = models.CharField(_("与户主关系"), max_length=20, choices=Relation.choices)
    ethnicity = models.CharField(_("民族"), max_length=20, default="汉族")
    education = models.CharField(_("文化程度"), max_length=12, choices=Education.choices, default=Education.JUNIOR)
    school = models.CharField(_("在校生状况"), max_length=12, choices=School.choices, default=School.NOT_IN_SCHOOL)
    health = models.CharField(_("健康状况"), max_length=10, choices=Health.choices, default=Health.HEALTHY)
    labour = models.CharField(_("劳动技能"), max_length=10, choices=Labour.choices, default=Labour.ORDINARY)
    work = models.CharField(_("务工状况"), max_length=10, choices=Work.choices, default=Work.HOME)
    work_months = models.PositiveSmallIntegerField(_("务工时间（月）"), default=0, validators=WORK_MONTHS_VALIDATORS)
    medical_insurance = models.BooleanField(_("参加城乡居民基本医疗保险"), default=True)
    pension_insurance = models.BooleanField(_("参加城乡居民基本养老保险"), default=False)
    on_dibao = models.BooleanField(_("享受低保"), default=False)
    is_active = models.BooleanField(_("在册"), default=True, help_text=_("迁出、死亡或注销的成员不再在册。"))

    version = models.PositiveIntegerField(_("版本"), default=1, editable=False)

    objects = MemberQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("家庭成员")
        verbose_name_plural = _("家庭成员")
        ordering = ["household", "id"]
        indexes = [
            # The household page and member counts: a household's active members.
            models.Index(fields=["household", "is_active"], name="member_household_active_idx"),
        ]
        constraints = [
            unique(
                "one_head_per_household",
                ["household"],
                "每户只能有一名户主。",
                condition=Q(relation="head", is_active=True),
            ),
            # Also serves the search by ID number.
            unique(
                "member_id_number_unique_active",
                ["id_number"],
                "该身份证号已登记为另一在册成员，同一人不能在两户中同时在册。",
                condition=Q(is_active=True),
            ),
            check(
                "member_id_number_format", Q(id_number__regex=idnumbers.PATTERN), "身份证号格式不正确或出生日期不合理。"
            ),
            models.CheckConstraint(
                condition=Exact(Substr("id_number", 18, 1), idnumbers.check_char_expression("id_number")),
                name="member_id_number_check_digit",
                violation_error_message="身份证号校验码错误，请核对后重新输入。",
            ),
            check("member_work_months_0_12", Q(work_months__lte=12), "务工时间应在 0–12 个月之间。"),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        self.id_number = idnumbers.normalize(self.id_number)
        errors = text_errors(self, required=("name", "ethnicity"))
        try:
            idnumbers.validate_id_number(self.id_number, today=clock.today())
        except ValidationError as e:
            errors["id_number"] = e.messages
        else:
            if self.sex and self.sex != (self.Sex.MALE if idnumbers.is_male(self.id_number) else self.Sex.FEMALE):
                errors["sex"] = _("性别与身份证号第17位不符。")
        if errors:
            raise ValidationError(errors)

    @property
    def birth_date(self):
        return idnumbers.birth_date(self.id_number)

    @property
    def masked_id_number(self) -> str:
        return idnumbers.mask(self.id_number)


class HouseholdIncome(models.Model):
    """A household's income for one year, in 元. Net income and per-capita net income are derived."""

    household = models.ForeignKey(Household, on_delete=models.CASCADE, related_name="incomes", verbose_name=_("户"))
    year = models.PositiveSmallIntegerField(_("年度"), validators=YEAR_VALIDATORS)
    wage = models.DecimalField(_("工资性收入（元）"), **MONEY_YUAN)
    business = models.DecimalField(_("生产经营性收入（元）"), **MONEY_YUAN)
    property_income = models.DecimalField(_("财产性收入（元）"), **MONEY_YUAN)
    dibao = models.DecimalField(_("低保金（元）"), **MONEY_YUAN)
    tekun = models.DecimalField(_("五保/特困供养金（元）"), **MONEY_YUAN)
    pension = models.DecimalField(_("养老金（元）"), **MONEY_YUAN)
    eco_compensation = models.DecimalField(_("生态补偿金（元）"), **MONEY_YUAN)
    other_transfer = models.DecimalField(_("其他转移性收入（元）"), **MONEY_YUAN)
    business_expenses = models.DecimalField(_("生产经营性支出（元）"), **MONEY_YUAN)

    history = HistoricalRecords()

    INCOME_FIELDS = (
        "wage",
        "business",
        "property_income",
        "dibao",
        "tekun",
        "pension",
        "eco_compensation",
        "other_transfer",
    )

    class Meta:
        verbose_name = _("家庭年收入")
        verbose_name_plural = _("家庭年收入")
        ordering = ["household", "-year"]
        constraints = [
            unique("household_income_one_per_year", ["household", "year"], "该户本年度已有收入记录。"),
            check(
                "household_income_nonneg",
                Q(
                    wage__gte=0,
                    business__gte=0,
                    property_income__gte=0,
                    dibao__gte=0,
                    tekun__gte=0,
                    pension__gte=0,
                    eco_compensation__gte=0,
                    other_transfer__gte=0,
                    business_expenses__gte=0,
                ),
                "收入和支出金额不能为负数。",
            ),
        ]

    def __str__(self):
        return f"{self.household} {self.year}"

    @property
    def transfer(self):
        return self.dibao + self.tekun + self.pension + self.eco_compensation + self.other_transfer

    @property
    def net_income(self):
        return sum(getattr(self, f) for f in self.INCOME_FIELDS) - self.business_expenses

    def per_capita(self, members: int):
        """Per-capita net income (元) for a household of ``members`` people."""
        return round(self.net_income / members, 2) if members else None


class PovertyLine(models.Model):
    """The income line of a year (2017: 3,100 元 per person), kept as data."""

    year = models.PositiveSmallIntegerField(_("年度"), unique=True, validators=YEAR_VALIDATORS)
    yuan = models.DecimalField(
        _("人均纯收入标准（元）"), max_digits=10, decimal_places=2, validators=[not_negative("扶贫标准")]
    )

    class Meta:
        verbose_name = _("扶贫标准线")
        verbose_name_plural = _("扶贫标准线")
        ordering = ["-year"]
        constraints = [check("poverty_line_nonneg", Q(yuan__gte=0), "扶贫标准不能为负数。")]

    def __str__(self):
        return f"{self.year}年 {self.yuan}元"


class HouseholdHelper(models.Model):
    """帮扶责任人 (the "+1" of 五个一+1): a cadre responsible for one household."""

    household = models.ForeignKey(Household, on_delete=models.CASCADE, related_name="helpers", verbose_name=_("户"))
    name = models.CharField(_("姓名"), max_length=50)
    unit = models.CharField(_("单位"), max_length=100, blank=True)
    post = models.CharField(_("职务"), max_length=100, blank=True)
    phone = models.CharField(_("联系电话"), max_length=20, blank=True)
    start_date = models.DateField(_("开始日期"))
    end_date = models.DateField(_("结束日期"), null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("帮扶责任人")
        verbose_name_plural = _("帮扶责任人")
        ordering = ["household", "-start_date"]
        constraints = [
            check(
                "helper_end_not_before_start",
                Q(end_date__isnull=True) | Q(end_date__gte=F("start_date")),
                "结束日期不能早于开始日期。",
            ),
        ]

    def __str__(self):
        return f"{self.name}（{self.household}）"

    def is_in_post(self, on: datetime.date) -> bool:
        """Still this household's helper on ``on`` (villages.models.in_post_q, the rule of every dated assignment)."""
        return in_post(self.start_date, self.end_date, on)


# ---------------------------------------------------------------------------------------------
# Alerts on evidence that flips an exit decision (近期变动的脱贫判定): written by households.decisions, read by the
# supervisors' list, the household and village pages and the API.
# ---------------------------------------------------------------------------------------------


def changed_within_q(days: int, today: datetime.date, prefix: str = "") -> Q:
    """Changed in the last ``days`` days up to ``today`` (today and the ``days`` days before it, both included)."""
    since = today - datetime.timedelta(days=days)
    return Q(**{f"{prefix}changed_on__gte": since, f"{prefix}changed_on__lte": today})


def changed_within(changed_on: datetime.date, days: int, today: datetime.date) -> bool:
    """The Python twin of :func:`changed_within_q`."""
    return today - datetime.timedelta(days=days) <= changed_on <= today


class DecisionAlertQuerySet(models.QuerySet):
    paths = AreaPaths(district="village__township__district", township="village__township", village="village")

    def visible_to(self, user):
        return self.filter(area_q(user, self.paths))

    def changed_within(self, days: int, today: datetime.date):
        """Alerts of edits made in the last ``days`` days (:func:`changed_within_q`)."""
        return self.filter(changed_within_q(days, today))


class DecisionAlert(models.Model):
    """An edit that flipped one criterion of an exit decision: a household's 一超六有 (the poverty line included)
    or a village's 一低七有. Who, when, which criterion, before → after, and the edit that did it. Written once by
    ``households.decisions`` in the edit's own transaction; never changed."""

    class Scope(models.TextChoices):
        HOUSEHOLD = "household", _("贫困户退出（一超六有）")
        VILLAGE = "village", _("贫困村退出（一低七有）")

    class Source(models.TextChoices):
        INCOME = "income", _("修改家庭年收入")
        MEMBER = "member", _("修改家庭成员")
        MEMBER_JOIN = "member_join", _("新增家庭成员")
        MEMBER_LEAVE = "member_leave", _("成员不再在册")
        HOUSEHOLD = "household", _("修改贫困户信息")
        HOUSEHOLD_NEW = "household_new", _("新增贫困户")
        IMPORT = "import", _("导入花名册")
        INDICATOR = "indicator", _("修改村退出指标")
        VILLAGE = "village", _("修改村基本情况")
        PLAN_ROW = "plan_row", _("施工图村级任务完成或撤销")

    scope = models.CharField(_("判定"), max_length=10, choices=Scope.choices)
    village = models.ForeignKey(Village, on_delete=models.PROTECT, related_name="decision_alerts", verbose_name=_("村"))
    household = models.ForeignKey(
        Household,
        on_delete=models.PROTECT,
        related_name="decision_alerts",
        null=True,
        blank=True,
        verbose_name=_("户"),
    )
    year = models.PositiveSmallIntegerField(_("年度"), validators=YEAR_VALIDATORS)
    criterion = models.CharField(_("指标代码"), max_length=40)
    criterion_name = models.CharField(_("指标"), max_length=50)
    met_before = models.BooleanField(_("修改前达标"))
    met_after = models.BooleanField(_("修改后达标"))
    before = models.CharField(_("修改前"), max_length=300, blank=True)
    after = models.CharField(_("修改后"), max_length=300, blank=True)
    source = models.CharField(_("修改来源"), max_length=20, choices=Source.choices)
    source_detail = models.CharField(_("修改内容"), max_length=300, blank=True)
    reason = models.CharField(_("修改原因"), max_length=500, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        verbose_name=_("修改人"),
    )
    changed_at = models.DateTimeField(_("修改时间"), default=timezone.now)
    changed_on = models.DateField(_("修改日期"), default=clock.today)

    objects = DecisionAlertQuerySet.as_manager()

    class Meta:
        verbose_name = _("脱贫判定变动")
        verbose_name_plural = _("脱贫判定变动")
        ordering = ["-changed_at", "-id"]
        indexes = [
            # The supervisors' list: the newest first, by day.
            models.Index(fields=["changed_on", "changed_at"], name="decision_alert_recent_idx"),
            # The village page: the village's recent alerts.
            models.Index(fields=["village", "changed_at"], name="decision_alert_village_idx"),
            # The household page: the household's recent alerts.
            models.Index(fields=["household", "changed_at"], name="decision_alert_household_idx"),
        ]
        constraints = [
            check("decision_alert_flips", ~Q(met_before=F("met_after")), "判定变动须是达标与未达标之间的变化。"),
            check(
                "decision_alert_household_scope",
                Q(scope="household", household__isnull=False) | Q(scope="village", household__isnull=True),
                "贫困户的判定变动须指明户，村的判定变动不指明户。",
            ),
        ]

    def __str__(self):
        where = self.household or self.village
        return f"{where} {self.year} {self.criterion_name}：{self.before_label} → {self.after_label}"

    @property
    def before_label(self) -> str:
        return "达标" if self.met_before else "未达标"

    @property
    def after_label(self) -> str:
        return "达标" if self.met_after else "未达标"


class IdNumberLookupQuerySet(models.QuerySet):
    def recent(self, user, since):
        """``user``'s lookups since ``since`` (the rate limit's window)."""
        return self.filter(user=user, at__gte=since)


class IdNumberLookup(models.Model):
    """One lookup of households by a full ID number (the list page's search or the API's ``lookup``): who and when,
    never the number. Counted per user for the rate limit (``households.lookups``) in the database, so that every
    gunicorn worker and every app server counts the same lookups; kept a day (the window is ten minutes)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField(_("查找时间"), default=timezone.now)
    via = models.CharField(_("途径"), max_length=10, default="page", help_text=_("page（页面）或 api（接口）。"))

    objects = IdNumberLookupQuerySet.as_manager()

    class Meta:
        verbose_name = _("按身份证号查找")
        verbose_name_plural = _("按身份证号查找")
        indexes = [models.Index(fields=["user", "at"], name="id_lookup_user_at")]

    def __str__(self):
        return f"{self.user_id} {self.at:%Y-%m-%d %H:%M}"


# ---------------------------------------------------------------------------------------------
# Small records behind the annual goals (issue 18, "目标来自数据"; docs/goals.md): job fairs and who came, new
# business entities, land transfer contracts, hospital stays, low-rent housing. Maintained in the admin
# (数据维护), area-scoped like the registry; the dashboard's goals count them (bazhou.surfaces.dashboard).
# ---------------------------------------------------------------------------------------------


def poor_in_year_q(year: int, prefix: str = "") -> Q:
    """The registered households that were poor in ``year``: still poor (:func:`still_poor_q`: 未脱贫, 计划脱贫,
    返贫) or lifted out of poverty that year (:func:`exited_in_q`). The base of the goals measured "per poor
    household" (industry coverage, low-rent housing, income rise)."""
    return still_poor_q(prefix) | exited_in_q(year, prefix)


def in_year_q(field: str, year: int, prefix: str = "") -> Q:
    """A date ``field`` inside ``year`` (1 January to 31 December)."""
    return Q(
        **{f"{prefix}{field}__gte": datetime.date(year, 1, 1), f"{prefix}{field}__lte": datetime.date(year, 12, 31)}
    )


def during_year_q(year: int, prefix: str = "") -> Q:
    """A low-rent allocation that lasted into ``year``: allocated on or before 31 December and not ended before
    1 January."""
    return Q(**{f"{prefix}allocated_on__lte": datetime.date(year, 12, 31)}) & (
        Q(**{f"{prefix}ended_on__isnull": True}) | Q(**{f"{prefix}ended_on__gte": datetime.date(year, 1, 1)})
    )


def _date_errors(obj, fields: dict) -> dict:
    """Each date of ``fields`` (name → label) that is after today or before 2000 (bazhou.core.dates)."""
    from bazhou.core.dates import done_date_error

    errors = {}
    for name, label in fields.items():
        message = done_date_error(getattr(obj, name), label)
        if message:
            errors[name] = message
    return errors


VILLAGE_RECORD_PATHS = AreaPaths(
    district="village__township__district", township="village__township", village="village"
)


class VillageRecordQuerySet(models.QuerySet):
    paths = VILLAGE_RECORD_PATHS

    def visible_to(self, user):
        return self.filter(area_q(user, self.paths))

    def editable_by(self, user):
        return self.filter(area_q(user, self.paths, write=True))


class MemberRecordQuerySet(VillageRecordQuerySet):
    paths = MemberQuerySet.paths.prefixed("member")


class HouseholdRecordQuerySet(VillageRecordQuerySet):
    paths = HouseholdQuerySet.paths.prefixed("household")


class JobFairQuerySet(VillageRecordQuerySet):
    # A fair belongs to the district, or to one township (a village cadre reads their township's).
    paths = AreaPaths(district="district", township="township", village=None)


class JobFair(models.Model):
    """A job fair (就业扶贫招聘会) held for the registry's job seekers."""

    district = models.ForeignKey(
        "villages.District", on_delete=models.PROTECT, related_name="job_fairs", verbose_name=_("区县")
    )
    township = models.ForeignKey(
        "villages.Township",
        on_delete=models.PROTECT,
        related_name="job_fairs",
        verbose_name=_("乡镇"),
        null=True,
        blank=True,
        help_text=_("乡镇举办的才填；区里举办的留空。"),
    )
    name = models.CharField(_("名称"), max_length=100)
    held_on = models.DateField(_("举办日期"))
    venue = models.CharField(_("地点"), max_length=100, blank=True)

    objects = JobFairQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("招聘会")
        verbose_name_plural = _("招聘会")
        ordering = ["-held_on", "name"]

    def __str__(self):
        return f"{self.held_on:%Y-%m-%d} {self.name}"

    def clean(self):
        super().clean()
        errors = _date_errors(self, {"held_on": "举办日期"})
        if self.township_id and self.district_id and self.township.district_id != self.district_id:
            errors["township"] = "乡镇不在所选区县。"
        if errors:
            raise ValidationError(errors)


class JobFairAttendance(models.Model):
    """A registered poor member who came to a job fair, and whether they signed a letter of intent (签订意向)."""

    fair = models.ForeignKey(JobFair, on_delete=models.CASCADE, related_name="attendances", verbose_name=_("招聘会"))
    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="job_fair_attendances", verbose_name=_("求职者（家庭成员）")
    )
    signed_intent = models.BooleanField(_("签订就业意向"), default=False)
    employer = models.CharField(_("意向用工单位"), max_length=100, blank=True)

    objects = MemberRecordQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("招聘会求职登记")
        verbose_name_plural = _("招聘会求职登记")
        ordering = ["fair", "member"]
        constraints = [
            unique("job_fair_attendance_once", ["fair", "member"], "该成员已登记参加这场招聘会。"),
            check(
                "job_fair_intent_has_employer",
                Q(signed_intent=False) | ~Q(employer=""),
                "签订就业意向的须填写意向用工单位。",
            ),
        ]

    def __str__(self):
        return f"{self.fair} {self.member}"

    def clean(self):
        super().clean()
        if self.member_id and not self.member.is_active:
            raise ValidationError({"member": "该成员已不在册：招聘会只登记在册的贫困户成员。"})


class BusinessEntity(models.Model):
    """A new business entity (新型经营主体) registered in a village.

    How many poor households it drives (带动贫困户) is a count the entity reports, not a link to registry rows:
    entities report it once a year, and the households they drive may be in other villages or not yet matched."""

    class Kind(models.TextChoices):
        COOPERATIVE = "cooperative", _("农民专业合作社")
        FAMILY_FARM = "family_farm", _("家庭农场")
        LARGE_GROWER = "large_grower", _("种养大户")
        LEADING = "leading", _("龙头企业")
        OTHER = "other", _("其他")

    village = models.ForeignKey(
        Village, on_delete=models.PROTECT, related_name="business_entities", verbose_name=_("村")
    )
    name = models.CharField(_("名称"), max_length=100)
    kind = models.CharField(_("类型"), max_length=20, choices=Kind.choices)
    registered_on = models.DateField(_("登记日期"))
    poor_households = models.PositiveIntegerField(_("带动贫困户数"), default=0)

    objects = VillageRecordQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("新型经营主体")
        verbose_name_plural = _("新型经营主体")
        ordering = ["-registered_on", "name"]
        constraints = [
            unique("business_entity_unique_name", ["village", "name"], "该村已有同名经营主体。"),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        super().clean()
        errors = _date_errors(self, {"registered_on": "登记日期"})
        if errors:
            raise ValidationError(errors)


class LandTransfer(models.Model):
    """A land transfer contract (土地流转合同) in a village, in 亩."""

    village = models.ForeignKey(Village, on_delete=models.PROTECT, related_name="land_transfers", verbose_name=_("村"))
    household = models.ForeignKey(
        Household,
        on_delete=models.PROTECT,
        related_name="land_transfers",
        verbose_name=_("流出户（贫困户）"),
        null=True,
        blank=True,
        help_text=_("流出土地的是建档立卡贫困户时才填。"),
    )
    area_mu = models.DecimalField(_("面积（亩）"), max_digits=10, decimal_places=2)
    signed_on = models.DateField(_("签订日期"))
    transferee = models.CharField(_("流入方"), max_length=100)
    term_years = models.PositiveSmallIntegerField(
        _("流转年限（年）"), validators=[at_most(70, "流转年限应在 1–70 年之间。")]
    )

    objects = VillageRecordQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("土地流转合同")
        verbose_name_plural = _("土地流转合同")
        ordering = ["-signed_on", "pk"]
        constraints = [
            check("land_transfer_area_positive", Q(area_mu__gt=0), "流转面积须大于 0 亩。"),
            check("land_transfer_term_range", Q(term_years__gte=1, term_years__lte=70), "流转年限应在 1–70 年之间。"),
        ]

    def __str__(self):
        return f"{self.village} {self.area_mu} 亩（{self.signed_on:%Y-%m-%d}）"

    def clean(self):
        super().clean()
        errors = _date_errors(self, {"signed_on": "签订日期"})
        if self.household_id and self.village_id and self.household.village_id != self.village_id:
            errors["household"] = "流出户不在所选村。"
        if errors:
            raise ValidationError(errors)


class HospitalStay(models.Model):
    """A hospital stay (住院) of a registered poor member: the total cost and what the patient paid (自付), in 元."""

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="hospital_stays", verbose_name=_("患者"))
    hospital = models.CharField(_("医院"), max_length=100)
    in_district = models.BooleanField(_("区内医院"), default=True)
    admitted_on = models.DateField(_("入院日期"))
    discharged_on = models.DateField(_("出院日期"))
    total_cost = models.DecimalField(_("住院总费用（元）"), max_digits=12, decimal_places=2)
    out_of_pocket = models.DecimalField(_("个人自付（元）"), max_digits=12, decimal_places=2)

    objects = MemberRecordQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("住院记录")
        verbose_name_plural = _("住院记录")
        ordering = ["-discharged_on", "pk"]
        constraints = [
            check(
                "hospital_stay_discharged_after_admitted",
                Q(discharged_on__gte=F("admitted_on")),
                "出院日期不能早于入院日期。",
            ),
            check("hospital_stay_cost_positive", Q(total_cost__gt=0), "住院总费用须大于 0 元。"),
            check(
                "hospital_stay_out_of_pocket_range",
                Q(out_of_pocket__gte=0, out_of_pocket__lte=F("total_cost")),
                "个人自付应在 0 元到住院总费用之间。",
            ),
        ]

    def __str__(self):
        return f"{self.member} {self.hospital}（{self.discharged_on:%Y-%m-%d}）"

    def clean(self):
        super().clean()
        errors = _date_errors(self, {"admitted_on": "入院日期", "discharged_on": "出院日期"})
        if (
            self.admitted_on
            and self.discharged_on
            and self.discharged_on < self.admitted_on
            and "discharged_on" not in errors
        ):
            errors["discharged_on"] = "出院日期不能早于入院日期。"
        if self.total_cost is not None and self.out_of_pocket is not None and self.out_of_pocket > self.total_cost:
            errors["out_of_pocket"] = "个人自付不能超过住院总费用。"
        if errors:
            raise ValidationError(errors)


class LowRentHousing(models.Model):
    """A poor household housed in rural low-rent housing (农村廉租房) from ``allocated_on`` (until ``ended_on``)."""

    household = models.ForeignKey(
        Household, on_delete=models.PROTECT, related_name="low_rent_housing", verbose_name=_("户")
    )
    allocated_on = models.DateField(_("入住日期"))
    address = models.CharField(_("住址"), max_length=200)
    ended_on = models.DateField(_("退出日期"), null=True, blank=True)

    objects = HouseholdRecordQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("农村廉租房")
        verbose_name_plural = _("农村廉租房")
        ordering = ["household", "-allocated_on"]
        constraints = [
            check(
                "low_rent_housing_end_after_start",
                Q(ended_on__isnull=True) | Q(ended_on__gte=F("allocated_on")),
                "退出日期不能早于入住日期。",
            ),
        ]

    def __str__(self):
        return f"{self.household} {self.address}"

    def clean(self):
        super().clean()
        errors = _date_errors(self, {"allocated_on": "入住日期", "ended_on": "退出日期"})
        if self.allocated_on and self.ended_on and self.ended_on < self.allocated_on and "ended_on" not in errors:
            errors["ended_on"] = "退出日期不能早于入住日期。"
        if errors:
            raise ValidationError(errors)


# ---------------------------------------------------------------------------------------------
# Summary figures kept by the writes (households/summaries.py, bazhou/core/summaries.py)
# ---------------------------------------------------------------------------------------------


class RegistryFigures(models.Model):
    """Per village and year: the households targeted to exit that year and how many meet each criterion of 一超六有
    (households.readiness.readiness_sql), and the active members of the households lifted out that year. Kept by the
    writes in the writing transaction (households/summaries.py); never edited by hand. A township's row (``village``
    empty, ``township`` set) adds up its villages' rows: the district's dashboard reads those."""

    village = models.ForeignKey(Village, on_delete=models.CASCADE, null=True, related_name="+", verbose_name=_("村"))
    township = models.ForeignKey(
        Township, on_delete=models.CASCADE, null=True, related_name="+", verbose_name=_("乡镇"), db_index=False
    )
    year = models.PositiveSmallIntegerField(_("年度"))
    targeted = models.PositiveIntegerField(_("计划脱贫户"), default=0)
    ready = models.PositiveIntegerField(_("达到脱贫条件"), default=0)
    income = models.PositiveIntegerField(default=0)
    education = models.PositiveIntegerField(default=0)
    medical = models.PositiveIntegerField(default=0)
    housing = models.PositiveIntegerField(default=0)
    water = models.PositiveIntegerField(default=0)
    power = models.PositiveIntegerField(default=0)
    radio_tv = models.PositiveIntegerField(default=0)
    people_lifted = models.PositiveIntegerField(_("当年脱贫人数"), default=0)

    class Meta:
        verbose_name = _("花名册汇总数")
        verbose_name_plural = _("花名册汇总数")
        constraints = [
            models.UniqueConstraint(fields=["village", "year"], name="registryfigures_village_year"),
            models.UniqueConstraint(
                fields=["township", "year"], condition=Q(village__isnull=True), name="registryfigures_township_year"
            ),
        ]
        indexes = [models.Index(fields=["year", "village"], name="registryfigures_year_idx")]

    def __str__(self):
        return f"{self.village_id} {self.year}"


class PoorPeople(models.Model):
    """Per village: the active members of its still-poor households (the numerator of the poverty incidence).
    Kept with :class:`RegistryFigures`."""

    village = models.OneToOneField(
        Village, on_delete=models.CASCADE, primary_key=True, related_name="+", verbose_name=_("村")
    )
    people = models.PositiveIntegerField(_("贫困人口"), default=0)

    class Meta:
        verbose_name = _("贫困人口汇总数")
        verbose_name_plural = _("贫困人口汇总数")

    def __str__(self):
        return f"{self.village_id}"


class GoalFigures(models.Model):
    """Per village and year of an annual goal measured from the data (bazhou.surfaces.dashboard.GOAL_METRICS): the
    village's parts of each metric, which the dashboard adds up over an area. Kept by the writes in the writing
    transaction (tasks/goal_summaries.py); never edited by hand."""

    village = models.ForeignKey(Village, on_delete=models.CASCADE, related_name="+", verbose_name=_("村"))
    year = models.PositiveSmallIntegerField(_("年度"))
    poor = models.PositiveIntegerField(_("当年贫困户"), default=0)
    industry = models.PositiveIntegerField(_("有产业发展任务的贫困户"), default=0)
    low_rent = models.PositiveIntegerField(_("住廉租房的贫困户"), default=0)
    # Income rise: the households with incomes of both years, and the sums of their per-capita net incomes (元; float,
    # as the rule computes each household's, income_rise_rows).
    income_households = models.PositiveIntegerField(_("两年都有收入记录的贫困户"), default=0)
    income_now = models.FloatField(_("当年人均纯收入合计"), default=0)
    income_before = models.FloatField(_("上年人均纯收入合计"), default=0)
    business_entities = models.PositiveIntegerField(_("当年登记的新型经营主体"), default=0)
    land_transfer = models.DecimalField(_("当年土地流转面积（亩）"), max_digits=16, decimal_places=2, default=0)
    hospital_stays = models.PositiveIntegerField(_("区内住院人次"), default=0)
    hospital_out_of_pocket = models.DecimalField(_("个人自付（元）"), max_digits=18, decimal_places=2, default=0)
    hospital_total_cost = models.DecimalField(_("住院总费用（元）"), max_digits=18, decimal_places=2, default=0)
    job_fair_people = models.PositiveIntegerField(_("招聘会求职者"), default=0)
    job_fair_intents = models.PositiveIntegerField(_("签订就业意向者"), default=0)

    class Meta:
        verbose_name = _("目标汇总数")
        verbose_name_plural = _("目标汇总数")
        constraints = [models.UniqueConstraint(fields=["village", "year"], name="goalfigures_village_year")]
        indexes = [models.Index(fields=["year", "village"], name="goalfigures_year_idx")]

    def __str__(self):
        return f"{self.village_id} {self.year}"
