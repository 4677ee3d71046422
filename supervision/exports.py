"""The overdue list (逾期任务清单) out: the review queue's rows, with its filters and order, as an .xlsx.

:func:`queue_rows_for_export` yields the rows as dicts (one query, streamed); :func:`render_queue` writes them with
the shared workbook pieces (``bazhou.core.xlsx``). The view takes the same query string as the queue page
(``supervision:queue``), so the button there downloads exactly the list on the screen, every page of it.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator

from django.contrib.auth.decorators import login_required
from django.views.decorators.http import require_GET

from bazhou.core import clock
from bazhou.core.models import ExportLog
from bazhou.core.xlsx.downloads import xlsx_download
from bazhou.core.xlsx.writer import Column, PageSetup, StreamingWorkbook, style_id, write_header
from supervision import services
from supervision.forms import QueueFilterForm
from tasks.exports import CATEGORY_LABELS, STATUS_LABELS, head_name

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
            "days": (today - deadline).days,
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
    area = user.area.name if user.area else "全部"
    title = f"{area}施工图任务{label}清单"
    file, count = render_queue(rows, today, title)
    return xlsx_download(
        request, file, f"{title}.xlsx", kind=ExportLog.Kind.OVERDUE, area=f"{area} {label}", rows=count, personal=True
    )
