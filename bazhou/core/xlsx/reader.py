"""Uploaded workbooks: refused before parsing unless sound, read cell by cell, and handed back with bad cells marked.

:func:`check_upload` refuses, before any parsing and with a message in Chinese, a file that is too large, is not an
.xlsx (an old .xls, or another file renamed), is a corrupt or truncated zip, has too many parts, or declares more
uncompressed bytes than we accept (a zip bomb), or declares a DOCTYPE in a part (an XML bomb, XXE: said for what it
is). :func:`read_sheet` then reads the cells with calamine (python-calamine: several times faster than openpyxl; it
expands no entity, and a bomb it stops at is named from the part's DOCTYPE), or with openpyxl's ``read_only`` mode
(``defusedxml`` installed: openpyxl then refuses XML bombs) for a sheet calamine would hold too large; it refuses
formulas (we cannot know their value); it counts the rows and finds the formulas from the sheet's raw XML first
(:func:`scan_sheet`) and refuses a table too long, or with cells merged below its header, before reading them.
The ``as_*`` functions turn a cell into a value or a :class:`CellError` in Chinese; :func:`locate_header` finds the
columns; :func:`marked_workbook` returns the upload with its bad cells red.
"""

from __future__ import annotations

import datetime
import html
import io
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden, NotSupportedError
from django.conf import settings
from django.core.exceptions import ValidationError
from openpyxl.reader.excel import ExcelReader
from openpyxl.utils import column_index_from_string
from openpyxl.worksheet._read_only import ReadOnlyWorksheet
from python_calamine import CalamineWorkbook

from bazhou.core.xlsx.writer import COLUMN_LETTERS, StreamingWorkbook, fit_widths, style_id

if TYPE_CHECKING:
    from bazhou.core.xlsx.importing import Problem

# ---------------------------------------------------------------------------------------------
# Uploads: refuse what is not a sound .xlsx before parsing it
# ---------------------------------------------------------------------------------------------


def import_limits() -> dict[str, int]:
    """The limits on an uploaded workbook (settings may lower them; tests do)."""
    return {
        "max_bytes": getattr(settings, "BAZHOU_IMPORT_MAX_MB", 20) * 1024 * 1024,
        "max_rows": getattr(settings, "BAZHOU_IMPORT_MAX_ROWS", 30_000),
        "max_uncompressed": getattr(settings, "BAZHOU_IMPORT_MAX_UNCOMPRESSED_MB", 300) * 1024 * 1024,
        "max_members": 500,
    }


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:,.1f} MB"


def check_upload(upload) -> bytes:
    """The bytes of an uploaded .xlsx, or a ValidationError in Chinese saying why it cannot be read.

    Checks, in order and before any parsing: the size, the name, the first bytes (an .xlsx is a zip; an old
    .xls or a renamed picture or text is not), the zip's directory (a truncated or corrupt file has none), the
    number of parts and their declared uncompressed size (a zip bomb declares far more than any table needs),
    and the parts every workbook has.
    """
    limits = import_limits()
    name = getattr(upload, "name", "") or ""
    if upload is None:
        raise ValidationError("请选择要上传的 Excel 文件。")
    if upload.size > limits["max_bytes"]:
        raise ValidationError(f"文件过大（{_mb(upload.size)}），最大 {_mb(limits['max_bytes'])}。")
    upload.seek(0)
    content = upload.read()
    if not content:
        raise ValidationError("文件是空的。")
    lower = name.lower()
    if content.startswith(b"\xd0\xcf\x11\xe0"):
        raise ValidationError("不支持旧版 Excel 文件（.xls）。请在 Excel 或 WPS 中“另存为”.xlsx 格式后再上传。")
    if not lower.endswith(".xlsx"):
        raise ValidationError("只能上传 Excel 文件（.xlsx）。")
    if not content.startswith(b"PK\x03\x04"):
        raise ValidationError(f"文件“{name}”不是 Excel 文件（可能是改了扩展名的其他文件），无法导入。")
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError):
        raise ValidationError(f"文件“{name}”已损坏或不完整（可能没有上传完），无法读取。") from None
    if len(members) > limits["max_members"]:
        raise ValidationError(f"文件“{name}”包含的部件过多（{len(members)} 个），不是正常的 Excel 表格。")
    declared = sum(m.file_size for m in members)
    if declared > limits["max_uncompressed"]:
        raise ValidationError(
            f"文件“{name}”解压后过大（声明 {_mb(declared)}，最多 {_mb(limits['max_uncompressed'])}），"
            "可能是恶意构造的压缩文件，已拒绝。"
        )
    names = {m.filename for m in members}
    if "xl/workbook.xml" not in names or "[Content_Types].xml" not in names:
        raise ValidationError(f"文件“{name}”不是 Excel 工作簿（缺少工作簿内容），无法导入。")
    for member in members:
        if member.filename.lower().endswith((".xml", ".rels", ".vml")):
            message = _declared_entities(archive, member, name)
            if message:
                raise ValidationError(message)
    return content


PROLOG_BYTES = 64 * 1024  # a DOCTYPE sits in the prolog, before the root element: the first bytes of a part
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_ENTITY = re.compile(rb"<!ENTITY\s+(%\s*)?([^\s>]+)\s+(?:(SYSTEM|PUBLIC)\s+(?:\"[^\"]*\"\s+)?[\"']([^\"']*)|[\"'])")


def _declared_entities(archive: zipfile.ZipFile, member: zipfile.ZipInfo, name: str) -> str:
    """What a part of the upload declares that no Excel file does (a DOCTYPE, entities: an XML bomb or XXE), said in
    Chinese; "" for a sound part. Reads at most its first PROLOG_BYTES (decompressed)."""
    try:
        with archive.open(member) as part:
            head = part.read(PROLOG_BYTES)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError, NotImplementedError):
        return f"文件“{name}”已损坏或不完整（部件 {member.filename} 无法解压），无法读取。"
    if not _DOCTYPE.search(head):
        return ""
    return entity_message(name, member.filename, head)


def entity_message(name: str, part: str, text: bytes = b"", kind: str = "") -> str:
    """The refusal of a part with a DOCTYPE: external entities (XXE), entities (an XML bomb), or a bare DOCTYPE."""
    external = [m for m in _ENTITY.finditer(text) if m.group(3)]
    entities = list(_ENTITY.finditer(text))
    where = f"（在 {part} 中）" if part else ""
    subject = f"文件“{name}”" if name else "文件"
    if external or kind == "external":
        target = external[0].group(4).decode("utf-8", "replace")[:80] if external else ""
        shown = f"“{target}”" if target else ""
        return (
            f"{subject}含有引用外部文件或网址{shown}的 XML 外部实体{where}（XXE：可用来读取服务器上的文件），"
            "正常的 Excel 文件不会有，已拒绝。"
        )
    if entities or kind == "entities":
        names = "、".join(dict.fromkeys(m.group(2).decode("utf-8", "replace")[:30] for m in entities[:5]))
        count = f"{len(entities)} 个" if entities else ""
        shown = f"（{names}）" if names else ""
        return (
            f"{subject}含有{count} XML 实体定义{shown}{where}："
            "这是“XML 炸弹”（实体层层展开，耗尽服务器内存）的写法，正常的 Excel 文件不会有，已拒绝。"
        )
    return f"{subject}含有 XML 文档类型定义（<!DOCTYPE>）{where}，正常的 Excel 文件不会有，已拒绝。"


class SheetReadError(ValidationError):
    pass


HEADER_ROOM = 20  # rows above a table's data (title, header) and below it (totals) that do not count
HEAD_ROWS = 14  # the first non-empty rows read before the rest: where a table's header is (locate_header reads 12)
EXCEL_MAX_ROWS = 1_048_576  # a sheet of more rows is not from Excel or WPS
PROGRESS_EVERY = 500
CORRUPT = "文件已损坏或不是有效的 Excel 工作簿，无法读取。"


def too_many_rows(max_rows: int, found: int | None = None) -> str:
    counted = f"表头以下有 {found:,} 行，" if found else ""
    return f"表格行数过多：{counted}最多导入 {max_rows:,} 行，请分批导入。"


def check_row_count(count: int) -> None:
    """Refuse a table of more data rows than the limit (read_sheet refuses most such tables before reading them)."""
    max_rows = import_limits()["max_rows"]
    if count > max_rows:
        raise SheetReadError(too_many_rows(max_rows, count))


@dataclass
class SheetData:
    """The cells of one sheet as read: ``rows`` are (row number, [values]) for non-empty rows; ``formulas`` the
    cells that hold a formula (refused: we cannot know their value), as (row, column) pairs, 1-based; ``header``
    what the caller's ``header`` function of :func:`read_sheet` found."""

    title: str
    rows: list[tuple[int, list]] = field(default_factory=list)
    formulas: set[tuple[int, int]] = field(default_factory=set)
    header: HeaderMap | None = None


@dataclass
class SheetScan:
    """What a pass over a sheet's raw XML finds, without parsing a cell (:func:`scan_sheet`): the numbers of the rows
    that hold a value (a ``<v>``, an inline string or a formula), the merged ranges, the dimension the file declares;
    ``too_many`` when it stopped at its limit of rows with values."""

    value_rows: list[int] = field(default_factory=list)
    merges: list[str] = field(default_factory=list)
    dimension: str = ""
    too_many: bool = False
    elements: int = 0  # <row> elements, empty ones included
    max_column: int = 0  # the last column (1-based) any cell names
    unreferenced: bool = False  # a cell without its reference (r="B7"): its column is known only by counting
    formulas: dict[tuple[int, int], str] = field(default_factory=dict)  # (row, column) → the formula, "=…"


_ROOT = re.compile(rb"<([A-Za-z_][\w.-]*:)?worksheet\b")
_DIMENSION = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?dimension\s+ref=\"([A-Z]+[0-9]+(?::[A-Z]+[0-9]+)?)\"")
_MERGE = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?mergeCell\s+ref=\"([A-Z]+[0-9]+(?::[A-Z]+[0-9]+)?)\"")
_ROW_NUMBER = re.compile(rb"\br=\"([0-9]+)\"")
SCAN_CHUNK = 1024 * 1024
MAX_MERGES = 10_000
MAX_TAIL = 64 * 1024 * 1024


def scan_sheet(archive: zipfile.ZipFile, path: str, *, max_value_rows: int) -> SheetScan:
    """Count the rows of a sheet that hold a value straight from its XML (decompressed as a stream, a chunk at a time):
    a few tenths of a second for 30,000 rows, where reading the cells takes tens of seconds. Stops once more than
    ``max_value_rows`` rows hold a value (``too_many``); raises SheetReadError past Excel's own 1,048,576 rows. The
    dimension the file declares is kept but never trusted (a file may lie in it)."""
    scan = SheetScan()
    with archive.open(path) as stream:
        head = stream.read(SCAN_CHUNK)
        root = _ROOT.search(head)
        prefix = root.group(1) or b"" if root else b""
        dimension = _DIMENSION.search(head)
        scan.dimension = dimension.group(1).decode() if dimension else ""
        row_tag = re.compile(rb"<" + re.escape(prefix) + rb"row\b([^>]*)>")
        markers = [b"<" + prefix + tag for tag in (b"v>", b"v ", b"is>", b"f>", b"f ")]
        formula_markers = [b"<" + prefix + tag for tag in (b"f>", b"f ")]
        cell_ref = re.compile(rb"<" + re.escape(prefix) + rb"c\b[^>]*?\br=\"([A-Z]{1,3})[0-9]")
        cell_opens = (b"<" + prefix + b"c ", b"<" + prefix + b"c>", b"<" + prefix + b"c/")
        end_tag = b"</" + prefix + b"sheetData"
        buffer, last, tail = head, 0, b""
        finished = False
        while True:
            chunk = b"" if finished else stream.read(SCAN_CHUNK)
            if not chunk:
                finished = True
            else:
                buffer += chunk
            end = buffer.find(end_tag)
            if end >= 0:
                tail = buffer[end:]
                buffer = buffer[:end]
                finished = True
            openings = list(row_tag.finditer(buffer))
            complete = openings if finished else openings[:-1]
            for index, opening in enumerate(complete):
                scan.elements += 1
                attributes = opening.group(1)
                number = _ROW_NUMBER.search(attributes)
                last = int(number.group(1)) if number else last + 1
                if attributes.endswith(b"/"):
                    continue
                stop = openings[index + 1].start() if index + 1 < len(openings) else len(buffer)
                segment = buffer[opening.end() : stop]
                if any(marker in segment for marker in formula_markers):
                    scan.formulas.update(_formulas(segment, prefix, last))
                if any(marker in segment for marker in markers):
                    scan.value_rows.append(last)
                    if len(scan.value_rows) > max_value_rows:
                        scan.too_many = True
                        return scan
            if complete:  # the cells of the complete rows: their last column, and whether each names its own
                rows = buffer[complete[0].start() : openings[len(complete)].start() if not finished else len(buffer)]
                found = cell_ref.findall(rows)
                if found:
                    last_column = column_index_from_string(max(set(found), key=_column_order).decode())
                    scan.max_column = max(scan.max_column, last_column)
                if len(found) != sum(rows.count(tag) for tag in cell_opens):
                    scan.unreferenced = True
            if scan.elements > EXCEL_MAX_ROWS or last > EXCEL_MAX_ROWS:
                raise SheetReadError(f"表格有 {EXCEL_MAX_ROWS:,} 行以上，不是正常的 Excel 表格，无法导入。")
            if finished:
                break
            buffer = buffer[openings[-1].start() :] if openings else buffer[-4096:]
        # What follows the rows (merged ranges, print setup…) is small: read it whole, within a bound.
        while len(tail) < MAX_TAIL:
            more = stream.read(SCAN_CHUNK)
            if not more:
                break
            tail += more
        scan.merges = [m.decode() for m in _MERGE.findall(tail)]
    scan.merges = list(dict.fromkeys(scan.merges))[:MAX_MERGES]
    return scan


def _column_order(letters: bytes) -> tuple[int, bytes]:
    return len(letters), letters


def _formulas(segment: bytes, prefix: bytes, row: int) -> dict[tuple[int, int], str]:
    """The formula cells of one row's XML: (row, column) → “=” and the formula as written (a cell sharing another
    cell's formula writes none: then just “=”)."""
    found = {}
    cell = re.compile(rb"<" + re.escape(prefix) + rb"c\b([^>]*?)(/?)>")
    formula = re.compile(rb"<" + re.escape(prefix) + rb"f\b[^>]*?(?:/>|>(.*?)</" + re.escape(prefix) + rb"f>)", re.S)
    reference = re.compile(rb"\br=\"([A-Z]{1,3})[0-9]")
    column = 0
    matches = list(cell.finditer(segment))
    for index, match in enumerate(matches):
        named = reference.search(match.group(1))
        column = column_index_from_string(named.group(1).decode()) if named else column + 1
        if match.group(2):  # <c …/>: no content
            continue
        stop = matches[index + 1].start() if index + 1 < len(matches) else len(segment)
        written = formula.search(segment, match.end(), stop)
        if written:
            text = html.unescape((written.group(1) or b"").decode("utf-8", "replace"))
            found[(row, column)] = "=" + text
    return found


def _bounds(ref: str) -> tuple[int, int, int, int]:
    """(first row, first column, last row, last column) of ``A1`` or ``A1:C3``, 1-based."""
    first, _, last = ref.partition(":")
    last = last or first
    (c1, r1), (c2, r2) = (re.match(r"([A-Z]+)([0-9]+)", part).groups() for part in (first, last))
    return int(r1), column_index_from_string(c1), int(r2), column_index_from_string(c2)


def merged_in_data(merges: Sequence[str], header_last_row: int) -> list[str]:
    """The merged ranges that reach below the header (into the rows an import reads)."""
    return [ref for ref in merges if _bounds(ref)[2] > header_last_row]


def merged_message(refs: Sequence[str]) -> str:
    shown = "、".join(refs[:10]) + (f" 等 {len(refs)} 处" if len(refs) > 10 else "")
    return (
        f"表格的数据区域有合并的单元格（{shown}）：合并后只有左上角的单元格有值，其余各行读不到。"
        "请取消合并、在每一行填上各自的值后重新上传。"
    )


class _UnsizedWorksheet(ReadOnlyWorksheet):
    """openpyxl's streaming worksheet without its size: openpyxl looks for the ``<dimension>`` the file declares when
    it opens a sheet and, in a file without one (ours, and many tools' files), parses the whole sheet to find it; for
    30,000 rows that alone is 20 s. We never trust the dimension (a file may lie in it) and read every row there is."""

    def _get_size(self):
        pass


class _StreamingReader(ExcelReader):
    """openpyxl's reader in read-only mode, with :class:`_UnsizedWorksheet` sheets (chart sheets left out)."""

    def read_worksheets(self):
        for sheet, rel in self.parser.find_sheets():
            if rel.target not in self.valid_files or "chartsheet" in rel.Type:
                continue
            worksheet = _UnsizedWorksheet(self.wb, sheet.name, rel.target, self.shared_strings)
            worksheet.sheet_state = sheet.state
            self.wb._sheets.append(worksheet)


def open_workbook(content: bytes):
    """The workbook of a checked upload, opened for streaming (read-only, formulas as written, no external links)."""
    reader = _StreamingReader(io.BytesIO(content), read_only=True, data_only=False, keep_links=False)
    reader.read()
    return reader.wb


def _reading_error(error: Exception, archive: zipfile.ZipFile | None = None) -> SheetReadError:
    """A reading error in Chinese, never a Python exception's name: an XML bomb or XXE (defusedxml refused it, or
    calamine stopped at an entity it does not know: then the parts of ``archive`` are searched for the DOCTYPE) said
    for what it is, anything else a corrupt file."""
    if isinstance(error, ExternalReferenceForbidden):
        return SheetReadError(entity_message("", "", kind="external"))
    if isinstance(error, EntitiesForbidden):
        return SheetReadError(entity_message("", "", kind="entities"))
    if isinstance(error, DTDForbidden | NotSupportedError):
        return SheetReadError(entity_message("", ""))
    kind = _doctype_kind(archive) if archive is not None else None
    if kind is not None:
        return SheetReadError(entity_message("", "", kind=kind))
    return SheetReadError(CORRUPT)


def _doctype_kind(archive: zipfile.ZipFile) -> str | None:
    """What the first DOCTYPE anywhere in the workbook's XML parts declares: "external" entities, "entities", ""
    (none); None when no part has one. Each part is read as a stream, a chunk at a time."""
    for member in archive.infolist():
        if not member.filename.lower().endswith((".xml", ".rels", ".vml")):
            continue
        try:
            with archive.open(member) as part:
                buffer = b""
                while chunk := part.read(SCAN_CHUNK):
                    buffer = buffer[-16:] + chunk
                    found = _DOCTYPE.search(buffer)
                    if found:
                        text = buffer[found.start() :] + part.read(PROLOG_BYTES)
                        entities = list(_ENTITY.finditer(text))
                        return "external" if any(m.group(3) for m in entities) else "entities" if entities else ""
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError, NotImplementedError):
            continue
    return None


DENSE_CELLS = 5_000_000  # calamine holds a sheet as rows × columns; a sheet larger than that is streamed instead


def read_sheet(
    content: bytes,
    *,
    sheet_name: str | None = None,
    max_rows: int | None = None,
    header=None,
    progress=None,
) -> SheetData:
    """Read the first sheet (or ``sheet_name``) of a checked upload: with calamine (python-calamine, several times
    faster than openpyxl), or openpyxl's streaming reader for a sheet calamine would hold too large in memory (its
    last row times its last column over DENSE_CELLS: a stray cell far out) or whose cells lack their references.

    ``header``, if given, is called with the first HEAD_ROWS non-empty rows (a SheetData) and returns the table's
    :class:`HeaderMap` (or raises SheetReadError); it is kept as ``SheetData.header``. Before the cells are read, the
    table is refused (SheetReadError, Chinese) if more than ``max_rows`` + HEADER_ROOM rows hold a value (counted by
    :func:`scan_sheet` from the raw XML: in well under a second); once the header is found, if more than ``max_rows``
    rows below it hold a value or if cells are merged below it. The dimension the file declares is ignored: a file
    may lie in it. Either reader gives the same values (:func:`_calamine_rows` says how): an empty cell None, a number
    int or float, a date cell a date (a datetime with a time of day), text as written, a formula cell its formula
    (“=…”, also listed in ``SheetData.formulas``). ``progress(done, total, phase)`` is called every PROGRESS_EVERY
    rows read (phase “读取文件”).
    """
    max_rows = max_rows or import_limits()["max_rows"]
    archive = None
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        title, path = _sheet_part(content, sheet_name)
        scan = scan_sheet(archive, path, max_value_rows=max_rows + HEADER_ROOM)
    except SheetReadError:
        raise
    except Exception as error:  # a damaged zip or workbook part; an XML bomb defusedxml refused
        raise _reading_error(error, archive) from None
    if scan.too_many:
        raise SheetReadError(too_many_rows(max_rows))
    data = SheetData(title=title)
    seen = 0
    if progress is not None:
        progress(0, total=len(scan.value_rows), phase="读取文件")
    dense = max(scan.value_rows, default=0) * scan.max_column
    rows = _openpyxl_rows if scan.unreferenced or dense > DENSE_CELLS else _calamine_rows
    try:
        if header is not None and len(scan.value_rows) > max_rows and rows is _calamine_rows:
            # Perhaps too many rows below the header: find it in the first rows, streamed (calamine reads them all).
            head = SheetData(title=title)
            for row_number, values in _openpyxl_rows(content, title, scan, set()):
                if any(v is not None and (not isinstance(v, str) or v.strip()) for v in values):
                    head.rows.append((row_number, values))
                    if len(head.rows) == HEAD_ROWS:
                        break
            _check_below_header(head, header, scan, max_rows)
        for row_number, values in rows(content, title, scan, data.formulas):
            if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
                continue
            seen += 1
            if seen > max_rows + HEADER_ROOM:
                raise SheetReadError(too_many_rows(max_rows))
            data.rows.append((row_number, values))
            if seen == HEAD_ROWS and header is not None:
                _check_below_header(data, header, scan, max_rows)
            if progress is not None and seen % PROGRESS_EVERY == 0:
                progress(seen, total=len(scan.value_rows), phase="读取文件")
    except SheetReadError:
        raise
    except Exception as error:
        raise _reading_error(error, archive) from None
    if header is not None and data.header is None:
        _check_below_header(data, header, scan, max_rows)
    if progress is not None:
        progress(seen, total=len(scan.value_rows), phase="读取文件")
    return data


def _sheet_part(content: bytes, sheet_name: str | None) -> tuple[str, str]:
    """(name, part in the zip) of the worksheet ``sheet_name``, or of the first worksheet (chart sheets left out),
    from the workbook's own XML (openpyxl's parser, defusedxml installed)."""
    reader = ExcelReader(io.BytesIO(content), read_only=True, data_only=False, keep_links=False)
    reader.read_manifest()
    reader.read_workbook()
    sheets = [
        (sheet.name, rel.target)
        for sheet, rel in reader.parser.find_sheets()
        if rel.target in reader.valid_files and "chartsheet" not in rel.Type
    ]
    if not sheets:
        raise SheetReadError(CORRUPT)
    return next((found for found in sheets if found[0] == sheet_name), sheets[0])


def _calamine_rows(content: bytes, title: str, scan: SheetScan, formulas: set):
    """(row number, values) of every row of the sheet, read with calamine and given as openpyxl gives them: an empty
    cell None (calamine: ""), a formula cell its formula (calamine: the value last computed), added to
    ``formulas``. Numbers (float, or int), dates (date, datetime with a time) and text come as calamine reads them
    (openpyxl: whole numbers as int, every date a datetime; the ``as_*`` functions take either alike)."""
    with CalamineWorkbook.from_filelike(io.BytesIO(content)) as book:
        cells = book.get_sheet_by_name(title).to_python(skip_empty_area=False)
    by_row: dict[int, list[tuple[int, str]]] = {}
    for (row, column), text in scan.formulas.items():
        by_row.setdefault(row, []).append((column, text))
        formulas.add((row, column))
    for index, values in enumerate(cells):
        number = index + 1
        values = [None if value == "" else value for value in values]
        for column, text in by_row.get(number, ()):
            values[column - 1] = text
        yield number, values


def _openpyxl_rows(content: bytes, title: str, scan: SheetScan, formulas: set):
    """(row number, values) of every row of the sheet, streamed with openpyxl's read-only reader (formulas as
    written, added to ``formulas``)."""
    book = open_workbook(content)
    try:
        for cells in book[title].iter_rows():
            values = []
            row_number = None
            for cell in cells:
                if getattr(cell, "row", None) is None:  # an EmptyCell in read-only mode
                    values.append(None)
                    continue
                row_number = cell.row
                if cell.data_type == "f":
                    formulas.add((cell.row, cell.column))
                values.append(cell.value)
            if row_number is not None:
                yield row_number, values
    finally:
        book.close()


def _check_below_header(data: SheetData, header, scan: SheetScan, max_rows: int) -> None:
    """Find the header in the rows read so far, then refuse the table if too many rows below it hold a value or if
    cells are merged below it (both from the scan: nothing more is read)."""
    data.header = header(data)
    last = data.header.last_row
    below = sum(1 for number in scan.value_rows if number > last)
    if below > max_rows:
        raise SheetReadError(too_many_rows(max_rows, below))
    merged = merged_in_data(scan.merges, last)
    if merged:
        raise SheetReadError(merged_message(merged))


# ---------------------------------------------------------------------------------------------
# Cell values as the imports take them
# ---------------------------------------------------------------------------------------------


class CellError(Exception):
    """A cell's value cannot be taken; the message is Chinese and names what is wanted."""


def as_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime.datetime):
        return value.date().isoformat() if value.time() == datetime.time() else value.isoformat(sep=" ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value).strip()


def as_decimal(value, *, places: int, what: str) -> Decimal | None:
    """A number from a numeric or text cell (“1,234.5” too); None for an empty cell."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool | datetime.date):
        raise CellError(f"{what}应为数字。")
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        raise CellError(f"{what}应为数字，不能是“{as_text(value)}”。") from None
    if not number.is_finite():
        raise CellError(f"{what}应为数字。")
    if number != number.quantize(Decimal(1).scaleb(-places), rounding="ROUND_HALF_EVEN"):
        raise CellError(f"{what}最多保留 {places} 位小数。")
    return number.quantize(Decimal(1).scaleb(-places))


def as_int(value, *, what: str) -> int | None:
    number = as_decimal(value, places=0, what=what)
    return None if number is None else int(number)


_DATE_TEXT = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")


def as_date(value, *, what: str) -> datetime.date | None:
    """A date from a date cell or a text like 2017-08-31, 2017/8/31, 2017.8.31 or 2017年8月31日."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    match = _DATE_TEXT.match(str(value).strip())
    if match:
        try:
            return datetime.date(*(int(part) for part in match.groups()))
        except ValueError:
            pass
    raise CellError(f"{what}应为日期，如 2017-08-31，不能是“{as_text(value)}”。")


def as_choice(value, choices: dict[str, str], *, what: str) -> str | None:
    """The stored value of a label chosen from ``choices`` (label → value); None for an empty cell."""
    text = as_text(value)
    if not text:
        return None
    if text in choices:
        return choices[text]
    raise CellError(f"{what}“{text}”不在可选范围内，请从下拉列表中选择：{'、'.join(choices)}。")


def as_bool(value, *, what: str) -> bool | None:
    text = as_text(value)
    if not text:
        return None
    if text in ("是", "有", "1", "True", "TRUE", "√"):
        return True
    if text in ("否", "无", "0", "False", "FALSE", "×"):
        return False
    raise CellError(f"{what}应填“是”或“否”，不能是“{text}”。")


@dataclass
class HeaderMap:
    """Where a table's header ends and which column (0-based) holds each known field."""

    last_row: int
    columns: dict[str, int]
    headers: dict[str, str]  # field → the header text as found


def _header_text(value) -> str:
    """A header cell's text without the line breaks of a printed header (“已投入资金” break “（万元）”)."""
    return as_text(value).replace("\r", "").replace("\n", "")


def locate_header(sheet: SheetData, known: dict[str, str], required: Sequence[str], *, anchor: str) -> HeaderMap:
    """Find the header of an uploaded table: the first of the first rows with the ``anchor`` header (e.g. 项目),
    and the row below it when that is the lower row of a two-row header. ``known`` maps header texts to fields.

    Raises SheetReadError (Chinese) if there is no such header or a ``required`` field has no column.
    """
    labels = dict(known)
    for position, (number, values) in enumerate(sheet.rows[:12]):
        texts = [_header_text(v) for v in values]
        if anchor not in texts:
            continue
        leaves = list(texts)
        last = number
        if position + 1 < len(sheet.rows):
            below_number, below = sheet.rows[position + 1]
            below_texts = [_header_text(v) for v in below]
            if below_number == number + 1 and any(t in labels and t not in texts for t in below_texts if t):
                last = below_number
                for index, text in enumerate(below_texts):
                    if text:
                        while len(leaves) <= index:
                            leaves.append("")
                        leaves[index] = text
        columns, headers = {}, {}
        for index, text in enumerate(leaves):
            key = labels.get(text)
            if key and key not in columns:
                columns[key] = index
                headers[key] = text
        missing = [label for label, key in known.items() if key in required and key not in columns]
        missing = list(dict.fromkeys(missing))
        if any(key not in columns for key in required):
            names = "、".join(f"“{label}”" for label in missing)
            raise SheetReadError(f"表头缺少必需的列：{names}。请使用系统导出的表格或下载的模板。")
        return HeaderMap(last, columns, headers)
    raise SheetReadError(f"找不到表头（应有一列名为“{anchor}”）。请使用系统导出的表格或下载的模板。")


def marked_workbook(content: bytes, problems: Sequence[Problem], *, sheet_name: str | None = None) -> object:
    """The uploaded table written back with every bad cell filled red, each row's errors in a last column
    “错误说明”, and a sheet listing every error: to correct and upload again. Returns a rewound temporary file."""
    data = read_sheet(content, sheet_name=sheet_name, max_rows=10**7)
    by_cell: dict[tuple[int, int], list[str]] = {}
    by_row: dict[int, list[str]] = {}
    for p in problems:
        if p.row:
            by_row.setdefault(p.row, []).append(f"{p.header}：{p.message}" if p.header else p.message)
            if p.column:
                by_cell.setdefault((p.row, _column_index(p.column)), []).append(p.message)
    width = max((len(values) for _, values in data.rows), default=1)
    widths = fit_widths([""] * width, (values for _, values in data.rows[:200]), minimum=8) + [60]
    plain, text, date = style_id("plain"), style_id("text"), style_id("date")
    error, error_date, note = style_id("error"), style_id("error_date"), style_id("error_note")
    book = StreamingWorkbook()
    with book.sheet(f"{data.title}（标注错误）", widths=widths) as sheet:
        next_row = 1
        for number, values in data.rows:
            while next_row < number:
                sheet.row([])
                next_row += 1
            values = list(values) + [None] * (width - len(values))
            styles = []
            for index, value in enumerate(values):
                is_date = isinstance(value, datetime.date)
                if (number, index) in by_cell:
                    styles.append(error_date if is_date else error)
                else:
                    styles.append(date if is_date else text if value is not None else plain)
            messages = by_row.get(number)
            values.append("；".join(messages) if messages else None)
            styles.append(note if messages else plain)
            sheet.row(values, styles)
            next_row += 1
    with book.sheet("错误清单", widths=[10, 8, 18, 80]) as sheet:
        sheet.row(["行", "列", "表头", "错误说明"], style_id("header"))
        for p in problems:
            sheet.row([p.row or None, p.column, p.header, p.message], [style_id("int"), text, text, style_id("wrap")])
    return book.close()


def _column_index(letter: str) -> int:
    return column_index_from_string(letter) - 1


def column_letter(index: int) -> str:
    """The letter of a 0-based column index."""
    return COLUMN_LETTERS[index]
