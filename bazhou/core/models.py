"""The user (with a role and an area), the district's annual goals, the export log, data versions, API tokens and
uploaded workbooks awaiting confirmation."""

import datetime

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from bazhou.core.constraints import check, not_negative, unique


class Role(models.TextChoices):
    DISTRICT_ADMIN = "district_admin", _("区级管理员")
    TOWNSHIP_STAFF = "township_staff", _("乡镇工作人员")
    VILLAGE_CADRE = "village_cadre", _("村干部（第一书记）")
    SUPERVISOR = "supervisor", _("督查人员")
    LEADER = "leader", _("区级领导")
    PATCH_LEADER = "patch_leader", _("区级挂包领导")
    DEPARTMENT = "department", _("行业部门")
    INFORMANT = "informant", _("村督查信息员")
    OVERSIGHT = "oversight", _("人大/政协督导")
    DISCIPLINE = "discipline", _("区纪委")


# The area level each role is scoped to; a leader may be scoped to any one level. A 挂包 leader belongs to the
# district and reads the townships and villages of their charge (``User.charge_townships``/``charge_villages``);
# a department's users belong to the district and read their department's rows (``User.department``).
ROLE_AREA = {
    Role.DISTRICT_ADMIN: "district",
    Role.SUPERVISOR: "district",
    Role.TOWNSHIP_STAFF: "township",
    Role.VILLAGE_CADRE: "village",
    Role.PATCH_LEADER: "district",
    Role.DEPARTMENT: "district",
    Role.INFORMANT: "village",
    Role.OVERSIGHT: "district",
    Role.DISCIPLINE: "district",
}

_ONLY_DISTRICT = Q(district__isnull=False, township__isnull=True, village__isnull=True)
_ONLY_TOWNSHIP = Q(district__isnull=True, township__isnull=False, village__isnull=True)
_ONLY_VILLAGE = Q(district__isnull=True, township__isnull=True, village__isnull=False)


class User(AbstractUser):
    """A person who signs in. Their role says what they may do, their area where."""

    name = models.CharField(_("姓名"), max_length=50, blank=True)
    role = models.CharField(_("角色"), max_length=20, choices=Role.choices, blank=True)
    district = models.ForeignKey(
        "villages.District",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="users",
        verbose_name=_("所属区县"),
    )
    township = models.ForeignKey(
        "villages.Township",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="users",
        verbose_name=_("所属乡镇"),
    )
    village = models.ForeignKey(
        "villages.Village",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="users",
        verbose_name=_("所属村"),
    )
    phone = models.CharField(_("联系电话"), max_length=20, blank=True)
    department = models.ForeignKey(
        "villages.Department",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="users",
        verbose_name=_("所属行业部门"),
        help_text=_("行业部门的用户必填：只能查看并填报本部门负责的任务。"),
    )
    # 分片挂包: the townships and villages a 挂包 leader is responsible for (their dashboard, queue, digest and the
    # escalations they answer). Read through ``bazhou.core.access.charge_of``.
    charge_townships = models.ManyToManyField(
        "villages.Township", blank=True, related_name="charge_leaders", verbose_name=_("挂包乡镇")
    )
    charge_villages = models.ManyToManyField(
        "villages.Village", blank=True, related_name="charge_leaders", verbose_name=_("挂包村")
    )

    objects = UserManager()

    class Meta:
        verbose_name = _("用户")
        verbose_name_plural = _("用户")
        constraints = [
            check(
                "user_area_matches_role",
                Q(is_superuser=True, role="")
                | Q(role__in=["district_admin", "supervisor", "patch_leader", "oversight", "discipline"])
                & _ONLY_DISTRICT
                | Q(role="department") & _ONLY_DISTRICT
                | Q(role="township_staff") & _ONLY_TOWNSHIP
                | Q(role__in=["village_cadre", "informant"]) & _ONLY_VILLAGE
                | Q(role="leader") & (_ONLY_DISTRICT | _ONLY_TOWNSHIP | _ONLY_VILLAGE),
                "角色与所属区域不符：区级管理员、督查人员、挂包领导、行业部门、人大/政协督导和纪委属区县，"
                "乡镇工作人员属乡镇，村干部和村督查信息员属村，领导属其中一级。",
            ),
            check(
                "user_department_matches_role",
                Q(role="department", department__isnull=False) | ~Q(role="department") & Q(department__isnull=True),
                "行业部门的用户须选择所属部门，其他角色不选部门。",
            ),
        ]

    def __str__(self):
        return self.name or self.username

    def clean(self):
        super().clean()
        if self.is_superuser and not self.role:
            return
        if not self.role:
            raise ValidationError({"role": _("请选择角色。")})
        set_levels = [lvl for lvl in ("district", "township", "village") if getattr(self, f"{lvl}_id")]
        wanted = ROLE_AREA.get(self.role)
        labels = {"district": _("区县"), "township": _("乡镇"), "village": _("村")}
        if wanted and set_levels != [wanted]:
            raise ValidationError(
                {
                    wanted: _("%(role)s须且只须选择所属%(level)s。")
                    % {"role": self.get_role_display(), "level": labels[wanted]}
                }
            )
        if not wanted and len(set_levels) != 1:
            raise ValidationError(_("区级领导须且只须选择一个所属区域（区县、乡镇或村）。"))
        if self.role == Role.DEPARTMENT and not self.department_id:
            raise ValidationError({"department": _("行业部门的用户须选择所属部门。")})
        if self.role != Role.DEPARTMENT and self.department_id:
            raise ValidationError({"department": _("只有行业部门的用户选择所属部门。")})
        if self.department_id and self.district_id and self.department.district_id != self.district_id:
            raise ValidationError({"department": _("所属部门须是本区县的部门。")})

    @property
    def village_township_code(self) -> str | None:
        return self.village.township_id if self.village_id else None

    @property
    def area(self):
        return self.village or self.township or self.district


class AnnualGoal(models.Model):
    """A goal for a year (68 villages exit, 33,479 people, 230 km roads …) of the district, or of one township or one
    village (``township`` / ``village``: the dashboard of that area, and its landing page, show it as its own).

    ``metric`` says how the dashboard measures the actual figure; ``manual`` goals are filled in by hand, in the admin
    (数据维护›年度目标), by the unit ``reported_by`` names (the dashboard says so while the figure is missing).
    """

    class Metric(models.TextChoices):
        VILLAGES_EXITED = "villages_exited", _("贫困村退出数")
        PEOPLE_LIFTED = "people_lifted", _("脱贫人数")
        TASK_QUANTITY = "task_quantity", _("已完成任务数量合计")
        INCOME_RISE = "income_rise", _("贫困户人均纯收入增加（元）")
        INDUSTRY_COVERAGE = "industry_coverage", _("产业扶持覆盖贫困户（%）")
        BUSINESS_ENTITIES = "business_entities", _("新登记新型经营主体数")
        LAND_TRANSFER = "land_transfer", _("土地流转面积（亩）")
        LOW_RENT_HOUSING = "low_rent_housing", _("贫困户入住廉租房比例（%）")
        HOSPITAL_SHARE = "hospital_share", _("贫困患者区内住院自付比例（%）")
        JOB_FAIR_INTENTS = "job_fair_intents", _("招聘会签订就业意向人数")
        JOB_FAIR_ATTENDANCE = "job_fair_attendance", _("招聘会贫困求职者人数")
        MANUAL = "manual", _("手工填报")

    district = models.ForeignKey(
        "villages.District", on_delete=models.CASCADE, related_name="goals", verbose_name=_("区县")
    )
    township = models.ForeignKey(
        "villages.Township",
        on_delete=models.CASCADE,
        related_name="goals",
        verbose_name=_("乡镇"),
        null=True,
        blank=True,
        help_text=_("乡镇自己的目标才填；全区目标留空。"),
    )
    village = models.ForeignKey(
        "villages.Village",
        on_delete=models.CASCADE,
        related_name="goals",
        verbose_name=_("村"),
        null=True,
        blank=True,
        help_text=_("村自己的目标才填（不填乡镇）；全区、乡镇目标留空。"),
    )
    year = models.PositiveSmallIntegerField(_("年度"), validators=[MinValueValidator(2000)])
    name = models.CharField(_("目标"), max_length=100)
    target = models.DecimalField(_("目标值"), max_digits=14, decimal_places=2, validators=[not_negative("目标值")])
    unit = models.CharField(_("单位"), max_length=20)
    metric = models.CharField(_("统计口径"), max_length=20, choices=Metric.choices, default=Metric.MANUAL)
    task_category = models.CharField(
        _("任务类别"), max_length=20, blank=True, help_text=_("统计口径为“已完成任务数量合计”时，按此类别和单位合计。")
    )
    manual_actual = models.DecimalField(
        _("手工填报完成值"), max_digits=14, decimal_places=2, null=True, blank=True, validators=[not_negative("完成值")]
    )
    reported_by = models.CharField(
        _("填报单位"),
        max_length=50,
        blank=True,
        help_text=_("手工填报的目标由谁填报完成值（如“区农业农村局”）；不填则为区脱贫办。"),
    )
    is_ceiling = models.BooleanField(
        _("上限目标"),
        default=False,
        help_text=_("“不高于”的目标（如住院自付比例不高于 10%）：完成值不超过目标值即为达标。"),
    )
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("填报人"),
        null=True,
        blank=True,
        editable=False,
    )
    entered_at = models.DateTimeField(_("填报时间"), null=True, blank=True, editable=False)
    evidence = models.TextField(_("佐证材料"), blank=True, help_text=_("手工填报的依据：文件名称、文号、统计表等。"))
    order = models.PositiveSmallIntegerField(_("排序"), default=0)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("年度目标")
        verbose_name_plural = _("年度目标")
        ordering = ["district", "year", "order"]
        constraints = [
            # One name a year in each area: the district's own goals, each township's, each village's.
            unique(
                "annual_goal_unique",
                ["district", "year", "name"],
                "该年度已有同名目标。",
                condition=Q(township__isnull=True, village__isnull=True),
            ),
            unique(
                "annual_goal_township_unique",
                ["township", "year", "name"],
                "该乡镇该年度已有同名目标。",
                condition=Q(township__isnull=False),
            ),
            unique(
                "annual_goal_village_unique",
                ["village", "year", "name"],
                "该村该年度已有同名目标。",
                condition=Q(village__isnull=False),
            ),
            check(
                "annual_goal_one_area",
                Q(township__isnull=True) | Q(village__isnull=True),
                "目标属于全区、一个乡镇或一个村：乡镇和村只填一个。",
            ),
            check("annual_goal_target_nonneg", Q(target__gte=0), "目标值不能为负数。"),
            check(
                "annual_goal_quantity_has_category",
                ~Q(metric="task_quantity") | ~Q(task_category=""),
                "按任务数量统计的目标须选择任务类别。",
            ),
        ]

    def __str__(self):
        return f"{self.year} {self.name}"

    @property
    def area(self):
        """The goal's own area: its village, township or district."""
        return self.village or self.township or self.district

    @property
    def computed(self) -> bool:
        """Whether the dashboard measures the goal from the data (anything but 手工填报)."""
        return self.metric != self.Metric.MANUAL

    def is_met(self, actual) -> bool | None:
        """Whether ``actual`` meets the goal: at least the target, or for a ceiling (``is_ceiling``) at most it."""
        if actual is None:
            return None
        return actual <= self.target if self.is_ceiling else actual >= self.target

    @property
    def reporter(self) -> str:
        """Who fills in a manual goal's figure: ``reported_by``, else the district's poverty office."""
        return self.reported_by or "区脱贫办"

    def clean(self):
        super().clean()
        errors = {}
        if self.township_id and self.district_id and self.township.district_id != self.district_id:
            errors["township"] = "乡镇不在所选区县。"
        if self.village_id and self.district_id and self.village.township.district_id != self.district_id:
            errors["village"] = "村不在所选区县。"
        if errors:
            raise ValidationError(errors)


class ExportLog(models.Model):
    """Who exported which data, when, for which area: kept for every export of personal data and of the plan.

    Rows are only ever added (the admin shows them read-only). ``personal`` says the file held personal data
    (names, phones, ID numbers); ``unmasked`` that ID numbers were in full.
    """

    class Kind(models.TextChoices):
        PLAN_TABLE = "plan_table", _("施工图")
        HOUSEHOLDS = "households", _("贫困户花名册")
        OVERDUE = "overdue", _("逾期任务清单")
        BULLETIN = "bulletin", _("督查通报")
        TEMPLATE = "template", _("导入模板")
        OTHER = "other", _("其他")

    user = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="exports", verbose_name=_("导出人"), null=True, blank=True
    )
    username = models.CharField(_("用户名"), max_length=150, help_text=_("导出时的用户名；用户改名后仍可查。"))
    at = models.DateTimeField(_("导出时间"), auto_now_add=True, db_index=True)
    kind = models.CharField(_("导出内容"), max_length=20, choices=Kind.choices)
    fmt = models.CharField(_("格式"), max_length=10, default="xlsx")
    area = models.CharField(_("范围"), max_length=200, help_text=_("区县、乡镇或村的名称，及年度等条件。"))
    rows = models.PositiveIntegerField(_("行数"), default=0)
    personal = models.BooleanField(_("含个人信息"), default=False)
    unmasked = models.BooleanField(_("含完整身份证号"), default=False)
    via = models.CharField(_("途径"), max_length=10, default="page", help_text=_("page（页面）或 api（接口）。"))
    remote_addr = models.GenericIPAddressField(_("来源地址"), null=True, blank=True)

    class Meta:
        verbose_name = _("导出记录")
        verbose_name_plural = _("导出记录")
        ordering = ["-at", "-pk"]
        indexes = [
            # "What did this person export?" in the admin's filter.
            models.Index(fields=["user", "-at"], name="exportlog_user_at"),
        ]

    def __str__(self):
        return f"{self.username} {self.get_kind_display()} {self.area}"


class DataVersion(models.Model):
    """One row whose ``number`` changes with every write to the product's data (see bazhou/freshness.py).

    On PostgreSQL the number comes from the sequence ``bazhou_data_version`` instead, which never blocks.
    """

    number = models.BigIntegerField(_("数据版本"), default=0)

    class Meta:
        verbose_name = _("数据版本")
        verbose_name_plural = _("数据版本")

    def __str__(self):
        return str(self.number)


class CachedFigures(models.Model):
    """Figures computed for one area (the dashboard's), valid while the data version and the day are those stored.

    One row per key, replaced when stale, so the table holds at most one row per area. It is in the database so
    every app server shares it; its own writes do not move the data version.
    """

    key = models.CharField(_("键"), max_length=100, unique=True)
    version = models.BigIntegerField(_("数据版本"))
    day = models.DateField(_("日期"))
    data = models.BinaryField(_("数据"))
    computed_at = models.DateTimeField(_("计算时间"), auto_now=True)

    class Meta:
        verbose_name = _("统计缓存")
        verbose_name_plural = _("统计缓存")

    def __str__(self):
        return f"{self.key} @{self.version}"


class ApiToken(models.Model):
    """A key a program signs in to the API with (``Authorization: Token <key>``), made and revoked by its user.

    Only the SHA-256 of the key is stored: the key is shown once, when it is made (bazhou/core/api/tokens.py).
    ``prefix`` (its first characters) tells a user's tokens apart in the list; a revoked token stays, unusable.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens", verbose_name=_("用户"))
    name = models.CharField(_("名称"), max_length=100, help_text=_("用在哪里，如“省扶贫开发信息系统对接”。"))
    prefix = models.CharField(_("令牌前缀"), max_length=12)
    key_hash = models.CharField(_("令牌摘要"), max_length=64, unique=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("最近使用时间"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("撤销时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("接口令牌")
        verbose_name_plural = _("接口令牌")
        ordering = ["-created_at", "-id"]
        constraints = [
            unique(
                "api_token_name_unique_per_user",
                ["user", "name"],
                "您已有同名的有效令牌，请换一个名称。",
                condition=Q(revoked_at__isnull=True),
            ),
        ]

    def __str__(self):
        return f"{self.user} {self.name}（{self.prefix}…）"


class ImportBatch(models.Model):
    """An uploaded workbook between its preview and its confirmation (plan rows or the household register).

    Kept by the shared import pages (``bazhou.core.xlsx.import_views``) for every kind of import. The file itself
    is kept here, in the database, so that any app server can confirm what another one previewed;
    ``preview`` holds what the preview listed (rows to create and update, errors), ``fingerprint`` a digest of the
    changes it listed: confirming applies them only if the same file, read again against the data as it then is,
    still gives exactly those changes. Only the person who uploaded a batch sees it.
    """

    class Kind(models.TextChoices):
        PLAN = "plan", _("施工图任务")
        HOUSEHOLDS = "households", _("贫困户花名册")

    class State(models.TextChoices):
        CHECKING = "checking", _("检查中")
        PREVIEWED = "previewed", _("待确认")
        INVALID = "invalid", _("有错误")
        APPLIED = "applied", _("已导入")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("上传人")
    )
    kind = models.CharField(_("导入内容"), max_length=12, choices=Kind.choices)
    year = models.PositiveSmallIntegerField(_("计划年度"), null=True, blank=True)
    file_name = models.CharField(_("文件名"), max_length=255)
    content = models.BinaryField(_("文件内容"))
    size = models.PositiveIntegerField(_("大小（字节）"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    state = models.CharField(_("状态"), max_length=10, choices=State.choices, default=State.PREVIEWED)
    preview = models.JSONField(_("预览结果"), default=dict)
    fingerprint = models.CharField(_("变更摘要"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("上传时间"), default=timezone.now, editable=False)
    applied_at = models.DateTimeField(_("导入时间"), null=True, blank=True)

    class Meta:
        # Created in tasks (0003) and moved here with the import pages; the table keeps its name.
        db_table = "tasks_importbatch"
        verbose_name = _("Excel 导入批次")
        verbose_name_plural = _("Excel 导入批次")
        ordering = ["-created_at", "-id"]
        indexes = [
            # "My recent imports" on the import page.
            models.Index(fields=["user", "-created_at"], name="importbatch_user_created_idx"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.file_name}"

    @classmethod
    def purge_expired(cls, now=None) -> int:
        """Delete uploads older than ``BAZHOU_IMPORT_KEEP_DAYS`` (7) days: the files hold personal data, and what an
        applied import changed stays in the rows' history (with the file's name as the reason). 1 query."""
        days = getattr(settings, "BAZHOU_IMPORT_KEEP_DAYS", 7)
        cutoff = (now or timezone.now()) - datetime.timedelta(days=days)
        return cls.objects.filter(created_at__lt=cutoff).delete()[0]


class Notification(models.Model):
    """A message to one person about one thing, for one reason, on one day (unique together): shown in the person's
    in-app inbox (when ``user`` is set) and delivered through the channels the deployment configures
    (``Delivery``; bazhou/core/notify). ``read_at`` is when the person opened it: evidence for accountability.

    The recipient is a user (``recipient_key`` "user:<id>"), or a responsible person known only by a phone number
    ("phone:<digits>") or an e-mail address ("email:<address>"). The object is named by ``target_type`` (a model
    label such as "tasks.task") and ``target_id``; ``url`` is where one tap takes the reader.
    """

    class Reason(models.TextChoices):
        TASK_OVERDUE = "task_overdue", _("任务逾期")
        TASK_DUE_SOON = "task_due_soon", _("任务临期")
        RECTIFICATION_OVERDUE = "rect_overdue", _("整改逾期")
        FINDING = "finding", _("待整改问题")
        RECHECK = "recheck", _("待复查")
        ESCALATION = "escalation", _("提请协调")
        ACCOUNTABILITY = "accountability", _("追责线索")
        LEAD = "lead", _("督查线索")
        OPINION = "opinion", _("督导意见")
        CHANGE_REQUEST = "change_request", _("变更申请")
        DIGEST = "digest", _("督查摘要")

    recipient_key = models.CharField(_("收件人标识"), max_length=120)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notifications",
        verbose_name=_("收件人账号"),
    )
    name = models.CharField(_("收件人"), max_length=50, blank=True)
    phone = models.CharField(_("手机号"), max_length=20, blank=True)
    email = models.EmailField(_("电子邮箱"), blank=True)
    district = models.ForeignKey(
        "villages.District", on_delete=models.CASCADE, null=True, blank=True, related_name="+", verbose_name=_("区县")
    )
    reason = models.CharField(_("事由"), max_length=20, choices=Reason.choices)
    target_type = models.CharField(_("对象类型"), max_length=40)
    target_id = models.PositiveBigIntegerField(_("对象编号"))
    day = models.DateField(_("日期"))
    title = models.CharField(_("标题"), max_length=200)
    body = models.TextField(_("内容"), blank=True)
    url = models.CharField(_("链接"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("生成时间"), default=timezone.now, editable=False)
    read_at = models.DateTimeField(_("阅读时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("消息")
        verbose_name_plural = _("消息")
        ordering = ["-created_at", "-id"]
        constraints = [
            unique(
                "notification_once_a_day",
                ["recipient_key", "target_type", "target_id", "reason", "day"],
                "同一收件人、同一对象、同一事由每天只生成一条消息。",
            ),
        ]
        indexes = [
            # The inbox and the unread count in the navigation.
            models.Index(fields=["user", "-created_at"], name="notification_user_idx"),
            models.Index(fields=["user"], condition=Q(read_at__isnull=True), name="notification_unread_idx"),
            # The day's notifications of a district, for the delivery planning (bazhou/core/notify/delivery.py).
            models.Index(fields=["day", "district"], name="notification_day_idx"),
        ]

    def __str__(self):
        return self.title


class Delivery(models.Model):
    """One message sent (or to be sent) through one channel to one address: the delivery log.

    It carries one or more notifications of the same recipient and day (one SMS lists all of a person's newly
    overdue rows); a group robot's delivery carries the district's notifications of the run. ``attempts``,
    ``last_error`` and ``next_attempt_at`` drive the retries with backoff; a delivery that failed
    ``BAZHOU_NOTIFY_MAX_ATTEMPTS`` times is given up (``failed``). Phone numbers show masked everywhere but here.
    """

    class Channel(models.TextChoices):
        EMAIL = "email", _("电子邮件")
        SMS = "sms", _("短信")
        WECOM = "wecom", _("企业微信群机器人")
        DINGTALK = "dingtalk", _("钉钉群机器人")

    class Status(models.TextChoices):
        PENDING = "pending", _("待发送")
        RETRYING = "retrying", _("重试中")
        SENT = "sent", _("已发送")
        FAILED = "failed", _("发送失败")

    channel = models.CharField(_("渠道"), max_length=10, choices=Channel.choices)
    recipient_key = models.CharField(_("收件人标识"), max_length=120)
    address = models.CharField(_("地址"), max_length=254, blank=True)
    day = models.DateField(_("日期"))
    subject = models.CharField(_("标题"), max_length=200, blank=True)
    body = models.TextField(_("内容"))
    mentions = models.JSONField(_("提醒手机号"), default=list, blank=True)
    notifications = models.ManyToManyField(Notification, related_name="deliveries", verbose_name=_("消息"))
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("尝试次数"), default=0)
    last_error = models.TextField(_("最近错误"), blank=True)
    next_attempt_at = models.DateTimeField(_("下次尝试时间"), null=True, blank=True)
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("生成时间"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("发送记录")
        verbose_name_plural = _("发送记录")
        ordering = ["-created_at", "-id"]
        indexes = [
            # What a channel carried on a day (the delivery planning's NOT IN).
            models.Index(fields=["day", "channel"], name="delivery_day_channel_idx"),
            # The retry run: deliveries not sent yet, by when they are due.
            models.Index(
                fields=["next_attempt_at"], condition=Q(status__in=["pending", "retrying"]), name="delivery_due_idx"
            ),
        ]

    def __str__(self):
        return f"{self.get_channel_display()} {self.subject or self.body[:20]}"


class Submission(models.Model):
    """One sending of a form that carries a one-time key (``{% submission_key %}``): a double tap or a resend after a
    weak signal finds this row and gets the first result instead of doing the work twice.

    Written by ``bazhou.core.submissions.SubmitOnceMiddleware`` outside the request's transaction: the row is made
    when the first sending starts (the unique constraint stops a second one), ``result_url`` is filled in when the
    first answered with a redirect, and the row is dropped when it did not (a validation error may be corrected and
    sent again). Kept for two days (``Submission.objects.forget_old``)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.UUIDField(_("提交键"))
    path = models.CharField(_("地址"), max_length=300)
    result_url = models.CharField(_("结果地址"), max_length=1000, blank=True)
    finished = models.BooleanField(_("已完成"), default=False)
    created_at = models.DateTimeField(_("提交时间"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("表单提交")
        verbose_name_plural = _("表单提交")
        constraints = [unique("submission_once", ["user", "key"], "该表单已提交过。")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.key}"


class Job(models.Model):
    """A piece of long work run by a background worker (``bazhou.core.jobs``): a district export, a register, an
    import's check or write, a bulletin, the dashboard's figures. The page that started it shows its progress
    (``done`` of ``total``, ``phase``) until it ends; a file it made is kept for download until ``expires_at``.

    One job per ``key`` (its kind, its parameters and its user) may be waiting or running at a time: a second click
    finds the first. The worker writes ``heartbeat_at`` as it goes; a job whose worker stopped is taken up again or
    marked failed (``bazhou.core.jobs.reap``), never left "running"."""

    class State(models.TextChoices):
        QUEUED = "queued", _("排队中")
        RUNNING = "running", _("进行中")
        DONE = "done", _("已完成")
        FAILED = "failed", _("失败")
        CANCELLED = "cancelled", _("已取消")

    ACTIVE = (State.QUEUED, State.RUNNING)

    kind = models.CharField(_("类别"), max_length=40)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="jobs", verbose_name=_("发起人")
    )
    title = models.CharField(_("名称"), max_length=200)
    params = models.JSONField(_("参数"), default=dict, blank=True)
    key = models.CharField(_("去重键"), max_length=64)
    state = models.CharField(_("状态"), max_length=10, choices=State.choices, default=State.QUEUED)
    phase = models.CharField(_("阶段"), max_length=60, blank=True)
    done = models.PositiveIntegerField(_("已完成"), default=0)
    total = models.PositiveIntegerField(_("总数"), null=True, blank=True)
    created_at = models.DateTimeField(_("发起时间"), default=timezone.now)
    started_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(_("最近进展"), null=True, blank=True)
    finished_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    cancel_requested = models.BooleanField(_("已请求取消"), default=False)
    attempts = models.PositiveSmallIntegerField(_("执行次数"), default=0)
    worker = models.CharField(_("处理进程"), max_length=64, blank=True)
    task_id = models.CharField(_("队列任务"), max_length=64, blank=True)
    error = models.TextField(_("失败原因"), blank=True)
    result_file = models.CharField(_("结果文件"), max_length=255, blank=True)
    result_name = models.CharField(_("下载文件名"), max_length=255, blank=True)
    result_size = models.BigIntegerField(_("文件大小"), default=0)
    result_url = models.CharField(_("结果页面"), max_length=300, blank=True)
    result_note = models.CharField(_("结果说明"), max_length=300, blank=True)
    expires_at = models.DateTimeField(_("保留至"), null=True, blank=True)
    export_log = models.ForeignKey(
        ExportLog, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("导出记录")
    )

    class Meta:
        verbose_name = _("后台任务")
        verbose_name_plural = _("后台任务")
        ordering = ["-created_at", "-id"]
        constraints = [
            unique(
                "job_one_active_per_key",
                ["key"],
                "同样的任务正在进行。",
                condition=Q(state__in=["queued", "running"]),
            ),
        ]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="job_user_created_idx"),
            models.Index(fields=["state", "heartbeat_at"], name="job_state_heartbeat_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.title}（{self.get_state_display()}）"

    @property
    def active(self) -> bool:
        return self.state in self.ACTIVE

    @property
    def percent(self) -> int | None:
        if not self.total:
            return 100 if self.state == self.State.DONE else None
        return max(0, min(100, self.done * 100 // self.total))


class WorkerBeat(models.Model):
    """A background worker that is alive: it writes ``seen_at`` every few seconds (``manage.py jobs_worker``).
    ``/healthz/`` reports the workers as stopped when none has been seen lately; a running job whose worker is no
    longer seen is taken up again or failed."""

    worker_id = models.CharField(_("处理进程"), max_length=64, unique=True)
    host = models.CharField(_("主机"), max_length=100)
    pid = models.PositiveIntegerField(_("进程号"))
    started_at = models.DateTimeField(_("启动时间"), default=timezone.now)
    seen_at = models.DateTimeField(_("最近心跳"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("后台处理进程")
        verbose_name_plural = _("后台处理进程")

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}"
