"""Shared pieces of the Excel files the office prints and sends back: a streaming .xlsx writer, and the upload checks.

Writing. :class:`StreamingWorkbook` writes an .xlsx one row at a time straight into the zip (a temporary file):
memory does not grow with the number of rows. It is purpose-built because the general writers are too slow for
the one table of a whole district: 196,000 rows × 32 columns take 2–3 minutes with openpyxl's ``write_only`` mode
and typed, styled cells, and about 35 s with XlsxWriter's ``constant_memory`` mode, against about 5 s here
(see bench/excel.py). It writes only what these files need:

- typed cells: text as inline strings (a text is never a formula, whatever it starts with; text that starts with
  = + - @ also gets Excel's "quote prefix", so that editing the cell keeps it text), numbers, dates;
- a fixed set of styles (:data:`STYLES`): title, headers, borders, number and date formats, subtotal fills,
  the red fill that marks a bad cell in a returned upload;
- column widths (a Chinese character counts double: :func:`display_width`), frozen header rows, merged cells,
  drop-down lists (data validation), landscape print fitted to the page width with the header rows repeated on
  every page and a page-number footer.

Tables. :func:`printed_table` and :func:`render_template` lay out the tables the office prints and sends back
(the one table, the household register). :class:`AreaScope` and :func:`export_area` say which area an export
covers; :func:`xlsx_download` hands the file out and writes the export log.

Imports. :class:`ImportRow` and the helpers next to it are what the plan-row and the register imports share.

Reading. :func:`check_upload` refuses, before any parsing and with a message in Chinese, a file that is too large,
is not an .xlsx (an old .xls, or another file renamed), is a corrupt or truncated zip, has too many parts, or
declares more uncompressed bytes than we accept (a zip bomb). :func:`read_sheet` then reads the cells with
openpyxl's ``read_only`` mode (``defusedxml`` installed: openpyxl then refuses XML bombs), refuses formulas
(we cannot know their value) and stops at the row limit.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import re
import tempfile
import unicodedata
import zipfile
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from xml.sax.saxutils import escape, quoteattr

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from openpyxl import load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.utils import column_index_from_string, get_column_letter

from bazhou.exportlog import record_export
from villages.models import District, Township, Village

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULA_PREFIXES = ("=", "+", "-", "@")
MAX_WIDTH = 60

# ---------------------------------------------------------------------------------------------
# Text and widths
# ---------------------------------------------------------------------------------------------


def display_width(text: str) -> int:
    """How many columns ``text`` takes in a spreadsheet: a Chinese (wide) character counts double."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def fit_widths(headers: Sequence[str], rows: Iterable[Sequence], *, minimum: int = 6) -> list[float]:
    """Column widths that fit the headers and the values of ``rows`` (for tables small enough to hold in memory)."""
    widths = [display_width(h) for h in headers]
    for row in rows:
        for index, value in enumerate(row):
            if value is None:
                continue
            text = value.isoformat() if isinstance(value, datetime.date) else str(value)
            widths[index] = max(widths[index], display_width(text))
    return [min(max(width + 2, minimum), MAX_WIDTH) for width in widths]


def looks_like_formula(text: str) -> bool:
    return text.startswith(FORMULA_PREFIXES)


def clean_text(text: str) -> str:
    """``text`` without the control characters an .xlsx cannot hold."""
    return ILLEGAL_CHARACTERS_RE.sub("", text)


# ---------------------------------------------------------------------------------------------
# Styles: a fixed table, written once into styles.xml
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Style:
    font: str = "normal"  # a key of FONTS
    fill: str | None = None  # an ARGB colour
    border: bool = True
    num_fmt: str | None = None
    horizontal: str | None = None
    vertical: str = "center"
    wrap: bool = False


_FONT = '<font>{}<name val="宋体"/><family val="3"/><charset val="134"/></font>'
FONTS = {
    "normal": _FONT.format('<sz val="10"/>'),
    "bold": _FONT.format('<b/><sz val="10"/>'),
    "title": _FONT.format('<b/><sz val="16"/>'),
    "grey": _FONT.format('<sz val="9"/><color rgb="FF808080"/>'),
    "red": _FONT.format('<b/><sz val="10"/><color rgb="FFC00000"/>'),
}
MONEY = "#,##0.00##"  # 万元: at least 2 decimals, up to 4 (1 元)
DATE = "yyyy-mm-dd"
HEADER_FILL = "FFD9E1F2"
SUBTOTAL_FILL = "FFFFF2CC"
TOTAL_FILL = "FFF8CBAD"
KEY_FILL = "FFF2F2F2"
ERROR_FILL = "FFFF9999"

STYLES: dict[str, Style] = {
    "plain": Style(border=False),
    "title": Style(font="title", border=False, horizontal="center"),
    "subtitle": Style(border=False, horizontal="left"),
    "header": Style(font="bold", fill=HEADER_FILL, horizontal="center", wrap=True),
    "header_key": Style(font="grey", fill=KEY_FILL, horizontal="center", wrap=True),
    "text": Style(),
    "wrap": Style(wrap=True),
    "center": Style(horizontal="center"),
    "int": Style(num_fmt="0", horizontal="center"),
    "number": Style(num_fmt="0.##"),
    "money": Style(num_fmt=MONEY),
    "date": Style(num_fmt=DATE, horizontal="center"),
    "key": Style(font="grey", fill=KEY_FILL, num_fmt="0", horizontal="center"),
    "flag": Style(font="red", horizontal="center"),
    "subtotal": Style(font="bold", fill=SUBTOTAL_FILL),
    "subtotal_money": Style(font="bold", fill=SUBTOTAL_FILL, num_fmt=MONEY),
    "total": Style(font="bold", fill=TOTAL_FILL),
    "total_money": Style(font="bold", fill=TOTAL_FILL, num_fmt=MONEY),
    "error": Style(fill=ERROR_FILL),
    "error_date": Style(fill=ERROR_FILL, num_fmt=DATE),
    "error_note": Style(font="red", wrap=True),
    "note": Style(border=False, wrap=True, vertical="top"),
}


class _StyleTable:
    """Every style twice (as is, and with the quote prefix for text that looks like a formula), numbered in order."""

    def __init__(self, styles: dict[str, Style]):
        self.names = list(styles)
        self.styles = styles
        self.fonts = list(FONTS)
        self.fills = sorted({s.fill for s in styles.values() if s.fill})
        self.formats = sorted({s.num_fmt for s in styles.values() if s.num_fmt})
        # xf 0 is the default; style i is xf 1 + 2i, and its quote-prefixed twin xf 2 + 2i.
        self.ids = {name: 1 + 2 * i for i, name in enumerate(self.names)}

    def id(self, name: str) -> int:
        return self.ids[name]

    def xml(self) -> str:
        fmt_ids = {f: 164 + i for i, f in enumerate(self.formats)}
        fill_ids = {f: 2 + i for i, f in enumerate(self.fills)}
        xfs = ['<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>']
        for name in self.names:
            style = self.styles[name]
            attrs = (
                f'numFmtId="{fmt_ids.get(style.num_fmt, 0)}" fontId="{self.fonts.index(style.font)}" '
                f'fillId="{fill_ids.get(style.fill, 0)}" borderId="{1 if style.border else 0}" xfId="0" '
                'applyNumberFormat="1" applyFont="1" applyFill="1" applyBorder="1" applyAlignment="1"'
            )
            align = f'<alignment vertical="{style.vertical}"'
            if style.horizontal:
                align += f' horizontal="{style.horizontal}"'
            if style.wrap:
                align += ' wrapText="1"'
            align += "/>"
            xfs.append(f"<xf {attrs}>{align}</xf>")
            xfs.append(f'<xf {attrs} quotePrefix="1">{align}</xf>')
        num_fmts = "".join(f'<numFmt numFmtId="{i}" formatCode={quoteattr(f)}/>' for f, i in fmt_ids.items())
        fills = '<fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill>'
        fills += "".join(
            f'<fill><patternFill patternType="solid"><fgColor rgb="{c}"/><bgColor indexed="64"/></patternFill></fill>'
            for c in self.fills
        )
        thin = '<{0} style="thin"><color rgb="FF000000"/></{0}>'
        borders = (
            "<border><left/><right/><top/><bottom/><diagonal/></border>"
            f"<border>{''.join(thin.format(side) for side in ('left', 'right', 'top', 'bottom'))}<diagonal/></border>"
        )
        return (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<styleSheet xmlns="{_NS_MAIN}">'
            f'<numFmts count="{len(fmt_ids)}">{num_fmts}</numFmts>'
            f'<fonts count="{len(self.fonts)}">{"".join(FONTS[f] for f in self.fonts)}</fonts>'
            f'<fills count="{2 + len(self.fills)}">{fills}</fills>'
            f'<borders count="2">{borders}</borders>'
            '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
            f'<cellXfs count="{len(xfs)}">{"".join(xfs)}</cellXfs>'
            '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
            "</styleSheet>"
        )


STYLE_TABLE = _StyleTable(STYLES)


def style_id(name: str) -> int:
    """The number of a named style in every workbook written here (for :meth:`SheetWriter.row`)."""
    return STYLE_TABLE.id(name)


# ---------------------------------------------------------------------------------------------
# The streaming writer
# ---------------------------------------------------------------------------------------------

_NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_NS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_EXCEL_EPOCH = datetime.date(1899, 12, 30).toordinal()
_LETTERS = [get_column_letter(i) for i in range(1, 16385)]
_SHEET_NAME_BAD = re.compile(r"[\[\]:*?/\\]")
_FLUSH_ROWS = 200
# Text that needs more than copying into the XML: characters to escape or drop, a formula-like start, spaces to keep.
_CAREFUL = re.compile(r"[&<>\x00-\x08\x0b\x0c\x0e-\x1f\n\r]|^[=+\-@\s]|\s$")


@dataclass
class Validation:
    """A drop-down list on a range of a sheet (``sqref`` like ``"G4:G2003"``)."""

    sqref: str
    options: Sequence[str]
    prompt: str = ""

    def xml(self) -> str:
        items = ",".join(self.options)
        if len(items) > 255:
            raise ValueError("A drop-down list written inline holds at most 255 characters.")
        prompt = f' promptTitle="请选择" prompt={quoteattr(self.prompt)}' if self.prompt else ""
        return (
            f'<dataValidation type="list" allowBlank="1" showInputMessage="1" showErrorMessage="1" '
            f'errorTitle="输入有误" error={quoteattr("请从下拉列表中选择：" + "、".join(self.options))}{prompt} '
            f'sqref="{self.sqref}"><formula1>{escape(chr(34) + items + chr(34))}</formula1></dataValidation>'
        )


@dataclass
class PageSetup:
    landscape: bool = True
    fit_width: bool = True
    repeat_rows: tuple[int, int] | None = None  # e.g. (2, 3): the header rows on every printed page
    print_columns: int | None = None  # print only the first N columns (the rest are for the import)
    paper: int = 9  # A4; 8 is A3


@dataclass
class _SheetInfo:
    name: str
    part: str
    last_row: int = 0
    page: PageSetup | None = None
    columns: int = 0


class SheetWriter:
    """Rows of one sheet, written as they come. Use :meth:`StreamingWorkbook.sheet` to get one."""

    def __init__(self, stream, info: _SheetInfo, *, widths, freeze, page, hidden, selected):
        self._stream = stream
        self._info = info
        self._buffer: list[str] = []
        self._row = 0
        self._merges: list[str] = []
        self._validations: list[Validation] = []
        info.page = page
        info.columns = len(widths)
        sheet_pr = '<sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>' if page and page.fit_width else ""
        view = '<sheetView workbookViewId="0"' + (' tabSelected="1"' if selected else "") + ">"
        if freeze:
            rows, cols = freeze
            top_left = f"{_LETTERS[cols]}{rows + 1}"
            pane = "bottomRight" if rows and cols else "bottomLeft" if rows else "topRight"
            split = (f' xSplit="{cols}"' if cols else "") + (f' ySplit="{rows}"' if rows else "")
            view += (
                f'<pane{split} topLeftCell="{top_left}" activePane="{pane}" state="frozen"/>'
                f'<selection pane="{pane}" activeCell="{top_left}" sqref="{top_left}"/>'
            )
        view += "</sheetView>"
        cols = "".join(
            f'<col min="{i}" max="{i}" width="{w:g}" customWidth="1"'
            + (' hidden="1"' if i - 1 in (hidden or ()) else "")
            + "/>"
            for i, w in enumerate(widths, start=1)
        )
        self._write(
            f'{_XML_HEAD}<worksheet xmlns="{_NS_MAIN}" xmlns:r="{_NS_REL}">{sheet_pr}'
            f'<sheetViews>{view}</sheetViews><sheetFormatPr defaultRowHeight="14.25"/>'
            + (f"<cols>{cols}</cols>" if cols else "")
            + "<sheetData>"
        )

    @property
    def row_number(self) -> int:
        """The number of the last row written (1-based; 0 before the first)."""
        return self._row

    def row(self, values: Sequence, styles: Sequence[int] | int | None = None, *, height: float | None = None) -> int:
        """Write the next row: ``values`` (str, int, float, Decimal, date, datetime or None) with ``styles`` (one
        style id for every cell, or one per cell: see :func:`style_id`). Returns the row's number."""
        self._row += 1
        r = self._row
        if styles is None:
            styles = style_id("plain")
        if isinstance(styles, int):
            styles = [styles] * len(values)
        parts = [f'<row r="{r}"' + (f' ht="{height:g}" customHeight="1"' if height else "") + ">"]
        append = parts.append
        letters = _LETTERS
        for col, value in enumerate(values):
            if value is None or value == "":
                s = styles[col]
                if s:
                    append(f'<c r="{letters[col]}{r}" s="{s}"/>')
                continue
            kind = type(value)
            if kind is str:
                if _CAREFUL.search(value):
                    append(self._text_cell(f"{letters[col]}{r}", styles[col], value))
                else:  # the usual case: nothing to escape, strip or prefix
                    append(f'<c r="{letters[col]}{r}" s="{styles[col]}" t="inlineStr"><is><t>{value}</t></is></c>')
            elif kind is Decimal:
                append(f'<c r="{letters[col]}{r}" s="{styles[col]}"><v>{value:f}</v></c>')
            elif kind is int or kind is float:
                append(f'<c r="{letters[col]}{r}" s="{styles[col]}"><v>{value!r}</v></c>')
            elif kind is datetime.date:
                append(f'<c r="{letters[col]}{r}" s="{styles[col]}"><v>{value.toordinal() - _EXCEL_EPOCH}</v></c>')
            elif kind is datetime.datetime:
                local = timezone.localtime(value) if timezone.is_aware(value) else value
                seconds = local.hour * 3600 + local.minute * 60 + local.second
                serial = local.toordinal() - _EXCEL_EPOCH + seconds / 86400
                append(f'<c r="{letters[col]}{r}" s="{styles[col]}"><v>{serial!r}</v></c>')
            elif kind is bool:
                append(self._text_cell(f"{letters[col]}{r}", styles[col], "是" if value else "否"))
            else:
                append(self._text_cell(f"{letters[col]}{r}", styles[col], str(value)))
        parts.append("</row>")
        self._buffer.append("".join(parts))
        if len(self._buffer) >= _FLUSH_ROWS:
            self._flush()
        return r

    @staticmethod
    def _text_cell(ref: str, style: int, text: str) -> str:
        """A typed text cell: never a formula; text that looks like one gets the quote-prefixed style, so that
        it stays text even when someone edits the cell; characters an .xlsx cannot hold are dropped."""
        text = clean_text(text)
        if text.startswith(FORMULA_PREFIXES):
            style += 1  # the quote-prefixed twin of the style
        space = ' xml:space="preserve"' if text != text.strip() or "\n" in text else ""
        return f'<c r="{ref}" s="{style}" t="inlineStr"><is><t{space}>{escape(text)}</t></is></c>'

    def merge(self, first_row: int, first_col: int, last_row: int, last_col: int) -> None:
        """Merge a block of cells (rows and columns 1-based)."""
        self._merges.append(f"{_LETTERS[first_col - 1]}{first_row}:{_LETTERS[last_col - 1]}{last_row}")

    def validate(self, column: int, first_row: int, last_row: int, options: Sequence[str], prompt: str = "") -> None:
        """A drop-down list of ``options`` on rows ``first_row``–``last_row`` of ``column`` (1-based)."""
        letter = _LETTERS[column - 1]
        self._validations.append(Validation(f"{letter}{first_row}:{letter}{last_row}", options, prompt))

    def _write(self, text: str) -> None:
        self._stream.write(text.encode("utf-8"))

    def _flush(self) -> None:
        if self._buffer:
            self._write("".join(self._buffer))
            self._buffer.clear()

    def close(self) -> None:
        self._flush()
        tail = ["</sheetData>"]
        if self._merges:
            tail.append(
                f'<mergeCells count="{len(self._merges)}">'
                + "".join(f'<mergeCell ref="{m}"/>' for m in self._merges)
                + "</mergeCells>"
            )
        if self._validations:
            tail.append(
                f'<dataValidations count="{len(self._validations)}">'
                + "".join(v.xml() for v in self._validations)
                + "</dataValidations>"
            )
        page = self._info.page
        tail.append('<pageMargins left="0.4" right="0.4" top="0.5" bottom="0.6" header="0.3" footer="0.3"/>')
        if page:
            fit = ' fitToWidth="1" fitToHeight="0"' if page.fit_width else ""
            orientation = "landscape" if page.landscape else "portrait"
            tail.append(f'<pageSetup paperSize="{page.paper}" orientation="{orientation}"{fit}/>')
            tail.append("<headerFooter><oddFooter>&amp;C第 &amp;P 页，共 &amp;N 页</oddFooter></headerFooter>")
        tail.append("</worksheet>")
        self._write("".join(tail))
        self._info.last_row = self._row
        self._stream.close()


class StreamingWorkbook:
    """An .xlsx written sheet by sheet, row by row, into ``fileobj`` (seekable; a temporary file by default).

    ::

        with StreamingWorkbook() as book:
            with book.sheet("施工图", widths=[6, 12], freeze=(3, 0), page=PageSetup(repeat_rows=(2, 3))) as sheet:
                sheet.row(["序号", "项目"], style_id("header"))
        response = FileResponse(book.file, ...)
    """

    def __init__(self, fileobj=None):
        # The caller sends the file and closes it (FileResponse does): no context manager here.
        self.file = fileobj if fileobj is not None else tempfile.TemporaryFile()  # noqa: SIM115
        self._zip = zipfile.ZipFile(self.file, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1)
        self._sheets: list[_SheetInfo] = []
        self._open: SheetWriter | None = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self._zip.close()

    def sheet(
        self,
        name: str,
        *,
        widths: Sequence[float] = (),
        freeze: tuple[int, int] | None = None,
        page: PageSetup | None = None,
        hidden_columns: Iterable[int] = (),
    ) -> _SheetContext:
        """A new sheet; write its rows before opening the next one (the zip takes one part at a time)."""
        if self._open is not None:
            raise RuntimeError("Close the previous sheet first.")
        name = _SHEET_NAME_BAD.sub("_", name)[:31]
        info = _SheetInfo(name=name, part=f"xl/worksheets/sheet{len(self._sheets) + 1}.xml")
        self._sheets.append(info)
        stream = self._zip.open(info.part, "w", force_zip64=True)
        writer = SheetWriter(
            stream,
            info,
            widths=list(widths),
            freeze=freeze,
            page=page,
            hidden=set(hidden_columns),
            selected=len(self._sheets) == 1,
        )
        self._open = writer
        return _SheetContext(self, writer)

    def _closed(self, writer: SheetWriter) -> None:
        writer.close()
        self._open = None

    def close(self):
        """Write the workbook's parts and finish the zip; ``self.file`` is then rewound, ready to be sent."""
        if self._open is not None:
            self._closed(self._open)
        if not self._sheets:
            with self.sheet("Sheet1"):
                pass
        sheets, rels, overrides, names = [], [], [], []
        for index, info in enumerate(self._sheets, start=1):
            sheets.append(f'<sheet name={quoteattr(info.name)} sheetId="{index}" r:id="rId{index}"/>')
            rels.append(
                f'<Relationship Id="rId{index}" Type="{_NS_REL}/worksheet" Target="worksheets/sheet{index}.xml"/>'
            )
            overrides.append(
                f'<Override PartName="/{info.part}" '
                'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            )
            page = info.page
            quoted = "'" + info.name.replace("'", "''") + "'"
            if page and page.repeat_rows:
                first, last = page.repeat_rows
                names.append(
                    f'<definedName name="_xlnm.Print_Titles" localSheetId="{index - 1}">'
                    f"{escape(quoted)}!${first}:${last}</definedName>"
                )
            if page and page.print_columns and info.last_row:
                last_col = _LETTERS[page.print_columns - 1]
                names.append(
                    f'<definedName name="_xlnm.Print_Area" localSheetId="{index - 1}">'
                    f"{escape(quoted)}!$A$1:${last_col}${info.last_row}</definedName>"
                )
        styles_rel = len(self._sheets) + 1
        rels.append(f'<Relationship Id="rId{styles_rel}" Type="{_NS_REL}/styles" Target="styles.xml"/>')
        defined = f"<definedNames>{''.join(names)}</definedNames>" if names else ""
        self._zip.writestr(
            "xl/workbook.xml",
            f'{_XML_HEAD}<workbook xmlns="{_NS_MAIN}" xmlns:r="{_NS_REL}"><workbookPr/>'
            f'<bookViews><workbookView activeTab="0"/></bookViews><sheets>{"".join(sheets)}</sheets>'
            f'{defined}<calcPr calcId="0"/></workbook>',
        )
        self._zip.writestr(
            "xl/_rels/workbook.xml.rels",
            f'{_XML_HEAD}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f"{''.join(rels)}</Relationships>",
        )
        self._zip.writestr("xl/styles.xml", STYLE_TABLE.xml())
        self._zip.writestr(
            "_rels/.rels",
            f'{_XML_HEAD}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{_NS_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        self._zip.writestr(
            "[Content_Types].xml",
            f'{_XML_HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/styles.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
            f"{''.join(overrides)}</Types>",
        )
        self._zip.close()
        self.file.seek(0)
        return self.file


class _SheetContext:
    def __init__(self, book: StreamingWorkbook, writer: SheetWriter):
        self.book, self.writer = book, writer

    def __enter__(self) -> SheetWriter:
        return self.writer

    def __exit__(self, exc_type, exc, tb):
        self.book._closed(self.writer)


@dataclass
class Column:
    """A column of a table written with :func:`write_table` (and read back by the imports)."""

    key: str
    header: str
    width: float
    style: str = "text"
    group: str = ""  # the upper header of a two-row header; "" = the header spans both rows
    choices: Sequence[str] = ()  # a drop-down list on the data rows
    key_column: bool = False  # a column the import uses to find the row (shown grey, not printed)


def write_header(sheet: SheetWriter, title: str, columns: Sequence[Column], *, subtitle: str = "") -> int:
    """The title row (merged across the table), an optional subtitle row, and a one- or two-row header.

    Columns with a ``group`` sit under a merged upper header; the others span both header rows.
    Returns the number of the last header row.
    """
    n = len(columns)
    sheet.row([title] + [None] * (n - 1), style_id("title"), height=30)
    sheet.merge(sheet.row_number, 1, sheet.row_number, n)
    if subtitle:
        sheet.row([subtitle] + [None] * (n - 1), style_id("subtitle"))
        sheet.merge(sheet.row_number, 1, sheet.row_number, n)
    header_styles = [style_id("header_key" if c.key_column else "header") for c in columns]
    if not any(c.group for c in columns):
        sheet.row([c.header for c in columns], header_styles, height=30)
        return sheet.row_number
    upper = sheet.row([c.group or c.header for c in columns], header_styles, height=20)
    lower = sheet.row([c.header if c.group else None for c in columns], header_styles, height=42)
    start = 0
    while start < n:
        group = columns[start].group
        end = start
        while end + 1 < n and group and columns[end + 1].group == group:
            end += 1
        if group:
            if end > start:
                sheet.merge(upper, start + 1, upper, end + 1)
        else:
            sheet.merge(upper, start + 1, lower, start + 1)
        start = end + 1
    return lower


# ---------------------------------------------------------------------------------------------
# The tables the office prints and sends back (the one table, the household register)
# ---------------------------------------------------------------------------------------------

TEMPLATE_ROWS = 200  # bordered empty rows in an import template
CHOICE_ROWS = 2000  # rows below the last that still get the drop-down lists


@contextmanager
def printed_table(
    book: StreamingWorkbook,
    name: str,
    columns: Sequence[Column],
    *,
    freeze: tuple[int, int],
    title: str,
    subtitle: str,
    instructions: Sequence[str],
):
    """The sheet of a table the office prints and sends back, its title, subtitle and header written, for the
    caller to write the rows into: the columns' widths, ``freeze`` (rows, columns), A3 landscape fitted to the page
    width with the header rows on every page, the key columns (the last ones, for the import) left out of the
    print. Then the drop-down lists, on the rows and :data:`CHOICE_ROWS` below, and the sheet 填写说明
    (``instructions``, the first line its title)."""
    page = PageSetup(repeat_rows=(3, 4), print_columns=sum(not c.key_column for c in columns), paper=8)
    with book.sheet(name, widths=[c.width for c in columns], freeze=freeze, page=page) as sheet:
        header_end = write_header(sheet, title, columns, subtitle=subtitle)
        yield sheet
        last = sheet.row_number + CHOICE_ROWS
        for index, column in enumerate(columns, start=1):
            if column.choices and len(",".join(column.choices)) <= 255:  # longer, Excel refuses the list
                sheet.validate(index, header_end + 1, last, column.choices)
    with book.sheet("填写说明", widths=[110]) as sheet:
        for index, line in enumerate(instructions):
            sheet.row([line], style_id("title" if index == 0 else "note"), height=24 if index == 0 else None)


def render_template(name: str, columns: Sequence[Column], **layout) -> object:
    """An import template: :func:`printed_table` (``layout``: its keywords) with bordered empty rows. Returns a
    rewound temporary file."""
    book = StreamingWorkbook()
    styles = [style_id(c.style) for c in columns]
    with printed_table(book, name, columns, **layout) as sheet:
        for _ in range(TEMPLATE_ROWS):
            sheet.row([None] * len(columns), styles)
    return book.close()


# ---------------------------------------------------------------------------------------------
# Exports: which area, and the file handed out
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AreaScope:
    """Which area an export covers: ``user``'s view of the district, a township or a village (fetched through the
    access scope by :func:`export_area`; the rows are read through ``visible_to(user)`` in any case)."""

    user: object
    district: District | None = None
    township: Township | None = None
    village: Village | None = None

    @property
    def level(self) -> str:
        return "village" if self.village else "township" if self.township else "district"

    @property
    def area_name(self) -> str:
        district = self.district.name if self.district else ""
        if self.village:
            return f"{district}{self.village.township.name}{self.village.name}"
        if self.township:
            return f"{district}{self.township.name}"
        return district or "全部区县"

    def in_area(self, rows, village: str):
        """``rows`` (a queryset) of this area; ``village`` is the path from a row to its village."""
        if self.village:
            return rows.filter(**{village: self.village})
        if self.township:
            return rows.filter(**{f"{village}__township": self.township})
        if self.district:
            return rows.filter(**{f"{village}__township__district": self.district})
        return rows


class AreaForm(forms.Form):
    """The area an export asks for: a township code or a village id, as the pages link them."""

    township = forms.CharField(max_length=9, required=False)
    village = forms.IntegerField(min_value=1, required=False)


def export_area(user, form: AreaForm) -> dict:
    """:class:`AreaScope`'s area fields for what ``form`` asks: its village or township, of those ``user`` may see,
    else the user's own area (the district for district roles). A bad parameter or an area out of sight is a 404."""
    if not form.is_valid():
        raise Http404("参数不正确")
    data = form.cleaned_data
    if data["village"]:
        village = get_object_or_404(
            Village.objects.visible_to(user).select_related("township__district"), pk=data["village"]
        )
        return {"district": village.township.district, "village": village}
    if data["township"]:
        township = get_object_or_404(
            Township.objects.visible_to(user).select_related("district"), code=data["township"]
        )
        return {"district": township.district, "township": township}
    if user.village_id:
        village = Village.objects.select_related("township__district").get(pk=user.village_id)
        return {"district": village.township.district, "village": village}
    if user.township_id:
        township = Township.objects.select_related("district").get(pk=user.township_id)
        return {"district": township.district, "township": township}
    return {"district": user.district or only_district()}


def only_district() -> District | None:
    districts = list(District.objects.all()[:2])
    return districts[0] if len(districts) == 1 else None


def xlsx_response(file, name: str) -> FileResponse:
    return FileResponse(file, as_attachment=True, filename=name, content_type=XLSX_CONTENT_TYPE)


def xlsx_download(request, file, name: str, **log) -> FileResponse:
    """``file`` as the attachment ``name``, written to the export log (``log``: :func:`record_export`'s keywords)."""
    record_export(request.user, request=request, **log)
    return xlsx_response(file, name)


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
    return content


class SheetReadError(ValidationError):
    pass


HEADER_ROOM = 20  # rows above a table's data (title, header) and below it (totals) that do not count


def too_many_rows(max_rows: int) -> str:
    return f"表格行数过多：最多导入 {max_rows:,} 行，请分批导入。"


def check_row_count(count: int) -> None:
    """Refuse a table of more data rows than the limit (read_sheet stops reading a little past it)."""
    max_rows = import_limits()["max_rows"]
    if count > max_rows:
        raise SheetReadError(too_many_rows(max_rows))


@dataclass
class SheetData:
    """The cells of one sheet as read: ``rows`` are (row number, [values]) for non-empty rows; ``formulas`` the
    cells that hold a formula (refused: we cannot know their value), as (row, column) pairs, 1-based."""

    title: str
    rows: list[tuple[int, list]] = field(default_factory=list)
    formulas: set[tuple[int, int]] = field(default_factory=set)


def read_sheet(content: bytes, *, sheet_name: str | None = None, max_rows: int | None = None) -> SheetData:
    """Read the first sheet (or ``sheet_name``) of a checked upload with openpyxl's streaming reader.

    Raises SheetReadError (Chinese) for a corrupt workbook or more than ``max_rows`` rows.
    """
    max_rows = max_rows or import_limits()["max_rows"]
    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=False)
    except Exception as error:  # openpyxl raises many kinds (KeyError, XML errors, zlib errors, defusedxml's …)
        raise SheetReadError(f"文件已损坏或不是有效的 Excel 工作簿，无法读取（{type(error).__name__}）。") from None
    try:
        sheet = book[sheet_name] if sheet_name and sheet_name in book.sheetnames else book.worksheets[0]
        data = SheetData(title=sheet.title)
        seen = 0
        for cells in sheet.iter_rows():
            values = []
            row_number = None
            for cell in cells:
                if getattr(cell, "row", None) is None:  # an EmptyCell in read-only mode
                    values.append(None)
                    continue
                row_number = cell.row
                value = cell.value
                if cell.data_type == "f":
                    data.formulas.add((cell.row, cell.column))
                values.append(value)
            if row_number is None or all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
                continue
            seen += 1
            if seen > max_rows + HEADER_ROOM:
                raise SheetReadError(too_many_rows(max_rows))
            data.rows.append((row_number, values))
        return data
    except SheetReadError:
        raise
    except Exception as error:
        raise SheetReadError(f"文件已损坏或不是有效的 Excel 工作簿，无法读取（{type(error).__name__}）。") from None
    finally:
        book.close()


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

    Stored as JSON in the import batch between the preview and the confirmation.
    """

    kind: str
    file_name: str
    year: int | None = None
    problems: list[Problem] = field(default_factory=list)
    changes: list[RowChange] = field(default_factory=list)
    unchanged: int = 0
    notes: list[str] = field(default_factory=list)  # e.g. plans that will be opened
    fingerprint: str = ""

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
            "fingerprint": self.fingerprint,
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
            fingerprint=data.get("fingerprint", ""),
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
        self.problems: list[Problem] = []
        self.failed: set[str] = set()  # fields whose cell could not be taken (and is reported)
        self.skip = not any(self.texts.values())  # a row the import passes over (subclasses add theirs)

    @classmethod
    def rows_of(cls, sheet: SheetData, header: HeaderMap) -> list:
        """The rows of ``sheet`` below ``header``, but those to skip; refused if more than the limit."""
        below = (
            cls(number, values, header.columns, header.headers)
            for number, values in sheet.rows
            if number > header.last_row
        )
        rows = [row for row in below if not row.skip]
        check_row_count(len(rows))
        return rows

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


@dataclass
class HeaderMap:
    """Where a table's header ends and which column (0-based) holds each known field."""

    last_row: int
    columns: dict[str, int]
    headers: dict[str, str]  # field → the header text as found


def locate_header(sheet: SheetData, known: dict[str, str], required: Sequence[str], *, anchor: str) -> HeaderMap:
    """Find the header of an uploaded table: the first of the first rows with the ``anchor`` header (e.g. 项目),
    and the row below it when that is the lower row of a two-row header. ``known`` maps header texts to fields.

    Raises SheetReadError (Chinese) if there is no such header or a ``required`` field has no column.
    """
    labels = dict(known)
    for position, (number, values) in enumerate(sheet.rows[:12]):
        texts = [as_text(v) for v in values]
        if anchor not in texts:
            continue
        leaves = list(texts)
        last = number
        if position + 1 < len(sheet.rows):
            below_number, below = sheet.rows[position + 1]
            below_texts = [as_text(v) for v in below]
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
    return _LETTERS[index]
