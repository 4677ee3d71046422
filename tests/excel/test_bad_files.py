"""Files that are not sound workbooks: each gets a clear message in Chinese, and nothing is stored or changed."""

import io
import struct
import zipfile

import pytest
from django.urls import reverse
from openpyxl import Workbook

from bazhou.core.models import ImportBatch, Job
from tasks.models import Task
from tests.excel.helpers import body, upload
from tests.jobs import get_file, job_of, run_jobs

pytestmark = pytest.mark.usefixtures("pinned_today")


@pytest.fixture
def exported(client, personas, table):
    client.force_login(personas.township_a)
    return body(get_file(client, reverse("tasks:plan_table_xlsx"), {"year": 2017}))


def post(client, content: bytes, name: str = "施工图.xlsx", kind: str = "tasks:plan_import"):
    """Upload through the page: a file refused at once gets the form back (200) with its error; one refused when
    read gets its checking job failed with the reason (and the way back to the upload page). Either way nothing is
    stored and no preview is shown."""
    before = list(Task.objects.order_by("pk").values())
    response = client.post(reverse(kind), {"file": upload(content, name), "year": 2017})
    if response.status_code == 200:
        errors = response.context["form"].errors["file"]
    else:
        job = job_of(response)
        assert job is not None, "a refused file gets the form back or a failed check, not a preview"
        run_jobs()
        job.refresh_from_db()
        assert job.state == Job.State.FAILED and job.result_url == reverse(kind)
        errors = [job.error]
    assert not ImportBatch.objects.exists()
    assert list(Task.objects.order_by("pk").values()) == before
    return errors


def zip_bytes(members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_a_text_file_renamed_to_xlsx(client, exported):
    (message,) = post(client, "乡镇,村,项目\n白庙乡,茅垭村,修路\n".encode(), "施工图.xlsx")
    assert message == "文件“施工图.xlsx”不是 Excel 文件（可能是改了扩展名的其他文件），无法导入。"


def test_a_picture_renamed_to_xlsx(client, exported):
    (message,) = post(client, b"\x89PNG\r\n\x1a\n" + b"\x00" * 200, "照片.xlsx")
    assert message == "文件“照片.xlsx”不是 Excel 文件（可能是改了扩展名的其他文件），无法导入。"


def test_a_file_that_is_not_named_xlsx(client, exported):
    assert post(client, exported, "施工图.csv") == ["只能上传 Excel 文件（.xlsx）。"]


def test_an_old_xls_file(client, exported):
    (message,) = post(client, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 500, "施工图.xls")
    assert message.startswith("不支持旧版 Excel 文件（.xls）")


def test_a_truncated_file(client, exported):
    (message,) = post(client, exported[: len(exported) // 2])
    assert message == "文件“施工图.xlsx”已损坏或不完整（可能没有上传完），无法读取。"


def test_a_zip_bomb_declaring_a_huge_uncompressed_size(client, exported):
    """A small file whose directory declares 4 GB of sheet: refused from the directory, before any parsing."""
    content = bytearray(
        zip_bytes(
            {"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>", "xl/worksheets/sheet1.xml": b"<x/>"}
        )
    )
    entry = content.rfind(b"PK\x01\x02")  # the last member's central directory entry
    content[entry + 24 : entry + 28] = struct.pack("<I", 0xF0000000)  # its uncompressed size
    assert len(content) < 1024
    (message,) = post(client, bytes(content))
    assert message.startswith("文件“施工图.xlsx”解压后过大（声明 3,840.0 MB，最多 300.0 MB），可能是恶意构造的压缩文件")


def test_a_real_bomb_of_zeros_over_the_limit(client, settings, exported):
    settings.BAZHOU_IMPORT_MAX_UNCOMPRESSED_MB = 5
    content = zip_bytes(
        {
            "[Content_Types].xml": b"<Types/>",
            "xl/workbook.xml": b"<workbook/>",
            "xl/worksheets/sheet1.xml": b"0" * (8 * 1024 * 1024),
        }
    )
    assert len(content) < 100 * 1024
    (message,) = post(client, content)
    assert "解压后过大（声明 8.0 MB，最多 5.0 MB）" in message


def test_an_xml_bomb_inside_the_workbook(client, exported):
    """Billion laughs in the sheet: defusedxml (installed) makes openpyxl refuse the entities."""
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;">'
        b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1">'
        b'<c r="A1" t="inlineStr"><is><t>&lol3;</t></is></c></row></sheetData></worksheet>'
    )
    source = zipfile.ZipFile(io.BytesIO(exported))
    members = {name: source.read(name) for name in source.namelist()}
    members["xl/worksheets/sheet1.xml"] = bomb
    (message,) = post(client, zip_bytes(members))
    assert message == (
        "文件“施工图.xlsx”含有3 个 XML 实体定义（lol、lol2、lol3）（在 xl/worksheets/sheet1.xml 中）："
        "这是“XML 炸弹”（实体层层展开，耗尽服务器内存）的写法，正常的 Excel 文件不会有，已拒绝。"
    )


def test_a_workbook_with_a_corrupt_sheet(client, exported):
    source = zipfile.ZipFile(io.BytesIO(exported))
    members = {name: source.read(name) for name in source.namelist()}
    members["xl/worksheets/sheet1.xml"] = members["xl/worksheets/sheet1.xml"][:5000]  # cut off mid-row
    (message,) = post(client, zip_bytes(members))
    assert message.startswith("文件已损坏或不是有效的 Excel 工作簿，无法读取")


def test_a_zip_that_is_not_a_workbook(client, exported):
    (message,) = post(client, zip_bytes({"readme.txt": b"hello"}))
    assert message == "文件“施工图.xlsx”不是 Excel 工作簿（缺少工作簿内容），无法导入。"


def test_too_many_rows(client, settings, exported):
    settings.BAZHOU_IMPORT_MAX_ROWS = 2
    (message,) = post(client, exported)
    assert message == "表格行数过多：表头以下有 8 行，最多导入 2 行，请分批导入。"


def test_too_large(client, settings, exported):
    settings.BAZHOU_IMPORT_MAX_MB = 1
    (message,) = post(client, exported + b"\x00" * (1024 * 1024))
    assert message.startswith("文件过大（1.0 MB），最大 1.0 MB。") or message.startswith("文件过大（")


def test_a_sheet_without_the_tables_header(client, exported):
    book = Workbook()
    book.active.title = "施工图"
    book.active.append(["名称", "金额"])
    buffer = io.BytesIO()
    book.save(buffer)
    (message,) = post(client, buffer.getvalue())
    assert message == "找不到表头（应有一列名为“项目”）。请使用系统导出的表格或下载的模板。"


def test_no_file_at_all(client, exported):
    response = client.post(reverse("tasks:plan_import"), {"year": 2017})
    assert response.context["form"].errors["file"] == ["请选择要上传的 Excel 文件。"]
    assert not ImportBatch.objects.exists()


def test_a_household_register_upload_is_checked_the_same_way(client, exported):
    (message,) = post(client, b"not a workbook", "花名册.xlsx", kind="households:register_import")
    assert message == "文件“花名册.xlsx”不是 Excel 文件（可能是改了扩展名的其他文件），无法导入。"
