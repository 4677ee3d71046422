"""How Excel would draw an .xlsx's numeric cells, read from the file's own XML (not from the writer's tables): each
cell's style (font, size, bold, number format), its column's width, the text the number format makes of its value,
and whether that text fits the column or Excel shows ``###``.

Excel's rules (ECMA-376 Part 1, 18.3.1.13; Excel's number formats):

- a column of width ``w`` is ``Truncate(((256 * w + Truncate(128 / MDW)) / 256) * MDW)`` pixels, MDW being the
  maximum digit width of the workbook's default font (the first font of styles.xml);
- a number is drawn whole or not at all: when its text and the cell's padding (2 px each side, 1 px of grid line)
  are wider than the column, Excel fills the cell with ``#``;
- fonts are sized in whole pixels (10 pt at 96 dpi is a 13 px em); 宋体 (SimSun) draws digits, "," "." "-" half an
  em wide, rounded up (10 pt: 7 px, which is its MDW; 11 pt: 8 px); it has no bold face and Windows draws its bold
  1 px wider per glyph. Calibri 11's digits are 7 px (its MDW).
"""

from __future__ import annotations

import datetime
import io
import math
import re
import zipfile
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from xml.etree import ElementTree

NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
PADDING = 5
BUILTIN_FORMATS = {0: "General", 1: "0", 2: "0.00", 3: "#,##0", 4: "#,##0.00", 14: "yyyy-mm-dd"}


def em(size_pt: float) -> int:
    return round(size_pt * 96 / 72)


def digit_pixels(name: str, size_pt: float, bold: bool) -> int:
    """The width of a digit of the font: 宋体 half an em rounded up (+1 px in bold); Calibri 7 px at 11 pt."""
    if name.lower() in ("calibri",):
        return round(7 * size_pt / 11) + (1 if bold else 0)
    return math.ceil(em(size_pt) / 2) + (1 if bold else 0)


def column_pixels(width: float, mdw: int) -> int:
    return int(((256 * width + int(128 / mdw)) / 256) * mdw)


def shown(value: float, fmt: str) -> str:
    """The text Excel shows for ``value`` in the number format ``fmt`` (the formats these files use)."""
    if fmt == "General":
        text = f"{value:.10g}"
        return text
    if re.fullmatch(r"y+-m+-d+", fmt):
        day = datetime.date(1899, 12, 30) + datetime.timedelta(days=int(value))
        return day.isoformat()
    grouped = "#,##" in fmt
    number_part = fmt.split(";")[0]
    decimals = number_part.split(".")[1] if "." in number_part else ""
    required, optional = decimals.count("0"), decimals.count("#")
    amount = Decimal(repr(value)).quantize(Decimal(1).scaleb(-(required + optional)), rounding=ROUND_HALF_UP)
    sign = "-" if amount < 0 else ""
    whole, _, fraction = f"{abs(amount):f}".partition(".")
    fraction = (fraction + "0" * (required + optional))[: required + optional]
    while len(fraction) > required and fraction.endswith("0"):
        fraction = fraction[:-1]
    if grouped:
        whole = f"{int(whole):,}"
    point = "." if "." in number_part else ""  # Excel keeps the point of "0.##" even with no decimals: "3."
    return f"{sign}{whole}{point}{fraction}"


@dataclass
class Cell:
    ref: str
    value: float
    text: str
    needed: int  # pixels: the text and the padding
    column: int  # pixels

    @property
    def fits(self) -> bool:
        return self.needed <= self.column


def _column_index(ref: str) -> int:
    letters = re.match(r"[A-Z]+", ref).group()
    index = 0
    for ch in letters:
        index = index * 26 + ord(ch) - 64
    return index


def numeric_cells(content: bytes, sheet_number: int = 1, *, widths: dict[int, float] | None = None) -> list[Cell]:
    """Every numeric cell of sheet ``sheet_number`` with the text Excel shows and the pixels it needs and has.
    ``widths`` (column number → width) replaces the file's widths (to measure another layout of the same cells)."""
    with zipfile.ZipFile(io.BytesIO(content)) as book:
        styles = ElementTree.fromstring(book.read("xl/styles.xml"))
        sheet = ElementTree.fromstring(book.read(f"xl/worksheets/sheet{sheet_number}.xml"))
    formats = dict(BUILTIN_FORMATS)
    for fmt in styles.iterfind("m:numFmts/m:numFmt", NS):
        formats[int(fmt.get("numFmtId"))] = fmt.get("formatCode")
    fonts = []
    for font in styles.iterfind("m:fonts/m:font", NS):
        size = float(font.find("m:sz", NS).get("val")) if font.find("m:sz", NS) is not None else 11.0
        name = font.find("m:name", NS).get("val") if font.find("m:name", NS) is not None else "Calibri"
        fonts.append((name, size, font.find("m:b", NS) is not None))
    xfs = [
        (formats.get(int(xf.get("numFmtId", 0)), "General"), fonts[int(xf.get("fontId", 0))])
        for xf in styles.iterfind("m:cellXfs/m:xf", NS)
    ]
    default_name, default_size, _ = fonts[0]
    mdw = digit_pixels(default_name, default_size, False)
    column_widths = {}
    for col in sheet.iterfind("m:cols/m:col", NS):
        for index in range(int(col.get("min")), int(col.get("max")) + 1):
            column_widths[index] = float(col.get("width"))
    column_widths.update(widths or {})
    cells = []
    for c in sheet.iterfind("m:sheetData/m:row/m:c", NS):
        v = c.find("m:v", NS)
        if c.get("t") not in (None, "n") or v is None:
            continue
        value = float(v.text)
        fmt, (name, size, bold) = xfs[int(c.get("s", 0))]
        text = shown(value, fmt)
        needed = len(text) * digit_pixels(name, size, bold) + PADDING
        width = column_widths.get(_column_index(c.get("r")), 8.43)
        cells.append(Cell(c.get("r"), value, text, needed, column_pixels(width, mdw)))
    return cells


def header_footer(content: bytes, sheet_number: int = 1) -> tuple[str, str]:
    with zipfile.ZipFile(io.BytesIO(content)) as book:
        sheet = ElementTree.fromstring(book.read(f"xl/worksheets/sheet{sheet_number}.xml"))
    node = sheet.find("m:headerFooter", NS)
    if node is None:
        return "", ""
    return (node.findtext("m:oddHeader", "", NS), node.findtext("m:oddFooter", "", NS))


def defined_names(content: bytes) -> dict[tuple[str, str | None], str]:
    with zipfile.ZipFile(io.BytesIO(content)) as book:
        workbook = ElementTree.fromstring(book.read("xl/workbook.xml"))
    return {
        (n.get("name"), n.get("localSheetId")): n.text for n in workbook.iterfind("m:definedNames/m:definedName", NS)
    }


def sheet_xml(content: bytes, sheet_number: int) -> ElementTree.Element:
    with zipfile.ZipFile(io.BytesIO(content)) as book:
        return ElementTree.fromstring(book.read(f"xl/worksheets/sheet{sheet_number}.xml"))
