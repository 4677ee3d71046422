"""The progress form from the field: one report however many times it is sent, the result shown after saving,
photos kept across a validation error (and only for their owner), and conflicts that name someone else only when
it was someone else."""

import datetime
import re
import uuid
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from bazhou.core.models import Role
from tasks import services, staging
from tasks.models import ProgressEvidence, ProgressUpdate, StagedUpload, Task
from tests import factories

pytestmark = pytest.mark.usefixtures("pinned_today", "media")


@pytest.fixture
def road(area):
    plan = factories.plan(area.village_a, 2017)
    return factories.task(plan, planned_funds=Decimal("100"), invested_funds=Decimal("20"))


def signed_in(client, user):
    client.force_login(user)
    return client


def url(task):
    return reverse("tasks:task_progress", args=[task.pk])


def report(task, **fields):
    return {
        "_submission": str(uuid.uuid4()),
        "version": task.version,
        "reported_on": "2017-09-14",
        "progress": 70,
        "status": "in_progress",
        "invested_funds": "45",
        "note": "路面硬化过半",
        **fields,
    }


def text(response) -> str:
    return response.content.decode()


def staged_ids(html: str) -> list[str]:
    return re.findall(r'name="staged" value="(\d+)"', html)


# After saving: the result, not the filled form ---------------------------------------------------------------------


def test_a_saved_report_redirects_to_the_row_with_the_new_report_highlighted(client, personas, road):
    response = signed_in(client, personas.village_cadre).post(
        url(road), report(road, photo=factories.evidence_upload("jpeg", name="现场.jpg"))
    )
    update = ProgressUpdate.objects.get()
    assert response.status_code == 302
    assert response.url == f"{reverse('tasks:task_detail', args=[road.pk])}?reported={update.pk}#update-{update.pk}"
    page = text(client.get(response.url))
    assert "进度已保存。" in page
    assert re.search(rf'id="update-{update.pk}" data-testid="progress-update" class="progress-update-new"', page)
    assert 'data-testid="progress-update-new">刚刚保存<' in page
    assert "现场.jpg" in page
    assert 'data-testid="progress-form"' not in page


@pytest.mark.parametrize("value", ["abc", "²", "9" * 40, "-3"])
def test_an_odd_reported_id_only_highlights_nothing(client, personas, road, value):
    response = signed_in(client, personas.village_cadre).get(
        reverse("tasks:task_detail", args=[road.pk]), {"reported": value}
    )
    assert response.status_code == 200
    assert "progress-update-new" not in text(response)


def test_the_same_submission_sent_twice_stores_one_report(client, personas, road):
    signed_in(client, personas.village_cadre)
    data = report(road)
    first = client.post(url(road), {**data, "photo": factories.evidence_upload("jpeg")})
    again = client.post(url(road), {**data, "photo": factories.evidence_upload("jpeg")}, follow=True)
    assert ProgressUpdate.objects.count() == 1
    assert ProgressEvidence.objects.count() == 1
    assert again.redirect_chain[0][0] == first.url
    page = text(again)
    assert "已处理过" in page and 'data-testid="conflict"' not in page and "他人" not in page
    assert Task.objects.get(pk=road.pk).version == 2


def test_the_form_is_made_for_a_phone(client, personas, road, settings):
    settings.BAZHOU_MAX_UPLOAD_MB = 8
    page = text(signed_in(client, personas.village_cadre).get(url(road)))
    assert re.search(r'<input type="hidden" name="_submission" value="[0-9a-f-]{36}">', page)
    assert re.search(r'<input type="file" name="photo"[^>]*accept="image/\*"[^>]*capture="environment"', page)
    assert "每张不超过 8 MB" in page and "每个不超过 8 MB" in page
    assert re.search(r'<input type="number" name="progress"[^>]*class="form-control form-control-lg"', page)
    assert re.search(r'<select name="status"[^>]*class="form-select form-select-lg"', page)
    assert re.search(r'data-testid="progress-save" data-busy-text="正在上传，请稍候…">保存进度<', page)


# Photos kept across a validation error -----------------------------------------------------------------------------


def test_a_validation_error_keeps_the_photo_and_the_next_sending_attaches_it(
    client, personas, road, django_capture_on_commit_callbacks
):
    signed_in(client, personas.village_cadre)
    response = client.post(
        url(road), report(road, progress=150, photo=factories.evidence_upload("jpeg", name="现场.jpg"))
    )
    page = text(response)
    assert response.status_code == 200
    assert 'data-field-error="progress">进度应在 0–100 之间。<' in page
    assert "已保留照片：现场.jpg" in page
    kept = StagedUpload.objects.get()
    assert (kept.user, kept.original_name, kept.content_type) == (personas.village_cadre, "现场.jpg", "image/jpeg")
    assert staged_ids(page) == [str(kept.pk)]
    assert not ProgressUpdate.objects.exists()
    stored = kept.file.name

    # Corrected and sent again without choosing the photo again: it is attached, and the staged copy is gone.
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url(road), report(road, progress=80, staged=[str(kept.pk)]))
    assert response.status_code == 302
    evidence = ProgressEvidence.objects.get()
    assert (evidence.original_name, evidence.content_type, evidence.update.progress) == ("现场.jpg", "image/jpeg", 80)
    assert evidence.file.read().startswith(b"\xff\xd8\xff")
    assert not StagedUpload.objects.exists()
    assert not kept.file.storage.exists(stored)


def test_a_service_refusal_also_keeps_the_photos(client, personas, road):
    signed_in(client, personas.village_cadre)
    response = client.post(
        url(road),
        report(road, invested_funds="500", files=[factories.evidence_upload("pdf"), factories.evidence_upload("png")]),
    )
    page = text(response)
    assert "已投入资金不能超过计划资金。" in page
    assert "已保留文件：验收单.pdf" in page and "已保留照片：photo.png" in page
    assert len(staged_ids(page)) == 2


def test_a_bad_file_asks_to_be_chosen_again_while_the_good_one_is_kept(client, personas, road):
    signed_in(client, personas.village_cadre)
    response = client.post(
        url(road),
        report(
            road,
            files=[factories.evidence_upload("exe", name="病毒.jpg")],
            photo=factories.evidence_upload("jpeg", name="好照片.jpg"),
        ),
    )
    page = text(response)
    assert response.status_code == 200
    assert re.search(r'data-field-error="files">文件“病毒.jpg”无法接受：[^<]*<', page)
    assert f'data-field-error="files">{staging.CHOOSE_AGAIN}<' in page
    assert "已保留照片：好照片.jpg" in page and "病毒.jpg" not in "".join(
        StagedUpload.objects.values_list("original_name", flat=True)
    )
    assert not ProgressUpdate.objects.exists()


def test_a_file_over_the_limit_asks_to_be_chosen_again(client, personas, road, settings):
    settings.BAZHOU_MAX_UPLOAD_MB = 1
    signed_in(client, personas.village_cadre)
    big = factories.evidence_upload("jpeg", name="大.jpg", size=1024 * 1024 + 10)
    page = text(client.post(url(road), report(road, photo=big)))
    assert 'data-field-error="photo">文件“大.jpg”超过 1 MB。<' in page
    assert f'data-field-error="photo">{staging.CHOOSE_AGAIN}<' in page
    assert not StagedUpload.objects.exists() and not ProgressUpdate.objects.exists()


def test_unticking_a_kept_photo_leaves_it_out(client, personas, road):
    signed_in(client, personas.village_cadre)
    page = text(client.post(url(road), report(road, progress=150, photo=factories.evidence_upload("jpeg"))))
    assert len(staged_ids(page)) == 1
    response = client.post(url(road), report(road))  # the box unticked: no "staged" value sent
    assert response.status_code == 302
    assert not ProgressEvidence.objects.exists()


def test_someone_elses_staged_photo_cannot_be_attached(client, area, personas, road):
    other = factories.user(Role.VILLAGE_CADRE, area.village_a, username="other-cadre")
    signed_in(client, other)
    page = text(client.post(url(road), report(road, progress=150, photo=factories.evidence_upload("jpeg"))))
    theirs = staged_ids(page)[0]

    signed_in(client, personas.village_cadre)
    response = client.post(url(road), report(road, staged=[theirs]))
    assert response.status_code == 200
    assert staging.GONE in text(response)
    assert "已保留照片" not in text(response)
    assert not ProgressUpdate.objects.exists()
    assert StagedUpload.objects.get().user == other  # still theirs, untouched


@pytest.mark.parametrize(
    "values",
    [["abc"], ["²"], ["9" * 40], ["-1"], ["0"], ["999999"], [str(n) for n in range(1, 8)], ["1 OR 1=1"]],
)
def test_odd_staged_ids_say_to_choose_again_and_save_nothing(client, personas, road, values):
    response = signed_in(client, personas.village_cadre).post(url(road), report(road, staged=values))
    assert response.status_code == 200
    assert f'data-field-error="files">{staging.GONE}<' in text(response)
    assert not ProgressUpdate.objects.exists()


def test_a_staged_photo_whose_file_is_gone_asks_again(client, personas, road):
    signed_in(client, personas.village_cadre)
    page = text(client.post(url(road), report(road, progress=150, photo=factories.evidence_upload("jpeg"))))
    kept = StagedUpload.objects.get()
    kept.file.storage.delete(kept.file.name)
    response = client.post(url(road), report(road, staged=staged_ids(page)))
    assert staging.GONE in text(response)
    assert not ProgressUpdate.objects.exists()


def test_staged_photos_older_than_a_day_are_cleaned(client, personas, road, django_capture_on_commit_callbacks):
    signed_in(client, personas.village_cadre)
    client.post(url(road), report(road, progress=150, photo=factories.evidence_upload("jpeg", name="旧.jpg")))
    client.post(url(road), report(road, progress=150, photo=factories.evidence_upload("jpeg", name="新.jpg")))
    old = StagedUpload.objects.get(original_name="旧.jpg")
    StagedUpload.objects.filter(pk=old.pk).update(created_at=timezone.now() - datetime.timedelta(hours=25))
    with django_capture_on_commit_callbacks(execute=True):
        call_command("clean_staged_uploads")
    assert list(StagedUpload.objects.values_list("original_name", flat=True)) == ["新.jpg"]
    assert not old.file.storage.exists(old.file.name)


# Conflicts: someone else, or the person themself ----------------------------------------------------------------


def test_a_second_save_of_ones_own_says_so_and_names_no_one_else(client, personas, road):
    signed_in(client, personas.village_cadre)
    stale = report(road)  # the form as loaded, version 1
    assert client.post(url(road), report(road, progress=60)).status_code == 302
    response = client.post(url(road), {**stale, "_submission": str(uuid.uuid4())})
    page = text(response)
    assert response.status_code == 409
    assert re.search(r"未保存：您本人已于 \d\d:\d\d 保存过这次修改", page)
    assert 'data-by-self="true"' in page and "当前数据（由您本人 于" in page
    assert "他人" not in page
    assert ProgressUpdate.objects.count() == 1


def test_a_save_by_someone_else_names_them(client, personas, road):
    signed_in(client, personas.village_cadre)
    stale = report(road)
    services.task_update(task_id=road.pk, user=personas.township_a, expected_version=1, data={"item": "一期"})
    response = client.post(url(road), {**stale, "photo": factories.evidence_upload("jpeg", name="现场.jpg")})
    page = text(response)
    assert response.status_code == 409
    assert "这条任务在你编辑期间已被他人修改" in page and "当前数据（由 baimiao 于" in page
    assert "您本人" not in page
    # The photo is kept for the next sending.
    assert "已保留照片：现场.jpg" in page and len(staged_ids(page)) == 1


def test_marking_complete_twice_by_oneself_says_it_was_oneself(client, personas, road):
    signed_in(client, personas.village_cadre)
    complete = reverse("tasks:task_complete", args=[road.pk])
    client.post(complete, {"version": 1})
    page = text(client.post(complete, {"version": 1}, follow=True))
    assert re.search(r"未保存：您本人已于 \d\d:\d\d 保存过这次修改，请核对当前数据后再标记完成。", page)
    assert "已由" not in page


def test_marking_complete_after_someone_else_names_them(client, personas, road):
    services.task_update(task_id=road.pk, user=personas.township_a, expected_version=1, data={"item": "一期"})
    page = text(
        signed_in(client, personas.village_cadre).post(
            reverse("tasks:task_complete", args=[road.pk]), {"version": 1}, follow=True
        )
    )
    assert re.search(r"未保存：该任务已由baimiao于\d\d:\d\d修改", page)
    assert "您本人" not in page


def test_withdrawing_after_ones_own_save_says_it_was_oneself(client, personas, road):
    signed_in(client, personas.township_a)
    services.task_update(task_id=road.pk, user=personas.township_a, expected_version=1, data={"item": "一期"})
    response = client.post(reverse("tasks:task_remove", args=[road.pk]), {"version": 1, "reason": "重复"})
    page = text(response)
    assert re.search(r"您本人已于 \d\d:\d\d 保存过这次修改，请查看下面的当前数据后再确认撤销。", page)
    assert re.search(r'name="version" value="2"', page) and "重复</textarea>" in page
    assert not Task.objects.get(pk=road.pk).is_removed
