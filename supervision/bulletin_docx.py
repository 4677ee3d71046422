"""A bulletin (通报) as a Word file (.docx), laid out as an official 通报: the red masthead (发文机关标志) with the
issue, the 文号 over the red rule, the title, the body, its tables (表1 townships ranked, 表2 the rows overdue
longest, 表3 the responsible units ranked), the list of attachments, the signature (issuing office and date); then
each attachment (附件1–3, the full lists) from a new page.

Read from the snapshot only (``supervision.bulletin_data.Report``), like the print page and the Excel file
(``supervision.exports``), so a published bulletin downloads the same whatever happens to the data later.
"""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from django.http import HttpResponse
from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.oxml import OxmlElement, parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.shared import Mm, Pt, RGBColor

from bazhou.core.text import strip_illegal
from supervision.bulletin_data import Report, cn_date
from supervision.exports import attachment_header, log_bulletin_export
from supervision.models import Bulletin

RED = RGBColor(0xC0, 0x00, 0x00)
HEADING_FONT = "方正小标宋简体"  # the masthead and the title; Word falls back to a serif face without it
BODY_FONT = "仿宋_GB2312"
TABLE_FONT = "宋体"
CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _font(run, name: str, size: float, *, bold: bool = False, color: RGBColor | None = None) -> None:
    run.font.name = name
    run.font.size = Pt(size)
    run.font.bold = bold
    if color is not None:
        run.font.color.rgb = color
    fonts = run._element.get_or_add_rPr().get_or_add_rFonts()
    fonts.set(qn("w:eastAsia"), name)


def _paragraph(doc, text: str = "", *, size: float = 16, font: str = BODY_FONT, align=None, bold=False, color=None):
    paragraph = doc.add_paragraph()
    if align is not None:
        paragraph.alignment = align
    paragraph.paragraph_format.space_after = Pt(0)
    text = strip_illegal(text)  # a snapshot taken before the check at input may hold a character XML cannot carry
    if text:
        _font(paragraph.add_run(text), font, size, bold=bold, color=color)
    return paragraph


def _red_rule(paragraph) -> None:
    """The red rule under the 文号 (a bottom border of its paragraph)."""
    borders = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for key, value in (("w:val", "single"), ("w:sz", "18"), ("w:space", "6"), ("w:color", "C00000")):
        bottom.set(qn(key), value)
    borders.append(bottom)
    paragraph._p.get_or_add_pPr().append(borders)


def _table(doc, headers: list[str], rows: list[list], *, size: float = 10.5) -> None:
    """A bordered table (style “Table Grid”), centred, its header row bold and repeated on every page.

    Written as one piece of XML: python-docx's cell-by-cell API takes seconds per thousand rows (the attachments
    list every overdue row), this takes milliseconds."""
    half_points = round(size * 2)
    fonts = f'<w:rFonts w:ascii="{TABLE_FONT}" w:hAnsi="{TABLE_FONT}" w:eastAsia="{TABLE_FONT}"/>'

    def cell(value, *, bold: bool = False) -> str:
        text = escape(strip_illegal("" if value is None else str(value)))
        align = '<w:pPr><w:jc w:val="center"/></w:pPr>' if bold else ""
        run_props = f'<w:rPr>{fonts}{"<w:b/>" if bold else ""}<w:sz w:val="{half_points}"/></w:rPr>'
        return f'<w:tc><w:p>{align}<w:r>{run_props}<w:t xml:space="preserve">{text}</w:t></w:r></w:p></w:tc>'

    header = "".join(cell(h, bold=True) for h in headers)
    body = "".join(f"<w:tr>{''.join(cell(v) for v in values)}</w:tr>" for values in rows)
    xml = (
        f"<w:tbl {nsdecls('w')}>"
        '<w:tblPr><w:tblStyle w:val="TableGrid"/><w:tblW w:w="5000" w:type="pct"/><w:jc w:val="center"/>'
        '<w:tblLook w:val="04A0" w:firstRow="1" w:lastRow="0" w:firstColumn="1" w:lastColumn="0" w:noHBand="0"'
        ' w:noVBand="1"/></w:tblPr>'
        f"<w:tblGrid>{'<w:gridCol/>' * len(headers)}</w:tblGrid>"
        f'<w:tr><w:trPr><w:tblHeader w:val="true"/></w:trPr>{header}</w:tr>{body}</w:tbl>'
    )
    doc.element.body._insert_tbl(parse_xml(xml))


def _caption(doc, text: str) -> None:
    paragraph = _paragraph(doc, text, size=14, font="黑体", bold=True)
    paragraph.paragraph_format.space_before = Pt(12)
    paragraph.paragraph_format.space_after = Pt(6)
    paragraph.paragraph_format.keep_with_next = True


def _rank(entry: dict, key: str = "rank") -> str:
    rank = entry.get(key)
    if rank is None:
        return ""
    return f"并列{rank}" if entry.get(f"{key}_tied") else str(rank)


def _rate(entry: dict) -> str:
    rate = entry.get("overdue_rate")
    return f"{rate:.1f}%" if isinstance(rate, int | float) else ""


def render_docx(report: Report) -> bytes:
    bulletin = report.bulletin
    doc = Document()
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)

    if report.is_draft:
        _paragraph(doc, "草稿　未发布", size=12, align=WD_ALIGN_PARAGRAPH.RIGHT, bold=True, color=RED)
    _paragraph(doc, report.masthead, size=28, font=HEADING_FONT, align=WD_ALIGN_PARAGRAPH.CENTER, bold=True, color=RED)
    _paragraph(doc, report.issue, size=16, align=WD_ALIGN_PARAGRAPH.CENTER)
    number = _paragraph(doc, report.document_number, size=16, align=WD_ALIGN_PARAGRAPH.CENTER)
    number.paragraph_format.space_after = Pt(18)
    _red_rule(number)

    title = _paragraph(doc, bulletin.title, size=22, font=HEADING_FONT, align=WD_ALIGN_PARAGRAPH.CENTER)
    title.paragraph_format.space_before = Pt(12)
    title.paragraph_format.space_after = Pt(12)
    for text in report.paragraphs:
        paragraph = _paragraph(doc, text.replace("\n", ""), align=WD_ALIGN_PARAGRAPH.JUSTIFY)
        paragraph.paragraph_format.first_line_indent = Pt(32)
        paragraph.paragraph_format.line_spacing = Pt(28)

    if report.month_on_month_text:
        _paragraph(doc, report.month_on_month_text, size=12)
    _caption(doc, "表1　各乡镇（街道）逾期任务排名")
    _table(
        doc,
        ["排名", "乡镇（街道）", "到期任务（项）", "逾期未完成（项）", "逾期率", "逾期率排名", "未销号问题（项）"],
        [
            [_rank(t), t["name"], t.get("due_tasks", ""), t["overdue_tasks"], _rate(t), _rank(t, "rate_rank")]
            + [t["open_rectifications"]]
            for t in report.townships
        ],
    )
    _caption(doc, f"表2　逾期时间最长的{len(report.longest)}项任务")
    _table(
        doc,
        ["排名", "乡镇（街道）", "村", "项目", "完成时限", "逾期（天）", "责任单位 / 责任人"],
        [
            [_rank(t), t["township"], t["village"], t["item"], t["deadline"], t["days_overdue"]]
            + [f"{t['unit'] or '–'} / {t['person'] or '–'}"]
            for t in report.longest
        ],
    )
    if report.units:
        more = "（前10位，完整排名见附件2）" if len(report.units) > 10 else ""
        _caption(doc, f"表3　逾期任务较多的责任单位{more}")
        _table(
            doc,
            ["排名", "责任单位", "逾期任务（项）", "最长逾期（天）", "责任人（名）"],
            [
                [_rank(u), u["unit"] or "（未填写责任单位）", u["overdue_tasks"], u["longest_days"], u["people"]]
                for u in report.units[:10]
            ],
        )

    if report.as_of:
        period = f"{cn_date(bulletin.period_start)}至{cn_date(bulletin.period_end)}"
        _paragraph(doc, f"（通报期间：{period}；数据截至{cn_date(report.as_of)}）", size=12)
    for n, attachment in enumerate(report.attachments):
        label = "附件：" if n == 0 else "　　　"
        paragraph = _paragraph(doc, f"{label}{attachment['number']}. {attachment['title']}（{attachment['size']}）")
        paragraph.paragraph_format.left_indent = Pt(32)
        if n == 0:
            paragraph.paragraph_format.space_before = Pt(16)
    issuer = _paragraph(doc, report.issuer_name, align=WD_ALIGN_PARAGRAPH.RIGHT)
    issuer.paragraph_format.space_before = Pt(32)
    issuer.paragraph_format.right_indent = Pt(32)
    date = _paragraph(doc, cn_date(bulletin.issued_on), align=WD_ALIGN_PARAGRAPH.RIGHT)
    date.paragraph_format.right_indent = Pt(32)

    _annex(doc, report)
    output = io.BytesIO()
    doc.save(output)
    return output.getvalue()


def _annex_heading(doc, number: str, title: str) -> None:
    """An attachment starts on a new page: its number (附件1) on the left, its title centred."""
    doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    _paragraph(doc, number, size=16, font="黑体")
    heading = _paragraph(doc, title, size=18, font=HEADING_FONT, align=WD_ALIGN_PARAGRAPH.CENTER)
    heading.paragraph_format.space_after = Pt(12)


def _annex(doc, report: Report) -> None:
    titles = {a["key"]: a["title"] for a in report.attachments}
    _annex_heading(doc, "附件1", f"{titles['tasks']}（{len(report.tasks)}项）")
    _table(
        doc,
        ["序号", "乡镇", "村", "项目", "完成时限", "逾期（天）", "进展", "责任单位 / 责任人"],
        [
            [n, t["township"], t["village"], t["item"] + (f"（{t['household']}）" if t["household"] else "")]
            + [t["deadline"], t["days_overdue"], f"{t['status']} {t['progress']}%"]
            + [f"{t['unit'] or '–'} / {t['person'] or '–'}"]
            for n, t in enumerate(report.tasks, start=1)
        ],
        size=9,
    )
    _annex_heading(doc, "附件2", titles["responsible"])
    _caption(doc, f"（一）责任单位（{len(report.units)}个）")
    _table(
        doc,
        ["排名", "责任单位", "逾期任务（项）", "最长逾期（天）", "责任人（名）", "涉及乡镇（街道）"],
        [
            [_rank(u), u["unit"] or "（未填写责任单位）", u["overdue_tasks"], u["longest_days"], u["people"]]
            + [u["townships"]]
            for u in report.units
        ],
        size=9,
    )
    _caption(doc, f"（二）责任人（{len(report.people)}名）")
    _table(
        doc,
        ["排名", "责任人", "责任单位", "逾期任务（项）", "最长逾期（天）", "涉及乡镇（街道）"],
        [
            [_rank(p), p["person"], p["unit"] or "–", p["overdue_tasks"], p["longest_days"], p["townships"]]
            for p in report.people
        ],
        size=9,
    )
    _annex_heading(doc, "附件3", f"{titles['rectifications']}（{len(report.rectifications)}项）")
    _table(
        doc,
        ["序号", "乡镇", "问题", "整改要求", "整改时限", "状态", "责任单位 / 责任人"],
        [
            [n, r["township"], f"{r['target']}：{r['description']}", r["requirement"]]
            + [r["deadline"] + (f"（逾期{r['days_overdue']}天）" if r["overdue"] else ""), r["status"]]
            + [f"{r['unit'] or '–'} / {r['person'] or '–'}"]
            for n, r in enumerate(report.rectifications, start=1)
        ],
        size=9,
    )


def bulletin_docx_response(request, bulletin: Bulletin, *, via: str = "page") -> HttpResponse:
    """The bulletin as a Word download, written to the export log like the Excel file."""
    report = Report.of(bulletin)
    draft = "（草稿）" if report.is_draft else ""
    name = f"{report.masthead}{report.issue}{draft}.docx"
    fallback = f"bulletin-{bulletin.year}-{bulletin.number:02d}{'-draft' if report.is_draft else ''}.docx"
    log_bulletin_export(request, report, fmt="docx", via=via)
    return HttpResponse(
        render_docx(report),
        content_type=CONTENT_TYPE,
        headers={"Content-Disposition": attachment_header(name, fallback)},
    )
