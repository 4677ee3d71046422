"""Supervision through the API: inspections, findings and their rectification's lifecycle (start, answer with
evidence, recheck by another supervisor), accountability, bulletins (generate, edit with If-Match, publish,
Excel with an export-log line), scoping, filters and query counts."""

import datetime

import pytest

from bazhou.core.models import ExportLog, Role
from supervision.models import Accountability, Bulletin, Finding, Inspection, Rectification, RectificationEvidence
from tests import factories
from tests.api.helpers import ids, if_match, results

pytestmark = pytest.mark.usefixtures("pinned_today")

FINDINGS = "/api/v1/findings/"
RECTIFICATIONS = "/api/v1/rectifications/"
BULLETINS = "/api/v1/bulletins/"


@pytest.fixture
def cases(area, rows):
    """A finding against township A's plan row and one against township B's village, each with a rectification."""

    class Cases:
        finding_a = factories.finding(rows.task_a, description="通村路进度滞后")
        rect_a = factories.rectification(finding_a, responsible_person="吴玉峰")
        finding_b = factories.finding(area.village_b, type="records", description="档案不全")
        rect_b = factories.rectification(finding_b, deadline=datetime.date(2017, 9, 1))

    return Cases


def rect_state(rectification) -> dict:
    return {
        **Rectification.objects.filter(pk=rectification.pk).values().get(),
        "history": rectification.history.count(),
    }


def test_findings_and_rectifications_are_those_of_the_users_area(api, personas, cases):
    assert ids(api(personas.supervisor).get(FINDINGS)) == {cases.finding_a.pk, cases.finding_b.pk}
    assert ids(api(personas.township_a).get(FINDINGS)) == {cases.finding_a.pk}
    assert ids(api(personas.township_b).get(RECTIFICATIONS)) == {cases.rect_b.pk}
    assert api(personas.township_b).get(f"{FINDINGS}{cases.finding_a.pk}/").status_code == 404
    assert api(personas.township_b).get(f"{RECTIFICATIONS}{cases.rect_a.pk}/").status_code == 404


def test_a_finding_reads_with_its_target_township_and_rectification(api, personas, cases):
    finding = api(personas.leader).get(f"{FINDINGS}{cases.finding_a.pk}/").json()
    assert finding["target_type"] == "task" and finding["target_text"] == "茅垭村 通村硬化路"
    assert finding["township"] == "511902204" and finding["township_name"] == "白庙乡"
    assert finding["rectification"]["status"] == "pending" and finding["rectification"]["overdue"] is False


def test_the_finding_and_rectification_filters(api, personas, cases, area):
    client = api(personas.supervisor)
    assert ids(client.get(FINDINGS, {"township": area.township_b.pk})) == {cases.finding_b.pk}
    assert ids(client.get(FINDINGS, {"village": area.village_a.pk})) == {cases.finding_a.pk}
    assert ids(client.get(FINDINGS, {"type": "records"})) == {cases.finding_b.pk}
    assert ids(client.get(FINDINGS, {"overdue": "true"})) == {cases.finding_b.pk}
    assert ids(client.get(FINDINGS, {"status": "pending"})) == {cases.finding_a.pk, cases.finding_b.pk}
    assert ids(client.get(RECTIFICATIONS, {"overdue": "true"})) == {cases.rect_b.pk}
    assert ids(client.get(RECTIFICATIONS, {"responsible_person": "玉峰"})) == {cases.rect_a.pk}
    assert ids(client.get(RECTIFICATIONS, {"township": area.township_a.pk})) == {cases.rect_a.pk}


def test_a_supervisor_files_a_finding_with_its_two_month_rectification(api, personas, rows):
    data = {
        "task": rows.task_a.pk,
        "type": "delay",
        "severity": "major",
        "description": "路基未完工",
        "found_on": "2017-09-10",
        "rectification": {"requirement": "9月底前完成路基", "responsible_person": "吴玉峰"},
    }
    response = api(personas.supervisor).post(FINDINGS, data, format="json")
    assert response.status_code == 201, response.json()
    finding = Finding.objects.get(pk=response.json()["id"])
    assert finding.reported_by == personas.supervisor
    assert finding.rectification.deadline == datetime.date(2017, 11, 10)
    assert response.json()["rectification"]["deadline"] == "2017-11-10"


def test_a_finding_needs_exactly_one_target_in_the_users_area_and_only_supervisors_file_them(api, personas, rows):
    base = {"type": "delay", "description": "滞后", "found_on": "2017-09-10", "rectification": {"requirement": "整改"}}
    client = api(personas.supervisor)
    both = client.post(FINDINGS, {**base, "task": rows.task_a.pk, "village": rows.plan_a.village_id}, format="json")
    assert both.status_code == 400
    assert both.json()["errors"] == {
        "non_field_errors": [
            "问题须且只须对应一个对象：任务（task）、村（village）、户（household）或乡镇（township）之一。"
        ]
    }
    future = client.post(FINDINGS, {**base, "task": rows.task_a.pk, "found_on": "2017-10-01"}, format="json")
    assert future.json()["errors"] == {"found_on": ["发现日期不能晚于今天。"]}
    missing = client.post(FINDINGS, {"task": rows.task_a.pk}, format="json")
    assert missing.json()["errors"]["description"] == ["请填写问题描述。"] and missing.json()["errors"]["type"] == [
        "请选择问题类型。"
    ]
    staff = api(personas.township_a).post(FINDINGS, {**base, "task": rows.task_a.pk}, format="json")
    assert staff.status_code == 403 and staff.json()["detail"] == "只有督查人员和区级管理员可以录入督查记录。"
    assert not Finding.objects.exists()


def test_the_rectification_lifecycle_start_answer_with_evidence_recheck_and_close(api, personas, cases, media):
    area_staff, supervisor = api(personas.township_a), api(personas.supervisor)
    url = f"{RECTIFICATIONS}{cases.rect_a.pk}/"
    assert area_staff.get(url)["ETag"] == '"1"'

    started = area_staff.post(f"{url}start/", **if_match(1))
    assert started.status_code == 200 and started.json()["status"] == "in_progress" and started["ETag"] == '"2"'

    answer = {"result": "路基已完成，附照片", "files": [factories.evidence_upload("jpeg")]}
    answered = area_staff.post(f"{url}answer/", answer, format="multipart", **if_match(2))
    assert answered.status_code == 200, answered.json()
    assert answered.json()["status"] == "awaiting_recheck" and answered.json()["answered_by"] == personas.township_a.pk
    (evidence,) = answered.json()["evidence"]
    assert area_staff.get(evidence["url"]).status_code == 200
    assert api(personas.township_b).get(evidence["url"]).status_code == 404

    rejected = supervisor.post(f"{url}recheck/", {"approve": False}, format="json", **if_match(3))
    assert rejected.status_code == 400
    assert rejected.json()["errors"] == {"recheck_note": ["退回整改须填写复查意见，说明哪里没有整改到位。"]}
    closed = supervisor.post(f"{url}recheck/", {"approve": True, "note": "现场核实"}, format="json", **if_match(3))
    assert closed.status_code == 200
    assert closed.json()["status"] == "closed" and closed.json()["closed_on"] == "2017-09-15"
    assert RectificationEvidence.objects.count() == 1


def test_a_stale_or_missing_if_match_on_a_rectification_changes_nothing(api, personas, cases):
    url = f"{RECTIFICATIONS}{cases.rect_a.pk}/"
    client = api(personas.village_cadre)
    before = rect_state(cases.rect_a)
    assert client.post(f"{url}start/").status_code == 428
    stale = client.post(f"{url}start/", **if_match(7))
    assert stale.status_code == 412
    assert stale.json()["current"]["version"] == 1 and stale["ETag"] == '"1"'
    assert rect_state(cases.rect_a) == before


def test_who_may_do_what_to_a_rectification(api, personas, cases):
    url = f"{RECTIFICATIONS}{cases.rect_a.pk}/"
    before = rect_state(cases.rect_a)
    # A leader reads but does nothing; a supervisor does not answer; township B does not see it.
    assert api(personas.leader).post(f"{url}start/", **if_match(1)).status_code == 403
    assert api(personas.supervisor).post(f"{url}answer/", {"result": "x"}, **if_match(1)).status_code == 403
    assert api(personas.township_b).post(f"{url}start/", **if_match(1)).status_code == 404
    # Nothing to recheck yet.
    not_answered = api(personas.supervisor).post(f"{url}recheck/", {"approve": True}, format="json", **if_match(1))
    assert not_answered.status_code == 400 and not_answered.json()["errors"] == {
        "result": ["还没有提交整改结果，不能复查销号。"]
    }
    assert rect_state(cases.rect_a) == before


def test_a_supervisor_does_not_recheck_their_own_answer(api, personas, area):
    finding = factories.finding(area.township_a, description="乡级档案")
    rectification = factories.rectification(finding)
    admin = api(personas.district_admin)
    url = f"{RECTIFICATIONS}{rectification.pk}/"
    assert admin.post(f"{url}answer/", {"result": "已补齐"}, **if_match(1)).status_code == 200
    own = admin.post(f"{url}recheck/", {"approve": True}, format="json", **if_match(2))
    assert own.status_code == 400
    assert own.json()["errors"] == {"rechecked_by": ["复查人不能是整改结果的填报人，请由其他督查人员复查。"]}
    assert (
        api(personas.supervisor).post(f"{url}recheck/", {"approve": True}, format="json", **if_match(2)).status_code
        == 200
    )


def test_accountability_is_recorded_by_supervisors_on_a_visible_finding(api, personas, cases):
    data = {
        "subject": "某村主任",
        "measure": "interview",
        "decided_on": "2017-09-12",
        "document_number": "巴州纪〔2017〕12号",
    }
    url = f"{FINDINGS}{cases.finding_a.pk}/accountabilities/"
    assert api(personas.township_a).post(url, data).status_code == 403
    response = api(personas.supervisor).post(url, data)
    assert response.status_code == 201 and response.json()["measure_display"] == "约谈"
    finding = api(personas.leader).get(f"{FINDINGS}{cases.finding_a.pk}/").json()
    assert [a["subject"] for a in finding["accountabilities"]] == ["某村主任"]
    assert Accountability.objects.count() == 1


def test_inspections_are_filed_by_supervisors_with_townships_and_villages_of_their_district(api, personas, area):
    data = {
        "title": "9月明察",
        "kind": "open",
        "organiser": "poverty_office",
        "start_date": "2017-09-05",
        "end_date": "2017-09-06",
        "methods": ["visit", "records"],
        "townships": [area.township_a.pk],
        "villages": [area.village_a.pk],
    }
    response = api(personas.supervisor).post("/api/v1/inspections/", data, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["townships"] == [area.township_a.pk] and response.json()["methods"] == ["visit", "records"]
    backwards = api(personas.supervisor).post("/api/v1/inspections/", {**data, "end_date": "2017-09-01"}, format="json")
    assert backwards.json()["errors"] == {"end_date": ["结束日期不能早于开始日期。"]}
    assert api(personas.leader).post("/api/v1/inspections/", data, format="json").status_code == 403
    assert Inspection.objects.count() == 1
    # An announced inspection of township A: its users see it, township B's do not (issue 17).
    assert len(results(api(personas.township_a).get("/api/v1/inspections/"))) == 1
    assert len(results(api(personas.township_b).get("/api/v1/inspections/"))) == 0


# ---------------------------------------------------------------------------------------------
# Bulletins
# ---------------------------------------------------------------------------------------------


def test_a_bulletin_is_generated_edited_with_if_match_published_and_downloaded(api, personas, cases):
    client = api(personas.supervisor)
    made = client.post(BULLETINS, {"period_start": "2017-09-01", "period_end": "2017-09-15"})
    assert made.status_code == 201, made.json()
    bulletin = made.json()
    assert (bulletin["year"], bulletin["number"], bulletin["state"]) == (2017, 1, "draft")
    assert bulletin["totals"]["overdue_tasks"] == 2 and bulletin["totals"]["open_rectifications"] == 2
    url = f"{BULLETINS}{bulletin['id']}/"
    etag = made["ETag"]

    # Drafts are not for everyone.
    assert api(personas.township_a).get(url).status_code == 404
    assert client.patch(url, {"body": "正文"}).status_code == 428
    edited = client.patch(url, {"body": "全区逾期任务 2 项。"}, HTTP_IF_MATCH=etag)
    assert edited.status_code == 200 and edited.json()["body"] == "全区逾期任务 2 项。"
    stale = client.patch(url, {"body": "覆盖"}, HTTP_IF_MATCH=etag)
    assert stale.status_code == 412 and stale.json()["current"]["body"] == "全区逾期任务 2 项。"
    assert client.post(f"{url}publish/", HTTP_IF_MATCH=etag).status_code == 412

    published = client.post(f"{url}publish/", HTTP_IF_MATCH=edited["ETag"])
    assert published.status_code == 200 and published.json()["state"] == "published"
    assert api(personas.township_a).get(url).status_code == 200
    again = client.patch(url, {"body": "改"}, HTTP_IF_MATCH=published["ETag"])
    assert again.status_code == 400 and again.json()["errors"] == {"non_field_errors": ["该通报已发布，不能再修改。"]}

    xlsx = api(personas.leader).get(f"{url}xlsx/")
    assert xlsx.status_code == 200 and xlsx.content.startswith(b"PK")
    log = ExportLog.objects.get()
    assert (log.user, log.kind, log.via, log.personal) == (personas.leader, "bulletin", "api", True)


def test_only_supervisors_and_district_admins_generate_bulletins(api, personas, area):
    response = api(personas.township_a).post(BULLETINS, {"period_start": "2017-09-01", "period_end": "2017-09-15"})
    assert response.status_code == 403
    backwards = api(personas.supervisor).post(BULLETINS, {"period_start": "2017-09-10", "period_end": "2017-09-01"})
    assert backwards.json()["errors"] == {"period_end": ["通报期间的止日不能早于起日。"]}
    assert not Bulletin.objects.exists()


# ---------------------------------------------------------------------------------------------
# Query counts
# ---------------------------------------------------------------------------------------------


def test_the_supervision_lists_make_the_same_number_of_queries_for_ten_times_the_rows(
    api, personas, area, django_assert_num_queries
):
    client = api(personas.supervisor)
    writer = factories.user(Role.SUPERVISOR, area.district)

    def grow(n):
        for i in range(n):
            plan = factories.plan(factories.village(area.township_a))
            task = factories.task(plan)
            finding = factories.finding([task, plan.village, area.household_a, area.township_b][i % 4])
            factories.rectification(finding)
            Accountability.objects.create(finding=finding, subject="某人", measure="reminder", decided_on="2017-09-01")
            inspection = Inspection.objects.create(
                district=area.district,
                title=f"督查{i}",
                kind="open",
                organiser="poverty_office",
                start_date="2017-09-01",
                end_date="2017-09-02",
            )
            inspection.townships.add(area.township_a)
            inspection.villages.add(plan.village)
        Bulletin.objects.create(
            district=area.district,
            year=2017,
            number=Bulletin.objects.count() + 1,
            title="通报",
            issued_on="2017-09-15",
            period_start="2017-09-01",
            period_end="2017-09-15",
            created_by=writer,
        )

    # savepoint, session, user, the page, release; plus the prefetches: accountability (findings), evidence
    # (rectifications), townships and villages (inspections).
    counts = {FINDINGS: 6, RECTIFICATIONS: 6, "/api/v1/inspections/": 7, BULLETINS: 5}
    grow(3)
    small = {}
    for path, n in counts.items():
        with django_assert_num_queries(n):
            small[path] = len(results(client.get(path)))
    grow(27)
    for path, n in counts.items():
        with django_assert_num_queries(n):
            assert len(results(client.get(path))) > small[path]


def test_fields_a_supervision_write_does_not_take_are_refused_by_name(api, personas, cases, rows):
    finding = {
        "task": rows.task_a.pk,
        "type": "delay",
        "description": "滞后",
        "found_on": "2017-09-10",
        "reported_by": personas.township_a.pk,
        "rectification": {"requirement": "整改"},
    }
    response = api(personas.supervisor).post(FINDINGS, finding, format="json")
    assert response.status_code == 400 and response.json()["errors"] == {"reported_by": ["该字段不能修改。"]}
    before = rect_state(cases.rect_a)
    url = f"{RECTIFICATIONS}{cases.rect_a.pk}/answer/"
    answer = api(personas.township_a).post(url, {"result": "已整改", "status": "closed"}, **if_match(1))
    assert answer.status_code == 400 and answer.json()["errors"] == {"status": ["该字段不能修改。"]}
    assert rect_state(cases.rect_a) == before
    assert Finding.objects.count() == 2
