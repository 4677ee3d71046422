"""The change ledger (变更台账) out: every decided (approved, rejected) or withdrawn change request of a district, a
township or a village, one file per area, as an .xlsx the office prints.

:func:`ledger_rows` yields the rows as plain dicts (one query, streamed); :func:`render_ledger` writes them with the
``bazhou.core.xlsx`` writer. The area is chosen by ``villages.areas.export_area`` and the rows read through
:meth:`villages.areas.AreaScope.rows` (seen by the user and inside the area, both); the download is written to the
export log.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.decorators import login_required
from django.utils import timezone
from django.views.decorators.http import require_GET

from bazhou.core import clock
from bazhou.core.models import ExportLog
from bazhou.core.templatetags.bazhou import wan_exact
from bazhou.core.xlsx.downloads import xlsx_download
from bazhou.core.xlsx.writer import Column, StreamingWorkbook, printed_table, style_id
from tasks import changes as change_services
from tasks.models import Category, ChangeRequest, FundSource, Task
from villages.areas import AreaForm, AreaScope, export_area

SHEET = "变更台账"
COLUMNS = [
    Column("seq", "序号", 5, "int"),
    Column("township", "乡镇", 10, "center"),
    Column("village", "村", 10, "center"),
    Column("item", "任务", 22, "wrap"),
    Column("kind", "类型", 6, "center"),
    Column("fields", "变更内容（变更前 → 变更后）", 40, "wrap"),
    Column("reason_category", "原因类别", 9, "center"),
    Column("reason", "变更原因", 28, "wrap"),
    Column("requested_by", "申请人", 9, "center"),
    Column("requested_on", "申请日期", 11, "date"),
    Column("state", "结果", 7, "center"),
    Column("decided_by", "审批人", 9, "center"),
    Column("decided_on", "审批日期", 11, "date"),
    Column("note", "审批意见", 20, "wrap"),
    Column("id", "申请编号", 8, "key", key_column=True),
]
KEYS = [c.key for c in COLUMNS]
KINDS = dict(ChangeRequest.Kind.choices)
STATES = dict(ChangeRequest.State.choices)
REASONS = dict(ChangeRequest.ReasonCategory.choices)
CATEGORIES = dict(Category.choices)
SOURCES = dict(FundSource.choices)


@dataclass(frozen=True, kw_only=True)
class LedgerScope(AreaScope):
    """Which ledger: ``user``'s view of the district, a township or a village."""

    @property
    def title(self) -> str:
        return f"{self.area_name}脱贫攻坚施工图变更台账"

    @property
    def file_name(self) -> str:
        return f"{self.area_name}施工图变更台账.xlsx"

    def export_log(self, rows: int) -> dict:
        return {"kind": ExportLog.Kind.OTHER, "area": f"变更台账 {self.area_name}", "rows": rows, "personal": False}

    def requests(self):
        return self.rows(ChangeRequest.objects.closed())


def _label(name: str) -> str:
    return "资金来源" if name == "fund_lines" else str(Task._meta.get_field(name).verbose_name)


def _show(name: str, value) -> str:
    if value in (None, "", []):
        return "（空）"
    if name == "fund_lines":
        return "；".join(
            f"{SOURCES.get(line['source'], line['source'])} {wan_exact(Decimal(line['amount']))}" for line in value
        )
    if name in ("planned_funds", "quantity"):
        return wan_exact(Decimal(value))
    if name == "category":
        return str(CATEGORIES.get(value, value))
    return str(value)


def _fields(request: ChangeRequest) -> str:
    before, after = request.before or {}, request.after or {}
    return "\n".join(
        f"{_label(name)}：{_show(name, before.get(name))} → {_show(name, after.get(name))}"
        for name in change_services.changed_fields(request)
    )


def _day(moment):
    return timezone.localtime(moment).date() if moment else None


def ledger_rows(scope: LedgerScope) -> Iterator[dict]:
    """The ledger's rows, by township, village and decision date (one query, streamed)."""
    requests = (
        scope.requests()
        .select_related("plan__village__township", "requested_by", "decided_by")
        .order_by("plan__village__township__code", "plan__village__code", "decided_at", "id")
    )
    for seq, request in enumerate(requests.iterator(chunk_size=1000), start=1):
        village = request.plan.village
        yield {
            "seq": seq,
            "township": village.township.name,
            "village": village.name,
            "item": (request.after or request.before or {}).get("item", ""),
            "kind": str(KINDS.get(request.kind, request.kind)),
            "fields": _fields(request),
            "reason_category": str(REASONS.get(request.reason_category, request.reason_category)),
            "reason": request.reason,
            "requested_by": request.requested_by.get_full_name() or request.requested_by.username,
            "requested_on": _day(request.requested_at),
            "state": str(STATES.get(request.state, request.state)),
            "decided_by": (request.decided_by.get_full_name() or request.decided_by.username)
            if request.decided_by
            else "",
            "decided_on": _day(request.decided_at),
            "note": request.decision_note,
            "id": request.pk,
        }


INSTRUCTIONS = [
    "变更台账说明",
    "",
    "1. 本表列出已批准、已驳回和已撤回的施工图变更申请（待审批的申请见“变更申请”页面）。",
    "2. 变更内容为申请时的变更前和变更后的值；批准后生效，任务的“原定完成时限”等基线保持不变。",
    "3. 本表只含您有权查看的区域。",
]


def render_ledger(scope: LedgerScope, fileobj=None) -> tuple[object, int]:
    """The ledger as an .xlsx in a temporary file (rewound), and how many requests it lists."""
    book = StreamingWorkbook(fileobj)
    styles = [style_id(c.style) for c in COLUMNS]
    count = 0
    today = clock.today()
    layout = {
        "freeze": (4, 3),
        "title": scope.title,
        "subtitle": f"截至{today.year}年{today.month}月{today.day}日",
        "instructions": INSTRUCTIONS,
    }
    with printed_table(book, SHEET, COLUMNS, **layout) as sheet:
        for row in ledger_rows(scope):
            count += 1
            sheet.row([row[key] for key in KEYS], styles)
    return book.close(), count


@login_required
@require_GET
def change_ledger_xlsx(request):
    """The change ledger of the user's area (or the township / village asked for), logged in the export log."""
    area = export_area(request.user, AreaForm(request.GET))
    scope = LedgerScope(user=request.user, **area)
    file, rows = render_ledger(scope)
    return xlsx_download(request, file, scope.file_name, **scope.export_log(rows))
