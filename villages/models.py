"""Areas (district → township → village), village exit indicators and assistance forces (五个一)."""

import datetime

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from bazhou.core.access import AreaPaths, area_choices_q, area_q
from bazhou.core.constraints import check, not_negative, unique
from bazhou.core.text import is_blank

YEAR_VALIDATORS = [MinValueValidator(2000)]


def digits_validator(length: int) -> RegexValidator:
    return RegexValidator(rf"^[0-9]{{{length}}}$", _("代码应为%(n)d位数字。") % {"n": length})


class District(models.Model):
    """区/县: the unit that owns a plan. One instance usually serves one district."""

    code = models.CharField(_("区划代码"), max_length=6, primary_key=True, validators=[digits_validator(6)])
    name = models.CharField(_("名称"), max_length=50)

    class Meta:
        verbose_name = _("区县")
        verbose_name_plural = _("区县")
        ordering = ["code"]
        constraints = [
            check("district_code_6_digits", Q(code__regex=r"^[0-9]{6}$"), "区县代码应为6位数字。"),
        ]

    def __str__(self):
        return self.name


class DepartmentQuerySet(models.QuerySet):
    def of_district(self, district):
        return self.filter(district=district)


class Department(models.Model):
    """行业部门: a sector department of the district (区交通运输局, 区水务局, …) that helps the townships and villages
    carry out plan rows ("部门主帮"). A plan row names its department (``Task.department``); the department's
    users see and report progress on those rows (``bazhou.core.access``). ``aliases`` are other spellings of the
    name, one per line, that ``villages.departments.match`` recognises in imported or older free-text units."""

    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="departments", verbose_name=_("区县"))
    name = models.CharField(_("部门名称"), max_length=100)
    aliases = models.TextField(_("其他写法"), blank=True, help_text=_("每行一个，用于识别导入或旧数据中的责任单位。"))
    phone = models.CharField(_("联系电话"), max_length=20, blank=True)

    objects = DepartmentQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("行业部门")
        verbose_name_plural = _("行业部门")
        ordering = ["district", "name"]
        constraints = [unique("department_name_unique", ["district", "name"], "本区县已有同名部门。")]

    def __str__(self):
        return self.name

    def alias_list(self) -> list[str]:
        return [line.strip() for line in self.aliases.splitlines() if line.strip()]


class TownshipQuerySet(models.QuerySet):
    paths = AreaPaths(district="district", township="code", village=None)

    def visible_to(self, user):
        return self.filter(area_q(user, self.paths))

    def choosable_by(self, user):
        """Townships ``user`` may pick as the area of a dashboard or an export (not a village cadre's own)."""
        return self.filter(area_choices_q(user, self.paths))


class Township(models.Model):
    """乡/镇/街道. Its 9-digit code is the district's 6 digits plus 001–099 (街道), 100–199 (镇), 200–399 (乡)."""

    class Kind(models.TextChoices):
        SUBDISTRICT = "subdistrict", _("街道")
        TOWN = "town", _("镇")
        TOWNSHIP = "township", _("乡")

    # The code's last three digits, by kind (统计用区划代码).
    KIND_RANGES = {Kind.SUBDISTRICT: (1, 99), Kind.TOWN: (100, 199), Kind.TOWNSHIP: (200, 399)}

    code = models.CharField(_("区划代码"), max_length=9, primary_key=True, validators=[digits_validator(9)])
    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="townships", verbose_name=_("区县"))
    name = models.CharField(_("名称"), max_length=50)
    kind = models.CharField(_("类别"), max_length=12, choices=Kind.choices)

    objects = TownshipQuerySet.as_manager()

    class Meta:
        verbose_name = _("乡镇（街道）")
        verbose_name_plural = _("乡镇（街道）")
        ordering = ["code"]
        constraints = [
            check(
                "township_code_within_district", Q(code__startswith=F("district_id")), "乡镇代码应以所属区县代码开头。"
            ),
            check(
                "township_code_matches_kind",
                Q(kind="subdistrict", code__regex=r"^[0-9]{6}0[0-9][0-9]$") & ~Q(code__endswith="000")
                | Q(kind="town", code__regex=r"^[0-9]{6}1[0-9][0-9]$")
                | Q(kind="township", code__regex=r"^[0-9]{6}[23][0-9][0-9]$"),
                "乡镇代码后三位与类别不符：街道 001–099，镇 100–199，乡 200–399。",
            ),
            unique("township_name_unique_in_district", ["district", "name"], "本区县已有同名乡镇。"),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        errors = {}
        if self.code and self.district_id and not self.code.startswith(self.district_id):
            errors["code"] = _("乡镇代码应以所属区县代码 %(d)s 开头。") % {"d": self.district_id}
        if self.code and len(self.code) == 9 and self.code.isdigit() and self.kind in self.KIND_RANGES:
            low, high = self.KIND_RANGES[self.kind]
            if not low <= int(self.code[6:]) <= high:
                errors["kind"] = _("%(kind)s的代码后三位应在 %(low)03d–%(high)03d 之间。") % {
                    "kind": self.get_kind_display(),
                    "low": low,
                    "high": high,
                }
        if errors:
            raise ValidationError(errors)


class VillageQuerySet(models.QuerySet):
    paths = AreaPaths(district="township__district", township="township", village="pk")

    def visible_to(self, user):
        return self.filter(area_q(user, self.paths))

    def editable_by(self, user):
        return self.filter(area_q(user, self.paths, write=True))

    def choosable_by(self, user):
        """Villages ``user`` may pick as the area of a dashboard or an export."""
        return self.filter(area_choices_q(user, self.paths))

    def planned_to_exit(self, year: int):
        """Poor villages planned to exit in ``year`` (the dashboard's 一低七有 block, the village list's filter)."""
        return self.filter(is_poor=True, planned_exit_year=year)

    def exited_in(self, year: int):
        """Villages that exited in ``year`` (the dashboard's 贫困村退出数 goal, the village list's filter)."""
        return self.filter(status=Village.Status.EXITED, exit_year=year)


class Village(models.Model):
    """村/社区, with its poverty status and the figures of 一村一案."""

    class Status(models.TextChoices):
        NOT_POOR = "not_poor", _("非贫困村")
        POOR = "poor", _("未退出")
        PLANNED = "planned", _("计划退出")
        EXITED = "exited", _("已退出")
        RELAPSED = "relapsed", _("返贫")

    township = models.ForeignKey(
        Township, on_delete=models.PROTECT, related_name="villages", verbose_name=_("乡镇（街道）")
    )
    code = models.CharField(_("区划代码"), max_length=12, unique=True, validators=[digits_validator(12)])
    name = models.CharField(_("名称"), max_length=50)
    is_poor = models.BooleanField(_("贫困村"), default=False, help_text=_("是否为建档立卡贫困村（退出后仍保留）。"))
    status = models.CharField(_("退出状态"), max_length=12, choices=Status.choices, default=Status.NOT_POOR)
    identified_year = models.PositiveSmallIntegerField(_("认定年度"), null=True, blank=True, validators=YEAR_VALIDATORS)
    planned_exit_year = models.PositiveSmallIntegerField(
        _("计划退出年度"), null=True, blank=True, validators=YEAR_VALIDATORS
    )
    exit_year = models.PositiveSmallIntegerField(_("退出年度"), null=True, blank=True, validators=YEAR_VALIDATORS)
    registered_households = models.PositiveIntegerField(_("户籍户数"), default=0)
    registered_population = models.PositiveIntegerField(_("户籍农业人口"), default=0)
    collective_income = models.DecimalField(
        _("集体经济收入（万元）"), max_digits=12, decimal_places=4, default=0, validators=[not_negative("集体经济收入")]
    )

    objects = VillageQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("村（社区）")
        verbose_name_plural = _("村（社区）")
        ordering = ["code"]
        indexes = [
            # The poor-village lists and the dashboard: poor villages due to exit in a year, by township.
            models.Index(fields=["is_poor", "planned_exit_year", "township"], name="village_poor_exit_idx"),
            # Search by name.
            models.Index(fields=["name"], name="village_name_idx"),
        ]
        constraints = [
            check("village_code_12_digits", Q(code__regex=r"^[0-9]{12}$"), "村代码应为12位数字。"),
            check("village_code_within_township", Q(code__startswith=F("township_id")), "村代码应以所属乡镇代码开头。"),
            check(
                "village_status_matches_poor_flag",
                Q(is_poor=False, status="not_poor") | Q(is_poor=True) & ~Q(status="not_poor"),
                "贫困村标识与退出状态不符。",
            ),
            check(
                "village_planned_has_year",
                ~Q(status="planned") | Q(planned_exit_year__isnull=False),
                "计划退出的村须填写计划退出年度。",
            ),
            check(
                "village_exited_has_year",
                ~Q(status__in=["exited", "relapsed"]) | Q(exit_year__isnull=False),
                "已退出的村须填写退出年度。",
            ),
            check(
                "village_exit_not_before_identified",
                Q(identified_year__isnull=True) | Q(exit_year__isnull=True) | Q(exit_year__gte=F("identified_year")),
                "退出年度不能早于认定年度。",
            ),
            check(
                "village_planned_exit_not_before_identified",
                Q(identified_year__isnull=True)
                | Q(planned_exit_year__isnull=True)
                | Q(planned_exit_year__gte=F("identified_year")),
                "计划退出年度不能早于认定年度。",
            ),
            check("village_collective_income_nonneg", Q(collective_income__gte=0), "集体经济收入不能为负数。"),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        errors = {}
        if self.code and self.township_id and not self.code.startswith(self.township_id):
            errors["code"] = _("村代码应以所属乡镇代码 %(t)s 开头。") % {"t": self.township_id}
        if self.is_poor and self.status == self.Status.NOT_POOR:
            errors["status"] = _("贫困村的状态不能是“非贫困村”。")
        if not self.is_poor and self.status != self.Status.NOT_POOR:
            errors["status"] = _("非贫困村的状态只能是“非贫困村”。")
        if self.status == self.Status.PLANNED and not self.planned_exit_year:
            errors["planned_exit_year"] = _("计划退出的村须填写计划退出年度。")
        if self.status in (self.Status.EXITED, self.Status.RELAPSED) and not self.exit_year:
            errors["exit_year"] = _("已退出的村须填写退出年度。")
        if self.identified_year:
            if self.exit_year and self.exit_year < self.identified_year:
                errors["exit_year"] = _("退出年度不能早于认定年度。")
            if self.planned_exit_year and self.planned_exit_year < self.identified_year:
                errors["planned_exit_year"] = _("计划退出年度不能早于认定年度。")
        if errors:
            raise ValidationError(errors)


class ExitIndicator(models.Model):
    """One criterion of village exit (一低七有 in Sichuan), versioned by year so a province may change them.

    ``source`` says how a village is judged on it (villages/exit_criteria.py; docs/exit-criteria.md): the poverty
    incidence from the registry, the village's collective income, a finished village row of the plan of category
    ``task_category`` (the road, the water, the cultural room …), or a person's assessment. Where the data judges,
    an assessment only counts as an override with a reason and evidence (VillageIndicator.overridden).
    """

    class Source(models.TextChoices):
        INCIDENCE = "incidence", _("贫困发生率（由建档立卡数据计算）")
        COLLECTIVE_INCOME = "collective_income", _("集体经济收入（村的集体经济收入大于 0）")
        PLAN_ROWS = "plan_rows", _("施工图任务（本年度及以前的村级任务已完成）")
        MANUAL = "manual", _("人工核查")

    year = models.PositiveSmallIntegerField(_("适用年度"), validators=YEAR_VALIDATORS)
    code = models.SlugField(_("指标代码"), max_length=40)
    name = models.CharField(_("指标名称"), max_length=50)
    description = models.TextField(_("说明"), blank=True)
    threshold = models.DecimalField(
        _("阈值"),
        max_digits=8,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("如贫困发生率低于 3（%），其他指标留空。"),
    )
    order = models.PositiveSmallIntegerField(_("排序"), default=0)
    source = models.CharField(
        _("判定依据"),
        max_length=20,
        choices=Source.choices,
        default=Source.MANUAL,
        help_text=_("由数据判定的指标，人工只能以理由和佐证改判（见“村退出指标达标情况”）。"),
    )
    task_category = models.CharField(
        _("对应任务类别"),
        max_length=20,
        blank=True,
        help_text=_("判定依据为“施工图任务”时填写：该类别的村级任务完成即达标（如道路 → 有硬化路）。"),
    )

    class Meta:
        verbose_name = _("贫困村退出指标")
        verbose_name_plural = _("贫困村退出指标")
        ordering = ["year", "order", "code"]
        constraints = [
            unique("exit_indicator_code_unique_per_year", ["year", "code"], "该年度已有相同代码的指标。"),
            check(
                "exit_indicator_rows_have_category",
                ~Q(source="plan_rows") | ~Q(task_category=""),
                "判定依据为“施工图任务”的指标须填写对应任务类别。",
            ),
            check(
                "exit_indicator_incidence_has_threshold",
                ~Q(source="incidence") | Q(threshold__isnull=False),
                "判定依据为“贫困发生率”的指标须填写阈值。",
            ),
        ]

    def __str__(self):
        return f"{self.year} {self.name}"

    def clean(self):
        errors = {}
        if self.source == self.Source.PLAN_ROWS and not self.task_category:
            errors["task_category"] = _("判定依据为“施工图任务”的指标须填写对应任务类别。")
        if self.source == self.Source.INCIDENCE and self.threshold is None:
            errors["threshold"] = _("判定依据为“贫困发生率”的指标须填写阈值。")
        if errors:
            raise ValidationError(errors)

    @property
    def derived(self) -> bool:
        """Whether the data judges a village on this indicator (any source but a person's assessment)."""
        return self.source != self.Source.MANUAL


class VillageIndicator(models.Model):
    """A person's assessment of one exit indicator for a village, with the evidence.

    For an indicator a person judges (source 人工核查), ``met`` is the judgement. For one the data judges
    (villages/exit_criteria.py), the assessment counts only when ``overridden``: then ``met`` replaces the derived
    value, and a reason and evidence are required (a road built before the plan, a row wrongly marked done …).
    """

    village = models.ForeignKey(Village, on_delete=models.CASCADE, related_name="indicators", verbose_name=_("村"))
    indicator = models.ForeignKey(
        ExitIndicator, on_delete=models.PROTECT, related_name="assessments", verbose_name=_("指标")
    )
    met = models.BooleanField(_("是否达标"), default=False)
    evidence = models.TextField(_("佐证说明"), blank=True)
    assessed_on = models.DateField(_("核查日期"), null=True, blank=True)
    overridden = models.BooleanField(
        _("人工改判"),
        default=False,
        help_text=_("由数据判定的指标，勾选后以“是否达标”为准，须填写改判理由和佐证说明。"),
    )
    override_reason = models.TextField(_("改判理由"), blank=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("村退出指标达标情况")
        verbose_name_plural = _("村退出指标达标情况")
        ordering = ["village", "indicator__order"]
        constraints = [
            unique("village_indicator_unique", ["village", "indicator"], "该村已有此项指标的达标记录。"),
            check(
                "village_indicator_override_has_reason",
                Q(overridden=False) | (~Q(override_reason="") & ~Q(evidence="")),
                "人工改判须填写改判理由和佐证说明。",
            ),
        ]

    def __str__(self):
        return f"{self.village} · {self.indicator.name}: {'达标' if self.met else '未达标'}"

    def clean(self):
        errors = {}
        if self.overridden:
            if is_blank(self.override_reason):
                errors["override_reason"] = _("人工改判须填写改判理由。")
            if is_blank(self.evidence):
                errors["evidence"] = _("人工改判须填写佐证说明。")
        if errors:
            raise ValidationError(errors)


class ExitFigures(models.Model):
    """One village planned to exit on one exit indicator of its planned exit year: the verdict of
    villages.exit_criteria (``met``, and whether a person's override decided it), which the dashboard's 一低七有
    block counts. Rows only for the villages planned to exit (``Village.objects.planned_to_exit``) and the indicators
    of that year. Kept by the writes in the writing transaction (tasks/exit_summaries.py); never edited by hand."""

    village = models.ForeignKey(Village, on_delete=models.CASCADE, related_name="+", verbose_name=_("村"))
    indicator = models.ForeignKey(ExitIndicator, on_delete=models.CASCADE, related_name="+", verbose_name=_("指标"))
    year = models.PositiveSmallIntegerField(_("计划退出年度"))
    met = models.BooleanField(_("达标"), default=False)
    overridden = models.BooleanField(_("人工改判"), default=False)

    class Meta:
        verbose_name = _("村退出指标汇总数")
        verbose_name_plural = _("村退出指标汇总数")
        constraints = [models.UniqueConstraint(fields=["village", "indicator"], name="exitfigures_village_indicator")]
        indexes = [models.Index(fields=["year", "indicator"], name="exitfigures_year_indicator_idx")]

    def __str__(self):
        return f"{self.village_id} {self.indicator_id}"


# In post (在任) on a day, for every dated assignment (the five forces here, a household's helpers in households):
# defined once (docs/architecture.md, "派生状态的家").


def in_post_q(on: datetime.date, prefix: str = "") -> Q:
    """In post on ``on``: started on or before it and not ended before it (the start and the end day included)."""
    return Q(**{f"{prefix}start_date__lte": on}) & (
        Q(**{f"{prefix}end_date__isnull": True}) | Q(**{f"{prefix}end_date__gte": on})
    )


def in_post(start_date: datetime.date, end_date: datetime.date | None, on: datetime.date) -> bool:
    """The Python twin of :func:`in_post_q`."""
    return start_date <= on and (end_date is None or end_date >= on)


class AssignmentQuerySet(models.QuerySet):
    paths = AreaPaths(district="village__township__district", township="village__township", village="village")

    def visible_to(self, user):
        return self.filter(area_q(user, self.paths))

    def current(self, on: datetime.date):
        """Assignments in force on the given day: who is responsible today (:func:`in_post_q`)."""
        return self.filter(in_post_q(on))


class AssistanceAssignment(models.Model):
    """One of the village's assistance forces (五个一), dated so the page says who was responsible when."""

    class Role(models.TextChoices):
        LEADER = "leader", _("县级联系领导")
        UNIT = "unit", _("帮扶单位")
        FIRST_SECRETARY = "first_secretary", _("第一书记")
        WORK_TEAM = "work_team", _("驻村工作组成员")
        TECHNICIAN = "technician", _("驻村农技员")

    village = models.ForeignKey(Village, on_delete=models.CASCADE, related_name="assignments", verbose_name=_("村"))
    role = models.CharField(_("帮扶角色"), max_length=20, choices=Role.choices)
    person = models.CharField(_("姓名"), max_length=50, blank=True, help_text=_("帮扶单位可不填姓名。"))
    unit = models.CharField(_("单位"), max_length=100, blank=True)
    post = models.CharField(_("职务"), max_length=100, blank=True)
    phone = models.CharField(_("联系电话"), max_length=20, blank=True)
    start_date = models.DateField(_("开始日期"))
    end_date = models.DateField(_("结束日期"), null=True, blank=True)

    objects = AssignmentQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("帮扶力量（五个一）")
        verbose_name_plural = _("帮扶力量（五个一）")
        ordering = ["village", "role", "-start_date"]
        indexes = [
            # The village page: the village's forces, current first.
            models.Index(fields=["village", "role", "end_date"], name="assignment_village_role_idx"),
        ]
        constraints = [
            check(
                "assignment_end_not_before_start",
                Q(end_date__isnull=True) | Q(end_date__gte=F("start_date")),
                "结束日期不能早于开始日期。",
            ),
            unique(
                "one_current_first_secretary_per_village",
                ["village"],
                "该村已有在任第一书记，请先填写前任的结束日期。",
                condition=Q(role="first_secretary", end_date__isnull=True),
            ),
            check("assignment_person_named", Q(role="unit") | ~Q(person=""), "请填写帮扶人员姓名。"),
        ]

    def __str__(self):
        return f"{self.village} {self.get_role_display()} {self.person or self.unit}"

    def is_in_post(self, on: datetime.date) -> bool:
        """In post on ``on`` (:func:`in_post_q`)."""
        return in_post(self.start_date, self.end_date, on)

    def clean(self):
        errors = {}
        if self.end_date and self.start_date and self.end_date < self.start_date:
            errors["end_date"] = _("结束日期不能早于开始日期。")
        if self.role != self.Role.UNIT and not self.person:
            errors["person"] = _("请填写帮扶人员姓名。")
        if self.role == self.Role.UNIT and not self.unit:
            errors["unit"] = _("请填写帮扶单位名称。")
        if errors:
            raise ValidationError(errors)
