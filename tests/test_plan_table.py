"""The plan's table at a desk (issue 15): the 责任单位 column, one number format, the inline row's planned funds
by the rule of the fund lines, the submission key in its forms, a query count that does not grow with the rows; and
the list of plans waiting for approval as a desk table."""

import datetime
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from tasks import services
from tasks.models import Plan, Task
from tasks.templatetags.plan_table import qty
from tests import factories
from tests.test_task_pages import inline_data

pytestmark = pytest.mark.usefixtures("pinned_today")

HX = {"HX-Request": "true"}


def text(response) -> str:
    return response.content.decode()


def row_html(page: str, task) -> str:
    match = re.search(rf'<tr id="task-{task.pk}".*?</tr>', page, re.S)
    assert match, f"row {task.pk} not on the page"
    return match.group(0)


def cell(row: str, testid: str) -> str:
    match = re.search(rf'<td[^>]*data-testid="{testid}"[^>]*>(.*?)</td>', row, re.S)
    assert match, f"no {testid} cell"
    return re.sub(r"<[^>]+>", " ", match.group(1)).split()


# The 责任单位 column -------------------------------------------------------------------------------------------------


def test_the_plan_table_has_a_responsible_unit_column_with_the_department_or_the_units_text(client, area, personas):
    department = factories.department(area.district, name="区交通运输局")
    plan = factories.plan(area.village_a)
    by_department = factories.task(plan, item="通村路", responsible_unit="交通局", department=department)
    by_text = factories.task(plan, item="村文化室", responsible_unit="白庙乡人民政府")
    without = factories.task(plan, item="村卫生室", responsible_unit="")
    client.force_login(personas.district_admin)
    page = text(client.get(reverse("tasks:plan", args=[plan.pk])))

    head = re.search(r"<thead.*?</thead>", page, re.S).group(0)
    headings = [re.sub(r"<[^>]+>", "", h).strip() for h in re.findall(r"<th[^>]*>(.*?)</th>", head, re.S)]
    assert headings.index("责任单位") == headings.index("已投入（万元）") + 1
    assert headings.index("责任人") == headings.index("责任单位") + 1
    # The department's own name when the row belongs to one (the text may be an older spelling), else the text.
    assert cell(row_html(page, by_department), "responsible-unit") == ["区交通运输局"]
    assert cell(row_html(page, by_text), "responsible-unit") == ["白庙乡人民政府"]
    assert cell(row_html(page, without), "responsible-unit") == ["–"]
    # Every row has as many cells as the header has columns (the group headings span them all).
    for task in (by_department, by_text, without):
        assert row_html(page, task).count("<td") == len(headings) == 12
    assert 'colspan="12"' in page and 'colspan="11"' not in page


# One number format ----------------------------------------------------------------------------------------------------


def test_money_has_two_decimals_and_quantities_no_trailing_zeros(client, area, personas):
    plan = factories.plan(area.village_a)
    road = factories.task(
        plan,
        item="通村路",
        quantity=Decimal("2.50"),
        unit="公里",
        planned_funds=Decimal("17.1"),
        invested_funds=Decimal("12"),
    )
    factories.fund_line(road, "central", Decimal("17.1"))
    walnut = factories.task(
        plan,
        item="核桃",
        quantity=Decimal("1200"),
        unit="亩",
        planned_funds=Decimal("44.6400"),
        invested_funds=Decimal("0"),
    )
    client.force_login(personas.district_admin)
    page = text(client.get(reverse("tasks:plan", args=[plan.pk])))

    road_row, walnut_row = row_html(page, road), row_html(page, walnut)
    assert cell(road_row, "planned-funds") == ["17.10"] and cell(road_row, "invested-funds") == ["12.00"]
    assert cell(road_row, "quantity") == ["2.5", "公里"]
    assert ">17.10</span>" in road_row  # the fund line, in the same money format
    assert cell(walnut_row, "planned-funds") == ["44.64"] and cell(walnut_row, "invested-funds") == ["0.00"]
    assert cell(walnut_row, "quantity") == ["1,200", "亩"]
    # The totals row: 17.10 + 44.64 = 61.74 万元; 12.00 invested, 19 % of the plan.
    totals = re.search(r'<tr id="plan-totals".*?</tr>', page, re.S).group(0)
    assert cell(totals, "total-planned") == ["61.74"] and cell(totals, "total-invested") == ["12.00"]
    assert "已投入占计划 19%" in totals
    # tables.js sorts by the raw values, not by the formatted text.
    assert 'data-testid="planned-funds" data-sort-value="17.1000"' in road_row
    assert 'data-testid="quantity" data-sort-value="1200.00"' in walnut_row


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Decimal("3.00"), "3"),
        (Decimal("850"), "850"),
        (Decimal("2.50"), "2.5"),
        (Decimal("0.05"), "0.05"),
        (Decimal("12345.6"), "12,345.6"),
        (Decimal("0"), "0"),
        (None, "–"),
        ("x", "–"),
    ],
)
def test_the_quantity_format(value, shown):
    assert qty(value) == shown


# The inline row and the fund lines ------------------------------------------------------------------------------------


@pytest.fixture
def draft(area):
    """A draft plan with a row that has fund lines (30 = 20 + 10) and a row that has none."""

    class Draft:
        plan = factories.plan(area.village_a)
        with_lines = factories.task(plan, item="通村路", planned_funds=Decimal("30"), invested_funds=Decimal("5"))
        without_lines = factories.task(plan, item="村文化室", planned_funds=Decimal("8"), invested_funds=Decimal("0"))

    factories.fund_line(Draft.with_lines, "central", Decimal("20"))
    factories.fund_line(Draft.with_lines, "self", Decimal("10"))
    return Draft


def test_a_row_with_fund_lines_shows_its_planned_funds_and_links_to_the_fund_lines(client, personas, draft):
    client.force_login(personas.village_cadre)
    form = text(client.get(reverse("tasks:task_inline", args=[draft.with_lines.pk]), headers=HX))
    assert 'name="planned_funds"' not in form
    assert 'data-testid="planned-funds-readonly"' in form and ">30.00</span>" in form
    edit = reverse("tasks:task_edit", args=[draft.with_lines.pk])
    assert f'<a href="{edit}" data-testid="edit-funds-link">按资金来源编辑</a>' in form
    assert 'name="invested_funds"' in form  # the rest of the row is edited as before


def test_a_row_without_fund_lines_offers_its_planned_funds_inline(client, personas, draft):
    client.force_login(personas.village_cadre)
    form = text(client.get(reverse("tasks:task_inline", args=[draft.without_lines.pk]), headers=HX))
    assert re.search(r'<input type="number" name="planned_funds" value="8"', form)
    assert "按资金来源编辑" not in form


def test_saving_a_row_with_fund_lines_keeps_its_planned_funds_and_is_not_refused(client, personas, draft):
    """Before: the planned-funds box was offered, and any change in it was refused ("与各资金来源合计不一致");
    a value posted for it now (an old page, a crafted request) is ignored, and the rest of the row is saved."""
    task = draft.with_lines
    client.force_login(personas.village_cadre)
    data = inline_data(task, planned_funds="99", invested_funds="12", status="in_progress", progress="40")
    response = client.post(reverse("tasks:task_inline", args=[task.pk]), data, headers=HX)
    assert response.status_code == 200
    assert 'data-testid="task-row"' in text(response) and "field-error" not in text(response)
    task.refresh_from_db()
    assert (task.planned_funds, task.invested_funds, task.progress, task.version) == (30, 12, 40, 2)
    assert sorted(task.fund_lines.values_list("source", "amount")) == [("central", 20), ("self", 10)]


def test_saving_a_row_without_fund_lines_changes_its_planned_funds(client, personas, draft):
    task = draft.without_lines
    client.force_login(personas.village_cadre)
    data = inline_data(task, planned_funds="12.5", invested_funds="2")
    response = client.post(reverse("tasks:task_inline", args=[task.pk]), data, headers=HX)
    assert response.status_code == 200 and "field-error" not in text(response)
    task.refresh_from_db()
    assert (task.planned_funds, task.invested_funds, task.version) == (Decimal("12.5"), 2, 2)
    assert ">12.50</td>" in text(response)  # the saved row, in the money format


def test_a_row_that_gains_fund_lines_stops_offering_planned_funds_inline(client, personas, draft):
    task = draft.without_lines
    services.task_update(
        task_id=task.pk,
        user=personas.village_cadre,
        expected_version=task.version,
        data={},
        fund_lines=[{"source": "central", "amount": Decimal("8")}],
    )
    client.force_login(personas.village_cadre)
    form = text(client.get(reverse("tasks:task_inline", args=[task.pk]), headers=HX))
    assert 'name="planned_funds"' not in form and "按资金来源编辑" in form


def test_the_inline_forms_and_the_approve_form_carry_a_submission_key(client, personas, draft):
    client.force_login(personas.district_admin)
    key = re.compile(r'<input type="hidden" name="_submission" value="[0-9a-f-]{32,36}"')
    form = text(client.get(reverse("tasks:task_inline", args=[draft.without_lines.pk]), headers=HX))
    assert len(key.findall(form)) == 1
    # Without JavaScript the inline row is a page of its own (here after an error): its form carries one key too.
    wrong = inline_data(draft.without_lines, planned_funds="-5")
    page = text(client.post(reverse("tasks:task_inline", args=[draft.without_lines.pk]), wrong))
    assert "计划资金不能为负数。" in page and len(key.findall(page)) == 1
    plan_page = text(client.get(reverse("tasks:plan", args=[draft.plan.pk])))
    approve = re.search(r'<form method="post" action="[^"]*approve/".*?</form>', plan_page, re.S).group(0)
    assert key.search(approve)


# A table without JavaScript, that tells tables.js what it may sort and filter ----------------------------------------


def test_the_plan_table_declares_its_sortable_and_filterable_columns(client, personas, draft):
    client.force_login(personas.district_admin)
    page = text(client.get(reverse("tasks:plan", args=[draft.plan.pk])))
    assert re.search(r'<table [^>]*data-testid="plan-table"[^>]*data-table="sortable filterable"', page, re.S)
    head = re.search(r"<thead.*?</thead>", page, re.S).group(0)
    assert re.findall(r'data-sort="(\w+)"', head) == [
        "text",
        "text",
        "number",
        "date",
        "number",
        "number",
        "text",
        "text",
        "number",
        "number",
    ]
    assert '<script src="/static/js/tables.js" defer></script>' in page
    assert "<script>" not in page and " style=" not in page  # the CSP allows neither


# The same queries for ten times the rows ------------------------------------------------------------------------------

# tests/test_task_pages.py pins the plan page at 15 queries for a village cadre; rows with departments add none.
PLAN_PAGE_QUERIES = 16  # with the rollover panel (结转自 / 已结转至, tasks/templatetags/rollover_tags.py)


def add_rows(plan, area, count, department):
    households = [factories.household(area.village_a, members=2) for _ in range(max(count // 3, 1))]
    for i in range(count):
        household = households[i % len(households)] if i % 2 else None
        unit = {"department": department, "responsible_unit": department.name} if i % 3 else {}
        task = factories.task(plan, household, item=f"任务{i}", planned_funds=Decimal("10"), **unit)
        factories.fund_line(task, "central", Decimal("6"))
        factories.fund_line(task, "self", Decimal("4"))


def test_the_plan_page_with_units_runs_the_same_queries_for_sixty_times_the_rows(
    client, personas, area, django_assert_num_queries
):
    department = factories.department(area.district)
    other = factories.department(area.district, name="区水务局")
    plan = factories.plan(area.village_a)
    add_rows(plan, area, 3, department)
    client.force_login(personas.village_cadre)
    url = reverse("tasks:plan", args=[plan.pk])
    with django_assert_num_queries(PLAN_PAGE_QUERIES):
        assert client.get(url).status_code == 200
    add_rows(plan, area, 90, other)
    add_rows(plan, area, 87, department)
    with django_assert_num_queries(PLAN_PAGE_QUERIES):
        page = text(client.get(url))
    assert page.count('data-testid="task-row"') == 180
    assert page.count(">区水务局</td>") == 60


# 待批准的施工图 as a desk table ---------------------------------------------------------------------------------------


def test_the_awaiting_approval_table_names_the_village_its_figures_and_who_last_prepared_it(client, area, personas):
    draft = factories.plan(area.village_a2)
    first = factories.task(draft, item="百花村一", planned_funds=Decimal("12.5"), invested_funds=Decimal("2"))
    factories.task(draft, item="百花村二", planned_funds=Decimal("7.5"), deadline=datetime.date(2017, 9, 1))
    services.task_update(
        task_id=first.pk,
        user=personas.township_a,
        expected_version=first.version,
        data={"status": Task.Status.IN_PROGRESS, "progress": 20},
    )
    factories.plan(area.village_b)  # empty: cannot be approved, not listed
    client.force_login(personas.district_admin)
    response = client.get(reverse("tasks:awaiting_approval"))
    page = text(response)

    row = re.search(rf'<tr data-testid="awaiting-plan" data-plan-id="{draft.pk}">.*?</tr>', page, re.S).group(0)
    assert cell(row, "township") == ["白庙乡"] and cell(row, "village") == ["百花村"]
    assert cell(row, "row-count") == ["2"] and cell(row, "planned-total") == ["20.00"]
    assert cell(row, "last-change-by") == [str(personas.township_a)]
    plan = response.context["page_obj"][0]
    assert cell(row, "last-change-at") == timezone.localtime(plan.last_change_at).strftime("%Y-%m-%d %H:%M").split()
    assert f'href="{reverse("tasks:plan", args=[draft.pk])}" data-testid="open-plan">核对并批准' in row
    assert 'data-table="sortable filterable"' in page
    assert [p.pk for p in response.context["page_obj"]] == [draft.pk]
    assert Plan.objects.get(pk=draft.pk).state == Plan.State.DRAFT
    assert Task.objects.filter(plan=draft).count() == 2
