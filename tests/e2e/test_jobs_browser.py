"""The district office exports the district's one table from the village list: the click leads to the job's page
with its progress bar at once (the table is written by a background worker, not in the request); when the worker
has written it, the bar fills and the download appears without a reload (htmx polls the job), and the file is the
one table. The worker is django-tasks-db's own loop, in a thread of this process, started only once the queued
job's bar has been seen."""

from __future__ import annotations

import io
import re
import threading

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from bazhou.core.models import Job
from tests import factories
from tests.e2e.browser import login
from tests.jobs import make_worker

pytestmark = pytest.mark.e2e


class WorkerThread:
    """A background worker (``manage.py jobs_worker``'s loop) in a thread, with its own database connection."""

    def __init__(self):
        self.worker = make_worker(batch=False, interval=0.1, worker_id="e2e")
        self.thread = threading.Thread(target=self._run, name="e2e-jobs-worker", daemon=True)

    def _run(self):
        from django.db import connection

        try:
            self.worker.run()
        finally:
            connection.close()  # on PostgreSQL an open session would block dropping the test database

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.worker.running = False
        self.thread.join(timeout=30)


@pytest.fixture
def district_plans(area):
    for village in (area.village_a, area.village_a2, area.village_b):
        plan = factories.plan(village, 2017)
        for i in range(3):
            factories.task(plan, item=f"{village.name}项目{i}")


def test_a_district_export_shows_its_progress_bar_and_then_the_download(page, personas, district_plans):
    login(page, "admin")
    page.goto("/villages/")
    page.get_by_test_id("plan-table-xlsx").click()
    expect(page).to_have_url(re.compile(r"/jobs/\d+/$"))
    page.wait_for_load_state("load")
    expect(page.get_by_test_id("job-title")).to_contain_text("巴州区2017年")
    expect(page.get_by_test_id("job-state")).to_have_text("排队中")
    expect(page.get_by_test_id("job-bar")).to_be_visible()
    assert not page.get_by_test_id("job-download").count()
    with WorkerThread():
        download_link = page.get_by_test_id("job-download")
        expect(download_link).to_be_visible(timeout=30_000)  # swapped in by htmx's polling, no reload
        expect(page.get_by_test_id("job-state")).to_have_text("已完成")
        expect(page.get_by_test_id("job-bar")).to_have_attribute("value", "100")
        expect(page.get_by_test_id("job-note")).to_have_text("共 9 行任务。")
        with page.expect_download() as info:
            download_link.click()
    download = info.value
    assert download.suggested_filename == "巴州区2017年施工图.xlsx"
    book = load_workbook(io.BytesIO(download.path().read_bytes()), read_only=True)
    items = {cell for row in book["施工图"].iter_rows(values_only=True) for cell in row if isinstance(cell, str)}
    assert {"茅垭村项目0", "百花村项目2", "大寺村项目1"} <= items
    job = Job.objects.get()
    assert job.state == Job.State.DONE and job.export_log.kind == "plan_table" and job.export_log.rows == 9
