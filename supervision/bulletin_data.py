"""通报 (bulletins), what they read: who sees which bulletin, the rows of a district, the snapshot, the wording.

一月一督查、一月一通报、一月一整改: a supervisor or district admin generates a bulletin for a period. The
generation reads the overdue plan rows and the open rectifications of the district as of the period's end
(today, for the period still running), ranks the townships and the responsible people, and keeps all of it
in ``Bulletin.snapshot``; a draft body is written in Chinese for the person to edit. Publishing makes the
bulletin read-only: the pages, the print page and the Excel file only ever read the snapshot (:class:`Report`),
so a published bulletin says the same thing whatever happens to the data later.

Who sees what: everyone signed in sees the published bulletins of their own district; supervisors and
district admins also see and edit the drafts (``Bulletin.objects.visible_to`` / ``editable_by``). Anything else is
a 404.

The bulletin modules: this one (access, reads shared with the daily run in ``supervision.notifications``,
the snapshot, the draft wording, the presenter); ``supervision.bulletin_services`` (generate, edit,
publish); ``supervision.forms`` (the generate and edit forms); ``supervision.bulletin_views`` (the pages);
``supervision.exports`` (the Excel tables and the download).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import CharField, F, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

from bazhou.core import access
from bazhou.core.access import AreaPaths
from households.models import Member
from supervision.models import Bulletin, Finding, Organiser, Rectification, rectification_is_overdue
from tasks.models import (
    Category,
    Task,
    baseline_overdue_q,
    days_overdue,
    is_baseline_overdue_values,
    is_overdue_values,
    is_past_deadline,
    overdue_q,
)
from villages.models import District, Township

# ---------------------------------------------------------------------------------------------
# Access: which bulletins a user sees and changes is ``Bulletin.objects.visible_to`` / ``editable_by``, who
# writes them ``bazhou.core.access.may_write_bulletins``; here, the districts they may issue them for
# ---------------------------------------------------------------------------------------------

DISTRICT_PATHS = AreaPaths(district="code", township="townships", village="townships__villages")


def districts_for_bulletins(user):
    """The districts the user may issue bulletins for: their own (a superuser: any)."""
    if not access.may_write_bulletins(user):
        return District.objects.none()
    return District.objects.filter(access.area_choices_q(user, DISTRICT_PATHS))


# ---------------------------------------------------------------------------------------------
# Reads shared with the daily run: the rows and rectifications of one district
# ---------------------------------------------------------------------------------------------

# A rectification sits where its finding's target sits: a task, a village, a household or a township.
_FINDING_TOWNSHIP = (
    "finding__task__plan__village__township",
    "finding__village__township",
    "finding__household__village__township",
    "finding__township",
)
_FINDING_VILLAGE = ("finding__task__plan__village", "finding__village", "finding__household__village")


def _first_of(paths: Iterable[str], suffix: str) -> Coalesce:
    return Coalesce(*(F(f"{path}__{suffix}") for path in paths), Value(""), output_field=CharField())


def tasks_in(district):
    """The plan rows of ``district`` (chain ``.overdue(today)``, ``.due_within(…)`` …)."""
    return Task.objects.filter(plan__village__township__district=district)


def rectifications_in(district):
    """The rectifications of ``district``, with the code and name of their township and their village's name."""
    return Rectification.objects.annotate(
        township_code=_first_of(_FINDING_TOWNSHIP, "code"),
        township_name=_first_of(_FINDING_TOWNSHIP, "name"),
        village_name=_first_of(_FINDING_VILLAGE, "name"),
    ).filter(township_code__in=Township.objects.filter(district=district).values("code"))


def target_text(*, task_item="", village="", household="", township="") -> str:
    """What a finding is about, as a bulletin or a mail names it: “茅垭村 通村硬化路”, “茅垭村 张三户”, “白庙乡”.

    ``household`` is the household as the caller names it (“张三户”, or “户编号 …” when the head is unknown).
    """
    if task_item:
        return f"{village} {task_item}".strip()
    if household:
        return f"{village} {household}".strip()
    return village or township


def household_label(head_name: str | None, number: str | None) -> str:
    """A household as a bulletin names it: by its head (“张三户”), or by its number when it has none."""
    if head_name:
        return f"{head_name}户"
    return f"户编号 {number}" if number else ""


def cn_date(day: datetime.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


# ---------------------------------------------------------------------------------------------
# The snapshot: what a bulletin lists, computed in a fixed number of queries
# ---------------------------------------------------------------------------------------------

CATEGORY_LABELS = dict(Category.choices)
TASK_STATUS_LABELS = dict(Task.Status.choices)
RECTIFICATION_STATUS_LABELS = dict(Rectification.Status.choices)
FINDING_TYPE_LABELS = dict(Finding.Type.choices)
NO_PERSON = "（未填写责任人）"


def build_snapshot(*, district, period_start: datetime.date, as_of: datetime.date) -> dict:
    """The overdue rows and open rectifications of ``district`` as of ``as_of``, and the two rankings.

    Two queries whatever the size of the district: the overdue rows (with village, township and the
    household head) and the open rectifications (with their target's township). Everything else is
    counted from those two lists. Dates are ISO strings and labels are stored as text, so the snapshot
    reads the same whatever later changes in the code or the data.
    """
    task_rows = list(_overdue_task_rows(district, as_of))
    tasks = [_task_entry(row, as_of) for row in task_rows if _is_overdue(row, as_of)]
    rectifications = [_rectification_entry(row, as_of) for row in _open_rectification_rows(district, as_of)]
    townships = rank_townships(tasks, rectifications)
    people = rank_people(tasks)
    return {
        "as_of": as_of.isoformat(),
        "period_start": period_start.isoformat(),
        "totals": {
            "overdue_tasks": len(tasks),
            # Against the original deadline (原定逾期, 延期完成 included), whatever the current deadline says.
            "baseline_overdue_tasks": sum(1 for row in task_rows if _is_baseline_overdue(row, as_of)),
            # New in the period: not yet overdue on its first day.
            "new_overdue_tasks": sum(1 for t in tasks if not is_past_deadline(_day(t["deadline"]), period_start)),
            "open_rectifications": len(rectifications),
            "overdue_rectifications": sum(1 for r in rectifications if r["overdue"]),
            "townships_with_overdue": sum(1 for t in townships if t["overdue_tasks"]),
            "people_with_overdue": len(people),
        },
        "townships": townships,
        "people": people,
        "tasks": tasks,
        "rectifications": rectifications,
    }


def _day(iso: str) -> datetime.date:
    return datetime.date.fromisoformat(iso)


def _head_of(household_path: str) -> Subquery:
    """The name of the active head of the household at ``household_path`` (a subquery, no extra query)."""
    heads = Member.objects.filter(household=OuterRef(household_path), relation=Member.Relation.HEAD, is_active=True)
    return Subquery(heads.values("name")[:1])


def _is_overdue(row: dict, as_of: datetime.date) -> bool:
    return is_overdue_values(status=row["status"], deadline=row["deadline"], is_removed=row["is_removed"], today=as_of)


def _is_baseline_overdue(row: dict, as_of: datetime.date) -> bool:
    return is_baseline_overdue_values(
        baseline_deadline=row["baseline_deadline"],
        completed_on=row["completed_on"],
        is_removed=row["is_removed"],
        today=as_of,
    )


def _overdue_task_rows(district, as_of):
    """The rows overdue on ``as_of`` or overdue against their original deadline (one query; the Python twins
    tell which is which)."""
    return (
        tasks_in(district)
        .filter(overdue_q(as_of) | baseline_overdue_q(as_of))
        .annotate(head_name=_head_of("household"))
        .order_by("plan__village__township", "plan__village__code", "deadline", "id")
        .values(
            "id",
            "item",
            "category",
            "deadline",
            "deadline_text",
            "baseline_deadline",
            "completed_on",
            "is_removed",
            "status",
            "progress",
            "responsible_unit",
            "responsible_person",
            "head_name",
            township_code=F("plan__village__township"),
            township_name=F("plan__village__township__name"),
            village_name=F("plan__village__name"),
        )
    )


def _open_rectification_rows(district, as_of):
    return (
        rectifications_in(district)
        .open()
        .filter(finding__found_on__lte=as_of)
        .annotate(head_name=_head_of("finding__household"))
        .order_by("township_code", "deadline", "id")
        .values(
            "id",
            "requirement",
            "deadline",
            "status",
            "responsible_unit",
            "responsible_person",
            "township_code",
            "township_name",
            "village_name",
            "head_name",
            finding_type=F("finding__type"),
            description=F("finding__description"),
            task_item=F("finding__task__item"),
            household_number=F("finding__household__number"),
        )
    )


def _task_entry(row: dict, as_of: datetime.date) -> dict:
    return {
        "id": row["id"],
        "township_code": row["township_code"],
        "township": row["township_name"],
        "village": row["village_name"],
        "household": household_label(row["head_name"], None),
        "category": str(CATEGORY_LABELS.get(row["category"], row["category"])),
        "item": row["item"],
        "deadline": row["deadline"].isoformat(),
        "deadline_text": row["deadline_text"],
        "baseline_deadline": row["baseline_deadline"].isoformat() if row["baseline_deadline"] else None,
        "baseline_overdue": _is_baseline_overdue(row, as_of),
        "days_overdue": days_overdue(row["deadline"], as_of),
        "status": str(TASK_STATUS_LABELS.get(row["status"], row["status"])),
        "progress": row["progress"],
        "unit": row["responsible_unit"],
        "person": row["responsible_person"],
    }


def _rectification_entry(row: dict, as_of: datetime.date) -> dict:
    overdue = rectification_is_overdue(status=row["status"], deadline=row["deadline"], today=as_of)
    return {
        "id": row["id"],
        "township_code": row["township_code"],
        "township": row["township_name"],
        "target": target_text(
            task_item=row["task_item"] or "",
            village=row["village_name"],
            household=household_label(row["head_name"], row["household_number"]),
            township=row["township_name"],
        ),
        "type": str(FINDING_TYPE_LABELS.get(row["finding_type"], row["finding_type"])),
        "description": row["description"],
        "requirement": row["requirement"],
        "deadline": row["deadline"].isoformat(),
        "overdue": overdue,
        "days_overdue": days_overdue(row["deadline"], as_of) if overdue else 0,
        "status": str(RECTIFICATION_STATUS_LABELS.get(row["status"], row["status"])),
        "unit": row["responsible_unit"],
        "person": row["responsible_person"],
    }


def rank_townships(tasks: list[dict], rectifications: list[dict]) -> list[dict]:
    """Townships by overdue rows plus open rectifications, worst first; equal counts share a rank."""
    by_code: dict[str, dict] = {}

    def township(entry):
        return by_code.setdefault(
            entry["township_code"],
            {
                "code": entry["township_code"],
                "name": entry["township"],
                "overdue_tasks": 0,
                "open_rectifications": 0,
                "overdue_rectifications": 0,
            },
        )

    for task in tasks:
        township(task)["overdue_tasks"] += 1
    for rect in rectifications:
        row = township(rect)
        row["open_rectifications"] += 1
        row["overdue_rectifications"] += rect["overdue"]
    for row in by_code.values():
        row["total"] = row["overdue_tasks"] + row["open_rectifications"]
    rows = sorted(by_code.values(), key=lambda r: (-r["total"], -r["overdue_tasks"], r["code"]))
    return _ranked(rows, key=lambda r: (r["total"], r["overdue_tasks"]))


def rank_people(tasks: list[dict]) -> list[dict]:
    """Responsible people (a name within a unit) by overdue rows, worst first; equal counts share a rank."""
    by_person: dict[tuple[str, str], dict] = {}
    for task in tasks:
        row = by_person.setdefault(
            (task["unit"], task["person"]),
            {
                "person": task["person"] or NO_PERSON,
                "unit": task["unit"],
                "overdue_tasks": 0,
                "longest_days": 0,
                "townships": [],
            },
        )
        row["overdue_tasks"] += 1
        row["longest_days"] = max(row["longest_days"], task["days_overdue"])
        if task["township"] not in row["townships"]:
            row["townships"].append(task["township"])
    for row in by_person.values():
        row["townships"] = "、".join(row["townships"])
    rows = sorted(by_person.values(), key=lambda r: (-r["overdue_tasks"], -r["longest_days"], r["unit"], r["person"]))
    return _ranked(rows, key=lambda r: r["overdue_tasks"])


def _ranked(rows: list[dict], key) -> list[dict]:
    """Number sorted rows 1, 2, 2, 4 …: rows with the same key share the rank of the first of them."""
    previous, rank = object(), 0
    for position, row in enumerate(rows, start=1):
        if key(row) != previous:
            rank, previous = position, key(row)
        row["rank"] = rank
    return rows


def draft_title(period_start: datetime.date, period_end: datetime.date) -> str:
    if (period_start.year, period_start.month) == (period_end.year, period_end.month):
        period = f"{period_start.year}年{period_start.month}月"
    else:
        period = f"{cn_date(period_start)}至{cn_date(period_end)}"
    return f"关于{period}脱贫攻坚施工图任务推进情况的通报"


def draft_body(snapshot: dict, *, issuer_name: str) -> str:
    """The body the generation proposes, in the words of an office bulletin; the person edits it."""
    as_of = datetime.date.fromisoformat(snapshot["as_of"])
    totals = snapshot["totals"]
    if totals["overdue_tasks"]:
        tasks = (
            f"全区施工图任务逾期未完成{totals['overdue_tasks']}项（其中本期新增{totals['new_overdue_tasks']}项），"
            f"涉及{totals['townships_with_overdue']}个乡镇（街道）、{totals['people_with_overdue']}名责任人"
        )
    else:
        tasks = "全区施工图任务无逾期未完成项目"
    if totals["open_rectifications"]:
        rects = (
            f"督查发现问题尚未整改销号{totals['open_rectifications']}项，"
            f"其中超过整改时限{totals['overdue_rectifications']}项"
        )
    else:
        rects = "督查发现问题均已整改销号"
    paragraphs = [f"截至{cn_date(as_of)}，{tasks}；{rects}。"]
    if baseline := totals.get("baseline_overdue_tasks"):
        paragraphs.append(
            f"按原定完成时限计，全区施工图任务原定逾期（含延期完成）{baseline}项，"
            "其中完成时限经变更的任务仍按原定时限计算。"
        )
    worst = [t for t in snapshot["townships"] if t["total"]][:3]
    if worst:
        names = "、".join(
            f"{t['name']}（逾期任务{t['overdue_tasks']}项、未销号问题{t['open_rectifications']}项）" for t in worst
        )
        paragraphs.append(f"逾期任务和未销号问题较多的乡镇（街道）：{names}。")
    if totals["overdue_tasks"] or totals["open_rectifications"]:
        paragraphs.append(
            "请各乡镇（街道）和各责任单位对照附表逐项核实，倒排工期、限期完成，"
            f"整改情况于下期通报前报{issuer_name}。对整改不力、逾期未完成的，将按程序提请问责。"
        )
    else:
        paragraphs.append("请各乡镇（街道）和各责任单位保持工作力度，确保施工图任务按期完成。")
    return "\n\n".join(paragraphs)


def issuer_name(district_name: str, issuer: str) -> str:
    """The issuing office with the district's name: 区脱贫办 → 巴州区脱贫办."""
    label = str(Organiser(issuer).label) if issuer in Organiser.values else issuer
    return district_name + label[1:] if label.startswith("区") else label


def masthead(district_name: str) -> str:
    return f"{district_name}脱贫攻坚工作通报"


# ---------------------------------------------------------------------------------------------
# Reading a bulletin: what the pages print (and ``supervision.exports`` puts in the Excel file)
# ---------------------------------------------------------------------------------------------


@dataclass
class Report:
    """A bulletin as the pages show it, read from its snapshot only."""

    bulletin: Bulletin
    masthead: str
    issue: str
    issuer_name: str
    as_of: datetime.date | None
    totals: dict
    townships: list
    people: list
    tasks: list
    rectifications: list

    @classmethod
    def of(cls, bulletin: Bulletin) -> Report:
        snapshot = bulletin.snapshot or {}
        as_of = snapshot.get("as_of")
        return cls(
            bulletin=bulletin,
            masthead=masthead(bulletin.district.name),
            issue=f"{bulletin.year}年第{bulletin.number}期",
            issuer_name=issuer_name(bulletin.district.name, bulletin.issuer),
            as_of=datetime.date.fromisoformat(as_of) if as_of else None,
            totals=snapshot.get("totals", {}),
            townships=snapshot.get("townships", []),
            people=snapshot.get("people", []),
            tasks=snapshot.get("tasks", []),
            rectifications=snapshot.get("rectifications", []),
        )

    @property
    def full_title(self) -> str:
        return f"{self.masthead} {self.issue}"

    @property
    def is_draft(self) -> bool:
        return self.bulletin.state == Bulletin.State.DRAFT
