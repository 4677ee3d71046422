"""Bulletins (通报) as documents: the Word file laid out as an official 通报, and the fixed number of queries of
the bulletin pages and downloads."""

import datetime
import io
from urllib.parse import quote

import pytest
from django.urls import reverse
from docx import Document
from docx.shared import RGBColor

from supervision import bulletin_services
from supervision.models import Bulletin
from tests import factories
from tests.test_bulletins import data, generate  # noqa: F401 - the hand-built rows of the bulletin tests

pytestmark = pytest.mark.usefixtures("pinned_today")


def publish(bulletin, user):
    return bulletin_services.bulletin_publish_draft(
        bulletin_id=bulletin.pk, user=user, expected=bulletin_services.fingerprint(bulletin)
    )


def word(client, bulletin):
    response = client.get(reverse("supervision:bulletin_docx", args=[bulletin.pk]))
    assert response.status_code == 200
    return response, Document(io.BytesIO(response.content))


def texts(document) -> list[str]:
    return [p.text for p in document.paragraphs]


def cells(table) -> list[list[str]]:
    return [[cell.text for cell in row.cells] for row in table.rows]


def test_the_word_file_is_laid_out_as_an_official_tongbao(data, personas, client):  # noqa: F811
    bulletin = generate(personas.supervisor)
    bulletin.body = "截至9月15日，逾期5项。\n\n请各乡镇限期整改。"
    bulletin.save()
    bulletin = publish(bulletin, personas.supervisor)
    client.force_login(personas.township_a)
    response, document = word(client, bulletin)
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    name = quote("巴州区脱贫攻坚工作通报2017年第1期.docx")
    assert response["Content-Disposition"] == f"attachment; filename=\"bulletin-2017-01.docx\"; filename*=UTF-8''{name}"

    paragraphs = document.paragraphs
    lines = texts(document)
    # The red masthead (发文机关标志), the issue, the 文号 over a red rule, the title.
    masthead = paragraphs[0]
    assert masthead.text == "巴州区脱贫攻坚工作通报"
    assert masthead.runs[0].font.color.rgb == RGBColor(0xC0, 0x00, 0x00) and masthead.runs[0].font.bold
    assert masthead.alignment == 1  # centred
    assert lines[1:4] == ["2017年第1期", "巴脱贫办督〔2017〕1号", "关于2017年9月脱贫攻坚施工图任务推进情况的通报"]
    assert 'w:color="C00000"' in paragraphs[2]._p.xml and "<w:bottom" in paragraphs[2]._p.xml  # the red rule
    # The body, paragraph by paragraph, indented two characters.
    assert lines[4:6] == ["截至9月15日，逾期5项。", "请各乡镇限期整改。"]
    assert paragraphs[4].paragraph_format.first_line_indent is not None
    # The tables of the body: the townships ranked, the longest rows (ties said 并列), the units.
    township_table, longest, units = document.tables[:3]
    assert cells(township_table)[0][:5] == ["排名", "乡镇（街道）", "到期任务（项）", "逾期未完成（项）", "逾期率"]
    assert cells(township_table)[1:] == [
        ["1", "白庙乡", "5", "4", "80.0%", "2", "1"],
        ["2", "寺岭乡", "1", "1", "100.0%", "1", "2"],
    ]
    assert [row[0] for row in cells(longest)[1:]] == ["1", "并列2", "并列2", "3", "4"]
    assert cells(longest)[1][3] == "村文化室" and cells(longest)[1][5] == "46"
    assert [row[:3] for row in cells(units)[1:]] == [
        ["1", "白庙乡人民政府", "3"],
        ["并列2", "寺岭乡人民政府", "1"],
        ["并列2", "区住建局", "1"],
    ]
    # The list of attachments, then the signature: the issuing office and the date, on the right.
    first = lines.index("附件：1. 逾期未完成的施工图任务清单（5项）")
    assert lines[first + 1].strip() == "2. 责任单位和责任人逾期任务情况（3个单位、3名责任人）"
    assert lines[first + 2].strip() == "3. 尚未整改销号的问题清单（3项）"
    assert lines[first + 3 : first + 5] == ["巴州区脱贫办", "2017年9月15日"]
    assert paragraphs[first + 3].alignment == 2  # right
    # The attachments follow, each from a new page, with the full lists.
    body_xml = document.element.body.xml
    assert body_xml.count('w:type="page"') == 3
    assert lines.index("附件1") > first + 4
    assert "逾期未完成的施工图任务清单（5项）" in lines[lines.index("附件1") + 1]
    annex_tasks = document.tables[3]
    assert len(annex_tasks.rows) == 1 + 5 and cells(annex_tasks)[4][3] == "村文化室"
    assert [len(t.rows) - 1 for t in document.tables[4:]] == [3, 3, 3]  # units, people, rectifications
    assert "草稿" not in body_xml


def test_a_draft_word_file_says_it_is_a_draft_and_has_no_number_yet(data, personas, client):  # noqa: F811
    bulletin = generate(personas.supervisor)
    client.force_login(personas.supervisor)
    response, document = word(client, bulletin)
    assert texts(document)[0] == "草稿　未发布"
    assert "巴脱贫办督" not in document.element.body.xml and "（发布时编号）" in texts(document)
    assert 'filename="bulletin-2017-01-draft.docx"' in response["Content-Disposition"]


def test_the_word_file_is_read_from_the_snapshot_and_logged(data, personas, client):  # noqa: F811
    from bazhou.core.models import ExportLog
    from tasks.models import Task

    bulletin = publish(generate(personas.supervisor), personas.supervisor)
    Task.objects.filter(item="村文化室").update(item="改名后的文化室")
    client.force_login(personas.leader)
    _, document = word(client, bulletin)
    assert "村文化室" in document.element.body.xml and "改名后的文化室" not in document.element.body.xml
    log = ExportLog.objects.get(fmt="docx")
    assert (log.user, log.rows, log.personal) == (personas.leader, 8, True)


def test_control_characters_and_markup_in_the_data_do_not_break_the_word_file(data, personas, client):  # noqa: F811
    from tasks.models import Task

    Task.objects.filter(item="通村硬化路").update(item="通村\x07硬化路 <b>&amp;</b>")
    bulletin = generate(personas.supervisor)
    client.force_login(personas.supervisor)
    _, document = word(client, bulletin)
    items = [row[3] for row in cells(document.tables[3])[1:]]
    assert "通村硬化路 <b>&amp;</b>" in items


def test_others_download_nothing(data, personas, client):  # noqa: F811
    draft = generate(personas.supervisor)
    client.force_login(personas.township_a)  # a draft is its writers' business
    assert client.get(reverse("supervision:bulletin_docx", args=[draft.pk])).status_code == 404
    client.logout()
    assert client.get(reverse("supervision:bulletin_docx", args=[draft.pk])).status_code == 302


# ---------------------------------------------------------------------------------------------
# A fixed number of queries, whatever the size of the bulletin
# ---------------------------------------------------------------------------------------------


def grow(area, villages):
    for village in factories.populate(area.township_a, villages=villages, households=2, household_tasks=2):
        task = village.plans.get().tasks.first()
        factories.rectification(factories.finding(task), deadline=datetime.date(2017, 9, 1))


# The query string of each page ("_annex": the print page with its attachments).
PAGES = {
    "bulletin": "",
    "bulletin_print": "",
    "bulletin_print_annex": "annex=1",
    "bulletin_xlsx": "",
    "bulletin_docx": "",
    "bulletin_publish": "",
}
# Every page: the request's savepoint and its release, the session, the user, the bulletin with its district and
# people (one query). Then the detail page: may the user edit it, its history, the header's district and its numbers
# (the data versions with the navigation's stored numbers: the page before counted them); the print page: the export
# log, the header-less page's district (the log's area); the downloads: the export log; the confirmation page: the
# header's district and numbers.
EXPECTED = {
    "bulletin": 9,
    "bulletin_print": 7,
    "bulletin_print_annex": 7,
    "bulletin_xlsx": 6,
    "bulletin_docx": 6,
    "bulletin_publish": 7,
}


@pytest.mark.parametrize("page", sorted(PAGES))
def test_the_bulletin_pages_and_downloads_take_a_fixed_number_of_queries(
    area, personas, client, django_assert_num_queries, page
):
    grow(area, 1)
    small = generate(personas.supervisor)
    grow(area, 6)
    large = generate(personas.supervisor)
    assert len(large.snapshot["tasks"]) > 5 * len(small.snapshot["tasks"]) > 0
    client.force_login(personas.supervisor)
    client.get(reverse("supervision:bulletins"))  # the navigation's numbers counted for the bulletins, and stored
    name = page.removesuffix("_annex")
    query = PAGES[page]
    for bulletin in (small, large):
        url = reverse(f"supervision:{name}", args=[bulletin.pk]) + (f"?{query}" if query else "")
        with django_assert_num_queries(EXPECTED[page]):
            assert client.get(url).status_code == 200


def test_the_bulletin_list_takes_a_fixed_number_of_queries(area, personas, client, django_assert_num_queries):
    client.force_login(personas.supervisor)
    generate(personas.supervisor)
    # savepoint, session, user, the bulletins (with district and publisher), may the user generate one, the
    # header's district and numbers (the data having changed: the data versions with the stored numbers, the numbers
    # counted in one query, stored), release.
    with django_assert_num_queries(10):
        assert client.get(reverse("supervision:bulletins")).status_code == 200
    for _ in range(4):
        publish(generate(personas.supervisor), personas.supervisor)
    with django_assert_num_queries(10):
        assert client.get(reverse("supervision:bulletins")).status_code == 200
    assert Bulletin.objects.count() == 5
