"""The plan table (施工图): one plan per village and year, one row per task, fund-source lines, progress."""

import datetime
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Count, Exists, F, OuterRef, Q, Window
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from bazhou.core import dates
from bazhou.core.access import AreaPaths, area_q, may_decide_change_requests, progress_q
from bazhou.core.constraints import at_most, check, not_negative, unique
from bazhou.core.text import is_blank, text_errors
from households.models import Household
from villages.models import YEAR_VALIDATORS, Township, Village


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

    def years(self) -> list[int]:
        """The distinct plan years among these plans, newest first (1 query): what a year selector offers
        (with the current year: ``offered_years``)."""
        return list(self.order_by("-year").values_list("year", flat=True).distinct())

    def offered_years(self, current: int) -> list[int]:
        """The years a page's year selector offers: the plan years of these plans and ``current`` (the current
        year, offered even before its first plan), newest first (1 query)."""
        return sorted({*self.years(), current}, reverse=True)


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


def past_deadline_q(day: datetime.date, prefix: str = "", field: str = "deadline") -> Q:
    """The deadline (``field``: an escalation's is ``respond_by``) is before ``day``. A row becomes late the day
    after its deadline: on the deadline day itself it is not late yet. The one deadline comparison of the product."""
    return Q(**{f"{prefix}{field}__lt": day})


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


def baseline_overdue_q(today: datetime.date, prefix: str = "") -> Q:
    """Overdue against the original deadline (原定逾期 / 延期完成) on ``today``: live, the approved baseline deadline
    (原定完成时限) is before ``today`` and the row was not completed by it (not completed, or completed after it),
    whatever its current deadline says. A row of a draft plan (no baseline) never is. On the baseline deadline day
    itself a row is not late yet; completed on that day it never is."""
    not_completed_by = Q(**{f"{prefix}completed_on__isnull": True}) | Q(
        **{f"{prefix}completed_on__gt": F(f"{prefix}baseline_deadline")}
    )
    return live_q(prefix) & Q(**{f"{prefix}baseline_deadline__lt": today}) & not_completed_by


def is_baseline_overdue_values(
    *,
    baseline_deadline: datetime.date | None,
    completed_on: datetime.date | None,
    is_removed: bool,
    today: datetime.date,
) -> bool:
    """The Python twin of :func:`baseline_overdue_q`, for rows read as values."""
    if is_removed or baseline_deadline is None or not is_past_deadline(baseline_deadline, today):
        return False
    return completed_on is None or completed_on > baseline_deadline


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


# ---------------------------------------------------------------------------------------------
# Duplicate projects (避免重复): the same item planned twice for one village, or one household, in a year.
#
# Two rows are the same item when they are live, of the same year, the same village, the same household (or both
# village rows), the same category, and their names have the same :func:`item_key` (stored on each row as
# ``Task.item_key``). :func:`same_item_q` asks it in the database, :func:`duplicate_key` is its Python twin (rows not
# saved yet: the task form, the Excel import preview), ``Task.objects.duplicate_groups`` the report's question. A
# duplicate is a warning the user confirms, never a refusal.
# ---------------------------------------------------------------------------------------------

# Unicode categories dropped from names: punctuation (P*), separators such as spaces (Z*), control and invisible
# format characters such as the zero-width space (C*).
_ITEM_KEY_DROP = ("P", "Z", "C")


def item_key(item: str) -> str:
    """The normalised name of a plan item, for telling duplicates.

    NFKC (full-width letters, digits and brackets become half-width, ㎡ becomes m2), case-folded, without whitespace,
    punctuation or invisible characters. So “村文化室建设”, “村 文化室建设”, “村文化室建设。” and “村文化室建设\u200b”
    are one item, “村文化室（一期）” and “村文化室(一期)” are one item, “ＡＢ路” and “ab路” are one item; but “一期” and
    “二期”, or “通村硬化路” and “通组硬化路”, stay two. Chinese characters are kept as they are (no traditional →
    simplified mapping, no synonyms).
    """
    text = unicodedata.normalize("NFKC", item or "").casefold()
    return "".join(ch for ch in text if unicodedata.category(ch)[0] not in _ITEM_KEY_DROP)


def same_item_q(
    *, year: int, village_id: int, household_id: int | None, category: str, item: str, prefix: str = ""
) -> Q:
    """Live rows that are the same item as ``item``: the plan of ``year`` of the village, the same household (village
    rows when ``household_id`` is None), the same category, the same :func:`item_key`. A name with nothing left after
    normalising matches nothing."""
    key = item_key(item)
    if not key:
        return Q(pk__in=[])
    return live_q(prefix) & Q(
        **{
            f"{prefix}plan__year": year,
            f"{prefix}plan__village_id": village_id,
            f"{prefix}household_id": household_id,
            f"{prefix}category": category,
            f"{prefix}item_key": key,
        }
    )


def duplicate_key(*, year: int, village_id: int, household_id: int | None, category: str, item: str):
    """What makes two rows the same item (the Python twin of :func:`same_item_q` with :func:`item_key`); None for a
    name with nothing left after normalising, which is never a duplicate."""
    key = item_key(item)
    return (year, village_id, household_id, category, key) if key else None


def duplicate_groups(rows: Iterable[Mapping]) -> list[list[Mapping]]:
    """The groups of two or more rows that are the same item, in the order their first rows come.

    Each row is a mapping with ``year``, ``village_id``, ``household_id``, ``category`` and ``item`` (live rows only:
    the caller filters with :func:`live_q`)."""
    groups: dict[tuple, list[Mapping]] = defaultdict(list)
    for row in rows:
        key = duplicate_key(
            year=row["year"],
            village_id=row["village_id"],
            household_id=row["household_id"],
            category=row["category"],
            item=row["item"],
        )
        if key is not None:
            groups[key].append(row)
    return [group for group in groups.values() if len(group) > 1]


class TaskQuerySet(models.QuerySet):
    paths = AreaPaths(
        district="plan__village__township__district",
        township="plan__village__township",
        village="plan__village",
        department="department",
    )

    def visible_to(self, user):
        return self.filter(area_q(user, self.paths))

    def editable_by(self, user):
        return self.filter(area_q(user, self.paths, write=True))

    def reportable_by(self, user):
        """The rows whose progress ``user`` may report (:func:`bazhou.core.access.progress_q`): those they may
        change, and a department's user their department's."""
        return self.filter(progress_q(user, self.paths))

    def live(self):
        """Rows of the plan: those not withdrawn (:func:`live_q`)."""
        return self.filter(live_q())

    def open(self):
        """Live and not done (:func:`open_q`)."""
        return self.filter(open_q())

    def overdue(self, today: datetime.date):
        """Past the deadline and not complete (:func:`overdue_q`)."""
        return self.filter(overdue_q(today))

    def baseline_overdue(self, today: datetime.date):
        """Overdue against the original deadline (:func:`baseline_overdue_q`)."""
        return self.filter(baseline_overdue_q(today))

    def due_within(self, today: datetime.date, days: int):
        """Not complete, deadline from today to ``days`` days ahead (:func:`due_within_q`)."""
        return self.filter(due_within_q(today, days))

    def stale(self, today: datetime.date, days: int):
        """Not complete, no progress reported for ``days`` days, counting from creation if never (:func:`stale_q`)."""
        return self.filter(stale_q(today, days))

    def with_carry(self):
        """Each row with ``carried_live`` (a live row of a later plan is carried from it) and ``carry_pending`` (a
        pending change request would add one): :func:`carried_live_exists`, :func:`carry_pending_exists`."""
        return self.annotate(carried_live=carried_live_exists(), carry_pending=carry_pending_exists())

    def carryable(self):
        """The rows a rollover (结转, tasks.rollover) carries into next year's plan: unfinished (:func:`open_q`: live
        and not done; withdrawn rows never carry) and not carried yet (:func:`carried_q`). One query."""
        return self.filter(carryable_q())

    def bulk_create(self, objs, *args, **kwargs):
        """Keeps each row's ``item_key`` the normalised ``item``, as ``Task.save`` does (imports, the demo)."""
        objs = list(objs)
        for obj in objs:
            obj.item_key = item_key(obj.item)
        return super().bulk_create(objs, *args, **kwargs)

    def village_rows(self):
        return self.filter(household__isnull=True)

    def household_rows(self):
        return self.filter(household__isnull=False)

    def duplicates_of(
        self, *, year: int, village_id: int, household_id: int | None, category: str, item: str, exclude_pk=None
    ) -> list["Task"]:
        """The live rows that are the same item as the one described (:func:`same_item_q`), other than
        ``exclude_pk`` (the row being edited), with their households: one query."""
        rows = self.filter(
            same_item_q(year=year, village_id=village_id, household_id=household_id, category=category, item=item)
        ).select_related("household")
        if exclude_pk is not None:
            rows = rows.exclude(pk=exclude_pk)
        return list(rows.order_by("id"))

    def duplicate_groups(self, year: int) -> list[list[dict]]:
        """The live rows of ``year`` planned more than once (:func:`same_item_q`: same plan, household, category and
        normalised item), grouped, as values with the village, township and household to show. One query: the
        database counts each row's group (a window) and returns only the rows of groups of two or more. Narrow the
        queryset first (``visible_to``): a plan is one village's, so a group is never split by the area."""
        group = [F("plan_id"), F("household_id"), F("category"), F("item_key")]
        rows = (
            self.filter(live_q(), plan__year=year)
            .exclude(item_key="")
            .annotate(same_item_rows=Window(Count("id"), partition_by=group))
            .filter(same_item_rows__gt=1)
            .order_by(
                "plan__village__township__code",
                "plan__village__code",
                "household__number",
                "category",
                "item_key",
                "id",
            )
            .values(
                "id",
                "item",
                "category",
                "household_id",
                "quantity",
                "unit",
                "deadline",
                "status",
                "plan_id",
                year=F("plan__year"),
                village_id=F("plan__village_id"),
                village_name=F("plan__village__name"),
                township_name=F("plan__village__township__name"),
                household_number=F("household__number"),
            )
        )
        return duplicate_groups(rows)


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
    # Derived from ``item`` on every save (``Task.save``, ``TaskQuerySet.bulk_create``): never typed in, no history.
    item_key = models.CharField(_("项目（规范化）"), max_length=200, default="", editable=False)
    quantity = models.DecimalField(
        _("数量"), max_digits=12, decimal_places=2, null=True, blank=True, validators=[not_negative("数量")]
    )
    unit = models.CharField(_("单位"), max_length=20, blank=True)
    deadline = models.DateField(_("完成时限"))
    deadline_text = models.CharField(_("时限原文"), max_length=50, blank=True, help_text=_("如“8月底前”。"))
    planned_funds = wan_field(_("计划资金（万元）"), "计划资金")
    invested_funds = wan_field(_("已投入资金（万元）"), "已投入资金")
    responsible_unit = models.CharField(_("责任单位"), max_length=100, blank=True)
    # The sector department the row belongs to (部门主帮), when ``responsible_unit`` names one
    # (villages.departments.match); its users see the row and report its progress. Units that name no department
    # (a township government, a village committee) keep their text and no department.
    department = models.ForeignKey(
        "villages.Department",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="tasks",
        verbose_name=_("责任部门"),
    )
    responsible_person = models.CharField(_("责任人"), max_length=50, blank=True)
    responsible_phone = models.CharField(_("联系电话"), max_length=20, blank=True)
    responsible_email = models.EmailField(_("电子邮箱"), blank=True, help_text=_("逾期提醒发到此邮箱。"))
    status = models.CharField(_("状态"), max_length=12, choices=Status.choices, default=Status.NOT_STARTED)
    progress = models.PositiveSmallIntegerField(_("进度（%）"), default=0, validators=PROGRESS_VALIDATORS)
    completed_on = models.DateField(_("完成日期"), null=True, blank=True)
    last_progress_on = models.DateField(_("最近进度日期"), null=True, blank=True, editable=False)
    is_removed = models.BooleanField(_("已撤销"), default=False)
    removed_reason = models.TextField(_("撤销原因"), blank=True)
    # The approved baseline (原定): what the plan said when it was approved (or when an approved change request
    # added the row). Empty while the plan is a draft. Only tasks.services.set_baseline writes it; a change request
    # moves the current values, never these, so a moved deadline never hides that it slipped.
    baseline_deadline = models.DateField(_("原定完成时限"), null=True, blank=True, editable=False)
    baseline_planned_funds = models.DecimalField(
        _("原定计划资金（万元）"), max_digits=14, decimal_places=4, null=True, blank=True, editable=False
    )
    baseline_quantity = models.DecimalField(
        _("原定数量"), max_digits=12, decimal_places=2, null=True, blank=True, editable=False
    )
    change_count = models.PositiveIntegerField(
        _("变更次数"), default=0, editable=False, help_text=_("批准后经批准的变更申请次数。")
    )

    version = models.PositiveIntegerField(_("版本"), default=1, editable=False)
    # A row added by an Excel import without 编号: a digest of where and what it is (year, village, household,
    # category, normalised item, and which such row of the file it is) — tasks.imports.new_row_key. Importing a file
    # again finds the row by it instead of adding it twice. Empty for rows added otherwise; no history.
    import_key = models.CharField(_("导入标识"), max_length=64, default="", blank=True, editable=False)
    # Rollover (结转, tasks.rollover): the unfinished row of an earlier year's plan of the same village this row was
    # carried from, and why. A row is carried at most once among live rows (task_carried_once).
    carried_from = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="carried_to",
        verbose_name=_("结转自"),
        editable=False,
    )
    carry_reason = models.TextField(_("结转原因"), blank=True, editable=False)
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
    history = HistoricalRecords(excluded_fields=["created_at", "updated_at", "item_key", "import_key"])

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
            # Duplicate projects (same_item_q): a plan's rows by category and normalised item.
            models.Index(fields=["plan", "category", "item_key"], name="task_same_item_idx"),
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
            unique(
                "task_import_key_unique",
                ["import_key"],
                "该行已经导入过。",
                condition=~Q(import_key=""),
            ),
            unique(
                "task_carried_once",
                ["carried_from"],
                "该任务已结转过，不能重复结转。",
                condition=Q(carried_from__isnull=False) & live_q(),
            ),
            check(
                "task_carried_has_reason",
                Q(carried_from__isnull=True) | ~Q(carry_reason=""),
                "结转的任务须说明结转原因。",
            ),
        ]

    def __str__(self):
        return self.item

    def save(self, *args, **kwargs):
        """Keeps ``item_key`` the normalised ``item`` (:func:`item_key`)."""
        self.item_key = item_key(self.item)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "item" in update_fields and "item_key" not in update_fields:
            kwargs["update_fields"] = [*update_fields, "item_key"]
        super().save(*args, **kwargs)

    def clean(self):
        errors = text_errors(self, required=("item",))
        year = self.plan.year if self.plan_id else None
        for name, error in (
            ("deadline", dates.plan_date_error(self.deadline, year, "完成时限")),
            ("completed_on", dates.done_date_error(self.completed_on, "完成日期", floor=dates.plan_floor(year))),
        ):
            if error:
                errors[name] = error
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
            errors.setdefault("completed_on", _("未完成的任务不能有完成日期。"))
        if self.status == self.Status.NOT_STARTED and self.progress:
            errors["progress"] = _("未启动的任务进度应为 0。")
        if self.household_id and self.plan_id and self.household.village_id != self.plan.village_id:
            errors["household"] = _("该户不属于本施工图所在的村。")
        if self.is_removed and is_blank(self.removed_reason):
            errors["removed_reason"] = _("撤销任务须说明原因。")
        if self.carried_from_id:
            errors.update(carry_errors(self.carried_from, self.plan if self.plan_id else None, self.carry_reason))
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

    def is_baseline_overdue(self, today: datetime.date) -> bool:
        """Overdue against the original deadline on ``today`` (:func:`baseline_overdue_q`)."""
        return is_baseline_overdue_values(
            baseline_deadline=self.baseline_deadline,
            completed_on=self.completed_on,
            is_removed=self.is_removed,
            today=today,
        )

    @property
    def deadline_moved(self) -> bool:
        """The current deadline differs from the approved baseline (原定完成时限)."""
        return self.baseline_deadline is not None and self.baseline_deadline != self.deadline


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

    def clean(self):
        errors = text_errors(self)
        if errors:
            raise ValidationError(errors)


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


# ---------------------------------------------------------------------------------------------
# Change requests (变更申请): once a plan is approved, its rows change only through an approved request.
# ---------------------------------------------------------------------------------------------


class ChangeRequestQuerySet(models.QuerySet):
    paths = AreaPaths(
        district="plan__village__township__district", township="plan__village__township", village="plan__village"
    )

    def visible_to(self, user):
        return self.filter(area_q(user, self.paths))

    def editable_by(self, user):
        return self.filter(area_q(user, self.paths, write=True))

    def decidable_by(self, user):
        """The requests ``user`` may approve or reject (:func:`bazhou.core.access.may_decide_change_requests`): those
        of the plans they may change, never their own. Pending or not: add ``.pending()``."""
        if not may_decide_change_requests(user):
            return self.none()
        return self.editable_by(user).exclude(requested_by=user)

    def pending(self):
        """Waiting for a decision (:func:`pending_q`)."""
        return self.filter(pending_q())

    def closed(self):
        """Approved, rejected or withdrawn: the change ledger (变更台账)."""
        return self.exclude(pending_q())


def pending_q(prefix: str = "") -> Q:
    """A change request waiting for a decision (待审批)."""
    return Q(**{f"{prefix}state": ChangeRequest.State.PENDING})


# ---------------------------------------------------------------------------------------------
# Rollover (结转, tasks.rollover): which rows are carried into a later year's plan, asked once here.
# ---------------------------------------------------------------------------------------------

CARRY_REASON_REQUIRED = "请填写结转原因。"
CARRY_LATER_YEAR = "结转后的任务所在施工图的年度（{year}年）须晚于原任务所在施工图的年度（{origin}年）。"
CARRY_SAME_VILLAGE = "只能结转到同一个村的施工图。"


def carried_live_exists(outer: str = "pk") -> Exists:
    """A live row (:func:`live_q`) is carried from the row ``outer`` names."""
    return Exists(Task.objects.filter(live_q(), carried_from=OuterRef(outer)))


def carry_pending_exists(outer: str = "pk") -> Exists:
    """A pending change request (:func:`pending_q`) would add a row carried from the row ``outer`` names."""
    return Exists(ChangeRequest.objects.filter(pending_q(), carried_from=OuterRef(outer)))


def carried_q() -> Q:
    """Carried (已结转): a live row of a later plan is carried from this row, or a pending change request (新增) would
    add one. Such a row is never carried again."""
    return Q(carried_live_exists()) | Q(carry_pending_exists())


def carryable_q() -> Q:
    """Carryable (可结转): unfinished (:func:`open_q`: live, not done) and not carried yet (:func:`carried_q`)."""
    return open_q() & ~carried_q()


def carry_errors(origin: "Task", plan: "Plan | None", reason: str) -> dict[str, str]:
    """What is wrong with carrying ``origin`` into ``plan`` with ``reason`` (by field; empty when nothing): the plan is
    the same village's and of a later year, and the reason is given. Task.clean and the rollover service ask it."""
    errors = {}
    if is_blank(reason):
        errors["carry_reason"] = CARRY_REASON_REQUIRED
    if plan is not None:
        if origin.plan.village_id != plan.village_id:
            errors["carried_from"] = CARRY_SAME_VILLAGE
        elif plan.year <= origin.plan.year:
            errors["carried_from"] = CARRY_LATER_YEAR.format(year=plan.year, origin=origin.plan.year)
    return errors


# The fields of a row that are the plan (计划内容): on an approved plan only an approved request changes them (with
# the fund lines). Progress, status, invested funds and completion are facts reported directly; the responsible
# person's phone and e-mail are contact details, also changed directly.
PLAN_FIELDS = (
    "household",
    "category",
    "item",
    "quantity",
    "unit",
    "deadline",
    "deadline_text",
    "planned_funds",
    "responsible_unit",
    "responsible_person",
)


class ChangeRequest(models.Model):
    """A request to change, add or withdraw a row of an approved plan: the plan fields before and after, why, and
    who decided. ``before``/``after`` hold the row's :data:`PLAN_FIELDS` and ``fund_lines`` as JSON (dates and
    amounts as text, the household as its id)."""

    class Kind(models.TextChoices):
        CHANGE = "change", _("修改")
        ADD = "add", _("新增")
        REMOVE = "remove", _("撤销")

    class ReasonCategory(models.TextChoices):
        POLICY = "policy", _("政策调整")
        FUNDS = "funds", _("资金变化")
        DISASTER = "disaster", _("自然灾害")
        WISHES = "wishes", _("群众意愿")
        OTHER = "other", _("其他")

    class State(models.TextChoices):
        PENDING = "pending", _("待审批")
        APPROVED = "approved", _("已批准")
        REJECTED = "rejected", _("已驳回")
        WITHDRAWN = "withdrawn", _("已撤回")

    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="change_requests", verbose_name=_("施工图"))
    task = models.ForeignKey(
        Task,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="change_requests",
        verbose_name=_("任务"),
        help_text=_("新增任务的申请在批准前为空，批准后指向新增的任务。"),
    )
    kind = models.CharField(_("变更类型"), max_length=10, choices=Kind.choices)
    before = models.JSONField(_("变更前"), default=dict, blank=True)
    after = models.JSONField(_("变更后"), default=dict, blank=True)
    reason_category = models.CharField(_("变更原因类别"), max_length=10, choices=ReasonCategory.choices)
    reason = models.TextField(_("变更原因"))
    state = models.CharField(_("审批状态"), max_length=10, choices=State.choices, default=State.PENDING)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("申请人")
    )
    requested_at = models.DateTimeField(_("申请时间"), default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("审批人"),
    )
    decided_at = models.DateTimeField(_("审批时间"), null=True, blank=True)
    decision_note = models.TextField(_("审批意见"), blank=True)
    # A request (新增) made by a rollover (结转, tasks.rollover): the row of an earlier year it carries and why;
    # approving it creates the row with the same link (Task.carried_from / carry_reason).
    carried_from = models.ForeignKey(
        Task,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="carry_requests",
        verbose_name=_("结转自"),
        editable=False,
    )
    carry_reason = models.TextField(_("结转原因"), blank=True, editable=False)
    version = models.PositiveIntegerField(_("版本"), default=1, editable=False)

    objects = ChangeRequestQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("变更申请")
        verbose_name_plural = _("变更申请")
        ordering = ["-requested_at", "-id"]
        indexes = [
            # The approvers' pending list and the navigation count: pending requests, oldest first.
            models.Index(
                fields=["requested_at", "id"], condition=Q(state="pending"), name="change_request_pending_idx"
            ),
            # The change ledger: a plan's decided requests, newest first.
            models.Index(fields=["plan", "state", "-decided_at"], name="change_request_ledger_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["task"],
                condition=Q(state="pending"),
                name="change_request_one_pending_per_row",
                violation_error_message="该任务已有一项待审批的变更申请，请等待审批或先撤回。",
            ),
            check(
                "change_request_row_unless_add",
                Q(kind="add") | Q(task__isnull=False),
                "修改或撤销的申请须指明任务。",
            ),
            check(
                "change_request_decided_has_time",
                Q(state="pending") | Q(decided_at__isnull=False),
                "已处理的变更申请须有处理时间。",
            ),
            check(
                "change_request_rejected_has_note",
                ~Q(state="rejected") | ~Q(decision_note=""),
                "驳回变更申请须填写意见。",
            ),
            check("change_request_has_reason", ~Q(reason=""), "变更申请须说明原因。"),
            check(
                "change_request_carry_is_add",
                Q(carried_from__isnull=True) | (Q(kind="add") & ~Q(carry_reason="")),
                "结转只能是新增任务的申请，并须说明结转原因。",
            ),
            unique(
                "change_request_one_pending_carry",
                ["carried_from"],
                "该任务已有一项待审批的结转申请。",
                condition=Q(state="pending", carried_from__isnull=False),
            ),
        ]

    def __str__(self):
        return f"变更申请 #{self.pk}（{self.get_kind_display()}）"

    @property
    def is_pending(self) -> bool:
        return self.state == self.State.PENDING


class ChangeRequestEvidence(Evidence):
    """An attachment of a change request (the approving document, photos of the damage …)."""

    request = models.ForeignKey(
        ChangeRequest, on_delete=models.CASCADE, related_name="attachments", verbose_name=_("变更申请")
    )

    class Meta:
        verbose_name = _("变更申请附件")
        verbose_name_plural = _("变更申请附件")


# ---------------------------------------------------------------------------------------------
# Staged uploads: photos kept across a progress form that came back with an error
# ---------------------------------------------------------------------------------------------


class StagedUpload(models.Model):
    """A photo or PDF chosen on a progress form that came back with an error (a typo in the money, a conflict),
    kept on the server so the person does not have to choose it again on a weak signal (tasks.staging).

    Only its owner can attach it (``tasks.staging.claim`` looks them up by ``user``); it becomes a
    ``ProgressEvidence`` when the report is saved, and is deleted with its file then, or after
    ``tasks.staging.KEEP_HOURS`` hours (``manage.py clean_staged_uploads``, and each time the owner stages again).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("上传人")
    )
    file = models.FileField(_("文件"), upload_to="staged/%Y/%m/")
    original_name = models.CharField(_("原文件名"), max_length=255)
    content_type = models.CharField(_("文件类型"), max_length=100)
    size = models.PositiveIntegerField(_("大小（字节）"))
    created_at = models.DateTimeField(_("上传时间"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("暂存的佐证材料")
        verbose_name_plural = _("暂存的佐证材料")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["created_at"], name="staged_upload_created_idx")]

    def __str__(self):
        return self.original_name


# ---------------------------------------------------------------------------------------------
# Summary figures kept by the writes (tasks/summaries.py, bazhou/core/summaries.py)
# ---------------------------------------------------------------------------------------------


class PlanFigures(models.Model):
    """The figures of one village's live plan rows of one year that the dashboard adds up: rows by state (overdue
    and due soon as of the day the figures are of), funds, and the rows overdue at the end of each of the last 12
    weeks. Kept by the writes in the writing transaction (tasks/summaries.py); never edited by hand.

    A row is a village's (``village`` set) or a township's (``village`` empty, ``township`` set: its villages' rows
    added up, what the district's dashboard reads instead of thousands of village rows)."""

    village = models.ForeignKey(Village, on_delete=models.CASCADE, null=True, related_name="+", verbose_name=_("村"))
    township = models.ForeignKey(
        Township, on_delete=models.CASCADE, null=True, related_name="+", verbose_name=_("乡镇"), db_index=False
    )
    year = models.PositiveSmallIntegerField(_("计划年度"))
    total = models.PositiveIntegerField(_("任务"), default=0)
    done = models.PositiveIntegerField(_("已完成"), default=0)
    in_progress = models.PositiveIntegerField(_("进行中"), default=0)
    overdue = models.PositiveIntegerField(_("已逾期"), default=0)
    baseline_overdue = models.PositiveIntegerField(_("原定逾期"), default=0)
    due_soon = models.PositiveIntegerField(_("临期"), default=0)
    planned = models.DecimalField(_("计划资金（万元）"), max_digits=18, decimal_places=4, default=0)
    invested = models.DecimalField(_("已投入资金（万元）"), max_digits=18, decimal_places=4, default=0)
    # Overdue at the end of each of the last 12 weeks, oldest first (w11 is the day itself).
    w0 = models.PositiveIntegerField(default=0)
    w1 = models.PositiveIntegerField(default=0)
    w2 = models.PositiveIntegerField(default=0)
    w3 = models.PositiveIntegerField(default=0)
    w4 = models.PositiveIntegerField(default=0)
    w5 = models.PositiveIntegerField(default=0)
    w6 = models.PositiveIntegerField(default=0)
    w7 = models.PositiveIntegerField(default=0)
    w8 = models.PositiveIntegerField(default=0)
    w9 = models.PositiveIntegerField(default=0)
    w10 = models.PositiveIntegerField(default=0)
    w11 = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("施工图汇总数")
        verbose_name_plural = _("施工图汇总数")
        constraints = [
            models.UniqueConstraint(fields=["village", "year"], name="planfigures_village_year"),
            models.UniqueConstraint(
                fields=["township", "year"], condition=Q(village__isnull=True), name="planfigures_township_year"
            ),
            check(
                "planfigures_village_or_township",
                Q(village__isnull=False) | Q(township__isnull=False),
                "村或乡镇必填其一。",
            ),
        ]
        indexes = [models.Index(fields=["year", "village"], name="planfigures_year_village_idx")]

    def __str__(self):
        return f"{self.village_id} {self.year}"


class PlanBreakdown(models.Model):
    """One village's live plan rows of one year split by category (planned, invested), by fund source (planned,
    invested shared out by the source's part of each row's planned funds) or by category and unit (the quantity of
    the done rows, for the quantity goals). Kept with :class:`PlanFigures`; a township's rows (``village`` empty) add
    up its villages'."""

    class Kind(models.TextChoices):
        CATEGORY = "category", _("按类别")
        SOURCE = "source", _("按资金来源")
        QUANTITY = "quantity", _("已完成数量")

    village = models.ForeignKey(Village, on_delete=models.CASCADE, null=True, related_name="+", verbose_name=_("村"))
    township = models.ForeignKey(
        Township, on_delete=models.CASCADE, null=True, related_name="+", verbose_name=_("乡镇"), db_index=False
    )
    year = models.PositiveSmallIntegerField(_("计划年度"))
    kind = models.CharField(_("分项"), max_length=8, choices=Kind.choices)
    category = models.CharField(_("类别"), max_length=20, blank=True)
    source = models.CharField(_("资金来源"), max_length=12, blank=True)
    unit = models.CharField(_("单位"), max_length=20, blank=True)
    planned = models.DecimalField(_("计划资金（万元）"), max_digits=18, decimal_places=4, default=0)
    invested = models.DecimalField(_("已投入资金（万元）"), max_digits=24, decimal_places=10, default=0)
    quantity = models.DecimalField(_("数量"), max_digits=18, decimal_places=2, null=True, blank=True)

    class Meta:
        verbose_name = _("施工图汇总分项")
        verbose_name_plural = _("施工图汇总分项")
        indexes = [
            models.Index(fields=["year", "kind", "village"], name="planbreakdown_year_kind_idx"),
            models.Index(
                fields=["year", "kind", "township"],
                condition=Q(village__isnull=True),
                name="planbreakdown_township_idx",
            ),
        ]
        constraints = [
            check(
                "planbreakdown_village_or_township",
                Q(village__isnull=False) | Q(township__isnull=False),
                "村或乡镇必填其一。",
            ),
        ]

    def __str__(self):
        return f"{self.village_id} {self.year} {self.kind}"
