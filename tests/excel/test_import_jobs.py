"""An import through the pages is two background jobs (bazhou.core.xlsx.import_views): the upload is kept and checked
by a job whose progress page leads to the preview; the confirmation is a job that writes everything or nothing and
comes back to the preview saying what it did; a repeated click follows the same job; a refusal is the job's Chinese
reason with the way back; and the dashboard's figures are computed again in the background after a write."""

import io

import pytest
from django.urls import reverse
from openpyxl import Workbook

from bazhou.core.models import CachedFigures, ImportBatch, Job
from tasks.models import Task
from tests.excel.helpers import body, calamine_rows, edit, upload
from tests.jobs import get_file, job_of, run_jobs

pytestmark = pytest.mark.usefixtures("pinned_today")
SHEET = "施工图"


def village_export(client, user, village) -> bytes:
    client.force_login(user)
    return body(get_file(client, reverse("tasks:plan_table_xlsx"), {"year": 2017, "village": village.pk}))


def row_of(content: bytes, task: Task) -> int:
    for number, row in enumerate(calamine_rows(content, SHEET), start=1):
        if task.item in row:
            return number
    raise AssertionError(f"{task.item} not in the table")


def test_an_upload_is_checked_by_a_job_that_leads_to_the_preview(client, area, personas, table):
    content = village_export(client, personas.township_a, area.village_a)
    changed = edit(content, SHEET, {f"Y{row_of(content, table.road)}": "秦和平"})
    response = client.post(reverse("tasks:plan_import"), {"file": upload(changed, "改责任人.xlsx"), "year": 2017})
    job = job_of(response)
    batch = ImportBatch.objects.get()
    assert job.title == "检查导入文件“改责任人.xlsx”（施工图任务）" and job.kind == "import_preview"
    assert (batch.state, batch.preview, bytes(batch.content)) == ("checking", {}, changed)
    waiting = client.get(reverse("tasks:plan_import_batch", args=[batch.pk])).content.decode()
    assert 'data-testid="import-checking"' in waiting and f"/jobs/{job.pk}/" in waiting
    run_jobs()
    batch.refresh_from_db()
    assert batch.state == "previewed" and batch.fingerprint
    to_preview = client.get(response["Location"])  # the job page sends the user on to the preview
    assert to_preview.status_code == 302 and to_preview["Location"] == reverse(
        "tasks:plan_import_batch", args=[batch.pk]
    )
    page = client.get(to_preview["Location"]).content.decode()
    assert '修改 <span data-testid="count-update">1</span> 行' in page and "秦和平" in page


def test_confirming_is_a_job_a_second_click_follows_it_and_the_preview_then_says_what_was_done(
    client, area, personas, table
):
    content = village_export(client, personas.township_a, area.village_a)
    changed = edit(content, SHEET, {f"Y{row_of(content, table.road)}": "秦和平"})
    client.post(reverse("tasks:plan_import"), {"file": upload(changed, "改责任人.xlsx"), "year": 2017})
    run_jobs()
    batch = ImportBatch.objects.get()
    url = reverse("tasks:plan_import_batch", args=[batch.pk])
    confirm = client.post(url, {"fingerprint": batch.fingerprint})
    job = job_of(confirm)
    assert job.kind == "import_apply" and job.title == "导入“改责任人.xlsx”（施工图任务）"
    assert Task.objects.get(pk=table.road.pk).responsible_person == "吴玉峰"  # nothing before the job runs
    assert client.post(url, {"fingerprint": batch.fingerprint})["Location"] == confirm["Location"]
    run_jobs()
    assert Task.objects.get(pk=table.road.pk).responsible_person == "秦和平"
    batch.refresh_from_db()
    assert batch.state == "applied"
    back = client.get(confirm["Location"], follow=True)
    text = back.content.decode()
    assert "已导入“改责任人.xlsx”：新增 0 行，修改 1 行（1 处），" in text and "该文件已于" in text
    again = client.post(url, {"fingerprint": batch.fingerprint})  # after the write: refused, nothing started
    assert again.status_code == 302 and again["Location"] == url
    assert Task.objects.get(pk=table.road.pk).version == 2


def test_the_dashboard_figures_are_computed_again_in_the_background_after_an_import(client, area, personas, table):
    content = village_export(client, personas.township_a, area.village_a)
    changed = edit(content, SHEET, {f"Y{row_of(content, table.road)}": "秦和平"})
    client.post(reverse("tasks:plan_import"), {"file": upload(changed), "year": 2017})
    run_jobs()
    batch = ImportBatch.objects.get()
    client.post(reverse("tasks:plan_import_batch", args=[batch.pk]), {"fingerprint": batch.fingerprint})
    CachedFigures.objects.all().delete()
    run_jobs()  # the write, then the refresh it queued
    refresh = Job.objects.get(kind="dashboard_refresh")
    assert refresh.state == "done" and refresh.user == personas.township_a
    keys = set(CachedFigures.objects.values_list("key", flat=True))
    district, township = area.district.pk, area.township_a.pk
    assert {f"dashboard:district:{district}:2017:plan", f"dashboard:township:{township}:2017:plan"} <= keys


def test_a_confirmation_refused_because_the_data_changed_is_the_jobs_reason_with_the_way_back(
    client, area, personas, table
):
    content = village_export(client, personas.township_a, area.village_a)
    changed = edit(content, SHEET, {f"Y{row_of(content, table.road)}": "秦和平"})
    client.post(reverse("tasks:plan_import"), {"file": upload(changed), "year": 2017})
    run_jobs()
    batch = ImportBatch.objects.get()
    url = reverse("tasks:plan_import_batch", args=[batch.pk])
    job = job_of(client.post(url, {"fingerprint": "another-preview"}))
    run_jobs()
    job.refresh_from_db()
    assert job.state == "failed" and job.result_url == url and "未导入" in job.error
    page = client.get(reverse("jobs:detail", args=[job.pk])).content.decode()
    assert 'data-testid="job-error"' in page and f'href="{url}"' in page
    assert Task.objects.get(pk=table.road.pk).responsible_person == "吴玉峰"


def test_a_file_that_cannot_be_read_fails_the_check_in_chinese_and_leaves_no_upload(client, personas, table):
    book = Workbook()
    book.active["A1"] = "随便写的表"
    buffer = io.BytesIO()
    book.save(buffer)
    client.force_login(personas.township_a)
    response = client.post(reverse("tasks:plan_import"), {"file": upload(buffer.getvalue()), "year": 2017})
    job = job_of(response)
    run_jobs()
    job.refresh_from_db()
    assert (job.state, job.error) == ("failed", "找不到表头（应有一列名为“项目”）。请使用系统导出的表格或下载的模板。")
    assert job.result_url == reverse("tasks:plan_import")  # the way back: upload another file
    assert not ImportBatch.objects.exists()


def test_an_upload_whose_check_was_cut_off_says_to_upload_again(client, area, personas, table):
    content = village_export(client, personas.township_a, area.village_a)
    job = job_of(client.post(reverse("tasks:plan_import"), {"file": upload(content), "year": 2017}))
    Job.objects.filter(pk=job.pk).update(state=Job.State.FAILED, error="后台处理进程中断")
    batch = ImportBatch.objects.get()
    page = client.get(reverse("tasks:plan_import_batch", args=[batch.pk])).content.decode()
    assert 'data-testid="import-unchecked"' in page and "重新上传" in page
    assert client.post(reverse("tasks:plan_import_batch", args=[batch.pk]), {"fingerprint": ""}).status_code == 302
    assert Job.objects.filter(kind="import_apply").count() == 0  # nothing to confirm
