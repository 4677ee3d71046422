"""Evidence files (佐证材料) as they are sent back and stored (issue 17).

- A PDF that runs JavaScript when opened (``/OpenAction /JavaScript``) is never shown inside the site: every evidence
  download that a browser could render as a document is an attachment, with ``Content-Security-Policy: sandbox`` and
  ``nosniff``; photos may be looked at in the tab, sandboxed too. Pages and the API alike.
- A media folder the server cannot write (read-only, full) gives the form a Chinese message, keeps nothing half
  saved (no report, no evidence row pointing at a missing file), and is logged. The tests run as root, where a
  ``chmod 0o500`` folder is still writable: the storage's ``_save`` is made to raise PermissionError instead, which
  is what Django's FileSystemStorage raises for a read-only folder.
"""

import logging
from decimal import Decimal
from unittest import mock

import pytest
from django.core.files.storage import FileSystemStorage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from bazhou.core.uploads import STORAGE_FAILED
from supervision import services as supervision_services
from supervision.models import RectificationEvidence
from tasks import services
from tasks.models import ProgressEvidence, ProgressUpdate, StagedUpload, Task
from tests import factories

pytestmark = pytest.mark.usefixtures("pinned_today")

# A PDF whose viewer would run a script on opening: the case the issue found served inline.
EVIL_PDF = (
    b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R /OpenAction 3 0 R >>\nendobj\n"
    b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n"
    b"3 0 obj\n<< /Type /Action /S /JavaScript /JS (app.alert\\('xss'\\)) >>\nendobj\n"
    b"trailer\n<< /Root 1 0 R >>\n%%EOF\n"
)


def pdf_upload():
    return SimpleUploadedFile("验收单.pdf", EVIL_PDF, content_type="application/pdf")


@pytest.fixture
def task(area):
    plan = factories.plan(area.village_a)
    return factories.task(plan, planned_funds=Decimal("100"), invested_funds=Decimal("20"))


def record(task, user, files):
    return services.progress_record(
        task_id=task.pk,
        user=user,
        expected_version=task.version,
        progress=10,
        status="in_progress",
        invested_funds=Decimal("25"),
        files=files,
    )


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def assert_sandboxed(response):
    assert response["Content-Security-Policy"].startswith("sandbox")
    assert "script-src" not in response["Content-Security-Policy"]  # not the site's own policy
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response["Cache-Control"]


def test_a_pdf_with_javascript_is_downloaded_not_shown(client, personas, task, media):
    update = record(task, personas.village_cadre, [pdf_upload()])
    evidence = update.evidence.get()
    client.force_login(personas.leader)
    response = client.get(reverse("tasks:evidence", args=[evidence.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert "filename*=utf-8''%E9%AA%8C%E6%94%B6%E5%8D%95.pdf" in response["Content-Disposition"]
    assert_sandboxed(response)
    assert body(response) == EVIL_PDF


def test_a_photo_may_be_looked_at_in_the_tab_but_sandboxed(client, personas, task, media):
    update = record(task, personas.village_cadre, [factories.evidence_upload("png")])
    client.force_login(personas.leader)
    response = client.get(reverse("tasks:evidence", args=[update.evidence.get().pk]))
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"].startswith("inline;")
    assert_sandboxed(response)


def test_a_rectifications_pdf_is_downloaded_not_shown_on_the_page_and_in_the_api(client, personas, area, media):
    finding = factories.finding(area.village_a)
    rectification = factories.rectification(finding)
    supervision_services.rectification_start(
        rectification_id=rectification.pk, user=personas.village_cadre, expected_version=rectification.version
    )
    rectification.refresh_from_db()
    supervision_services.rectification_answer(
        rectification_id=rectification.pk,
        user=personas.village_cadre,
        expected_version=rectification.version,
        result="已整改",
        files=[pdf_upload()],
    )
    evidence = RectificationEvidence.objects.get()
    client.force_login(personas.supervisor)
    page = client.get(reverse("supervision:finding_evidence", args=[finding.pk, evidence.pk]))
    api = client.get(reverse("api:rectification-evidence", args=[rectification.pk, evidence.pk]))
    for response in (page, api):
        assert response.status_code == 200
        assert response["Content-Disposition"].startswith("attachment;")
        assert_sandboxed(response)


def test_a_progress_reports_pdf_is_downloaded_in_the_api_too(client, personas, task, media):
    update = record(task, personas.village_cadre, [pdf_upload()])
    client.force_login(personas.leader)
    response = client.get(reverse("api:progress-update-evidence", args=[update.pk, update.evidence.get().pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert_sandboxed(response)


# A media folder the server cannot write ---------------------------------------------------------------------------


def read_only_storage():
    return mock.patch.object(FileSystemStorage, "_save", side_effect=PermissionError(13, "Permission denied"))


def test_a_read_only_media_folder_refuses_the_report_in_chinese_and_saves_nothing(
    client, personas, task, media, caplog
):
    before = Task.objects.filter(pk=task.pk).values().get()
    client.force_login(personas.village_cadre)
    data = {
        "version": task.version,
        "reported_on": "2017-09-14",
        "progress": 70,
        "status": "in_progress",
        "invested_funds": "45",
        "note": "路面硬化过半",
        "files": [factories.evidence_upload("jpeg"), pdf_upload()],
    }
    with read_only_storage(), caplog.at_level(logging.ERROR):
        response = client.post(reverse("tasks:task_progress", args=[task.pk]), data)
    assert response.status_code == 200
    assert STORAGE_FAILED in response.content.decode()
    assert Task.objects.filter(pk=task.pk).values().get() == before
    assert not ProgressUpdate.objects.exists()
    assert not ProgressEvidence.objects.exists()
    assert not StagedUpload.objects.exists()
    assert not any(path.is_file() for path in media.rglob("*"))
    assert any("could not be stored" in r.getMessage() for r in caplog.records)


def test_a_failure_after_the_first_file_removes_the_files_already_written(personas, task, media):
    real_save = FileSystemStorage._save
    calls = []

    def second_fails(self, name, content):
        calls.append(name)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real_save(self, name, content)

    with mock.patch.object(FileSystemStorage, "_save", second_fails), pytest.raises(Exception) as refused:
        record(task, personas.village_cadre, [factories.evidence_upload("jpeg"), factories.evidence_upload("png")])
    assert refused.value.messages == [STORAGE_FAILED]
    assert len(calls) == 2
    assert not ProgressUpdate.objects.exists() and not ProgressEvidence.objects.exists()
    assert not any(path.is_file() for path in media.rglob("*"))
