"""通报 (bulletins), what they read: who sees which bulletin, the rows of a district, the snapshot, the wording.

一月一督查、一月一通报、一月一整改: a supervisor or district admin generates a bulletin for a period. The
generation reads the overdue plan rows and the open rectifications of the district as of the period's end
(today, for the period still running), counts what went overdue within the period (本期新增), ranks the
townships (by overdue rows and by overdue rate), the responsible units and people (equal figures share a rank,
printed 并列), and keeps all of it in ``Bulletin.snapshot``; a draft body is written in Chinese for the person to
edit. Publishing gives it its 文号 and makes it read-only: the pages, the print page, the Excel and the Word files
only ever read the snapshot (:class:`Report`), so a published bulletin says the same thing whatever happens to
the data later. The 通报 itself carries the rankings and the rows overdue longest; the full lists are its
attachments (附件, :data:`ATTACHMENTS`).

Who sees what: everyone signed in sees the published bulletins of their own district; supervisors and
district admins also see and edit the drafts (``Bulletin.objects.visible_to`` / ``editable_by``). Anything else is
a 404.

The bulletin modules: this one (access, reads shared with the daily run in ``supervision.notifications``,
the snapshot, the draft wording, the presenter); ``supervision.bulletin_services`` (generate, edit,
publish); ``supervision.forms`` (the generate and edit forms); ``supervision.bulletin_views`` (the pages);
``supervision.exports`` (the Excel tables and the download); ``supervision.bulletin_docx`` (the Word file).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property

from django.db.models import BooleanField, CharField, Count, ExpressionWrapper, F, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

from bazhou.core import access
from bazhou.core.access import AreaPaths
from households.models import Member
from supervision.models import Bulletin, Finding, MonthlySnapshot, Organiser, Rectification, rectification_is_overdue
from supervision.snapshots import area_key, effective_by_month, month_label, month_of, months_back
from tasks.models import (
    Category,
    Task,
    baseline_overdue_q,
    days_overdue,
    is_baseline_overdue_values,
    is_overdue_values,
    live_q,
    overdue_on_q,
    overdue_q,
    past_deadline_q,
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
    """The overdue rows and open rectifications of ``district`` as of ``as_of``, and the rankings.

    Three queries whatever the size of the district: the overdue rows (with village, township and the
    household head), the open rectifications (with their target's township) and each township's rows due by
    ``as_of`` (the base of its overdue rate). Everything else is counted from those lists. Dates are ISO
    strings and labels are stored as text, so the snapshot reads the same whatever later changes in the code
    or the data.
    """
    task_rows = list(_overdue_task_rows(district, period_start, as_of))
    tasks = [_task_entry(row, as_of) for row in task_rows if _is_overdue(row, as_of)]
    rectifications = [_rectification_entry(row, as_of) for row in _open_rectification_rows(district, as_of)]
    townships = rank_townships(tasks, rectifications, due=_due_by_township(district, as_of))
    units = rank_units(tasks)
    people = rank_people(tasks)
    return {
        "as_of": as_of.isoformat(),
        "period_start": period_start.isoformat(),
        "totals": {
            "overdue_tasks": len(tasks),
            # Against the original deadline (原定逾期, 延期完成 included), whatever the current deadline says.
            "baseline_overdue_tasks": sum(1 for row in task_rows if _is_baseline_overdue(row, as_of)),
            # New in the period: went overdue within it (overdue on its last day, not yet on the eve of its first).
            "new_overdue_tasks": sum(1 for t in tasks if t["new"]),
            "open_rectifications": len(rectifications),
            "overdue_rectifications": sum(1 for r in rectifications if r["overdue"]),
            "townships_with_overdue": sum(1 for t in townships if t["overdue_tasks"]),
            "units_with_overdue": len(units),
            "people_with_overdue": len(people),
        },
        "townships": townships,
        "units": units,
        "people": people,
        "tasks": tasks,
        "rectifications": rectifications,
        "month_on_month": month_on_month(district, as_of),
    }


# 较上月: the bulletin cites the district's monthly snapshots (supervision.snapshots) taken by its day.
CITED = ("rows_overdue", "done_percent", "rows_done", "rows_total")


def month_on_month(district, as_of: datetime.date) -> dict | None:
    """The district's latest monthly snapshot taken by ``as_of`` and the one of the month before it (a correction
    replaces its original, marked), with the change (较上月) of the overdue rows and the completion % (1 query). None
    without two snapshots."""
    rows = MonthlySnapshot.objects.filter(
        area_key=area_key(district=district), as_of__lte=as_of, month__gt=months_back(month_of(as_of), 12)
    ).order_by("month", "pk")
    months = effective_by_month(rows.only("pk", "month", "as_of", "figures", "corrects", "correction_reason"))
    if len(months) < 2:
        return None
    entries = []
    for month in sorted(months)[-2:]:
        entry = months[month]
        figures = entry["figures"]
        entries.append(
            {
                "month": f"{month:%Y-%m}",
                "label": month_label(month),
                "as_of": figures.get("as_of"),
                "corrected": entry["corrected"],
                "reason": entry["reason"],
                **{name: figures.get(name) for name in CITED},
            }
        )
    previous, current = entries
    done = (current["done_percent"], previous["done_percent"])
    return {
        "current": current,
        "previous": previous,
        "change": {
            "rows_overdue": (current["rows_overdue"] or 0) - (previous["rows_overdue"] or 0),
            "done_percent": str(Decimal(done[0]) - Decimal(done[1])) if None not in done else None,
        },
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


def _overdue_task_rows(district, period_start: datetime.date, as_of: datetime.date):
    """The rows overdue on ``as_of`` or overdue against their original deadline (one query; the Python twins
    tell which is which), each with whether it was already overdue on the eve of the period (``overdue_before``):
    a row overdue on ``as_of`` that was not went overdue within the period (本期新增). A row due on the eve goes
    overdue on the period's first day and is new; one due on the day before the eve was overdue already."""
    eve = period_start - datetime.timedelta(days=1)
    return (
        tasks_in(district)
        .filter(overdue_q(as_of) | baseline_overdue_q(as_of))
        .annotate(
            head_name=_head_of("household"),
            overdue_before=ExpressionWrapper(overdue_on_q(eve), output_field=BooleanField()),
        )
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
            "overdue_before",
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
        "new": not row["overdue_before"],
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


def _due_by_township(district, as_of: datetime.date) -> dict[str, dict]:
    """Every township of ``district`` (code → name and the number of its live rows whose deadline passed by
    ``as_of``, the base of the overdue rate), one query."""
    prefix = "villages__plans__tasks__"
    rows = (
        Township.objects.filter(district=district)
        .annotate(due=Count("villages__plans__tasks", filter=live_q(prefix) & past_deadline_q(as_of, prefix)))
        .order_by("code")
        .values("code", "name", "due")
    )
    return {row["code"]: row for row in rows}


def overdue_rate(overdue: int, due: int) -> float:
    """Overdue rows per hundred rows due (逾期率, %), one decimal; 0 when nothing was due."""
    return round(100 * overdue / due, 1) if due else 0.0


def rank_townships(tasks: list[dict], rectifications: list[dict], due: dict[str, dict] | None = None) -> list[dict]:
    """Every township by its overdue rows, worst first, with its overdue rate (逾期率: overdue rows per hundred
    rows due by the day) and the rank of that rate; equal figures share a rank (并列, dense: 1, 2, 2, 3).

    ``due`` is :func:`_due_by_township`: the townships without anything overdue are ranked too (last).
    """
    by_code: dict[str, dict] = {}

    def township(code, name):
        return by_code.setdefault(
            code,
            {
                "code": code,
                "name": name,
                "due_tasks": 0,
                "overdue_tasks": 0,
                "open_rectifications": 0,
                "overdue_rectifications": 0,
            },
        )

    for row in (due or {}).values():
        township(row["code"], row["name"])["due_tasks"] = row["due"]
    for task in tasks:
        township(task["township_code"], task["township"])["overdue_tasks"] += 1
    for rect in rectifications:
        row = township(rect["township_code"], rect["township"])
        row["open_rectifications"] += 1
        row["overdue_rectifications"] += rect["overdue"]
    for row in by_code.values():
        row["total"] = row["overdue_tasks"] + row["open_rectifications"]
        # Every overdue row was due: a base smaller than the count (no ``due`` given) is the count itself.
        row["due_tasks"] = max(row["due_tasks"], row["overdue_tasks"])
        row["overdue_rate"] = overdue_rate(row["overdue_tasks"], row["due_tasks"])
    _ranked(list(by_code.values()), key=lambda r: r["overdue_rate"], field="rate_rank")
    rows = sorted(by_code.values(), key=lambda r: (-r["overdue_tasks"], -r["overdue_rate"], r["code"]))
    return _ranked(rows, key=lambda r: r["overdue_tasks"])


def rank_units(tasks: list[dict]) -> list[dict]:
    """Responsible units (责任单位) by overdue rows, worst first, with their longest overdue row and how many
    people and townships they have overdue rows in; equal counts share a rank (并列)."""
    by_unit: dict[str, dict] = {}
    for task in tasks:
        row = by_unit.setdefault(
            task["unit"],
            {"unit": task["unit"], "overdue_tasks": 0, "longest_days": 0, "people": set(), "townships": []},
        )
        row["overdue_tasks"] += 1
        row["longest_days"] = max(row["longest_days"], task["days_overdue"])
        row["people"].add(task["person"])
        if task["township"] not in row["townships"]:
            row["townships"].append(task["township"])
    for row in by_unit.values():
        row["people"] = len(row["people"])
        row["townships"] = "、".join(row["townships"])
    rows = sorted(by_unit.values(), key=lambda r: (-r["overdue_tasks"], -r["longest_days"], r["unit"]))
    return _ranked(rows, key=lambda r: r["overdue_tasks"])


def rank_people(tasks: list[dict]) -> list[dict]:
    """Responsible people (a name within a unit) by overdue rows, worst first; equal counts share a rank (并列)."""
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


def _ranked(rows: list[dict], key, field: str = "rank") -> list[dict]:
    """Dense ranks of sorted rows (1, 2, 2, 3): rows with the same key share a rank, and ``<field>_tied`` says
    whether it is shared (printed 并列). ``rows`` must be sorted by ``key`` (either way) unless only the ranks
    matter: they are given by the distinct keys, worst (largest) first."""
    keys = sorted({key(row) for row in rows}, reverse=True)
    rank_of = {k: n for n, k in enumerate(keys, start=1)}
    counts: dict = {}
    for row in rows:
        counts[key(row)] = counts.get(key(row), 0) + 1
    for row in rows:
        row[field] = rank_of[key(row)]
        row[f"{field}_tied"] = counts[key(row)] > 1
    return rows


def longest_overdue(tasks: list[dict], size: int = 10) -> list[dict]:
    """The ``size`` rows overdue longest (the body's 逾期时间最长的任务), with dense ranks by days (并列)."""
    rows = sorted(tasks, key=lambda t: (-t["days_overdue"], t["township_code"], t["village"], t["id"]))[:size]
    return _ranked([dict(t) for t in rows], key=lambda t: t["days_overdue"])


def draft_title(period_start: datetime.date, period_end: datetime.date) -> str:
    if (period_start.year, period_start.month) == (period_end.year, period_end.month):
        period = f"{period_start.year}年{period_start.month}月"
    else:
        period = f"{cn_date(period_start)}至{cn_date(period_end)}"
    return f"关于{period}脱贫攻坚施工图任务推进情况的通报"


def tied(rank: int, is_tied: bool) -> str:
    """A rank as a bulletin prints it: “3”, or “并列3” when it is shared."""
    return f"并列{rank}" if is_tied else str(rank)


def draft_body(snapshot: dict, *, issuer_name: str) -> str:
    """The body the generation proposes, in the words of an office bulletin; the person edits it.

    The figures and rankings are printed as tables beside it (表1 乡镇排名, 表2 逾期时间最长的任务); the full
    lists are the attachments (附件1–3)."""
    as_of = datetime.date.fromisoformat(snapshot["as_of"])
    totals = snapshot["totals"]
    if totals["overdue_tasks"]:
        tasks = (
            f"全区施工图任务逾期未完成{totals['overdue_tasks']}项（其中本期新增{totals['new_overdue_tasks']}项），"
            f"涉及{totals['townships_with_overdue']}个乡镇（街道）、"
            f"{totals.get('units_with_overdue', 0)}个责任单位、{totals['people_with_overdue']}名责任人"
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
    worst = [t for t in snapshot["townships"] if t["overdue_tasks"]][:3]
    if worst:
        names = "、".join(
            f"{t['name']}（逾期{t['overdue_tasks']}项，逾期率{t.get('overdue_rate', 0):.1f}%）" for t in worst
        )
        paragraphs.append(f"逾期任务较多的乡镇（街道）：{names}。各乡镇（街道）排名见表1。")
    units = snapshot.get("units", [])[:3]
    if units:
        names = "、".join(f"{u['unit'] or '未填写责任单位'}（{u['overdue_tasks']}项）" for u in units)
        paragraphs.append(f"逾期任务较多的责任单位：{names}。逾期时间最长的任务见表2。")
    if totals["overdue_tasks"] or totals["open_rectifications"]:
        paragraphs.append(
            "请各乡镇（街道）和各责任单位对照附件逐项核实，倒排工期、限期完成，"
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


# The issuing office in a 文号: “巴脱贫办督〔2017〕12号”.
DOCUMENT_ISSUER = {
    Organiser.POVERTY_OFFICE: "脱贫办",
    Organiser.INSPECTION_OFFICE: "督查室",
    Organiser.CONGRESS: "人大",
    Organiser.CPPCC: "政协",
    Organiser.DISCIPLINE: "纪委",
    Organiser.THIRD_PARTY: "评估",
}


def document_number(district_name: str, issuer: str, year: int, seq: int) -> str:
    """A bulletin's 文号: the district's first character, the office, 督 (supervision), the year in 〔〕, the
    number: 巴州区, 区脱贫办, 2017, 12 → “巴脱贫办督〔2017〕12号”."""
    return f"{district_name[:1]}{DOCUMENT_ISSUER.get(issuer, '')}督〔{year}〕{seq}号"


# ---------------------------------------------------------------------------------------------
# Reading a bulletin: what the pages print (and ``supervision.exports`` puts in the Excel file)
# ---------------------------------------------------------------------------------------------


# The attachments (附件) of a bulletin: the full lists, printed apart from the 通报 itself (a sheet each in the
# Excel file, after a page break in the Word file, on request on the print page).
ATTACHMENTS = (
    ("tasks", "逾期未完成的施工图任务清单"),
    ("responsible", "责任单位和责任人逾期任务情况"),
    ("rectifications", "尚未整改销号的问题清单"),
)
LONGEST_SIZE = 10


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
    units: list
    people: list
    tasks: list
    rectifications: list
    month_on_month: dict | None = None  # 较上月, from the monthly snapshots (bulletins generated before them: None)

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
            units=snapshot.get("units", []),
            people=snapshot.get("people", []),
            tasks=snapshot.get("tasks", []),
            rectifications=snapshot.get("rectifications", []),
            month_on_month=snapshot.get("month_on_month"),
        )

    @property
    def month_on_month_text(self) -> str:
        """较上月, as the page, the print page (and the Word file) print it; empty without two monthly snapshots."""
        m = self.month_on_month
        if not m:
            return ""
        current, previous, delta = m["current"], m["previous"], m["change"]
        done = current["done_percent"] if current["done_percent"] is not None else "—"
        if delta["done_percent"] is None:
            done_change = "无可比"
        else:
            points = Decimal(delta["done_percent"])
            done_change = f"{'提高' if points > 0 else '降低'} {abs(points)} 个百分点" if points else "持平"
        overdue = delta["rows_overdue"]
        overdue_change = f"增加 {overdue} 项" if overdue > 0 else f"减少 {-overdue} 项" if overdue < 0 else "持平"
        text = (
            f"据月度快照，{current['label']}全区施工图任务完成率 {done}%、逾期未完成 {current['rows_overdue']} 项；"
            f"较上月（{previous['label']}），完成率{done_change}，逾期任务{overdue_change}。"
        )
        for entry in (current, previous):
            if entry["corrected"]:
                text += f"（{entry['label']}快照已更正：{entry['reason']}）"
        return text

    @property
    def full_title(self) -> str:
        return f"{self.masthead} {self.issue}"

    @property
    def is_draft(self) -> bool:
        return self.bulletin.state == Bulletin.State.DRAFT

    @property
    def document_number(self) -> str:
        """The 文号; a draft has none yet (“发布时编号”)."""
        return self.bulletin.doc_number or ("（发布时编号）" if self.is_draft else "")

    @cached_property
    def longest(self) -> list[dict]:
        """The rows overdue longest (表2 of the body)."""
        return longest_overdue(self.tasks, LONGEST_SIZE)

    @property
    def paragraphs(self) -> list[str]:
        """The body's paragraphs (blank lines apart; a single line break stays within its paragraph)."""
        text = (self.bulletin.body or "").replace("\r\n", "\n")
        return [p.strip() for p in text.split("\n\n") if p.strip()]

    @property
    def attachments(self) -> list[dict]:
        """The attachments' numbers, titles and sizes (the 附件 list under the signature)."""
        sizes = {
            "tasks": f"{len(self.tasks)}项",
            "responsible": f"{len(self.units)}个单位、{len(self.people)}名责任人",
            "rectifications": f"{len(self.rectifications)}项",
        }
        return [
            {"number": n, "key": key, "title": title, "size": sizes[key]}
            for n, (key, title) in enumerate(ATTACHMENTS, start=1)
        ]
