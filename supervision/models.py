"""Supervision (督查): inspections, findings, rectification, accountability and bulletins."""

import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from bazhou.core import dates
from bazhou.core.access import (
    AreaPaths,
    area_q,
    inspections_q,
    may_write_bulletins,
    public_notices_q,
    within,
)
from bazhou.core.constraints import check, unique
from bazhou.core.text import is_blank, text_errors
from households.models import Household
from tasks.models import Evidence, Task, is_past_deadline, past_deadline_q
from villages.models import YEAR_VALIDATORS, District, Township, Village


class Organiser(models.TextChoices):
    POVERTY_OFFICE = "poverty_office", _("区脱贫办")
    INSPECTION_OFFICE = "inspection_office", _("区委/政府督查室")
    CONGRESS = "congress", _("区人大")
    CPPCC = "cppcc", _("区政协")
    DISCIPLINE = "discipline", _("区纪委")
    THIRD_PARTY = "third_party", _("第三方评估机构")


# Records of a whole district (inspections, bulletins): a township's or a village's user reads their district's.
# Each of these filters names one township or one village, so it matches at most one row per record.
DISTRICT_RECORD_PATHS = AreaPaths(
    district="district", township="district__townships", village="district__townships__villages"
)


# What an inspection targets (its townships, villages, households and plan rows), for ``access.inspections_q``.
INSPECTION_TARGET_PATHS = (
    AreaPaths(district="townships__district", township="townships", village=None),
    AreaPaths(district="villages__township__district", township="villages__township", village="villages"),
    AreaPaths(
        district="households__village__township__district",
        township="households__village__township",
        village="households__village",
    ),
    AreaPaths(
        district="tasks__plan__village__township__district",
        township="tasks__plan__village__township",
        village="tasks__plan__village",
    ),
)


class InspectionQuerySet(models.QuerySet):
    paths = DISTRICT_RECORD_PATHS

    def visible_to(self, user):
        """District-wide records, but a township's or a village's users read only the announced inspections (not
        暗访) of their area and those whose findings against their area were filed (published to them):
        ``access.inspections_q``."""
        published = Q(pk__in=Finding.objects.visible_to(user).filter(inspection__isnull=False).values("inspection"))
        q = inspections_q(
            user,
            self.paths,
            targets=INSPECTION_TARGET_PATHS,
            announced=~Q(kind=Inspection.Kind.UNANNOUNCED),
            published=published,
        )
        return self.filter(q).distinct()


class Inspection(models.Model):
    """督查: one inspection, with who organised it, who went, when, where and how."""

    class Kind(models.TextChoices):
        OPEN = "open", _("明察")
        UNANNOUNCED = "unannounced", _("暗访")
        SPECIAL = "special", _("专项督查")
        CONGRESS = "congress", _("人大/政协督导")
        THIRD_PARTY = "third_party", _("第三方评估")

    class Method(models.TextChoices):
        VISIT = "visit", _("入户")
        RECORDS = "records", _("查资料")
        MEETING = "meeting", _("座谈")

    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="inspections", verbose_name=_("区县"))
    title = models.CharField(_("名称"), max_length=200)
    kind = models.CharField(_("方式"), max_length=12, choices=Kind.choices)
    organiser = models.CharField(_("组织单位"), max_length=20, choices=Organiser.choices)
    start_date = models.DateField(_("开始日期"))
    end_date = models.DateField(_("结束日期"))
    inspectors = models.CharField(_("督查人员"), max_length=300, blank=True)
    methods = models.JSONField(_("督查方法"), default=list, blank=True)
    townships = models.ManyToManyField(Township, blank=True, related_name="inspections", verbose_name=_("督查乡镇"))
    villages = models.ManyToManyField(Village, blank=True, related_name="inspections", verbose_name=_("督查村"))
    households = models.ManyToManyField(Household, blank=True, related_name="inspections", verbose_name=_("督查户"))
    tasks = models.ManyToManyField(Task, blank=True, related_name="inspections", verbose_name=_("督查任务"))
    summary = models.TextField(_("督查情况"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("录入人"),
    )
    created_at = models.DateTimeField(_("录入时间"), default=timezone.now, editable=False)

    objects = InspectionQuerySet.as_manager()
    history = HistoricalRecords(excluded_fields=["created_at"])

    class Meta:
        verbose_name = _("督查")
        verbose_name_plural = _("督查")
        ordering = ["-start_date", "-id"]
        constraints = [
            check("inspection_end_not_before_start", Q(end_date__gte=F("start_date")), "结束日期不能早于开始日期。"),
        ]

    def __str__(self):
        return self.title

    def clean(self):
        errors = text_errors(self, required=("title",))
        for name, error in (
            ("start_date", dates.done_date_error(self.start_date, "开始日期")),
            ("end_date", dates.other_date_error(self.end_date, "结束日期")),
        ):
            if error:
                errors[name] = error
        if self.start_date and self.end_date and self.end_date < self.start_date:
            errors.setdefault("end_date", _("结束日期不能早于开始日期。"))
        methods = self.methods or []
        if not isinstance(methods, list) or any(m not in self.Method.values for m in methods):
            errors["methods"] = _("督查方法只能从“入户、查资料、座谈”中选择。")
        if errors:
            raise ValidationError(errors)


# A finding is against exactly one of these, and belongs to that target's area: the paths from a finding to its
# target's village, township and district. They are read when a finding is saved and when a target moves
# (:func:`refresh_finding_areas`); the area filters read the columns kept from them (:data:`FINDING_AREA_PATHS`).
FINDING_TARGET_PATHS = {
    "task": AreaPaths(
        district="task__plan__village__township__district",
        township="task__plan__village__township",
        village="task__plan__village",
        department="task__department",
    ),
    "village": AreaPaths(district="village__township__district", township="village__township", village="village"),
    "household": AreaPaths(
        district="household__village__township__district",
        township="household__village__township",
        village="household__village",
    ),
    "township": AreaPaths(district="township__district", township="township", village=None),
}

# The area filters' paths: the columns a finding keeps of its target's area (``area_*``), one table, no joins. A
# township's own findings (``area_village`` empty) sit above villages: a village cadre reads, but does not answer,
# those of their township (``access.area_q`` with ``village=None``), so they have their own paths.
FINDING_AREA_PATHS = AreaPaths(
    district="area_district", township="area_township", village="area_village", department="task__department"
)
TOWNSHIP_FINDING_PATHS = AreaPaths(district="area_district", township="area_township", village=None)


def finding_area_q(user, *, write: bool = False) -> Q:
    """The findings in the area ``user`` may read (or, with ``write``, answer for): the one home of that rule for
    findings, and through them rectifications, escalations and cases."""
    return area_q(user, FINDING_AREA_PATHS, write=write) | (
        area_q(user, TOWNSHIP_FINDING_PATHS, write=write) & Q(area_village__isnull=True)
    )


class FindingQuerySet(models.QuerySet):
    def in_area(self, level: str, key):
        """Findings whose target (a task, village, household or township) lies in the area: ``level`` is
        "district", "township" or "village", ``key`` its code or id. A village's do not include its township's."""
        return self.filter(within(FINDING_AREA_PATHS, level, key))

    def visible_to(self, user):
        return self.filter(finding_area_q(user))

    def editable_by(self, user):
        """Findings whose rectification ``user`` may start and answer: those in an area they may edit."""
        return self.filter(finding_area_q(user, write=True))

    def open(self):
        """Findings whose rectification is not closed, or that have none yet (:func:`rectification_open_q`)."""
        return self.filter(rectification_open_q("rectification__"))


def target_area(finding) -> tuple:
    """(district code, township code, village id or None) of ``finding``'s target, read from the target (1 query)."""
    (name,) = [n for n in FINDING_TARGET_PATHS if getattr(finding, f"{n}_id")]
    paths = FINDING_TARGET_PATHS[name]
    model = finding._meta.get_field(name).related_model

    def relative(path):
        return "pk" if path == name else path.removeprefix(f"{name}__")

    columns = [relative(paths.district), relative(paths.township)]
    if paths.village is not None:
        columns.append(relative(paths.village))
    found = model._base_manager.filter(pk=getattr(finding, f"{name}_id")).values_list(*columns).first()
    if found is None:
        return (None, None, None)
    return (*found, None) if paths.village is None else found


def refresh_finding_areas(findings) -> int:
    """Set the kept area of ``findings`` (a queryset) again from their targets, after a target moved (a household
    to another village, a village to another township, …): one UPDATE per kind of target; returns the rows set."""
    done = 0
    for name, paths in FINDING_TARGET_PATHS.items():
        values = {}
        for column, path in (
            ("area_district", paths.district),
            ("area_township", paths.township),
            ("area_village", paths.village),
        ):
            if path is None:
                values[column] = None
                continue
            values[column] = models.Subquery(Finding._base_manager.filter(pk=models.OuterRef("pk")).values(path)[:1])
        done += findings.filter(**{f"{name}__isnull": False}).order_by().update(**values)
    return done


class Finding(models.Model):
    """发现问题: what is wrong and where (a task, a village, a household or a township)."""

    class Type(models.TextChoices):
        DELAY = "delay", _("进度滞后")
        FUNDS = "funds", _("资金")
        HOUSING = "housing", _("住房")
        WATER = "water", _("饮水")
        EDUCATION = "education", _("教育")
        MEDICAL = "medical", _("医疗")
        INDUSTRY = "industry", _("产业")
        CONDUCT = "conduct", _("帮扶作风")
        RECORDS = "records", _("档案资料")
        DATA = "data", _("数据质量")

    class Severity(models.TextChoices):
        MINOR = "minor", _("一般")
        MAJOR = "major", _("较重")
        SEVERE = "severe", _("严重")

    inspection = models.ForeignKey(
        Inspection, on_delete=models.PROTECT, null=True, blank=True, related_name="findings", verbose_name=_("督查")
    )
    task = models.ForeignKey(
        Task, on_delete=models.PROTECT, null=True, blank=True, related_name="findings", verbose_name=_("任务")
    )
    village = models.ForeignKey(
        Village, on_delete=models.PROTECT, null=True, blank=True, related_name="findings", verbose_name=_("村")
    )
    household = models.ForeignKey(
        Household, on_delete=models.PROTECT, null=True, blank=True, related_name="findings", verbose_name=_("户")
    )
    township = models.ForeignKey(
        Township, on_delete=models.PROTECT, null=True, blank=True, related_name="findings", verbose_name=_("乡镇")
    )
    type = models.CharField(_("问题类型"), max_length=12, choices=Type.choices)
    severity = models.CharField(_("严重程度"), max_length=8, choices=Severity.choices, default=Severity.MINOR)
    description = models.TextField(_("问题描述"))
    # 提请挂包领导协调: a major finding the supervisor flags goes to the 挂包 leader of its area (Escalation).
    escalate = models.BooleanField(
        _("提请挂包领导协调"),
        default=False,
        help_text=_("重大问题勾选后，转挂包该乡镇或村的区级领导协调，并限期回复。"),
    )
    found_on = models.DateField(_("发现日期"))
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("录入人"),
    )
    created_at = models.DateTimeField(_("录入时间"), default=timezone.now, editable=False)
    # Where the target lies, kept with the finding (set on save from the target, and again when a target moves:
    # ``supervision.areas``), so that who sees and answers a finding is decided on its own row: the area filters
    # (:func:`finding_area_q`) need no join through the target's plan, village and township.
    area_district = models.ForeignKey(
        District, on_delete=models.PROTECT, related_name="+", editable=False, verbose_name=_("所在区")
    )
    area_township = models.ForeignKey(
        Township, on_delete=models.PROTECT, related_name="+", editable=False, verbose_name=_("所在乡镇")
    )
    area_village = models.ForeignKey(
        Village, on_delete=models.PROTECT, null=True, related_name="+", editable=False, verbose_name=_("所在村")
    )

    objects = FindingQuerySet.as_manager()
    history = HistoricalRecords(excluded_fields=["created_at", "area_district", "area_township", "area_village"])

    class Meta:
        verbose_name = _("发现问题")
        verbose_name_plural = _("发现问题")
        ordering = ["-found_on", "-id"]
        constraints = [
            check(
                "finding_has_exactly_one_target",
                Q(task__isnull=False, village__isnull=True, household__isnull=True, township__isnull=True)
                | Q(task__isnull=True, village__isnull=False, household__isnull=True, township__isnull=True)
                | Q(task__isnull=True, village__isnull=True, household__isnull=False, township__isnull=True)
                | Q(task__isnull=True, village__isnull=True, household__isnull=True, township__isnull=False),
                "问题须且只须对应一个对象：任务、村、户或乡镇之一。",
            ),
        ]

    def __str__(self):
        return self.description[:30]

    def save(self, *args, **kwargs):
        """Keep the target's area (:func:`target_area`) when the finding is new or its target changed."""
        key = self._target_key()
        if getattr(self, "_area_of", None) != key or self.area_district_id is None:
            targets = [k for k in key if k is not None]
            if len(targets) == 1:
                self.area_district_id, self.area_township_id, self.area_village_id = target_area(self)
                update_fields = kwargs.get("update_fields")
                if update_fields is not None:
                    kwargs["update_fields"] = {*update_fields, "area_district", "area_township", "area_village"}
        super().save(*args, **kwargs)
        self._area_of = key

    def clean(self):
        targets = [name for name in FINDING_TARGET_PATHS if getattr(self, f"{name}_id")]
        if len(targets) != 1:
            raise ValidationError(_("问题须且只须对应一个对象：任务、村、户或乡镇之一。"))
        errors = text_errors(self, required=("description",))
        error = dates.done_date_error(self.found_on, "发现日期")
        if error:
            errors["found_on"] = error
        if errors:
            raise ValidationError(errors)

    @property
    def target(self):
        return self.task or self.village or self.household or self.township

    def _target_key(self) -> tuple:
        return tuple(getattr(self, f"{name}_id") for name in FINDING_TARGET_PATHS)

    @classmethod
    def from_db(cls, db, field_names, values):
        finding = super().from_db(db, field_names, values)
        loaded = all(f"{name}_id" in finding.__dict__ for name in FINDING_TARGET_PATHS)
        finding._area_of = finding._target_key() if loaded else None
        return finding


# Derived states of a rectification, each defined once (docs/architecture.md, "派生状态的家"): a ``Q`` factory
# with an optional relation ``prefix``, the queryset method built on it, and its Python twin.


def rectification_open_q(prefix: str = "") -> Q:
    """Open: not closed (未销号)."""
    return ~Q(**{f"{prefix}status": Rectification.Status.CLOSED})


def rectification_overdue_q(today: datetime.date, prefix: str = "") -> Q:
    """Overdue (整改逾期) on ``today``: open and its deadline before ``today``. On the deadline day itself it is not
    overdue yet (the same deadline comparison as the plan rows', tasks.models.past_deadline_q)."""
    return rectification_open_q(prefix) & past_deadline_q(today, prefix)


def rectification_to_answer_q(prefix: str = "") -> Q:
    """Waiting for the area's answer: 待整改 or 整改中 (a recheck that sends an answer back returns it to 整改中).
    The states in which ``supervision.services.allowed_actions`` offers the answer."""
    return Q(**{f"{prefix}status__in": [Rectification.Status.PENDING, Rectification.Status.IN_PROGRESS]})


def rectification_awaits_answer(status: str) -> bool:
    """The Python twin of :func:`rectification_to_answer_q`."""
    return status in (Rectification.Status.PENDING, Rectification.Status.IN_PROGRESS)


def rectification_is_overdue(*, status: str, deadline: datetime.date, today: datetime.date) -> bool:
    """The Python twin of :func:`rectification_overdue_q`, for rectifications read as values (the bulletin)."""
    return status != Rectification.Status.CLOSED and is_past_deadline(deadline, today)


class RectificationQuerySet(models.QuerySet):
    def visible_to(self, user):
        return self.filter(finding__in=Finding.objects.visible_to(user))

    def open(self):
        """Not closed (:func:`rectification_open_q`)."""
        return self.filter(rectification_open_q())

    def overdue(self, today: datetime.date):
        """Past the deadline and not closed (逾期, :func:`rectification_overdue_q`)."""
        return self.filter(rectification_overdue_q(today))

    def to_answer(self):
        """Waiting for the area's answer (:func:`rectification_to_answer_q`)."""
        return self.filter(rectification_to_answer_q())


class Rectification(models.Model):
    """整改: what must be fixed by when, by whom, the answer, and the supervisor's recheck.

    待整改 → 整改中 → 待复查 → 已销号. Closing needs a result and a recheck by a supervisor other than
    the person who answered.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("待整改")
        IN_PROGRESS = "in_progress", _("整改中")
        AWAITING_RECHECK = "awaiting_recheck", _("待复查")
        CLOSED = "closed", _("已销号")

    # The common rule: rectify within two months of the finding.
    DEFAULT_MONTHS = 2

    finding = models.OneToOneField(
        Finding, on_delete=models.CASCADE, related_name="rectification", verbose_name=_("问题")
    )
    requirement = models.TextField(_("整改要求"))
    responsible_unit = models.CharField(_("责任单位"), max_length=100, blank=True)
    responsible_person = models.CharField(_("责任人"), max_length=50, blank=True)
    responsible_phone = models.CharField(_("联系电话"), max_length=20, blank=True)
    responsible_email = models.EmailField(_("电子邮箱"), blank=True)
    deadline = models.DateField(_("整改时限"))
    status = models.CharField(_("整改状态"), max_length=20, choices=Status.choices, default=Status.PENDING)
    result = models.TextField(_("整改结果"), blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("整改填报人"),
    )
    answered_at = models.DateTimeField(_("填报时间"), null=True, blank=True)
    recheck_note = models.TextField(_("复查意见"), blank=True)
    rechecked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("复查人"),
    )
    rechecked_at = models.DateTimeField(_("复查时间"), null=True, blank=True)
    closed_on = models.DateField(_("销号日期"), null=True, blank=True)
    # How many times a recheck sent the answer back (复查未通过); twice opens a case in the 纪委 inbox.
    rejections = models.PositiveSmallIntegerField(_("复查未通过次数"), default=0, editable=False)

    version = models.PositiveIntegerField(_("版本"), default=1, editable=False)

    objects = RectificationQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("整改")
        verbose_name_plural = _("整改")
        ordering = ["deadline", "id"]
        indexes = [
            # Overdue rectifications: open ones by deadline.
            models.Index(fields=["deadline", "id"], condition=~Q(status="closed"), name="rect_open_deadline_idx"),
        ]
        constraints = [
            check(
                "rectification_answer_before_recheck",
                ~Q(status__in=["awaiting_recheck", "closed"]) | Q(answered_by__isnull=False) & ~Q(result=""),
                "提交复查前须填写整改结果。",
            ),
            check(
                "rectification_closed_needs_recheck",
                ~Q(status="closed")
                | Q(rechecked_by__isnull=False, rechecked_at__isnull=False, closed_on__isnull=False),
                "销号须经复查并填写销号日期。",
            ),
            check(
                "rectification_recheck_by_other",
                Q(rechecked_by__isnull=True) | Q(answered_by__isnull=True) | ~Q(rechecked_by=F("answered_by")),
                "复查人不能是整改结果的填报人。",
            ),
            check(
                "rectification_closed_on_only_when_closed",
                Q(closed_on__isnull=True) | Q(status="closed"),
                "未销号的整改不能有销号日期。",
            ),
        ]

    def __str__(self):
        return f"{self.finding} — {self.get_status_display()}"

    def clean(self):
        errors = text_errors(self, required=("requirement", "result"))
        for name, error in (
            ("deadline", dates.other_date_error(self.deadline, "整改时限")),
            ("closed_on", dates.done_date_error(self.closed_on, "销号日期")),
        ):
            if error:
                errors[name] = error
        if self.status in (self.Status.AWAITING_RECHECK, self.Status.CLOSED) and is_blank(self.result):
            errors.setdefault("result", _("提交复查前须填写整改结果。"))
        if self.status == self.Status.CLOSED and not self.rechecked_by_id:
            errors["rechecked_by"] = _("销号须经督查人员复查。")
        if self.rechecked_by_id and self.rechecked_by_id == self.answered_by_id:
            errors["rechecked_by"] = _("复查人不能是整改结果的填报人。")
        if errors:
            raise ValidationError(errors)

    def is_overdue(self, today: datetime.date) -> bool:
        """Overdue on ``today`` (:func:`rectification_overdue_q`)."""
        return rectification_is_overdue(status=self.status, deadline=self.deadline, today=today)


class RectificationEvidence(Evidence):
    rectification = models.ForeignKey(
        Rectification, on_delete=models.CASCADE, related_name="evidence", verbose_name=_("整改")
    )

    class Meta:
        verbose_name = _("整改佐证材料")
        verbose_name_plural = _("整改佐证材料")


class Accountability(models.Model):
    """责任追究: a measure taken against a person or unit for a finding."""

    class Measure(models.TextChoices):
        REMINDER = "reminder", _("提醒谈话")
        INTERVIEW = "interview", _("约谈")
        CRITICISM = "criticism", _("通报批评")
        ADMONITION = "admonition", _("诫勉")
        ORGANISATIONAL = "organisational", _("组织处理")
        DISCIPLINARY = "disciplinary", _("党纪政务处分")

    class SubjectKind(models.TextChoices):
        PERSON = "person", _("个人")
        UNIT = "unit", _("单位")

    finding = models.ForeignKey(
        Finding, on_delete=models.PROTECT, related_name="accountabilities", verbose_name=_("问题")
    )
    subject_kind = models.CharField(
        _("追责对象类别"), max_length=8, choices=SubjectKind.choices, default=SubjectKind.PERSON
    )
    subject = models.CharField(_("追责对象"), max_length=100)
    subject_post = models.CharField(_("单位及职务"), max_length=200, blank=True)
    measure = models.CharField(_("处理方式"), max_length=16, choices=Measure.choices)
    decided_by = models.CharField(_("决定机关"), max_length=20, choices=Organiser.choices, default=Organiser.DISCIPLINE)
    decided_on = models.DateField(_("决定日期"))
    document_number = models.CharField(_("文号"), max_length=100, blank=True)
    note = models.TextField(_("备注"), blank=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("责任追究")
        verbose_name_plural = _("责任追究")
        ordering = ["-decided_on", "-id"]

    def __str__(self):
        return f"{self.subject} {self.get_measure_display()}"

    def clean(self):
        errors = text_errors(self, required=("subject",))
        error = dates.done_date_error(self.decided_on, "决定日期")
        if error:
            errors["decided_on"] = error
        if errors:
            raise ValidationError(errors)


class BulletinQuerySet(models.QuerySet):
    paths = DISTRICT_RECORD_PATHS

    def visible_to(self, user):
        """The published bulletins of the user's district (a department's user included: public notices,
        ``access.public_notices_q``); the drafts too for those who write bulletins."""
        rows = self.filter(public_notices_q(user, self.paths))
        if not may_write_bulletins(user):
            rows = rows.filter(state=Bulletin.State.PUBLISHED)
        return rows

    def editable_by(self, user):
        """The bulletins the user may generate, edit and publish (drafts only: ``bulletin_services._locked_draft``)."""
        if not may_write_bulletins(user):
            return self.none()
        return self.filter(area_q(user, self.paths))


class Bulletin(models.Model):
    """通报: a numbered, dated document listing overdue tasks and open findings of a period.

    ``snapshot`` keeps what the bulletin listed when it was generated, so a published bulletin
    does not change when the data does.
    """

    class State(models.TextChoices):
        DRAFT = "draft", _("草稿")
        PUBLISHED = "published", _("已发布")

    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="bulletins", verbose_name=_("区县"))
    year = models.PositiveSmallIntegerField(_("年度"), validators=YEAR_VALIDATORS)
    number = models.PositiveSmallIntegerField(_("期号"))
    # 文号 (“巴脱贫办督〔2017〕12号”): given on publishing, the next of the district's year; drafts have none.
    doc_seq = models.PositiveSmallIntegerField(_("文号序号"), null=True, blank=True, editable=False)
    doc_number = models.CharField(_("文号"), max_length=40, blank=True, editable=False)
    title = models.CharField(_("标题"), max_length=200)
    issuer = models.CharField(_("发布单位"), max_length=20, choices=Organiser.choices, default=Organiser.POVERTY_OFFICE)
    issued_on = models.DateField(_("发布日期"))
    period_start = models.DateField(_("通报期间起"))
    period_end = models.DateField(_("通报期间止"))
    body = models.TextField(_("正文"), blank=True)
    snapshot = models.JSONField(_("通报数据"), default=dict, blank=True)
    state = models.CharField(_("状态"), max_length=10, choices=State.choices, default=State.DRAFT)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("发布人"),
    )
    published_at = models.DateTimeField(_("发布时间"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("起草人"),
    )
    created_at = models.DateTimeField(_("起草时间"), default=timezone.now, editable=False)

    objects = BulletinQuerySet.as_manager()
    # The snapshot is the generated content itself (kept whole on the bulletin); the history tracks the rest.
    history = HistoricalRecords(excluded_fields=["created_at", "snapshot"])

    class Meta:
        verbose_name = _("通报")
        verbose_name_plural = _("通报")
        ordering = ["-year", "-number"]
        constraints = [
            unique("bulletin_number_unique_per_year", ["district", "year", "number"], "本年度已有该期号的通报。"),
            unique(
                "bulletin_doc_seq_unique_per_year",
                ["district", "year", "doc_seq"],
                "本年度已有该文号的通报。",
                condition=Q(doc_seq__isnull=False),
            ),
            check("bulletin_period_valid", Q(period_end__gte=F("period_start")), "通报期间的止日不能早于起日。"),
            check(
                "bulletin_published_has_time",
                ~Q(state="published") | Q(published_at__isnull=False),
                "已发布的通报须有发布时间。",
            ),
        ]

    def __str__(self):
        return f"{self.year}年第{self.number}期 {self.title}"


class OverdueRecord(models.Model):
    """The day a plan row or a rectification was first seen past its deadline (by the daily command).

    One record per object and deadline: run twice on a day, the command finds the record and does not
    notify again; if the deadline is moved and passes again, that is a new record.
    """

    task = models.ForeignKey(
        Task, on_delete=models.CASCADE, null=True, blank=True, related_name="overdue_records", verbose_name=_("任务")
    )
    rectification = models.ForeignKey(
        Rectification,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="overdue_records",
        verbose_name=_("整改"),
    )
    deadline = models.DateField(_("时限"))
    recorded_on = models.DateField(_("发现逾期日期"))
    notified_to = models.CharField(_("已通知邮箱"), max_length=254, blank=True)
    notified_at = models.DateTimeField(_("通知时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("逾期记录")
        verbose_name_plural = _("逾期记录")
        ordering = ["-recorded_on", "-id"]
        constraints = [
            check(
                "overdue_record_one_target",
                Q(task__isnull=False, rectification__isnull=True) | Q(task__isnull=True, rectification__isnull=False),
                "逾期记录须且只须对应一个任务或一项整改。",
            ),
            unique(
                "overdue_record_task_deadline",
                ["task", "deadline"],
                "该任务的这一时限已记录逾期。",
                condition=Q(task__isnull=False),
            ),
            unique(
                "overdue_record_rectification_deadline",
                ["rectification", "deadline"],
                "该整改的这一时限已记录逾期。",
                condition=Q(rectification__isnull=False),
            ),
        ]

    def __str__(self):
        return f"{self.task or self.rectification} 逾期（{self.deadline}）"


class DailyDigest(models.Model):
    """The supervisors' daily digest: one per district and day, so a second run the same day sends nothing."""

    district = models.ForeignKey(District, on_delete=models.CASCADE, related_name="digests", verbose_name=_("区县"))
    day = models.DateField(_("日期"))
    recipients = models.TextField(_("收件人"), blank=True)
    summary = models.JSONField(_("摘要"), default=dict, blank=True)
    sent_at = models.DateTimeField(_("发送时间"), default=timezone.now)

    class Meta:
        verbose_name = _("每日督查摘要")
        verbose_name_plural = _("每日督查摘要")
        ordering = ["-day"]
        constraints = [unique("daily_digest_once_a_day", ["district", "day"], "当天的督查摘要已发送。")]

    def __str__(self):
        return f"{self.district} {self.day} 督查摘要"


# ---------------------------------------------------------------------------------------------
# The supervision chain (贫困村督查信息员 → 区脱贫办 → 区人大/政协 → 挂包领导 → 区纪委)
# ---------------------------------------------------------------------------------------------

VILLAGE_PATHS = AreaPaths(district="village__township__district", township="village__township", village="village")


class LeadQuerySet(models.QuerySet):
    paths = VILLAGE_PATHS

    def visible_to(self, user):
        return self.filter(area_q(user, self.paths))

    def new(self):
        return self.filter(state=Lead.State.NEW)


class Lead(models.Model):
    """线索 / 进度观察: what a village's supervision information officer (村督查信息员) saw, for the district
    supervisors to turn into a finding (``finding``), keep on file, or dismiss, with a note."""

    class Kind(models.TextChoices):
        LEAD = "lead", _("问题线索")
        OBSERVATION = "observation", _("进度观察")

    class State(models.TextChoices):
        NEW = "new", _("待处理")
        FINDING = "finding", _("已转为问题")
        NOTED = "noted", _("已阅存档")
        DISMISSED = "dismissed", _("不予采纳")

    village = models.ForeignKey(Village, on_delete=models.PROTECT, related_name="leads", verbose_name=_("村"))
    task = models.ForeignKey(
        Task, on_delete=models.PROTECT, null=True, blank=True, related_name="leads", verbose_name=_("任务")
    )
    household = models.ForeignKey(
        Household, on_delete=models.PROTECT, null=True, blank=True, related_name="leads", verbose_name=_("户")
    )
    kind = models.CharField(_("类别"), max_length=12, choices=Kind.choices, default=Kind.LEAD)
    description = models.TextField(_("情况描述"))
    observed_on = models.DateField(_("发现日期"))
    filed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("报送人")
    )
    filed_at = models.DateTimeField(_("报送时间"), default=timezone.now, editable=False)
    # The form's one-time token: a second submission of the same form finds this row instead of filing another.
    token = models.CharField(_("提交标识"), max_length=64, blank=True, editable=False)
    state = models.CharField(_("处理状态"), max_length=10, choices=State.choices, default=State.NEW)
    finding = models.OneToOneField(
        Finding, on_delete=models.PROTECT, null=True, blank=True, related_name="lead", verbose_name=_("转为问题")
    )
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("处理人"),
    )
    handled_at = models.DateTimeField(_("处理时间"), null=True, blank=True)
    handling_note = models.TextField(_("处理意见"), blank=True)

    objects = LeadQuerySet.as_manager()
    history = HistoricalRecords(excluded_fields=["filed_at", "token"])

    class Meta:
        verbose_name = _("督查线索")
        verbose_name_plural = _("督查线索")
        ordering = ["-observed_on", "-id"]
        indexes = [models.Index(fields=["state", "village"], name="lead_state_village_idx")]
        constraints = [
            unique("lead_token_once", ["filed_by", "token"], "这条线索已报送。", condition=~Q(token="")),
            check(
                "lead_finding_when_turned",
                ~Q(state="finding") | Q(finding__isnull=False),
                "转为问题的线索须关联所转的问题。",
            ),
        ]

    def __str__(self):
        return self.description[:30]


class Opinion(models.Model):
    """督导意见: what the district people's congress or CPPCC (人大/政协) asks of a finding or its rectification."""

    class Body(models.TextChoices):
        CONGRESS = "congress", _("区人大")
        CPPCC = "cppcc", _("区政协")

    finding = models.ForeignKey(Finding, on_delete=models.PROTECT, related_name="opinions", verbose_name=_("问题"))
    body = models.CharField(_("督导机关"), max_length=10, choices=Body.choices)
    text = models.TextField(_("督导意见"))
    given_on = models.DateField(_("日期"))
    given_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("录入人")
    )
    created_at = models.DateTimeField(_("录入时间"), default=timezone.now, editable=False)
    token = models.CharField(_("提交标识"), max_length=64, blank=True, editable=False)

    history = HistoricalRecords(excluded_fields=["created_at", "token"])

    class Meta:
        verbose_name = _("督导意见")
        verbose_name_plural = _("督导意见")
        ordering = ["-given_on", "-id"]
        constraints = [
            unique("opinion_token_once", ["given_by", "token"], "这条督导意见已提交。", condition=~Q(token="")),
        ]

    def __str__(self):
        return self.text[:30]


def escalation_open_q() -> Q:
    """An escalation the leader has not answered yet."""
    return Q(responded_at__isnull=True)


def escalation_late_q(today: datetime.date) -> Q:
    """Open and past its response deadline (超期未回复): :func:`tasks.models.past_deadline_q` on ``respond_by``."""
    return escalation_open_q() & past_deadline_q(today, field="respond_by")


class EscalationQuerySet(models.QuerySet):
    def visible_to(self, user):
        """The escalations of findings ``user`` sees."""
        return self.filter(finding__in=Finding.objects.visible_to(user))

    def open(self):
        """Not answered yet (:func:`escalation_open_q`)."""
        return self.filter(escalation_open_q())

    def late(self, today: datetime.date):
        """Open and past the response deadline (超期未回复, :func:`escalation_late_q`)."""
        return self.filter(escalation_late_q(today))


class Escalation(models.Model):
    """提请挂包领导协调: a major finding, or a rectification overdue past ``BAZHOU_ESCALATE_AFTER_DAYS``, put before
    the 挂包 leader of its area, who answers by ``respond_by``. One per finding and reason."""

    class Reason(models.TextChoices):
        MAJOR_FINDING = "major_finding", _("重大问题")
        RECTIFICATION_OVERDUE = "rect_overdue", _("整改逾期")

    finding = models.ForeignKey(Finding, on_delete=models.PROTECT, related_name="escalations", verbose_name=_("问题"))
    reason = models.CharField(_("事由"), max_length=16, choices=Reason.choices)
    leader = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="escalations",
        verbose_name=_("挂包领导"),
    )
    opened_on = models.DateField(_("提请日期"))
    respond_by = models.DateField(_("回复时限"))
    response = models.TextField(_("协调意见"), blank=True)
    responded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("回复人"),
    )
    responded_at = models.DateTimeField(_("回复时间"), null=True, blank=True)

    objects = EscalationQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("提请协调")
        verbose_name_plural = _("提请协调")
        ordering = ["respond_by", "id"]
        indexes = [
            models.Index(
                fields=["leader", "respond_by"], condition=Q(responded_at__isnull=True), name="escalation_open_idx"
            ),
        ]
        constraints = [
            unique("escalation_once_per_reason", ["finding", "reason"], "该问题已因同一事由提请协调。"),
            check(
                "escalation_response_complete",
                Q(responded_at__isnull=True) | ~Q(response="") & Q(responded_by__isnull=False),
                "回复须填写协调意见。",
            ),
        ]

    def __str__(self):
        return f"{self.get_reason_display()}：{self.finding}"


class CaseQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Cases of the rows and findings ``user`` sees (the 纪委 and the supervisors see the district's)."""
        return self.filter(
            Q(task__in=Task.objects.visible_to(user).values("pk"))
            | Q(rectification__finding__in=Finding.objects.visible_to(user).values("pk"))
        )

    def open(self):
        return self.filter(state=AccountabilityCase.State.OPEN)


class AccountabilityCase(models.Model):
    """追责线索 in the 区纪委 inbox, opened by the daily run: a rectification overdue by more than
    ``BAZHOU_CASE_RECTIFICATION_DAYS`` days, a rectification rejected at recheck twice, or a plan row overdue by
    more than ``BAZHOU_CASE_TASK_DAYS`` days. The 纪委 decides it: an accountability record (追责), or no action
    with a reason. One case per object and reason."""

    class Reason(models.TextChoices):
        RECTIFICATION_OVERDUE = "rect_overdue", _("整改逾期")
        RECHECK_REJECTED = "recheck_rejected", _("复查两次未通过")
        TASK_OVERDUE = "task_overdue", _("任务严重逾期")

    class State(models.TextChoices):
        OPEN = "open", _("待处理")
        DECIDED = "decided", _("已追责")
        DISMISSED = "dismissed", _("不予追责")

    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="cases", verbose_name=_("区县"))
    reason = models.CharField(_("事由"), max_length=20, choices=Reason.choices)
    task = models.ForeignKey(
        Task, on_delete=models.PROTECT, null=True, blank=True, related_name="cases", verbose_name=_("任务")
    )
    rectification = models.ForeignKey(
        Rectification, on_delete=models.PROTECT, null=True, blank=True, related_name="cases", verbose_name=_("整改")
    )
    opened_on = models.DateField(_("移送日期"))
    detail = models.CharField(_("情况"), max_length=200, blank=True)
    state = models.CharField(_("处理状态"), max_length=10, choices=State.choices, default=State.OPEN)
    accountability = models.ForeignKey(
        Accountability,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="cases",
        verbose_name=_("追责记录"),
    )
    decision_note = models.TextField(_("处理意见"), blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("处理人"),
    )
    decided_at = models.DateTimeField(_("处理时间"), null=True, blank=True)

    objects = CaseQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("追责线索")
        verbose_name_plural = _("追责线索")
        ordering = ["-opened_on", "-id"]
        indexes = [models.Index(fields=["district", "state"], name="case_district_state_idx")]
        constraints = [
            check(
                "case_one_target",
                Q(task__isnull=False, rectification__isnull=True) | Q(task__isnull=True, rectification__isnull=False),
                "追责线索须且只须对应一个任务或一项整改。",
            ),
            unique("case_task_once", ["task", "reason"], "该任务已移送。", condition=Q(task__isnull=False)),
            unique(
                "case_rectification_once",
                ["rectification", "reason"],
                "该整改已因同一事由移送。",
                condition=Q(rectification__isnull=False),
            ),
            check(
                "case_decided_has_record",
                ~Q(state="decided") | Q(accountability__isnull=False),
                "已追责的线索须关联追责记录。",
            ),
            check(
                "case_dismissed_has_reason",
                ~Q(state="dismissed") | ~Q(decision_note=""),
                "不予追责须写明理由。",
            ),
        ]

    def __str__(self):
        return f"{self.get_reason_display()}：{self.task or self.rectification}"


# ---------------------------------------------------------------------------------------------
# Monthly snapshots (月度快照): the figures of every area frozen once a month (supervision.snapshots)
# ---------------------------------------------------------------------------------------------

SNAPSHOT_PATHS = AreaPaths(district="district", township="township", village="village")
SNAPSHOT_IMMUTABLE = "月度快照一经生成不可修改或删除；如数字有误，请由区脱贫办生成“更正”快照并写明原因。"


class SnapshotImmutable(Exception):
    """Raised on any attempt to change or delete a :class:`MonthlySnapshot` (the message is for people)."""

    def __init__(self, message: str = SNAPSHOT_IMMUTABLE):
        super().__init__(message)
        self.message = message


class MonthlySnapshotQuerySet(models.QuerySet):
    paths = SNAPSHOT_PATHS

    def visible_to(self, user):
        """The snapshots of the areas inside the user's own (``access.area_q``): a township's staff read their
        township's and its villages', not the district's."""
        return self.filter(area_q(user, self.paths))

    def effective(self):
        """The rows no later correction replaces (the last of each chain)."""
        return self.filter(corrected_by__isnull=True)

    def update(self, **kwargs):
        raise SnapshotImmutable

    def delete(self):
        raise SnapshotImmutable


class MonthlySnapshot(models.Model):
    """月度快照: the figures of one area (the district, a township or a village) for one month, frozen on the day
    taken and never recomputed. A late correction is a new row pointing at the one it replaces (``corrects``) with
    its reason; the row it replaces stays as it was. No history table: a row never changes."""

    class Kind(models.TextChoices):
        SCHEDULED = "scheduled", _("每月定时")
        ON_DEMAND = "on_demand", _("区脱贫办临时生成")
        BACKFILL = "backfill", _("演示数据补录")

    month = models.DateField(_("月份"), help_text=_("该月 1 日"))
    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="+", verbose_name=_("区县"))
    township = models.ForeignKey(
        Township, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("乡镇")
    )
    village = models.ForeignKey(
        Village, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("村")
    )
    # "d:<district code>", "t:<township code>", "v:<village id>": one key per area, for the uniqueness below.
    area_key = models.CharField(_("区域"), max_length=24, editable=False)
    as_of = models.DateField(_("统计截至"))
    figures = models.JSONField(_("数字"), default=dict)
    kind = models.CharField(_("生成方式"), max_length=12, choices=Kind.choices)
    taken_at = models.DateTimeField(_("生成时间"), default=timezone.now, editable=False)
    taken_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("生成人"),
    )
    corrects = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="corrected_by",
        verbose_name=_("更正的快照"),
    )
    correction_reason = models.CharField(_("更正原因"), max_length=300, blank=True)

    objects = MonthlySnapshotQuerySet.as_manager()

    class Meta:
        verbose_name = _("月度快照")
        verbose_name_plural = _("月度快照")
        ordering = ["-month", "area_key", "id"]
        indexes = [
            # The trend: one area's months, latest first.
            models.Index(fields=["area_key", "month"], name="snapshot_area_month_idx"),
        ]
        constraints = [
            unique(
                "snapshot_one_original_per_area_month",
                ["area_key", "month"],
                "该区域该月已有快照：只能由区脱贫办生成更正快照。",
                condition=Q(corrects__isnull=True),
            ),
            check(
                "snapshot_village_has_township",
                Q(village__isnull=True) | Q(township__isnull=False),
                "村的快照须同时记录所属乡镇。",
            ),
            check(
                "snapshot_correction_has_reason",
                Q(corrects__isnull=True) | ~Q(correction_reason=""),
                "更正快照须写明更正原因。",
            ),
        ]

    def __str__(self):
        return f"{self.month:%Y年%m月} {self.area_name}"

    def save(self, *args, **kwargs):
        # Immutable: inserted once (supervision.snapshots), never changed; a correction is a new row.
        if not self._state.adding:
            raise SnapshotImmutable
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise SnapshotImmutable

    @property
    def level(self) -> str:
        return "village" if self.village_id else "township" if self.township_id else "district"

    @property
    def area_name(self) -> str:
        area = self.village or self.township or self.district
        return str(area)

    @property
    def is_correction(self) -> bool:
        return self.corrects_id is not None
