"""Supervision's Excel files: the overdue list (逾期任务清单) and a bulletin (通报).

The overdue list is the review queue's rows, with its filters and order: :func:`queue_rows_for_export` yields the
rows as dicts (one query, streamed); :func:`render_queue` writes them with the shared workbook pieces
(``bazhou.core.xlsx``). The view takes the same query string as the queue page (``supervision:queue``), so the
button there downloads exactly the list on the screen, every page of it.

A bulletin is read from its snapshot only (``supervision.bulletin_data.Report``): :func:`bulletin_tables` gives its
body (文号, title, paragraphs, the list of attachments), its tables (表1–3) and its attachments (附件1–3, the full
lists) as rows, :func:`render_bulletin` writes them, one sheet each, and :func:`bulletin_xlsx_response` is the
download of the page and of the API, written to the export log. The Word file is ``supervision.bulletin_docx``.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import quote

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.views.decorators.http import require_GET

from bazhou.core import access, clock
from bazhou.core.exportlog import record_export
from bazhou.core.models import ExportLog
from bazhou.core.xlsx.downloads import xlsx_download
from bazhou.core.xlsx.writer import Column, PageSetup, StreamingWorkbook, fit_widths, style_id, write_header
from supervision import services
from supervision.bulletin_data import Report, cn_date
from supervision.forms import QueueFilterForm
from supervision.models import Bulletin
from tasks.exports import CATEGORY_LABELS, STATUS_LABELS, head_name
from tasks.models import days_overdue

COLUMNS = [
    Column("seq", "序号", 6, "int"),
    Column("township", "乡镇", 10, "center"),
    Column("village", "村", 10, "center"),
    Column("household", "户编号", 18, "text"),
    Column("head", "户主", 8, "center"),
    Column("category", "类别", 11, "center"),
    Column("item", "项目", 26, "wrap"),
    Column("deadline", "完成时限", 11, "date"),
    Column("days", "逾期（天）", 8, "int"),
    Column("status", "状态", 8, "center"),
    Column("progress", "进度（%）", 7, "int"),
    Column("last_progress_on", "最近填报", 11, "date"),
    Column("responsible_unit", "责任单位", 16, "wrap"),
    Column("responsible_person", "责任人", 8, "center"),
    Column("responsible_phone", "联系电话", 13, "center"),
    Column("id", "编号", 8, "key", key_column=True),
]
KEYS = [c.key for c in COLUMNS]
FIELDS = (
    "id",
    "plan__village__township__name",
    "plan__village__name",
    "household__number",
    "head_name",
    "category",
    "item",
    "deadline",
    "status",
    "progress",
    "last_progress_on",
    "responsible_unit",
    "responsible_person",
    "responsible_phone",
)


def queue_rows_for_export(rows, today: datetime.date, *, chunk_size: int = 2000) -> Iterator[dict]:
    """The rows of a review queue (a Task queryset, filtered and ordered), as dicts with the keys of COLUMNS."""
    values = rows.annotate(head_name=head_name()).values_list(*FIELDS).iterator(chunk_size)
    for seq, (pk, township, village, household, head, category, item, deadline, status, *rest) in enumerate(
        values, start=1
    ):
        progress, last_progress_on, unit, person, phone = rest
        yield {
            "seq": seq,
            "township": township,
            "village": village,
            "household": household or "",
            "head": head or "",
            "category": CATEGORY_LABELS.get(category, category),
            "item": item,
            "deadline": deadline,
            "days": days_overdue(deadline, today),
            "status": STATUS_LABELS.get(status, status),
            "progress": progress,
            "last_progress_on": last_progress_on,
            "responsible_unit": unit,
            "responsible_person": person,
            "responsible_phone": phone,
            "id": pk,
        }


def render_queue(rows, today: datetime.date, title: str) -> tuple[object, int]:
    book = StreamingWorkbook()
    styles = [style_id(c.style) for c in COLUMNS]
    count = 0
    with book.sheet(
        "逾期任务清单",
        widths=[c.width for c in COLUMNS],
        freeze=(3, 0),
        page=PageSetup(repeat_rows=(3, 3), print_columns=len(COLUMNS) - 1),
    ) as sheet:
        subtitle = f"截至{today.year}年{today.month}月{today.day}日　　“逾期（天）”为负数的是尚未到期的天数"
        write_header(sheet, title, COLUMNS, subtitle=subtitle)
        for row in queue_rows_for_export(rows, today):
            sheet.row([row[key] for key in KEYS], styles)
            count += 1
    return book.close(), count


def queue_area_name(user, form: QueueFilterForm) -> str:
    """The area the exported queue covers, as its title and the export log name it: the village or township the
    filter picked (the rows are filtered to it), else the user's own area (a 挂包 leader's charge)."""
    if village := form.value("village"):
        township = village.township
        return f"{township.district.name}{township.name}{village.name}"
    if township := form.value("township"):
        return f"{township.district.name}{township.name}"
    area = user.area.name if user.area else "全部"
    if access.charge_of(user) is not None:  # a 挂包 leader's rows are those of their charge, not the whole district
        area = f"{area}挂包片区"
    return area


@login_required
@require_GET
def queue_xlsx(request):
    """The review queue as the page shows it (same filters, same order), all of it, as an .xlsx."""
    user = request.user
    today = clock.today()
    form = QueueFilterForm(request.GET, user=user)
    rows = services.queue_rows(user=user, today=today, view=form.view_name, days=form.days_value)
    rows = form.filter(rows, today).order_by(*form.ordering())
    label = services.QUEUE_VIEWS[form.view_name]
    area = queue_area_name(user, form)
    title = f"{area}{form.year_value}年施工图任务{label}清单"
    file, count = render_queue(rows, today, title)
    return xlsx_download(
        request, file, f"{title}.xlsx", kind=ExportLog.Kind.OVERDUE, area=f"{area} {label}", rows=count, personal=True
    )


# ---------------------------------------------------------------------------------------------
# A bulletin (通报) as an .xlsx: the rankings and the lists of its snapshot, one sheet each
# ---------------------------------------------------------------------------------------------


@dataclass
class Table:
    """One sheet of the Excel file: a title row, a header row, the rows. Rows hold str, int or date."""

    name: str
    title: str
    columns: list[str]
    rows: list[list] = field(default_factory=list)
    wrap: bool = False  # long texts (the body sheet): wrapped in their cells


RANK = "排名"
# The sheets of the Excel file after the body sheet (通报): name, caption, and each column's header and snapshot key
# ("#" numbers the rows, "rank"/"rate_rank" print 并列 when shared, "overdue_rate" is a percentage). The first
# three are the tables of the 通报, the last three its attachments (附件).
SHEETS = [
    (
        "表1乡镇排名",
        "表1 各乡镇（街道）逾期任务排名",
        "townships",
        {
            RANK: "rank",
            "乡镇（街道）": "name",
            "到期任务（项）": "due_tasks",
            "逾期未完成（项）": "overdue_tasks",
            "逾期率": "overdue_rate",
            "逾期率排名": "rate_rank",
            "未销号问题（项）": "open_rectifications",
            "其中超过整改时限（项）": "overdue_rectifications",
        },
    ),
    (
        "表2逾期最长",
        "表2 逾期时间最长的任务",
        "longest",
        {
            RANK: "rank",
            "乡镇（街道）": "township",
            "村": "village",
            "项目": "item",
            "完成时限": "deadline",
            "逾期（天）": "days_overdue",
            "责任单位": "unit",
            "责任人": "person",
        },
    ),
    (
        "表3责任单位排名",
        "表3 责任单位逾期任务排名",
        "units",
        {
            RANK: "rank",
            "责任单位": "unit",
            "逾期任务（项）": "overdue_tasks",
            "最长逾期（天）": "longest_days",
            "责任人（名）": "people",
            "涉及乡镇（街道）": "townships",
        },
    ),
    (
        "附件1逾期任务",
        "附件1 逾期未完成的施工图任务清单",
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
        "附件2责任人",
        "附件2 责任单位和责任人逾期任务情况（责任人）",
        "people",
        {
            RANK: "rank",
            "责任人": "person",
            "责任单位": "unit",
            "逾期任务（项）": "overdue_tasks",
            "最长逾期（天）": "longest_days",
            "涉及乡镇（街道）": "townships",
        },
    ),
    (
        "附件3未销号整改",
        "附件3 尚未整改销号的问题清单",
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
RANK_KEYS = {"rank", "rate_rank"}


def bulletin_title(report: Report) -> str:
    """The title row of each sheet's caption: the masthead, the issue and the 文号 (or that it is a draft)."""
    if report.is_draft:
        return f"{report.full_title}（草稿）"
    return f"{report.full_title}（{report.document_number}）" if report.document_number else report.full_title


def bulletin_tables(report: Report) -> list[Table]:
    """The body sheet and the tables and attachments of a bulletin as rows, apart from any workbook (so tests read
    them plainly)."""
    title = bulletin_title(report)
    as_of = f"（截至{cn_date(report.as_of)}）" if report.as_of else ""
    tables = [Table("通报", f"{title} 通报正文", ["项目", "内容"], _body_rows(report), wrap=True)]
    for name, caption, attribute, columns in SHEETS:
        entries = getattr(report, attribute)
        rows = [
            [_value(entry, key, number) for key in columns.values()] for number, entry in enumerate(entries, start=1)
        ]
        tables.append(Table(name, f"{title} {caption}{as_of}", list(columns), rows))
    return tables


def _body_rows(report: Report) -> list[list]:
    bulletin = report.bulletin
    rows = [
        ["发文机关", report.masthead],
        ["期号", report.issue],
        ["文号", report.document_number],
        ["标题", bulletin.title],
        ["发布单位", report.issuer_name],
        ["发布日期", bulletin.issued_on],
        ["通报期间", f"{cn_date(bulletin.period_start)}至{cn_date(bulletin.period_end)}"],
    ]
    if report.as_of:
        rows.append(["数据截至", report.as_of])
    rows += [[f"正文（{n}）", text] for n, text in enumerate(report.paragraphs, start=1)]
    rows += [
        [f"附件{a['number']}", f"{a['title']}（{a['size']}，见工作表“{a['sheet']}”）"] for a in _attachments(report)
    ]
    return rows


def _attachments(report: Report) -> list[dict]:
    sheets = {
        "tasks": "附件1逾期任务",
        "responsible": "表3责任单位排名、附件2责任人",
        "rectifications": "附件3未销号整改",
    }
    return [{**a, "sheet": sheets[a["key"]]} for a in report.attachments]


def _value(entry: dict, key: str, number: int):
    if key == "#":
        return number
    if key in DATE_KEYS:
        return datetime.date.fromisoformat(entry[key])
    if key in RANK_KEYS:
        rank = entry.get(key)
        if rank is None:
            return ""
        return f"并列{rank}" if entry.get(f"{key}_tied") else rank
    value = entry.get(key, "")
    if key == "overdue_rate" and isinstance(value, int | float):
        return f"{value:.1f}%"
    return "" if value is None else value


def render_bulletin(tables: list[Table]) -> bytes:
    """An .xlsx of ``tables``, one sheet each, written with the shared workbook pieces (``bazhou.core.xlsx``).

    Every text is a typed text cell: a task named “=SUM(A1)” (or “+86…”, “-”, “@…”) stays text and never becomes
    a formula. Column widths fit the widest value, a Chinese character counting double; the title and header
    rows are frozen, and the sheets print landscape on A4, fitted to the page width, the header on every page.
    """
    text, wrap, number, date = (style_id(s) for s in ("text", "wrap", "int", "date"))
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
                        date
                        if isinstance(v, datetime.date)
                        else number
                        if isinstance(v, int)
                        else wrap
                        if table.wrap
                        else text
                        for v in row
                    ]
                    sheet.row(row, styles)
    with book.file as file:
        return file.read()


def attachment_header(filename: str, fallback: str) -> str:
    """Content-Disposition for a download with a Chinese name: an ASCII ``filename`` for old clients and the
    real name in RFC 5987 ``filename*``."""
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def bulletin_xlsx_response(request, bulletin: Bulletin, *, via: str = "page") -> HttpResponse:
    """The bulletin as an .xlsx download (the page's and the API's), written to the export log."""
    report = Report.of(bulletin)
    name = f"{report.masthead}{report.issue}{'（草稿）' if report.is_draft else ''}.xlsx"
    fallback = f"bulletin-{bulletin.year}-{bulletin.number:02d}{'-draft' if report.is_draft else ''}.xlsx"
    log_bulletin_export(request, report, fmt="xlsx", via=via)
    return HttpResponse(
        render_bulletin(bulletin_tables(report)),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": attachment_header(name, fallback)},
    )


def log_bulletin_export(request, report: Report, *, fmt: str, via: str = "page") -> None:
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
