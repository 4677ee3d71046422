"""The one table (施工图) out: a row generator, and the .xlsx renderer the office prints and hangs on the wall.

:func:`plan_table_rows` yields the rows of a district's, a township's or a village's plan of a year as plain
dicts: the task rows grouped by township and village (village rows first, then each household's rows), a fund
subtotal row after each village (and after each township, for a district), and the total. It runs three queries
whatever the size (the tasks, their fund lines in the same order, merged as they stream; and nothing else), and
holds one row at a time. The page export, the API (JSON or .xlsx) and the tests all read these rows.

:func:`render_plan_table` writes them with :class:`bazhou.core.xlsx.StreamingWorkbook` into a temporary file: title,
two-row header, one column per area level, fund sources, responsibility and progress, the 编号 and 版本 columns
the import uses to find each row again (grey, not printed), drop-down lists on the choice columns, frozen header,
landscape print fitted to the page width with the header on every page, and a sheet of instructions.
:func:`render_plan_template` writes the same layout without rows: the import template.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, F, Max, OuterRef, Subquery, Sum
from django.db.models.functions import Abs

from bazhou.core.models import ExportLog
from bazhou.core.xlsx.writer import (
    STYLES,
    Column,
    StreamingWorkbook,
    number_width,
    printed_table,
    render_template,
    style_id,
)
from households.models import Member
from tasks.models import Category, FundLine, FundSource, Task, is_overdue_values
from villages.areas import AreaScope

KIND_VILLAGE = "一村一案"
KIND_HOUSEHOLD = "一户一策"
SOURCE_SHORT = {
    "central": "中央财政",
    "province": "省级财政",
    "city": "市级财政",
    "district": "区级财政",
    "integrated": "统筹整合",
    "sector": "行业部门",
    "social": "社会帮扶",
    "local": "镇村配套",
    "self": "群众自筹",
    "finance": "金融扶贫",
}
SOURCES = list(FundSource.values)
FUNDS_GROUP = "计划资金（万元）"
KEY_GROUP = "导入用，请勿修改"
BASELINE_GROUP = "原定与变更"
CATEGORY_LABELS = {value: str(label) for value, label in Category.choices}
STATUS_LABELS = {value: str(label) for value, label in Task.Status.choices}

# The one table's columns, left to right. ``key`` is the row dict's key; the import finds columns by header.
COLUMNS = [
    Column("seq", "序号", 7, "int"),  # 6 digits; wider when the table holds more rows
    Column("township", "乡镇", 10, "center", group="区域"),
    Column("village", "村", 10, "center", group="区域"),
    Column("kind", "计划类型", 9, "center", choices=[KIND_VILLAGE, KIND_HOUSEHOLD]),
    Column("household", "户编号", 17, "text", group=KIND_HOUSEHOLD),
    Column("head", "户主", 8, "center", group=KIND_HOUSEHOLD),
    Column("category", "类别", 11, "center", choices=list(CATEGORY_LABELS.values())),
    Column("item", "项目", 24, "wrap"),
    Column("quantity", "数量", 8, "number", group="建设规模"),
    Column("unit", "单位", 6, "center", group="建设规模"),
    Column("deadline", "完成时限", 11, "date"),
    Column("planned_funds", "合计", 11, "money", group=FUNDS_GROUP),
    *[Column(f"fund_{source}", SOURCE_SHORT[source], 9, "money", group=FUNDS_GROUP) for source in SOURCES],
    Column("invested_funds", "已投入资金（万元）", 11, "money", printed="已投入资金\n（万元）"),
    Column("responsible_unit", "责任单位", 16, "wrap", group="责任主体"),
    Column("responsible_person", "责任人", 8, "center", group="责任主体"),
    Column("responsible_phone", "联系电话", 13, "center", group="责任主体"),
    Column("status", "状态", 8, "center", group="完成情况", choices=list(STATUS_LABELS.values())),
    Column("progress", "进度（%）", 7, "int", group="完成情况", printed="进度\n（%）"),
    Column("completed_on", "完成日期", 11, "date", group="完成情况"),
    Column("overdue", "是否逾期", 6, "flag", group="完成情况", printed="是否\n逾期"),
    # The approved baseline beside the current deadline (empty while the plan is a draft), and how many approved
    # change requests moved the row. Computed, not read by the import.
    Column("baseline_deadline", "原定完成时限", 11, "date", group=BASELINE_GROUP, printed="原定\n完成时限"),
    Column("change_count", "变更次数", 6, "int", group=BASELINE_GROUP, printed="变更\n次数"),
    Column("id", "编号", 8, "key", group=KEY_GROUP, key_column=True),
    Column("version", "版本", 6, "key", group=KEY_GROUP, key_column=True),
    # Rollover (结转, tasks.rollover): the origin row's plan year and 编号 ("2017年 #123"), empty for other rows. Like
    # 编号 it names a row by its id, so it sits beside it, after the printed wall table (not printed, not imported).
    Column("carried_from", "结转自", 12, "center", key_column=True),
]
KEYS = [c.key for c in COLUMNS]
MONEY_KEYS = ["planned_funds", *(f"fund_{s}" for s in SOURCES), "invested_funds"]
SHEET = "施工图"
FREEZE = (4, 3)  # the title, subtitle and two header rows; 序号 to 村
ZERO = Decimal("0")


@dataclass(frozen=True, kw_only=True)
class PlanTableScope(AreaScope):
    """Which plan table: ``user``'s view of the district, a township or a village, for ``year``.

    Build it with :func:`tasks.excel_views.plan_table_scope` (the page's and the API's), which picks the area
    with ``villages.areas.chosen_area``; the rows are read through :meth:`AreaScope.rows` (seen by the user and in
    the area, both).
    """

    year: int

    @property
    def title(self) -> str:
        return f"{self.area_name}{self.year}年脱贫攻坚“一村一案”“一户一策”施工图"

    @property
    def file_name(self) -> str:
        return f"{self.area_name}{self.year}年施工图.xlsx"

    @property
    def log_area(self) -> str:
        return f"{self.area_name} {self.year}年"

    def export_log(self, rows: int) -> dict:
        """What the export log says of this table with ``rows`` task rows (:func:`record_export`'s keywords)."""
        return {"kind": ExportLog.Kind.PLAN_TABLE, "area": self.log_area, "rows": rows, "personal": True}

    def tasks(self):
        return self.rows(Task.objects.live().filter(plan__year=self.year))


ORDER = ("plan__village__township__code", "plan__village__code", "household__number", "deadline", "id")


def _ordering(prefix: str = "") -> list:
    township, village, household, deadline, pk = (f"{prefix}{name}" for name in ORDER)
    return [township, village, F(household).asc(nulls_first=True), deadline, pk]


def head_name():
    """The name of the head of the row's household (a subquery, to annotate task rows with)."""
    heads = Member.objects.filter(household=OuterRef("household"), is_active=True, relation=Member.Relation.HEAD)
    return Subquery(heads.order_by("id").values("name")[:1])


TASK_FIELDS = (
    "id",
    "version",
    "plan__village__township__name",
    "plan__village__name",
    "household__number",
    "head_name",
    "category",
    "item",
    "quantity",
    "unit",
    "deadline",
    "baseline_deadline",
    "change_count",
    "planned_funds",
    "invested_funds",
    "responsible_unit",
    "responsible_person",
    "responsible_phone",
    "status",
    "progress",
    "completed_on",
    "carried_from_id",
    "carried_from__plan__year",
)


class _Sums:
    __slots__ = ("funds", "rows")

    def __init__(self):
        self.funds = dict.fromkeys(MONEY_KEYS, ZERO)
        self.rows = 0

    def add(self, row: dict) -> None:
        self.rows += 1
        funds = self.funds
        for key in MONEY_KEYS:
            value = row[key]
            if value is not None:
                funds[key] += value


def plan_table_rows(scope: PlanTableScope, today: datetime.date, *, chunk_size: int = 2000) -> Iterator[dict]:
    """The rows of the one table, in print order: task rows, village and township subtotals, the total.

    Every row is a dict with the keys of :data:`COLUMNS` plus ``row_type`` (``task``, ``village_subtotal``,
    ``township_subtotal`` or ``total``) and, for subtotal rows, ``rows`` (how many task rows they sum).
    Categories, statuses and the plan type are the Chinese labels the table shows; money is in 万元 (Decimal);
    ``overdue`` is a bool. Three queries, streamed.
    """
    tasks = scope.tasks()
    task_rows = (
        tasks.annotate(head_name=head_name()).order_by(*_ordering()).values_list(*TASK_FIELDS).iterator(chunk_size)
    )
    lines = (
        FundLine.objects.filter(task__in=tasks.values("id"))
        .order_by(*_ordering("task__"), "source")
        .values_list("task_id", "source", "amount")
        .iterator(chunk_size)
    )
    pending = next(lines, None)
    by_township = scope.level == "district"
    by_village = scope.level != "village"
    village_sums = township_sums = None
    total = _Sums()
    current_village = current_township = None
    seq = 0  # the 序号 of task rows (subtotal rows are not numbered)
    for (
        pk,
        version,
        township,
        village,
        household,
        head,
        category,
        item,
        quantity,
        unit,
        deadline,
        baseline_deadline,
        change_count,
        planned,
        invested,
        r_unit,
        r_person,
        r_phone,
        status,
        progress,
        completed_on,
        carried_from_id,
        carried_from_year,
    ) in task_rows:
        funds = dict.fromkeys(SOURCES)
        while pending is not None and pending[0] == pk:
            funds[pending[1]] = pending[2]
            pending = next(lines, None)
        if (township, village) != current_village:
            if village_sums is not None and by_village:
                yield _subtotal("village_subtotal", current_village[0], f"{current_village[1]} 小计", village_sums)
            if township != current_township:
                if township_sums is not None and by_township:
                    yield _subtotal("township_subtotal", f"{current_township} 合计", "", township_sums)
                township_sums = _Sums()
                current_township = township
            village_sums = _Sums()
            current_village = (township, village)
        seq += 1  # noqa: SIM113
        row = {
            "row_type": "task",
            "seq": seq,
            "township": township,
            "village": village,
            "kind": KIND_HOUSEHOLD if household else KIND_VILLAGE,
            "household": household or "",
            "head": head or "",
            "category": CATEGORY_LABELS.get(category, category),
            "item": item,
            "quantity": quantity,
            "unit": unit,
            "deadline": deadline,
            # The approved baseline (empty while the plan is a draft) and how many approved changes moved the row.
            "baseline_deadline": baseline_deadline,
            "change_count": change_count,
            "planned_funds": planned,
            **{f"fund_{source}": amount for source, amount in funds.items()},
            "invested_funds": invested,
            "responsible_unit": r_unit,
            "responsible_person": r_person,
            "responsible_phone": r_phone,
            "status": STATUS_LABELS.get(status, status),
            "progress": progress,
            "completed_on": completed_on,
            # The table holds live rows only (PlanTableScope.tasks).
            "overdue": is_overdue_values(status=status, deadline=deadline, is_removed=False, today=today),
            "carried_from": f"{carried_from_year}年 #{carried_from_id}" if carried_from_id else "",
            "id": pk,
            "version": version,
        }
        village_sums.add(row)
        township_sums.add(row)
        total.add(row)
        yield row
    if village_sums is not None and by_village:
        yield _subtotal("village_subtotal", current_village[0], f"{current_village[1]} 小计", village_sums)
    if township_sums is not None and by_township:
        yield _subtotal("township_subtotal", f"{current_township} 合计", "", township_sums)
    label = f"{scope.area_name} {'总计' if by_township else '合计'}"
    yield _subtotal(
        "total", label if scope.level != "village" else "", label if scope.level == "village" else "", total
    )


def _subtotal(row_type: str, township: str, village: str, sums: _Sums) -> dict:
    row = dict.fromkeys(KEYS)
    row.update(sums.funds)
    for source in SOURCES:  # a source no row uses stays blank rather than 0.00 in every subtotal
        if not row[f"fund_{source}"]:
            row[f"fund_{source}"] = None
    row.update({"row_type": row_type, "township": township, "village": village, "rows": sums.rows})
    row["item"] = f"共 {sums.rows} 项"
    return row


def is_summary_label(text: str) -> bool:
    """Whether a 乡镇 or 村 cell names a subtotal or total row (the import skips those rows)."""
    return text.endswith(("小计", "合计", "总计"))


# ---------------------------------------------------------------------------------------------
# The .xlsx renderer
# ---------------------------------------------------------------------------------------------


def _row_styles() -> dict[str, list[int]]:
    task = [style_id(c.style) for c in COLUMNS]
    styles = {"task": task}
    for row_type, name in (("village_subtotal", "subtotal"), ("township_subtotal", "subtotal"), ("total", "total")):
        styles[row_type] = [
            style_id(f"{name}_money" if c.key in MONEY_KEYS else name) if c.key not in ("id", "version") else task[i]
            for i, c in enumerate(COLUMNS)
        ]
    return styles


@dataclass(frozen=True)
class Extent:
    """The largest value each numeric column of a table will hold (the widths are made for them): how many task
    rows (the last 序号), the magnitude of each money column's total (the largest cell of the column: the total row,
    the amounts being sums), and the largest quantity, progress and change count."""

    rows: int = 0
    largest: dict = field(default_factory=dict)


def plan_table_extent(scope: PlanTableScope) -> Extent:
    """The :class:`Extent` of ``scope``'s table: two aggregate queries (the task rows; their fund lines by source)."""
    tasks = scope.tasks()
    figures = tasks.aggregate(
        rows=Count("id"),
        planned_funds=Sum(Abs("planned_funds")),
        invested_funds=Sum(Abs("invested_funds")),
        quantity=Max(Abs("quantity")),
        progress=Max("progress"),
        change_count=Max("change_count"),
    )
    by_source = (
        FundLine.objects.filter(task__in=tasks.values("id"))
        .values("source")
        .annotate(total=Sum(Abs("amount")))
        .values_list("source", "total")
    )
    largest = {key: value for key, value in figures.items() if key != "rows"}
    largest["seq"] = figures["rows"]
    largest.update({f"fund_{source}": total for source, total in by_source})
    return Extent(rows=figures["rows"], largest=largest)


# The styles a numeric column's widest cell is written in: money in the bold of the subtotal and total rows.
WIDEST_STYLE = dict.fromkeys(MONEY_KEYS, "total_money")


def plan_table_widths(extent: Extent) -> list[float]:
    """Each column's width: its own, or wider where its largest value (``extent``) would not show in full
    (Excel shows ``###`` for a number wider than its column): 序号 of a province, a district's totals at 10×."""
    widths = []
    for column in COLUMNS:
        width = column.width
        largest = extent.largest.get(column.key)
        if largest is not None and STYLES[column.style].num_fmt:
            width = max(width, number_width(largest, WIDEST_STYLE.get(column.key, column.style)))
        widths.append(width)
    return widths


PROGRESS_EVERY = 500


def render_plan_table(
    scope: PlanTableScope, today: datetime.date, fileobj=None, *, progress=None
) -> tuple[object, int]:
    """The one table as an .xlsx in a temporary file (rewound), and how many task rows it holds.

    ``progress``, if given, is called as ``progress(done, total=rows, phase=...)`` every :data:`PROGRESS_EVERY`
    task rows and at the end (what it raises, e.g. a cancelled job, propagates)."""
    extent = plan_table_extent(scope)
    book = StreamingWorkbook(fileobj)
    styles = _row_styles()
    keys = KEYS
    overdue_at = keys.index("overdue")
    count = 0
    as_of = f"截至{today.year}年{today.month}月{today.day}日"
    subtitle = f"{as_of}　　资金单位：万元　　逾期：超过完成时限仍未完成"
    layout = {
        "freeze": FREEZE,
        "title": scope.title,
        "subtitle": subtitle,
        "instructions": instructions(scope.year),
        "widths": plan_table_widths(extent),
        "head": f"{scope.area_name}{scope.year}年施工图",
        "head_right": f"{as_of}　资金单位：万元",
    }
    if progress is not None:
        progress(0, total=extent.rows, phase=PHASE)
    with printed_table(book, SHEET, COLUMNS, **layout) as sheet:
        for row in plan_table_rows(scope, today):
            values = [row[key] for key in keys]
            values[overdue_at] = "是" if values[overdue_at] else None
            row_type = row["row_type"]
            if row_type == "task":
                count += 1
                if progress is not None and count % PROGRESS_EVERY == 0:
                    progress(count, total=extent.rows, phase=PHASE)
            sheet.row(values, styles[row_type])
    file = book.close()
    if progress is not None:
        progress(count, total=extent.rows, phase=PHASE)
    return file, count


PHASE = "写入 Excel"


def render_plan_template(scope: PlanTableScope) -> object:
    """The import template: the one table's layout without rows, with drop-down lists and instructions."""
    return render_template(
        SHEET,
        COLUMNS,
        freeze=FREEZE,
        title=f"{scope.area_name}{scope.year}年施工图任务导入模板",
        subtitle="每行一项任务。新增任务不填“编号”“版本”；修改已有任务请先导出施工图，在导出的表格中修改后导入。",
        instructions=instructions(scope.year),
    )


INSTRUCTIONS = [
    "施工图任务导入填写说明",
    "",
    "一、适用范围",
    "1. 本表用于把施工图任务（一村一案的村级任务、一户一策的户级任务）导入系统；只能导入您有权修改的村和户。",
    "2. 导入分两步：上传后系统先列出将新增、修改的每一行和每个错误（预览），确认后才一次写入；"
    "有任何错误时一行也不写入。",
    "",
    "二、各列填写要求",
    "乡镇、村：新增村级任务时必填，须与系统中的名称一致；户级任务可只填户编号。",
    "计划类型：一村一案（村级任务）或一户一策（户级任务），可不填，由是否填写户编号决定。",
    "户编号：一户一策的任务必填，须为本村已登记的贫困户；户主一列仅供查看，导入时不读取。",
    "类别、状态：从下拉列表中选择。",
    "项目：必填，最多 200 字。",
    "数量：数字，最多 2 位小数；单位如 公里、亩、处、户、人。",
    "完成时限、完成日期：日期，如 2017-08-31。已完成（已验收）的任务须填完成日期，进度为 100。",
    "计划资金：单位万元，最多 4 位小数（即精确到元）。填写资金来源时，各来源之和须等于合计。",
    "已投入资金：单位万元，不能超过计划资金。",
    "进度（%）：0–100 的整数；未启动的任务进度为 0。",
    "是否逾期、原定完成时限、变更次数、小计、合计、总计各行：由系统计算，导入时不读取。",
    "",
    "三、编号和版本（修改已有任务）",
    "1. 导出的施工图最右两列“编号”“版本”是系统用来找到每一行的，请勿修改；新增任务这两列留空。",
    "2. 再次导入导出的表格时，系统按编号更新原有任务，不会重复新增；没有改动的行不做任何修改。",
    "3. 如果某行在导出后已被他人修改（版本不一致），该行作为冲突列出，不会覆盖他人的修改：请重新导出后再修改。",
    "4. 已批准的施工图修改完成时限、资金或新增任务时，系统自动记录原因“Excel 导入：文件名”。",
    "",
    "四、限制",
    "1. 只接受 .xlsx 文件（旧版 .xls 请先另存为 .xlsx），不接受公式：请把公式“选择性粘贴”为数值。",
    "2. 文件大小、行数有上限（见导入页面）。导入不会删除或撤销任务：撤销请在施工图页面操作。",
]


def instructions(year: int) -> list[str]:
    """The lines of the sheet 填写说明, with the plan year's."""
    lines = list(INSTRUCTIONS)
    lines.insert(
        5, f"3. 导入时选择计划年度（如 {year} 年）：新增的任务写入该村该年度的施工图，没有施工图时自动新建（草稿）。"
    )
    return lines
