"""Reading the files the product writes, and making the files people upload, for the Excel tests."""

import io
import zipfile

from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import load_workbook
from python_calamine import CalamineWorkbook

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def calamine_rows(content: bytes, sheet: str) -> list[list]:
    """The sheet's values as python-calamine (an independent reader, in Rust) reads them."""
    return CalamineWorkbook.from_filelike(io.BytesIO(content)).get_sheet_by_name(sheet).to_python(skip_empty_area=False)


def openpyxl_book(content: bytes):
    return load_workbook(io.BytesIO(content))


def sheet_xml(content: bytes) -> str:
    """Every worksheet's XML, to look for what must not be there (formulas)."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return "".join(
            archive.read(name).decode("utf-8") for name in archive.namelist() if name.startswith("xl/worksheets/")
        )


def upload(content: bytes, name: str = "施工图.xlsx", content_type: str = XLSX) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


def edit(content: bytes, sheet: str, changes: dict[str, object]) -> bytes:
    """``content`` with cells changed (``{"H5": "新项目"}``), as a person editing it in Excel would save it."""
    book = load_workbook(io.BytesIO(content))
    for ref, value in changes.items():
        book[sheet][ref] = value
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def assert_changes_nothing(user, content: bytes, *, preview, apply, snapshot, unchanged: int) -> None:
    """``content`` (an export) previewed by ``user`` lists no problem and no change, ``unchanged`` rows as they
    are; confirmed, it changes nothing (``snapshot()`` is the same before and after)."""
    before = snapshot()
    result = preview(user, content)
    assert (result.problems, result.changes, result.unchanged) == ([], [], unchanged)
    apply(user, content, result.fingerprint)
    assert snapshot() == before
