"""Exports of more than one village are background jobs (tasks.jobs, households.jobs): the page answers at once with
the job's progress page, a second click finds the same job, the worker writes the file and the export log (with the
address the request came from), and the file is the one the direct download would have given. A village's table and
register stay direct downloads."""

from __future__ import annotations

import pytest
from django.urls import reverse

from bazhou.core.models import ExportLog, Job
from tests import factories
from tests.excel.helpers import body, calamine_rows
from tests.jobs import job_of, run_jobs

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("pinned_today")]


@pytest.fixture
def plans(area):
    for village in (area.village_a, area.village_a2, area.village_b):
        factories.task(factories.plan(village, 2017), item=f"{village.name}道路")


def items(content: bytes) -> set[str]:
    cells = (cell for row in calamine_rows(content, "施工图") for cell in row)
    return {cell for cell in cells if isinstance(cell, str) and cell.endswith("村道路")}


@pytest.mark.parametrize(
    ("user", "params", "title", "expected"),
    [
        ("district_admin", {"year": 2017}, "导出巴州区2017年", {"茅垭村道路", "百花村道路", "大寺村道路"}),
        ("township_a", {"year": 2017}, "导出巴州区白庙乡2017年", {"茅垭村道路", "百花村道路"}),
        ("district_admin", {"year": 2017, "township": "511902212"}, "导出巴州区寺岭乡2017年", {"大寺村道路"}),
    ],
)
def test_a_township_or_district_table_is_a_job_whose_file_is_the_table(
    client, personas, plans, user, params, title, expected
):
    client.force_login(getattr(personas, user))
    response = client.get(reverse("tasks:plan_table_xlsx"), params, REMOTE_ADDR="10.1.2.3")
    job = job_of(response)
    assert job.title.startswith(title) and job.state == Job.State.QUEUED
    assert not ExportLog.objects.exists()  # nothing handed out yet
    again = client.get(reverse("tasks:plan_table_xlsx"), params)
    assert again["Location"] == response["Location"]  # a second click follows the same job
    assert run_jobs() == 1
    job.refresh_from_db()
    assert job.state == Job.State.DONE and job.result_note == f"共 {len(expected)} 行任务。"
    download = client.get(reverse("jobs:download", args=[job.pk]))
    assert items(body(download)) == expected
    log = ExportLog.objects.get()
    assert (log.kind, log.rows, log.remote_addr, job.export_log) == ("plan_table", len(expected), "10.1.2.3", log)


def test_a_villages_table_and_register_are_still_downloaded_at_once(client, personas, plans, area):
    client.force_login(personas.township_a)
    table = client.get(reverse("tasks:plan_table_xlsx"), {"year": 2017, "village": area.village_a.pk})
    register = client.get(reverse("households:register_xlsx"), {"village": area.village_a.pk})
    assert table.status_code == register.status_code == 200
    assert items(body(table)) == {"茅垭村道路"} and not Job.objects.exists()
    client.force_login(personas.village_cadre)  # a village cadre's own area is a village: always at once
    assert client.get(reverse("households:register_xlsx")).status_code == 200


def test_the_district_register_is_a_job_with_masked_numbers_for_a_masking_role(client, personas, area):
    client.force_login(personas.supervisor)
    job = job_of(client.get(reverse("households:register_xlsx")))
    assert job.title == "导出巴州区贫困户花名册"
    run_jobs()
    job.refresh_from_db()
    content = body(client.get(reverse("jobs:download", args=[job.pk])))
    text = " ".join(str(cell) for row in calamine_rows(content, "贫困户花名册") for cell in row if cell)
    assert area.household_a.number in text and area.household_b.number in text
    assert area.household_a.members.first().id_number not in text  # masked as on the page
    log = ExportLog.objects.get()
    assert (log.kind, log.personal, log.unmasked) == ("households", True, False)


def test_an_area_out_of_sight_is_a_404_and_starts_nothing(client, personas, plans):
    client.force_login(personas.township_b)
    assert client.get(reverse("tasks:plan_table_xlsx"), {"township": "511902204"}).status_code == 404
    assert client.get(reverse("households:register_xlsx"), {"township": "511902204"}).status_code == 404
    assert not Job.objects.exists()


def test_a_job_is_rechecked_when_it_runs_a_user_moved_meanwhile_gets_nothing(client, personas, plans, area):
    client.force_login(personas.district_admin)
    job = job_of(client.get(reverse("tasks:plan_table_xlsx"), {"township": "511902212"}))
    admin = personas.district_admin
    admin.role, admin.district, admin.township = "township_staff", None, area.township_a
    admin.save()
    run_jobs()
    job.refresh_from_db()
    assert job.state == Job.State.FAILED and "没有查看或处理这些数据的权限" in job.error
    assert not job.result_file and not ExportLog.objects.exists()
