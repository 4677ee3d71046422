"""Summary figures kept by the writes (bazhou/core/summaries.py, tasks/summaries.py, households/summaries.py): after
every kind of write — page, API, import, admin, command, change request, rollover, a write no signal explains — the
stored figures equal a fresh computation from the base tables, and the dashboard shows what the base rows say.

Each test builds the figures whole first (``factories.settle()``), writes, then checks:

- ``kept()``: single edits through the services, pages, API, imports and admin keep the cheap path: after the
  write (flushed as its transaction would be before committing), both keepers' markers are still there — the write
  refreshed its villages rather than invalidating everything;
- ``consistent()``: ``summaries.verify(day) == []``, and the dashboard's figures (rows total/done/overdue, by
  township, funds by category and source, household readiness, people lifted, poor people per village) equal
  direct ORM counts over the base tables with the product's Q factories (done_q, overdue_q, readiness_sql).
"""

import datetime
import io
import threading
import uuid
from decimal import Decimal

import pytest
from django import forms
from django.contrib import admin as django_admin
from django.core.management import CommandError, call_command
from django.db import connection, connections, transaction
from django.db.models import Count, Sum
from django.test.utils import CaptureQueriesContext
from django.urls import path, reverse
from rest_framework.test import APIClient

from bazhou.core import summaries
from bazhou.core.admin import HistoryAdmin
from bazhou.surfaces import dashboard as figures
from households import imports as household_imports
from households import services as household_services
from households import summaries as registry_summaries
from households.exports import KEYS as REGISTER_KEYS
from households.models import Household, HouseholdIncome, Member, PoorPeople, PovertyLine
from households.readiness import READY, readiness_sql
from tasks import changes, rollover, services
from tasks import imports as plan_imports
from tasks.models import FundLine, PlanFigures, Task, done_q, live_q, overdue_q
from tests import factories
from tests.excel.helpers import body, calamine_rows, edit
from tests.jobs import get_file

pytestmark = pytest.mark.usefixtures("pinned_today", "media")

TODAY = datetime.date(2017, 9, 15)
KEEPERS = ("plan", "registry")
D = Decimal
ON_POSTGRESQL = connection.vendor == "postgresql"


# ---------------------------------------------------------------------------------------------
# The data and the checks
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def world(area, personas):
    """茅垭村 (township A): a draft 2017 plan with a road in progress (two fund sources), a done culture room and a
    household row; 百花村 (A) a water row; 大寺村 (B) an overdue road and a household lifted out in 2017. The poverty
    line of 2017, an income for 茅垭村's household (targeted for 2017). The figures are built whole at the end."""

    class World:
        plan_a = factories.plan(area.village_a)
        road = factories.task(
            plan_a,
            item="通村硬化路",
            planned_funds=D("100"),
            invested_funds=D("20"),
            status="in_progress",
            progress=40,
            responsible_unit="区交通运输局",
            responsible_person="吴玉峰",
        )
        factories.fund_line(road, "central", D("60"))
        factories.fund_line(road, "district", D("40"))
        culture = factories.done_task(
            plan_a, item="村文化室", category="culture_room", quantity=D("1"), unit="处", planned_funds=D("30")
        )
        housing = factories.task(
            plan_a,
            area.household_a,
            item="危房改造",
            category="housing",
            deadline=datetime.date(2017, 10, 31),
            planned_funds=D("2.5"),
        )
        plan_a2 = factories.plan(area.village_a2)
        water = factories.task(
            plan_a2,
            item="百花村饮水工程",
            category="water",
            deadline=datetime.date(2017, 12, 31),
            planned_funds=D("12"),
        )
        plan_b = factories.plan(area.village_b)
        dasi = factories.task(plan_b, item="大寺村产业路", planned_funds=D("30"))
        line = factories.poverty_line(2017, "3100")
        income_a = factories.income(area.household_a, 2017, wage=12000)
        lifted = factories.household(area.village_b, members=2, status=Household.Status.EXITED, exit_year=2017)

    factories.settle()
    assert set(summaries.markers(KEEPERS)) == set(KEEPERS)
    return World


def kept(names=KEEPERS):
    """The write was refreshed village by village: flushed as at commit, the keepers' markers are still there."""
    summaries.flush()
    found = summaries.markers(names)
    assert set(found) == set(names), f"a write invalidated the figures: markers left {sorted(found)}"


def wan(value) -> Decimal:
    return figures.wan(D(value or 0))


def expected(district, year: int) -> dict:
    """The dashboard's figures computed straight from the base rows."""
    rows = Task.objects.filter(live_q(), plan__year=year, plan__village__township__district=district)
    by_township = dict(
        rows.order_by()
        .values_list("plan__village__township")
        .annotate(n=Count("pk"))
        .values_list("plan__village__township", "n")
    )
    categories = {
        r["category"]: (wan(r["p"]), wan(r["i"]))
        for r in rows.order_by().values("category").annotate(p=Sum("planned_funds"), i=Sum("invested_funds"))
    }
    sources = {
        r["source"]: wan(r["p"])
        for r in FundLine.objects.filter(task__in=rows).order_by().values("source").annotate(p=Sum("amount"))
    }
    targeted = Household.objects.filter(village__township__district=district, planned_exit_year=year)
    line = PovertyLine.objects.filter(year=year).values_list("yuan", flat=True).first()
    annotated, tests = readiness_sql(targeted, year, line)
    ready = sum(1 for _ in annotated.filter(tests[READY]).values_list("pk", flat=True))
    active = Member.objects.filter(is_active=True, household__village__township__district=district)
    lifted = active.filter(household__exit_year=year, household__status__in=Household.EXITED_STATUSES).count()
    poor = dict(
        active.filter(household__status__in=Household.STILL_POOR_STATUSES)
        .order_by()
        .values_list("household__village")
        .annotate(n=Count("pk"))
        .values_list("household__village", "n")
    )
    by_village = {
        r["plan__village"]: (r["n"], r["d"], r["o"])
        for r in rows.order_by()
        .values("plan__village")
        .annotate(n=Count("pk"), d=Count("pk", filter=done_q()), o=Count("pk", filter=overdue_q(TODAY)))
    }
    return {
        "by_village": by_village,
        "rows": {
            "total": rows.count(),
            "done": rows.filter(done_q()).count(),
            "overdue": rows.filter(overdue_q(TODAY)).count(),
            "in_progress": rows.filter(status=Task.Status.IN_PROGRESS).count(),
        },
        "by_township": by_township,
        "categories": categories,
        "sources": sources,
        "planned": wan(rows.aggregate(s=Sum("planned_funds"))["s"]),
        "readiness": (targeted.count(), ready),
        "people_lifted": lifted,
        "poor": poor,
    }


def shown(district, year: int) -> dict:
    """The same figures as the dashboard computes them (from the stored summaries)."""
    scope = figures.Scope(district=district)
    page = figures.compute(scope, TODAY, year)
    villages = list(district.townships.values_list("villages", flat=True))
    by_village = {}
    for township in district.townships.all():
        table = figures.compute(figures.Scope(district=district, township=township), TODAY, year)["village_table"]
        by_village.update({r["area"].pk: (r["total"], r["done"], r["overdue"]) for r in table if r["total"]})
    return {
        "by_village": by_village,
        "rows": {k: page["rows"][k] for k in ("total", "done", "overdue", "in_progress")},
        "by_township": {r["area"].pk: r["total"] for r in page["township_ranking"] if r["total"]},
        "categories": {r["key"]: (r["planned"], r["invested"]) for r in page["funds"]["by_category"]},
        "sources": {r["key"]: r["planned"] for r in page["funds"]["by_source"]},
        "planned": page["funds"]["planned"],
        "readiness": (page["household_readiness"]["total"], page["household_readiness"]["all_met"]),
        "people_lifted": figures.registry_counts(scope, year)["people_lifted"],
        "poor": registry_summaries.poor_people(villages),
    }


def consistent(district, years=(2017,)):
    """The stored figures equal a fresh computation, and every figure the dashboard shows equals the base rows."""
    assert summaries.verify(TODAY) == []
    for year in years:
        assert shown(district, year) == expected(district, year), year


def fresh_connection_state():
    """Forget what this process knows of the connection (its pending writes and the figures it found whole), as a
    new request in another worker would; on PostgreSQL also a new database connection."""
    connection.close()
    connection.bazhou_summaries = summaries.State()


@pytest.fixture
def api():
    def client(user):
        c = APIClient()
        c.force_login(user)
        return c

    return client


def if_match(version) -> dict:
    return {"HTTP_IF_MATCH": f'"{version}"'}


def edit_data(task, lines=(), **changed) -> dict:
    """The full edit form of ``task`` (tasks:task_edit) as the browser posts it, with ``changed`` values."""
    data = {
        "version": task.version,
        "household": task.household_id or "",
        "category": task.category,
        "item": task.item,
        "quantity": task.quantity,
        "unit": task.unit,
        "deadline": task.deadline.isoformat(),
        "deadline_text": task.deadline_text,
        "planned_funds": task.planned_funds,
        "invested_funds": task.invested_funds,
        "responsible_unit": task.responsible_unit,
        "responsible_person": task.responsible_person,
        "responsible_phone": task.responsible_phone,
        "status": task.status,
        "progress": task.progress,
        "completed_on": task.completed_on.isoformat() if task.completed_on else "",
        "reason": "",
        **changed,
        "fund-TOTAL_FORMS": len(lines),
        "fund-INITIAL_FORMS": 0,
        "fund-MIN_NUM_FORMS": 0,
        "fund-MAX_NUM_FORMS": 1000,
    }
    for i, (source, amount) in enumerate(lines):
        data[f"fund-{i}-source"], data[f"fund-{i}-amount"] = source, amount
    return {k: "" if v is None else v for k, v in data.items()}


def progress_report(task, **fields) -> dict:
    return {
        "_submission": str(uuid.uuid4()),
        "version": task.version,
        "reported_on": "2017-09-14",
        "progress": 100,
        "status": "done",
        "invested_funds": "95",
        "note": "路面硬化完成",
        **fields,
    }


# ---------------------------------------------------------------------------------------------
# Pages
# ---------------------------------------------------------------------------------------------


def test_a_plan_row_edited_on_its_page_keeps_the_figures(client, area, personas, world):
    client.force_login(personas.township_a)
    data = edit_data(
        world.road, [("central", "90"), ("province", "30")], planned_funds="120", deadline="2017-08-01", item="改"
    )
    response = client.post(reverse("tasks:task_edit", args=[world.road.pk]), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    world.road.refresh_from_db()
    assert (world.road.planned_funds, world.road.version) == (D("120"), 2)
    kept()
    consistent(area.district)
    assert shown(area.district, 2017)["sources"]["province"] == wan(30)


def test_a_progress_report_on_its_page_keeps_the_figures(client, area, personas, world):
    client.force_login(personas.village_cadre)
    response = client.post(reverse("tasks:task_progress", args=[world.road.pk]), progress_report(world.road))
    assert response.status_code == 302
    kept()
    consistent(area.district)
    assert shown(area.district, 2017)["rows"]["done"] == 2


def test_a_plan_row_withdrawn_on_its_page_keeps_the_figures(client, area, personas, world):
    client.force_login(personas.township_a)
    response = client.post(
        reverse("tasks:task_remove", args=[world.road.pk]), {"version": world.road.version, "reason": "与水利项目重复"}
    )
    assert response.status_code == 302
    world.road.refresh_from_db()
    assert world.road.is_removed
    kept()
    consistent(area.district)
    assert "district" not in shown(area.district, 2017)["sources"]


@pytest.mark.django_db(transaction=True)
def test_a_page_edit_committed_for_real_leaves_the_figures_right_for_the_next_request(client, area, personas, world):
    """ATOMIC_REQUESTS: the flush runs inside the request's commit; a fresh connection then reads stored figures."""
    client.force_login(personas.township_b)
    data = edit_data(world.dasi, [("central", "30")], deadline="2017-12-31", planned_funds="30")
    response = client.post(reverse("tasks:task_edit", args=[world.dasi.pk]), data)
    assert response.status_code == 302
    assert not connection.in_atomic_block and not summaries.state().dirty()
    assert set(summaries.markers(KEEPERS)) == set(KEEPERS)  # committed with the refresh, not invalidated
    fresh_connection_state()
    consistent(area.district)
    assert shown(area.district, 2017)["rows"]["overdue"] == 1  # 大寺村's road is no longer overdue, 茅垭村's is
    assert shown(area.district, 2017)["sources"] == {"central": wan(90), "district": wan(40)}


# ---------------------------------------------------------------------------------------------
# API
# ---------------------------------------------------------------------------------------------


def test_a_plan_row_patched_through_the_api_keeps_the_figures(api, area, personas, world):
    body_ = {"planned_funds": "50", "invested_funds": "50", "fund_lines": [{"source": "city", "amount": "50"}]}
    response = api(personas.township_a).patch(
        f"/api/v1/tasks/{world.road.pk}/", body_, format="json", **if_match(world.road.version)
    )
    assert response.status_code == 200, response.json()
    kept()
    consistent(area.district)
    assert shown(area.district, 2017)["categories"]["road"] == (wan(80), wan(50))


def test_a_progress_report_through_the_api_keeps_the_figures(api, area, personas, world):
    data = {"progress": "100", "status": "done", "invested_funds": "30"}
    response = api(personas.township_b).post(
        f"/api/v1/tasks/{world.dasi.pk}/progress/", data, format="multipart", **if_match(world.dasi.version)
    )
    assert response.status_code == 201, response.json()
    kept()
    consistent(area.district)
    assert shown(area.district, 2017)["rows"]["overdue"] == 1  # 茅垭村's road only


def test_registry_writes_through_the_api_keep_the_figures(api, area, personas, world):
    client = api(personas.township_a)
    household = area.household_a
    # A household lifted out of poverty.
    response = client.patch(
        f"/api/v1/households/{household.pk}/", {"status": "exited", "exit_year": 2017}, format="json", **if_match(1)
    )
    assert response.status_code == 200, response.json()
    kept()
    consistent(area.district)
    assert shown(area.district, 2017)["people_lifted"] == 5
    # A member joins, another leaves the register.
    joined = client.post(
        "/api/v1/members/",
        {
            "household": household.pk,
            "name": "王小芳",
            "sex": "female",
            "id_number": factories.id_number(male=False),
            "relation": "daughter",
        },
        format="json",
    )
    assert joined.status_code == 201, joined.json()
    son = household.members.filter(relation="son").first()
    left = client.patch(
        f"/api/v1/members/{son.pk}/", {"is_active": False, "reason": "迁出"}, format="json", **if_match(son.version)
    )
    assert left.status_code == 200, left.json()
    kept()
    consistent(area.district)
    assert shown(area.district, 2017)["people_lifted"] == 5
    # A new household in 百花村 and a year's income changed.
    created = client.post(
        "/api/v1/households/",
        {
            "village": area.village_a2.pk,
            "number": "5119022040080999",
            "main_cause": "illness",
            "identified_year": 2016,
            "status": "planned",
            "planned_exit_year": 2017,
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    etag = client.get(f"/api/v1/incomes/{world.income_a.pk}/")["ETag"]
    changed = client.patch(
        f"/api/v1/incomes/{world.income_a.pk}/",
        {"wage": "1000", "reason": "入户核实"},
        format="json",
        HTTP_IF_MATCH=etag,
    )
    assert changed.status_code == 200, changed.json()
    kept()
    consistent(area.district)


@pytest.mark.django_db(transaction=True)
def test_an_api_write_committed_for_real_leaves_the_figures_right_for_the_next_request(api, area, personas, world):
    response = api(personas.township_a).patch(
        f"/api/v1/households/{area.household_a.pk}/",
        {"status": "exited", "exit_year": 2017},
        format="json",
        **if_match(1),
    )
    assert response.status_code == 200, response.json()
    assert not summaries.state().dirty()
    assert set(summaries.markers(KEEPERS)) == set(KEEPERS)
    fresh_connection_state()
    consistent(area.district)
    assert shown(area.district, 2017)["people_lifted"] == 5
    assert shown(area.district, 2017)["poor"].get(area.village_a.pk) is None


# ---------------------------------------------------------------------------------------------
# Imports
# ---------------------------------------------------------------------------------------------

PLAN_SHEET = "施工图"


def plan_row_of(content: bytes, task: Task) -> int:
    for number, row in enumerate(calamine_rows(content, PLAN_SHEET), start=1):
        if isinstance(row[32], float) and int(row[32]) == task.pk:  # 编号 (AG)
            return number
    raise AssertionError(task)


def test_a_plan_import_of_new_and_changed_rows_keeps_the_figures(client, area, personas, world):
    client.force_login(personas.township_a)
    content = body(get_file(client, reverse("tasks:plan_table_xlsx"), {"year": 2017}))
    last = len(calamine_rows(content, PLAN_SHEET)) + 2
    culture = plan_row_of(content, world.culture)
    road = plan_row_of(content, world.road)
    new_village = factories.village(area.township_a, number=9, name="板溪村")
    cells = {
        f"I{culture}": 2,  # a done row's quantity
        f"H{road}": "通村硬化路（一期）",
        **dict(
            zip(
                [f"{c}{last}" for c in "BCGHIJKLMP"],
                ["白庙乡", "茅垭村", "饮水", "安全饮用水", 1, "处", "2017-10-31", 5, 3, 2],
                strict=True,
            )
        ),
        **dict(
            zip(
                [f"{c}{last + 1}" for c in "BCGHK"],
                ["白庙乡", "板溪村", "道路", "联户路", "2017-08-01"],
                strict=True,
            )
        ),
    }
    changed = edit(content, PLAN_SHEET, cells)
    user = personas.township_a
    result = plan_imports.preview_plan_import(user=user, content=changed, file_name="施工图.xlsx", year=2017)
    assert result.problems == []
    assert sorted(c.action for c in result.changes) == ["create", "create", "update", "update"]
    plan_imports.apply_plan_import(
        user=user, content=changed, file_name="施工图.xlsx", year=2017, fingerprint=result.fingerprint
    )
    assert Task.objects.get(item="联户路").plan.village == new_village
    kept()
    consistent(area.district)
    after = shown(area.district, 2017)
    assert after["rows"]["total"] == 7 and after["sources"]["central"] == wan(63)


REGISTER_SHEET = "贫困户花名册"
AT = {key: index for index, key in enumerate(REGISTER_KEYS)}
COL = {key: chr(ord("A") + i) if i < 26 else "A" + chr(ord("A") + i - 26) for key, i in AT.items()}


def test_a_register_import_of_a_new_household_and_a_changed_one_keeps_the_figures(client, area, personas, world):
    from bazhou.core import idnumbers

    client.force_login(personas.township_a)
    content = body(get_file(client, reverse("households:register_xlsx"), {}))
    rows = calamine_rows(content, REGISTER_SHEET)
    last = len(rows) + 2
    common = {
        "township": "白庙乡",
        "village": "百花村",
        "number": "511902204008999",
        "attribute": "一般贫困户",
        "main_cause": "因学",
        "identified_year": 2015,
        "status": "未脱贫",
    }
    cells = {}
    people = [
        ("王五", "男", idnumbers.build("511902", datetime.date(1970, 3, 1), 11), "户主"),
        ("李花", "女", idnumbers.build("511902", datetime.date(1972, 6, 1), 12), "配偶"),
    ]
    for offset, (name, sex, id_number, relation) in enumerate(people):
        values = {**common, "name": name, "sex": sex, "id_number": id_number, "relation": relation}
        cells.update({f"{COL[k]}{last + offset}": v for k, v in values.items()})
    changed = edit(content, REGISTER_SHEET, cells)
    user = personas.township_a
    result = household_imports.preview_register_import(user=user, content=changed, file_name="花名册.xlsx")
    assert result.problems == []
    household_imports.apply_register_import(
        user=user, content=changed, file_name="花名册.xlsx", fingerprint=result.fingerprint
    )
    kept()
    consistent(area.district)
    assert shown(area.district, 2017)["poor"][area.village_a2.pk] == 2


# ---------------------------------------------------------------------------------------------
# Admin
# ---------------------------------------------------------------------------------------------


def shown_values(page) -> dict:
    """The values the admin change form on ``page`` shows, as its POST sends them back."""
    data = {}
    all_forms = [page.context["adminform"].form]
    for inline in page.context["inline_admin_formsets"]:
        all_forms += [inline.formset.management_form, *inline.formset.forms]
    for form in all_forms:
        for field in form:
            if field.field.disabled or isinstance(field.field, forms.FileField):
                continue
            value = field.value()
            if isinstance(value, bool):
                if value:
                    data[field.html_name] = "on"
            elif isinstance(value, list | tuple):
                data[field.html_name] = [str(v) for v in value]
            elif value is not None:
                data[field.html_name] = str(value)
    return data


def admin_save(client, url, **changed):
    page = client.get(url)
    assert page.status_code == 200, url
    response = client.post(url, {**shown_values(page), **changed})
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    return response


# A site of this module's own where a tracked model (Household) is maintained through the admin's forms, as an
# admin that writes a tracked model would (the product's admin shows households, members, plan rows and fund lines
# read-only: the services write them).
maintained = django_admin.AdminSite(name="maintained")


@django_admin.register(Household, site=maintained)
class MaintainedHouseholdAdmin(HistoryAdmin):
    fields = ("status", "exit_year", "housing_grade")


urlpatterns = [path("maintained/", maintained.urls)]


@pytest.fixture
def root(db):
    from bazhou.core.models import User

    return User.objects.create_superuser("root", password="pw-for-tests-2017")


@pytest.mark.urls(__name__)
def test_a_household_changed_through_an_admin_form_keeps_the_figures(client, area, world, root):
    client.force_login(root)
    url = reverse("maintained:households_household_change", args=[area.household_a.pk])
    admin_save(client, url, status="exited", exit_year="2017", change_reason="核实已脱贫")
    area.household_a.refresh_from_db()
    assert area.household_a.status == "exited"
    kept()
    consistent(area.district)
    assert shown(area.district, 2017)["people_lifted"] == 5


def test_a_poverty_line_changed_in_the_admin_rebuilds_the_registry_figures(client, area, world, root):
    """The poverty line is not tracked: its write invalidates the registry figures (not the plan's), the next
    reader rebuilds them, and the readiness counts follow the new line."""
    # Targeted for 2017: 茅垭村's household (12,000 for 3 people, over 3,100 a head: all seven met), 大寺村's two.
    assert shown(area.district, 2017)["readiness"] == (3, 1)
    client.force_login(root)
    url = reverse("admin:households_povertyline_change", args=[world.line.pk])
    admin_save(client, url, yuan="4500", change_reason="依据省扶贫办2017年标准")
    assert PovertyLine.objects.get(pk=world.line.pk).yuan == D("4500")
    summaries.flush()
    assert set(summaries.markers(KEEPERS)) == {"plan"}
    consistent(area.district)
    assert shown(area.district, 2017)["readiness"] == (3, 0)  # 4,000 a head is under 4,500
    assert set(summaries.markers(KEEPERS)) == set(KEEPERS)


def test_a_village_moved_to_another_township_in_the_admin_is_counted_there(client, area, world, root):
    client.force_login(root)
    url = reverse("admin:villages_village_change", args=[area.village_a2.pk])
    code = f"{area.township_b.code}008"
    admin_save(client, url, township=str(area.township_b.pk), code=code, change_reason="区划调整")
    kept()
    consistent(area.district)
    assert shown(area.district, 2017)["by_township"] == {area.township_a.pk: 3, area.township_b.pk: 2}


# ---------------------------------------------------------------------------------------------
# Services: approval, change requests, withdrawal, rollover, the registry
# ---------------------------------------------------------------------------------------------


def test_plan_approval_a_change_request_approved_and_a_rollover_keep_the_figures(area, personas, world):
    services.plan_approve(plan_id=world.plan_b.pk, user=personas.district_admin)
    kept()
    consistent(area.district)
    world.dasi.refresh_from_db()
    request = changes.change_request_create(
        user=personas.township_b,
        task=world.dasi,
        changes={"deadline": datetime.date(2017, 12, 31), "planned_funds": D("45")},
        fund_lines=[{"source": "province", "amount": D("45")}],
        reason_category="policy",
        reason="区政府调整计划",
        expected_version=world.dasi.version,
    )
    changes.change_request_approve(
        user=personas.district_admin, request_id=request.pk, expected_version=request.version
    )
    kept()
    consistent(area.district)
    assert shown(area.district, 2017)["rows"]["overdue"] == 1  # 茅垭村's road only
    assert shown(area.district, 2017)["sources"]["province"] == wan(45)
    # A withdrawal asked for and approved on the approved plan.
    world.dasi.refresh_from_db()
    removal = changes.change_request_create(
        user=personas.township_b,
        task=world.dasi,
        kind="remove",
        reason_category="policy",
        reason="并入省道项目",
        expected_version=world.dasi.version,
    )
    changes.change_request_approve(
        user=personas.district_admin, request_id=removal.pk, expected_version=removal.version
    )
    kept()
    consistent(area.district)
    assert shown(area.district, 2017)["by_township"] == {area.township_a.pk: 4}
    # The unfinished rows of 茅垭村 carried into 2018.
    result = rollover.roll_over(user=personas.village_cadre, plan=world.plan_a, reason="年底未完工，结转下年")
    assert len(result.created) == 2
    kept()
    consistent(area.district, years=(2017, 2018))
    assert shown(area.district, 2018)["rows"]["total"] == 2


def test_a_withdrawn_row_and_a_completed_one_keep_the_figures(area, personas, world):
    services.task_remove(task_id=world.water.pk, user=personas.township_a, expected_version=1, reason="重复")
    services.task_complete(task_id=world.housing.pk, user=personas.township_a, expected_version=1)
    kept()
    consistent(area.district)
    assert shown(area.district, 2017)["rows"] == {"total": 4, "done": 2, "overdue": 2, "in_progress": 1}


def test_a_member_who_leaves_and_joins_another_household_and_a_changed_income_keep_the_figures(area, personas, world):
    son = area.household_a.members.filter(relation="son").first()
    household_services.member_leave(
        member_id=son.pk, user=personas.district_admin, expected_version=son.version, reason="迁入大寺村"
    )
    household_services.member_create(
        household_id=area.household_b.pk,
        user=personas.district_admin,
        data={"name": son.name, "sex": son.sex, "id_number": son.id_number, "relation": "son"},
        reason="由茅垭村迁入",
    )
    income = HouseholdIncome.objects.get(pk=world.income_a.pk)
    household_services.income_update(
        income_id=income.pk,
        user=personas.district_admin,
        expected=household_services.income_fingerprint(income),
        data={"wage": D("5000")},
        reason="入户核实",
    )
    kept()
    consistent(area.district)
    after = shown(area.district, 2017)
    assert after["readiness"] == (3, 0)
    assert (after["poor"][area.village_a.pk], after["poor"][area.village_b.pk]) == (2, 4)


def test_a_member_moved_by_a_plain_save_refreshes_both_villages(area, world):
    """The key a row had when it was loaded counts too: moving a member refreshes the village it left."""
    member = area.household_a.members.filter(relation="son").first()
    member.household = area.household_b
    member.save()
    kept()
    consistent(area.district)
    assert shown(area.district, 2017)["poor"][area.village_a.pk] == 2


# ---------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------


def test_link_departments_keeps_the_figures(area, world):
    factories.department(area.district, name="区交通运输局")
    out = io.StringIO()
    call_command("link_departments", stdout=out)
    assert "已关联任务 1 行" in out.getvalue()
    world.road.refresh_from_db()
    assert world.road.department is not None
    kept()
    consistent(area.district)


def test_supervision_daily_keeps_the_figures(area, world):
    call_command("supervision_daily", stdout=io.StringIO())
    kept()
    consistent(area.district)


# ---------------------------------------------------------------------------------------------
# A write no signal explains
# ---------------------------------------------------------------------------------------------


def test_a_bulk_update_no_signal_explains_drops_the_marker_and_the_next_read_rebuilds(area, world):
    Task.objects.filter(pk=world.road.pk).update(invested_funds=D("77"))
    summaries.flush()
    assert summaries.markers(KEEPERS).keys() == {"registry"}
    assert shown(area.district, 2017)["categories"]["road"] == (wan(130), wan(77))
    assert set(summaries.markers(KEEPERS)) == set(KEEPERS)
    consistent(area.district)


def test_a_rebuild_after_a_bulk_write_in_the_same_transaction_keeps_its_marker(area, world):
    """seed_demo's way: bulk writes no signal explains, then a rebuild of everything in the same connection; the
    invalidation those writes left must not drop the rebuilt marker when the transaction commits."""
    Task.objects.filter(pk=world.road.pk).update(invested_funds=D("77"))
    summaries.rebuild("plan", TODAY, force=True)
    summaries.flush()  # what the commit runs
    assert set(summaries.markers(KEEPERS)) == set(KEEPERS)
    assert shown(area.district, 2017)["categories"]["road"] == (wan(130), wan(77))
    consistent(area.district)


def test_a_bulk_update_of_the_registry_no_signal_explains_rebuilds_it(area, world):
    Member.objects.filter(household=area.household_a).update(is_active=False)
    summaries.flush()
    assert summaries.markers(KEEPERS).keys() == {"plan"}
    assert shown(area.district, 2017)["poor"].get(area.village_a.pk) is None
    consistent(area.district)


# ---------------------------------------------------------------------------------------------
# Concurrency (PostgreSQL)
# ---------------------------------------------------------------------------------------------


def edit_at_once(user, *edits) -> list[Exception]:
    """Each (row, invested funds) edit in its own thread and transaction, all written before any commits (a
    barrier inside the transactions); returns what the threads raised."""
    barrier = threading.Barrier(len(edits), timeout=20)
    errors = []

    def edit(task, funds):
        try:
            with transaction.atomic():
                services.task_update(
                    task_id=task.pk, user=user, expected_version=task.version, data={"invested_funds": D(funds)}
                )
                barrier.wait()
        except Exception as error:  # noqa: BLE001 - returned to the test
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=edit, args=pair) for pair in edits]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return errors


@pytest.mark.skipif(not ON_POSTGRESQL, reason="SQLite runs one writing transaction at a time")
@pytest.mark.django_db(transaction=True)
def test_two_transactions_editing_rows_of_one_village_leave_its_figures_right(area, personas, world):
    """Both write before either commits; each commit's refresh takes the village's advisory lock before reading,
    so the second reads the first one's committed rows and the figures show both edits."""
    assert edit_at_once(personas.township_a, (world.road, "66"), (world.housing, "2")) == []
    assert set(summaries.markers(KEEPERS)) == set(KEEPERS)
    fresh_connection_state()
    consistent(area.district)
    assert PlanFigures.objects.get(village=area.village_a, year=2017).invested == D("68")


@pytest.mark.skipif(not ON_POSTGRESQL, reason="SQLite runs one writing transaction at a time")
@pytest.mark.django_db(transaction=True)
def test_two_transactions_editing_two_villages_of_one_township_leave_its_township_rows_right(area, personas, world):
    """茅垭村 and 百花村 are both in township A, whose rows the district's dashboard reads: each commit redoes them
    under the township's advisory lock, so the second adds up the first one's committed village rows and the
    township's sum shows both edits (without the lock, the later commit would write a sum missing the other)."""
    assert edit_at_once(personas.township_a, (world.road, "66"), (world.water, "5")) == []
    fresh_connection_state()
    consistent(area.district)
    township = PlanFigures.objects.get(township=area.township_a, village__isnull=True, year=2017)
    villages = PlanFigures.objects.filter(village__township=area.township_a, year=2017).aggregate(s=Sum("invested"))
    rows = Task.objects.live().filter(plan__village__township=area.township_a, plan__year=2017)
    assert township.invested == villages["s"] == rows.aggregate(s=Sum("invested_funds"))["s"]
    assert {t.pk: t.invested_funds for t in rows.filter(pk__in=[world.road.pk, world.water.pk])} == {
        world.road.pk: D("66"),
        world.water.pk: D("5"),
    }


# ---------------------------------------------------------------------------------------------
# The cost of a flush
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def many(area):
    villages = factories.populate(area.township_a, villages=10, households=2, members=2)
    factories.settle()
    return villages


def test_refreshing_one_village_or_ten_takes_the_same_queries(many, django_assert_num_queries):
    """The markers (1 query) and, per keeper, a fixed number of statements (its computation, deletes and inserts;
    on PostgreSQL its advisory locks) whatever the number of villages refreshed."""

    def touch(villages):
        ids = [v.pk for v in villages]
        summaries.touched("plan", "villages", ids)
        summaries.touched("registry", "villages", ids)

    touch(many[:1])
    with CaptureQueriesContext(connection) as one:
        summaries.flush()
    # Four keepers (the goals' and the exit verdicts' follow the plan's keys), their township rows and locks.
    assert 1 < len(one) <= 45
    touch(many)
    with django_assert_num_queries(len(one)):
        summaries.flush()
    touch(many[3:5])
    with django_assert_num_queries(len(one)):
        summaries.flush()
    assert summaries.verify(TODAY) == []
    consistent(many[0].township.district)


# ---------------------------------------------------------------------------------------------
# manage.py summaries
# ---------------------------------------------------------------------------------------------


def test_the_command_verifies_names_a_tampered_figure_and_rebuilds(area, world):
    out = io.StringIO()
    call_command("summaries", verify=True, stdout=out)
    assert "汇总数与明细一致" in out.getvalue()

    PlanFigures.objects.filter(village=area.village_a, year=2017).update(total=99)
    out = io.StringIO()
    with pytest.raises(CommandError) as refused:
        call_command("summaries", verify=True, stdout=out)
    assert refused.value.returncode == 1
    assert "汇总数与明细不一致：1 处" in str(refused.value) and "--rebuild" in str(refused.value)
    assert f"村 {area.village_a.pk} 2017 年：存储 (99," in out.getvalue()

    out = io.StringIO()
    call_command("summaries", rebuild=True, stdout=out)
    assert out.getvalue().count("已重建") == len(summaries.KEEPERS) and "秒" in out.getvalue()
    assert summaries.verify(TODAY) == []
    consistent(area.district)


def test_a_write_made_outside_django_is_found_by_verify_and_mended_by_rebuild(area, world):
    """As after psql or a restore of another database's rows: nobody saw the write, so the stored figures differ
    until ``manage.py summaries --rebuild``."""
    wrappers = connection.execute_wrappers
    connection.execute_wrappers = [w for w in wrappers if w is not summaries._watch]
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE households_member SET is_active = %s WHERE household_id = %s", [False, area.household_b.pk]
            )
    finally:
        connection.execute_wrappers = wrappers
    problems = summaries.verify(TODAY)
    # The village's rows and its township's (which add them up) are found wrong, nothing else.
    named = (f"registry: 村 {area.village_b.pk} ", f"registry: 乡镇 {area.village_b.township_id} ")
    assert problems and all(p.startswith(named) for p in problems)
    assert f"registry: 村 {area.village_b.pk} 贫困人口：存储 3，应为 None" in problems
    with pytest.raises(CommandError):
        call_command("summaries", verify=True, stdout=io.StringIO())
    call_command("summaries", rebuild=True, stdout=io.StringIO())
    consistent(area.district)
    assert PoorPeople.objects.filter(village=area.village_b).count() == 0
