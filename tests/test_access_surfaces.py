"""A user of another area gets nothing, surface by surface: pages, the API, every export and import, the dashboard
and bulletins. "Another area" is 寺岭乡 (township B) for the rows of 白庙乡 (township A), and 恩阳区 (another district)
for everything of 巴州区, the district-wide records (inspections, bulletins) included.

The rules themselves are tested once, as a table, in tests/test_access_rules.py; many surfaces are also tested where
they live (tests/test_task_pages.py, tests/api/test_scoping.py, tests/excel/…, tests/test_bulletins.py): here is
what those leave out, one test per surface.
"""

from __future__ import annotations

import datetime
import json
from decimal import Decimal

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from bazhou.core.models import ExportLog, Role
from bazhou.core.xlsx.importing import ImportRefused
from bazhou.surfaces.dashboard import Scope, compute
from households import exports as household_exports
from households import imports as household_imports
from households.models import DecisionAlert, Household, Member
from supervision import bulletin_services
from supervision.models import Bulletin, Inspection
from tasks import exports as task_exports
from tasks import imports as task_imports
from tasks.models import Plan, Task
from tests import factories
from tests.api.helpers import results
from tests.excel.helpers import body, calamine_rows, edit
from tests.jobs import get_file

pytestmark = pytest.mark.usefixtures("pinned_today")
TODAY = datetime.date(2017, 9, 15)

# Words that name township A's rows: none of them may reach a user of another area.
A_WORDS = ("茅垭村", "百花村", "茅垭村通村硬化路", "茅垭村路面开裂")
# …and 巴州区's district-wide records, for a user of another district.
DISTRICT_WORDS = (*A_WORDS, "大寺村", "大寺村产业路", "9月暗访巴州区")


@pytest.fixture
def world(area, personas):
    """Township A: plans, an overdue row, a household row, a finding with its rectification, a finding against the
    township. Township B: a plan with an overdue row. 巴州区: an inspection and a published bulletin. And 恩阳区, with
    its own district admin and supervisor and a village of its own."""

    class World:
        enyang = factories.district("511903", "恩阳区")
        village_x = factories.poor_village(
            factories.township(enyang, number=110, name="玉山镇"), number=1, name="恩阳村"
        )
        other_admin = factories.user(Role.DISTRICT_ADMIN, enyang, username="enyang-admin")
        other_supervisor = factories.user(Role.SUPERVISOR, enyang, username="enyang-ducha")
        plan_a = factories.plan(area.village_a)
        task_a = factories.task(plan_a, item="茅垭村通村硬化路", planned_funds=Decimal("100"))
        household_task_a = factories.task(plan_a, area.household_a, item="茅垭村危房改造", category="housing")
        plan_a2 = factories.plan(area.village_a2)
        task_a2 = factories.task(plan_a2, item="百花村饮水工程", category="water")
        plan_b = factories.plan(area.village_b)
        task_b = factories.task(plan_b, item="大寺村产业路")
        finding_a = factories.finding(task_a, description="茅垭村路面开裂")
        rectification_a = factories.rectification(finding_a)
        township_finding_a = factories.finding(area.township_a, description="白庙乡档案不全")
        inspection = Inspection.objects.create(
            district=area.district,
            title="9月暗访巴州区",
            kind="unannounced",
            organiser="poverty_office",
            start_date=datetime.date(2017, 9, 10),
            end_date=datetime.date(2017, 9, 12),
        )
        factories.plan(village_x)

    bulletin = bulletin_services.bulletin_generate(
        user=personas.supervisor,
        today=TODAY,
        period_start=datetime.date(2017, 9, 1),
        period_end=datetime.date(2017, 9, 30),
    )
    bulletin_services.bulletin_publish_draft(
        bulletin_id=bulletin.pk, user=personas.supervisor, expected=bulletin_services.fingerprint(bulletin)
    )
    World.bulletin = Bulletin.objects.get(pk=bulletin.pk)
    return World


@pytest.fixture
def api():
    """``api(user)``: an API client signed in as ``user``."""

    def client(user):
        c = APIClient()
        c.force_login(user)
        return c

    return client


def page(client, user, url, params=None):
    client.force_login(user)
    return get_file(client, url, params or {})  # an export of more than one village is a job: its file


def text(response) -> str:
    return body(response).decode() if response["Content-Type"].startswith("text/") else ""


def mentions(response, words) -> list[str]:
    content = text(response)
    return [w for w in words if w in content]


# ---------------------------------------------------------------------------------------------
# Pages
# ---------------------------------------------------------------------------------------------

A_PAGES = {
    "village": lambda w, a: reverse("villages:detail", args=[a.village_a.pk]),
    "household": lambda w, a: reverse("households:detail", args=[a.household_a.pk]),
    "plan": lambda w, a: reverse("tasks:plan", args=[w.plan_a.pk]),
    "task": lambda w, a: reverse("tasks:task_detail", args=[w.task_a.pk]),
    "task history": lambda w, a: reverse("tasks:task_history", args=[w.task_a.pk]),
    "finding": lambda w, a: reverse("supervision:finding", args=[w.finding_a.pk]),
    "township finding": lambda w, a: reverse("supervision:finding", args=[w.township_finding_a.pk]),
}
DISTRICT_PAGES = {
    **A_PAGES,
    "inspection": lambda w, a: reverse("supervision:inspection", args=[w.inspection.pk]),
    "bulletin": lambda w, a: reverse("supervision:bulletin", args=[w.bulletin.pk]),
    "bulletin print": lambda w, a: reverse("supervision:bulletin_print", args=[w.bulletin.pk]),
}
LIST_PAGES = {
    "home (to-do)": reverse("home"),
    "dashboard": reverse("dashboard"),
    "villages": reverse("villages:list"),
    "households": reverse("households:list"),
    "findings": reverse("supervision:findings"),
    "inspections": reverse("supervision:inspections"),
    "bulletins": reverse("supervision:bulletins"),
    "queue": reverse("supervision:queue"),
    "duplicate projects": reverse("tasks:duplicates"),
    "decision alerts": reverse("supervision:decision_alerts"),
}


# Inspections and bulletins are district-wide records: township B's staff read them.
@pytest.mark.parametrize(
    ("outsider", "name"),
    [*(("township B's staff", name) for name in A_PAGES), *(("another district's admin", n) for n in DISTRICT_PAGES)],
)
def test_pages_of_another_area_do_not_exist(client, area, personas, world, outsider, name):
    user = personas.township_b if outsider == "township B's staff" else world.other_admin
    url = DISTRICT_PAGES[name](world, area)
    assert page(client, personas.district_admin, url).status_code == 200
    assert page(client, user, url).status_code == 404


@pytest.mark.parametrize("name", list(LIST_PAGES))
def test_lists_and_the_dashboard_show_nothing_of_another_area(client, area, personas, world, name):
    # township B's staff see nothing of township A…
    response = page(client, personas.township_b, LIST_PAGES[name])
    assert response.status_code in (200, 404)
    assert mentions(response, A_WORDS) == []
    # …another district's supervisor nothing of 巴州区 (the queue is theirs to open)…
    response = page(client, world.other_supervisor, LIST_PAGES[name])
    assert response.status_code == 200
    assert mentions(response, DISTRICT_WORDS) == []
    # …while 巴州区's district admin does see them (so the words would show if they leaked).
    if name in ("villages", "findings", "queue"):
        assert mentions(page(client, personas.district_admin, LIST_PAGES[name]), ("茅垭村",)) == ["茅垭村"]


# ---------------------------------------------------------------------------------------------
# The API: lists and details
# ---------------------------------------------------------------------------------------------

API_ROWS = {
    "townships": lambda w, a: a.township_a.pk,
    "villages": lambda w, a: a.village_a.pk,
    "households": lambda w, a: a.household_a.pk,
    "members": lambda w, a: a.household_a.members.first().pk,
    "plans": lambda w, a: w.plan_a.pk,
    "tasks": lambda w, a: w.task_a.pk,
    "findings": lambda w, a: w.finding_a.pk,
    "rectifications": lambda w, a: w.rectification_a.pk,
    "inspections": lambda w, a: w.inspection.pk,
    "bulletins": lambda w, a: w.bulletin.pk,
    "decision-alerts": lambda w, a: alert_in_township_a(a),
}


def alert_in_township_a(area) -> int:
    """A flipped decision of household A (茅垭村, township A), as households.decisions writes it."""
    return DecisionAlert.objects.create(
        scope="household",
        village=area.village_a,
        household=area.household_a,
        year=2017,
        criterion="water",
        criterion_name="有安全饮用水",
        met_before=True,
        met_after=False,
        before="饮水安全",
        after="饮水不安全",
        source="household",
    ).pk


@pytest.mark.parametrize("resource", list(API_ROWS))
def test_the_api_gives_another_districts_user_nothing(api, area, personas, world, resource):
    key = API_ROWS[resource](world, area)
    assert api(personas.district_admin).get(f"/api/v1/{resource}/{key}/").status_code == 200
    client = api(world.other_admin)
    assert client.get(f"/api/v1/{resource}/{key}/").status_code == 404
    listed = {row.get("id", row.get("code")) for row in results(client.get(f"/api/v1/{resource}/"))}
    assert key not in listed
    # (Township B's staff, for the rows of township A: tests/api/test_scoping.py.)


# ---------------------------------------------------------------------------------------------
# Every export: asked for another area, a 404 that writes nothing in the export log; asked for nothing, the
# user's own area, without a row of anyone else's
# ---------------------------------------------------------------------------------------------

EXPORTS = {
    "plan table": (reverse("tasks:plan_table_xlsx"), {"year": 2017}),
    "plan table (API, JSON)": ("/api/v1/plan-table/", {"year": 2017}),
    "plan table (API, xlsx)": ("/api/v1/plan-table/", {"year": 2017, "format": "xlsx"}),
    "plan import template": (reverse("tasks:plan_template"), {"year": 2017}),
    "register": (reverse("households:register_xlsx"), {}),
    "register import template": (reverse("households:register_template"), {}),
}


@pytest.mark.parametrize("asked", ["township", "village"])
@pytest.mark.parametrize("name", list(EXPORTS))
def test_an_export_of_another_area_is_a_404_and_logs_nothing(client, area, personas, world, name, asked):
    url, params = EXPORTS[name]
    wanted = {"township": area.township_a.code} if asked == "township" else {"village": area.village_a.pk}
    assert page(client, personas.township_b, url, {**params, **wanted}).status_code == 404
    assert page(client, world.other_admin, url, {**params, **wanted}).status_code == 404
    assert not ExportLog.objects.exists()


@pytest.mark.parametrize("name", ["plan table", "plan table (API, JSON)", "plan table (API, xlsx)", "register"])
def test_an_export_of_the_users_own_area_holds_no_row_of_another(client, area, personas, world, name):
    url, params = EXPORTS[name]
    response = page(client, personas.township_b, url, params)
    assert response.status_code == 200
    content = body(response)
    if name == "plan table (API, JSON)":
        rows = json.loads(content)["rows"]
        text_of = content.decode()
    else:
        sheet = "施工图" if name.startswith("plan table") else "贫困户花名册"
        rows = calamine_rows(content, sheet)
        text_of = " ".join(str(cell) for row in rows for cell in row)
    assert rows
    assert [w for w in (*A_WORDS, area.household_a.number) if w in text_of] == []
    assert "大寺村" in text_of  # their own rows are there


def test_the_overdue_list_of_another_districts_supervisor_holds_none_of_ours(client, area, personas, world):
    response = page(client, world.other_supervisor, reverse("supervision:queue_xlsx"))
    assert response.status_code == 200
    cells = " ".join(str(cell) for row in calamine_rows(body(response), "逾期任务清单") for cell in row)
    assert [w for w in DISTRICT_WORDS if w in cells] == []
    assert ExportLog.objects.get().rows == 0
    ours = page(client, personas.supervisor, reverse("supervision:queue_xlsx"))
    assert "茅垭村通村硬化路" in " ".join(str(c) for row in calamine_rows(body(ours), "逾期任务清单") for c in row)


def test_a_bulletin_of_another_district_is_not_handed_out_by_the_page_or_the_api(client, api, personas, world):
    page_url = reverse("supervision:bulletin_xlsx", args=[world.bulletin.pk])
    api_url = f"/api/v1/bulletins/{world.bulletin.pk}/xlsx/"
    assert page(client, world.other_supervisor, page_url).status_code == 404
    assert api(world.other_supervisor).get(api_url).status_code == 404
    assert api(world.other_admin).get(api_url).status_code == 404
    assert not ExportLog.objects.exists()
    assert api(personas.township_b).get(api_url).status_code == 200  # a district record: all of 巴州区 reads it


# ---------------------------------------------------------------------------------------------
# Every import: rows of another area are refused as if they did not exist, and nothing is written
# ---------------------------------------------------------------------------------------------


def everything():
    return (
        list(Task.objects.order_by("pk").values()),
        list(Plan.objects.order_by("pk").values()),
        list(Household.objects.order_by("pk").values()),
        list(Member.objects.order_by("pk").values()),
    )


def row_with(content: bytes, sheet: str, word: str) -> int:
    for number, row in enumerate(calamine_rows(content, sheet), start=1):
        if any(str(cell) == word for cell in row):
            return number
    raise AssertionError(f"{word} is not in the file")


def column_of(keys, key) -> str:
    index = keys.index(key)
    return chr(ord("A") + index) if index < 26 else "A" + chr(ord("A") + index - 26)


IMPORTS = {
    "plan rows": (
        reverse("tasks:plan_table_xlsx"),
        "施工图",
        lambda w, a: "茅垭村通村硬化路",
        column_of(task_exports.KEYS, "item"),  # 项目
        lambda user, content: task_imports.preview_plan_import(
            user=user, content=content, file_name="施工图.xlsx", year=2017
        ),
        lambda user, content, fp: task_imports.apply_plan_import(
            user=user, content=content, file_name="施工图.xlsx", year=2017, fingerprint=fp
        ),
    ),
    "register": (
        reverse("households:register_xlsx"),
        "贫困户花名册",
        lambda w, a: a.household_a.number,
        column_of(household_exports.KEYS, "name"),  # a member's 姓名
        lambda user, content: household_imports.preview_register_import(
            user=user, content=content, file_name="花名册.xlsx"
        ),
        lambda user, content, fp: household_imports.apply_register_import(
            user=user, content=content, file_name="花名册.xlsx", fingerprint=fp
        ),
    ),
}


@pytest.mark.parametrize("outsider", ["township B's staff", "another district's admin"])
@pytest.mark.parametrize("name", list(IMPORTS))
def test_an_import_refuses_the_rows_of_another_area_and_writes_nothing(client, area, personas, world, name, outsider):
    url, sheet, word, column, preview, apply = IMPORTS[name]
    user = personas.township_b if outsider == "township B's staff" else world.other_admin
    content = body(page(client, personas.district_admin, url, {"year": 2017}))
    changed = edit(content, sheet, {f"{column}{row_with(content, sheet, word(world, area))}": "越权修改"})
    before = everything()
    result = preview(user, changed)
    assert not result.changes
    assert {p.message for p in result.problems if "不在您可以修改的范围内" in p.message}, result.problems
    with pytest.raises(ImportRefused):
        apply(user, changed, result.fingerprint)
    assert everything() == before


# ---------------------------------------------------------------------------------------------
# The dashboard: a township's figures are those of the township, and another township's rows never move them
# ---------------------------------------------------------------------------------------------


def own_figures(area, township) -> dict:
    return compute(Scope(district=area.district, township=township), TODAY)


@pytest.mark.parametrize("asked", [None, "township_b", "village_b"])
def test_a_township_users_dashboard_is_their_townships_and_nothing_else(client, area, personas, world, asked):
    params = {"township": area.township_b.pk} if asked == "township_b" else {}
    if asked == "village_b":
        params = {"village": area.village_b.pk}
    client.force_login(personas.township_a)
    response = client.get(reverse("dashboard"), params)
    if asked:
        assert response.status_code == 404
        return
    expected = own_figures(area, area.township_a)
    shown = {key: response.context[key] for key in expected}
    assert shown == expected
    assert shown["rows"]["total"] == 3  # 茅垭村's two rows and 百花村's one; not 大寺村's
    district = compute(Scope(district=area.district), TODAY)
    assert district["rows"]["total"] == 4 and shown != district
    # Township B's rows, findings and rectifications change: township A's figures do not.
    overdue = factories.task(world.plan_b, item="大寺村新任务", deadline=datetime.date(2017, 9, 1))
    factories.rectification(factories.finding(overdue), deadline=datetime.date(2017, 9, 1))
    factories.done_task(world.plan_b, item="大寺村已完成")
    factories.finding(area.township_b)
    response = client.get(reverse("dashboard"))
    assert {key: response.context[key] for key in expected} == own_figures(area, area.township_a) == expected
    assert compute(Scope(district=area.district), TODAY)["rows"]["total"] == 6  # the district's did move


# ---------------------------------------------------------------------------------------------
# The buttons the templates show come from the same decisions (the context processor's ``nav``)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "shown"),
    [
        ("district_admin", {"plan-import", "register-import", "queue", "file-finding"}),
        ("township_a", {"plan-import", "register-import"}),
        ("village_cadre", {"plan-import", "register-import"}),
        ("supervisor", {"queue", "file-finding"}),
        ("leader", set()),
    ],
)
def test_the_pages_offer_each_role_the_buttons_its_decisions_allow(client, area, personas, world, persona, shown):
    user = getattr(personas, persona)
    pages = {
        "plan-import": (reverse("villages:list"), 'data-testid="plan-import"'),
        "register-import": (reverse("households:list"), 'data-testid="register-import"'),
        "queue": (reverse("villages:list"), f'href="{reverse("supervision:queue")}"'),
        "file-finding": (reverse("villages:detail", args=[area.village_a.pk]), 'data-testid="file-finding"'),
    }
    offered = {name for name, (url, marker) in pages.items() if marker in text(page(client, user, url))}
    assert offered == shown
