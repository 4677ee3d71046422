"""通报 (bulletins): 第 N 期 of a district and year, generated from the data as of the period's end.

一月一督查、一月一通报、一月一整改: a supervisor or district admin generates a bulletin for a period. The
generation reads the overdue plan rows and the open rectifications of the district as of the period's end
(today, for the period still running), ranks the townships and the responsible people, and keeps all of it
in ``Bulletin.snapshot``; a draft body is written in Chinese for the person to edit. Publishing makes the
bulletin read-only: the pages, the print page and the Excel file only ever read the snapshot, so a
published bulletin says the same thing whatever happens to the data later.

Who sees what: everyone signed in sees the published bulletins of their own district; supervisors and
district admins also see and edit the drafts. Anything else is a 404.

Sections: access, reads shared with the daily run (``supervision.notifications``), the snapshot, the
services (generate, edit, publish), the presenter and Excel tables, forms, views.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import quote

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import CharField, F, Max, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from bazhou.core import clock
from bazhou.core.access import AreaPaths, area_q
from bazhou.core.exportlog import record_export
from bazhou.core.models import ExportLog
from bazhou.core.xlsx.writer import PageSetup, StreamingWorkbook, fit_widths, style_id
from households.models import Member
from supervision.models import Bulletin, Finding, Organiser, Rectification
from tasks.forms import StyledForm, add_service_errors
from tasks.models import Category, Task
from villages.models import District, Township

PUBLISHED_READ_ONLY = "该通报已发布，不能再修改。"
EMPTY_BODY = "正文为空，不能发布。请先填写并保存正文。"
EDITED_MEANWHILE = "该通报在您打开之后已被他人修改，未保存。下面是当前内容，请核对后重新修改。"
EDITED_BEFORE_PUBLISH = "该通报在您打开之后已被他人修改，未发布。请核对当前内容后再发布。"
CHOOSE_DISTRICT = "请选择区县。"
# Two generations that read the same last number both try to take the next one; the unique constraint
# (district, year, number) refuses the second, which reads the number again. A handful of tries is plenty.
NUMBER_ATTEMPTS = 5

# ---------------------------------------------------------------------------------------------
# Access: one place decides who sees and changes which bulletin
# ---------------------------------------------------------------------------------------------

# A bulletin belongs to a district; a township or village user reads their district's bulletins.
# Each of these filters names one township or one village, so it matches at most one row per bulletin.
BULLETIN_PATHS = AreaPaths(district="district", township="district__townships", village="district__townships__villages")


def bulletins_visible_to(user):
    """The published bulletins of the user's district, and the drafts too for supervisors and district admins."""
    bulletins = Bulletin.objects.filter(area_q(user, BULLETIN_PATHS))
    if not can_write_bulletins(user):
        bulletins = bulletins.filter(state=Bulletin.State.PUBLISHED)
    return bulletins


def bulletins_editable_by(user):
    """The bulletins the user may generate, edit and publish (drafts only: see ``_locked_draft``)."""
    if not can_write_bulletins(user):
        return Bulletin.objects.none()
    return Bulletin.objects.filter(area_q(user, BULLETIN_PATHS))


def can_write_bulletins(user) -> bool:
    return bool(user.is_authenticated and user.is_active and user.can_supervise)


def districts_for_bulletins(user):
    """The districts the user may issue bulletins for: their own (a superuser: any)."""
    if not can_write_bulletins(user):
        return District.objects.none()
    if user.is_superuser and not user.district_id:
        return District.objects.all()
    return District.objects.filter(pk=user.district_id)


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
    tasks = [_task_entry(row, as_of) for row in _overdue_task_rows(district, as_of)]
    rectifications = [_rectification_entry(row, as_of) for row in _open_rectification_rows(district, as_of)]
    townships = rank_townships(tasks, rectifications)
    people = rank_people(tasks)
    return {
        "as_of": as_of.isoformat(),
        "period_start": period_start.isoformat(),
        "totals": {
            "overdue_tasks": len(tasks),
            "new_overdue_tasks": sum(1 for t in tasks if t["deadline"] >= period_start.isoformat()),
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


def _head_of(household_path: str) -> Subquery:
    """The name of the active head of the household at ``household_path`` (a subquery, no extra query)."""
    heads = Member.objects.filter(household=OuterRef(household_path), relation=Member.Relation.HEAD, is_active=True)
    return Subquery(heads.values("name")[:1])


def _overdue_task_rows(district, as_of):
    return (
        tasks_in(district)
        .overdue(as_of)
        .annotate(head_name=_head_of("household"))
        .order_by("plan__village__township", "plan__village__code", "deadline", "id")
        .values(
            "id",
            "item",
            "category",
            "deadline",
            "deadline_text",
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
        "days_overdue": (as_of - row["deadline"]).days,
        "status": str(TASK_STATUS_LABELS.get(row["status"], row["status"])),
        "progress": row["progress"],
        "unit": row["responsible_unit"],
        "person": row["responsible_person"],
    }


def _rectification_entry(row: dict, as_of: datetime.date) -> dict:
    overdue = row["deadline"] < as_of
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
        "days_overdue": (as_of - row["deadline"]).days if overdue else 0,
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
# Services: generate, edit, publish
# ---------------------------------------------------------------------------------------------


class BulletinConflict(Exception):
    """Someone saved the draft after the caller loaded it; nothing was changed."""

    def __init__(self, current: Bulletin):
        self.current = current
        super().__init__(f"通报 {current.pk} 已被他人修改。")


def fingerprint(bulletin: Bulletin) -> str:
    """A short digest of what a person edits, to tell whether a draft changed since it was loaded
    (the model has no version number)."""
    content = [bulletin.title, bulletin.issuer, bulletin.issued_on.isoformat(), bulletin.body, bulletin.state]
    return hashlib.sha256(json.dumps(content, ensure_ascii=False).encode()).hexdigest()[:20]


@transaction.atomic
def bulletin_generate(
    *,
    user,
    period_start: datetime.date,
    period_end: datetime.date,
    issuer: str = Organiser.POVERTY_OFFICE,
    district: District | None = None,
    today: datetime.date | None = None,
) -> Bulletin:
    """Generate a draft bulletin, 第 N 期 of the district and year, from the data as of the period's end.

    ``district`` defaults to the user's own (a superuser without one must name it). The year is the issue
    year (today's). Queries: the two reads of :func:`build_snapshot`, then the number and the insert.
    """
    today = today or clock.today()
    if district is None and not user.district_id and can_write_bulletins(user):
        raise ValidationError({"district": CHOOSE_DISTRICT})
    wanted = district.pk if district is not None else user.district_id
    district = get_object_or_404(districts_for_bulletins(user), pk=wanted)
    errors = {}
    if period_end < period_start:
        errors["period_end"] = "通报期间的止日不能早于起日。"
    if period_start > today:
        errors["period_start"] = f"通报期间不能从今天（{cn_date(today)}）之后开始。"
    if issuer not in Organiser.values:
        errors["issuer"] = "请选择发布单位。"
    if errors:
        raise ValidationError(errors)

    as_of = min(period_end, today)
    snapshot = build_snapshot(district=district, period_start=period_start, as_of=as_of)
    bulletin = Bulletin(
        district=district,
        year=today.year,
        title=draft_title(period_start, period_end),
        issuer=issuer,
        issued_on=today,
        period_start=period_start,
        period_end=period_end,
        body=draft_body(snapshot, issuer_name=issuer_name(district.name, issuer)),
        snapshot=snapshot,
        state=Bulletin.State.DRAFT,
        created_by=user,
    )
    return _insert_with_next_number(bulletin)


def _insert_with_next_number(bulletin: Bulletin) -> Bulletin:
    """Insert ``bulletin`` as the next number of its district and year.

    The read of the last number and the insert are not atomic across transactions: two generations may
    both read 2 and both try 3. The unique constraint refuses the second insert (on PostgreSQL it waits
    for the first transaction, then fails); its savepoint is rolled back and it reads the number again.
    """
    for attempt in range(1, NUMBER_ATTEMPTS + 1):
        bulletin.number = next_number(bulletin.district, bulletin.year)
        try:
            with transaction.atomic():
                bulletin.save(force_insert=True)
        except IntegrityError:
            if attempt == NUMBER_ATTEMPTS:
                raise
            bulletin.pk = None
        else:
            return bulletin
    raise AssertionError("unreachable")


def next_number(district: District, year: int) -> int:
    """The number the next bulletin of ``district`` in ``year`` takes: 1 for the first."""
    last = Bulletin.objects.filter(district=district, year=year).aggregate(last=Max("number"))["last"]
    return (last or 0) + 1


@transaction.atomic
def bulletin_update_draft(
    *, bulletin_id: int, user, expected: str, title: str, issuer: str, issued_on: datetime.date, body: str
) -> Bulletin:
    """Change a draft's title, issuing office, issue date and body.

    Raises BulletinConflict if it changed since the caller loaded it (``expected`` is its fingerprint),
    ValidationError if it is published or a value is wrong.
    """
    bulletin = _locked_draft(bulletin_id, user)
    if fingerprint(bulletin) != expected:
        raise BulletinConflict(bulletin)
    bulletin.title = (title or "").strip()
    bulletin.issuer = issuer
    bulletin.issued_on = issued_on
    bulletin.body = (body or "").strip()
    errors = {}
    if issued_on and issued_on.year != bulletin.year:
        errors["issued_on"] = f"本期是{bulletin.year}年第{bulletin.number}期，发布日期须在{bulletin.year}年内。"
    elif issued_on and issued_on < bulletin.period_start:
        errors["issued_on"] = f"发布日期不能早于通报期间起日（{cn_date(bulletin.period_start)}）。"
    try:
        bulletin.full_clean(exclude=["district", "created_by", "published_by"], validate_constraints=False)
    except ValidationError as error:
        errors = {**error.message_dict, **errors}
    if errors:
        raise ValidationError(errors)
    bulletin.save(update_fields=["title", "issuer", "issued_on", "body"])
    return bulletin


@transaction.atomic
def bulletin_publish_draft(*, bulletin_id: int, user, expected: str) -> Bulletin:
    """Publish a draft as it stands: from now on it is read-only."""
    bulletin = _locked_draft(bulletin_id, user)
    if fingerprint(bulletin) != expected:
        raise BulletinConflict(bulletin)
    if not bulletin.body.strip():
        raise ValidationError({"body": EMPTY_BODY})
    bulletin.state = Bulletin.State.PUBLISHED
    bulletin.published_by = user
    bulletin.published_at = timezone.now()
    bulletin.save(update_fields=["state", "published_by", "published_at"])
    return bulletin


def _locked_draft(bulletin_id: int, user) -> Bulletin:
    """The bulletin, locked for the rest of the transaction, if the user may change it and it is a draft."""
    bulletin = get_object_or_404(
        bulletins_editable_by(user).select_for_update(of=("self",)).select_related("district"), pk=bulletin_id
    )
    if bulletin.state != Bulletin.State.DRAFT:
        raise ValidationError(PUBLISHED_READ_ONLY)
    return bulletin


# ---------------------------------------------------------------------------------------------
# Reading a bulletin: what the pages print, and the same tables for Excel
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


@dataclass
class Table:
    """One sheet of the Excel file: a title row, a header row, the rows. Rows hold str, int or date."""

    name: str
    title: str
    columns: list[str]
    rows: list[list] = field(default_factory=list)


# The sheets of the Excel file: name, caption, and each column's header and snapshot key ("#" numbers the rows).
SHEETS = [
    (
        "乡镇排名",
        "附表1 乡镇（街道）排名",
        "townships",
        {
            "排名": "rank",
            "乡镇（街道）": "name",
            "逾期任务（项）": "overdue_tasks",
            "未销号问题（项）": "open_rectifications",
            "其中超过整改时限（项）": "overdue_rectifications",
            "合计": "total",
        },
    ),
    (
        "责任人排名",
        "附表2 逾期任务责任人排名",
        "people",
        {
            "排名": "rank",
            "责任人": "person",
            "责任单位": "unit",
            "逾期任务（项）": "overdue_tasks",
            "最长逾期（天）": "longest_days",
            "涉及乡镇（街道）": "townships",
        },
    ),
    (
        "逾期任务",
        "附表3 逾期未完成的施工图任务",
        "tasks",
        {
            "序号": "#",
            "乡镇（街道）": "township",
            "村": "village",
            "户": "household",
            "类别": "category",
            "项目": "item",
            "完成时限": "deadline",
            "逾期（天）": "days_overdue",
            "状态": "status",
            "进度（%）": "progress",
            "责任单位": "unit",
            "责任人": "person",
        },
    ),
    (
        "未销号整改",
        "附表4 尚未整改销号的问题",
        "rectifications",
        {
            "序号": "#",
            "乡镇（街道）": "township",
            "问题对象": "target",
            "问题类型": "type",
            "问题描述": "description",
            "整改要求": "requirement",
            "整改时限": "deadline",
            "逾期（天）": "days_overdue",
            "整改状态": "status",
            "责任单位": "unit",
            "责任人": "person",
        },
    ),
]
DATE_KEYS = {"deadline"}


def bulletin_tables(report: Report) -> list[Table]:
    """The rankings and the lists of a bulletin as rows, apart from any workbook (so tests read them plainly)."""
    title = report.full_title + ("（草稿）" if report.is_draft else "")
    as_of = f"（截至{cn_date(report.as_of)}）" if report.as_of else ""
    tables = []
    for name, caption, attribute, columns in SHEETS:
        entries = getattr(report, attribute)
        rows = [
            [_value(entry, key, number) for key in columns.values()] for number, entry in enumerate(entries, start=1)
        ]
        tables.append(Table(name, f"{title} {caption}{as_of}", list(columns), rows))
    return tables


def _value(entry: dict, key: str, number: int):
    if key == "#":
        return number
    if key in DATE_KEYS:
        return datetime.date.fromisoformat(entry[key])
    return entry[key]


def render_xlsx(tables: list[Table]) -> bytes:
    """An .xlsx of ``tables``, one sheet each, written with the shared workbook pieces (``bazhou.core.xlsx``).

    Every text is a typed text cell: a task named “=SUM(A1)” (or “+86…”, “-”, “@…”) stays text and never becomes
    a formula. Column widths fit the widest value, a Chinese character counting double; the title and header
    rows are frozen, and the sheets print landscape on A4, fitted to the page width, the header on every page.
    """
    text, number, date = style_id("text"), style_id("int"), style_id("date")
    with StreamingWorkbook() as book:
        for table in tables:
            n = len(table.columns)
            widths = fit_widths(table.columns, table.rows)
            with book.sheet(table.name, widths=widths, freeze=(2, 0), page=PageSetup(repeat_rows=(2, 2))) as sheet:
                sheet.row([table.title] + [None] * (n - 1), style_id("title"), height=24)
                sheet.merge(1, 1, 1, n)
                sheet.row(table.columns, style_id("header"))
                for row in table.rows:
                    styles = [
                        date if isinstance(v, datetime.date) else number if isinstance(v, int) else text for v in row
                    ]
                    sheet.row(row, styles)
    with book.file as file:
        return file.read()


def attachment_header(filename: str, fallback: str) -> str:
    """Content-Disposition for a download with a Chinese name: an ASCII ``filename`` for old clients and the
    real name in RFC 5987 ``filename*``."""
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


# ---------------------------------------------------------------------------------------------
# Forms (they only read and convert; the services decide)
# ---------------------------------------------------------------------------------------------

DATE_ERRORS = {"required": "请填写日期。", "invalid": "请输入有效日期，如 2017-09-01。"}


def _date_field(label: str, **kwargs) -> forms.DateField:
    return forms.DateField(
        label=label,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages=DATE_ERRORS,
        **kwargs,
    )


def _label(name: str) -> str:
    return str(Bulletin._meta.get_field(name).verbose_name)


class BulletinCreateForm(StyledForm, forms.Form):
    district = forms.ModelChoiceField(
        label="区县", queryset=District.objects.none(), error_messages={"required": CHOOSE_DISTRICT}
    )
    period_start = _date_field(_label("period_start"))
    period_end = _date_field(
        _label("period_end"), help_text="截至止日（本期尚未结束的截至今天）统计逾期任务和未销号问题。"
    )
    issuer = forms.ChoiceField(label=_label("issuer"), choices=Organiser.choices)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        if user.district_id:
            del self.fields["district"]
        else:
            self.fields["district"].queryset = districts_for_bulletins(user)


class BulletinEditForm(StyledForm, forms.Form):
    expected = forms.CharField(widget=forms.HiddenInput, error_messages={"required": "页面已过期，请刷新后重试。"})
    title = forms.CharField(
        label=_label("title"),
        max_length=200,
        error_messages={"required": "请填写标题。", "max_length": "标题最多 200 字。"},
    )
    issuer = forms.ChoiceField(label=_label("issuer"), choices=Organiser.choices)
    issued_on = _date_field(_label("issued_on"))
    body = forms.CharField(
        label=_label("body"),
        widget=forms.Textarea(attrs={"rows": 14}),
        required=False,
        strip=False,
        help_text="段落之间空一行。发布后不能再修改。",
    )

    @classmethod
    def of(cls, bulletin: Bulletin) -> BulletinEditForm:
        return cls(
            initial={
                "expected": fingerprint(bulletin),
                "title": bulletin.title,
                "issuer": bulletin.issuer,
                "issued_on": bulletin.issued_on,
                "body": bulletin.body,
            }
        )


# ---------------------------------------------------------------------------------------------
# Views
# ---------------------------------------------------------------------------------------------


@login_required
@require_GET
def bulletin_list(request):
    bulletins = bulletins_visible_to(request.user).select_related("district", "published_by")
    return render(
        request,
        "supervision/bulletin_list.html",
        {"bulletins": list(bulletins), "can_create": districts_for_bulletins(request.user).exists()},
    )


@login_required
@require_http_methods(["GET", "POST"])
def bulletin_create(request):
    if not districts_for_bulletins(request.user).exists():
        raise Http404("页面不存在")
    today = clock.today()
    if request.method == "POST":
        form = BulletinCreateForm(request.POST, user=request.user)
        if form.is_valid():
            data = form.cleaned_data
            try:
                bulletin = bulletin_generate(
                    user=request.user,
                    period_start=data["period_start"],
                    period_end=data["period_end"],
                    issuer=data["issuer"],
                    district=data.get("district"),
                    today=today,
                )
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                messages.success(
                    request, f"已生成通报草稿（{bulletin.year}年第{bulletin.number}期），请核对正文后发布。"
                )
                return redirect("supervision:bulletin", pk=bulletin.pk)
    else:
        form = BulletinCreateForm(
            user=request.user,
            initial={"period_start": today.replace(day=1), "period_end": today, "issuer": Organiser.POVERTY_OFFICE},
        )
    return render(request, "supervision/bulletin_form.html", {"form": form, "today": today})


@login_required
@require_http_methods(["GET", "POST"])
def bulletin_detail(request, pk):
    """A bulletin; for supervisors and district admins, a draft is also its edit form."""
    bulletin = get_object_or_404(_visible(request.user), pk=pk)
    editor = bulletins_editable_by(request.user).filter(pk=bulletin.pk).exists()
    if request.method == "POST" and not editor:
        raise Http404("页面不存在")
    conflict = False
    form = BulletinEditForm.of(bulletin) if editor and bulletin.state == Bulletin.State.DRAFT else None
    if request.method == "POST":
        if bulletin.state != Bulletin.State.DRAFT:
            messages.error(request, PUBLISHED_READ_ONLY)
            return redirect("supervision:bulletin", pk=bulletin.pk)
        form = BulletinEditForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                bulletin_update_draft(
                    bulletin_id=bulletin.pk,
                    user=request.user,
                    expected=data["expected"],
                    title=data["title"],
                    issuer=data["issuer"],
                    issued_on=data["issued_on"],
                    body=data["body"],
                )
            except BulletinConflict as error:
                bulletin, conflict = error.current, True
                form = BulletinEditForm.of(bulletin)
            except ValidationError as error:
                if error.messages == [PUBLISHED_READ_ONLY]:
                    messages.error(request, PUBLISHED_READ_ONLY)
                    return redirect("supervision:bulletin", pk=bulletin.pk)
                add_service_errors(form, error)
            else:
                messages.success(request, "通报草稿已保存。")
                return redirect("supervision:bulletin", pk=bulletin.pk)
    context = {
        "report": Report.of(bulletin),
        "bulletin": bulletin,
        "form": form,
        "expected": fingerprint(bulletin),
        "conflict": EDITED_MEANWHILE if conflict else "",
    }
    status = 409 if conflict else 200
    return render(request, "supervision/bulletin_detail.html", context, status=status)


@login_required
@require_POST
def bulletin_publish(request, pk):
    bulletin = get_object_or_404(bulletins_editable_by(request.user), pk=pk)
    try:
        bulletin_publish_draft(bulletin_id=bulletin.pk, user=request.user, expected=request.POST.get("expected", ""))
    except BulletinConflict:
        messages.error(request, EDITED_BEFORE_PUBLISH)
    except ValidationError as error:
        messages.error(request, "；".join(error.messages))
    else:
        messages.success(request, f"已发布{bulletin.year}年第{bulletin.number}期通报。发布后不能再修改。")
    return redirect("supervision:bulletin", pk=bulletin.pk)


@login_required
@require_GET
def bulletin_print(request, pk):
    bulletin = get_object_or_404(_visible(request.user), pk=pk)
    report = Report.of(bulletin)
    _log_export(request, report, fmt="print")
    return render(request, "supervision/bulletin_print.html", {"report": report, "bulletin": bulletin})


@login_required
@require_GET
def bulletin_xlsx(request, pk):
    return xlsx_response(request, get_object_or_404(_visible(request.user), pk=pk))


def xlsx_response(request, bulletin: Bulletin, *, via: str = "page") -> HttpResponse:
    """The bulletin as an .xlsx download (the page's and the API's), written to the export log."""
    report = Report.of(bulletin)
    name = f"{report.masthead}{report.issue}{'（草稿）' if report.is_draft else ''}.xlsx"
    fallback = f"bulletin-{bulletin.year}-{bulletin.number:02d}{'-draft' if report.is_draft else ''}.xlsx"
    _log_export(request, report, fmt="xlsx", via=via)
    return HttpResponse(
        render_xlsx(bulletin_tables(report)),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": attachment_header(name, fallback)},
    )


def _visible(user):
    return bulletins_visible_to(user).select_related("district", "published_by", "created_by")


def _log_export(request, report: Report, *, fmt: str, via: str = "page") -> None:
    """The export log: a bulletin names responsible people and household heads, so it is personal data."""
    record_export(
        request.user,
        kind=ExportLog.Kind.BULLETIN,
        area=f"{report.bulletin.district.name} {report.issue}{'（草稿）' if report.is_draft else ''}",
        rows=len(report.tasks) + len(report.rectifications),
        personal=True,
        fmt=fmt,
        via=via,
        request=request,
    )
