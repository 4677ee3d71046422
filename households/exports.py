"""The household register (贫困户花名册) out: one row per registered member, with the household's facts on each row.

:func:`register_rows` yields the rows as dicts (two queries, streamed: the members with their household, village
and township; nothing else); :func:`render_register` writes them as an .xlsx. ID numbers are in full only for the
roles that may see them (``access.sees_id_numbers``); everyone else gets 511902********1234, and the export log says
which. The same layout, empty, is the household import's template (:func:`render_register_template`); 户编号 and
身份证号 find the household and the member again, 户版本 and 成员版本 tell a row changed since the export.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import Case, Value, When

from bazhou.core import access, idnumbers
from bazhou.core.xlsx.writer import (
    Column,
    StreamingWorkbook,
    number_width,
    printed_table,
    render_template,
    style_id,
)
from households.models import Cause, Household, Member
from households.services import HOUSEHOLD_FIELDS, MEMBER_FIELDS
from villages.areas import AreaScope

YES, NO = "是", "否"
SHEET = "贫困户花名册"


def _labels(choices) -> list[str]:
    return [str(label) for _, label in choices]


AREA = "区域"
HOUSEHOLD = "户基本情况"
LIVING = "生产生活条件"
MEMBER = "家庭成员"
KEY_GROUP = "导入用，请勿修改"
YES_NO = [YES, NO]

COLUMNS = [
    Column("seq", "序号", 6, "int"),
    Column("township", "乡镇", 10, "center", group=AREA),
    Column("village", "村", 10, "center", group=AREA),
    Column("number", "户编号", 18, "text", group=HOUSEHOLD),
    Column("group", "组（社）", 7, "center", group=HOUSEHOLD, printed="组\n（社）"),
    Column("phone", "联系电话", 13, "center", group=HOUSEHOLD),
    Column("attribute", "贫困户属性", 13, "center", group=HOUSEHOLD, choices=_labels(Household.Attribute.choices)),
    Column(
        "main_cause",
        "主要致贫原因",
        12,
        "center",
        group=HOUSEHOLD,
        choices=_labels(Cause.choices),
        printed="主要\n致贫原因",
    ),
    Column("other_causes", "其他致贫原因", 14, "wrap", group=HOUSEHOLD),
    Column("identified_year", "识别年度", 7, "int", group=HOUSEHOLD, printed="识别\n年度"),
    Column("status", "脱贫状态", 12, "center", group=HOUSEHOLD, choices=_labels(Household.Status.choices)),
    Column("planned_exit_year", "计划脱贫年度", 9, "int", group=HOUSEHOLD, printed="计划脱贫\n年度"),
    Column("exit_year", "脱贫年度", 7, "int", group=HOUSEHOLD, printed="脱贫\n年度"),
    Column("relapse_year", "返贫年度", 7, "int", group=HOUSEHOLD, printed="返贫\n年度"),
    Column(
        "housing_grade",
        "住房安全等级",
        12,
        "center",
        group=LIVING,
        choices=_labels(Household.HousingGrade.choices),
        printed="住房安全\n等级",
    ),
    Column("safe_water", "饮水安全", 6, "center", group=LIVING, choices=YES_NO, printed="饮水\n安全"),
    Column("electricity", "通生活用电", 7, "center", group=LIVING, choices=YES_NO, printed="通生活\n用电"),
    Column("radio_tv", "通广播电视", 7, "center", group=LIVING, choices=YES_NO, printed="通广播\n电视"),
    Column(
        "road", "入户路类型", 8, "center", group=LIVING, choices=_labels(Household.Road.choices), printed="入户路\n类型"
    ),
    Column("sanitary_toilet", "卫生厕所", 6, "center", group=LIVING, choices=YES_NO, printed="卫生\n厕所"),
    Column("name", "姓名", 9, "center", group=MEMBER),
    Column("sex", "性别", 5, "center", group=MEMBER, choices=_labels(Member.Sex.choices)),
    Column("id_number", "身份证号", 21, "text", group=MEMBER),
    Column(
        "relation",
        "与户主关系",
        10,
        "center",
        group=MEMBER,
        choices=_labels(Member.Relation.choices),
        printed="与户主\n关系",
    ),
    Column("ethnicity", "民族", 6, "center", group=MEMBER),
    Column("education", "文化程度", 11, "center", group=MEMBER, choices=_labels(Member.Education.choices)),
    Column("school", "在校生状况", 11, "center", group=MEMBER, choices=_labels(Member.School.choices)),
    Column("health", "健康状况", 9, "center", group=MEMBER, choices=_labels(Member.Health.choices)),
    Column("labour", "劳动技能", 12, "center", group=MEMBER, choices=_labels(Member.Labour.choices)),
    Column("work", "务工状况", 12, "center", group=MEMBER, choices=_labels(Member.Work.choices)),
    Column("work_months", "务工时间（月）", 9, "int", group=MEMBER, printed="务工时间\n（月）"),
    Column("medical_insurance", "参加医保", 6, "center", group=MEMBER, choices=YES_NO, printed="参加\n医保"),
    Column("pension_insurance", "参加养老保险", 9, "center", group=MEMBER, choices=YES_NO, printed="参加\n养老保险"),
    Column("on_dibao", "享受低保", 6, "center", group=MEMBER, choices=YES_NO, printed="享受\n低保"),
    Column("household_version", "户版本", 6, "key", group=KEY_GROUP, key_column=True),
    Column("member_version", "成员版本", 6, "key", group=KEY_GROUP, key_column=True, printed="成员\n版本"),
]
KEYS = [c.key for c in COLUMNS]
FREEZE = (4, 4)  # the title, subtitle and two header rows; 序号 to 户编号
HOUSEHOLD_CHOICES = {
    "attribute": Household.Attribute,
    "main_cause": Cause,
    "status": Household.Status,
    "housing_grade": Household.HousingGrade,
    "road": Household.Road,
}
MEMBER_CHOICES = {
    "sex": Member.Sex,
    "relation": Member.Relation,
    "education": Member.Education,
    "school": Member.School,
    "health": Member.Health,
    "labour": Member.Labour,
    "work": Member.Work,
}
HOUSEHOLD_FLAGS = ("safe_water", "electricity", "radio_tv", "sanitary_toilet")
MEMBER_FLAGS = ("medical_insurance", "pension_insurance", "on_dibao")
CAUSE_LABELS = {value: str(label) for value, label in Cause.choices}


@dataclass(frozen=True)
class RegisterScope(AreaScope):
    """Which register: ``user``'s view of the district, a township or a village (see :class:`AreaScope`)."""

    @property
    def unmasked(self) -> bool:
        return access.sees_id_numbers(self.user)

    def members(self):
        return self.rows(Member.objects.filter(is_active=True))


def _label_maps() -> dict[str, dict[str, str]]:
    maps = {name: {v: str(label) for v, label in choices.choices} for name, choices in HOUSEHOLD_CHOICES.items()}
    maps.update({name: {v: str(label) for v, label in choices.choices} for name, choices in MEMBER_CHOICES.items()})
    return maps


MEMBER_VALUES = ("household__version", "version", *MEMBER_FIELDS)
HOUSEHOLD_VALUES = ("household__village__township__name", "household__village__name", "household__number")


def register_rows(scope: RegisterScope, *, chunk_size: int = 2000) -> Iterator[dict]:
    """One dict per active member (keys of :data:`COLUMNS`), by township, village, household number, head first.

    Choices are their Chinese labels, flags 是/否, ID numbers masked for roles that may not see them. One query,
    streamed.
    """
    labels = _label_maps()
    household_fields = [f"household__{name}" for name in HOUSEHOLD_FIELDS]
    rows = (
        scope.members()
        .annotate(head_first=Case(When(relation=Member.Relation.HEAD, then=Value(0)), default=Value(1)))
        .order_by(
            "household__village__township__code", "household__village__code", "household__number", "head_first", "id"
        )
        .values_list(*HOUSEHOLD_VALUES, *household_fields, *MEMBER_VALUES)
        .iterator(chunk_size)
    )
    n_household = len(HOUSEHOLD_FIELDS)
    unmasked = scope.unmasked
    for seq, values in enumerate(rows, start=1):
        township, village, number = values[:3]
        household = dict(zip(HOUSEHOLD_FIELDS, values[3 : 3 + n_household], strict=True))
        member = dict(
            zip(("household_version", "member_version", *MEMBER_FIELDS), values[3 + n_household :], strict=True)
        )
        row = {"seq": seq, "township": township, "village": village, "number": number, **household, **member}
        for name in (*HOUSEHOLD_CHOICES, *MEMBER_CHOICES):
            row[name] = labels[name].get(row[name], row[name])
        for name in (*HOUSEHOLD_FLAGS, *MEMBER_FLAGS):
            row[name] = YES if row[name] else NO
        row["other_causes"] = "、".join(CAUSE_LABELS.get(c, c) for c in row["other_causes"] or [])
        if not unmasked:
            row["id_number"] = idnumbers.mask(row["id_number"])
        yield row


PROGRESS_EVERY = 500
PHASE = "写入 Excel"


def register_widths(rows: int) -> list[float]:
    """The columns' widths, 序号 wide enough for the last of ``rows`` (a district at 10× has 700,000 members)."""
    return [max(c.width, number_width(rows, c.style)) if c.key == "seq" else c.width for c in COLUMNS]


def render_register(scope: RegisterScope, today, *, progress=None) -> tuple[object, int]:
    """The register as an .xlsx (a rewound temporary file) and how many member rows it holds.

    ``progress``, if given, is called as ``progress(done, total=members, phase=...)`` every
    :data:`PROGRESS_EVERY` rows and at the end (what it raises, e.g. a cancelled job, propagates)."""
    total = scope.members().count()
    book = StreamingWorkbook()
    title = f"{scope.area_name}建档立卡贫困户花名册"
    masked = "" if scope.unmasked else "　　身份证号已按权限打码"
    as_of = f"截至{today.year}年{today.month}月{today.day}日"
    subtitle = f"{as_of}　　每行一名在册家庭成员{masked}"
    styles = [style_id(c.style) for c in COLUMNS]
    count = 0
    layout = {
        "freeze": FREEZE,
        "title": title,
        "subtitle": subtitle,
        "instructions": INSTRUCTIONS,
        "widths": register_widths(total),
        "head": f"{scope.area_name}贫困户花名册",
        "head_right": as_of,
    }
    if progress is not None:
        progress(0, total=total, phase=PHASE)
    with printed_table(book, SHEET, COLUMNS, **layout) as sheet:
        for row in register_rows(scope):
            sheet.row([row[key] for key in KEYS], styles)
            count += 1
            if progress is not None and count % PROGRESS_EVERY == 0:
                progress(count, total=total, phase=PHASE)
    file = book.close()
    if progress is not None:
        progress(count, total=total, phase=PHASE)
    return file, count


def render_register_template(scope: RegisterScope) -> object:
    return render_template(
        SHEET,
        COLUMNS,
        freeze=FREEZE,
        title=f"{scope.area_name}贫困户花名册导入模板",
        subtitle="每行一名家庭成员，同一户的各行户信息相同。修改已有的户和成员请先导出花名册，在导出的表格中修改后导入。",
        instructions=INSTRUCTIONS,
    )


INSTRUCTIONS = [
    "贫困户花名册导入填写说明",
    "",
    "一、每行一名在册家庭成员；同一户的成员各占一行，户的信息（户编号到卫生厕所各列）在各行中须相同。",
    "二、户编号找到已有的户，身份证号找到户中已有的成员：再次导入导出的花名册只更新改动的内容，不会重复新增。",
    "三、新增户：填写乡镇、村（须是您可以修改的村）和新的户编号；每户须有且只有一名“户主”。",
    "四、身份证号须为18位且校验码正确；同一人不能在两户中同时在册。打码的身份证号（含 *）不能导入。",
    "五、贫困户属性、致贫原因、脱贫状态、住房安全等级、与户主关系等请从下拉列表中选择；是/否 两列填“是”或“否”。",
    "六、其他致贫原因可填多个，用顿号“、”分隔，不能包含主要致贫原因。",
    "七、已脱贫或返贫的户须填脱贫年度，返贫户须填返贫年度，计划脱贫的户须填计划脱贫年度。",
    "八、“户版本”“成员版本”两列请勿修改：导出后若有人在系统中改过该户或成员，该行作为冲突列出，不会覆盖。",
    "九、导入不会删除户或成员；成员迁出、死亡请在系统中办理。只接受 .xlsx 文件，不接受公式。",
]
