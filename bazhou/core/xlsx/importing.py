"""What every import shares (the plan rows, the household register): the preview of what would change, its
fingerprint, and :class:`ImportRow`, the base of a row read from a sheet."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.utils import timezone

from bazhou.core.models import ImportBatch
from bazhou.core.text import has_illegal, illegal_message, is_blank
from bazhou.core.xlsx.reader import (
    CellError,
    HeaderMap,
    SheetData,
    as_text,
    check_row_count,
    column_letter,
)

FORMULA_MESSAGE = "该单元格是公式，系统不接受公式（无法确定其数值）：请复制后“选择性粘贴”为数值，再重新上传。"

# ---------------------------------------------------------------------------------------------
# What both imports share: finding the columns, the preview, the workbook returned with bad cells marked
# ---------------------------------------------------------------------------------------------


@dataclass
class Problem:
    """An error in an uploaded table: Excel row number and column letter ("" for the whole row or file)."""

    row: int
    column: str
    header: str
    message: str

    @property
    def where(self) -> str:
        if not self.row:
            return "文件"
        return f"第 {self.row} 行" + (f" {self.column} 列（{self.header}）" if self.column else "")


@dataclass
class RowChange:
    """A row an import will create or update, and for an update each changed field: (header, before, after)."""

    row: int
    action: str  # "create" or "update"
    key: str  # what the row is: its 编号 / 户编号, or "" for a new row
    label: str  # where and what, as a person reads it
    fields: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass
class ImportPreview:
    """What confirming an upload would do: every row to create or update, every error, and a digest of the changes.

    Stored as JSON in the import batch between the preview and the confirmation, with (``apply``) the validated
    result the confirmation writes: the file is read and checked once, at the preview.
    """

    kind: str
    file_name: str
    year: int | None = None
    problems: list[Problem] = field(default_factory=list)
    changes: list[RowChange] = field(default_factory=list)
    unchanged: int = 0
    notes: list[str] = field(default_factory=list)  # e.g. plans that will be opened
    warnings: list[Problem] = field(default_factory=list)  # worth a look, never blocking (e.g. duplicate rows)
    fingerprint: str = ""
    # After confirming: (Excel row, id, version) of each row the file names without its id or with a version the
    # import moved on (new rows, rows found by their import key, updated rows), written back into the workbook
    # handed out after the import (its 编号 and 版本), so that the user continues from that file.
    written: list[list[int]] = field(default_factory=list)
    # The validated result the confirmation applies without reading the file again (each kind of import keeps its
    # own layout, with a version "v"); {} when there is none (errors; applied; an import that reads the file again).
    apply: dict = field(default_factory=dict)

    @property
    def creates(self) -> list[RowChange]:
        return [c for c in self.changes if c.action == "create"]

    @property
    def updates(self) -> list[RowChange]:
        return [c for c in self.changes if c.action == "update"]

    @property
    def changed_cells(self) -> int:
        """How many cells of existing rows change (each field of each updated row counts once)."""
        return sum(len(c.fields) for c in self.updates)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict:
        return {
            "kind": self.kind,
            "file_name": self.file_name,
            "year": self.year,
            "problems": [[p.row, p.column, p.header, p.message] for p in self.problems],
            "changes": [[c.row, c.action, c.key, c.label, [list(f) for f in c.fields]] for c in self.changes],
            "unchanged": self.unchanged,
            "notes": self.notes,
            "warnings": [[p.row, p.column, p.header, p.message] for p in self.warnings],
            "fingerprint": self.fingerprint,
            "written": self.written,
            "apply": self.apply,
        }

    @classmethod
    def from_json(cls, data: dict) -> ImportPreview:
        return cls(
            kind=data.get("kind", ""),
            file_name=data.get("file_name", ""),
            year=data.get("year"),
            problems=[Problem(*p) for p in data.get("problems", [])],
            changes=[
                RowChange(r, a, k, label, [tuple(f) for f in fields])
                for r, a, k, label, fields in data.get("changes", [])
            ],
            unchanged=data.get("unchanged", 0),
            notes=data.get("notes", []),
            warnings=[Problem(*p) for p in data.get("warnings", [])],
            fingerprint=data.get("fingerprint", ""),
            written=data.get("written", []),
            apply=data.get("apply") or {},
        )


def digest(operations) -> str:
    """A stable digest of what an import will write (compared between the preview and the confirmation)."""
    text = json.dumps(operations, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ImportRefused(Exception):
    """Confirming found errors, or changes other than those previewed; nothing was written."""

    def __init__(self, preview: ImportPreview, message: str):
        self.preview = preview
        self.message = message
        super().__init__(message)


IMPORT_CHUNK = 5000  # values one lookup query takes at a time


def chunks(values: Sequence, size: int = IMPORT_CHUNK):
    """``values`` in slices of ``size``: one lookup query each."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def already_imported(kind: str, content: bytes, then: str) -> str:
    """A note for the preview if this very file (its SHA-256) was imported before (kept ``BAZHOU_IMPORT_KEEP_DAYS``
    days, see ``ImportBatch.purge_expired``): when, under which name, and ``then`` (what importing it again does).
    One query; "" if not."""
    sha256 = hashlib.sha256(content).hexdigest()
    batch = (
        ImportBatch.objects.filter(kind=kind, sha256=sha256, state=ImportBatch.State.APPLIED)
        .order_by("-applied_at")
        .only("applied_at", "file_name")
        .first()
    )
    if batch is None or batch.applied_at is None:
        return ""
    when = timezone.localtime(batch.applied_at)
    return f"该文件已于 {when:%Y-%m-%d %H:%M} 导入过（文件名“{batch.file_name}”，内容完全相同）。{then}"


def import_reason(file_name: str) -> str:
    """The reason an import signs its writes with in the history: “Excel 导入：<file name>”."""
    return f"Excel 导入：{file_name}"[:500]


def refuse_unless_previewed(preview: ImportPreview, fingerprint: str) -> None:
    """Confirming: refuse (:class:`ImportRefused`) a file that now reads with errors, or gives other changes than
    the preview the user confirmed (its ``fingerprint``: someone changed the data in between)."""
    if preview.problems:
        raise ImportRefused(preview, "表格中有错误，未导入任何数据。请改正后重新上传。")
    if preview.fingerprint != fingerprint:
        raise ImportRefused(preview, "预览之后数据已有变化，未导入任何数据。请核对下面新的预览后再确认。")


def in_column_order(names, keys: Sequence[str]) -> list[str]:
    """``names`` in the order of a table's column ``keys`` (names without a column last)."""
    return sorted(names, key=lambda n: keys.index(n) if n in keys else len(keys))


def unsaved_copy(obj):
    """A copy of a model instance (its fields) to change in memory, so that the fetched one stays as read."""
    return type(obj)(**{f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields})


def villages_by_name(villages) -> dict[tuple[str, str], list]:
    """Villages (with their township) by (township name, village name), as an uploaded row names them."""
    found: dict[tuple[str, str], list] = {}
    for village in villages:
        found.setdefault((village.township.name, village.name), []).append(village)
    return found


class ImportRow:
    """One data row of an upload: its cells by field (``raw``, and ``texts``), and its problems by column.

    Subclasses set ``HEADERS`` (field → the table's header, to name a field without a column in the upload) and
    may set ``ERROR_CELLS`` (a service's error field → the field whose cell shows its errors).
    """

    HEADERS: dict[str, str] = {}
    ERROR_CELLS: dict[str, str] = {}

    def __init__(self, number: int, values: list, columns: dict[str, int], headers: dict[str, str]):
        self.number = number
        self.columns = columns
        self.headers = headers
        self.raw = {key: values[index] if index < len(values) else None for key, index in columns.items()}
        self.texts = {key: as_text(value) for key, value in self.raw.items()}
        for key, text in self.texts.items():
            if text and is_blank(text) and not has_illegal(text):  # only zero-width characters: an empty cell
                self.raw[key], self.texts[key] = None, ""
        self.problems: list[Problem] = []
        self.failed: set[str] = set()  # fields whose cell could not be taken (and is reported)
        self.skip = not any(self.texts.values())  # a row the import passes over (subclasses add theirs)

    @classmethod
    def rows_of(cls, sheet: SheetData, header: HeaderMap | None = None) -> list:
        """The rows of ``sheet`` below ``header`` (by default the one :func:`read_sheet` found), but those to skip;
        refused if more than the limit."""
        header = header or sheet.header
        below = (
            cls(number, values, header.columns, header.headers)
            for number, values in sheet.rows
            if number > header.last_row
        )
        rows = [row for row in below if row.check_cells(sheet.formulas) or not row.skip]
        check_row_count(len(rows))
        return rows

    def check_cells(self, formulas: set[tuple[int, int]]) -> bool:
        """Refuse, naming the cell, what no cell may bring in: a formula (we cannot know its value: README), a
        character no saved text may hold (``bazhou.core.text``). Such a cell is then taken as reported and empty
        (no second message). True if the row has any such cell."""
        found = False
        for key, index in self.columns.items():
            if (self.number, index + 1) in formulas:
                message = FORMULA_MESSAGE
            elif has_illegal(self.texts.get(key, "")):
                message = illegal_message(self.texts[key])
            else:
                continue
            self.problem(key, message)
            self.failed.add(key)
            self.raw[key], self.texts[key] = None, ""
            found = True
        return found

    def problem(self, key: str, message: str) -> None:
        column = column_letter(self.columns[key]) if key in self.columns else ""
        header = self.headers.get(key, self.HEADERS.get(key, ""))
        self.problems.append(Problem(self.number, column, header, message))

    def take(self, key: str, convert, **kwargs):
        """The cell of ``key`` through ``convert`` (:func:`as_int`, :func:`as_choice`…); None when the upload has
        no such column, or when the cell cannot be taken (a problem of the row)."""
        if key not in self.raw:
            return None
        try:
            return convert(self.raw[key], what=self.headers[key], **kwargs)
        except CellError as error:
            self.problem(key, str(error))
            self.failed.add(key)
            return None

    def report(self, errors: dict[str, list[str]]) -> bool:
        """Put a service's errors (by field) on the row's cells; True if there were any."""
        for name, messages in errors.items():
            key = self.ERROR_CELLS.get(name, name)
            for message in messages:
                if key in self.columns:
                    self.problem(key, message)
                else:
                    label = self.HEADERS.get(key, "")
                    self.problems.append(Problem(self.number, "", "", f"{label}：{message}" if label else message))
        return bool(errors)

    def names_another_village(self, village, message: str) -> bool:
        """Whether the row's 乡镇 or 村 names another place than ``village`` (then a problem of the row)."""
        for key, expected in (("township", village.township.name), ("village", village.name)):
            given = self.texts.get(key, "")
            if given and given != expected:
                self.problem(key, message)
                return True
        return False

    def pick_village(self, villages: dict[tuple[str, str], list]):
        """The village the row's 乡镇 and 村 name among ``villages`` (:func:`villages_by_name`); None, with a
        problem of the row, when there is none or more than one."""
        township, name = self.texts.get("township", ""), self.texts.get("village", "")
        found = [v for (t, n), vs in villages.items() if n == name and (not township or t == township) for v in vs]
        if not name or not found:
            self.problem("village", f"找不到村“{township}{name}”，或该村不在您可以修改的范围内。")
            return None
        if len(found) > 1:
            self.problem("township", f"有多个名为“{name}”的村，请填写乡镇以区分。")
            return None
        return found[0]
