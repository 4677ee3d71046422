"""The plan's part of village exit (七有): a finished village row of the plan delivers the indicator mapped to its
category (a road row → 有硬化路), registered with villages.exit_criteria (the one home of 一低七有) for the
indicators whose source is 施工图任务. The mapping is data: ExitIndicator.task_category (docs/exit-criteria.md)."""

from __future__ import annotations

import contextlib

from django.db.models import Count, Max
from django.urls import reverse

from households import decisions
from households.models import DecisionAlert
from tasks.models import Category, Task, done_q, live_q
from villages.exit_criteria import Fact


def plan_row_facts(villages: dict, indicators: list, year: int) -> dict:
    """Each village on each indicator: met when a live village row (no household) of the indicator's category is done
    in the plan of ``year`` or of an earlier year (1 query: the done rows grouped by village and category)."""
    categories = {i.task_category for i in indicators}
    rows = (
        Task.objects.filter(
            live_q(),
            done_q(),
            household__isnull=True,
            plan__village__in=list(villages),
            plan__year__lte=year,
            category__in=categories,
        )
        .order_by()
        .values("plan__village", "category")
        .annotate(n=Count("pk"), last=Max("completed_on"), task=Max("pk"), item=Max("item"))
    )
    done = {(row["plan__village"], row["category"]): row for row in rows}
    # Resolved once, not per village (a district judges hundreds): the labels as plain text, the row's address from
    # one reverse() with a stand-in id.
    labels = {key: str(label) for key, label in Category.choices}
    stand_in = 987654321
    detail = reverse("tasks:task_detail", args=[stand_in])
    facts = {}
    for pk in villages:
        for indicator in indicators:
            row = done.get((pk, indicator.task_category))
            label = labels.get(indicator.task_category, indicator.task_category)
            if row is None:
                text = f"{year}年及以前的施工图中没有已完成的村级“{label}”任务"
                facts[(pk, indicator.pk)] = Fact(False, text)
                continue
            when = f"，{row['last']:%Y-%m-%d}完成" if row["last"] else ""
            more = f"等 {row['n']} 项" if row["n"] > 1 else ""
            text = f"施工图任务“{row['item']}”{more}已完成{when}"
            facts[(pk, indicator.pk)] = Fact(True, text, detail.replace(str(stand_in), str(row["task"])))
    return facts


@contextlib.contextmanager
def watching_village_exit(task: Task, *, delivered_before: bool, user, reason: str):
    """Around the save of a village row whose finishing may flip its village's 一低七有 (a road row done → 有硬化路):
    when the row starts or stops delivering (done and live, :func:`delivers`), the village is judged before and
    after the edit and every flipped criterion gets an exit-decision alert (households.decisions), as a registry or
    an indicator edit does. Other edits cost nothing."""
    if task.household_id is not None or delivers(task) == delivered_before:
        yield
        return
    detail = f"任务 {task.pk}「{task.item}」"
    with decisions.watching(user=user, source=DecisionAlert.Source.PLAN_ROW, reason=reason, detail=detail):
        decisions.watch_villages([task.plan.village_id])
        yield


def delivers(task: Task) -> bool:
    """The Python twin of the rows :func:`plan_row_facts` counts: live and done (village rows only)."""
    return task.is_done and not task.is_removed
