"""The plan table through the API: who reads and changes which rows, validation in Chinese, If-Match, reasons on
approved plans, fund lines, progress with evidence files, withdrawal, history, filters, pages and query counts."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from tasks import changes
from tasks.models import FundLine, Plan, ProgressEvidence, ProgressUpdate, Task
from tests import factories
from tests.api.helpers import ids, if_match, results

pytestmark = pytest.mark.usefixtures("pinned_today")

TASKS = "/api/v1/tasks/"
PLANS = "/api/v1/plans/"


def url(task) -> str:
    return f"{TASKS}{task.pk}/"


def snapshot(task) -> dict:
    """Everything stored about a row and its fund lines, to show a refused write changed nothing."""
    row = Task.objects.filter(pk=task.pk).values().get()
    lines = sorted(FundLine.objects.filter(task=task).values_list("source", "amount"))
    return {**row, "fund_lines": lines, "history": task.history.count()}


# ---------------------------------------------------------------------------------------------
# Who reads what
# ---------------------------------------------------------------------------------------------


def test_each_persona_lists_the_rows_of_their_own_area(api, personas, rows):
    everything = {rows.task_a.pk, rows.household_task_a.pk, rows.task_b.pk}
    assert ids(api(personas.district_admin).get(TASKS)) == everything
    assert ids(api(personas.supervisor).get(TASKS)) == everything
    assert ids(api(personas.leader).get(TASKS)) == everything
    assert ids(api(personas.township_a).get(TASKS)) == {rows.task_a.pk, rows.household_task_a.pk}
    assert ids(api(personas.village_cadre).get(TASKS)) == {rows.task_a.pk, rows.household_task_a.pk}
    assert ids(api(personas.township_b).get(TASKS)) == {rows.task_b.pk}


def test_a_row_of_another_area_is_404_to_read_and_to_change_and_stays_unchanged(api, personas, rows):
    client = api(personas.township_b)
    before = snapshot(rows.task_a)
    assert client.get(url(rows.task_a)).status_code == 404
    assert client.get(url(rows.task_a)).json()["detail"] == "未找到。"
    version = if_match(rows.task_a.version)
    assert client.patch(url(rows.task_a), {"item": "改"}, **version).status_code == 404
    assert client.post(f"{url(rows.task_a)}complete/", **version).status_code == 404
    assert client.post(f"{url(rows.task_a)}remove/", {"reason": "不要了"}, **version).status_code == 404
    assert (
        client.post(f"{url(rows.task_a)}progress/", {"progress": 50, "status": "in_progress"}, **version).status_code
        == 404
    )
    assert client.get(f"{url(rows.task_a)}history/").status_code == 404
    assert snapshot(rows.task_a) == before


def test_a_row_reads_as_the_plan_page_shows_it_with_its_version_as_etag(api, personas, rows):
    response = api(personas.township_a).get(url(rows.task_a))
    assert response.status_code == 200
    assert response["ETag"] == f'"{rows.task_a.version}"'
    row = response.json()
    assert row["village_name"] == "茅垭村" and row["township"] == "511902204" and row["plan_type"] == "village"
    assert row["planned_funds"] == "100.0000" and row["overdue"] is True  # 2017-08-31, not done, today 09-15
    assert [(line["source"], line["amount"]) for line in row["fund_lines"]] == [
        ("central", "60.0000"),
        ("district", "40.0000"),
    ]
    household_row = api(personas.township_a).get(url(rows.household_task_a)).json()
    assert (
        household_row["plan_type"] == "household"
        and household_row["household_number"] == rows.household_task_a.household.number
    )


def test_leaders_and_supervisors_read_but_may_not_change_rows(api, personas, rows):
    before = snapshot(rows.task_a)
    for persona in (personas.leader, personas.supervisor):
        client = api(persona)
        response = client.patch(url(rows.task_a), {"item": "改"}, **if_match(rows.task_a.version))
        assert response.status_code == 403
        assert response.json()["detail"] == "您的角色只能查看，不能修改施工图。"
        assert (
            client.post(
                TASKS, {"plan": rows.plan_a.pk, "item": "新", "category": "road", "deadline": "2017-12-31"}
            ).status_code
            == 403
        )
    assert snapshot(rows.task_a) == before


# ---------------------------------------------------------------------------------------------
# Changing a row: If-Match, validation, fields that are not writable
# ---------------------------------------------------------------------------------------------


def test_a_change_with_the_current_version_is_saved_and_moves_the_version_on(api, personas, rows):
    client = api(personas.township_a)
    response = client.patch(
        url(rows.task_a), {"responsible_person": "吴玉峰", "progress": 30, "status": "in_progress"}, **if_match(1)
    )
    assert response.status_code == 200, response.json()
    assert response["ETag"] == '"2"'
    assert response.json()["responsible_person"] == "吴玉峰"
    rows.task_a.refresh_from_db()
    assert (rows.task_a.version, rows.task_a.progress, rows.task_a.responsible_person) == (2, 30, "吴玉峰")
    assert rows.task_a.history.first().history_user == personas.township_a


def test_a_change_without_if_match_is_428_and_changes_nothing(api, personas, rows):
    before = snapshot(rows.task_a)
    response = api(personas.township_a).patch(url(rows.task_a), {"item": "改"})
    assert response.status_code == 428
    assert "If-Match" in response.json()["detail"]
    assert snapshot(rows.task_a) == before


def test_a_stale_change_is_412_with_the_row_as_it_now_stands_and_changes_nothing(api, personas, rows):
    first, second = api(personas.township_a), api(personas.village_cadre)
    assert first.patch(url(rows.task_a), {"responsible_person": "吴玉峰"}, **if_match(1)).status_code == 200
    before = snapshot(rows.task_a)
    response = second.patch(url(rows.task_a), {"responsible_person": "秦和平"}, **if_match(1))
    assert response.status_code == 412
    body = response.json()
    assert body["code"] == "stale_version"
    assert body["current"]["responsible_person"] == "吴玉峰" and body["current"]["version"] == 2
    assert body["changed_by"] == str(personas.township_a)
    assert response["ETag"] == '"2"'
    assert snapshot(rows.task_a) == before


@pytest.mark.parametrize("value", ['"abc"', "*", '"1", "2"'])
def test_an_unreadable_if_match_is_400(api, personas, rows, value):
    response = api(personas.township_a).patch(url(rows.task_a), {"item": "改"}, HTTP_IF_MATCH=value)
    assert response.status_code == 400
    assert "If-Match" in response.json()["detail"]


def test_bad_values_get_the_forms_chinese_messages_by_field_and_change_nothing(api, personas, rows):
    client = api(personas.township_a)
    before = snapshot(rows.task_a)
    response = client.patch(url(rows.task_a), {"planned_funds": "-5", "progress": 120}, **if_match(1))
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "planned_funds": ["计划资金不能为负数。"],
        "progress": ["进度应在 0–100 之间。"],
    }
    response = client.patch(url(rows.task_a), {"planned_funds": "1.23456"}, **if_match(1))
    assert response.json()["errors"] == {"planned_funds": ["金额最多保留 4 位小数（万元，即精确到元）。"]}
    response = client.patch(url(rows.task_a), {"deadline": "八月底"}, **if_match(1))
    assert response.status_code == 400 and "日期" in response.json()["errors"]["deadline"][0]
    assert snapshot(rows.task_a) == before


def test_the_services_rules_come_back_as_field_errors(api, personas, rows):
    client = api(personas.township_a)
    before = snapshot(rows.task_a)
    # invested > planned, and "done" without 100 % (the service's full_clean), in one answer.
    response = client.patch(
        url(rows.task_a),
        {"invested_funds": "150", "status": "done", "progress": 80, "fund_lines": []},
        format="json",
        **if_match(1),
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "invested_funds": ["已投入资金不能超过计划资金。"],
        "progress": ["已完成的任务进度应为 100%。"],
    }
    assert snapshot(rows.task_a) == before


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("version", 99, "该字段不能修改。"),
        ("created_by", 1, "该字段不能修改。"),
        ("is_removed", True, "该字段不能修改。"),
        ("last_progress_on", "2017-09-01", "该字段不能修改。"),
        ("plan", 1, "任务所属的施工图不能修改。"),
    ],
)
def test_fields_that_are_not_writable_are_refused_by_name(api, personas, rows, field, value, message):
    before = snapshot(rows.task_a)
    response = api(personas.township_a).patch(
        url(rows.task_a), {field: value, "item": "改"}, format="json", **if_match(1)
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {field: [message]}
    assert snapshot(rows.task_a) == before


def test_a_row_cannot_be_given_a_household_of_another_village(api, personas, rows, area):
    other = factories.household(area.village_a2)
    before = snapshot(rows.task_a)
    response = api(personas.township_a).patch(url(rows.task_a), {"household": other.pk}, **if_match(1))
    assert response.status_code == 400
    assert response.json()["errors"] == {"household": ["该户不属于本施工图所在的村。"]}
    # A household outside the user's area does not exist for them.
    response = api(personas.township_a).patch(
        url(rows.task_a), {"household": rows.task_b.plan.village.households.first().pk}, **if_match(1)
    )
    assert response.json()["errors"] == {"household": ["该户不存在。"]}
    assert snapshot(rows.task_a) == before


# ---------------------------------------------------------------------------------------------
# Approved plans: reasons; fund lines
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def approved(rows, personas):
    Plan.objects.filter(pk=rows.plan_a.pk).update(state="approved", approved_at=timezone.now())
    return rows


def test_on_an_approved_plan_a_deadline_changes_only_by_an_approved_request_kept_in_the_history(
    api, personas, approved
):
    client = api(personas.township_a)
    before = snapshot(approved.task_a)
    for extra in ({}, {"reason": "雨季延误，经乡党委同意顺延"}):
        refused = client.patch(url(approved.task_a), {"deadline": "2017-10-31", **extra}, **if_match(1))
        assert refused.status_code == 409  # tasks.api.ChangeRequestRequired: where to ask instead
        assert "POST /api/v1/change-requests/" in refused.json()["detail"]
        assert snapshot(approved.task_a) == before

    request = changes.change_request_create(
        user=personas.township_a,
        task=approved.task_a,
        changes={"deadline": datetime.date(2017, 10, 31)},
        reason_category="disaster",
        reason="雨季延误，经乡党委同意顺延",
        expected_version=1,
    )
    changes.change_request_approve(user=personas.district_admin, request_id=request.pk, expected_version=1)
    assert client.get(url(approved.task_a)).json()["deadline"] == "2017-10-31"
    reason = f"变更申请 #{request.pk}（自然灾害）：雨季延误，经乡党委同意顺延"
    history = client.get(f"{url(approved.task_a)}history/").json()
    assert history[0]["reason"] == reason
    assert {"field": "deadline", "label": "完成时限", "before": "2017-08-31", "after": "2017-10-31"} in history[0][
        "changes"
    ]


def test_fund_lines_are_replaced_whole_and_must_add_up_to_the_planned_funds(api, personas, rows):
    client = api(personas.township_a)
    lines = [{"source": "central", "amount": "30"}, {"source": "social", "amount": "50"}]
    before = snapshot(rows.task_a)
    refused = client.patch(url(rows.task_a), {"fund_lines": lines}, format="json", **if_match(1))
    assert refused.status_code == 400
    assert refused.json()["errors"] == {"fund_lines": ["各资金来源合计（80.00万元）与计划资金（100.00万元）不一致。"]}
    assert snapshot(rows.task_a) == before

    lines.append({"source": "self", "amount": "20"})
    saved = client.patch(url(rows.task_a), {"fund_lines": lines}, format="json", **if_match(1))
    assert saved.status_code == 200
    assert sorted(FundLine.objects.filter(task=rows.task_a).values_list("source", "amount")) == [
        ("central", Decimal("30")),
        ("self", Decimal("20")),
        ("social", Decimal("50")),
    ]
    assert saved["ETag"] == '"2"'  # the fund lines are part of the row

    duplicate = [{"source": "central", "amount": "50"}, {"source": "central", "amount": "50"}]
    response = client.patch(url(rows.task_a), {"fund_lines": duplicate}, format="json", **if_match(2))
    assert response.json()["errors"] == {"fund_lines": ["同一任务的资金来源不能重复。"]}


# ---------------------------------------------------------------------------------------------
# New rows, completion, withdrawal, progress
# ---------------------------------------------------------------------------------------------


def test_a_new_row_is_created_in_the_users_plan_signed_with_its_creator(api, personas, rows):
    client = api(personas.village_cadre)
    data = {
        "plan": rows.plan_a.pk,
        "category": "culture_room",
        "item": "村文化室",
        "quantity": "1",
        "unit": "处",
        "deadline": "2017-08-31",
        "planned_funds": "12",
        "fund_lines": [{"source": "district", "amount": "12"}],
    }
    response = client.post(TASKS, data, format="json")
    assert response.status_code == 201, response.json()
    task = Task.objects.get(pk=response.json()["id"])
    assert task.created_by == personas.village_cadre and task.version == 1 and task.plan == rows.plan_a
    assert response["ETag"] == '"1"'
    assert list(task.fund_lines.values_list("source", "amount")) == [("district", Decimal("12"))]


def test_a_new_row_in_another_areas_plan_is_refused_as_if_the_plan_did_not_exist(api, personas, rows):
    count = Task.objects.count()
    response = api(personas.township_a).post(
        TASKS, {"plan": rows.plan_b.pk, "category": "road", "item": "越界", "deadline": "2017-12-31"}
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {"plan": ["施工图不存在。"]}
    assert Task.objects.count() == count


def test_a_new_row_on_an_approved_plan_is_refused_directly_even_with_a_reason(api, personas, approved):
    client = api(personas.township_a)
    data = {"plan": approved.plan_a.pk, "category": "road", "item": "联户路", "deadline": "2017-12-31"}
    count = Task.objects.count()
    refused = client.post(TASKS, data)
    assert refused.status_code == 409 and "kind=add" in refused.json()["detail"]
    assert client.post(TASKS, {**data, "reason": "区脱贫办第3次会议增补"}).status_code == 409
    assert Task.objects.count() == count


def test_required_fields_of_a_new_row_are_named_in_chinese(api, personas, rows):
    response = api(personas.township_a).post(TASKS, {"plan": rows.plan_a.pk})
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "category": ["该字段是必填项。"],
        "item": ["该字段是必填项。"],
        "deadline": ["该字段是必填项。"],
    }


def test_completing_a_row_marks_it_done_today(api, personas, rows):
    response = api(personas.township_a).post(f"{url(rows.task_a)}complete/", **if_match(1))
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["progress"], response.json()["completed_on"]) == (
        "done",
        100,
        "2017-09-15",
    )
    again = api(personas.township_a).post(f"{url(rows.task_a)}complete/", **if_match(2))
    assert again.status_code == 400 and again.json()["errors"] == {"status": ["该任务已完成。"]}


def test_withdrawing_a_row_needs_a_reason_keeps_the_row_and_hides_it_from_the_list(api, personas, rows):
    client = api(personas.township_a)
    before = snapshot(rows.task_a)
    refused = client.post(f"{url(rows.task_a)}remove/", {"reason": " "}, **if_match(1))
    assert refused.status_code == 400 and refused.json()["errors"] == {"reason": ["撤销任务须说明原因。"]}
    assert snapshot(rows.task_a) == before

    response = client.post(f"{url(rows.task_a)}remove/", {"reason": "与交通局项目重复"}, **if_match(1))
    assert response.status_code == 200 and response.json()["is_removed"] is True
    assert rows.task_a.pk not in ids(client.get(TASKS))
    assert ids(client.get(TASKS, {"removed": "true"})) == {rows.task_a.pk}
    assert client.get(url(rows.task_a)).status_code == 200  # still readable by its address
    changed = client.patch(url(rows.task_a), {"item": "改"}, **if_match(2))
    assert changed.status_code == 400 and changed.json()["errors"] == {
        "non_field_errors": ["该任务已撤销，不能再修改。"]
    }


def test_progress_with_photos_updates_the_row_and_serves_the_files_through_the_access_check(api, personas, rows, media):
    client = api(personas.village_cadre)
    data = {
        "progress": "60",
        "status": "in_progress",
        "invested_funds": "50",
        "note": "路基完成",
        "files": [factories.evidence_upload("jpeg"), factories.evidence_upload("pdf")],
    }
    response = client.post(f"{url(rows.task_a)}progress/", data, format="multipart", **if_match(1))
    assert response.status_code == 201, response.json()
    body = response.json()
    assert response["ETag"] == '"2"' and body["task_now"]["version"] == 2 and body["task_now"]["progress"] == 60
    assert [e["original_name"] for e in body["evidence"]] == ["photo.jpg", "验收单.pdf"]
    rows.task_a.refresh_from_db()
    assert (rows.task_a.progress, rows.task_a.invested_funds, rows.task_a.last_progress_on) == (
        60,
        Decimal("50"),
        datetime.date(2017, 9, 15),
    )
    photo = client.get(body["evidence"][0]["url"])
    assert photo.status_code == 200 and photo["Content-Type"] == "image/jpeg"
    assert b"".join(photo.streaming_content).startswith(b"\xff\xd8\xff")
    # Township B does not see the row, nor its files.
    assert api(personas.township_b).get(body["evidence"][0]["url"]).status_code == 404
    listed = results(client.get("/api/v1/progress-updates/", {"task": rows.task_a.pk}))
    assert [u["note"] for u in listed] == ["路基完成"]


def test_progress_with_a_file_that_is_not_a_photo_or_pdf_is_refused_and_nothing_is_stored(api, personas, rows, media):
    before = snapshot(rows.task_a)
    data = {
        "progress": "60",
        "status": "in_progress",
        "invested_funds": "50",
        "files": [factories.evidence_upload("gif")],
    }
    response = api(personas.village_cadre).post(f"{url(rows.task_a)}progress/", data, format="multipart", **if_match(1))
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "files": ["文件“photo.gif”无法接受：只能上传照片（JPG、PNG、WebP、HEIC）或 PDF 文件。"]
    }
    assert snapshot(rows.task_a) == before
    assert not ProgressUpdate.objects.exists() and not ProgressEvidence.objects.exists()
    assert not list(media.rglob("*.*"))


# ---------------------------------------------------------------------------------------------
# Plans: open and approve
# ---------------------------------------------------------------------------------------------


def test_a_plan_is_opened_once_per_village_and_year(api, personas, area):
    client = api(personas.township_a)
    made = client.post(PLANS, {"village": area.village_a2.pk, "year": 2017})
    assert made.status_code == 201 and made.json()["state"] == "draft" and made.json()["row_count"] == 0
    again = client.post(PLANS, {"village": area.village_a2.pk, "year": 2017})
    assert again.status_code == 400
    assert again.json()["errors"] == {"non_field_errors": ["该村本年度已有施工图。"]}
    other = client.post(PLANS, {"village": area.village_b.pk, "year": 2017})
    assert other.json()["errors"] == {"village": ["该村不存在。"]}
    assert Plan.objects.count() == 1


def test_only_district_admins_approve_a_plan_and_only_once(api, personas, rows):
    refused = api(personas.township_a).post(f"{PLANS}{rows.plan_a.pk}/approve/")
    assert refused.status_code == 403 and refused.json()["detail"] == "只有区级管理员可以批准施工图。"
    assert Plan.objects.get(pk=rows.plan_a.pk).state == "draft"
    response = api(personas.district_admin).post(f"{PLANS}{rows.plan_a.pk}/approve/")
    assert response.status_code == 200
    assert response.json()["state"] == "approved" and response.json()["approved_by"] == personas.district_admin.pk
    again = api(personas.district_admin).post(f"{PLANS}{rows.plan_a.pk}/approve/")
    assert again.status_code == 400 and again.json()["errors"] == {"non_field_errors": ["该施工图已经批准。"]}


def test_the_plan_list_carries_each_plans_totals(api, personas, rows):
    (plan,) = [p for p in results(api(personas.township_a).get(PLANS)) if p["id"] == rows.plan_a.pk]
    assert (plan["row_count"], plan["overdue_count"], plan["planned_total"]) == (2, 1, "102.5000")
    assert ids(api(personas.township_b).get(PLANS)) == {rows.plan_b.pk}
    assert api(personas.township_b).get(f"{PLANS}{rows.plan_a.pk}/").status_code == 404


# ---------------------------------------------------------------------------------------------
# Filters, ordering, search, pages
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def many(area, rows):
    """Rows with different deadlines, statuses, categories and people in township A (plus the fixture's)."""
    plan = rows.plan_a
    made = {
        "soon": factories.task(plan, item="联户路", deadline=datetime.date(2017, 9, 30), responsible_person="吴玉峰"),
        "later": factories.task(plan, item="产业园", category="industry", deadline=datetime.date(2017, 12, 31)),
        "done": factories.done_task(plan, item="饮水工程", category="water", deadline=datetime.date(2017, 6, 30)),
    }
    return made


def test_the_plan_row_filters_of_the_pages(api, personas, rows, many, area):
    client = api(personas.district_admin)
    all_a = {rows.task_a.pk, rows.household_task_a.pk, *(t.pk for t in many.values())}
    assert ids(client.get(TASKS, {"township": area.township_a.pk})) == all_a
    assert ids(client.get(TASKS, {"village": area.village_b.pk})) == {rows.task_b.pk}
    assert ids(client.get(TASKS, {"plan_year": 2018})) == set()
    assert ids(client.get(TASKS, {"plan_type": "household"})) == {rows.household_task_a.pk}
    assert rows.household_task_a.pk not in ids(client.get(TASKS, {"plan_type": "village"}))
    assert ids(client.get(TASKS, {"status": ["done", "accepted"]})) == {many["done"].pk}
    assert ids(client.get(TASKS, {"category": "industry"})) == {many["later"].pk}
    window = {"deadline_after": "2017-09-01", "deadline_before": "2017-10-31"}
    assert ids(client.get(TASKS, window)) == {many["soon"].pk, rows.household_task_a.pk}
    # Overdue on 2017-09-15: past the deadline and not done (the done row of June is not).
    assert ids(client.get(TASKS, {"overdue": "true"})) == {rows.task_a.pk, rows.task_b.pk}
    assert {rows.task_a.pk, rows.task_b.pk}.isdisjoint(ids(client.get(TASKS, {"overdue": "false"})))
    assert ids(client.get(TASKS, {"due_within": 30})) == {many["soon"].pk}
    assert ids(client.get(TASKS, {"responsible_person": "玉峰"})) == {many["soon"].pk}
    assert ids(client.get(TASKS, {"search": "饮水"})) == {many["done"].pk}


def test_filter_values_that_make_no_sense_are_400_in_chinese(api, personas, rows):
    client = api(personas.district_admin)
    response = client.get(TASKS, {"due_within": "0"})
    assert response.status_code == 400 and "due_within" in response.json()["errors"]
    assert client.get(TASKS, {"status": "finished"}).status_code == 400
    response = client.get(TASKS, {"ordering": "secret_field"})
    assert response.status_code == 400
    assert response.json()["errors"]["ordering"][0].startswith("不能按“secret_field”排序")
    assert client.get(TASKS, {"deadline_after": "九月"}).status_code == 400


def test_an_id_number_in_the_search_is_refused(api, personas, rows):
    response = api(personas.district_admin).get(TASKS, {"search": factories.id_number()})
    assert response.status_code == 400
    assert "身份证号不能放在网址中" in response.json()["errors"]["search"][0]


def test_pages_follow_the_ordering_across_ties_without_losing_or_repeating_rows(api, personas, area):
    plan = factories.plan(area.village_a)
    made = [
        factories.task(plan, item=f"任务{i}", deadline=datetime.date(2017, 8, 31 if i % 3 else 30)) for i in range(7)
    ]
    client = api(personas.township_a)
    seen, link, pages = [], f"{TASKS}?ordering=-deadline&page_size=3", 0
    while link:
        body = client.get(link).json()
        seen += [(row["deadline"], row["id"]) for row in body["results"]]
        link, pages = body["next"], pages + 1
    assert pages == 3
    assert seen == sorted(((t.deadline.isoformat(), t.pk) for t in made), key=lambda r: (r[0], r[1]), reverse=True)
    # Back from the last page.
    last = client.get(f"{TASKS}?ordering=-deadline&page_size=3").json()
    second = client.get(last["next"]).json()
    assert client.get(second["previous"]).json()["results"] == last["results"]


def test_a_cursor_made_up_by_hand_is_400(api, personas, rows):
    client = api(personas.district_admin)
    assert client.get(TASKS, {"cursor": "not-a-cursor"}).status_code == 400
    first = client.get(TASKS, {"page_size": 1}).json()
    # A cursor of one ordering used with another.
    assert client.get(first["next"] + "&ordering=deadline").status_code == 400
    assert client.get(TASKS, {"page_size": 501}).status_code == 400


# ---------------------------------------------------------------------------------------------
# Query counts
# ---------------------------------------------------------------------------------------------


def grow(area, n):
    plan = factories.plan(area.village_a)
    for i in range(n):
        task = factories.task(plan, area.household_a if i % 2 else None, item=f"任务{i}", planned_funds=Decimal("10"))
        factories.fund_line(task, "central", Decimal("10"))


def test_the_plan_row_list_makes_the_same_number_of_queries_for_ten_times_the_rows(
    api, personas, area, django_assert_num_queries
):
    client = api(personas.district_admin)
    grow(area, 3)
    # savepoint; session; user; the page of rows with plan, village and township, each row's household number,
    # department name, fund lines and pending change request as subqueries; release savepoint.
    with django_assert_num_queries(5):
        small = client.get(TASKS)
    grow(area, 27)
    with django_assert_num_queries(5):
        large = client.get(TASKS)
    assert len(results(small)) == 3 and len(results(large)) == 30


def grow_plans(area, n):
    """``n`` villages of township A, each with a plan, a row and a progress report on it."""
    for _ in range(n):
        plan = factories.plan(factories.village(area.township_a), year=2017)
        task = factories.task(plan)
        ProgressUpdate.objects.create(
            task=task, reported_on=datetime.date(2017, 9, 1), progress=10, status="in_progress"
        )


def test_the_plan_and_progress_lists_make_the_same_number_of_queries_for_ten_times_the_rows(
    api, personas, area, django_assert_num_queries
):
    client = api(personas.district_admin)
    for n, total in ((3, 3), (27, 30)):
        grow_plans(area, n)
        # savepoint; session; user; the plans with village, township and their figures; release.
        with django_assert_num_queries(5):
            assert len(results(client.get(PLANS))) == total
        # savepoint; session; user; the reports; their evidence; release.
        with django_assert_num_queries(6):
            assert len(results(client.get("/api/v1/progress-updates/"))) == total
