"""我的任务 (``tasks:mine``, /tasks/mine/): a village cadre's, a township's staff's or a department's user's plan rows
of this year as cards on a phone, grouped by urgency, one tap from reporting progress.

Which rows: the live rows of the current year's plans that the user sees (``Task.objects.visible_to``); each card
offers 报告进度 where the user may report on the row (``Task.objects.reportable_by``) and 标记完成 where they may
change it (``Task.objects.editable_by``), both asked in the same query as the rows (``Exists``).

Groups, each a Q factory of ``tasks.models`` (no rule is written again here):

- 逾期: :func:`tasks.models.overdue_q` (open and past the deadline; on the deadline day a row is not late yet);
- N 天内到期 (N = ``settings.BAZHOU_DUE_SOON_DAYS``): :func:`tasks.models.due_within_q` (open, due from today to
  today + N, both included);
- 进行中: open (:func:`tasks.models.open_q`) and neither of the above (due later);
- 已完成: :func:`tasks.models.done_q` (已完成 or 已验收).

Filters (``?state=overdue|due``, ``?mine=1`` and ``?village=<id>``; any other value is ignored): only the overdue or
due-soon rows, only the rows of one of the user's villages (a township's staff), and only "mine" (:func:`mine_q`):
the rows whose 责任人 is the user — the responsible person is exactly the user's name (``User.name``) or the
responsible phone is the user's phone (as typed, or as its digits) — and the rows the user created or reported
progress on.

Queries: the villages the user has rows in, the counts of every group (one aggregate), the page's count and the
page's rows — four, whatever the number of rows (``tests/test_cards.py`` pins it). :data:`PAGE_SIZE` cards a page.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Case, Count, Exists, IntegerField, OuterRef, Q, Value, When
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from bazhou.core import clock
from bazhou.core.notify import normalise_phone
from bazhou.core.pages import id_param
from tasks.forms import VersionForm
from tasks.models import ProgressUpdate, Task, days_overdue, done_q, due_within_q, live_q, open_q, overdue_q

PAGE_SIZE = 20
# The filters the page offers (?state=); "" is every group.
STATES = ("overdue", "due")


@dataclass(frozen=True)
class Group:
    key: str
    order: int
    title: str
    empty: str


def due_days() -> int:
    return settings.BAZHOU_DUE_SOON_DAYS


def groups() -> list[Group]:
    return [
        Group("overdue", 0, "逾期", "没有逾期的任务。"),
        Group("due", 1, f"{due_days()} 天内到期", f"{due_days()} 天内没有到期的任务。"),
        Group("open", 2, "进行中", "没有其他未完成的任务。"),
        Group("done", 3, "已完成", "还没有完成的任务。"),
    ]


def group_q(today) -> dict[str, Q]:
    """Each group's filter on live rows, from the Q factories of ``tasks.models``; the four never overlap."""
    overdue = overdue_q(today)
    due = due_within_q(today, due_days())
    return {"overdue": overdue, "due": due, "open": open_q() & ~overdue & ~due, "done": done_q()}


def mine_q(user) -> Q:
    """ "Mine": rows whose 责任人 is ``user`` (the responsible person is exactly their name, or the responsible phone
    is their phone as typed or as its digits), and rows they created or reported progress on."""
    q = Q(created_by=user.pk) | Q(Exists(ProgressUpdate.objects.filter(task=OuterRef("pk"), reported_by=user.pk)))
    name = (user.name or "").strip()
    if name:
        q |= Q(responsible_person=name)
    phones = sorted({p for p in ((user.phone or "").strip(), normalise_phone(user.phone or "")) if p})
    if phones:
        q |= Q(responsible_phone__in=phones)
    return q


def badge(task: Task, today) -> tuple[str, str]:
    """The card's countdown (text, tone), from the group the database put the row in and the days to the deadline
    (:func:`tasks.models.days_overdue`)."""
    if task.group == "overdue":
        return f"逾期 {days_overdue(task.deadline, today)} 天", "overdue"
    if task.group == "due":
        left = -days_overdue(task.deadline, today)
        return ("今天到期", "due") if left == 0 else (f"临期 {left} 天", "due")
    if task.group == "done":
        when = f" {task.completed_on:%m-%d}" if task.completed_on else ""
        return f"{task.get_status_display()}{when}", "done"
    return f"{task.deadline:%Y-%m-%d} 到期", "muted"


@login_required
@require_GET
def my_rows(request):
    user = request.user
    today = clock.today()
    state = request.GET.get("state", "")
    state = state if state in STATES else ""
    mine = request.GET.get("mine") == "1"
    by_group = group_q(today)
    ordered = groups()

    scope = Task.objects.visible_to(user).filter(live_q(), plan__year=today.year)
    # The villages the user has rows in (a township's staff: several), for the village filter; one query.
    villages = list(
        scope.order_by("plan__village__township__code", "plan__village__code")
        .values_list("plan__village_id", "plan__village__township__name", "plan__village__name")
        .distinct()
    )
    village = id_param(request.GET.get("village"))
    village = village if village in {pk for pk, _, _ in villages} else None
    if village:
        scope = scope.filter(plan__village_id=village)
    mine_filter = mine_q(user)
    chosen = mine_filter if mine else Q(pk__isnull=False)
    counts = scope.aggregate(
        all=Count("pk", filter=chosen),
        mine=Count("pk", filter=mine_filter),
        **{g.key: Count("pk", filter=chosen & by_group[g.key]) for g in ordered},
    )

    rows = scope.filter(chosen)
    if state:
        rows = rows.filter(by_group[state])
    rows = (
        rows.select_related("plan__village__township", "household")
        .annotate(
            group_order=Case(
                *(When(by_group[g.key], then=Value(g.order)) for g in ordered), output_field=IntegerField()
            ),
            can_report=Exists(Task.objects.reportable_by(user).filter(pk=OuterRef("pk"))),
            can_complete=Exists(Task.objects.editable_by(user).filter(pk=OuterRef("pk"))),
        )
        .order_by("group_order", "deadline", "id")
    )
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))

    keys = {g.order: g.key for g in ordered}
    sections: list[dict] = []
    for task in page.object_list:
        task.group = keys[task.group_order]
        task.badge_text, task.badge_tone = badge(task, today)
        task.complete_form = VersionForm(initial={"version": task.version}, auto_id=f"id_complete{task.pk}_%s")
        if not sections or sections[-1]["group"].key != task.group:
            group = next(g for g in ordered if g.key == task.group)
            sections.append({"group": group, "total": counts[group.key], "tasks": []})
        sections[-1]["tasks"].append(task)

    here = request.get_full_path()
    chosen_filters = {"state": state, "mine": mine, "village": village}
    return render(
        request,
        "tasks/cards.html",
        {
            "page": page,
            "sections": sections,
            "groups": ordered,
            "counts": counts,
            "state": state,
            "mine": mine,
            "village": village,
            "villages": [{"pk": pk, "label": f"{township} {name}"} for pk, township, name in villages],
            "today": today,
            "year": today.year,
            "due_days": due_days(),
            "here": here if len(here) <= 500 else reverse("tasks:mine"),
            "filters": _filters(counts, **chosen_filters),
            "page_query": _query(**chosen_filters),
        },
    )


def _query(*, state: str, mine: bool, village: int | None) -> str:
    parts = [f"state={state}"] if state else []
    if mine:
        parts.append("mine=1")
    if village:
        parts.append(f"village={village}")
    return "&".join(parts)


def _filters(counts: dict, *, state: str, mine: bool, village: int | None) -> list[dict]:
    """The filter chips: every group / overdue / due soon (keeping "mine" and the village), and mine on or off
    (keeping the state and the village)."""
    base = reverse("tasks:mine")

    def url(s, m):
        query = _query(state=s, mine=m, village=village)
        return f"{base}?{query}" if query else base

    return [
        {"key": "all", "label": "全部", "count": counts["all"], "url": url("", mine), "on": not state},
        {
            "key": "overdue",
            "label": "逾期",
            "count": counts["overdue"],
            "url": url("overdue", mine),
            "on": state == "overdue",
        },
        {
            "key": "due",
            "label": f"{due_days()} 天内到期",
            "count": counts["due"],
            "url": url("due", mine),
            "on": state == "due",
        },
        {"key": "mine", "label": "只看我的", "count": counts["mine"], "url": url(state, not mine), "on": mine},
    ]
