"""Sector departments (行业部门): recognising a department in a free-text responsible unit, and linking plan rows to it
wherever a row is created or changed (the pages, the API, the Excel import, an approved change request) and, for
older rows, with ``manage.py link_departments``. Units that name no department keep their text and no department.
"""

from __future__ import annotations

import datetime
import html
import re
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient

from bazhou.core.models import Role
from tasks import changes, services
from tasks import imports as task_imports
from tasks.models import ChangeRequest, Plan, Task
from tests import factories
from tests.excel.helpers import body, edit
from tests.jobs import get_file
from villages.departments import index, looks_like_department, match, normalise

pytestmark = pytest.mark.usefixtures("pinned_today")


@pytest.fixture
def departments(area):
    class D:
        transport = factories.department(area.district, "区交通运输局", aliases="区交通局\n交通局")
        water = factories.department(area.district, "区水务局")

    return D


# ---------------------------------------------------------------------------------------------
# The matching rule (villages.departments)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("区交通运输局", "区交通运输局"),
        (" 区 交通运输局 ", "区交通运输局"),
        ("巴州区交通运输局", "区交通运输局"),
        ("巴中市巴州区水务局", "区水务局"),
        ("白庙乡人民政府", "白庙乡人民政府"),
        ("", ""),
    ],
)
def test_normalise_drops_spaces_the_city_and_the_district_name(text, expected):
    assert normalise(text, "巴州区") == expected


@pytest.mark.parametrize(
    ("text", "department"),
    [
        ("区交通运输局", True),
        ("巴州区水务局", True),
        ("区委组织部", True),
        ("区扶贫和移民工作局", True),
        ("白庙乡人民政府", False),
        ("茅垭村村委会", False),
        ("农商银行", False),
    ],
)
def test_what_reads_like_a_district_department(text, department):
    assert looks_like_department(text, "巴州区") is department


def test_match_knows_names_and_aliases_and_the_name_wins(db, area):
    transport = factories.department(area.district, "区交通运输局", aliases="区交通局")
    # Another department that (wrongly) lists 区交通运输局 among its aliases does not take it from its owner.
    other = factories.department(area.district, "区住建局", aliases="区交通运输局\n区住房和城乡建设局")
    known = index([transport, other], "巴州区")
    assert match(known, "巴州区交通局", "巴州区") == transport
    assert match(known, "区交通运输局", "巴州区") == transport
    assert match(known, " 区住房和城乡建设局", "巴州区") == other
    assert match(known, "白庙乡人民政府", "巴州区") is None
    assert match(known, "", "巴州区") is None


# ---------------------------------------------------------------------------------------------
# Linking when a row is created or changed
# ---------------------------------------------------------------------------------------------


def test_link_departments_matches_each_row_in_its_own_district(db, area, departments, django_assert_num_queries):
    enyang = factories.district("511903", "恩阳区")
    enyang_transport = factories.department(enyang, "区交通运输局")
    village_x = factories.village(factories.township(enyang, number=110, name="玉山镇"))
    rows = [
        Task(plan=factories.plan(area.village_a), responsible_unit="巴州区交通局"),
        Task(plan=factories.plan(area.village_b), responsible_unit="区水务局"),
        Task(plan=factories.plan(village_x), responsible_unit="恩阳区交通运输局"),
        Task(plan=factories.plan(area.village_a2), responsible_unit="白庙乡人民政府"),
        Task(plan=factories.plan(area.village_a2), responsible_unit=""),
    ]
    with django_assert_num_queries(2):
        changed = services.link_departments(rows)
    assert [t.department for t in rows] == [departments.transport, departments.water, enyang_transport, None, None]
    assert len(changed) == 3
    assert rows[3].responsible_unit == "白庙乡人民政府"  # the text is kept
    with django_assert_num_queries(0):
        services.link_departments([Task(plan=rows[0].plan, responsible_unit="  ")])


def test_creating_and_changing_a_row_links_and_unlinks_its_department(area, personas, departments):
    plan = factories.plan(area.village_a)
    data = {
        "category": "road",
        "item": "通组公路",
        "deadline": datetime.date(2017, 10, 31),
        "planned_funds": Decimal("20"),
        "responsible_unit": "巴州区交通局",
    }
    task = services.task_create(plan=plan, user=personas.township_a, data=data)
    task.refresh_from_db()
    assert task.department == departments.transport
    assert task.responsible_unit == "巴州区交通局"
    assert task.history.first().department_id == departments.transport.pk

    services.task_update(
        task_id=task.pk, user=personas.township_a, expected_version=task.version, data={"responsible_unit": "区水务局"}
    )
    task.refresh_from_db()
    assert task.department == departments.water

    services.task_update(
        task_id=task.pk,
        user=personas.township_a,
        expected_version=task.version,
        data={"responsible_unit": "白庙乡人民政府"},
    )
    task.refresh_from_db()
    assert task.department is None
    assert task.responsible_unit == "白庙乡人民政府"


def test_a_change_that_leaves_the_unit_alone_keeps_a_department_set_by_hand(area, personas, departments):
    """Only a change of 责任单位 re-matches: a progress or status change never moves a row between departments."""
    task = factories.task(factories.plan(area.village_a), responsible_unit="区交通运输局")
    Task.objects.filter(pk=task.pk).update(department=departments.water)
    services.task_update(
        task_id=task.pk,
        user=personas.township_a,
        expected_version=task.version,
        data={"status": "in_progress", "progress": 30},
    )
    task.refresh_from_db()
    assert task.department == departments.water


def test_the_edit_page_links_the_department_from_the_unit(client, area, personas, departments):
    task = factories.task(factories.plan(area.village_a), responsible_unit="")
    client.force_login(personas.village_cadre)
    page = client.get(reverse("tasks:task_edit", args=[task.pk]))
    assert "任务自动关联该部门" in page.content.decode()  # the help text says how the department is set
    form = {
        "version": task.version,
        "category": "road",
        "item": task.item,
        "quantity": "3",
        "unit": "公里",
        "deadline": "2017-08-31",
        "planned_funds": "100",
        "invested_funds": "0",
        "responsible_unit": "区交通局",
        "status": "not_started",
        "progress": "0",
        "fund-TOTAL_FORMS": "0",
        "fund-INITIAL_FORMS": "0",
    }
    response = client.post(reverse("tasks:task_edit", args=[task.pk]), form)
    assert response.status_code == 302, response.content.decode()
    task.refresh_from_db()
    assert task.department == departments.transport
    detail = client.get(reverse("tasks:task_detail", args=[task.pk])).content.decode()
    assert "行业部门：区交通运输局" in detail


def test_the_api_links_the_department_and_shows_it(area, personas, departments):
    plan = factories.plan(area.village_a)
    api = APIClient()
    api.force_login(personas.township_a)
    response = api.post(
        "/api/v1/tasks/",
        {
            "plan": plan.pk,
            "category": "water",
            "item": "安全饮水",
            "deadline": "2017-11-30",
            "planned_funds": "10",
            "responsible_unit": "巴州区水务局",
        },
        format="json",
    )
    assert response.status_code == 201, response.content.decode()
    assert response.json()["department"] == departments.water.pk
    assert response.json()["department_name"] == "区水务局"
    listed = api.get("/api/v1/tasks/", {"department": departments.water.pk}).json()["results"]
    assert [row["id"] for row in listed] == [response.json()["id"]]


def test_an_approved_change_request_relinks_the_row(area, personas, departments):
    plan = factories.plan(area.village_a)
    task = factories.task(plan, responsible_unit="区交通运输局")
    services.link_departments([task])
    task.save()
    services.plan_approve(plan_id=plan.pk, user=personas.district_admin)
    task.refresh_from_db()
    request = changes.change_request_create(
        user=personas.township_a,
        task=task.pk,
        changes={"responsible_unit": "区水务局"},
        reason_category=ChangeRequest.ReasonCategory.OTHER,
        reason="改由水务局实施",
        expected_version=task.version,
    )
    changes.change_request_approve(
        user=personas.district_admin, request_id=request.pk, expected_version=request.version
    )
    task.refresh_from_db()
    assert (task.responsible_unit, task.department) == ("区水务局", departments.water)


def test_the_excel_import_links_new_and_changed_rows(client, area, personas, departments):
    plan = factories.plan(area.village_a)
    task = factories.task(plan, item="通村硬化路", responsible_unit="白庙乡人民政府")
    client.force_login(personas.township_a)
    content = body(get_file(client, reverse("tasks:plan_table_xlsx"), {"year": 2017}))
    # The row's 责任单位 becomes a department's other spelling; a new row names the water department.
    from tasks.exports import KEYS
    from tests.test_access_surfaces import column_of, row_with

    unit = column_of(KEYS, "responsible_unit")
    row = row_with(content, "施工图", "通村硬化路")
    new = row + 5
    changed = edit(
        content,
        "施工图",
        {
            f"{unit}{row}": "交通局",
            f"{column_of(KEYS, 'township')}{new}": "白庙乡",
            f"{column_of(KEYS, 'village')}{new}": "茅垭村",
            f"{column_of(KEYS, 'kind')}{new}": "一村一案",
            f"{column_of(KEYS, 'category')}{new}": "饮水",
            f"{column_of(KEYS, 'item')}{new}": "集中供水点",
            f"{column_of(KEYS, 'deadline')}{new}": datetime.date(2017, 12, 1),
            f"{column_of(KEYS, 'planned_funds')}{new}": 5,
            f"{unit}{new}": "巴州区水务局",
        },
    )
    preview = task_imports.preview_plan_import(user=personas.township_a, content=changed, file_name="t.xlsx", year=2017)
    assert preview.ok, preview.problems
    task_imports.apply_plan_import(
        user=personas.township_a, content=changed, file_name="t.xlsx", year=2017, fingerprint=preview.fingerprint
    )
    task.refresh_from_db()
    assert (task.responsible_unit, task.department) == ("交通局", departments.transport)
    created = Task.objects.get(item="集中供水点")
    assert created.department == departments.water
    assert created.history.first().department_id == departments.water.pk


# ---------------------------------------------------------------------------------------------
# manage.py link_departments
# ---------------------------------------------------------------------------------------------


def _rows_without_department(area):
    plan = factories.plan(area.village_a)
    return [
        factories.task(plan, item="路一", responsible_unit="区农业局"),
        factories.task(plan, item="路二", responsible_unit="巴州区 农业局"),
        factories.task(plan, item="路三", responsible_unit="区农牧局"),
        factories.task(plan, item="路四", responsible_unit="白庙乡人民政府"),
        factories.task(plan, item="路五", responsible_unit=""),
    ]


def test_link_departments_links_rows_after_an_alias_is_added(area):
    rows = _rows_without_department(area)
    agriculture = factories.department(area.district, "区农业局")
    out = StringIO()
    call_command("link_departments", "--dry-run", stdout=out)
    text = out.getvalue()
    assert "试运行" in text and "将关联任务 2 行到 1 个行业部门" in text
    assert "区农牧局：1 行" in text and "白庙乡人民政府：1 行" in text
    assert not Task.objects.filter(department__isnull=False).exists()  # a dry run changes nothing

    agriculture.aliases = "区农牧局"
    agriculture.save()
    out = StringIO()
    call_command("link_departments", stdout=out)
    assert "已关联任务 3 行到 1 个行业部门" in out.getvalue()
    assert "  区农业局：3 行" in out.getvalue()
    linked = {t.item for t in Task.objects.filter(department=agriculture)}
    assert linked == {"路一", "路二", "路三"}
    unmatched = Task.objects.get(pk=rows[3].pk)
    assert (unmatched.department, unmatched.responsible_unit) == (None, "白庙乡人民政府")
    record = Task.objects.get(pk=rows[0].pk).history.first()
    assert (record.department_id, record.history_change_reason) == (agriculture.pk, services.LINK_REASON)

    out = StringIO()
    call_command("link_departments", stdout=out)  # a second run has nothing left to link
    assert "已关联任务 0 行到 0 个行业部门" in out.getvalue()


def test_link_departments_leaves_linked_rows_and_other_districts_alone(area):
    water = factories.department(area.district, "区水务局")
    plan = factories.plan(area.village_a)
    kept = factories.task(plan, responsible_unit="区水务局")
    Task.objects.filter(pk=kept.pk).update(department=factories.department(area.district, "区农业局"))
    enyang = factories.district("511903", "恩阳区")
    other = factories.task(
        factories.plan(factories.village(factories.township(enyang, number=110))), responsible_unit="区水务局"
    )
    call_command("link_departments", "--district", "511902", stdout=StringIO())
    assert Task.objects.get(pk=kept.pk).department.name == "区农业局"
    assert Task.objects.get(pk=other.pk).department is None  # 恩阳区 has no 区水务局, and was not asked for
    assert water.tasks.count() == 0


def test_link_departments_names_an_unknown_district_in_chinese(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="找不到区划代码为“999999”的区县"):
        call_command("link_departments", "--district", "999999", stdout=StringIO())


def test_the_department_admin_lists_searches_and_keeps_history(client, area):
    transport = factories.department(area.district, "区交通运输局", aliases="区交通局")
    factories.task(factories.plan(area.village_a), responsible_unit="区交通局", department=transport)
    factories.department_user(transport)
    admin = factories.user("", username="root", is_superuser=True, is_staff=True)
    client.force_login(admin)
    listing = client.get(reverse("admin:villages_department_changelist"), {"q": "交通局"}).content.decode()
    assert "区交通运输局" in listing and "区交通局" in listing
    url = reverse("admin:villages_department_change", args=[transport.pk])
    loaded = re.search(r'name="loaded_state" value="([^"]*)"', client.get(url).content.decode()).group(1)
    response = client.post(
        url,
        {
            "district": area.district.pk,
            "name": "区交通运输局",
            "aliases": "区交通局\n交通运输局",
            "phone": "0827-5262000",
            "change_reason": "补充其他写法",
            "loaded_state": html.unescape(loaded),
        },
    )
    assert response.status_code == 302, response.content.decode()
    transport.refresh_from_db()
    assert transport.alias_list() == ["区交通局", "交通运输局"]
    record = transport.history.first()
    assert (record.history_user, record.history_change_reason) == (admin, "补充其他写法")
    history = client.get(reverse("admin:villages_department_history", args=[transport.pk])).content.decode()
    assert "补充其他写法" in history


def test_plan_fields_are_untouched_by_linking(area, personas, departments):
    """Linking is derived data: it never bumps the row's version (no one's edit conflicts with it)."""
    task = factories.task(factories.plan(area.village_a), responsible_unit="区交通局")
    version = task.version
    call_command("link_departments", stdout=StringIO())
    task.refresh_from_db()
    assert (task.department, task.version) == (departments.transport, version)
    assert Plan.objects.count() == 1
    assert Role.DEPARTMENT == "department"
