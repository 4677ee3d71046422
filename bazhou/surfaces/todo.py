"""我的待办: what is due, overdue or waiting for the signed-in person, one tap from the action, on every role's
landing page (``/``), and the count beside 我的待办 in the navigation.

The page is a list of sections (:class:`Section`). Which sections a person gets is asked of ``bazhou.core.access``
(never of the role itself): whoever reports progress on plan rows and does not supervise gets their rows that are
overdue and due soon, whoever answers rectifications the findings to answer, approvers the change requests and plans
waiting for them, supervisors the rechecks, leads and late escalations, a 挂包 leader the escalations put before
them, the 人大/政协 the overdue rectifications, the 纪委 the open cases, an information officer their leads. Every
section's rows are a queryset built on the owning app's derived states and scopes (``Task.objects.reportable_by``,
``overdue``, ``due_within``, ``Rectification.objects.overdue``, ``ChangeRequest.objects.decidable_by`` …): no
rule is written again here.

Queries: the totals of all of a person's sections are one query (each total a scalar subquery of one SELECT), and
each section with something in it one more for its first :data:`LIMIT` items; none for the navigation's numbers on
the to-do page itself. On every other page the navigation's numbers (我的待办, 消息, 变更审批: :func:`nav_counts`)
are stored per person with the data versions and the day they were counted for (``CachedFigures``): one query reads
the versions and the stored numbers together, and while no data, message or charge changed and the day is the same
that is all; otherwise they are counted again (one query) and stored (one more).
"""

from __future__ import annotations

import datetime
import hashlib
import pickle
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import F, Func, IntegerField, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from bazhou.core import access, freshness, notify
from bazhou.core.models import CachedFigures, Notification, User
from bazhou.core.templatetags.bazhou import wan
from bazhou.surfaces.dashboard import Scope, area_summary, figure_links
from supervision.models import AccountabilityCase, Escalation, Finding, Lead, Opinion, Rectification
from tasks.approval_views import awaiting_approval
from tasks.models import ChangeRequest, Task, days_overdue, is_past_deadline
from villages.areas import chosen_area

# How many items a section lists on the to-do page; "全部 N 项" opens the rest.
LIMIT = 5
# Change requests decided within this many days are still news to the person who asked.
RECENT_DAYS = 14


def due_days() -> int:
    """The window of 临期 (due soon): ``BAZHOU_DUE_SOON_DAYS`` days from today, both ends included (the one window of
    the dashboard, the review queue and the digest too; the environment's ``BAZHOU_TODO_DUE_DAYS`` is its old name)."""
    return settings.BAZHOU_DUE_SOON_DAYS


def area_figures(user, today: datetime.date) -> dict | None:
    """The figures of the user's own village or township for the top of 我的待办 (village cadres, information
    officers and township staff, or a leader of one village or township): its own goals and the district's measured
    inside it, its plan rows (total, done, overdue, due soon) and its households' readiness, each linking to its
    list — the dashboard's figures and links for that scope (``dashboard.area_summary``, ``figure_links``), not
    counted again. None for everyone else (their area is the district: the dashboard is a tap away)."""
    own = access.area_of(user)
    if own is None or own[0] == "district" or not access.may_view_dashboard(user):
        return None
    area = chosen_area(user)
    scope = Scope(district=area.district, township=area.township, village=area.village)
    return {**area_summary(scope, today), "links": figure_links(user, scope, today.year)}


# ---------------------------------------------------------------------------------------------
# What a section shows
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Badge:
    text: str
    tone: str  # "overdue" (red), "due" (yellow), "info", "muted"


def deadline_badge(deadline: datetime.date, today: datetime.date, *, late: str = "逾期") -> Badge:
    """逾期 N 天 (red) past ``deadline``; 今天到期 / 临期 N 天 (yellow) within the due window; else the date."""
    if is_past_deadline(deadline, today):
        return Badge(f"{late} {days_overdue(deadline, today)} 天", "overdue")
    left = -days_overdue(deadline, today)
    if left == 0:
        return Badge("今天到期", "due")
    if left <= due_days():
        return Badge(f"临期 {left} 天", "due")
    return Badge(f"{deadline:%Y-%m-%d} 到期", "muted")


@dataclass(frozen=True)
class Item:
    """One line of a section: what it is, where, its badges, and the one link that does something about it."""

    kind: str
    pk: int
    title: str
    detail: str
    url: str
    action: str
    badges: tuple[Badge, ...] = ()


@dataclass
class Section:
    """One list of the page: ``rows`` (counted, and its first items listed unless ``listed`` is False), each shown by
    ``item``; ``more`` is where "全部 N 项" goes (the section's own full list when None); ``in_nav`` says whether
    it counts in the navigation's 我的待办."""

    key: str
    title: str
    rows: QuerySet
    item: Callable[[object, datetime.date], Item] | None = None
    empty: str = "暂无"
    more: str | None = None
    more_label: str = ""
    in_nav: bool = False
    listed: bool = True
    tile: str = ""  # the summary tile's label (count-only sections)
    total: int = 0
    items: list[Item] = field(default_factory=list)

    @property
    def more_url(self) -> str:
        return self.more or reverse("todo_section", args=[self.key])

    @property
    def has_more(self) -> bool:
        return self.total > len(self.items)


# ---------------------------------------------------------------------------------------------
# Items: how each kind of row reads on the page
# ---------------------------------------------------------------------------------------------

TASK_RELATED = ("plan__village__township", "household")
FINDING_TARGETS = (
    "finding__task__plan__village__township",
    "finding__village__township",
    "finding__household__village__township",
    "finding__township",
)


def _place(village) -> str:
    return f"{village.township.name} {village.name}" if village is not None else ""


def _task_place(task: Task) -> str:
    place = _place(task.plan.village)
    if task.household_id:
        place += f" · 户 {task.household.number}"
    return place


def _finding_place(finding: Finding) -> str:
    if finding.task_id:
        return f"{_place(finding.task.plan.village)} · {finding.task.item}"
    if finding.village_id:
        return _place(finding.village)
    if finding.household_id:
        return f"{_place(finding.household.village)} · 户 {finding.household.number}"
    return finding.township.name if finding.township_id else ""


def _finding_title(finding: Finding) -> str:
    return f"{finding.get_type_display()}：{_short(finding.description)}"


def _short(text: str, n: int = 40) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _joined(*parts: str) -> str:
    return " · ".join(p for p in parts if p)


def _task_item(action: str, url_name: str):
    def item(task: Task, today: datetime.date) -> Item:
        return Item(
            kind="task",
            pk=task.pk,
            title=task.item,
            detail=_joined(_task_place(task), task.responsible_unit, task.responsible_person, f"进度 {task.progress}%"),
            url=reverse(url_name, args=[task.pk]),
            action=action,
            badges=(deadline_badge(task.deadline, today),),
        )

    return item


def _finding_url(finding_id: int) -> str:
    return reverse("supervision:finding", args=[finding_id]) + "#actions-heading"


def _answer_item(rect: Rectification, today: datetime.date) -> Item:
    badges = [deadline_badge(rect.deadline, today), Badge(rect.get_status_display(), "info")]
    if rect.status == Rectification.Status.IN_PROGRESS and rect.rechecked_by_id:
        badges.append(Badge("复查退回", "overdue"))
    return Item(
        kind="rectification",
        pk=rect.pk,
        title=_finding_title(rect.finding),
        detail=_finding_place(rect.finding),
        url=_finding_url(rect.finding_id),
        action="填报整改",
        badges=tuple(badges),
    )


def _recheck_item(rect: Rectification, today: datetime.date) -> Item:
    answered = timezone.localtime(rect.answered_at).strftime("%Y-%m-%d") if rect.answered_at else ""
    return Item(
        kind="rectification",
        pk=rect.pk,
        title=_finding_title(rect.finding),
        detail=_joined(_finding_place(rect.finding), f"{rect.answered_by or ''} {answered} 提交"),
        url=_finding_url(rect.finding_id),
        action="复查",
        badges=(Badge("待复查", "due"),),
    )


def _rectification_item(action: str):
    def item(rect: Rectification, today: datetime.date) -> Item:
        return Item(
            kind="rectification",
            pk=rect.pk,
            title=_finding_title(rect.finding),
            detail=_joined(_finding_place(rect.finding), rect.responsible_unit, rect.get_status_display()),
            url=_finding_url(rect.finding_id),
            action=action,
            badges=(deadline_badge(rect.deadline, today),),
        )

    return item


def _change_title(change: ChangeRequest) -> str:
    item = (change.after or change.before or {}).get("item", "")
    return f"#{change.pk} {change.get_kind_display()}：{item}"


def _change_to_decide_item(change: ChangeRequest, today: datetime.date) -> Item:
    waited = (today - timezone.localtime(change.requested_at).date()).days
    return Item(
        kind="change",
        pk=change.pk,
        title=_change_title(change),
        detail=_joined(_place(change.plan.village), str(change.requested_by), change.get_reason_category_display()),
        url=reverse("tasks:change_request", args=[change.pk]),
        action="审批",
        badges=(Badge(f"已等待 {max(waited, 0)} 天", "due" if waited > due_days() else "info"),),
    )


def _my_change_item(change: ChangeRequest, today: datetime.date) -> Item:
    approved = change.state == ChangeRequest.State.APPROVED
    decided = timezone.localtime(change.decided_at).strftime("%Y-%m-%d") if change.decided_at else ""
    return Item(
        kind="change",
        pk=change.pk,
        title=_change_title(change),
        detail=_joined(_place(change.plan.village), f"{change.decided_by or ''} {decided} 审批", change.decision_note),
        url=reverse("tasks:change_request", args=[change.pk]),
        action="查看",
        badges=(Badge(change.get_state_display(), "info" if approved else "overdue"),),
    )


def _plan_item(plan, today: datetime.date) -> Item:
    return Item(
        kind="plan",
        pk=plan.pk,
        title=str(plan),
        detail=f"{plan.village.township.name} · {plan.row_count} 项任务 · 计划资金 {wan(plan.planned_total)} 万元",
        url=reverse("tasks:plan", args=[plan.pk]),
        action="审批",
        badges=(Badge("待批准", "due"),),
    )


def _lead_item(action: str):
    def item(lead: Lead, today: datetime.date) -> Item:
        return Item(
            kind="lead",
            pk=lead.pk,
            title=_short(lead.description),
            detail=_joined(_place(lead.village), lead.get_kind_display(), f"{lead.observed_on:%Y-%m-%d}"),
            url=reverse("supervision:lead", args=[lead.pk]),
            action=action,
            badges=(Badge(lead.get_state_display(), "due" if lead.state == Lead.State.NEW else "info"),),
        )

    return item


def _escalation_item(action: str):
    def item(escalation: Escalation, today: datetime.date) -> Item:
        leader = str(escalation.leader) if escalation.leader_id else "无挂包领导"
        return Item(
            kind="escalation",
            pk=escalation.pk,
            title=_finding_title(escalation.finding),
            detail=_joined(escalation.get_reason_display(), leader, f"{escalation.respond_by:%Y-%m-%d} 前回复"),
            url=reverse("supervision:escalation", args=[escalation.pk]),
            action=action,
            badges=(deadline_badge(escalation.respond_by, today),),
        )

    return item


def _case_item(case: AccountabilityCase, today: datetime.date) -> Item:
    what = case.task.item if case.task_id else _short(case.rectification.finding.description)
    return Item(
        kind="case",
        pk=case.pk,
        title=f"{case.get_reason_display()}：{what}",
        detail=_joined(case.detail, f"移送 {case.opened_on:%Y-%m-%d}"),
        url=reverse("supervision:case", args=[case.pk]),
        action="处理",
        badges=(Badge(f"已移送 {max(days_overdue(case.opened_on, today), 0)} 天", "due"),),
    )


def _opinion_item(opinion: Opinion, today: datetime.date) -> Item:
    return Item(
        kind="opinion",
        pk=opinion.pk,
        title=_short(opinion.text),
        detail=_joined(opinion.get_body_display(), _finding_title(opinion.finding), f"{opinion.given_on:%Y-%m-%d}"),
        url=reverse("supervision:finding", args=[opinion.finding_id]),
        action="查看",
    )


def _message_item(note: Notification, today: datetime.date) -> Item:
    return Item(
        kind="message",
        pk=note.pk,
        title=note.title,
        detail=_joined(note.get_reason_display(), timezone.localtime(note.created_at).strftime("%Y-%m-%d %H:%M")),
        url=reverse("inbox_open", args=[note.pk]),
        action="打开",
        badges=(Badge("未读", "due"),),
    )


# ---------------------------------------------------------------------------------------------
# Which sections a person gets (asked of bazhou.core.access), and their rows
# ---------------------------------------------------------------------------------------------


def _url(name: str, query: str = "") -> str:
    url = reverse(name)
    return f"{url}?{query}" if query else url


def unread_messages(user) -> QuerySet:
    """The person's unread in-app messages (their inbox, ``bazhou.core.notify.inbox_of``, not read yet)."""
    return notify.inbox_of(user).filter(read_at__isnull=True)


def unread_count(user) -> int:
    """The number beside 消息 in the navigation (``bazhou.core.notify.unread_count``, one query)."""
    return notify.unread_count(user)


def files_leads(user) -> bool:
    """Whether the page offers 报送线索: an information officer of a village (``access.may_file_leads``)."""
    return access.may_file_leads(access.as_role(user)) and bool(user.village_id)


def works_own_rows(user) -> bool:
    """Whether the to-do lists the person's own plan rows (cadres, township staff, a department's users): those who
    report progress and do not supervise. Supervisors and the district office get the district's counts instead."""
    return access.may_report_progress(user) and not access.may_supervise(user)


def sections_for(user, today: datetime.date, *, nav_only: bool = False) -> list[Section]:
    """The sections of ``user``'s to-do page, in order, with their rows (querysets, not evaluated yet); with
    ``nav_only``, only those the navigation counts (``in_nav``: the others' querysets are not even built)."""
    duty = access.as_role(user)
    listed = not nav_only
    days = due_days()
    sections: list[Section] = []
    add = sections.append
    own_rows = works_own_rows(duty)

    if own_rows:
        rows = Task.objects.reportable_by(user).select_related(*TASK_RELATED)
        department = access.department_of(user) is not None
        add(
            Section(
                "rows_overdue",
                "逾期任务",
                rows.overdue(today).order_by("deadline", "id"),
                _task_item("填报进度", "tasks:task_progress"),
                empty="没有逾期的任务。",
                more=_url("tasks:department", query="due=overdue") if department else None,
                in_nav=True,
            )
        )
        add(
            Section(
                "rows_due",
                f"临期任务（{days} 天内到期）",
                rows.due_within(today, days).order_by("deadline", "id"),
                _task_item("填报进度", "tasks:task_progress"),
                empty=f"{days} 天内没有到期的任务。",
                more=_url("tasks:department", query=f"due=due&days={days}") if department else None,
                in_nav=True,
            )
        )
    if access.may_answer_rectifications(duty) and own_rows:
        add(
            Section(
                "findings_to_answer",
                "待整改的问题",
                Rectification.objects.filter(finding__in=Finding.objects.editable_by(user))
                .to_answer()
                .select_related("finding", *FINDING_TARGETS)
                .order_by("deadline", "id"),
                _answer_item,
                empty="没有待整改的问题。",
                in_nav=True,
            )
        )
    if access.may_request_changes(duty) and own_rows and listed:
        # Decision times are real timestamps: "recent" counts back from now, not from the product's today.
        since = timezone.now() - datetime.timedelta(days=RECENT_DAYS)
        add(
            Section(
                "my_changes",
                f"我的变更申请（近 {RECENT_DAYS} 天已审批）",
                ChangeRequest.objects.editable_by(user)
                .filter(requested_by=user, decided_at__gte=since)
                .closed()
                .exclude(state=ChangeRequest.State.WITHDRAWN)
                .select_related("plan__village__township", "decided_by")
                .order_by("-decided_at", "-id"),
                _my_change_item,
                empty=f"近 {RECENT_DAYS} 天没有审批结果。",
                more=reverse("tasks:change_ledger"),
            )
        )
    if access.may_decide_change_requests(duty):
        add(
            Section(
                "changes_to_decide",
                "待审批的变更申请",
                ChangeRequest.objects.decidable_by(user)
                .pending()
                .select_related("plan__village__township", "requested_by")
                .order_by("requested_at", "id"),
                _change_to_decide_item,
                empty="没有待审批的变更申请。",
                more=reverse("tasks:change_requests"),
                in_nav=True,
            )
        )
    if access.may_approve_plans(duty):
        add(
            Section(
                "plans_to_approve",
                "待批准的施工图",
                awaiting_approval(user, today),
                _plan_item,
                empty="没有待批准的施工图。",
                more=reverse("tasks:awaiting_approval"),
                in_nav=True,
            )
        )
    if access.may_supervise(duty):
        rects = Rectification.objects.visible_to(user).select_related("finding", "answered_by", *FINDING_TARGETS)
        add(
            Section(
                "rechecks",
                "待复查的整改",
                rects.filter(status=Rectification.Status.AWAITING_RECHECK)
                .exclude(answered_by=user)
                .order_by("answered_at", "id"),
                _recheck_item,
                empty="没有待复查的整改。",
                in_nav=True,
            )
        )
    if access.may_handle_leads(duty):
        add(
            Section(
                "leads_new",
                "待处理的督查线索",
                Lead.objects.visible_to(user).new().select_related("village__township").order_by("observed_on", "id"),
                _lead_item("处理"),
                empty="没有待处理的线索。",
                more=_url("supervision:leads", query="state=new"),
                in_nav=True,
            )
        )
    if access.may_supervise(duty):
        add(
            Section(
                "escalations_late",
                "超期未回复的提请协调",
                Escalation.objects.visible_to(user)
                .late(today)
                .select_related("finding", "leader")
                .order_by("respond_by", "id"),
                _escalation_item("查看"),
                empty="没有超期未回复的提请协调。",
                more=_url("supervision:escalations"),
                in_nav=True,
            )
        )
    if access.may_supervise(duty) and listed:
        add(
            Section(
                "findings_not_started",
                "未开始整改的问题",
                rects.filter(status=Rectification.Status.PENDING).order_by("deadline", "id"),
                _rectification_item("查看"),
                empty="没有未开始整改的问题。",
                more=reverse("supervision:findings") + "?status=pending",
            )
        )
    if access.may_respond_to_escalations(duty):
        add(
            Section(
                "escalations_mine",
                "待我协调回复的问题",
                Escalation.objects.filter(leader=user)
                .open()
                .select_related("finding", "leader")
                .order_by("respond_by", "id"),
                _escalation_item("回复"),
                empty="没有待回复的提请协调。",
                more=_url("supervision:escalations", query="state=open"),
                in_nav=True,
            )
        )
    if access.may_give_opinions(duty):
        add(
            Section(
                "rectifications_overdue",
                "整改逾期的问题（可提出督导意见）",
                Rectification.objects.visible_to(user)
                .overdue(today)
                .select_related("finding", *FINDING_TARGETS)
                .order_by("deadline", "id"),
                _rectification_item("督导意见"),
                empty="没有整改逾期的问题。",
                more=reverse("supervision:findings") + "?overdue=on",
                in_nav=True,
            )
        )
    if access.may_give_opinions(duty) and listed:
        add(
            Section(
                "opinions_mine",
                "我近期的督导意见",
                Opinion.objects.filter(given_by=user, finding__in=Finding.objects.visible_to(user))
                .select_related("finding")
                .order_by("-given_on", "-id"),
                _opinion_item,
                empty="还没有督导意见。",
            )
        )
    if access.may_decide_cases(duty):
        add(
            Section(
                "cases_open",
                "待处理的追责线索",
                AccountabilityCase.objects.visible_to(user)
                .open()
                .select_related("task", "rectification__finding")
                .order_by("opened_on", "id"),
                _case_item,
                empty="没有待处理的追责线索。",
                more=_url("supervision:cases"),
                in_nav=True,
            )
        )
    if access.may_file_leads(duty) and user.village_id and listed:
        add(
            Section(
                "leads_mine",
                "我报送的线索",
                Lead.objects.filter(filed_by=user).select_related("village__township").order_by("-observed_on", "-id"),
                _lead_item("查看"),
                empty="还没有报送线索。",
                more=_url("supervision:leads"),
            )
        )
        add(
            Section(
                "village_overdue",
                "本村逾期任务",
                Task.objects.visible_to(user).overdue(today).select_related(*TASK_RELATED).order_by("deadline", "id"),
                _task_item("查看", "tasks:task_detail"),
                empty="本村没有逾期的任务。",
            )
        )
    if not own_rows and not access.may_file_leads(duty) and listed:
        # Those who read an area without rows of their own: its figures, each a link to the list that holds them.
        queue = reverse("supervision:queue") if access.may_read_supervision(duty) else None
        tasks = Task.objects.visible_to(user)
        add(
            Section(
                "summary_overdue",
                "逾期任务",
                tasks.overdue(today),
                listed=False,
                tile="逾期任务",
                more=f"{queue}?view=overdue" if queue else _url("dashboard"),
            )
        )
        add(
            Section(
                "summary_due",
                "临期任务",
                tasks.due_within(today, days),
                listed=False,
                tile=f"{days} 天内到期",
                more=f"{queue}?view=due&days={days}" if queue else _url("dashboard"),
            )
        )
        add(
            Section(
                "summary_rectifications",
                "整改逾期",
                Rectification.objects.visible_to(user).overdue(today),
                listed=False,
                tile="整改逾期",
                more=reverse("supervision:findings") + "?overdue=on",
            )
        )
    if not listed:
        return sections
    add(
        Section(
            "messages",
            "未读消息",
            unread_messages(user).order_by("-created_at", "-id"),
            _message_item,
            empty="没有未读消息。",
            more=_url("inbox"),
        )
    )
    return sections


# ---------------------------------------------------------------------------------------------
# Counting and listing
# ---------------------------------------------------------------------------------------------


def count_of(rows: QuerySet):
    """``rows``' number as a scalar subquery (``SELECT COUNT(id) FROM … WHERE …``), for one SELECT of many counts."""
    counted = rows.order_by().annotate(n=Func(F("pk"), function="COUNT", output_field=IntegerField())).values("n")
    return Coalesce(Subquery(counted[:1], output_field=IntegerField()), 0)


UNREAD = "nav_unread"
CHANGES = "nav_changes"


def totals(user, sections: list[Section], *, unread: bool = False, changes: QuerySet | None = None) -> dict[str, int]:
    """Every section's number of rows (and, with ``unread``, the unread messages under :data:`UNREAD`; with
    ``changes``, that queryset's number under :data:`CHANGES`), in one query."""
    counts = {s.key: count_of(s.rows) for s in sections}
    if unread:
        counts[UNREAD] = count_of(unread_messages(user))
    if changes is not None:
        counts[CHANGES] = count_of(changes)
    if not counts:
        return {}
    row = User.objects.filter(pk=user.pk).values(**counts).first() or {}
    return {key: row.get(key) or 0 for key in counts}


def items_of(section: Section, rows, today: datetime.date) -> list[Item]:
    return [section.item(row, today) for row in rows]


def todo(user, today: datetime.date) -> list[Section]:
    """The to-do page of ``user``: the sections with their totals (one query) and, for each listed section with
    something in it, its first :data:`LIMIT` items (one query each)."""
    sections = sections_for(user, today)
    counted = totals(user, sections)
    for section in sections:
        section.total = counted[section.key]
        if section.listed and section.total:
            section.items = items_of(section, section.rows[:LIMIT], today)
    return sections


def pending_changes(user, sections: list[Section]) -> QuerySet | None:
    """The change requests counted beside 变更审批 in the navigation (shown to whoever may decide them, the real user,
    a superuser too): the to-do's own section when the person has it, else the same rule; None for everyone else."""
    if not access.may_decide_change_requests(user):
        return None
    section = next((s for s in sections if s.key == "changes_to_decide"), None)
    return section.rows if section is not None else ChangeRequest.objects.decidable_by(user).pending()


def count_nav(user, today: datetime.date) -> dict[str, int]:
    """The navigation's numbers counted afresh: 我的待办 (the rows of the sections that wait for the person,
    ``in_nav``), 消息 (their unread messages) and 变更审批 (the change requests waiting for their decision), one
    query for all three."""
    nav = sections_for(user, today, nav_only=True)
    counted = totals(user, nav, unread=True, changes=pending_changes(user, nav))
    unread = counted.pop(UNREAD)
    changes = counted.pop(CHANGES, 0)
    return {"todo": sum(counted.values()), "unread": unread, "changes": changes}


# The rules the stored numbers were counted by: numbers another release stored are counted again.
NAV_CODE = hashlib.sha256(
    b"".join(
        open(module.__file__, "rb").read()  # noqa: SIM115, PTH123  (read once, at import)
        for module in (
            sys.modules[__name__],
            access,
            sys.modules[Task.__module__],
            sys.modules[awaiting_approval.__module__],
            sys.modules[Finding.__module__],
        )
    )
).hexdigest()[:16]


def nav_key(user) -> str:
    return f"nav:{user.pk}"


def nav_stamp(user, versions: dict[str, int], today: datetime.date) -> tuple:
    """What the person's numbers depend on besides their own rows: every kind of data (its version), the day (rows
    fall overdue, escalations late), the due-soon window, the rules (:data:`NAV_CODE`), and the person's own role,
    area and department (their own row: a login writes it, so it has no version of its own)."""
    return (
        NAV_CODE,
        tuple(sorted(versions.items())),
        today,
        due_days(),
        (user.role, user.district_id, user.township_id, user.village_id, user.department_id),
        (user.is_superuser, user.is_active),
    )


def nav_counts(user, today: datetime.date) -> dict[str, int]:
    """The numbers beside 我的待办, 消息 and 变更审批 in the navigation (:func:`count_nav`), as stored while nothing
    they depend on (:func:`nav_stamp`) changed (1 query), else counted and stored again (2 more)."""
    versions, (data,) = freshness.current_with(
        ["(SELECT data FROM bazhou_cachedfigures WHERE key = %s)"], [nav_key(user)]
    )
    stamp = nav_stamp(user, versions, today)
    if data is not None:
        try:
            stored_stamp, counts = pickle.loads(data)
        except Exception:  # noqa: BLE001  (anything unreadable is simply counted again)
            stored_stamp = counts = None
        if stored_stamp == stamp:
            return counts
    counts = count_nav(user, today)
    CachedFigures.objects.bulk_create(
        [
            CachedFigures(
                key=nav_key(user), version=sum(versions.values()), day=today, data=pickle.dumps((stamp, counts))
            )
        ],
        update_conflicts=True,
        unique_fields=["key"],
        update_fields=["version", "day", "data", "computed_at"],
    )
    return counts


def page_nav_counts(sections: list[Section], user) -> dict[str, int]:
    """The navigation's numbers from a to-do page's own totals (no query when its messages section was counted and
    the person decides change requests in their to-do, or decides none)."""
    totals_of = {s.key: s.total for s in sections}
    changes = pending_changes(user, sections)
    if changes is None:
        changes = 0
    else:
        changes = totals_of["changes_to_decide"] if "changes_to_decide" in totals_of else changes.count()
    return {
        "todo": sum(s.total for s in sections if s.in_nav),
        "unread": totals_of["messages"] if "messages" in totals_of else unread_count(user),
        "changes": changes,
    }


def section_of(user, key: str, today: datetime.date) -> Section | None:
    """One listed section of ``user``'s to-do by its key (its full list), or None if they have no such section."""
    return next((s for s in sections_for(user, today) if s.key == key and s.listed), None)
