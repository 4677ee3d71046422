"""The writes to the plan table: who may make them, what they refuse, and the history they leave."""

import datetime
import threading
import time
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.http import Http404

from tasks import services
from tasks.models import FundLine, Plan, ProgressEvidence, ProgressUpdate, Task
from tests import factories

TODAY = datetime.date(2017, 9, 15)


@pytest.fixture(autouse=True)
def pinned_today(settings):
    settings.BAZHOU_TODAY = TODAY.isoformat()


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def plan(area):
    return factories.plan(area.village_a)


@pytest.fixture
def approved_plan(plan, personas):
    factories.task(plan, item="村文化室", category="culture_room")
    return services.plan_approve(plan_id=plan.pk, user=personas.district_admin)


@pytest.fixture
def task(plan):
    return factories.task(plan, planned_funds=Decimal("100"), invested_funds=Decimal("20"))


def update(task, user, reason="", fund_lines=None, **data):
    return services.task_update(
        task_id=task.pk, user=user, expected_version=task.version, data=data, fund_lines=fund_lines, reason=reason
    )


def state(task):
    """Everything a refused write must leave as it was: the row, its history, its fund lines, its reports."""
    row = Task.objects.filter(pk=task.pk).values().get()
    return (
        row,
        task.history.count(),
        list(FundLine.objects.filter(task=task).values("source", "amount")),
        ProgressUpdate.objects.filter(task=task).count(),
    )


def errors_of(excinfo) -> dict:
    return excinfo.value.message_dict


# Create and update, with history ---------------------------------------------------------------------


def test_creating_a_row_records_who_created_it(plan, personas):
    data = {
        "category": "industry",
        "item": "道地巴药产业",
        "quantity": Decimal("900"),
        "unit": "亩",
        "deadline": datetime.date(2017, 9, 30),
        "planned_funds": Decimal("170"),
        "responsible_person": "吴玉峰",
    }
    lines = [{"source": "central", "amount": Decimal("120")}, {"source": "self", "amount": Decimal("50")}]

    task = services.task_create(plan=plan, user=personas.village_cadre, data=data, fund_lines=lines)

    assert task.created_by == personas.village_cadre
    assert task.version == 1
    record = task.history.get()
    assert record.history_type == "+"
    assert record.history_user == personas.village_cadre
    assert {(line.source, line.amount) for line in task.fund_lines.all()} == {
        ("central", Decimal("120")),
        ("self", Decimal("50")),
    }
    assert FundLine.history.filter(task_id=task.pk, history_user=personas.village_cadre).count() == 2


def test_updating_a_row_records_who_why_and_moves_the_version_on(task, personas):
    update(task, personas.township_a, reason="村民大会决定提前", deadline=datetime.date(2017, 8, 15))

    task.refresh_from_db()
    assert task.deadline == datetime.date(2017, 8, 15)
    assert task.version == 2
    record = task.history.first()
    assert record.history_user == personas.township_a
    assert record.history_change_reason == "村民大会决定提前"
    assert record.deadline == datetime.date(2017, 8, 15)


def test_saving_without_any_change_writes_nothing(task, personas):
    before = state(task)
    update(task, personas.township_a, item=task.item, planned_funds=Decimal("100.0000"))
    assert state(task) == before


def test_a_stale_version_is_a_conflict_that_changes_nothing(task, personas):
    stale_version = task.version
    update(task, personas.township_a, item="通村硬化路（一期）")
    before = state(task)

    with pytest.raises(services.TaskConflict) as excinfo:
        services.task_update(
            task_id=task.pk,
            user=personas.village_cadre,
            expected_version=stale_version,
            data={"item": "通村硬化路（二期）"},
        )

    assert state(task) == before
    conflict = excinfo.value
    assert conflict.current.item == "通村硬化路（一期）"
    assert conflict.current.version == stale_version + 1
    assert conflict.changed_by == personas.township_a


@pytest.mark.django_db(transaction=True)
def test_two_people_saving_the_same_row_at_once_never_overwrite_each_other(area, personas):
    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite lets one writer in at a time")
    task = factories.task(factories.plan(area.village_a))
    first_saved, let_first_commit = threading.Event(), threading.Event()
    outcome = {}

    def first():
        try:
            with transaction.atomic():
                services.task_update(task_id=task.pk, user=personas.township_a, expected_version=1, data={"item": "甲"})
                first_saved.set()
                let_first_commit.wait(10)
            outcome["first"] = "saved"
        finally:
            connection.close()

    def second():
        first_saved.wait(10)
        try:
            services.task_update(task_id=task.pk, user=personas.village_cadre, expected_version=1, data={"item": "乙"})
            outcome["second"] = "saved"
        except services.TaskConflict as conflict:
            outcome["second"] = ("conflict", conflict.current.item)
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    first_saved.wait(10)
    time.sleep(0.5)
    assert "second" not in outcome  # waiting for the first save's lock, not reading the old version
    let_first_commit.set()
    for thread in threads:
        thread.join(20)

    assert outcome == {"first": "saved", "second": ("conflict", "甲")}
    task.refresh_from_db()
    assert (task.item, task.version) == ("甲", 2)


@pytest.mark.parametrize(
    "write",
    [
        pytest.param(lambda t, u: services.task_complete(task_id=t.pk, user=u, expected_version=1), id="complete"),
        pytest.param(
            lambda t, u: services.task_remove(task_id=t.pk, user=u, expected_version=1, reason="重复"), id="remove"
        ),
        pytest.param(
            lambda t, u: services.progress_record(
                task_id=t.pk,
                user=u,
                expected_version=1,
                progress=50,
                status="in_progress",
                invested_funds=Decimal("30"),
            ),
            id="progress",
        ),
    ],
)
def test_every_write_to_a_row_checks_the_version(task, personas, write):
    update(task, personas.township_a, item="通村硬化路（一期）")
    before = state(task)
    with pytest.raises(services.TaskConflict):
        write(task, personas.village_cadre)
    assert state(task) == before


# Approved plans: plan fields change only through a change request (tests/test_change_requests.py) ---------


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"data": {"deadline": datetime.date(2017, 10, 31)}}, id="deadline"),
        pytest.param({"data": {"planned_funds": Decimal("120")}}, id="planned funds"),
        pytest.param({"data": {}, "fund_lines": [{"source": "central", "amount": Decimal("100")}]}, id="fund lines"),
    ],
)
def test_on_an_approved_plan_deadline_or_funds_are_refused_even_with_a_reason(approved_plan, task, personas, change):
    task.refresh_from_db()
    before = state(task)

    for reason in ("", "区政府调整计划"):
        with pytest.raises(ValidationError) as excinfo:
            update(task, personas.village_cadre, reason=reason, fund_lines=change.get("fund_lines"), **change["data"])
        assert errors_of(excinfo)["__all__"] == [services.APPROVED_CHANGE]
        assert state(task) == before


def test_on_an_approved_plan_progress_and_contact_details_change_directly(approved_plan, task, personas):
    task.refresh_from_db()
    update(task, personas.village_cadre, responsible_phone="13800000000", status="in_progress", progress=30)
    task.refresh_from_db()
    assert (task.responsible_phone, task.progress) == ("13800000000", 30)


def test_on_a_draft_plan_the_deadline_changes_without_a_reason(task, personas):
    update(task, personas.village_cadre, deadline=datetime.date(2017, 10, 31))
    task.refresh_from_db()
    assert task.deadline == datetime.date(2017, 10, 31)


def test_a_new_row_on_an_approved_plan_is_refused_even_with_a_reason(approved_plan, personas):
    data = {
        "category": "road",
        "item": "产业路",
        "deadline": datetime.date(2017, 11, 30),
        "planned_funds": Decimal("5"),
    }
    for reason in ("", "新增产业路"):
        with pytest.raises(ValidationError) as excinfo:
            services.task_create(plan=approved_plan, user=personas.village_cadre, data=data, reason=reason)
        assert errors_of(excinfo)["__all__"] == [services.APPROVED_NEW]
    assert not Task.objects.filter(item="产业路").exists()


# Funds ----------------------------------------------------------------------------------------------------


def test_fund_lines_must_add_up_to_the_planned_funds(task, personas):
    before = state(task)
    lines = [{"source": "central", "amount": Decimal("60")}, {"source": "district", "amount": Decimal("30.5")}]

    with pytest.raises(ValidationError) as excinfo:
        update(task, personas.village_cadre, fund_lines=lines)

    assert errors_of(excinfo)["fund_lines"] == ["各资金来源合计（90.50万元）与计划资金（100.00万元）不一致。"]
    assert state(task) == before


def test_fund_lines_that_add_up_replace_the_old_ones_with_history(task, personas):
    factories.fund_line(task, "central", Decimal("70"))
    factories.fund_line(task, "self", Decimal("30"))
    lines = [{"source": "central", "amount": Decimal("60")}, {"source": "district", "amount": Decimal("40")}]

    update(task, personas.village_cadre, fund_lines=lines)

    assert {(f.source, f.amount) for f in task.fund_lines.all()} == {
        ("central", Decimal("60")),
        ("district", Decimal("40")),
    }
    kinds = {(r.source, r.history_type) for r in FundLine.history.filter(task_id=task.pk, history_user__isnull=False)}
    assert kinds == {("central", "~"), ("district", "+"), ("self", "-")}


def test_the_same_fund_source_twice_is_refused(task, personas):
    lines = [{"source": "central", "amount": Decimal("50")}, {"source": "central", "amount": Decimal("50")}]
    with pytest.raises(ValidationError) as excinfo:
        update(task, personas.village_cadre, fund_lines=lines)
    assert "同一任务的资金来源不能重复。" in errors_of(excinfo)["fund_lines"]
    assert not task.fund_lines.exists()


def test_changing_planned_funds_alone_must_keep_the_fund_lines_adding_up(task, personas):
    factories.fund_line(task, "central", Decimal("100"))
    before = state(task)
    with pytest.raises(ValidationError) as excinfo:
        update(task, personas.village_cadre, planned_funds=Decimal("120"))
    assert "与各资金来源合计（100.00万元）不一致" in errors_of(excinfo)["planned_funds"][0]
    assert state(task) == before


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"planned_funds": Decimal("-1")}, "planned_funds", "计划资金不能为负数。"),
        ({"invested_funds": Decimal("150")}, "invested_funds", "已投入资金不能超过计划资金。"),
        ({"status": "done", "progress": 60}, "progress", "已完成的任务进度应为 100%。"),
    ],
)
def test_a_bad_value_is_refused_with_its_message_and_nothing_is_saved(task, personas, data, field, message):
    before = state(task)
    with pytest.raises(ValidationError) as excinfo:
        update(task, personas.village_cadre, **data)
    assert message in errors_of(excinfo)[field]
    assert state(task) == before


def test_setting_the_status_to_done_fills_in_the_completion_date(task, personas):
    update(task, personas.village_cadre, status="done", progress=100)
    task.refresh_from_db()
    assert task.completed_on == TODAY


def test_a_household_of_another_village_is_refused(plan, area, personas):
    data = {
        "household": area.household_b,
        "category": "housing",
        "item": "危房改造",
        "deadline": datetime.date(2017, 10, 31),
        "planned_funds": Decimal("2"),
    }
    with pytest.raises(ValidationError) as excinfo:
        services.task_create(plan=plan, user=personas.district_admin, data=data)
    assert errors_of(excinfo)["household"] == ["该户不属于本施工图所在的村。"]


# Progress and evidence ---------------------------------------------------------------------------------------


def record_progress(task, user, **fields):
    fields = {
        "progress": 60,
        "status": "in_progress",
        "invested_funds": Decimal("55"),
        "note": "路基完成",
        "reported_on": datetime.date(2017, 9, 14),
        "files": [],
        **fields,
    }
    return services.progress_record(task_id=task.pk, user=user, expected_version=task.version, **fields)


def test_recording_progress_brings_the_row_up_to_date_and_stores_the_evidence(task, personas, media):
    photo = factories.evidence_upload("jpeg", name="现场照片.jpg", size=2048)
    report = factories.evidence_upload("pdf")

    update_ = record_progress(task, personas.village_cadre, files=[photo, report])

    task.refresh_from_db()
    assert (task.progress, task.status, task.invested_funds) == (60, "in_progress", Decimal("55"))
    assert task.last_progress_on == datetime.date(2017, 9, 14)
    assert task.version == 2
    assert task.history.first().history_user == personas.village_cadre
    assert update_.reported_by == personas.village_cadre
    stored = {(e.original_name, e.content_type, e.size) for e in update_.evidence.all()}
    assert stored == {("现场照片.jpg", "image/jpeg", 2048), ("验收单.pdf", "application/pdf", 1024)}
    for evidence in update_.evidence.all():
        assert (media / evidence.file.name).read_bytes()[:3] in (b"\xff\xd8\xff", b"%PD")
        assert evidence.uploaded_by == personas.village_cadre


def test_progress_that_reaches_done_records_the_completion_date(task, personas):
    record_progress(task, personas.village_cadre, progress=100, status="done", invested_funds=Decimal("100"))
    task.refresh_from_db()
    assert task.completed_on == datetime.date(2017, 9, 14)


def test_an_older_report_does_not_move_the_last_progress_date_back(task, personas):
    record_progress(task, personas.village_cadre, reported_on=datetime.date(2017, 9, 14))
    task.refresh_from_db()
    record_progress(task, personas.village_cadre, reported_on=datetime.date(2017, 9, 1))
    task.refresh_from_db()
    assert task.last_progress_on == datetime.date(2017, 9, 14)


def test_progress_dated_after_today_is_refused(task, personas):
    before = state(task)
    with pytest.raises(ValidationError) as excinfo:
        record_progress(task, personas.village_cadre, reported_on=TODAY + datetime.timedelta(days=1))
    assert errors_of(excinfo)["reported_on"] == ["填报日期不能晚于今天。"]
    assert state(task) == before


@pytest.mark.parametrize(
    ("kind", "name", "content_type"),
    [
        ("jpeg", "photo.jpg", "image/jpeg"),
        ("jpeg", "PHOTO.JPEG", "image/jpeg"),
        ("png", "photo.png", "image/png"),
        ("webp", "photo.webp", "image/webp"),
        ("heic", "IMG_0001.HEIC", "image/heic"),
        ("heic", "IMG_0002.heic", "application/octet-stream"),
        ("pdf", "验收单.pdf", "application/pdf"),
    ],
)
def test_photos_and_pdfs_are_accepted(task, personas, media, kind, name, content_type):
    upload = factories.evidence_upload(kind, name=name, content_type=content_type)
    record_progress(task, personas.village_cadre, files=[upload])
    assert ProgressEvidence.objects.get(update__task=task).original_name == name


@pytest.mark.parametrize(
    ("kind", "name", "content_type"),
    [
        pytest.param("gif", "photo.gif", "image/gif", id="a GIF"),
        pytest.param("exe", "photo.jpg", "image/jpeg", id="a program named .jpg"),
        pytest.param("pdf", "photo.jpg", "image/jpeg", id="a PDF named .jpg"),
        pytest.param("jpeg", "photo.exe", "image/jpeg", id="a JPEG named .exe"),
        pytest.param("jpeg", "photo.jpg", "text/html", id="a JPEG sent as HTML"),
    ],
)
def test_a_file_that_is_not_a_photo_or_pdf_is_refused_and_nothing_is_written(
    task, personas, media, kind, name, content_type
):
    before = state(task)
    upload = factories.evidence_upload(kind, name=name, content_type=content_type)
    with pytest.raises(ValidationError) as excinfo:
        record_progress(task, personas.village_cadre, files=[factories.evidence_upload("png"), upload])
    (message,) = errors_of(excinfo)["files"]
    assert "只能上传照片（JPG、PNG、WebP、HEIC）或 PDF 文件。" in message
    assert name in message
    assert state(task) == before
    assert not ProgressEvidence.objects.exists()
    assert not any(media.rglob("*.*"))


def test_a_file_over_the_size_limit_is_refused(task, personas, media, settings):
    settings.BAZHOU_MAX_UPLOAD_MB = 1
    before = state(task)
    big = factories.evidence_upload("jpeg", name="大照片.jpg", size=1024 * 1024 + 1)
    with pytest.raises(ValidationError) as excinfo:
        record_progress(task, personas.village_cadre, files=[big])
    assert errors_of(excinfo)["files"] == ["文件“大照片.jpg”超过 1 MB。"]
    assert state(task) == before

    record_progress(task, personas.village_cadre, files=[factories.evidence_upload("jpeg", size=1024 * 1024)])
    assert ProgressEvidence.objects.count() == 1


def test_more_than_five_files_are_refused(task, personas, media):
    before = state(task)
    with pytest.raises(ValidationError) as excinfo:
        record_progress(task, personas.village_cadre, files=[factories.evidence_upload() for _ in range(6)])
    assert "最多上传 5 个文件" in errors_of(excinfo)["files"][0]
    assert state(task) == before


# Complete and remove -------------------------------------------------------------------------------------------


def test_marking_complete_sets_done_full_progress_and_today(task, personas):
    services.task_complete(task_id=task.pk, user=personas.village_cadre, expected_version=task.version)
    task.refresh_from_db()
    assert (task.status, task.progress, task.completed_on) == ("done", 100, TODAY)
    assert task.history.first().history_change_reason == "标记完成"


def test_removing_a_row_keeps_it_marked_removed_with_the_reason(plan, task, personas):
    services.task_remove(
        task_id=task.pk, user=personas.township_a, expected_version=task.version, reason="与水利项目重复"
    )

    task = Task.objects.get(pk=task.pk)
    assert task.is_removed and task.removed_reason == "与水利项目重复"
    record = task.history.first()
    assert record.history_user == personas.township_a
    assert "与水利项目重复" in record.history_change_reason
    assert not Task.objects.filter(plan=plan).live().filter(pk=task.pk).exists()


def test_removing_without_a_reason_is_refused(task, personas):
    before = state(task)
    with pytest.raises(ValidationError) as excinfo:
        services.task_remove(task_id=task.pk, user=personas.township_a, expected_version=task.version, reason="  ")
    assert errors_of(excinfo)["reason"] == ["撤销任务须说明原因。"]
    assert state(task) == before


def test_a_removed_row_can_no_longer_be_changed(task, personas):
    services.task_remove(task_id=task.pk, user=personas.township_a, expected_version=task.version, reason="重复")
    task.refresh_from_db()
    before = state(task)
    with pytest.raises(ValidationError) as excinfo:
        update(task, personas.township_a, item="恢复")
    assert excinfo.value.messages == ["该任务已撤销，不能再修改。"]
    assert state(task) == before


# Approving a plan ----------------------------------------------------------------------------------------------


def test_a_district_admin_approves_a_plan_of_their_district(plan, task, personas):
    services.plan_approve(plan_id=plan.pk, user=personas.district_admin)
    plan.refresh_from_db()
    assert plan.state == Plan.State.APPROVED
    assert plan.approved_by == personas.district_admin
    assert plan.approved_at is not None
    record = plan.history.first()
    assert (record.history_user, record.history_change_reason) == (personas.district_admin, "批准施工图")


@pytest.mark.parametrize("persona", ["township_a", "village_cadre"])
def test_township_staff_and_village_cadres_may_not_approve_their_own_plan(plan, task, personas, persona):
    with pytest.raises(PermissionDenied):
        services.plan_approve(plan_id=plan.pk, user=getattr(personas, persona))
    plan.refresh_from_db()
    assert plan.state == Plan.State.DRAFT


@pytest.mark.parametrize("persona", ["supervisor", "leader", "township_b"])
def test_users_who_may_not_change_the_plan_cannot_even_find_it_to_approve(plan, task, personas, persona):
    with pytest.raises(Http404):
        services.plan_approve(plan_id=plan.pk, user=getattr(personas, persona))
    plan.refresh_from_db()
    assert plan.state == Plan.State.DRAFT


def test_an_admin_of_another_district_cannot_approve(plan, task):
    other = factories.user(factories.ROLES.DISTRICT_ADMIN, factories.district("511921", "通江县"))
    with pytest.raises(Http404):
        services.plan_approve(plan_id=plan.pk, user=other)


def test_a_plan_without_rows_or_already_approved_is_not_approved_again(plan, personas):
    with pytest.raises(ValidationError, match="还没有任务"):
        services.plan_approve(plan_id=plan.pk, user=personas.district_admin)
    factories.task(plan)
    services.plan_approve(plan_id=plan.pk, user=personas.district_admin)
    with pytest.raises(ValidationError, match="已经批准"):
        services.plan_approve(plan_id=plan.pk, user=personas.district_admin)
    assert plan.history.count() == 2  # created, approved once


# The services do not trust their caller ---------------------------------------------------------------------------


WRITES = {
    "update": lambda t, u: update(t, u, item="改"),
    "complete": lambda t, u: services.task_complete(task_id=t.pk, user=u, expected_version=t.version),
    "remove": lambda t, u: services.task_remove(task_id=t.pk, user=u, expected_version=t.version, reason="x"),
    "progress": lambda t, u: record_progress(t, u),
    "create": lambda t, u: services.task_create(
        plan=t.plan, user=u, data={"category": "road", "item": "新", "deadline": TODAY, "planned_funds": 1}
    ),
}


@pytest.mark.parametrize("write", WRITES.keys())
@pytest.mark.parametrize("persona", ["township_b", "supervisor", "leader"])
def test_services_refuse_users_outside_the_area_or_who_only_read(task, personas, persona, write):
    before = state(task)
    with pytest.raises(Http404):
        WRITES[write](task, getattr(personas, persona))
    assert state(task) == before
    assert Task.objects.count() == 1


@pytest.mark.parametrize("persona", ["district_admin", "township_a", "village_cadre"])
def test_everyone_who_keeps_the_village_may_change_its_rows(task, personas, persona):
    update(task, getattr(personas, persona), item="通村硬化路（改）")
    task.refresh_from_db()
    assert task.item == "通村硬化路（改）"


def test_a_village_cadre_may_not_change_another_village_of_the_same_township(area, personas):
    other = factories.task(factories.plan(area.village_a2))
    with pytest.raises(Http404):
        update(other, personas.village_cadre, item="改")
