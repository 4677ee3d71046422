"""A sector department's user (行业部门) on every surface: they read their department's plan rows across the district
and report those rows' progress, and nothing else of the plan — no plan pages, households, villages, change requests,
approvals, imports or dashboard; another department's rows do not exist for them (404), writes other than progress
are refused in Chinese (403). Published bulletins of their district are public notices: they read them.

The world: 区交通运输局 (transport) has a village row and a household row in 茅垭村 (township A) and a row in 大寺村
(township B); 区水务局 (water) has a row in 大寺村; 茅垭村 also has a row of no department (白庙乡人民政府).
"""

from __future__ import annotations

import datetime
import io

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from openpyxl import load_workbook
from rest_framework.test import APIClient

from supervision import bulletin_services
from supervision.models import Bulletin
from tasks import imports as task_imports
from tasks.api import DEPARTMENT_PROGRESS_ONLY
from tasks.exports import KEYS
from tasks.models import Plan, ProgressUpdate, Task
from tests import factories
from tests.excel.helpers import body
from tests.jobs import get_file

pytestmark = pytest.mark.usefixtures("pinned_today")
TODAY = datetime.date(2017, 9, 15)


@pytest.fixture
def world(area, personas):
    class World:
        transport = factories.department(area.district, "区交通运输局", aliases="区交通局")
        water = factories.department(area.district, "区水务局")
        transport_user = factories.department_user(transport, username="jiaotong")
        water_user = factories.department_user(water, username="shuiwu")
        plan_a = factories.plan(area.village_a)
        plan_b = factories.plan(area.village_b)
        # Overdue since 31 August (15 days on the 15th of September).
        road_a = factories.task(plan_a, item="茅垭村通村硬化路", responsible_unit="区交通局", department=transport)
        # Due on the 20th: 临期 5 天.
        bridge_a = factories.task(
            plan_a,
            area.household_a,
            item="茅垭村入户便道",
            category="housing",
            deadline=datetime.date(2017, 9, 20),
            responsible_unit="区交通运输局",
            department=transport,
        )
        road_b = factories.task(
            plan_b,
            item="大寺村产业路",
            deadline=datetime.date(2017, 12, 31),
            responsible_unit="区交通运输局",
            department=transport,
        )
        water_b = factories.task(
            plan_b, item="大寺村饮水工程", category="water", responsible_unit="区水务局", department=water
        )
        village_a = factories.task(
            plan_a, item="茅垭村文化室", category="culture_room", responsible_unit="白庙乡人民政府"
        )

    World.own = {World.road_a.pk, World.bridge_a.pk, World.road_b.pk}
    return World


def signed_in(client, user):
    client.force_login(user)
    return client


def api_for(user):
    c = APIClient()
    c.force_login(user)
    return c


# ---------------------------------------------------------------------------------------------
# The access rules the surfaces ask
# ---------------------------------------------------------------------------------------------


def test_a_department_user_sees_and_reports_exactly_their_departments_rows(world):
    user = world.transport_user
    assert set(Task.objects.visible_to(user).values_list("pk", flat=True)) == world.own
    assert set(Task.objects.reportable_by(user).values_list("pk", flat=True)) == world.own
    assert not Task.objects.editable_by(user).exists()
    assert not Plan.objects.visible_to(user).exists()
    assert set(Task.objects.visible_to(world.water_user).values_list("pk", flat=True)) == {world.water_b.pk}


# ---------------------------------------------------------------------------------------------
# Pages
# ---------------------------------------------------------------------------------------------


def test_the_task_pages_of_their_own_rows_open_and_offer_progress_only(client, world):
    signed_in(client, world.transport_user)
    page = client.get(reverse("tasks:task_detail", args=[world.road_a.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="progress-link"' in html
    assert 'data-testid="edit-link"' not in html and 'data-testid="request-change"' not in html
    assert 'data-testid="complete-form"' not in html and 'data-testid="remove-link"' not in html
    assert 'data-testid="plan-link"' not in html  # the plan page does not exist for them: no link to it
    assert reverse("tasks:department") in html
    assert client.get(reverse("tasks:task_history", args=[world.road_a.pk])).status_code == 200
    assert client.get(reverse("tasks:task_progress", args=[world.bridge_a.pk])).status_code == 200


@pytest.mark.parametrize("row", ["water_b", "village_a"])
@pytest.mark.parametrize("name", ["task_detail", "task_history", "task_progress"])
def test_the_rows_of_another_department_or_none_do_not_exist_for_them(client, world, row, name):
    signed_in(client, world.transport_user)
    assert client.get(reverse(f"tasks:{name}", args=[getattr(world, row).pk])).status_code == 404


def test_a_department_user_reports_progress_on_their_row_and_only_there(client, world):
    signed_in(client, world.transport_user)
    form = {
        "progress": "40",
        "status": "in_progress",
        "invested_funds": "10",
        "reported_on": "2017-09-15",
        "note": "路基完成",
    }
    url = reverse("tasks:task_progress", args=[world.road_a.pk])
    response = client.post(url, {**form, "version": world.road_a.version})
    assert response.status_code == 302, response.content.decode()
    world.road_a.refresh_from_db()
    assert (world.road_a.progress, world.road_a.status) == (40, "in_progress")
    update = ProgressUpdate.objects.get(task=world.road_a)
    assert update.reported_by == world.transport_user
    # The same form on the water department's row: a 404, and nothing written.
    other = reverse("tasks:task_progress", args=[world.water_b.pk])
    assert client.post(other, {**form, "version": world.water_b.version}).status_code == 404
    assert not ProgressUpdate.objects.filter(task=world.water_b).exists()


@pytest.mark.parametrize("name", ["task_edit", "task_inline", "task_remove", "change_request_create"])
def test_the_pages_that_change_a_row_do_not_exist_for_them_even_on_their_rows(client, world, name):
    signed_in(client, world.transport_user)
    assert client.get(reverse(f"tasks:{name}", args=[world.road_a.pk])).status_code == 404


def test_they_cannot_complete_or_approve(client, area, world, personas):
    signed_in(client, world.transport_user)
    version = world.road_a.version
    response = client.post(reverse("tasks:task_complete", args=[world.road_a.pk]), {"version": version})
    assert response.status_code == 404
    assert client.post(reverse("tasks:plan_approve", args=[world.plan_a.pk])).status_code == 404
    world.road_a.refresh_from_db()
    assert world.road_a.status != "done"
    assert Plan.objects.get(pk=world.plan_a.pk).state == "draft"


def test_plan_village_and_household_pages_do_not_exist_for_them(client, area, world):
    signed_in(client, world.transport_user)
    assert client.get(reverse("tasks:plan", args=[world.plan_a.pk])).status_code == 404
    assert client.get(reverse("villages:detail", args=[area.village_a.pk])).status_code == 404
    assert client.get(reverse("households:detail", args=[area.household_a.pk])).status_code == 404
    # The lists open, with no rows.
    villages = client.get(reverse("villages:list"))
    assert villages.status_code in (200, 403)
    assert "茅垭村" not in villages.content.decode()
    households = client.get(reverse("households:list"))
    assert households.status_code in (200, 403)
    assert area.household_a.number not in households.content.decode()


def test_change_requests_are_not_theirs(client, area, world, personas):
    from tasks import changes, services
    from tasks.models import ChangeRequest

    services.plan_approve(plan_id=world.plan_a.pk, user=personas.district_admin)
    world.road_a.refresh_from_db()
    request = changes.change_request_create(
        user=personas.village_cadre,
        task=world.road_a.pk,
        changes={"item": "茅垭村通村硬化路（改线）"},
        reason_category=ChangeRequest.ReasonCategory.OTHER,
        reason="改线",
        expected_version=world.road_a.version,
    )
    signed_in(client, world.transport_user)
    assert client.get(reverse("tasks:change_request", args=[request.pk])).status_code == 404
    approve = client.post(reverse("tasks:change_request_approve", args=[request.pk]), {"version": request.version})
    assert approve.status_code == 404
    assert ChangeRequest.objects.get(pk=request.pk).state == "pending"
    listing = client.get(reverse("tasks:change_requests"))
    assert listing.status_code in (200, 403, 404)
    assert "改线" not in listing.content.decode()
    api = api_for(world.transport_user)
    assert api.get("/api/v1/change-requests/").json()["results"] == []
    refused = api.post(
        "/api/v1/change-requests/",
        {"task": world.road_a.pk, "task_version": world.road_a.version, "changes": {"item": "x"}, "reason": "x"},
        format="json",
    )
    assert refused.status_code == 403


def test_imports_refuse_them_in_chinese(client, area, world, personas):
    signed_in(client, world.transport_user)
    for url in (reverse("tasks:plan_import"), reverse("tasks:plan_template")):
        response = client.get(url)
        assert response.status_code == 403
        assert "行业部门的用户不能导入施工图" in response.content.decode()
    # The import itself, called directly, refuses before reading anything.
    content = body(
        get_file(signed_in(client, personas.district_admin), reverse("tasks:plan_table_xlsx"), {"year": 2017})
    )
    with pytest.raises(PermissionDenied, match="只有区级管理员、乡镇工作人员和村干部可以导入施工图"):
        task_imports.preview_plan_import(user=world.transport_user, content=content, file_name="t.xlsx", year=2017)
    before = list(Task.objects.order_by("pk").values())
    with pytest.raises(PermissionDenied, match="可以导入施工图"):
        task_imports.apply_plan_import(
            user=world.transport_user, content=content, file_name="t.xlsx", year=2017, fingerprint="x"
        )
    assert list(Task.objects.order_by("pk").values()) == before


# ---------------------------------------------------------------------------------------------
# 本部门任务
# ---------------------------------------------------------------------------------------------


def rows_on(page) -> set[int]:
    html = page.content.decode()
    return {int(part.split('"')[0]) for part in html.split('data-testid="department-row" data-task-id="')[1:]}


def test_the_department_page_lists_their_rows_across_the_district(client, world):
    page = signed_in(client, world.transport_user).get(reverse("tasks:department"))
    assert page.status_code == 200
    assert rows_on(page) == world.own
    html = page.content.decode()
    assert "本部门任务：区交通运输局" in html
    assert "逾期 15 天" in html and "临期 5 天" in html
    for pk in world.own:
        assert reverse("tasks:task_progress", args=[pk]) in html  # one tap from the progress form
    assert 'data-testid="count-overdue">1<' in html and 'data-testid="count-due">1<' in html


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"due": "overdue"}, {"road_a"}),
        ({"due": "overdue", "days": "15"}, {"road_a"}),
        ({"due": "overdue", "days": "16"}, set()),
        ({"due": "due"}, {"bridge_a"}),
        ({"due": "due", "days": "4"}, set()),
        ({"due": "due", "days": "120"}, {"bridge_a", "road_b"}),
        ({"township": "511902212"}, {"road_b"}),
        ({"status": "not_started", "township": "511902204"}, {"road_a", "bridge_a"}),
    ],
)
def test_the_department_page_filters(client, area, world, params, expected):
    if "village" in params:
        params = {**params, "village": area.village_a.pk}
    page = signed_in(client, world.transport_user).get(reverse("tasks:department"), params)
    assert page.status_code == 200
    assert rows_on(page) == {getattr(world, name).pk for name in expected}


def test_the_department_page_filters_by_village_and_says_what_is_wrong(client, area, world):
    signed_in(client, world.transport_user)
    page = client.get(reverse("tasks:department"), {"village": area.village_b.pk})
    assert rows_on(page) == {world.road_b.pk}
    bad = client.get(reverse("tasks:department"), {"days": "0", "due": "due"})
    assert bad.status_code == 200
    assert "天数应在 1–3650 之间。" in bad.content.decode()


def test_a_department_user_cannot_open_another_departments_list(client, world):
    signed_in(client, world.transport_user)
    assert client.get(reverse("tasks:department"), {"department": world.water.pk}).status_code == 404
    same = client.get(reverse("tasks:department"), {"department": world.transport.pk})
    assert rows_on(same) == world.own


def test_district_roles_pick_a_department_and_see_it_within_their_scope(client, area, world, personas):
    signed_in(client, personas.supervisor)
    summary = client.get(reverse("tasks:department")).content.decode()
    assert 'data-testid="department-summary-row"' in summary and "区水务局" in summary
    page = client.get(reverse("tasks:department"), {"department": world.water.pk})
    assert rows_on(page) == {world.water_b.pk}
    # Township A's staff: the transport rows of their township only, and the progress button on them.
    signed_in(client, personas.township_a)
    page = client.get(reverse("tasks:department"), {"department": world.transport.pk})
    assert rows_on(page) == {world.road_a.pk, world.bridge_a.pk}
    assert 'data-testid="progress-link"' in page.content.decode()
    # Another district's department is not one to pick.
    enyang = factories.department(factories.district("511903", "恩阳区"), "区交通运输局")
    assert client.get(reverse("tasks:department"), {"department": enyang.pk}).status_code == 404
    assert client.get(reverse("tasks:department"), {"department": "x"}).status_code == 404
    for odd in ("²", "0", "9" * 30):  # "²" is a digit to str.isdigit but not to int(); too long for a key
        assert client.get(reverse("tasks:department"), {"department": odd}).status_code == 404


# Queries of the department page for a department's user: savepoint and release, session, user, the department,
# the count and the page of rows (with plan, village, township, household), the rows of the page the user may
# report on, the counts (total, overdue, due); the townships and the villages of the filters; and what the navigation
# asks (the user's district; the data versions with its stored numbers, nothing having changed since the last page).
# The same at 1× and 10× the rows.
DEPARTMENT_PAGE_QUERIES = 13


def add_rows(world, area, times):
    plan = factories.plan(area.village_a2)
    for i in range(times):
        factories.task(plan, item=f"百花村通组路{i}", responsible_unit="区交通运输局", department=world.transport)
        factories.task(plan, item=f"百花村水池{i}", responsible_unit="区水务局", department=world.water)


def test_the_department_page_runs_the_same_queries_for_ten_times_the_rows(
    client, area, world, django_assert_num_queries
):
    signed_in(client, world.transport_user)
    add_rows(world, area, 1)
    client.get(reverse("tasks:department"))  # the session's first request writes what later ones only read
    with django_assert_num_queries(DEPARTMENT_PAGE_QUERIES):
        page = client.get(reverse("tasks:department"))
    assert len(rows_on(page)) == 3 + 1
    add_rows(world, area, 9)
    client.get(reverse("tasks:department"))  # the navigation's numbers counted again for the new rows, and stored
    with django_assert_num_queries(DEPARTMENT_PAGE_QUERIES):
        page = client.get(reverse("tasks:department"))
    assert len(rows_on(page)) == 3 + 10


# ---------------------------------------------------------------------------------------------
# The API
# ---------------------------------------------------------------------------------------------


def test_the_api_lists_and_reads_only_their_rows(world):
    api = api_for(world.transport_user)
    listed = api.get("/api/v1/tasks/")
    assert {row["id"] for row in listed.json()["results"]} == world.own
    assert {row["department_name"] for row in listed.json()["results"]} == {"区交通运输局"}
    assert api.get(f"/api/v1/tasks/{world.road_b.pk}/").status_code == 200
    assert api.get(f"/api/v1/tasks/{world.water_b.pk}/").status_code == 404
    assert api.get(f"/api/v1/tasks/{world.village_a.pk}/").status_code == 404
    assert api.get("/api/v1/plans/").json()["results"] == []
    assert api.get("/api/v1/households/").json()["results"] == []
    assert api.get("/api/v1/villages/").json()["results"] == []


def test_the_api_takes_their_progress_reports_and_nothing_else(world):
    api = api_for(world.transport_user)
    report = {"progress": 60, "status": "in_progress", "invested_funds": "20", "note": "完成过半"}
    done = api.post(
        f"/api/v1/tasks/{world.road_b.pk}/progress/", report, format="json", HTTP_IF_MATCH=f'"{world.road_b.version}"'
    )
    assert done.status_code == 201, done.content.decode()
    assert done.json()["task_now"]["progress"] == 60
    other = api.post(
        f"/api/v1/tasks/{world.water_b.pk}/progress/", report, format="json", HTTP_IF_MATCH=f'"{world.water_b.version}"'
    )
    assert other.status_code == 404
    assert not ProgressUpdate.objects.filter(task=world.water_b).exists()
    progress = api.get("/api/v1/progress-updates/").json()["results"]
    assert {row["task"] for row in progress} == {world.road_b.pk}

    world.road_a.refresh_from_db()
    etag = {"HTTP_IF_MATCH": f'"{world.road_a.version}"'}
    writes = [
        api.patch(f"/api/v1/tasks/{world.road_a.pk}/", {"item": "改名"}, format="json", **etag),
        api.post(f"/api/v1/tasks/{world.road_a.pk}/complete/", **etag),
        api.post(f"/api/v1/tasks/{world.road_a.pk}/remove/", {"reason": "不做了"}, format="json", **etag),
        api.post(
            "/api/v1/tasks/",
            {"plan": world.plan_a.pk, "category": "road", "item": "新路", "deadline": "2017-12-01"},
            format="json",
        ),
    ]
    for response in writes:
        assert response.status_code == 403, response.content.decode()
        assert response.json()["detail"] == DEPARTMENT_PROGRESS_ONLY
    world.road_a.refresh_from_db()
    assert world.road_a.item == "茅垭村通村硬化路" and not world.road_a.is_removed
    # Another department's row: 404 before any 403.
    assert api.patch(f"/api/v1/tasks/{world.water_b.pk}/", {"item": "x"}, format="json", **etag).status_code == 404


def test_the_dashboard_api_refuses_them_in_chinese(world, personas):
    response = api_for(world.transport_user).get("/api/v1/dashboard/")
    assert response.status_code == 403
    assert "行业部门" in response.json()["detail"]
    assert api_for(personas.supervisor).get("/api/v1/dashboard/").status_code == 200


# ---------------------------------------------------------------------------------------------
# Exports
# ---------------------------------------------------------------------------------------------


def xlsx_items(content: bytes) -> set[str]:
    sheet = load_workbook(io.BytesIO(content), read_only=True)["施工图"]
    column = KEYS.index("item")
    ids = KEYS.index("id")
    return {row[column] for row in sheet.iter_rows(values_only=True) if isinstance(row[ids], int) and row[column]}


def test_the_one_table_gives_them_their_rows_only(client, world):
    signed_in(client, world.transport_user)
    response = get_file(client, reverse("tasks:plan_table_xlsx"), {"year": 2017})
    assert response.status_code == 200
    assert xlsx_items(body(response)) == {"茅垭村通村硬化路", "茅垭村入户便道", "大寺村产业路"}
    api = api_for(world.transport_user)
    as_file = api.get("/api/v1/plan-table/", {"year": 2017, "format": "xlsx"})
    assert xlsx_items(body(as_file)) == {"茅垭村通村硬化路", "茅垭村入户便道", "大寺村产业路"}
    as_json = body(api.get("/api/v1/plan-table/", {"year": 2017})).decode()
    assert '"count": 3' in as_json and "大寺村饮水工程" not in as_json and "茅垭村文化室" not in as_json
    # A township or village picked by hand is not theirs to pick.
    assert (
        get_file(client, reverse("tasks:plan_table_xlsx"), {"year": 2017, "township": "511902204"}).status_code == 404
    )


def test_the_other_exports_give_them_nothing_of_the_plan(client, area, world):
    signed_in(client, world.transport_user)
    ledger = client.get(reverse("tasks:change_ledger_xlsx"))
    if ledger.status_code == 200:
        sheet = load_workbook(io.BytesIO(body(ledger)), read_only=True).worksheets[0]
        assert not any("茅垭村" in str(cell) for row in sheet.iter_rows(values_only=True) for cell in row if cell)
    else:
        assert ledger.status_code in (403, 404)
    register = get_file(client, reverse("households:register_xlsx"))
    if register.status_code == 200:
        assert area.household_a.number.encode() not in body(register)
    else:
        assert register.status_code in (403, 404)
    assert client.get(reverse("supervision:queue_xlsx")).status_code in (403, 404)
    assert client.get(reverse("dashboard_print")).status_code == 403


# ---------------------------------------------------------------------------------------------
# Bulletins: public notices of their district
# ---------------------------------------------------------------------------------------------


def test_they_read_the_published_bulletins_of_their_district_not_the_drafts(client, area, world, personas):
    period = {"period_start": datetime.date(2017, 9, 1), "period_end": datetime.date(2017, 9, 30)}
    published = bulletin_services.bulletin_generate(user=personas.supervisor, today=TODAY, **period)
    bulletin_services.bulletin_publish_draft(
        bulletin_id=published.pk, user=personas.supervisor, expected=bulletin_services.fingerprint(published)
    )
    draft = bulletin_services.bulletin_generate(user=personas.supervisor, today=TODAY, **period)
    assert set(Bulletin.objects.visible_to(world.transport_user)) == {Bulletin.objects.get(pk=published.pk)}
    signed_in(client, world.transport_user)
    assert client.get(reverse("supervision:bulletin", args=[published.pk])).status_code == 200
    assert client.get(reverse("supervision:bulletin", args=[draft.pk])).status_code == 404
    listing = client.get(reverse("supervision:bulletins")).content.decode()
    assert reverse("supervision:bulletin", args=[published.pk]) in listing
    assert reverse("supervision:bulletin", args=[draft.pk]) not in listing
    # Another district's department user reads none of 巴州区's.
    enyang = factories.district("511903", "恩阳区")
    outsider = factories.department_user(factories.department(enyang, "区交通运输局"))
    assert not Bulletin.objects.visible_to(outsider).exists()
