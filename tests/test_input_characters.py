"""Characters no saved text may hold (NUL, U+FFFF …: bazhou.core.text): refused at the door with a Chinese 400
naming the parameter (bazhou.core.inputs), and stripped by every writer, so that a row saved before the check
(written here straight into the database) never makes an .xlsx or .docx malformed (issue 17)."""

import datetime
import io
import xml.etree.ElementTree as ET
import zipfile
from decimal import Decimal

import pytest
from django.urls import reverse
from docx import Document
from openpyxl import load_workbook

from bazhou.core import text
from bazhou.core.xlsx.writer import StreamingWorkbook, style_id
from households.models import Member
from supervision import bulletin_services
from supervision.models import Bulletin
from tasks.models import Task
from tests import factories
from tests.excel.helpers import body
from tests.jobs import get_file

pytestmark = pytest.mark.usefixtures("pinned_today")

BAD = "通村\uffff硬化路\x1f"  # U+FFFF and a C0 control: what an older row may hold (PostgreSQL refuses NUL)


def assert_well_formed(content: bytes) -> None:
    """Every XML part of an .xlsx/.docx parses under a strict XML parser (expat refuses U+FFFF and NUL)."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        names = [n for n in archive.namelist() if n.endswith((".xml", ".rels"))]
        assert names
        for name in names:
            ET.fromstring(archive.read(name))  # raises ParseError when malformed


# --- the door: query strings and form fields ------------------------------------------------------------------


@pytest.mark.parametrize("value", ["\x00", "a\uffff", "\ufffe", "\x1b[0m"])
def test_a_page_query_with_an_illegal_character_is_a_chinese_400_naming_it(client, personas, value):
    client.force_login(personas.district_admin)
    response = client.get(reverse("tasks:awaiting_approval"), {"township": value})
    assert response.status_code == 400
    page = response.content.decode()
    assert "“township”含有不能保存的控制字符 U+" in page


def test_an_api_query_with_nul_answers_the_apis_error_shape(client, personas):
    client.force_login(personas.district_admin)
    response = client.get("/api/v1/tasks/", {"township": "白庙\x00乡"})
    assert response.status_code == 400
    message = "“township”含有不能保存的控制字符 U+0000，请删除后重新输入。"
    assert response.json() == {"detail": message, "code": "illegal_character", "errors": {"township": [message]}}


def test_a_form_post_with_an_illegal_character_changes_nothing(client, personas, area):
    plan = factories.plan(area.village_a)
    task = factories.task(plan, planned_funds=Decimal("0"))
    before = Task.objects.filter(pk=task.pk).values().get()
    client.force_login(personas.district_admin)
    response = client.post(
        reverse("tasks:task_progress", args=[task.pk]),
        {"progress": 50, "status": "in_progress", "invested_funds": "0", "note": "路基\uffff完成", "version": 1},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 400
    assert "“note”含有不能保存的控制字符 U+FFFF" in response.content.decode()
    assert Task.objects.filter(pk=task.pk).values().get() == before


def test_a_clean_request_passes_the_door(client, personas):
    client.force_login(personas.district_admin)
    assert client.get(reverse("tasks:awaiting_approval"), {"township": "白庙乡\t"}).status_code == 200


# --- the writers ------------------------------------------------------------------------------------------------


def test_the_streaming_writer_drops_what_xml_cannot_carry():
    book = StreamingWorkbook()
    with book.sheet("表\uffff一") as sheet:
        sheet.row(["a\uffffb", "\ud800x", "=\x00SUM", "中\ufffe文"], style_id("text"))
        sheet.validate(1, 2, 3, ["是\uffff", "否"])
    content = book.close().read()
    assert_well_formed(content)
    sheet = load_workbook(io.BytesIO(content)).worksheets[0]
    assert [c.value for c in sheet[1]] == ["ab", "x", "=SUM", "中文"]


@pytest.fixture
def dirty(area):
    """Rows saved before the check at input: a task, a member and a finding holding U+FFFF and NUL."""
    plan = factories.plan(area.village_a)
    task = factories.task(plan, deadline=datetime.date(2017, 8, 31))
    Task.objects.filter(pk=task.pk).update(item=BAD, responsible_person="吴\uffff玉峰")
    Member.objects.filter(pk=area.household_a.members.first().pk).update(name="张\uffff三")
    return task


def test_the_one_table_with_an_illegal_character_in_the_database_is_well_formed(client, personas, dirty):
    client.force_login(personas.district_admin)
    content = body(get_file(client, reverse("tasks:plan_table_xlsx"), {"year": 2017}))
    assert_well_formed(content)
    values = [c.value for row in load_workbook(io.BytesIO(content)).worksheets[0].iter_rows() for c in row]
    assert "通村硬化路" in values


def test_the_register_with_an_illegal_character_in_the_database_is_well_formed(client, personas, dirty):
    client.force_login(personas.district_admin)
    content = body(get_file(client, reverse("households:register_xlsx")))
    assert_well_formed(content)
    values = [c.value for row in load_workbook(io.BytesIO(content)).worksheets[0].iter_rows() for c in row]
    assert "张三" in values


def test_a_published_bulletin_whose_snapshot_holds_an_illegal_character_downloads_well_formed(
    client, personas, area, dirty
):
    """A bulletin published before the fix keeps its snapshot for good; its files are rendered from it at every
    download, through the stripping writers, so they are sound now (the Word file was a 500 before)."""
    bulletin = bulletin_services.bulletin_generate(
        user=personas.supervisor,
        period_start=datetime.date(2017, 9, 1),
        period_end=datetime.date(2017, 9, 15),
        today=datetime.date(2017, 9, 15),
    )
    assert not text.has_illegal(str(bulletin.snapshot))  # a new snapshot keeps no such character
    bulletin_services.bulletin_publish_draft(
        bulletin_id=bulletin.pk, user=personas.supervisor, expected=bulletin_services.fingerprint(bulletin)
    )
    snapshot = bulletin.snapshot
    snapshot["tasks"][0]["item"] = BAD  # as an older snapshot holds it
    Bulletin.objects.filter(pk=bulletin.pk).update(snapshot=snapshot, title="通报\uffff标题")
    client.force_login(personas.supervisor)

    xlsx = client.get(reverse("supervision:bulletin_xlsx", args=[bulletin.pk]))
    assert xlsx.status_code == 200
    assert_well_formed(xlsx.content)
    load_workbook(io.BytesIO(xlsx.content))

    docx = client.get(reverse("supervision:bulletin_docx", args=[bulletin.pk]))
    assert docx.status_code == 200
    assert_well_formed(docx.content)
    document = Document(io.BytesIO(docx.content))
    assert "通报标题" in [p.text for p in document.paragraphs]
    cells = [c.text for t in document.tables for row in t.rows for c in row.cells]
    assert any("通村硬化路" in c for c in cells)


# --- required texts blank to the eye ----------------------------------------------------------------------------


@pytest.mark.parametrize("item", ["\u200b", " \u200b\u200d ", "\ufeff"])
def test_a_row_whose_item_is_only_invisible_characters_is_refused_like_an_empty_one(area, item):
    task = Task(plan=factories.plan(area.village_a), category="road", item=item, deadline=datetime.date(2017, 9, 30))
    assert factories.clean_errors(task)["item"] == [text.BLANK_MESSAGE]


def test_a_text_with_an_illegal_character_is_refused_by_the_model_too(area):
    task = Task(plan=factories.plan(area.village_a), category="road", item=BAD, deadline=datetime.date(2017, 9, 30))
    assert factories.clean_errors(task)["item"] == ["含有不能保存的控制字符 U+FFFF，请删除后重新输入。"]


def test_blank_finding_and_member_texts_are_refused(area):
    finding = factories.finding(area.village_a)
    finding.description = "\u200b\u200b"
    assert factories.clean_errors(finding)["description"] == [text.BLANK_MESSAGE]
    member = area.household_a.members.first()
    member.name = "\u2060"
    assert factories.clean_errors(member)["name"] == [text.BLANK_MESSAGE]


def test_a_body_over_djangos_limits_stays_djangos_400_not_a_500(client, personas, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 5
    client.force_login(personas.district_admin)
    response = client.post(reverse("tasks:awaiting_approval"), {f"f{i}": "x" for i in range(10)})
    assert response.status_code in (400, 413)  # Django's (or the site's) answer to a body too big, raised here


def test_an_illegal_character_in_a_multipart_field_name_is_refused(client, personas):
    client.force_login(personas.district_admin)
    response = client.post("/api/v1/tasks/", {"it\x00em": "路"})  # multipart, as the test client sends a form
    assert response.status_code == 400
    assert response.json()["errors"] == {"itU+0000em": ["参数名含有不能保存的控制字符 U+0000，请删除后重新输入。"]}
