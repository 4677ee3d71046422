"""The household register in from Excel: households and their members, one member a row, previewed, then applied
all at once or not at all.

A row's 户编号 finds the household, its 身份证号 the member within it: re-importing an exported register updates
what changed and adds nothing twice. A household or member changed in the system since the export (户版本,
成员版本) is a conflict, never overwritten. New households need a village the user may change; a new member's ID
number must not be active in another household (a person registered twice is a finding, never a silent merge);
every household keeps exactly one head. The import never deletes or deactivates anyone. Masked ID numbers
(511902********1234, from an export for a role that may not see them) cannot be imported.

The preview checks every row in Python with ``households.services.household_check`` / ``member_check`` (a fixed
number of queries); confirming reads the file again and, if it gives exactly the previewed changes, writes them
through ``households.services`` with the reason “Excel 导入：<file name>”.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Exists, OuterRef

from bazhou.core import idnumbers
from bazhou.core.xlsx.importing import (
    ImportPreview,
    ImportRow,
    RowChange,
    already_imported,
    chunks,
    digest,
    import_reason,
    in_column_order,
    refuse_unless_previewed,
    unsaved_copy,
    villages_by_name,
)
from bazhou.core.xlsx.reader import as_bool, as_choice, as_int, locate_header, read_sheet
from households import decisions, services
from households.exports import COLUMNS, HOUSEHOLD_CHOICES, HOUSEHOLD_FLAGS, MEMBER_CHOICES, MEMBER_FLAGS, SHEET
from households.models import Cause, Household, Member
from villages.models import Village

KNOWN = {c.header: c.key for c in COLUMNS if c.key != "seq"}
KNOWN.update({"乡镇（街道）": "township", "户主关系": "relation", "组": "group"})
REQUIRED = ("number", "name", "id_number", "relation")
HEADERS = {c.key: c.header for c in COLUMNS}
CAUSE_VALUES = {str(label): value for value, label in Cause.choices}
YEARS = ("identified_year", "planned_exit_year", "exit_year", "relapse_year")
MEMBER_TEXT = ("name", "ethnicity")
# A duplicate ID number in a household the user does not see: reported without its number, name or village.
OUTSIDE_YOUR_AREA = object()
ELSEWHERE_OUTSIDE = "该身份证号已登记为您的范围以外另一户的在册成员，同一人不能在两户中同时在册。"


def _values(choices) -> dict[str, str]:
    return {str(label): value for value, label in choices.choices}


HOUSEHOLD_LABELS = {name: _values(choices) for name, choices in HOUSEHOLD_CHOICES.items()}
MEMBER_LABELS = {name: _values(choices) for name, choices in MEMBER_CHOICES.items()}
LABELS = {**HOUSEHOLD_LABELS, **MEMBER_LABELS}


@dataclass
class _Household:
    number: str
    first_row: int
    village: Village | None
    existing: Household | None
    data: dict
    version: int | None
    changed: set[str] = field(default_factory=set)


@dataclass
class _Member:
    row: int
    household: str
    existing: Member | None
    data: dict
    version: int | None
    changed: set[str] = field(default_factory=set)


@dataclass
class _Plan:
    preview: ImportPreview
    households: list[_Household] = field(default_factory=list)
    members: list[_Member] = field(default_factory=list)


AGAIN = "再次导入不会重复新增：户按户编号、成员按身份证号核对，没有修改的算作“没有变化”。"
PROGRESS_EVERY = 500


def preview_register_import(*, user, content: bytes, file_name: str, year=None, progress=None) -> ImportPreview:
    """Every household and member the upload would create or update, and every error; writes nothing. A file
    imported before (the same bytes) is said so in the notes. ``progress(done, total, phase)`` is called every few
    hundred rows (phases “读取文件”, “检查”)."""
    preview = _evaluate(user=user, content=content, file_name=file_name, progress=progress).preview
    note = already_imported("households", content, AGAIN)
    if note:
        preview.notes.insert(0, note)
    return preview


@transaction.atomic
def apply_register_import(
    *, user, content: bytes, file_name: str, fingerprint: str, year=None, stored=None, progress=None
) -> ImportPreview:
    """Write the previewed changes in one transaction, or nothing (see tasks.imports.apply_plan_import). The
    register's rows are written one by one through the services, which check each again, so the file is read and
    checked again here and compared with the preview (``stored``, the kept preview, is not used).
    ``progress(done, total, phase)`` is called every few hundred rows (phases “读取文件”, “检查”, “写入”)."""
    plan = _evaluate(user=user, content=content, file_name=file_name, progress=progress)
    preview = plan.preview
    refuse_unless_previewed(preview, fingerprint)
    reason = import_reason(file_name)
    # One edit for the exit decisions (households.decisions): the households and villages it touches are judged
    # before the first write and after the last, so a flip gives one alert, whatever order the rows are written in.
    with decisions.watching(user=user, source=decisions.Source.IMPORT, reason=reason, detail=reason):
        decisions.watch_households([op.existing.pk for op in plan.households if op.existing is not None])
        decisions.watch_villages([op.village.pk for op in plan.households])
        _write(plan, user=user, reason=reason, progress=progress)
    return preview


def _write(plan: _Plan, *, user, reason: str, progress=None) -> None:
    ids: dict[str, int] = {}
    total = len(plan.households) + len(plan.members)
    done = 0

    def step():
        nonlocal done
        done += 1
        if progress is not None and (done % PROGRESS_EVERY == 0 or done == total):
            progress(done, total=total, phase="写入")

    if progress is not None:
        progress(0, total=total, phase="写入")
    for op in plan.households:
        if op.existing is None:
            household = services.household_create(
                user=user, village_id=op.village.pk, number=op.number, data=op.data, reason=reason
            )
        elif op.changed:
            household = services.household_update(
                household_id=op.existing.pk, user=user, expected_version=op.version, data=op.data, reason=reason
            )
        else:
            household = op.existing
        ids[op.number] = household.pk
        step()
    # Whoever stops being the head first, so that a household never has two heads on the way.
    updates = [op for op in plan.members if op.existing is not None and op.changed]
    updates.sort(key=lambda op: op.data.get("relation") == Member.Relation.HEAD)
    for op in updates:
        services.member_update(
            member_id=op.existing.pk, user=user, expected_version=op.version, data=op.data, reason=reason
        )
        step()
    for op in plan.members:
        if op.existing is None:
            services.member_create(household_id=ids[op.household], user=user, data=op.data, reason=reason)
            step()


# ---------------------------------------------------------------------------------------------
# Reading and checking
# ---------------------------------------------------------------------------------------------


class _Row(ImportRow):
    HEADERS = HEADERS

    def __init__(self, number: int, values: list, columns: dict[str, int], headers: dict[str, str]):
        super().__init__(number, values, columns, headers)
        self.household: dict = {}
        self.member: dict = {}
        self.household_version = self.member_version = None

    def read(self) -> None:
        if not self.texts.get("number"):
            self.problem("number", "请填写户编号。")
        for key in self.raw:
            if key in ("township", "village", "number"):
                continue
            if key == "household_version":
                self.household_version = self.take(key, as_int)
            elif key == "member_version":
                self.member_version = self.take(key, as_int)
            elif key in LABELS:
                value = self.take(key, as_choice, choices=LABELS[key])
                target = self.household if key in HOUSEHOLD_LABELS else self.member
                if value is not None:
                    target[key] = value
            elif key in HOUSEHOLD_FLAGS or key in MEMBER_FLAGS:
                value = self.take(key, as_bool)
                if value is not None:
                    (self.household if key in HOUSEHOLD_FLAGS else self.member)[key] = value
            elif key in YEARS:
                self.household[key] = self.take(key, as_int)
            elif key == "work_months":
                value = self.take(key, as_int)
                if value is not None:
                    self.member[key] = value
            elif key == "other_causes":
                self.household[key] = self._causes()
            elif key == "id_number":
                self.member[key] = idnumbers.normalize(self.texts[key])
            elif key in ("group", "phone"):
                self.household[key] = self.texts[key]
            elif key in MEMBER_TEXT and (self.texts[key] or key == "name"):
                self.member[key] = self.texts[key]
        id_number = self.member.get("id_number", "")
        if not id_number:
            self.problem("id_number", "请填写身份证号。")
        elif "*" in id_number:
            self.problem("id_number", "身份证号已打码，不能导入：请由能看到完整身份证号的人员导出后修改。")
        if not self.member.get("name"):
            self.problem("name", "请填写姓名。")
        if "relation" in self.raw and not self.texts.get("relation"):
            self.problem("relation", "请选择与户主关系。")
        if "identified_year" in self.raw and not self.texts.get("identified_year"):
            self.problem("identified_year", "请填写识别年度。")

    def _causes(self) -> list[str]:
        text = self.texts.get("other_causes", "")
        causes = []
        for part in filter(None, (p.strip() for p in text.replace("，", "、").replace(",", "、").split("、"))):
            if part not in CAUSE_VALUES:
                self.problem("other_causes", f"其他致贫原因“{part}”不在致贫原因列表中：{'、'.join(CAUSE_VALUES)}。")
                continue
            causes.append(CAUSE_VALUES[part])
        return causes


def _header(sheet):
    return locate_header(sheet, KNOWN, REQUIRED, anchor="户编号")


def _evaluate(*, user, content: bytes, file_name: str, progress=None) -> _Plan:
    preview = ImportPreview(kind="households", file_name=file_name)
    result = _Plan(preview)
    sheet = read_sheet(content, sheet_name=SHEET, header=_header, progress=progress)
    rows = _Row.rows_of(sheet)
    for row in rows:
        row.read()
    numbers = sorted({r.texts["number"] for r in rows if r.texts.get("number")})
    id_numbers = sorted({r.member["id_number"] for r in rows if r.member.get("id_number")})
    households: dict[str, Household] = {}
    members: dict[str, list[Member]] = {}
    taken: set[str] = set()
    active_elsewhere: dict[str, object] = {}  # ID number → its household's number, or OUTSIDE_YOUR_AREA
    for chunk in chunks(numbers):
        for household in (
            Household.objects.editable_by(user).select_related("village__township").filter(number__in=chunk)
        ):
            households[household.number] = household
        taken.update(Household.objects.filter(number__in=chunk).values_list("number", flat=True))
        for member in Member.objects.filter(
            household__number__in=chunk, household__in=Household.objects.editable_by(user)
        ):
            members.setdefault(member.household_id, []).append(member)
    for chunk in chunks(id_numbers):
        # The household is named only when the user sees it: another area's household number is that area's
        # (it encodes the village), so a duplicate there is reported without it (OUTSIDE_YOUR_AREA).
        seen = Household.objects.visible_to(user).filter(pk=OuterRef("household_id"))
        active_elsewhere.update(
            (id_number, number if visible else OUTSIDE_YOUR_AREA)
            for id_number, number, visible in Member.objects.filter(is_active=True, id_number__in=chunk)
            .annotate(visible=Exists(seen))
            .values_list("id_number", "household__number", "visible")
        )
    villages = villages_by_name(Village.objects.editable_by(user).select_related("township"))

    groups: dict[str, list[_Row]] = {}
    for row in rows:
        if row.texts.get("number"):
            groups.setdefault(row.texts["number"], []).append(row)
    seen_ids: dict[str, int] = {}
    checked = 0
    for number, group in groups.items():
        _check_household(number, group, result, households, members, taken, villages, active_elsewhere, seen_ids)
        if progress is not None and (checked + len(group)) // PROGRESS_EVERY > checked // PROGRESS_EVERY:
            progress(checked + len(group), total=len(rows), phase="检查")
        checked += len(group)
    if progress is not None:
        progress(len(rows), total=len(rows), phase="检查")
    for row in rows:
        preview.problems.extend(row.problems)
    preview.problems.sort(key=lambda p: (p.row, p.column))
    preview.changes.sort(key=lambda c: c.row)
    preview.fingerprint = digest(
        {"households": _writes(result.households, "number"), "members": _writes(result.members, "household")}
    )
    return result


def _writes(ops: list[_Household] | list[_Member], household: str) -> list[tuple]:
    """What the operations that write will write, for the fingerprint (``household``: the attribute naming it)."""
    return [
        (
            getattr(op, household),
            op.existing.pk if op.existing else None,
            op.version,
            op.data if op.existing is None else {k: op.data[k] for k in sorted(op.changed)},
        )
        for op in ops
        if op.existing is None or op.changed
    ]


def _check_household(number, group, result, households, members, taken, villages, active_elsewhere, seen_ids):
    first = group[0]
    if first.problems:
        return
    for row in group[1:]:
        if row.problems:
            continue
        for key, value in row.household.items():
            if first.household.get(key) != value:
                row.problem(key, f"同一户的各行户信息须相同：与第 {first.number} 行不同。")
    if any(row.problems for row in group):
        return
    existing = households.get(number)
    preview = result.preview
    if existing is None:
        if number in taken:
            first.problem("number", f"户编号 {number} 已被使用，且不在您可以修改的范围内。")
            return
        village = first.pick_village(villages)
        if village is None:
            return
        household = Household(village=village, number=number)
        check = services.household_check(household=household, data=first.household)
        if first.report(check.errors):
            return
        op = _Household(number, first.number, village, None, dict(first.household), None)
        label = f"{village.township.name} {village.name} 户 {number}"
        preview.changes.append(RowChange(first.number, "create", "", label, _fields(check.obj, first.household, None)))
        current_members: list[Member] = []
    else:
        village = existing.village
        place = f"{village.township.name}{village.name}"
        if first.names_another_village(village, f"户编号 {number} 属于{place}，导入不能把户改到另一个村。"):
            return
        check = services.household_check(household=unsaved_copy(existing), data=first.household)
        op = _Household(
            number, first.number, village, existing, dict(first.household), first.household_version, check.changed
        )
        if check.changed:
            if _stale(first, "household_version", "户", first.household_version, existing.version):
                return
            if first.report(check.errors):
                return
            label = f"{village.township.name} {village.name} 户 {number}"
            preview.changes.append(
                RowChange(first.number, "update", number, label, _fields(check.obj, check.changed, existing))
            )
        current_members = members.get(existing.pk, [])
    result.households.append(op)

    by_id = {m.id_number: m for m in current_members}
    final_heads = {m.id_number for m in current_members if m.is_active and m.relation == Member.Relation.HEAD}
    for row in group:
        id_number = row.member["id_number"]
        if id_number in seen_ids:
            row.problem("id_number", f"身份证号与第 {seen_ids[id_number]} 行重复。")
            continue
        seen_ids[id_number] = row.number
        member = by_id.get(id_number)
        name = row.member.get("name", "")
        if member is None:
            elsewhere = active_elsewhere.get(id_number)
            if elsewhere is OUTSIDE_YOUR_AREA:
                row.problem("id_number", ELSEWHERE_OUTSIDE)
                continue
            if elsewhere and elsewhere != number:
                row.problem("id_number", f"该身份证号已登记为户 {elsewhere} 的在册成员，同一人不能在两户中同时在册。")
                continue
            new = Member(household=Household(village=village, number=number))
            check = services.member_check(member=new, data=row.member)
            if row.report(check.errors):
                continue
            result.members.append(_Member(row.number, number, None, dict(row.member), None))
            preview.changes.append(
                RowChange(row.number, "create", "", f"户 {number} 成员 {name}", _fields(check.obj, row.member, None))
            )
            if check.obj.relation == Member.Relation.HEAD:
                final_heads.add(id_number)
            continue
        if not member.is_active:
            row.problem("id_number", "该成员已不在册（迁出、死亡或注销），不能通过导入恢复。")
            continue
        check = services.member_check(member=unsaved_copy(member), data=row.member)
        final_heads.discard(id_number)
        if check.obj.relation == Member.Relation.HEAD:
            final_heads.add(id_number)
        if not check.changed:
            preview.unchanged += 1
            continue
        if _stale(row, "member_version", "成员", row.member_version, member.version):
            continue
        if row.report(check.errors):
            continue
        result.members.append(_Member(row.number, number, member, dict(row.member), row.member_version, check.changed))
        preview.changes.append(
            RowChange(
                row.number,
                "update",
                id_number[-4:],
                f"户 {number} 成员 {name}",
                _fields(check.obj, check.changed, member),
            )
        )
    if len(final_heads) != 1 and not any(row.problems for row in group):
        first.problem("relation", f"每户须有且只有一名在册户主（户 {number} 导入后有 {len(final_heads)} 名）。")


def _stale(row: _Row, key: str, what: str, given: int | None, current: int) -> bool:
    """Whether the row's ``key`` version of the 户 or 成员 (``what``) is missing, or no longer the current one
    (someone changed it since the export: it is not overwritten); then a problem of the row."""
    if given is None:
        row.problem(key, f"请保留导出时的“{what}版本”，系统凭它判断该{what}在导出后是否被他人修改。")
        return True
    if given != current:
        row.problem(
            key,
            f"该{what}在导出后已被修改（表中版本 {given}，当前版本 {current}），"
            "为免覆盖他人的修改未导入：请重新导出后再修改。",
        )
        return True
    return False


def _show(name: str, value) -> str:
    if value is None or value == "":
        return ""
    if name in LABELS:
        return next((label for label, v in LABELS[name].items() if v == value), str(value))
    if isinstance(value, bool):
        return "是" if value else "否"
    if name == "other_causes":
        return "、".join(next((label for label, v in CAUSE_VALUES.items() if v == c), c) for c in value)
    return str(value)


ORDER = [c.key for c in COLUMNS]


def _fields(obj, names, before) -> list[tuple[str, str, str]]:
    """(header, before, after) of ``names``, in the order of the columns; for a new row only what is filled in."""
    names = in_column_order(names, ORDER)
    return [
        (HEADERS.get(n, n), _show(n, getattr(before, n)) if before is not None else "", _show(n, getattr(obj, n)))
        for n in names
        if before is not None or getattr(obj, n) not in (None, "", [])
    ]
