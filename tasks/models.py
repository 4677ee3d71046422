"""The plan table (施工图): one plan per village and year, one row per task, fund-source lines, progress."""

import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from bazhou.core.access import AreaPaths, area_q
from bazhou.core.constraints import at_most, check, not_negative, unique
from households.models import Household
from villages.models import YEAR_VALIDATORS, Village


# Plan money is in 万元 with 4 decimals (1 元); never mixed with household income in 元.
def wan_field(verbose_name, what: str) -> models.DecimalField:
    """An amount in 万元 (4 decimals = 1 元), never negative."""
    return models.DecimalField(
        verbose_name, max_digits=14, decimal_places=4, default=0, validators=[not_negative(what)]
    )


PROGRESS_VALIDATORS = [at_most(100, "进度应在 0–100 之间。")]


class PlanQuerySet(models.QuerySet):
    paths = AreaPaths(district="village__township__district", township="village__township", village="village")

    def visible_to(self, user):
        return self.filter(area_q(user, self.paths))

    def editable_by(self, user):
        return self.filter(area_q(user, self.paths, write=True))


class Plan(models.Model):
    """一村一案: the plan of one village for one year, holding its village rows and its households' rows.

    Once approved (by the district), deadlines and funds change only with a recorded reason,
    and rows are withdrawn rather than deleted.
    """

    class State(models.TextChoices):
        DRAFT = "draft", _("草稿")
        APPROVED = "approved", _("已批准")

    village = models.ForeignKey(Village, on_delete=models.PROTECT, related_name="plans", verbose_name=_("村"))
    year = models.PositiveSmallIntegerField(_("计划年度"), validators=YEAR_VALIDATORS)
    state = models.CharField(_("审批状态"), max_length=10, choices=State.choices, default=State.DRAFT)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("批准人"),
    )
    approved_at = models.DateTimeField(_("批准时间"), null=True, blank=True)
    note = models.TextField(_("备注"), blank=True)

    objects = PlanQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("村级施工图（一村一案）")
        verbose_name_plural = _("村级施工图（一村一案）")
        ordering = ["village", "year"]
        constraints = [
            unique("plan_one_per_village_year", ["village", "year"], "该村本年度已有施工图。"),
            check(
                "plan_approved_has_time",
                ~Q(state="approved") | Q(approved_at__isnull=False),
                "已批准的施工图须有批准时间。",
            ),
        ]

    def __str__(self):
        return f"{self.village} {self.year}年施工图"

    @property
    def is_approved(self) -> bool:
        return self.state == self.State.APPROVED


class Category(models.TextChoices):
    """Task categories; infrastructure and public services are split into their kinds."""

    ROAD = "road", _("道路")
    WATER = "water", _("饮水")
    POWER = "power", _("电力")
    TELECOM = "telecom", _("通信")
    BROADCAST = "broadcast", _("广播电视")
    IRRIGATION = "irrigation", _("水利")
    INDUSTRY = "industry", _("产业发展")
    RELOCATION = "relocation", _("易地扶贫搬迁")
    HOUSING = "housing", _("危房改造")
    CULTURE_ROOM = "culture_room", _("文化室")
    CLINIC = "clinic", _("卫生室")
    SCHOOL = "school", _("学校")
    EMPLOYMENT = "employment", _("就业扶贫")
    EDUCATION = "education", _("教育扶贫")
    HEALTH = "health", _("健康扶贫")
    SOCIAL_SECURITY = "social_security", _("社会保障兜底")
    FINANCE = "finance", _("金融扶贫")
    OTHER = "other", _("其他")


class FundSource(models.TextChoices):
    CENTRAL = "central", _("中央财政专项扶贫资金")
    PROVINCE = "province", _("省级财政专项扶贫资金")
    CITY = "city", _("市级财政专项扶贫资金")
    DISTRICT = "district", _("区级财政专项扶贫资金")
    INTEGRATED = "integrated", _("统筹整合涉农资金")
    SECTOR = "sector", _("行业部门资金")
    SOCIAL = "social", _("社会帮扶资金")
    LOCAL = "local", _("镇村配套")
    SELF = "self", _("群众自筹")
    FINANCE = "finance", _("金融扶贫资金")


# ---------------------------------------------------------------------------------------------
# Derived states of a plan row, each defined once (docs/architecture.md, "派生状态的家").
#
# Each state is a ``Q`` factory taking an optional relation ``prefix``, so that another model's query can ask it
# about its rows (``Count("tasks", filter=overdue_q(today, prefix="tasks__"))``); TaskQuerySet's methods are built
# on these, and where a page or an export needs a Python value, the function beside the ``Q`` factory is its
# twin (tests/test_derived_states.py holds the two together on every boundary). No page, API, export, the
# dashboard or the daily run compares a deadline or a status itself.
# ---------------------------------------------------------------------------------------------


def live_q(prefix: str = "") -> Q:
    """Live: a row of the plan, not withdrawn (撤销). Withdrawn rows are kept but never counted."""
    return Q(**{f"{prefix}is_removed": False})


def done_q(prefix: str = "") -> Q:
    """Done: 已完成 or 已验收 (Task.DONE_STATUSES)."""
    return Q(**{f"{prefix}status__in": Task.DONE_STATUSES})


def is_done_status(status: str) -> bool:
    """The Python twin of :func:`done_q`."""
    return status in Task.DONE_STATUSES


def open_q(prefix: str = "") -> Q:
    """Open: live and not done."""
    return live_q(prefix) & ~done_q(prefix)


def past_deadline_q(day: datetime.date, prefix: str = "") -> Q:
    """The deadline is before ``day``. A row becomes late the day after its deadline: on the deadline day itself
    it is not late yet. The one deadline comparison of the product."""
    return Q(**{f"{prefix}deadline__lt": day})


def is_past_deadline(deadline: datetime.date, day: datetime.date) -> bool:
    """The Python twin of :func:`past_deadline_q`."""
    return deadline < day


def days_overdue(deadline: datetime.date, today: datetime.date) -> int:
    """How many days ``today`` is after ``deadline`` (0 on the deadline day, negative before it: days left)."""
    return (today - deadline).days


def overdue_q(today: datetime.date, prefix: str = "") -> Q:
    """Overdue (逾期) on ``today``: open (live, not done) and past the deadline."""
    return open_q(prefix) & past_deadline_q(today, prefix)


def is_overdue_values(*, status: str, deadline: datetime.date, is_removed: bool, today: datetime.date) -> bool:
    """The Python twin of :func:`overdue_q`, for rows read as values (the one table, bulletins)."""
    return not is_removed and not is_done_status(status) and is_past_deadline(deadline, today)


def overdue_by_at_least_q(today: datetime.date, days: int, prefix: str = "") -> Q:
    """The deadline is at least ``days`` days before ``today`` (:func:`days_overdue` ≥ ``days``): the review queue's
    逾期至少 N 天. Only the deadline is asked: combine it with :func:`overdue_q` for the rows' state."""
    return past_deadline_q(today - datetime.timedelta(days=days - 1), prefix)


def due_within_q(today: datetime.date, days: int, prefix: str = "") -> Q:
    """Due within ``days`` days (即将到期): open, the deadline from today (included) to today + ``days`` (included).
    A row due today is due, not overdue; one due the day after the window is not due yet."""
    last = today + datetime.timedelta(days=days)
    return open_q(prefix) & Q(**{f"{prefix}deadline__gte": today, f"{prefix}deadline__lte": last})


def stale_cutoff(today: datetime.date, days: int) -> datetime.date:
    """The day before which a row's last progress report (or, never reported, its creation) makes it stale."""
    return today - datetime.timedelta(days=days)


def stale_q(today: datetime.date, days: int, prefix: str = "") -> Q:
    """Stale (长期未更新): open and no progress reported for more than ``days`` days, counting from the row's
    creation if it was never reported on. Reported (or created) exactly ``days`` days ago is not stale yet."""
    cutoff = stale_cutoff(today, days)
    return open_q(prefix) & (
        Q(**{f"{prefix}last_progress_on__lt": cutoff})
        | Q(**{f"{prefix}last_progress_on__isnull": True, f"{prefix}created_at__date__lt": cutoff})
    )


def overdue_on_q(day: datetime.date, prefix: str = "") -> Q:
    """Overdue on a past ``day``, as the history tells it (the dashboard's weekly chart): live, past the deadline on
    ``day`` and not completed before ``day`` (no completion date, or on or after ``day``).

    It asks the completion date rather than the status, so it can be asked of any day. On today it counts the rows
    :func:`overdue_q` counts, and also those completed today.
    """
    not_completed = Q(**{f"{prefix}completed_on__isnull": True}) | Q(**{f"{prefix}completed_on__gte": day})
    return live_q(prefix) & past_deadline_q(day, prefix) & not_completed


class TaskQuerySet(models.QuerySet):
    paths = AreaPaths(
        district="plan__village__township__district", township="plan__village__township", village="plan__village"
    )

    def visible_to(self, user):
        return self.filter(area_q(user, self.paths))

    def editable_by(self, user):
        return self.filter(area_q(user, self.paths, write=True))

    def live(self):
        """Rows of the plan: those not withdrawn (:func:`live_q`)."""
        return self.filter(live_q())

    def open(self):
        """Live and not done (:func:`open_q`)."""
        return self.filter(open_q())

    def overdue(self, today: datetime.date):
        """Past the deadline and not complete (:func:`overdue_q`)."""
        return self.filter(overdue_q(today))

    def due_within(self, today: datetime.date, days: int):
        """Not complete, deadline from today to ``days`` days ahead (:func:`due_within_q`)."""
        return self.filter(due_within_q(today, days))

    def stale(self, today: datetime.date, days: int):
        """Not complete, no progress reported for ``days`` days, counting from creation if never (:func:`stale_q`)."""
        return self.filter(stale_q(today, days))

    def village_rows(self):
        return self.filter(household__isnull=True)

    def household_rows(self):
        return self.filter(household__isnull=False)


class Task(models.Model):
    """One row of the one table: what is to be done, by when, with what money, by whom, and how far it is."""

    class Status(models.TextChoices):
        NOT_STARTED = "not_started", _("未启动")
        IN_PROGRESS = "in_progress", _("进行中")
        DONE = "done", _("已完成")
        ACCEPTED = "accepted", _("已验收")

    DONE_STATUSES = (Status.DONE, Status.ACCEPTED)

    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="tasks", verbose_name=_("施工图"))
    household = models.ForeignKey(
        Household,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="tasks",
        verbose_name=_("户"),
        help_text=_("一户一策的任务填写所属户；一村一案的任务留空。"),
    )
    category = models.CharField(_("类别"), max_length=20, choices=Category.choices)
    item = models.CharField(_("项目"), max_length=200)
    quantity = models.DecimalField(
        _("数量"), max_digits=12, decimal_places=2, null=True, blank=True, validators=[not_negative("数量")]
    )
    unit = models.CharField(_("单位"), max_length=20, blank=True)
    deadline = models.DateField(_("完成时限"))
    deadline_text = models.CharField(_("时限原文"), max_length=50, blank=True, help_text=_("如“8月底前”。"))
    planned_funds = wan_field(_("计划资金（万元）"), "计划资金")
    invested_funds = wan_field(_("已投入资金（万元）"), "已投入资金")
    responsible_unit = models.CharField(_("责任单位"), max_length=100, blank=True)
    responsible_person = models.CharField(_("责任人"), max_length=50, blank=True)
    responsible_phone = models.CharField(_("联系电话"), max_length=20, blank=True)
    responsible_email = models.EmailField(_("电子邮箱"), blank=True, help_text=_("逾期提醒发到此邮箱。"))
    status = models.CharField(_("状态"), max_length=12, choices=Status.choices, default=Status.NOT_STARTED)
    progress = models.PositiveSmallIntegerField(_("进度（%）"), default=0, validators=PROGRESS_VALIDATORS)
    completed_on = models.DateField(_("完成日期"), null=True, blank=True)
    last_progress_on = models.DateField(_("最近进度日期"), null=True, blank=True, editable=False)
    is_removed = models.BooleanField(_("已撤销"), default=False)
    removed_reason = models.TextField(_("撤销原因"), blank=True)

    version = models.PositiveIntegerField(_("版本"), default=1, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("创建人"),
        editable=False,
    )
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    objects = TaskQuerySet.as_manager()
    history = HistoricalRecords(excluded_fields=["created_at", "updated_at"])

    class Meta:
        verbose_name = _("施工图任务")
        verbose_name_plural = _("施工图任务")
        ordering = ["plan", "household", "deadline", "id"]
        indexes = [
            # Overdue and due-soon questions: open rows by deadline (a small partial index).
            models.Index(
                fields=["deadline", "id"], condition=~Q(status__in=["done", "accepted"]), name="task_open_deadline_idx"
            ),
            # A village's table and its totals: rows of a plan by status, with the funds and deadline.
            models.Index(fields=["plan", "status", "planned_funds", "deadline"], name="task_plan_status_idx"),
            # The supervisors' queue filtered by responsible person.
            models.Index(fields=["responsible_person"], name="task_responsible_idx"),
        ]
        constraints = [
            check("task_planned_funds_nonneg", Q(planned_funds__gte=0), "计划资金不能为负数。"),
            check("task_invested_funds_nonneg", Q(invested_funds__gte=0), "已投入资金不能为负数。"),
            check(
                "task_invested_within_planned",
                Q(invested_funds__lte=F("planned_funds")),
                "已投入资金不能超过计划资金。",
            ),
            check("task_progress_0_100", Q(progress__gte=0, progress__lte=100), "进度应在 0–100 之间。"),
            check("task_quantity_nonneg", Q(quantity__isnull=True) | Q(quantity__gte=0), "数量不能为负数。"),
            check(
                "task_done_is_complete",
                ~Q(status__in=["done", "accepted"]) | Q(progress=100, completed_on__isnull=False),
                "已完成的任务进度应为 100%，并填写完成日期。",
            ),
            check(
                "task_completed_on_only_when_done",
                Q(completed_on__isnull=True) | Q(status__in=["done", "accepted"]),
                "未完成的任务不能有完成日期。",
            ),
            check(
                "task_not_started_has_no_progress", ~Q(status="not_started") | Q(progress=0), "未启动的任务进度应为 0。"
            ),
            check("task_removed_has_reason", Q(is_removed=False) | ~Q(removed_reason=""), "撤销任务须说明原因。"),
        ]

    def __str__(self):
        return self.item

    def clean(self):
        errors = {}
        if (
            self.invested_funds is not None
            and self.planned_funds is not None
            and self.invested_funds > self.planned_funds
        ):
            errors["invested_funds"] = _("已投入资金不能超过计划资金。")
        if is_done_status(self.status):
            if self.progress != 100:
                errors["progress"] = _("已完成的任务进度应为 100%。")
            if not self.completed_on:
                errors["completed_on"] = _("已完成的任务须填写完成日期。")
        elif self.completed_on:
            errors["completed_on"] = _("未完成的任务不能有完成日期。")
        if self.status == self.Status.NOT_STARTED and self.progress:
            errors["progress"] = _("未启动的任务进度应为 0。")
        if self.household_id and self.plan_id and self.household.village_id != self.plan.village_id:
            errors["household"] = _("该户不属于本施工图所在的村。")
        if self.is_removed and not self.removed_reason.strip():
            errors["removed_reason"] = _("撤销任务须说明原因。")
        if errors:
            raise ValidationError(errors)

    @property
    def is_household_task(self) -> bool:
        return self.household_id is not None

    def get_kind_display(self) -> str:
        return str(_("一户一策") if self.is_household_task else _("一村一案"))

    @property
    def is_done(self) -> bool:
        """Done (:func:`done_q`)."""
        return is_done_status(self.status)

    def is_overdue(self, today: datetime.date) -> bool:
        """Overdue on ``today`` (:func:`overdue_q`)."""
        return is_overdue_values(status=self.status, deadline=self.deadline, is_removed=self.is_removed, today=today)


class FundLine(models.Model):
    """The part of a task's planned funds that comes from one source (万元)."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="fund_lines", verbose_name=_("任务"))
    source = models.CharField(_("资金来源"), max_length=12, choices=FundSource.choices)
    amount = wan_field(_("金额（万元）"), "资金金额")

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("资金来源明细")
        verbose_name_plural = _("资金来源明细")
        ordering = ["task", "source"]
        constraints = [
            unique("fund_line_one_per_source", ["task", "source"], "同一任务的资金来源不能重复。"),
            check("fund_line_amount_nonneg", Q(amount__gte=0), "资金金额不能为负数。"),
        ]

    def __str__(self):
        return f"{self.get_source_display()} {self.amount}万元"


class ProgressUpdate(models.Model):
    """A report of progress on a task, with a note and evidence."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="progress_updates", verbose_name=_("任务"))
    reported_on = models.DateField(_("填报日期"))
    progress = models.PositiveSmallIntegerField(_("进度（%）"), validators=PROGRESS_VALIDATORS)
    status = models.CharField(_("状态"), max_length=12, choices=Task.Status.choices)
    invested_funds = wan_field(_("累计投入（万元）"), "投入资金")
    note = models.TextField(_("进展说明"), blank=True)
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("填报人"),
    )
    created_at = models.DateTimeField(_("填报时间"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("进度填报")
        verbose_name_plural = _("进度填报")
        ordering = ["task", "-reported_on", "-id"]
        indexes = [
            # A task's progress timeline, newest first.
            models.Index(fields=["task", "-reported_on"], name="progress_task_date_idx"),
        ]
        constraints = [
            check("progress_update_0_100", Q(progress__gte=0, progress__lte=100), "进度应在 0–100 之间。"),
            check("progress_update_invested_nonneg", Q(invested_funds__gte=0), "投入资金不能为负数。"),
        ]

    def __str__(self):
        return f"{self.task} {self.reported_on} {self.progress}%"


class Evidence(models.Model):
    """An uploaded file (photo or PDF) that proves what a record says."""

    file = models.FileField(_("文件"), upload_to="evidence/%Y/%m/")
    original_name = models.CharField(_("原文件名"), max_length=255)
    content_type = models.CharField(_("文件类型"), max_length=100)
    size = models.PositiveIntegerField(_("大小（字节）"))
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("上传人"),
    )
    uploaded_at = models.DateTimeField(_("上传时间"), default=timezone.now, editable=False)

    class Meta:
        abstract = True

    def __str__(self):
        return self.original_name


class ProgressEvidence(Evidence):
    update = models.ForeignKey(
        ProgressUpdate, on_delete=models.CASCADE, related_name="evidence", verbose_name=_("进度填报")
    )

    class Meta:
        verbose_name = _("进度佐证材料")
        verbose_name_plural = _("进度佐证材料")
