"""The roles of the supervision chain on every surface that existed before them: the 挂包 leader (patch_leader), a
sector department's user (department), a village's information officer (informant), the 人大/政协 (oversight) and the
纪委 (discipline). Each sees and changes exactly its scope, on pages, the API, exports, imports, the dashboard and
bulletins.

The places (tests/conftest.py ``area``, tests/test_access_surfaces.py ``world``, and a little more here):
白庙乡 (township A: 茅垭村 and 百花村), 寺岭乡 (township B: 大寺村 and 石岭村), and 恩阳区 (another district).

- The 挂包 leader's charge is 白庙乡 (the township) and 大寺村 (one village of 寺岭乡): 石岭村, next door in 寺岭乡,
  is just outside, and so is 寺岭乡's own finding (a village of a township is not the township).
- 区交通运输局 answers for 茅垭村's road and 大寺村's industry road (two townships); 区水务局 for 百花村's water.
- The information officer is 茅垭村's.
"""

from __future__ import annotations

import datetime
import json

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from rest_framework.test import APIClient

from bazhou.core.models import CachedFigures, Role, User
from bazhou.core.xlsx.importing import ImportRefused
from bazhou.surfaces.dashboard import Scope, compute
from tasks.forms import PROGRESS_RANGE
from tasks.models import Task
from tests import factories
from tests import test_access_surfaces as surfaces
from tests.excel.helpers import body, calamine_rows, edit
from tests.jobs import get_file
from tests.test_access_surfaces import IMPORTS, everything, row_with
from villages.areas import Charge

pytestmark = pytest.mark.usefixtures("pinned_today")
world = surfaces.world  # the places and rows of tests/test_access_surfaces.py (a fixture)
TODAY = datetime.date(2017, 9, 15)

ROLE_NAMES = ("patch_leader", "road_department", "informant", "oversight", "discipline")

# The words that name each row the roles may or may not see.
ROAD_A = "茅垭村通村硬化路"  # 茅垭村, 区交通运输局
WATER_A2 = "百花村饮水工程"  # 百花村, 区水务局
ROAD_B = "大寺村产业路"  # 大寺村, 区交通运输局
OUTSIDE = "石岭村产业路"  # 石岭村 (寺岭乡), outside the charge; no department
ENYANG = "恩阳村"
WORDS = (ROAD_A, WATER_A2, ROAD_B, OUTSIDE, "茅垭村", "百花村", "大寺村", "石岭村", ENYANG)


def dashboard_url() -> str:
    return reverse("dashboard")


@pytest.fixture
def roles(area, personas, world):
    """``world`` and 石岭村 (寺岭乡, outside the charge) with a plan row and a household, the two departments with
    their rows, and a user of each new role."""

    class Roles:
        village_b2 = factories.poor_village(area.township_b, number=9, name="石岭村")
        household_b2 = factories.household(village_b2)
        plan_b2 = factories.plan(village_b2)
        task_b2 = factories.task(plan_b2, item=OUTSIDE)
        road = factories.department(area.district, "区交通运输局")
        water = factories.department(area.district, "区水务局")

    Task.objects.filter(pk__in=[world.task_a.pk, world.task_b.pk]).update(department=Roles.road)
    Task.objects.filter(pk=world.task_a2.pk).update(department=Roles.water)
    Roles.patch_leader = factories.patch_leader_user(
        [area.township_a], [area.village_b], username="pianqu", phone="13908270004"
    )
    Roles.road_department = factories.department_user(Roles.road, username="jiaotong")
    Roles.water_department = factories.department_user(Roles.water, username="shuiwu")
    Roles.informant = factories.informant_user(area.village_a, username="xinxiyuan")
    Roles.oversight = factories.oversight_user(area.district, username="renda")
    Roles.discipline = factories.discipline_user(area.district, username="jiwei")
    for name in ("plan_a", "plan_a2", "plan_b", "task_a", "task_a2", "task_b", "household_task_a", "finding_a"):
        setattr(Roles, name, getattr(world, name))
    for name in ("township_finding_a", "rectification_a", "inspection", "bulletin", "enyang", "village_x"):
        setattr(Roles, name, getattr(world, name))
    Roles.area = area
    Roles.personas = personas
    Roles.township_finding_b = factories.finding(area.township_b, description="寺岭乡档案不全")
    return Roles


def page(client, user, url, params=None):
    client.force_login(user)
    return get_file(client, url, params or {})  # an export of more than one village is a job: its file


def text(response) -> str:
    if response.status_code != 200 or not response["Content-Type"].startswith("text/"):
        return ""
    return body(response).decode()


PAGES = {
    "dashboard": lambda r: dashboard_url(),
    "village list": lambda r: reverse("villages:list"),
    "village A": lambda r: reverse("villages:detail", args=[r.area.village_a.pk]),
    "village A2": lambda r: reverse("villages:detail", args=[r.area.village_a2.pk]),
    "village B": lambda r: reverse("villages:detail", args=[r.area.village_b.pk]),
    "village B2": lambda r: reverse("villages:detail", args=[r.village_b2.pk]),
    "household list": lambda r: reverse("households:list"),
    "household A": lambda r: reverse("households:detail", args=[r.area.household_a.pk]),
    "household B": lambda r: reverse("households:detail", args=[r.area.household_b.pk]),
    "household B2": lambda r: reverse("households:detail", args=[r.household_b2.pk]),
    "plan A": lambda r: reverse("tasks:plan", args=[r.plan_a.pk]),
    "plan B": lambda r: reverse("tasks:plan", args=[r.plan_b.pk]),
    "plan B2": lambda r: reverse("tasks:plan", args=[r.plan_b2.pk]),
    "task A": lambda r: reverse("tasks:task_detail", args=[r.task_a.pk]),
    "task A2": lambda r: reverse("tasks:task_detail", args=[r.task_a2.pk]),
    "task B": lambda r: reverse("tasks:task_detail", args=[r.task_b.pk]),
    "task B2": lambda r: reverse("tasks:task_detail", args=[r.task_b2.pk]),
    "task A history": lambda r: reverse("tasks:task_history", args=[r.task_a.pk]),
    "task A edit": lambda r: reverse("tasks:task_edit", args=[r.task_a.pk]),
    "task A progress": lambda r: reverse("tasks:task_progress", args=[r.task_a.pk]),
    "task A2 progress": lambda r: reverse("tasks:task_progress", args=[r.task_a2.pk]),
    "change requests": lambda r: reverse("tasks:change_requests"),
    "change ledger": lambda r: reverse("tasks:change_ledger"),
    "duplicates": lambda r: reverse("tasks:duplicates"),
    "decision alerts": lambda r: reverse("supervision:decision_alerts"),
    "queue": lambda r: reverse("supervision:queue"),
    "findings": lambda r: reverse("supervision:findings"),
    "finding A": lambda r: reverse("supervision:finding", args=[r.finding_a.pk]),
    "township finding B": lambda r: reverse("supervision:finding", args=[r.township_finding_b.pk]),
    "inspections": lambda r: reverse("supervision:inspections"),
    "bulletins": lambda r: reverse("supervision:bulletins"),
    "bulletin": lambda r: reverse("supervision:bulletin", args=[r.bulletin.pk]),
    "bulletin new": lambda r: reverse("supervision:bulletin_create"),
}


# What each role gets from each page: (patch_leader, road_department, informant, oversight, discipline).
# A department's user reads their department's rows (task A, task B) and nothing else of the plan; the information
# officer reads 茅垭村 like its cadre; the 人大 and the 纪委 read the whole district; nobody here edits the plan.
PAGE_STATUS = {
    "dashboard": (200, 403, 200, 200, 200),
    "village list": (200, 200, 200, 200, 200),
    "village A": (200, 404, 200, 200, 200),
    "village A2": (200, 404, 404, 200, 200),
    "village B": (200, 404, 404, 200, 200),
    "village B2": (404, 404, 404, 200, 200),
    "household list": (200, 200, 200, 200, 200),
    "household A": (200, 404, 200, 200, 200),
    "household B": (200, 404, 404, 200, 200),
    "household B2": (404, 404, 404, 200, 200),
    "plan A": (200, 404, 200, 200, 200),
    "plan B": (200, 404, 404, 200, 200),
    "plan B2": (404, 404, 404, 200, 200),
    "task A": (200, 200, 200, 200, 200),
    "task A2": (200, 404, 404, 200, 200),
    "task B": (200, 200, 404, 200, 200),
    "task B2": (404, 404, 404, 200, 200),
    "task A history": (200, 200, 200, 200, 200),
    "task A edit": (404, 404, 404, 404, 404),
    "task A progress": (404, 200, 404, 404, 404),
    "task A2 progress": (404, 404, 404, 404, 404),
    "change requests": (200, 200, 200, 200, 200),
    "change ledger": (200, 200, 200, 200, 200),
    "duplicates": (200, 200, 200, 200, 200),
    "decision alerts": (200, 404, 404, 200, 200),
    "queue": (200, 404, 404, 200, 200),
    "findings": (200, 200, 200, 200, 200),
    "finding A": (200, 200, 200, 200, 200),
    "township finding B": (404, 404, 404, 200, 200),
    "inspections": (200, 200, 200, 200, 200),
    "bulletins": (200, 200, 200, 200, 200),
    "bulletin": (200, 200, 200, 200, 200),
    "bulletin new": (404, 404, 404, 404, 404),
}


def test_every_page_is_in_the_table():
    assert set(PAGE_STATUS) == set(PAGES)


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_each_role_opens_exactly_the_pages_of_its_scope(client, roles, role):
    user = getattr(roles, role)
    index = ROLE_NAMES.index(role)
    got = {name: page(client, user, url(roles)).status_code for name, url in PAGES.items()}
    assert got == {name: statuses[index] for name, statuses in PAGE_STATUS.items()}


# What the lists show and leave out: (role, page) → (words that must be there, words that must not).
LIST_CONTENT = {
    ("patch_leader", "village list"): ({"茅垭村", "百花村", "大寺村"}, {"石岭村", ENYANG}),
    ("patch_leader", "household list"): ({"茅垭村", "大寺村"}, {"石岭村"}),
    ("patch_leader", "queue"): ({ROAD_A, WATER_A2, ROAD_B}, {OUTSIDE}),
    ("patch_leader", "change ledger"): ({"茅垭村", "百花村", "大寺村"}, {"石岭村"}),
    ("road_department", "village list"): (set(), {"茅垭村", "百花村", "大寺村", "石岭村"}),
    ("road_department", "household list"): (set(), {"茅垭村", "大寺村", "石岭村"}),
    ("road_department", "findings"): ({ROAD_A}, set()),
    ("road_department", "change ledger"): (set(), {"茅垭村", "百花村", "大寺村", "石岭村"}),
    ("informant", "village list"): ({"茅垭村"}, {"百花村", "大寺村", "石岭村"}),
    ("informant", "household list"): ({"茅垭村"}, {"大寺村", "石岭村"}),
    ("informant", "change ledger"): ({"茅垭村"}, {"百花村", "大寺村", "石岭村"}),
    ("oversight", "queue"): ({ROAD_A, WATER_A2, ROAD_B, OUTSIDE}, {ENYANG}),
    ("oversight", "village list"): ({"茅垭村", "百花村", "大寺村", "石岭村"}, {ENYANG}),
    ("discipline", "queue"): ({ROAD_A, WATER_A2, ROAD_B, OUTSIDE}, {ENYANG}),
    ("discipline", "household list"): ({"茅垭村", "大寺村", "石岭村"}, {ENYANG}),
}


@pytest.mark.parametrize(("role", "name"), list(LIST_CONTENT))
def test_the_lists_show_exactly_the_roles_rows(client, roles, role, name):
    shown, hidden = LIST_CONTENT[(role, name)]
    content = text(page(client, getattr(roles, role), PAGES[name](roles)))
    assert {w for w in shown if w in content} == shown
    assert {w for w in hidden if w in content} == set()


def test_a_departments_user_is_told_in_chinese_that_there_is_no_dashboard_for_them(client, roles):
    response = page(client, roles.road_department, dashboard_url())
    assert response.status_code == 403
    assert "行业部门的用户没有驾驶舱" in response.content.decode()


def test_a_bulletin_is_listed_once_for_a_leader_charged_with_several_places(client, roles):
    """A district-wide record read through a charge of two places is still one record (not one per place)."""
    content = text(page(client, roles.patch_leader, PAGES["bulletins"](roles)))
    assert content.count(reverse("supervision:bulletin", args=[roles.bulletin.pk]) + '"') == 1
    api = APIClient()
    api.force_login(roles.patch_leader)
    listed = [row["id"] for row in api.get("/api/v1/bulletins/").json()["results"]]
    assert listed == [roles.bulletin.pk]


# ---------------------------------------------------------------------------------------------
# Writes: nobody of these roles changes the plan; a department's user reports the progress of their own rows only
# ---------------------------------------------------------------------------------------------


def progress_post(task, **fields):
    return {
        "version": task.version,
        "reported_on": "2017-09-15",
        "progress": 60,
        "status": Task.Status.IN_PROGRESS,
        "invested_funds": "10",
        "note": "路基完成",
        **fields,
    }


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_only_a_departments_user_reports_progress_and_only_on_their_departments_rows(client, roles, role):
    user = getattr(roles, role)
    client.force_login(user)
    before = {t.pk: (t.progress, t.version) for t in Task.objects.all()}
    for task in (roles.task_a, roles.task_a2, roles.task_b2):
        response = client.post(reverse("tasks:task_progress", args=[task.pk]), progress_post(task))
        allowed = role == "road_department" and task == roles.task_a
        assert response.status_code == (302 if allowed else 404), (task.item, response.status_code)
    after = {t.pk: (t.progress, t.version) for t in Task.objects.all()}
    changed = {pk for pk in after if after[pk] != before[pk]}
    assert changed == ({roles.task_a.pk} if role == "road_department" else set())


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_the_api_refuses_plan_changes_in_chinese_and_changes_nothing(roles, role):
    api = APIClient()
    api.force_login(getattr(roles, role))
    before = Task.objects.get(pk=roles.task_a.pk)
    response = api.patch(f"/api/v1/tasks/{roles.task_a.pk}/", {"item": "改名"}, format="json")
    assert response.status_code == 403
    assert "不能修改施工图" in response.json()["detail"]
    assert Task.objects.get(pk=roles.task_a.pk).item == before.item


def test_a_bad_progress_answers_in_chinese_for_a_departments_user(client, roles):
    client.force_login(roles.road_department)
    response = client.post(
        reverse("tasks:task_progress", args=[roles.task_a.pk]), progress_post(roles.task_a, progress=150)
    )
    assert response.status_code == 200
    assert PROGRESS_RANGE in response.content.decode()
    assert Task.objects.get(pk=roles.task_a.pk).progress == roles.task_a.progress


# ---------------------------------------------------------------------------------------------
# The API
# ---------------------------------------------------------------------------------------------


def api_ids(client, resource) -> set:
    response = client.get(f"/api/v1/{resource}/", {"page_size": 100})
    assert response.status_code == 200, response.content.decode()
    return {row.get("id", row.get("code")) for row in response.json()["results"]}


# (resource, the rows each role lists): names of attributes of ``roles`` (``area.x`` for the conftest's).
API_LISTS = {
    "villages": {
        "patch_leader": {"area.village_a", "area.village_a2", "area.village_b"},
        "road_department": set(),
        "informant": {"area.village_a"},
        "oversight": {"area.village_a", "area.village_a2", "area.village_b", "village_b2"},
    },
    "households": {
        "patch_leader": {"area.household_a", "area.household_b"},
        "road_department": set(),
        "informant": {"area.household_a"},
        "oversight": {"area.household_a", "area.household_b", "household_b2"},
    },
    "tasks": {
        "patch_leader": {"task_a", "household_task_a", "task_a2", "task_b"},
        "road_department": {"task_a", "task_b"},
        "informant": {"task_a", "household_task_a"},
        "oversight": {"task_a", "household_task_a", "task_a2", "task_b", "task_b2"},
    },
    "findings": {
        "patch_leader": {"finding_a", "township_finding_a"},
        "road_department": {"finding_a"},
        "informant": {"finding_a", "township_finding_a"},
        "oversight": {"finding_a", "township_finding_a", "township_finding_b"},
    },
    "bulletins": {role: {"bulletin"} for role in ROLE_NAMES},
}
API_LISTS = {
    resource: {**rows, "discipline": rows.get("discipline", rows["oversight"])} for resource, rows in API_LISTS.items()
}


def obj(roles, name):
    target = roles.area if name.startswith("area.") else roles
    return getattr(target, name.removeprefix("area."))


@pytest.mark.parametrize("role", ROLE_NAMES)
@pytest.mark.parametrize("resource", list(API_LISTS))
def test_the_api_lists_exactly_the_roles_rows_and_no_others_detail(roles, resource, role):
    api = APIClient()
    api.force_login(getattr(roles, role))
    expected = {obj(roles, name).pk for name in API_LISTS[resource][role]}
    assert api_ids(api, resource) == expected
    everyone = {obj(roles, name).pk for rows in API_LISTS[resource].values() for name in rows}
    for pk in everyone:
        assert api.get(f"/api/v1/{resource}/{pk}/").status_code == (200 if pk in expected else 404)


@pytest.mark.parametrize(
    ("role", "task", "status"),
    [
        ("patch_leader", "task_a2", 200),
        ("patch_leader", "task_b2", 404),
        ("road_department", "task_a", 200),
        ("road_department", "task_a2", 404),
        ("informant", "task_a", 200),
        ("informant", "task_b", 404),
        ("oversight", "task_b2", 200),
        ("discipline", "task_b2", 200),
    ],
)
def test_the_history_api_answers_for_the_roles_rows_only(roles, role, task, status):
    api = APIClient()
    api.force_login(getattr(roles, role))
    assert api.get(f"/api/v1/tasks/{getattr(roles, task).pk}/history/").status_code == status


@pytest.mark.parametrize(
    ("role", "household", "status"),
    [
        ("patch_leader", "area.household_b", 200),
        ("patch_leader", "household_b2", 404),
        ("road_department", "area.household_a", 404),
        ("informant", "area.household_a", 200),
        ("informant", "area.household_b", 404),
        ("oversight", "household_b2", 200),
        ("discipline", "household_b2", 200),
    ],
)
def test_the_household_history_api_answers_for_the_roles_households_only(roles, role, household, status):
    api = APIClient()
    api.force_login(getattr(roles, role))
    assert api.get(f"/api/v1/households/{obj(roles, household).pk}/history/").status_code == status


# ---------------------------------------------------------------------------------------------
# Exports: each role's file holds its rows and no others; an area outside the scope is a 404
# ---------------------------------------------------------------------------------------------

# The plan rows of each role's one table (施工图).
TABLE_ROWS = {
    "patch_leader": {ROAD_A, "茅垭村危房改造", WATER_A2, ROAD_B},
    "road_department": {ROAD_A, ROAD_B},
    "informant": {ROAD_A, "茅垭村危房改造"},
    "oversight": {ROAD_A, "茅垭村危房改造", WATER_A2, ROAD_B, OUTSIDE},
    "discipline": {ROAD_A, "茅垭村危房改造", WATER_A2, ROAD_B, OUTSIDE},
}
ALL_ITEMS = set().union(*TABLE_ROWS.values())
TABLE_TITLES = {
    "patch_leader": "巴州区挂包片区（白庙乡、大寺村）2017年",
    "road_department": "巴州区交通运输局2017年",
    "informant": "巴州区白庙乡茅垭村2017年",
    "oversight": "巴州区2017年",
    "discipline": "巴州区2017年",
}


def sheet_text(response, sheet) -> str:
    assert response.status_code == 200
    return " ".join(str(cell) for row in calamine_rows(body(response), sheet) for cell in row)


@pytest.mark.parametrize("role", ROLE_NAMES)
@pytest.mark.parametrize("via", ["page", "api json", "api xlsx"])
def test_the_one_table_holds_exactly_the_roles_rows(client, roles, role, via):
    user = getattr(roles, role)
    if via == "page":
        content = sheet_text(page(client, user, reverse("tasks:plan_table_xlsx"), {"year": 2017}), "施工图")
    else:
        api = APIClient()
        api.force_login(user)
        params = {"year": 2017, **({"format": "xlsx"} if via == "api xlsx" else {})}
        response = api.get("/api/v1/plan-table/", params)
        if via == "api xlsx":
            content = sheet_text(response, "施工图")
        else:
            data = json.loads(body(response))
            content = " ".join(str(row["item"]) for row in data["rows"]) + " " + data["title"]
    assert {item for item in ALL_ITEMS if item in content} == TABLE_ROWS[role]
    assert TABLE_TITLES[role] in content


@pytest.mark.parametrize(
    ("role", "asked", "status"),
    [
        ("patch_leader", {"township": "A"}, 200),
        ("patch_leader", {"village": "village_b"}, 200),
        ("patch_leader", {"township": "B"}, 404),
        ("patch_leader", {"village": "village_b2"}, 404),
        ("road_department", {"township": "A"}, 404),
        ("road_department", {"village": "village_a"}, 404),
        ("informant", {"village": "village_a"}, 200),
        ("informant", {"township": "A"}, 404),
        ("oversight", {"township": "B"}, 200),
        ("discipline", {"village": "village_b2"}, 200),
    ],
)
@pytest.mark.parametrize("export", ["plan table", "register", "change ledger"])
def test_an_export_of_an_area_outside_the_scope_is_a_404(client, roles, role, asked, status, export):
    url = {
        "plan table": reverse("tasks:plan_table_xlsx"),
        "register": reverse("households:register_xlsx"),
        "change ledger": reverse("tasks:change_ledger_xlsx"),
    }[export]
    places = {
        "A": roles.area.township_a.pk,
        "B": roles.area.township_b.pk,
        "village_a": roles.area.village_a.pk,
        "village_b": roles.area.village_b.pk,
        "village_b2": roles.village_b2.pk,
    }
    params = {key: places[value] for key, value in asked.items()}
    assert page(client, getattr(roles, role), url, {"year": 2017, **params}).status_code == status


# The households of each role's register (花名册): by their villages.
REGISTER_VILLAGES = {
    "patch_leader": {"茅垭村", "大寺村"},
    "road_department": set(),
    "informant": {"茅垭村"},
    "oversight": {"茅垭村", "大寺村", "石岭村"},
    "discipline": {"茅垭村", "大寺村", "石岭村"},
}


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_the_register_holds_exactly_the_roles_households_with_id_numbers_masked(client, roles, role):
    content = sheet_text(page(client, getattr(roles, role), reverse("households:register_xlsx")), "贫困户花名册")
    assert {v for v in ("茅垭村", "百花村", "大寺村", "石岭村") if v in content} == REGISTER_VILLAGES[role]
    member = roles.area.household_a.members.first()
    assert member.id_number not in content  # none of these roles sees ID numbers in full


QUEUE_ROWS = {
    "patch_leader": {ROAD_A, WATER_A2, ROAD_B},
    "oversight": {ROAD_A, WATER_A2, ROAD_B, OUTSIDE},
    "discipline": {ROAD_A, WATER_A2, ROAD_B, OUTSIDE},
}


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_the_overdue_list_holds_the_roles_rows_and_is_not_for_departments_or_informants(client, roles, role):
    response = page(client, getattr(roles, role), reverse("supervision:queue_xlsx"))
    if role not in QUEUE_ROWS:
        assert response.status_code == 404
        return
    content = sheet_text(response, "逾期任务清单")
    assert {item for item in (ROAD_A, WATER_A2, ROAD_B, OUTSIDE) if item in content} == QUEUE_ROWS[role]


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_a_published_bulletin_is_handed_out_to_every_role_of_its_district(client, roles, role):
    user = getattr(roles, role)
    assert page(client, user, reverse("supervision:bulletin_xlsx", args=[roles.bulletin.pk])).status_code == 200
    api = APIClient()
    api.force_login(user)
    assert api.get(f"/api/v1/bulletins/{roles.bulletin.pk}/xlsx/").status_code == 200


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_a_bulletin_draft_is_for_its_writers_only(client, roles, role):
    from supervision import bulletin_services

    draft = bulletin_services.bulletin_generate(
        user=roles.personas.supervisor,
        today=TODAY,
        period_start=datetime.date(2017, 9, 1),
        period_end=datetime.date(2017, 9, 15),
    )
    user = getattr(roles, role)
    assert page(client, user, reverse("supervision:bulletin", args=[draft.pk])).status_code == 404
    assert page(client, user, reverse("supervision:bulletin_xlsx", args=[draft.pk])).status_code == 404
    assert page(client, roles.personas.supervisor, reverse("supervision:bulletin", args=[draft.pk])).status_code == 200


# ---------------------------------------------------------------------------------------------
# Imports: refused for all five, before anything is written
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLE_NAMES)
@pytest.mark.parametrize("name", list(IMPORTS))
def test_imports_are_refused_for_every_new_role_and_write_nothing(client, roles, role, name):
    url, sheet, word, column, preview, apply = IMPORTS[name]
    user = getattr(roles, role)
    content = body(page(client, roles.personas.district_admin, url, {"year": 2017}))
    changed = edit(content, sheet, {f"{column}{row_with(content, sheet, word(roles, roles.area))}": "越权修改"})
    before = everything()
    try:
        result = preview(user, changed)
    except PermissionDenied as refused:
        assert "导入" in str(refused)
    else:
        assert not result.changes
        assert result.problems and all(any("\u4e00" <= ch <= "\u9fff" for ch in p.message) for p in result.problems)
        with pytest.raises((ImportRefused, PermissionDenied)):
            apply(user, changed, result.fingerprint)
    assert everything() == before
    import_page = reverse("tasks:plan_import" if name == "plan rows" else "households:register_import")
    assert page(client, user, import_page).status_code in (403, 404)


# ---------------------------------------------------------------------------------------------
# The 挂包 leader's dashboard: exactly the charge, its drill-down and its own stored figures
# ---------------------------------------------------------------------------------------------


def charge_scope(roles, townships=None, villages=None) -> Scope:
    townships = [roles.area.township_a] if townships is None else townships
    villages = [roles.area.village_b] if villages is None else villages
    return Scope(district=roles.area.district, charge=Charge(tuple(townships), tuple(villages)))


def test_the_leaders_dashboard_is_their_charge_ranked_by_township_and_village(client, roles):
    response = page(client, roles.patch_leader, dashboard_url())
    assert response.status_code == 200
    expected = compute(charge_scope(roles), TODAY)
    shown = {key: response.context[key] for key in expected if key != "scope"}
    assert shown == {key: value for key, value in expected.items() if key != "scope"}
    # 茅垭村's two rows, 百花村's and 大寺村's: not 石岭村's, next door in 寺岭乡.
    assert shown["rows"]["total"] == 4
    assert [r["area"].name for r in shown["township_ranking"]] == ["白庙乡"]
    assert [r["area"].name for r in shown["village_table"]] == ["大寺村"]
    assert shown["funds"]["planned"] == compute(Scope(district=roles.area.district), TODAY)["funds"]["planned"] - (
        roles.task_b2.planned_funds
    )
    content = response.content.decode()
    assert "巴州区挂包片区（白庙乡、大寺村）" in content
    assert f'href="?township={roles.area.township_a.pk}"' in content
    assert f'href="?village={roles.area.village_b.pk}"' in content
    assert "石岭村" not in content and "寺岭乡</a>" not in content


def test_a_row_just_outside_the_charge_does_not_move_the_leaders_figures(client, roles):
    client.force_login(roles.patch_leader)
    first = client.get(dashboard_url()).context["rows"]
    factories.task(roles.plan_b2, item="石岭村新任务", deadline=datetime.date(2017, 9, 1))
    factories.finding(roles.area.township_b)
    assert client.get(dashboard_url()).context["rows"] == first
    factories.task(roles.plan_b, item="大寺村新任务", deadline=datetime.date(2017, 9, 1))
    rows = client.get(dashboard_url()).context["rows"]
    assert (rows["total"], rows["overdue"]) == (first["total"] + 1, first["overdue"] + 1)


def test_two_leaders_with_different_charges_get_their_own_stored_figures(client, roles):
    other = factories.patch_leader_user([roles.area.township_b], [], username="pianqu2")
    client.force_login(roles.patch_leader)
    mine = client.get(dashboard_url()).context["rows"]["total"]
    client.force_login(other)
    theirs = client.get(dashboard_url())
    assert theirs.context["rows"]["total"] == 2  # 大寺村's and 石岭村's
    assert [r["area"].name for r in theirs.context["township_ranking"]] == ["寺岭乡"]
    assert theirs.context["village_table"] == []
    client.force_login(roles.patch_leader)
    assert client.get(dashboard_url()).context["rows"]["total"] == mine == 4
    # 2 charges × (6 parts and the rendered page body)
    assert CachedFigures.objects.filter(key__startswith="dashboard:charge:").count() == 14


@pytest.mark.parametrize(
    ("asked", "status", "up"),
    [
        ({"township": "A"}, 200, "?"),
        ({"village": "village_a"}, 200, "?township=A"),
        ({"village": "village_b"}, 200, "?"),  # a village charged alone goes back up to the charge
        ({"township": "B"}, 404, None),
        ({"village": "village_b2"}, 404, None),
        ({"village": "abc"}, 404, None),
    ],
)
def test_the_leader_drills_down_only_into_the_charge(client, roles, asked, status, up):
    places = {
        "A": roles.area.township_a.pk,
        "B": roles.area.township_b.pk,
        "village_a": roles.area.village_a.pk,
        "village_b": roles.area.village_b.pk,
        "village_b2": roles.village_b2.pk,
        "abc": "abc",
    }
    params = {key: places[value] for key, value in asked.items()}
    response = page(client, roles.patch_leader, dashboard_url(), params)
    assert response.status_code == status
    if status == 200:
        assert response.context["up_url"] == up.replace("A", roles.area.township_a.pk)
        api = APIClient()
        api.force_login(roles.patch_leader)
        assert api.get("/api/v1/dashboard/", params).json()["rows"] == json.loads(
            json.dumps(response.context["rows"], default=str)
        )


def test_the_dashboard_api_gives_the_leader_their_charge(roles):
    api = APIClient()
    api.force_login(roles.patch_leader)
    data = api.get("/api/v1/dashboard/").json()
    assert data["scope"]["charge"] == {
        "name": "挂包片区（白庙乡、大寺村）",
        "townships": [{"code": roles.area.township_a.pk, "name": "白庙乡"}],
        "villages": [{"id": roles.area.village_b.pk, "name": "大寺村", "township": "寺岭乡"}],
    }
    assert data["rows"]["total"] == 4
    assert [r["area"]["name"] for r in data["township_ranking"]] == ["白庙乡"]
    assert [r["area"]["name"] for r in data["village_table"]] == ["大寺村"]
    assert api.get("/api/v1/dashboard/", {"township": roles.area.township_b.pk}).status_code == 404
    # Another role's scope carries no charge.
    api.force_login(roles.oversight)
    assert api.get("/api/v1/dashboard/").json()["scope"]["charge"] is None


def test_a_leader_without_a_charge_sees_an_empty_dashboard_that_says_so(client, roles):
    nobody = factories.patch_leader_user([], [], username="pianqu3")
    response = page(client, nobody, dashboard_url())
    assert response.status_code == 200
    assert response.context["rows"]["total"] == 0
    assert "挂包片区（未分配）" in response.content.decode()


def test_the_leaders_dashboard_takes_the_same_number_of_queries_at_1x_and_10x(
    client, roles, django_assert_max_num_queries
):
    """The charge's figures are read by village in one query; more villages in the charge cost no more queries."""
    client.force_login(roles.patch_leader)
    client.get(dashboard_url())
    # The dashboard's stored figures, not the summary figures the writes keep (bazhou/core/summaries.py).
    CachedFigures.objects.filter(key__startswith="dashboard:").delete()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small:
        client.get(dashboard_url())
    small = len(small.captured_queries)  # now: the next request empties the connection's log
    factories.populate(roles.area.township_a, villages=9)
    factories.settle()
    client.get(dashboard_url())  # the navigation's numbers counted again for the new rows, and stored, as for small
    CachedFigures.objects.filter(key__startswith="dashboard:").delete()
    with django_assert_max_num_queries(small):
        response = client.get(dashboard_url())
    assert response.context["rows"]["total"] > 4


# ---------------------------------------------------------------------------------------------
# The user admin: role, area, department and charge go together, or the form says why in Chinese
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def root_client(client, db):
    client.force_login(User.objects.create_superuser(username="root", password="pw-for-tests-2017"))
    return client


def add_user(root_client, **fields):
    data = {
        "username": "newuser",
        "usable_password": "true",
        "password1": "Bazhou-2017-pw!",
        "password2": "Bazhou-2017-pw!",
        "name": "新用户",
        "phone": "13908270099",
        **fields,
    }
    return root_client.post(reverse("admin:bazhou_user_add"), data)


def test_the_admin_adds_a_patch_leader_with_their_charge(root_client, area):
    response = add_user(
        root_client,
        role=Role.PATCH_LEADER,
        district=area.district.pk,
        charge_townships=[area.township_a.pk],
        charge_villages=[area.village_b.pk],
    )
    assert response.status_code == 302, response.content.decode()
    user = User.objects.get(username="newuser")
    assert (user.role, user.district, user.phone) == (Role.PATCH_LEADER, area.district, "13908270099")
    assert list(user.charge_townships.all()) == [area.township_a]
    assert list(user.charge_villages.all()) == [area.village_b]


def test_the_admin_adds_a_departments_user_and_an_information_officer(root_client, area):
    road = factories.department(area.district, "区交通运输局")
    assert add_user(root_client, role=Role.DEPARTMENT, district=area.district.pk, department=road.pk).status_code == 302
    assert User.objects.get(username="newuser").department == road
    response = add_user(root_client, username="xinxi", role=Role.INFORMANT, village=area.village_a.pk)
    assert response.status_code == 302
    assert User.objects.get(username="xinxi").village == area.village_a


WRONG_USERS = {
    "a department's user without a department": (
        {"role": Role.DEPARTMENT, "district": "district"},
        "行业部门的用户须选择所属部门。",
    ),
    "an information officer at district level": (
        {"role": Role.INFORMANT, "district": "district"},
        "村督查信息员须且只须选择所属村。",
    ),
    "a 人大 user in a village": (
        {"role": Role.OVERSIGHT, "village": "village_a"},
        "人大/政协督导须且只须选择所属区县。",
    ),
    "a 纪委 user in a township": ({"role": Role.DISCIPLINE, "township": "township_a"}, "区纪委须且只须选择所属区县。"),
    "a patch leader in a township": (
        {"role": Role.PATCH_LEADER, "township": "township_a", "charge_townships": ["township_a"]},
        "区级挂包领导须且只须选择所属区县。",
    ),
    "township staff with a department": (
        {"role": Role.TOWNSHIP_STAFF, "township": "township_a", "department": "road"},
        "只有行业部门的用户选择所属部门。",
    ),
    "a department of another district": (
        {"role": Role.DEPARTMENT, "district": "district", "department": "enyang_road"},
        "所属部门须是本区县的部门。",
    ),
    "a village cadre with a charge": (
        {"role": Role.VILLAGE_CADRE, "village": "village_a", "charge_townships": ["township_a"]},
        "只有区级挂包领导选择挂包乡镇和挂包村",
    ),
    "a patch leader without a charge": (
        {"role": Role.PATCH_LEADER, "district": "district"},
        "区级挂包领导须至少选择一个挂包乡镇或挂包村。",
    ),
    "a patch leader charged with another district's township": (
        {"role": Role.PATCH_LEADER, "district": "district", "charge_townships": ["township_a", "yushan"]},
        "挂包乡镇须是巴州区的乡镇：玉山镇不是。",
    ),
    "a patch leader charged with another district's village": (
        {"role": Role.PATCH_LEADER, "district": "district", "charge_villages": ["enyang_village"]},
        "挂包村须是巴州区的村：恩阳村不是。",
    ),
}


@pytest.mark.parametrize("case", list(WRONG_USERS))
def test_the_admin_refuses_a_role_with_the_wrong_area_department_or_charge_in_chinese(root_client, area, case):
    enyang = factories.district("511903", "恩阳区")
    yushan = factories.township(enyang, number=110, name="玉山镇")
    places = {
        "district": area.district.pk,
        "township_a": area.township_a.pk,
        "village_a": area.village_a.pk,
        "road": factories.department(area.district, "区交通运输局").pk,
        "enyang_road": factories.department(enyang, "区交通运输局").pk,
        "yushan": yushan.pk,
        "enyang_village": factories.village(yushan, number=1, name="恩阳村").pk,
    }
    fields, message = WRONG_USERS[case]
    data = {k: [places[x] for x in v] if isinstance(v, list) else places.get(v, v) for k, v in fields.items()}
    response = add_user(root_client, **data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not User.objects.filter(username="newuser").exists()


def test_changing_a_leaders_charge_in_the_admin_needs_a_reason_and_is_kept(root_client, area):
    from tests.test_admin import shown_values

    leader = factories.patch_leader_user([area.township_a], [], username="pianqu")
    url = reverse("admin:bazhou_user_change", args=[leader.pk])
    values = shown_values(root_client.get(url))
    values["charge_townships"] = [area.township_a.pk, area.township_b.pk]
    refused = root_client.post(url, {**values, "change_reason": ""})
    assert refused.status_code == 200 and "修改原因" in refused.content.decode()
    assert list(leader.charge_townships.all()) == [area.township_a]
    response = root_client.post(url, {**values, "change_reason": "调整分片挂包"})
    assert response.status_code == 302, response.content.decode()
    assert set(leader.charge_townships.all()) == {area.township_a, area.township_b}


@pytest.mark.parametrize(
    ("fields", "constraint"),
    [
        ({"role": Role.INFORMANT, "district": "district"}, "user_area_matches_role"),
        ({"role": Role.PATCH_LEADER, "township": "township"}, "user_area_matches_role"),
        ({"role": Role.DEPARTMENT, "district": "district"}, "user_department_matches_role"),
        ({"role": Role.OVERSIGHT, "district": "district", "department": "road"}, "user_department_matches_role"),
    ],
)
def test_the_database_refuses_a_role_with_the_wrong_area_or_department(area, fields, constraint):
    places = {
        "district": area.district,
        "township": area.township_a,
        "road": factories.department(area.district, "区交通运输局"),
    }
    with factories.refused_by_database(User, constraint):
        User.objects.create(username="wrong", **{k: places.get(v, v) for k, v in fields.items()})
