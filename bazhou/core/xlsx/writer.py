"""The streaming .xlsx writer and the printed tables built on it.

:class:`StreamingWorkbook` writes an .xlsx one row at a time straight into the zip (a temporary file): memory does
not grow with the number of rows. It is purpose-built because the general writers are too slow for the one table of
a whole district: 196,000 rows × 32 columns take 2–3 minutes with openpyxl's ``write_only`` mode and typed, styled
cells, and about 35 s with XlsxWriter's ``constant_memory`` mode, against about 5 s here (see bench/excel.py). It
writes only what these files need:

- typed cells: text as inline strings (a text is never a formula, whatever it starts with; text that starts with
  = + - @ also gets Excel's "quote prefix", so that editing the cell keeps it text), numbers, dates;
- a fixed set of styles (:data:`STYLES`): title, headers, borders, number and date formats, subtotal fills,
  the red fill that marks a bad cell in a returned upload;
- column widths (a Chinese character counts double: :func:`display_width`; a number column as wide as its largest
  value needs in Excel's measure, :func:`number_width`, so that no number shows as ``###``), frozen header rows,
  merged cells, drop-down lists (data validation), landscape print fitted to the page width with the header rows
  repeated on every page, a running head (area, year, as-of date) and a page-number footer on every page.

:func:`printed_table` and :func:`render_template` lay out the tables the office prints and sends back (the one
table, the household register).
"""

from __future__ import annotations

import datetime
import math
import re
import tempfile
import unicodedata
import zipfile
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from xml.sax.saxutils import escape, quoteattr

from django.utils import timezone
from openpyxl.utils import get_column_letter

from bazhou.core.text import strip_illegal

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


# How Excel measures a column (ECMA-376 Part 1, 18.3.1.13): a width is a number of characters of the workbook's
# default font's "maximum digit width" (MDW, in pixels), the 5 pixels of padding included; the column is then
# Truncate(((256 * width + Truncate(128 / MDW)) / 256) * MDW) pixels wide. The default font here is 宋体 10 pt
# (FONTS["normal"], the first font of styles.xml), whose digits are 7 px wide at 96 dpi. 宋体 draws every ASCII
# character (digits, "," "." "-" "%") half an em wide, and has no bold face: bold is drawn 1 px wider per glyph.
DEFAULT_MDW = 7
CELL_PADDING = 5


def column_pixels(width: float, mdw: int = DEFAULT_MDW) -> int:
    """How many pixels wide Excel draws a column of ``width`` (characters)."""
    return int(((256 * width + int(128 / mdw)) / 256) * mdw)


def em_pixels(size_pt: float) -> int:
    """The height of a font of ``size_pt`` on a 96 dpi screen, in whole pixels as Windows sizes it (10 pt: 13)."""
    return round(size_pt * 96 / 72)


def glyph_pixels(size_pt: float, *, bold: bool = False) -> int:
    """The width of an ASCII character (a digit, a comma, a point) of 宋体 at ``size_pt``: half an em, rounded up
    (10 pt: 7 px, Excel's maximum digit width of 宋体 10; 11 pt: 8 px), 1 px more in bold."""
    return math.ceil(em_pixels(size_pt) / 2) + (1 if bold else 0)


def text_pixels(text: str, style: str) -> int:
    """How many pixels the longest line of ``text`` takes in the named style's font (宋体: a Chinese character is
    an em wide, any other half an em)."""
    size, bold = FONT_SIZES[STYLES[style].font]
    wide = em_pixels(size) + (1 if bold else 0)
    narrow = glyph_pixels(size, bold=bold)
    return max(
        sum(wide if unicodedata.east_asian_width(ch) in "WFA" else narrow for ch in line) for line in text.split("\n")
    )


def width_for_pixels(pixels: int, mdw: int = DEFAULT_MDW) -> float:
    """The narrowest width (in quarters of a character) whose column holds ``pixels`` of text and the padding."""
    width = max(math.floor((pixels + CELL_PADDING) / mdw * 4) / 4 - 0.25, 0)
    while column_pixels(width, mdw) < pixels + CELL_PADDING:
        width += 0.25
    return width


def widest_number_text(largest, num_fmt: str | None) -> str:
    """The longest text a number of magnitude up to ``largest`` can show as in ``num_fmt`` (one of the formats of
    :data:`STYLES`): every decimal place the format may show, the thousands separators, a minus sign."""
    whole = int(abs(Decimal(str(largest or 0))))
    sign = "-" if largest is not None and Decimal(str(largest)) < 0 else ""
    if num_fmt == DATE:
        return "0000-00-00"
    if num_fmt == MONEY:
        return f"{sign}{whole:,}.0000"
    if num_fmt and "." in num_fmt:  # "0.##": up to two decimals
        return f"{sign}{whole}.{'0' * (len(num_fmt) - num_fmt.index('.') - 1)}"
    return f"{sign}{whole}"


def number_width(largest, style: str) -> float:
    """The column width (characters) in which every number up to ``largest`` shows in full in the named style,
    instead of Excel's ``###``."""
    spec = STYLES[style]
    size, bold = FONT_SIZES[spec.font]
    return width_for_pixels(len(widest_number_text(largest, spec.num_fmt)) * glyph_pixels(size, bold=bold))


def clean_text(text: str) -> str:
    """``text`` without the characters an .xlsx cannot hold (the one rule: :func:`bazhou.core.text.strip_illegal`;
    openpyxl's own pattern misses U+FFFE, U+FFFF and lone surrogates)."""
    return strip_illegal(text)


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
FONT_SIZES = {"normal": (10, False), "bold": (10, True), "title": (16, True), "grey": (9, False), "red": (10, True)}
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
COLUMN_LETTERS = [get_column_letter(i) for i in range(1, 16385)]
_SHEET_NAME_BAD = re.compile(r"[\[\]:*?/\\]")
_FLUSH_ROWS = 200
# Text that needs more than copying into the XML: characters to escape or drop, a formula-like start, spaces to keep.
_CAREFUL = re.compile("[&<>\x00-\x08\x0b\x0c\x0e-\x1f\n\r\ud800-\udfff\ufffe\uffff]|^[=+\\-@\\s]|\\s$")


@dataclass
class Validation:
    """A drop-down list on a range of a sheet (``sqref`` like ``"G4:G2003"``)."""

    sqref: str
    options: Sequence[str]
    prompt: str = ""

    def xml(self) -> str:
        items = ",".join(clean_text(option) for option in self.options)
        if len(items) > 255:
            raise ValueError("A drop-down list written inline holds at most 255 characters.")
        error = quoteattr(clean_text("请从下拉列表中选择：" + "、".join(self.options)))
        prompt = f' promptTitle="请选择" prompt={quoteattr(clean_text(self.prompt))}' if self.prompt else ""
        return (
            f'<dataValidation type="list" allowBlank="1" showInputMessage="1" showErrorMessage="1" '
            f'errorTitle="输入有误" error={error}{prompt} '
            f'sqref="{self.sqref}"><formula1>{escape(chr(34) + items + chr(34))}</formula1></dataValidation>'
        )


@dataclass
class PageSetup:
    """How a sheet prints: orientation, paper, scaling, the rows repeated on every page, and the running head.

    Every printed page carries a header (``head`` on the left, ``head_right`` on the right: e.g. the area and year,
    and the date the figures are as of) and the footer “第 x 页，共 y 页”."""

    landscape: bool = True
    fit_width: bool = True  # scaled to one page wide
    fit_height: bool = False  # and to one page tall (a sheet that must fit its page, like 填写说明)
    repeat_rows: tuple[int, int] | None = None  # e.g. (2, 3): the header rows on every printed page
    print_columns: int | None = None  # print only the first N columns (the rest are for the import)
    paper: int = 9  # A4; 8 is A3
    head: str = ""
    head_right: str = ""

    def header_footer_xml(self) -> str:
        """The ``<headerFooter>`` element: the head in 9 pt, the page numbers at the foot (Excel's codes:
        &L &C &R sections, &P page, &N pages; a literal & is written &&)."""

        def text(value: str) -> str:
            value = clean_text(value).replace("\n", " ")[:100].replace("&", "&&")
            return escape(" " + value if value[:1].isdigit() else value)  # "&9" then "2017…" would be size 92017

        head = ""
        if self.head:
            head += f"&amp;L&amp;9{text(self.head)}"
        if self.head_right:
            head += f"&amp;R&amp;9{text(self.head_right)}"
        odd_header = f"<oddHeader>{head}</oddHeader>" if head else ""
        return f"<headerFooter>{odd_header}<oddFooter>&amp;C第 &amp;P 页，共 &amp;N 页</oddFooter></headerFooter>"


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
        fits = page and (page.fit_width or page.fit_height)
        sheet_pr = '<sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>' if fits else ""
        view = '<sheetView workbookViewId="0"' + (' tabSelected="1"' if selected else "") + ">"
        if freeze:
            rows, cols = freeze
            top_left = f"{COLUMN_LETTERS[cols]}{rows + 1}"
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
        letters = COLUMN_LETTERS
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
        self._merges.append(f"{COLUMN_LETTERS[first_col - 1]}{first_row}:{COLUMN_LETTERS[last_col - 1]}{last_row}")

    def validate(self, column: int, first_row: int, last_row: int, options: Sequence[str], prompt: str = "") -> None:
        """A drop-down list of ``options`` on rows ``first_row``–``last_row`` of ``column`` (1-based)."""
        letter = COLUMN_LETTERS[column - 1]
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
            fit = ""
            if page.fit_width or page.fit_height:
                fit = f' fitToWidth="{int(page.fit_width)}" fitToHeight="{int(page.fit_height)}"'
            orientation = "landscape" if page.landscape else "portrait"
            tail.append(f'<pageSetup paperSize="{page.paper}" orientation="{orientation}"{fit}/>')
            tail.append(page.header_footer_xml())
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
        name = _SHEET_NAME_BAD.sub("_", clean_text(name))[:31]
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
                last_col = COLUMN_LETTERS[page.print_columns - 1]
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
    # The header as the sheet shows it, with line breaks where a narrow column's header may break (“是否” / “逾期”),
    # so that Excel never wraps it mid-word; "" = ``header``. The import reads it without the breaks.
    printed: str = ""

    @property
    def label(self) -> str:
        return self.printed or self.header


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
        sheet.row([c.label for c in columns], header_styles, height=30)
        return sheet.row_number
    upper = sheet.row([c.group or c.label for c in columns], header_styles, height=20)
    lower = sheet.row([c.label if c.group else None for c in columns], header_styles, height=42)
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
    widths: Sequence[float] | None = None,
    head: str = "",
    head_right: str = "",
):
    """The sheet of a table the office prints and sends back, its title, subtitle and header written, for the
    caller to write the rows into: the columns' ``widths`` (default: each column's own), ``freeze`` (rows,
    columns), A3 landscape fitted to the page width with the header rows on every page and a running head on
    every page (``head`` left, e.g. the area and year; ``head_right`` right, e.g. the as-of date) above the page
    numbers at the foot, the key columns (the last ones, for the import) left out of the print. Then the
    drop-down lists, on the rows and :data:`CHOICE_ROWS` below, and the sheet 填写说明 (``instructions``, the
    first line its title), fitted to one A4 page."""
    page = PageSetup(
        repeat_rows=(3, 4),
        print_columns=sum(not c.key_column for c in columns),
        paper=8,
        head=head,
        head_right=head_right,
    )
    widths = list(widths) if widths is not None else [c.width for c in columns]
    with book.sheet(name, widths=widths, freeze=freeze, page=page) as sheet:
        header_end = write_header(sheet, title, columns, subtitle=subtitle)
        page.repeat_rows = (header_end - 1 if any(c.group for c in columns) else header_end, header_end)
        yield sheet
        last = sheet.row_number + CHOICE_ROWS
        for index, column in enumerate(columns, start=1):
            if column.choices and len(",".join(column.choices)) <= 255:  # longer, Excel refuses the list
                sheet.validate(index, header_end + 1, last, column.choices)
    fit_page = PageSetup(landscape=False, fit_width=True, fit_height=True, head=head)
    with book.sheet("填写说明", widths=[100], page=fit_page) as sheet:
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
