"""The demo district (seed_demo, scale 1): its one table exported and imported back changes nothing; three cells
changed are exactly three changes, previewed and applied; an independent reader finds the database's values."""

import datetime
import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import transaction
from django.urls import reverse

from bazhou.core.models import User
from supervision.bulletin_data import Report, build_snapshot
from supervision.exports import bulletin_tables
from supervision.models import Bulletin
from tasks import imports
from tasks.exports import KEYS, PlanTableScope, render_plan_table
from tasks.models import ChangeRequest, FundLine, Task
from tests.excel.helpers import body, calamine_rows, edit
from tests.excel.printing import numeric_cells
from tests.jobs import get_file

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("demo", "pinned_today")]
AT = {key: index for index, key in enumerate(KEYS)}


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """Seed once for the module inside a transaction that is rolled back afterwards."""
    with django_db_blocker.unblock(), transaction.atomic():
        call_command("seed_demo", stdout=io.StringIO())
        yield
        transaction.set_rollback(True)


@pytest.fixture
def exported(client):
    admin = User.objects.get(username="admin")
    client.force_login(admin)
    response = get_file(client, reverse("tasks:plan_table_xlsx"), {"year": 2017})
    assert response.status_code == 200
    return admin, body(response)


@pytest.mark.django_db
def test_the_demo_districts_table_read_back_is_the_database(exported):
    _, content = exported
    rows = [r for r in calamine_rows(content, "施工图")[4:] if isinstance(r[AT["id"]], float)]
    tasks = {t.pk: t for t in Task.objects.filter(plan__year=2017, is_removed=False)}
    assert len(rows) == len(tasks) > 10_000
    lines = {}
    for task_id, source, amount in FundLine.objects.filter(task__in=list(tasks)).values_list(
        "task_id", "source", "amount"
    ):
        lines[(task_id, source)] = amount
    for row in rows:
        task = tasks[int(row[AT["id"]])]
        assert (row[AT["item"]], row[AT["deadline"]], row[AT["status"]]) == (
            task.item,
            task.deadline,
            task.get_status_display(),
        )
        assert Decimal(str(row[AT["planned_funds"]])) == task.planned_funds
        assert (Decimal(str(row[AT["fund_central"]])) if row[AT["fund_central"]] != "" else None) == lines.get(
            (task.pk, "central")
        )


@pytest.mark.django_db
def test_the_demo_districts_table_imported_back_changes_nothing(exported):
    admin, content = exported
    before = (list(Task.objects.order_by("pk").values_list("pk", "version")), Task.history.count())
    result = imports.preview_plan_import(user=admin, content=content, file_name="巴州区施工图.xlsx", year=2017)
    assert result.problems == [] and result.changes == []
    assert result.unchanged == Task.objects.filter(plan__year=2017, is_removed=False).count()
    imports.apply_plan_import(
        user=admin, content=content, file_name="巴州区施工图.xlsx", year=2017, fingerprint=result.fingerprint
    )
    assert (list(Task.objects.order_by("pk").values_list("pk", "version")), Task.history.count()) == before


@pytest.mark.django_db
def test_three_changed_cells_of_the_demo_table_are_three_changes(exported):
    admin, content = exported
    rows = calamine_rows(content, "施工图")
    numbered = [(n, r) for n, r in enumerate(rows, start=1) if isinstance(r[AT["id"]], float)]
    (first, a), (second, b) = numbered[0], numbered[len(numbered) // 2]
    changed = edit(
        content, "施工图", {f"H{first}": f"{a[AT['item']]}（调整）", f"Y{first}": "秦和平", f"Z{second}": "13912345678"}
    )
    result = imports.preview_plan_import(user=admin, content=changed, file_name="改三处.xlsx", year=2017)
    assert result.problems == [] and result.creates == []
    assert result.changed_cells == 3 and len(result.updates) == 2
    history = Task.history.count()
    imports.apply_plan_import(
        user=admin, content=changed, file_name="改三处.xlsx", year=2017, fingerprint=result.fingerprint
    )
    one, two = Task.objects.get(pk=int(a[AT["id"]])), Task.objects.get(pk=int(b[AT["id"]]))
    # The demo's plans are approved: item and person (plan fields) become a change request, the phone is written.
    assert (one.item, one.responsible_person) == (a[AT["item"]], a[AT["responsible_person"]])
    request = ChangeRequest.objects.get(task=one, state="pending")
    assert (request.after["item"], request.after["responsible_person"]) == (f"{a[AT['item']]}（调整）", "秦和平")
    assert two.responsible_phone == "13912345678"
    assert Task.history.count() == history + 1


# The demo as printed and as bulletined (issue 16): no number of the district's table shows ###, and every table of
# the demo's bulletins has the rows its data has.


@pytest.mark.django_db
def test_no_number_of_the_demo_districts_table_shows_hashes():
    admin = User.objects.get(username="admin")
    file, rows = render_plan_table(
        PlanTableScope(user=admin, year=2017, district=admin.district), datetime.date(2017, 9, 15)
    )
    cells = numeric_cells(file.read())
    assert rows > 10_000 and len(cells) > 100_000
    assert [(c.ref, c.text) for c in cells if not c.fits] == []


@pytest.mark.django_db
def test_every_table_of_the_demos_bulletins_has_the_rows_of_its_data():
    bulletins = list(Bulletin.objects.select_related("district"))
    assert bulletins
    for bulletin in bulletins:
        report = Report.of(bulletin)
        fresh = build_snapshot(district=bulletin.district, period_start=bulletin.period_start, as_of=report.as_of)
        assert report.totals == fresh["totals"] and report.totals["overdue_tasks"] > 0
        sizes = {
            "表1乡镇排名": len(fresh["townships"]),
            "表2逾期最长": min(10, len(fresh["tasks"])),
            "表3责任单位排名": len(fresh["units"]),
            "附件1逾期任务": len(fresh["tasks"]),
            "附件2责任人": len(fresh["people"]),
            "附件3未销号整改": len(fresh["rectifications"]),
        }
        tables = {t.name: len(t.rows) for t in bulletin_tables(report) if t.name in sizes}
        assert tables == sizes and all(tables.values()), bulletin
        assert bulletin.doc_number and str(report.totals["overdue_tasks"]) in bulletin.body
